"""The registry search reads a date of birth as the clinic writes dates (issue 14, part 6):
DD/MM/YYYY in the UK, MM/DD/YYYY in the US (the clinic's country, PHONENUMBER_DEFAULT_REGION),
ISO everywhere; a text that looks like a date but is none is a message, never a 500."""

import datetime

import pytest
from django.urls import reverse

from clinic.formats import TypedDateError, typed_date
from tests.conftest import make_patient


@pytest.fixture
def born(db):
    """Two patients whose birthdays are each other's day and month swapped."""
    return {
        "april": make_patient(1, date_of_birth=datetime.date(1980, 4, 3)),
        "march": make_patient(2, date_of_birth=datetime.date(1980, 3, 4)),
    }


def search(client, query, **headers):
    return client.post(reverse("patients:list"), {"q": query}, follow=True, **headers)


def mrns(response) -> list[str]:
    return [patient.mrn for patient in response.context["page"]]


@pytest.mark.parametrize("typed", ["03/04/1980", "3/4/1980", "03.04.1980", "03-04-1980"])
def test_a_uk_clinic_reads_a_typed_date_of_birth_day_first(
    client, front_desk, born, settings, typed
):
    settings.PHONENUMBER_DEFAULT_REGION = "GB"
    client.force_login(front_desk)

    assert mrns(search(client, typed)) == [born["april"].mrn]


def test_a_us_clinic_reads_the_same_date_month_first(client, front_desk, born, settings):
    settings.PHONENUMBER_DEFAULT_REGION = "US"
    client.force_login(front_desk)

    assert mrns(search(client, "03/04/1980")) == [born["march"].mrn]


@pytest.mark.parametrize("region", ["GB", "US"])
def test_an_iso_date_of_birth_is_read_everywhere(client, front_desk, born, settings, region):
    settings.PHONENUMBER_DEFAULT_REGION = region
    client.force_login(front_desk)

    assert mrns(search(client, "1980-04-03")) == [born["april"].mrn]
    assert mrns(search(client, " 1980-03-04 ")) == [born["march"].mrn]


def test_the_search_box_shows_the_clinics_date_order(client, front_desk, settings):
    client.force_login(front_desk)
    settings.PHONENUMBER_DEFAULT_REGION = "GB"
    uk = client.get(reverse("patients:list")).content.decode()
    settings.PHONENUMBER_DEFAULT_REGION = "US"
    us = client.get(reverse("patients:list")).content.decode()

    assert 'placeholder="Name, MRN or date of birth (DD/MM/YYYY)"' in uk
    assert 'placeholder="Name, MRN or date of birth (MM/DD/YYYY)"' in us


@pytest.mark.parametrize(
    "typed",
    ["31/02/1980", "00/00/0000", "13/13/1980", "03/04/80", "99/99/9999", "1980-02-30",
     "01/01/0001", "12.31.9999"],
)  # fmt: skip
def test_a_date_that_is_no_date_is_a_message_and_lists_nobody(
    client, front_desk, born, settings, typed
):
    settings.PHONENUMBER_DEFAULT_REGION = "GB"
    client.force_login(front_desk)

    page = search(client, typed)
    fragment = search(client, typed, headers={"HX-Request": "true"})

    assert page.status_code == fragment.status_code == 200
    message = page.context["search_error"]
    assert "DD/MM/YYYY" in message or "plausible" in message
    assert mrns(page) == mrns(fragment) == []
    for html in (page.content.decode(), fragment.content.decode()):
        assert '<span class="text-danger">' in html
    assert f'value="{typed}"' in page.content.decode()  # the box keeps what was typed


def test_words_and_mrns_are_still_searched_as_words(client, front_desk, born, settings):
    settings.PHONENUMBER_DEFAULT_REGION = "GB"
    client.force_login(front_desk)

    assert mrns(search(client, "MRN-0002")) == [born["march"].mrn]
    assert mrns(search(client, "Family1")) == [born["april"].mrn]
    assert mrns(search(client, "12/2024x")) == []  # neither a date nor a name: no match


def test_typed_date_reads_each_order_and_refuses_impossible_dates():
    assert typed_date("03/04/2026", "GB") == datetime.date(2026, 4, 3)
    assert typed_date("03/04/2026", "US") == datetime.date(2026, 3, 4)
    assert typed_date("2026/04/03", "US") == datetime.date(2026, 4, 3)
    assert typed_date("Morgan", "GB") is None
    assert typed_date("03/04-2026", "GB") is None  # two different marks: not a date
    with pytest.raises(TypedDateError):
        typed_date("04/31/2026", "US")
