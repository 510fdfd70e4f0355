"""Every rule R1-R13 and R17-R20: a case that passes and one that is warned or blocked."""

import dataclasses
import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treatments import protocol
from treatments.rules import BLOCK, WARN, SessionFacts, SiteEntry, VialEntry, evaluate

NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


def standard(**changes) -> SessionFacts:
    facts = SessionFacts(
        sites=[SiteEntry(site.code, 5) for site in protocol.FIXED_SITES],
        administered_at=NOW,
        reconstituted_at=NOW - datetime.timedelta(minutes=20),
        session_date=NOW.date(),
        vials=[VialEntry("C1234AB", 200, datetime.date(2027, 1, 31))],
        consent="session",
        infection_at_site=False,
        hypersensitivity=False,
        pregnant_or_breastfeeding=False,
        other_toxin_recent=False,
    )
    return dataclasses.replace(facts, **changes)


def with_sites(changes: dict[str, SiteEntry | None], extra=()) -> list[SiteEntry]:
    sites = [
        changes.get(site.code, SiteEntry(site.code, 5))
        for site in protocol.FIXED_SITES
        if changes.get(site.code, True) is not None
    ]
    return sites + [SiteEntry(code, units) for code, units in extra]


def found(facts, rule):
    return [(f.severity, f.at_signoff, f.needs_ack) for f in evaluate(facts) if f.rule == rule]


def test_a_standard_session_raises_nothing():
    assert evaluate(standard()) == []


# R1
def test_r1_total_below_155_is_a_warning_to_acknowledge():
    facts = standard(sites=with_sites({"FRO-L1": SiteEntry("FRO-L1", None, "bruise")}))
    assert found(facts, "R1") == [(WARN, False, True)]


def test_r1_total_above_195_is_blocked():
    facts = standard(sites=with_sites({}, extra=[("TEM-L5", 25), ("TRA-L4", 20)]))
    assert (BLOCK, False, False) in found(facts, "R1")


# R2
def test_r2_units_other_than_5_are_a_warning():
    facts = standard(sites=with_sites({"FRO-L1": SiteEntry("FRO-L1", 10)}))
    assert found(facts, "R2") == [(WARN, False, True)]


@pytest.mark.parametrize("units", [0, -5])
def test_r2_zero_or_negative_units_are_blocked(units):
    facts = standard(sites=with_sites({"FRO-L1": SiteEntry("FRO-L1", units)}))
    assert (BLOCK, False, False) in found(facts, "R2")


# R3
def test_r3_a_skipped_site_with_a_reason_is_a_warning():
    facts = standard(sites=with_sites({"OCC-L1": SiteEntry("OCC-L1", None, "scalp lesion")}))
    assert found(facts, "R3") == [(WARN, False, False)]


@pytest.mark.parametrize("entry", [None, SiteEntry("OCC-L1", None, "  ")])
def test_r3_a_missing_site_or_a_skip_without_reason_is_blocked(entry):
    facts = standard(sites=with_sites({"OCC-L1": entry}))
    assert found(facts, "R3") == [(BLOCK, False, False)]


# R4
def test_r4_a_site_on_its_own_side_passes_and_the_wrong_side_is_blocked():
    right = standard(sites=with_sites({"PRO-M": SiteEntry("PRO-M", 5, side="M")}))
    wrong = standard(sites=with_sites({"PRO-M": SiteEntry("PRO-M", 5, side="L")}))
    assert found(right, "R4") == []
    assert found(wrong, "R4") == [(BLOCK, False, False)]


# R5
def test_r5_follow_the_pain_within_the_caps_passes():
    facts = standard(
        sites=with_sites(
            {},
            extra=[
                ("TEM-L5", 5),
                ("TEM-R5", 5),
                ("OCC-L4", 5),
                ("OCC-L5", 5),
                ("TRA-L4", 5),
                ("TRA-R4", 5),
                ("TRA-R5", 5),
                ("TRA-R6", 5),
            ],
        )
    )
    assert facts.total_units == 195
    assert found(facts, "R5") == []


def test_r5_a_muscle_above_its_unit_cap_is_blocked():
    facts = standard(sites=with_sites({}, extra=[("TEM-L5", 10), ("TEM-R5", 5)]))  # 55 U
    assert found(facts, "R5") == [(BLOCK, False, False)]


