import datetime
import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SESSION_TIME, make_patient, session_input
from treatments import protocol
from treatments.models import TreatmentCourse, TreatmentSession, VialLot
from treatments.rules import SiteEntry
from treatments.services import (
    AlreadyRecorded,
    RuleViolation,
    VialInput,
    amend_session,
    discard_draft,
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
    # 10 U at one temporalis site: within the muscle's 50 U (R18), but not the 5 U of R2
    sites = [s if s.code != "TEM-L1" else SiteEntry("TEM-L1", 10) for s in standard_sites()]
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

    amendment = amend_session(
        session=session,
        user=clinician,
        data=session_input(location, notes="Corrected"),
        reason="Wrong note",
    )

    # a new version supersedes the old; both are kept, the old one exactly as it was signed
    session.refresh_from_db()
    current = amendment.new_version
    assert (session.status, session.notes, session.version) == ("superseded", "Original", 1)
    assert (current.status, current.notes, current.version) == ("signed", "Corrected", 2)
    assert (current.original, current.cycle_number, current.injector) == (session, 1, clinician)
    assert current.sites.count() == session.sites.count() == 31
    assert amendment.previous_version == session
    assert amendment.before["notes"] == "Original"
    assert amendment.after["notes"] == "Corrected"
    assert (amendment.reason, amendment.amended_by) == ("Wrong note", clinician)
    # only the current version counts: one session of cycle 1 on the chart and for the rules
    assert list(patient_a.sessions.live()) == [current]
    with pytest.raises(ValueError, match="current version"):
        amend_session(session=session, user=clinician, data=session_input(location), reason="x")


def test_signing_twice_is_harmless(patient_a, clinician, location):
    session = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    first = sign_session(session=session, user=clinician, acknowledged=[])
    second = sign_session(session=session, user=clinician, acknowledged=[])
    assert first.signed_at == second.signed_at


@pytest.mark.parametrize(
    "changes",
    [
        dict.fromkeys(("FRO-L1", "FRO-L2", "FRO-R1", "FRO-R2"), 45),
        {"PRO-M": 50, "COR-L": 50, "COR-R": 50},
    ],
)
def test_units_above_a_muscles_maximum_are_refused_whatever_is_acknowledged(
    patient_a, clinician, location, changes
):
    sites = [SiteEntry(s.code, changes.get(s.code, 5)) for s in standard_sites()]
    with pytest.raises(RuleViolation) as raised:
        record_session(
            patient=patient_a, injector=clinician, data=session_input(location, sites=sites)
        )
    assert "R18" in {f.rule for f in raised.value.findings}
    assert not TreatmentSession.objects.exists()


class _Rollback(Exception):
    pass


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        st.sampled_from(protocol.SITE_CODES),
        st.one_of(st.none(), st.integers(-20, 60), st.sampled_from([5, 10])),
        max_size=8,
    )
)
def test_no_site_table_the_rules_accept_breaks_a_database_constraint(
    patient_a, clinician, location, changes
):
    table = {site.code: 5 for site in protocol.FIXED_SITES} | changes
    sites = [
        SiteEntry(code, units, "" if units is not None else "skipped")
        for code, units in table.items()
    ]
    given_units = [(code, u) for code, u in table.items() if u is not None]
    per_muscle: dict[str, int] = {}
    for code, units in given_units:
        muscle = protocol.SITES[code].muscle
        per_muscle[muscle] = per_muscle.get(muscle, 0) + units
    over = (
        sum(max(u, 0) for _, u in given_units) > protocol.MAX_TOTAL_UNITS
        or any(u <= 0 or u > protocol.MAX_SITE_UNITS for _, u in given_units)
        or any(units > protocol.MUSCLES[m].max_units for m, units in per_muscle.items())
    )
    try:
        with transaction.atomic():
            # an IntegrityError here fails the test: the rules let through what the database
            # refuses
            record_session(
                patient=patient_a, injector=clinician, data=session_input(location, sites=sites)
            )
            raise _Rollback
    except RuleViolation:
        accepted = False
    except _Rollback:
        accepted = True
    assert not (over and accepted)


@pytest.mark.parametrize("ml", ["0", "-4", "-9.9", "40"])
def test_saline_of_none_or_far_too_much_is_refused(patient_a, clinician, location, ml):
    with pytest.raises(RuleViolation) as raised:
        record_session(
            patient=patient_a,
            injector=clinician,
            data=session_input(location, diluent_ml=Decimal(ml)),
        )
    assert [f.rule for f in raised.value.findings] == ["R19"]


def test_odd_saline_is_acknowledged_at_sign_off(patient_a, clinician, location):
    session = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, diluent_ml=5)
    )
    with pytest.raises(RuleViolation) as raised:
        sign_session(session=session, user=clinician, acknowledged=[])
    assert [f.rule for f in raised.value.findings] == ["R19"]
    assert sign_session(session=session, user=clinician, acknowledged=["R19"]).is_signed


def test_sixteen_vials_for_155_units_do_not_sign_without_a_reason(patient_a, clinician, location):
    vials = [VialInput("C1234AB", "botox_200", datetime.date(2027, 6, 30), vials=16)]
    session = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, vials=vials)
    )
    with pytest.raises(RuleViolation) as raised:
        # R19 too: 4 mL is not the 64 mL the label gives sixteen vials
        sign_session(session=session, user=clinician, acknowledged=["R19"])
    assert [f.rule for f in raised.value.findings] == ["R20"]
    session = record_session(
        patient=patient_a,
        injector=clinician,
        data=session_input(location, extra_vial_reason="Dropped one", vials=vials),
        session=session,
    )
    assert sign_session(session=session, user=clinician, acknowledged=["R19"]).is_signed
    assert session.extra_vial_reason == "Dropped one"


