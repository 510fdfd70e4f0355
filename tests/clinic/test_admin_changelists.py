"""The admin's changelists at network scale (issue 13): one count, short pages, related rows
selected with the page, the model's ordering on an index, and the same number of queries
whether a list holds 3 rows or 30."""

import datetime
import itertools

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.admin_site import EstimatedCountPaginator
from clinic.models import Location, User
from patients.models import ContactConsent
from tests.conftest import (
    SESSION_TIME,
    fresh_vials,
    make_authorization_records,
    make_patient,
    make_user,
    session_input,
)
from treatments.models import (
    Appointment,
    AppointmentEvent,
    CallOutcome,
    Closure,
    InjectionSite,
    InjectorDay,
    OpeningHours,
    TreatmentCourse,
    TreatmentSession,
    VialLot,
    VialUse,
)
from treatments.services import amend_session, record_session, report_adverse_event, sign_session

OURS = ("clinic", "patients", "treatments", "audit")
CHANGELIST_QUERIES = 11  # session (3), user, second factor, count, rows, filters' choices...
NUMBERS = itertools.count(100)

# Tables that grow with the network: their admin ordering must be an index's leading columns.
BIG_TABLES = [
    Appointment,
    AppointmentEvent,
    CallOutcome,
    ContactConsent,
    TreatmentCourse,
    TreatmentSession,
    InjectionSite,
    VialUse,
]


def our_admins():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in OURS
    ]


def test_every_changelist_counts_once_and_shows_fifty_rows_at_most():
    for model, model_admin in our_admins():
        assert model_admin.show_full_result_count is False, model
        assert model_admin.list_per_page <= 50, model


@pytest.mark.parametrize("model", BIG_TABLES, ids=lambda model: model.__name__)
def test_a_big_tables_changelist_sorts_on_an_index(model):
    ordering = [name.lstrip("-") for name in model._meta.ordering]
    ordering = ["id" if name == "pk" else name for name in ordering]
    indexed = [[field.lstrip("-") for field in index.fields] for index in model._meta.indexes] + [
        ["id"]
    ]
    assert any(fields[: len(ordering)] == ordering for fields in indexed), model


# --- rows of every kind, n at a time ------------------------------------------------------------


def _patients(n, world):
    return [
        make_patient(next(NUMBERS), location=world["location"], primary_clinician=world["clin"])
        for _ in range(n)
    ]


def _sessions(n, world):
    for patient in _patients(n, world):
        session = record_session(
            patient=patient,
            injector=world["clin"],
            data=session_input(world["location"], vials=fresh_vials(SESSION_TIME)),
        )
        sign_session(session=session, user=world["clin"], acknowledged=[])


def _appointments(n, world):
    start = datetime.datetime(2025, 1, 6, 14, 0, tzinfo=datetime.UTC)
    Appointment.objects.bulk_create(
        Appointment(
            patient=patient,
            location=world["location"],
            clinician=world["clin"],
            starts_at=start + datetime.timedelta(days=i),
            ends_at=start + datetime.timedelta(days=i, minutes=30),
            status="fulfilled",
            booked_by=world["desk"],
        )
        for i, patient in enumerate(_patients(n, world))
    )


def _amendments(n, world):
    session = world["session"]
    for i in range(n):
        amendment = amend_session(
            session=session,
            user=world["clin"],
            data=session_input(world["location"], notes=f"Amended {i}"),
            reason="Typo in the notes",
        )
        session = amendment.new_version


def _events(n, world):
    AppointmentEvent.objects.bulk_create(
        AppointmentEvent(appointment=world["visit"], action="note", by=world["desk"])
        for _ in range(n)
    )


def _courses(n, world):
    for patient in _patients(n, world):
        TreatmentCourse.objects.create(patient=patient, started_on=datetime.date(2025, 1, 6))


def _calls(n, world):
    for patient in _patients(n, world):
        CallOutcome.objects.create(
            patient=patient, outcome="unreachable", recorded_by=world["desk"]
        )


def _consents(n, world):
    for patient in _patients(n, world):
        ContactConsent.objects.create(patient=patient, channel="sms", granted=True, source="verbal")


def _adverse_events(n, world):
    for _ in range(n):
        report_adverse_event(
            session=world["session"],
            recorded_by=world["clin"],
            reported_by="clinician",
            term="neck_pain",
            onset=datetime.date(2026, 3, 4),
            severity="mild",
        )


def _lots(n, world):
    VialLot.objects.bulk_create(
        VialLot(
            lot_number=f"Z{next(NUMBERS)}", product="botox_200", expiry=datetime.date(2027, 1, 1)
        )
        for _ in range(n)
    )


def _locations(n, world):
    for _ in range(n):
        Location.objects.create(
            name=f"Clinic {next(NUMBERS)}",
            address="1 Main St",
            phone="+12125550142",
            time_zone="America/New_York",
        )


def _hours(n, world):
    for i in range(n):
        opens = datetime.time(i % 12)
        OpeningHours.objects.create(
            location=world["location"], weekday=i % 7, opens=opens, closes=datetime.time(23)
        )


def _rota(n, world):
    for _ in range(n):
        clinician = make_user(f"clin{next(NUMBERS)}", User.Role.CLINICIAN)
        InjectorDay.objects.create(clinician=clinician, location=world["location"], weekday=1)


