"""Each database constraint refuses a direct ORM write that bypasses the forms and services."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from treatments.models import (
    AdverseEvent,
    InjectionSite,
    SessionAmendment,
    TreatmentCourse,
    TreatmentSession,
    VialLot,
    VialUse,
)

WHEN = datetime.datetime(2026, 3, 2, 15, tzinfo=datetime.UTC)


@pytest.fixture
def course(patient_a):
    return TreatmentCourse.objects.create(patient=patient_a, started_on=WHEN.date())


@pytest.fixture
def session(course, clinician, location):
    return TreatmentSession.objects.create(
        patient=course.patient,
        course=course,
        cycle_number=1,
        location=location,
        injector=clinician,
        administered_at=WHEN,
        reconstituted_at=WHEN,
    )


def refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_one_active_course_per_patient(course, patient_a):
    refused(lambda: TreatmentCourse.objects.create(patient=patient_a, started_on=WHEN.date()))
    TreatmentCourse.objects.create(
        patient=patient_a, started_on=WHEN.date(), status="stopped", status_reason="moved away"
    )


def test_a_stopped_course_needs_a_reason(patient_a):
    refused(
        lambda: TreatmentCourse.objects.create(
            patient=patient_a, started_on=WHEN.date(), status="stopped"
        )
    )


def test_one_session_per_cycle_and_total_at_most_195(session, course, clinician, location):
    # the next day: the fixture's session already holds WHEN's day (R21)
    day_after = WHEN + datetime.timedelta(days=1)
    fields = {
        "patient": course.patient,
        "course": course,
        "location": location,
        "injector": clinician,
        "administered_at": day_after,
        "reconstituted_at": day_after,
    }
    refused(lambda: TreatmentSession.objects.create(cycle_number=1, **fields))
    refused(lambda: TreatmentSession.objects.create(cycle_number=2, total_units=200, **fields))
    refused(
        lambda: TreatmentSession.objects.create(
            cycle_number=3,
            **(fields | {"reconstituted_at": day_after + datetime.timedelta(hours=1)}),
        )
    )
    refused(lambda: TreatmentSession.objects.create(cycle_number=4, status="signed", **fields))
    refused(lambda: TreatmentSession.objects.create(cycle_number=0, **fields))


def test_a_course_interval_is_positive(patient_a):
    refused(
        lambda: TreatmentCourse.objects.create(
            patient=patient_a, started_on=WHEN.date(), min_interval_days=0
        )
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"site_code": "FRO-L1", "muscle": "FRO", "side": "L", "units": 0},
        {"site_code": "FRO-L9", "muscle": "FRO", "side": "L", "units": 5},
        {"site_code": "FRO-L1", "muscle": "FRO", "side": "R", "units": 5},
        {"site_code": "PRO-M", "muscle": "PRO", "side": "L", "units": 5},
        {"site_code": "FRO-L1", "muscle": "FRO", "side": "L", "units": None},
        {"site_code": "FRO-L1", "muscle": "FRO", "side": "L", "units": 5, "skipped_reason": "both"},
    ],
)
def test_the_database_refuses_impossible_sites(session, fields):
    refused(lambda: InjectionSite.objects.create(session=session, **fields))


def test_one_row_per_site(session):
    InjectionSite.objects.create(
        session=session, site_code="COR-L", muscle="COR", side="L", units=5
    )
    refused(
        lambda: InjectionSite.objects.create(
            session=session, site_code="COR-L", muscle="COR", side="L", units=5
        )
    )


def test_vial_units_must_add_up(session):
    lot = VialLot.objects.create(product="botox_200", lot_number="X1", expiry=WHEN.date())
    refused(
        lambda: VialUse.objects.create(
            session=session, lot=lot, units_drawn=200, units_administered=155, units_wasted=40
        )
    )
    refused(
        lambda: VialUse.objects.create(
            session=session,
            lot=lot,
            vials=0,
            units_drawn=200,
            units_administered=155,
            units_wasted=45,
        )
    )
    refused(
        lambda: VialLot.objects.create(product="botox_200", lot_number="X1", expiry=WHEN.date())
    )


def test_an_other_adverse_event_is_described_and_an_amendment_has_a_reason(session, clinician):
    refused(
        lambda: AdverseEvent.objects.create(
            patient=session.patient,
            session=session,
            term="other",
            onset=WHEN.date(),
            severity="mild",
            reported_by="clinician",
            recorded_by=clinician,
        )
    )
    refused(
        lambda: SessionAmendment.objects.create(
            session=session, reason="", before={}, after={}, amended_by=clinician
        )
    )


@pytest.mark.parametrize("ml", ["0", "-4", "-9.9", "16.1", "40"])
def test_saline_is_more_than_0_and_at_most_16_ml(session, ml):
    rows = TreatmentSession.objects.filter(pk=session.pk)
    refused(lambda: rows.update(diluent_ml=Decimal(ml)))
    rows.update(diluent_ml=Decimal("16"))


def test_no_site_holds_more_than_10_units(session):
    refused(
        lambda: InjectionSite.objects.bulk_create(
            [InjectionSite(session=session, site_code="FRO-L1", muscle="FRO", side="L", units=45)]
        )
    )
    site = InjectionSite.objects.create(
        session=session, site_code="FRO-L1", muscle="FRO", side="L", units=10
    )
    refused(lambda: InjectionSite.objects.filter(pk=site.pk).update(units=11))


def _second_session(session, **fields):
    """Another session of the fixture's patient and course, as a bulk write builds it."""
    return TreatmentSession(
        patient=session.patient,
        course=session.course,
        location=session.location,
        injector=session.injector,
        administered_at=WHEN,
        reconstituted_at=WHEN,
        **({"cycle_number": 2, "given_on": session.given_on} | fields),
    )


def test_one_session_per_patient_per_local_day_against_bulk_writes(session, clinician):
    # R21: bulk_create skips save(); the database still refuses a second session that day
    assert session.given_on == datetime.date(2026, 3, 2)  # 10:00 in New York
    refused(lambda: TreatmentSession.objects.bulk_create([_second_session(session)]))
    refused(
        lambda: TreatmentSession.objects.bulk_create(
            [_second_session(session, status="signed", signed_at=WHEN, signed_by=clinician)]
        )
    )
    # update(): moving another day's session onto that day
    other = _second_session(session, given_on=datetime.date(2026, 5, 25))
    TreatmentSession.objects.bulk_create([other])
    refused(lambda: TreatmentSession.objects.filter(pk=other.pk).update(given_on=session.given_on))


def test_a_discarded_draft_shares_the_day_but_only_with_a_reason(session):
    refused(
        lambda: TreatmentSession.objects.bulk_create([_second_session(session, status="voided")])
    )
    TreatmentSession.objects.bulk_create(
        [_second_session(session, status="voided", voided_reason="entered twice", voided_at=WHEN)]
    )
    assert TreatmentSession.objects.filter(given_on=session.given_on).count() == 2
    # update(): bringing the discarded draft back would make two that day
    voided = TreatmentSession.objects.filter(status="voided")
    refused(lambda: voided.update(status="draft"))