@pytest.mark.parametrize("age", [0, 3, 10])
def test_a_child_is_not_treated_without_a_recorded_reason(clinician, location, age):
    born = SESSION_TIME.date().replace(year=SESSION_TIME.year - age) + datetime.timedelta(days=3)
    child = make_patient(7, date_of_birth=born, location=location)
    with pytest.raises(RuleViolation) as raised:
        record_session(patient=child, injector=clinician, data=session_input(location))
    assert [f.rule for f in raised.value.findings] == ["R17"]
    assert not TreatmentSession.objects.exists()
    session = record_session(
        patient=child,
        injector=clinician,
        data=session_input(location, under_18_reason="Adolescent clinic, specialist plan"),
    )
    assert sign_session(session=session, user=clinician, acknowledged=[]).is_signed
    session.refresh_from_db()
    assert session.under_18_reason == "Adolescent clinic, specialist plan"


# --- R21: a session is recorded once, and not in the future ------------------------------------


def test_a_second_session_the_same_local_day_is_refused(patient_a, clinician, location):
    first = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    sign_session(session=first, user=clinician, acknowledged=[])
    # 01:00 UTC the next day is still 2 March in New York
    evening = SESSION_TIME + datetime.timedelta(hours=10)
    with pytest.raises(RuleViolation) as refused:
        record_session(
            patient=patient_a,
            injector=clinician,
            data=session_input(location, when=evening, early_reason="a second try"),
        )
    assert [f.rule for f in refused.value.findings] == ["R21"]
    assert "cycle 1 (signed)" in refused.value.findings[0].message
    assert patient_a.sessions.count() == 1


def test_a_session_dated_in_the_future_is_refused(patient_a, clinician, location, time_machine):
    time_machine.move_to(SESSION_TIME)
    ahead = SESSION_TIME + datetime.timedelta(minutes=6)
    with pytest.raises(RuleViolation) as refused:
        record_session(
            patient=patient_a, injector=clinician, data=session_input(location, when=ahead)
        )
    assert [f.rule for f in refused.value.findings] == ["R21"]
    assert not patient_a.sessions.exists()


def test_a_session_four_minutes_ahead_of_the_clock_is_accepted(
    patient_a, clinician, location, time_machine
):
    time_machine.move_to(SESSION_TIME)
    ahead = SESSION_TIME + datetime.timedelta(minutes=4)
    session = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, when=ahead)
    )
    session = sign_session(session=session, user=clinician, acknowledged=[])
    session.course.refresh_from_db()
    assert session.course.last_session_on == datetime.date(2026, 3, 2)


def test_a_signed_session_is_not_amended_into_the_future(
    patient_a, clinician, location, time_machine
):
    time_machine.move_to(SESSION_TIME)
    session = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    session = sign_session(session=session, user=clinician, acknowledged=[])
    future = datetime.datetime(2027, 6, 1, 14, tzinfo=datetime.UTC)
    with pytest.raises(RuleViolation) as refused:
        amend_session(
            session=session,
            user=clinician,
            data=session_input(location, when=future),
            reason="typo",
        )
    assert [f.rule for f in refused.value.findings] == ["R21"]
    session.course.refresh_from_db()
    assert session.course.last_session_on == datetime.date(2026, 3, 2)


def test_a_draft_is_discarded_with_a_reason_and_kept_in_history(patient_a, clinician, location):
    draft = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    discard_draft(session=draft, user=clinician, reason="  wrong patient  ")
    draft.refresh_from_db()
    assert draft.status == TreatmentSession.Status.VOIDED
    assert (draft.voided_reason, draft.voided_by) == ("wrong patient", clinician)
    assert draft.voided_at is not None
    assert patient_a.sessions.count() == 1


def test_a_discarded_draft_does_not_block_a_new_session_that_day(patient_a, clinician, location):
    draft = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    discard_draft(session=draft, user=clinician, reason="entered twice")
    session = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    session = sign_session(session=session, user=clinician, acknowledged=[])
    assert session.cycle_number == 1  # the discarded draft's number is free again
    session.course.refresh_from_db()
    assert session.course.last_session_on == datetime.date(2026, 3, 2)


def test_a_signed_session_is_not_discarded_and_a_discarded_draft_not_signed(
    patient_a, clinician, location
):
    signed = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    sign_session(session=signed, user=clinician, acknowledged=[])
    with pytest.raises(ValueError, match="amendment"):
        discard_draft(session=signed, user=clinician, reason="oops")
    draft = record_session(
        patient=patient_a, injector=clinician, data=session_input(location, when=LATER)
    )
    with pytest.raises(ValueError, match="reason"):
        discard_draft(session=draft, user=clinician, reason="   ")
    discard_draft(session=draft, user=clinician, reason="not given")
    with pytest.raises(ValueError, match="discarded"):
        sign_session(session=draft, user=clinician, acknowledged=[])
    assert patient_a.sessions.signed().count() == 1


def test_a_form_used_once_finds_the_session_it_recorded(patient_a, clinician, location):
    token = uuid.uuid4()
    first = record_session(
        patient=patient_a, injector=clinician, data=session_input(location), form_token=token
    )
    sign_session(session=first, user=clinician, acknowledged=[])
    with pytest.raises(AlreadyRecorded) as again:
        record_session(
            patient=patient_a, injector=clinician, data=session_input(location), form_token=token
        )
    assert again.value.session == first
    assert patient_a.sessions.count() == 1
