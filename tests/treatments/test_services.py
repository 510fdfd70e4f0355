import datetime

import pytest

from tests.conftest import SESSION_TIME, session_input
from treatments.models import SessionAmendment, TreatmentCourse, TreatmentSession, VialLot
from treatments.rules import SiteEntry
from treatments.services import (
    RuleViolation,
    VialInput,
    amend_session,
    record_session,
    sign_session,
    standard_sites,
)

LATER = SESSION_TIME + datetime.timedelta(days=84)


def test_recording_a_standard_session_stores_totals_waste_and_a_new_course(
    patient_a, clinician, location
):
    session = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    assert (session.cycle_number, session.total_units, session.units_wasted) == (1, 155, 45)
    assert session.sites.count() == 31
    assert session.course.status == TreatmentCourse.Status.ACTIVE
    use = session.vials.get()
    assert (use.units_drawn, use.units_administered, use.units_wasted) == (200, 155, 45)
    assert [line[0] for line in session.billing_lines] == ["64615", "J0585", "J0585-JW"]


def test_195_units_from_two_vials_wastes_what_is_left(patient_a, clinician, location):
    sites = standard_sites() + [
        SiteEntry(code, 5)
        for code in ("TEM-L5", "TEM-R5", "OCC-L4", "OCC-R4", "TRA-L4", "TRA-L5", "TRA-R4", "TRA-R5")
    ]
    vials = [
        VialInput("A100", "botox_100", datetime.date(2027, 1, 1)),
        VialInput("B100", "botox_100", datetime.date(2027, 1, 1)),
    ]
    session = record_session(
        patient=patient_a,
        injector=clinician,
        data=session_input(location, sites=sites, vials=vials),
    )
    assert (session.total_units, session.units_wasted) == (195, 5)
    assert [(u.units_administered, u.units_wasted) for u in session.vials.all()] == [
        (100, 0),
        (95, 5),
    ]


def test_a_blocked_session_writes_nothing(patient_a, clinician, location):
    with pytest.raises(RuleViolation) as raised:
        record_session(
            patient=patient_a,
            injector=clinician,
            data=session_input(location, infection_at_site=True),
        )
    assert [f.rule for f in raised.value.findings] == ["R11"]
    assert not TreatmentSession.objects.exists()
    assert not TreatmentCourse.objects.exists()
    assert not VialLot.objects.exists()


def test_the_next_session_takes_the_next_cycle(patient_a, clinician, location):
    first = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    sign_session(session=first, user=clinician, acknowledged=[])
    second = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, when=LATER)
    )
    assert (second.course, second.cycle_number) == (first.course, 2)


def test_treating_before_the_minimum_interval_needs_a_reason(patient_a, clinician, location):
    first = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    sign_session(session=first, user=clinician, acknowledged=[])
    early = SESSION_TIME + datetime.timedelta(days=80)
    with pytest.raises(RuleViolation):
        record_session(
            patient=patient_a, injector=clinician, data=session_input(location, when=early)
        )
    session = record_session(
        patient=patient_a,
        injector=clinician,
        data=session_input(location, when=early, early_reason="Travel"),
    )
    assert session.early_reason == "Travel"


def test_a_session_dated_before_a_signed_one_is_checked_against_it_too(
    patient_a, clinician, location
):
    sites = standard_sites() + [
        SiteEntry(code, 5)
        for code in ("TEM-L5", "TEM-R5", "OCC-L4", "OCC-R4", "TRA-L4", "TRA-L5", "TRA-R4", "TRA-R5")
    ]
    later = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, sites=sites)
    )
    sign_session(session=later, user=clinician, acknowledged=[])
    earlier = SESSION_TIME - datetime.timedelta(days=14)
    with pytest.raises(RuleViolation) as raised:
        record_session(
            patient=patient_a,
            injector=clinician,
            data=session_input(location, when=earlier, sites=sites, other_toxin_units=20),
        )
    assert [f.rule for f in raised.value.findings] == ["R6"]
    draft = record_session(
        patient=patient_a,
        injector=clinician,
        data=session_input(
            location, when=earlier, sites=sites, other_toxin_units=20, early_reason="Paper record"
        ),
    )
    with pytest.raises(RuleViolation) as raised:
        sign_session(session=draft, user=clinician, acknowledged=[])
    assert [f.rule for f in raised.value.findings] == ["R12"]  # 410 U within 90 days
    assert sign_session(session=draft, user=clinician, acknowledged=["R12"]).is_signed


def test_signing_needs_warnings_acknowledged_and_stores_them(patient_a, clinician, location):
    sites = [s if s.code != "FRO-L1" else SiteEntry("FRO-L1", 10) for s in standard_sites()]
    session = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, sites=sites)
    )
    with pytest.raises(RuleViolation) as raised:
        sign_session(session=session, user=clinician, acknowledged=[])
    assert [f.rule for f in raised.value.findings] == ["R2"]
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.DRAFT

    signed = sign_session(session=session, user=clinician, acknowledged=["R2"])
    assert (signed.status, signed.acknowledged, signed.signed_by) == ("signed", ["R2"], clinician)


def test_a_draft_without_consent_saves_but_does_not_sign(patient_a, clinician, location):
    session = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, consent="")
    )
    with pytest.raises(RuleViolation) as raised:
        sign_session(session=session, user=clinician, acknowledged=[])
    assert [f.rule for f in raised.value.findings] == ["R10"]


def test_a_signed_session_changes_only_by_amendment_which_keeps_the_original(
    patient_a, clinician, location
):
    session = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, notes="Original")
    )
    session = sign_session(session=session, user=clinician, acknowledged=[])
    with pytest.raises(ValueError, match="amendment"):
        record_session(
            patient=patient_a,
            injector=clinician,
            data=session_input(location, notes="Sneaky"),
            session=session,
        )
    with pytest.raises(RuleViolation):
        amend_session(session=session, user=clinician, data=session_input(location), reason=" ")

    amend_session(
        session=session,
        user=clinician,
        data=session_input(location, notes="Corrected"),
        reason="Wrong note",
    )

    session.refresh_from_db()
    amendment = SessionAmendment.objects.get()
    assert session.notes == "Corrected"
    assert session.is_signed
    assert amendment.before["notes"] == "Original"
    assert amendment.after["notes"] == "Corrected"
    assert (amendment.reason, amendment.amended_by) == ("Wrong note", clinician)


def test_signing_twice_is_harmless(patient_a, clinician, location):
    session = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    first = sign_session(session=session, user=clinician, acknowledged=[])
    second = sign_session(session=session, user=clinician, acknowledged=[])
    assert first.signed_at == second.signed_at
