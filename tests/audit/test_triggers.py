"""The database records every write to a patient's data, whoever makes it, and refuses to
change or delete an audit row, on both engines (audit/triggers.py)."""

import datetime

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AccessEvent, ChangeEvent
from patients.models import ContactConsent, Patient
from tests.conftest import make_patient
from treatments.models import AdverseEvent, Appointment

AT = datetime.datetime(2026, 3, 2, 15, tzinfo=datetime.UTC)  # any fixed instant


def access_row(patient) -> AccessEvent:
    return AccessEvent.objects.create(
        at=AT, patient_id=patient.pk, view="patients:detail", method="GET"
    )


def refused(action) -> bool:
    try:
        with transaction.atomic():
            action()
    except DatabaseError:
        return True
    return False


def changes_of(obj) -> list[ChangeEvent]:
    return list(
        ChangeEvent.objects.filter(table_name=obj._meta.db_table, record_id=obj.pk).order_by("pk")
    )


@pytest.mark.parametrize("model", [AccessEvent, ChangeEvent])
def test_the_orm_cannot_update_or_delete_an_audit_row(patient_a, model):
    # Given an audit row of each kind (creating the patient wrote a ChangeEvent)
    access_row(patient_a)
    row = model.objects.filter(patient_id=patient_a.pk).first()
    assert row is not None

    # When the ORM updates or deletes it, one row or the whole queryset, the database refuses
    assert refused(lambda: model.objects.filter(pk=row.pk).update(patient_id=patient_a.pk + 1))
    assert refused(lambda: model.objects.filter(pk=row.pk).delete())
    assert refused(lambda: model.objects.all().delete())
    assert refused(row.delete)
    row.patient_id = 0
    assert refused(row.save)

    # Then the row is still there, unchanged
    assert model.objects.filter(pk=row.pk, patient_id=patient_a.pk).exists()


@pytest.mark.parametrize("table", ["audit_accessevent", "audit_changeevent"])
def test_raw_sql_cannot_update_or_delete_an_audit_row(patient_a, table):
    access_row(patient_a)

    def run(sql):
        def action():
            with connection.cursor() as cursor:
                cursor.execute(sql)

        return action

    assert refused(run(f"UPDATE {table} SET patient_id = 0"))
    assert refused(run(f"DELETE FROM {table}"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE patient_id = %s", [patient_a.pk])
        assert cursor.fetchone()[0] >= 1


def test_creating_a_patient_records_its_fields(location):
    patient = make_patient(9, first_name="Cora", last_name="Hale", location=location)

    [created] = changes_of(patient)
    assert created.operation == "insert"
    assert created.patient_id == patient.pk
    assert created.changes["last_name"] == [None, "Hale"]
    assert created.actor_id is None  # not from a logged-in request


def test_an_orm_update_of_a_patient_records_only_the_fields_that_changed(patient_a):
    Patient.objects.filter(pk=patient_a.pk).update(last_name="Morgan-Reyes", first_name="Alice")

    change = changes_of(patient_a)[-1]
    assert change.operation == "update"
    assert change.changes == {"last_name": ["Morgan", "Morgan-Reyes"]}


def test_an_update_that_changes_nothing_records_nothing(patient_a):
    before = len(changes_of(patient_a))
    Patient.objects.filter(pk=patient_a.pk).update(last_name=patient_a.last_name)
    assert len(changes_of(patient_a)) == before


def test_raw_sql_on_the_intake_baseline_is_recorded(patient_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE patients_patient SET baseline_headache_days = 22 WHERE id = %s", [patient_a.pk]
        )

    change = changes_of(patient_a)[-1]
    assert change.changes["baseline_headache_days"][1] == 22
    assert change.actor_id is None


def test_bulk_created_consents_are_recorded(patient_a, front_desk):
    [consent] = ContactConsent.objects.bulk_create(
        [
            ContactConsent(
                patient=patient_a,
                channel="sms",
                granted=True,
                source="written",
                recorded_by=front_desk,
            )
        ]
    )
    rows = ChangeEvent.objects.filter(
        table_name="patients_contactconsent", patient_id=patient_a.pk, operation="insert"
    )
    assert rows.count() == 1
    assert rows.get().changes["channel"] == [None, "sms"]


def test_sessions_appointments_and_adverse_events_have_a_history(
    signed_session, booked_appointment
):
    event = signed_session.adverse_events.get()
    AdverseEvent.objects.filter(pk=event.pk).update(outcome="resolving")
    Appointment.objects.filter(pk=booked_appointment.pk).update(cancel_reason="x")
    # a signed session is locked (the amendment made version 2): its history holds its
    # signing, and version 1's holds being superseded
    original = signed_session.original

    assert changes_of(event)[-1].changes["outcome"] == ["ongoing", "resolving"]
    assert changes_of(booked_appointment)[-1].changes["cancel_reason"][1] == "x"
    statuses = [c.changes.get("status") for c in changes_of(signed_session)]
    assert ["draft", "signed"] in statuses
    assert changes_of(original)[-1].changes["status"] == ["signed", "superseded"]
    assert {c.patient_id for c in changes_of(signed_session)} == {signed_session.patient_id}


def test_deleting_a_row_records_what_it_held(patient_a, front_desk):
    consent = ContactConsent.objects.create(
        patient=patient_a, channel="email", granted=True, source="written", recorded_by=front_desk
    )
    ContactConsent.objects.filter(pk=consent.pk).delete()

    deleted = changes_of(consent)[-1]
    assert deleted.operation == "delete"
    assert deleted.changes["channel"] == ["email", None]