def test_r5_a_muscle_above_its_site_cap_is_blocked():
    # occipitalis: 6 fixed + 3 extra at 4 U = 9 sites (cap 8) and 42 U (cap 40)
    facts = standard(
        sites=with_sites(
            {"OCC-R1": SiteEntry("OCC-R1", 3)}, extra=[("OCC-L4", 4), ("OCC-L5", 4), ("OCC-R4", 4)]
        )
    )
    assert (BLOCK, False, False) in found(facts, "R5")
    assert any("9 sites" in f.message for f in evaluate(facts) if f.rule == "R5")


def test_r5_follow_the_pain_outside_the_catalogue_or_out_of_order_is_blocked():
    assert found(standard(sites=with_sites({}, extra=[("FRO-L3", 5)])), "R5") == [
        (BLOCK, False, False)
    ]
    assert found(standard(sites=with_sites({}, extra=[("TEM-L6", 5)])), "R5") == [
        (BLOCK, False, False)
    ]


# R6
def test_r6_84_days_after_the_last_session_passes():
    facts = standard(previous_session_on=NOW.date() - datetime.timedelta(days=84))
    assert found(facts, "R6") == []


def test_r6_early_without_a_reason_is_blocked_and_with_one_is_a_warning():
    early = standard(previous_session_on=NOW.date() - datetime.timedelta(days=80))
    assert found(early, "R6") == [(BLOCK, False, False)]
    reasoned = dataclasses.replace(early, early_reason="travelling abroad on day 84")
    assert found(reasoned, "R6") == [(WARN, False, False)]


def test_r6_honours_the_courses_minimum_interval():
    facts = standard(
        previous_session_on=NOW.date() - datetime.timedelta(days=88), min_interval_days=90
    )
    assert found(facts, "R6") == [(BLOCK, False, False)]


def test_r6_a_session_dated_before_a_later_one_is_checked_against_it_too():
    # entered late, 14 days before a session already signed: too close on the later side
    late = standard(next_session_on=NOW.date() + datetime.timedelta(days=14))
    assert found(late, "R6") == [(BLOCK, False, False)]
    assert "14 days before" in next(f.message for f in evaluate(late) if f.rule == "R6")
    reasoned = dataclasses.replace(late, early_reason="entered late from the paper record")
    assert found(reasoned, "R6") == [(WARN, False, False)]
    spaced = standard(
        previous_session_on=NOW.date() - datetime.timedelta(days=84),
        next_session_on=NOW.date() + datetime.timedelta(days=84),
    )
    assert found(spaced, "R6") == []


def test_r6_a_gap_the_later_session_already_gave_a_reason_for_is_a_warning():
    # amending the earlier of two sessions: the later one was treated early, with a reason
    earlier = standard(
        next_session_on=NOW.date() + datetime.timedelta(days=80),
        next_session_early_reason="travelling on day 84",
    )
    assert found(earlier, "R6") == [(WARN, False, False)]


# R7
def test_r7_exactly_24_hours_after_reconstitution_passes():
    facts = standard(reconstituted_at=NOW - datetime.timedelta(hours=24))
    assert found(facts, "R7") == []


@pytest.mark.parametrize(
    "offset", [datetime.timedelta(hours=24, minutes=1), datetime.timedelta(minutes=-5)]
)
def test_r7_too_old_or_after_the_injection_is_blocked(offset):
    assert found(standard(reconstituted_at=NOW - offset), "R7") == [(BLOCK, False, False)]


# R8
def test_r8_a_vial_expiring_on_the_session_date_passes_and_expired_is_blocked():
    on_the_day = standard(vials=[VialEntry("X", 200, NOW.date())])
    expired = standard(vials=[VialEntry("X", 200, NOW.date() - datetime.timedelta(days=1))])
    assert found(on_the_day, "R8") == []
    assert found(expired, "R8") == [(BLOCK, False, False)]


# R9
def test_r9_vials_must_be_recorded_and_hold_what_was_given_before_sign_off():
    assert found(standard(vials=[]), "R9") == [(BLOCK, True, False)]
    short = standard(vials=[VialEntry("X", 100, datetime.date(2027, 1, 1))])
    assert found(short, "R9") == [(BLOCK, True, False)]
    two = standard(vials=[VialEntry("X", 100, datetime.date(2027, 1, 1), vials=2)])
    assert found(two, "R9") == []