def _closures(n, world):
    clinician = make_user(f"clin{next(NUMBERS)}", User.Role.CLINICIAN)
    Closure.objects.bulk_create(
        Closure(
            location=world["location"] if i % 2 else None,
            clinician=None if i % 2 else clinician,
            day=datetime.date(2027, 1, 1) + datetime.timedelta(days=i),
            from_time=datetime.time(13) if i % 3 else None,
            reason=f"Closed {i}",
        )
        for i in range(n)
    )


def _users(n, world):
    for _ in range(n):
        make_user(f"user{next(NUMBERS)}", User.Role.FRONT_DESK)


def _attempts(n, world):
    AccessAttempt.objects.bulk_create(
        AccessAttempt(
            username=f"someone{next(NUMBERS)}",
            ip_address="192.0.2.1",
            failures_since_start=1,
            get_data="",
            post_data="",
        )
        for _ in range(n)
    )


def _authorizations(n, world):
    patient = world["session"].patient
    for _ in range(n):
        make_authorization_records(patient, world["desk"], reference=f"PA-{next(NUMBERS)}")


def _groups(n, world):
    Group.objects.bulk_create(Group(name=f"group {next(NUMBERS)}") for _ in range(n))


BUILDERS = {
    "patients.patient": _patients,
    "patients.contactconsent": _consents,
    "treatments.treatmentsession": _sessions,
    "treatments.injectionsite": _sessions,
    "treatments.vialuse": _sessions,
    "treatments.treatmentcourse": _courses,
    "treatments.viallot": _lots,
    "treatments.adverseevent": _adverse_events,
    "treatments.sessionamendment": _amendments,
    "treatments.openinghours": _hours,
    "treatments.injectorday": _rota,
    "treatments.closure": _closures,
    "treatments.appointment": _appointments,
    "treatments.appointmentevent": _events,
    "treatments.calloutcome": _calls,
    "treatments.priorauthorization": _authorizations,
    "treatments.authorizationdocument": _authorizations,
    "clinic.user": _users,
    "clinic.location": _locations,
    "axes.accessattempt": _attempts,
    "auth.group": _groups,
}


def test_every_changelist_has_a_row_builder():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered == set(BUILDERS)


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_every_changelist_keeps_a_constant_query_count(
    client, clinic_admin, one_of_every_kind, label, rows, django_assert_max_num_queries
):
    world = {
        "location": one_of_every_kind["patient"].location,
        "clin": one_of_every_kind["session"].injector,
        "desk": one_of_every_kind["user"],
        "session": one_of_every_kind["session"],
        "visit": one_of_every_kind["appointment"],
    }
    BUILDERS[label](rows, world)
    app_label, model_name = label.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    client.force_login(clinic_admin)

    with django_assert_max_num_queries(CHANGELIST_QUERIES):
        response = client.get(url)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= rows


def _appointments_page(client, clinic_admin, one_of_every_kind, rows, query=""):
    world = {
        "location": one_of_every_kind["patient"].location,
        "clin": one_of_every_kind["session"].injector,
        "desk": one_of_every_kind["user"],
    }
    _appointments(rows, world)
    client.force_login(clinic_admin)
    return reverse("admin:treatments_appointment_changelist") + query


def test_the_appointments_changelist_loads_no_phone_number_it_does_not_show(
    client, clinic_admin, one_of_every_kind
):
    # Given appointments of patients with phone numbers, at a location with one
    url = _appointments_page(client, clinic_admin, one_of_every_kind, 5)

    # When the admin lists them
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)

    # Then the rows' query reads neither phone (loading one parses it), and the rows show
    rows = [
        q["sql"] for q in queries.captured_queries if 'FROM "treatments_appointment"' in q["sql"]
    ]
    page = [sql for sql in rows if "COUNT(" not in sql]
    assert page
    assert all('"patients_patient"."phone"' not in sql for sql in page)
    assert all('"clinic_location"."phone"' not in sql for sql in page)
    assert len(response.context["cl"].result_list) >= 5
    assert str(response.context["cl"].result_list[0].patient) in response.content.decode()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the estimate is PostgreSQL's pg_class.reltuples",
)
def test_a_whole_big_table_is_estimated_and_a_filtered_list_counted(
    client, clinic_admin, one_of_every_kind, monkeypatch
):
    # Given appointments, analysed, then three more; and "big" meaning from 1 row here
    url = _appointments_page(client, clinic_admin, one_of_every_kind, 6)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE treatments_appointment")
    analysed = Appointment.objects.count()
    _appointments(
        3,
        {
            "location": one_of_every_kind["patient"].location,
            "clin": one_of_every_kind["session"].injector,
            "desk": one_of_every_kind["user"],
        },
    )
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_FROM", 1)

    # When the admin lists them all, and then one status
    everything = client.get(url)
    fulfilled = client.get(url + "?status__exact=fulfilled")

    # Then the whole table's count is the estimate ANALYZE left (not the rows added since);
    # the filtered list is counted exactly
    assert everything.context["cl"].result_count == analysed
    assert fulfilled.context["cl"].result_count == (
        Appointment.objects.filter(status="fulfilled").count()
    )
    assert fulfilled.context["cl"].result_count == 6 + 3  # rows added after ANALYZE too


def test_a_whole_small_table_is_counted_exactly(client, clinic_admin, one_of_every_kind):
    url = _appointments_page(client, clinic_admin, one_of_every_kind, 4)
    response = client.get(url)
    assert response.context["cl"].result_count == Appointment.objects.count()
