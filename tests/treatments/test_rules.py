"""Every rule R1-R13: a case that passes and one that is warned or blocked."""

import dataclasses
import datetime

import pytest

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