# R10
def test_r10_consent_for_the_session_or_a_course_consent_on_file_passes():
    assert found(standard(consent="session"), "R10") == []
    assert (
        found(standard(consent="course", course_consent_on=datetime.date(2026, 1, 5)), "R10") == []
    )


@pytest.mark.parametrize("consent", ["", "course"])
def test_r10_no_consent_blocks_sign_off(consent):
    assert found(standard(consent=consent), "R10") == [(BLOCK, True, False)]


# R11
def test_r11_unanswered_contraindications_block_sign_off():
    assert found(standard(infection_at_site=None), "R11") == [(BLOCK, True, False)]


@pytest.mark.parametrize("answer", ["infection_at_site", "hypersensitivity"])
def test_r11_a_positive_contraindication_is_blocked(answer):
    assert found(standard(**{answer: True}), "R11") == [(BLOCK, False, False)]


# R12
def test_r12_other_toxins_are_a_warning_to_acknowledge():
    assert found(standard(), "R12") == []
    assert found(standard(other_toxin_recent=True), "R12") == [(WARN, False, True)]
    heavy = standard(other_toxin_units=200, botox_units_previous_90_days=100)  # 455 U
    assert found(heavy, "R12") == [(WARN, False, True)]


def test_r12_counts_botox_on_both_sides_of_the_session_date():
    # 155 U here, 195 U signed 14 days later, 60 U of another toxin: 410 U within 90 days
    later = standard(
        botox_nearby=((NOW.date() + datetime.timedelta(days=14), 195),), other_toxin_units=60
    )
    assert found(later, "R12") == [(WARN, False, True)]
    # sessions more than 90 days apart never share a 90-day window
    apart = standard(
        botox_nearby=(
            (NOW.date() - datetime.timedelta(days=60), 195),
            (NOW.date() + datetime.timedelta(days=60), 195),
        )
    )
    assert found(apart, "R12") == []


# R13
def test_r13_pregnancy_is_a_warning_to_acknowledge_and_must_be_answered():
    assert found(standard(pregnant_or_breastfeeding=True), "R13") == [(WARN, False, True)]
    assert found(standard(pregnant_or_breastfeeding=None), "R13") == [(BLOCK, True, False)]


# R17
@pytest.mark.parametrize("age", [0, 3, 10, 17])
def test_r17_a_patient_under_18_is_blocked_unless_a_reason_is_given(age):
    born = NOW.date().replace(year=NOW.year - age) + datetime.timedelta(days=1)
    minor = standard(date_of_birth=born)
    assert found(minor, "R17") == [(BLOCK, False, False)]
    assert [f.field for f in evaluate(minor) if f.rule == "R17"] == ["under_18_reason"]
    reasoned = dataclasses.replace(minor, under_18_reason="Adolescent clinic, specialist plan")
    assert found(reasoned, "R17") == [(WARN, False, False)]


def test_r17_an_adult_on_the_session_date_passes():
    eighteenth_birthday = NOW.date().replace(year=NOW.year - 18)
    assert found(standard(date_of_birth=eighteenth_birthday), "R17") == []


# R18
@pytest.mark.parametrize(
    "changes",
    [
        dict.fromkeys(("FRO-L1", "FRO-L2", "FRO-R1", "FRO-R2"), 45),  # 180 U frontalis
        {"PRO-M": 50, "COR-L": 50, "COR-R": 50},
        {"PRO-M": 10},  # procerus 10 U (maximum 5)
        {"COR-L": 10},  # corrugator 15 U (maximum 10)
        {"FRO-L1": 10},  # frontalis 25 U (maximum 20)
        {"CPS-R2": 10},  # cervical paraspinal 25 U (maximum 20)
        {"TEM-L1": 15},  # temporalis 50 U is allowed, but not 15 U at one site
    ],
)
def test_r18_above_a_muscles_maximum_or_10_units_at_a_site_is_blocked_at_a_site(changes):
    facts = standard(sites=with_sites({code: SiteEntry(code, u) for code, u in changes.items()}))
    r18 = [f for f in evaluate(facts) if f.rule == "R18"]
    assert r18
    assert {(f.severity, f.at_signoff) for f in r18} == {(BLOCK, False)}
    assert all(f.field in changes for f in r18)


