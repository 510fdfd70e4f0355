"""The query-string readers (clinic/params.py): hostile input is None, never an exception."""

import pytest

from clinic.params import id_param, int_param


@pytest.mark.parametrize("value", ["1", "13", "26", "007"])
def test_a_number_in_range_is_read(value):
    assert int_param(value, least=1, most=26) == int(value)


@pytest.mark.parametrize(
    "value", ["²", "٣", "-1", "+3", " 3", "3.0", "0", "27", "9" * 5000, "", None, "abc"]
)
def test_anything_else_is_none(value):
    assert int_param(value, least=1, most=26) is None


def test_a_row_id_fits_a_bigint():
    assert id_param("9" * 18) == 10**18 - 1
    assert id_param("0") == 0
    assert id_param("9" * 19) is None
    assert id_param("²") is None
    assert id_param(42) == 42