def test_r18_within_every_maximum_passes():
    # frontalis 20 U as 10 + 10 + 0 skipped... and temporalis 50 U with 10 U at a site
    facts = standard(
        sites=with_sites(
            {
                "FRO-L1": SiteEntry("FRO-L1", 10),
                "FRO-L2": SiteEntry("FRO-L2", None, "scar"),
                "TEM-L1": SiteEntry("TEM-L1", 10),
            },
            extra=[("TEM-L5", 5)],
        )
    )
    assert found(facts, "R18") == []


muscle_of = {code: site.muscle for code, site in protocol.SITES.items()}


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(protocol.SITE_CODES),
        st.one_of(st.none(), st.integers(-20, 60), st.sampled_from([5, 10])),
        max_size=8,
    )
)
def test_no_table_over_a_maximum_or_with_a_negative_site_is_accepted(changes):
    table = {site.code: 5 for site in protocol.FIXED_SITES} | changes
    sites = [
        SiteEntry(code, units, "" if units is not None else "skipped")
        for code, units in table.items()
    ]
    given_units = {code: units for code, units in table.items() if units is not None}
    per_muscle: dict[str, int] = {}
    for code, units in given_units.items():
        per_muscle[muscle_of[code]] = per_muscle.get(muscle_of[code], 0) + units
    over = (
        sum(max(u, 0) for u in given_units.values()) > protocol.MAX_TOTAL_UNITS
        or any(u <= 0 or u > protocol.MAX_SITE_UNITS for u in given_units.values())
        or any(units > protocol.MUSCLES[m].max_units for m, units in per_muscle.items())
    )
    accepted = not [f for f in evaluate(standard(sites=sites)) if f.blocks_save]
    assert not (over and accepted)


# R19
@pytest.mark.parametrize("ml", ["0", "-4", "-9.9", "40", "8.1"])
def test_r19_no_saline_or_more_than_twice_the_label_volume_is_blocked(ml):
    facts = standard(diluent_ml=Decimal(ml))
    assert found(facts, "R19") == [(BLOCK, False, False)]
    assert [f.field for f in evaluate(facts) if f.rule == "R19"] == ["diluent_ml"]


@pytest.mark.parametrize("ml", ["2", "5", "8"])
def test_r19_another_volume_within_twice_the_label_is_a_warning_to_acknowledge(ml):
    assert found(standard(diluent_ml=Decimal(ml)), "R19") == [(WARN, False, True)]


def test_r19_the_label_volume_is_per_vial():
    assert found(standard(diluent_ml=Decimal("4")), "R19") == []
    two_100 = [VialEntry("X", 100, datetime.date(2027, 1, 1), vials=2)]
    assert found(standard(vials=two_100, diluent_ml=Decimal("4")), "R19") == []
    assert found(standard(vials=two_100, diluent_ml=Decimal("8.5")), "R19") == [
        (BLOCK, False, False)
    ]


# R20
def test_r20_the_fewest_vials_that_cover_the_units_pass():
    assert found(standard(), "R20") == []  # 155 U, one 200 U vial
    two_100 = [VialEntry("X", 100, datetime.date(2027, 1, 1), vials=2)]
    assert found(standard(vials=two_100), "R20") == []


@pytest.mark.parametrize(
    "vials",
    [
        [VialEntry("X", 200, datetime.date(2027, 1, 1), vials=16)],  # 3,045 U wasted
        [
            VialEntry("X", 200, datetime.date(2027, 1, 1)),
            VialEntry("Y", 100, datetime.date(2027, 1, 1)),
        ],
        [VialEntry("X", 100, datetime.date(2027, 1, 1), vials=3)],
    ],
)
def test_r20_an_extra_vial_needs_a_reason_before_sign_off(vials):
    facts = standard(vials=vials, diluent_ml=Decimal("4"))
    assert found(facts, "R20") == [(BLOCK, True, False)]
    assert [f.field for f in evaluate(facts) if f.rule == "R20"] == ["extra_vial_reason"]
    reasoned = dataclasses.replace(facts, extra_vial_reason="First vial dropped")
    assert found(reasoned, "R20") == [(WARN, False, False)]
