"""`manage.py seed_scale` (issue 13): a small run builds data the app itself accepts. The
database enforces the constraints and guards as the rows go in (the command succeeding is part
of the proof); these tests check what the database does not: the protocol's sites and units,
the rules a signed session passes, the intervals, the reminders planning would make, and that
the pages read it."""

import datetime
import io
from collections import defaultdict

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from audit.models import ChangeEvent
from audit.triggers import HISTORY_TABLES
from clinic.models import Location, User
from patients.models import DiaryEntry, Patient
from tests.treatments.test_due_states import derived as derived_due_states
from tests.treatments.test_due_states import kept as kept_due_states
from treatments import protocol
from treatments.models import (
    Appointment,
    DueState,
    Reminder,
    TreatmentCourse,
    TreatmentSession,
)
from treatments.services.reminders import plan_visit_reminders
from treatments.services.sessions import check_session

PATIENTS = 305  # not a multiple of ten: the portal accounts round up
# A fixed instant: the seed's "now" (its history ends and its future starts here).
SEED_NOW = datetime.datetime(2026, 11, 25, 14, 30, tzinfo=datetime.UTC)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="seed_scale builds with PostgreSQL SQL"
)


@pytest.fixture
def seeded(db, time_machine):
    time_machine.move_to(SEED_NOW, tick=False)
    out = io.StringIO()
    call_command("seed_scale", patients=PATIENTS, stdout=out)
    return out.getvalue()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the refusal of other engines")
def test_seed_scale_refuses_any_engine_but_postgresql(db):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("seed_scale", patients=PATIENTS, stdout=io.StringIO())
    assert not Patient.objects.exists()


@postgres_only
def test_seed_scale_refuses_a_database_that_already_holds_patients(patient_a):
    with pytest.raises(CommandError, match="already holds"):
        call_command("seed_scale", patients=PATIENTS, stdout=io.StringIO())
    assert Patient.objects.count() == 1
    assert not Appointment.objects.exists()


@postgres_only
def test_seed_scale_builds_the_network_to_scale_and_says_what_it_made(seeded):
    assert Patient.objects.count() == PATIENTS
    assert Location.objects.count() == 2
    assert set(Location.objects.values_list("time_zone", flat=True)) == {
        "Europe/London",
        "America/New_York",
    }
    assert User.objects.filter(role="clinician").count() == 10
    # About ten visits and two signed sessions a patient, twenty diary days, one course each
    assert 8 * PATIENTS <= Appointment.objects.count() <= 12 * PATIENTS
    assert 1.5 * PATIENTS <= TreatmentSession.objects.signed().count() <= 2.6 * PATIENTS
    assert DiaryEntry.objects.count() == 20 * PATIENTS
    assert TreatmentCourse.objects.active().count() == PATIENTS
    statuses = set(Appointment.objects.values_list("status", flat=True))
    assert statuses == {"booked", "fulfilled", "noshow", "cancelled"}
    assert not Appointment.objects.filter(status="booked", starts_at__lt=SEED_NOW).exists()
    assert not Appointment.objects.filter(starts_at__gte=SEED_NOW).exclude(status="booked").exists()
    for part in ("patients", "appointments", "injection sites", "reminders", "analyze"):
        assert part in seeded


@postgres_only
def test_seeding_records_no_history_and_leaves_the_audit_triggers_on(seeded):
    assert not ChangeEvent.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'audit_history'"
        )
        enabled = dict(cursor.fetchall())
    assert enabled == dict.fromkeys(HISTORY_TABLES, "O")
    # and a change made afterwards is recorded
    patient = Patient.objects.first()
    patient.address = "1 New Street"
    patient.save()
    assert ChangeEvent.objects.filter(table_name="patients_patient").count() == 1


@postgres_only
def test_the_due_states_are_derived_once_and_their_triggers_left_on(seeded):
    expected = derived_due_states()
    assert sum(1 for state in expected.values() if state[-1]) > 0  # missed visits among them
    assert kept_due_states() == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tgenabled FROM pg_trigger WHERE tgname LIKE 'derive%%'")
        assert cursor.fetchall() == [("O",)]
    # and a no-show recorded afterwards is derived by them
    visit = Appointment.objects.filter(status="fulfilled").order_by("-starts_at").first()
    Appointment.objects.filter(pk=visit.pk).update(status="noshow")
    assert DueState.objects.get(patient_id=visit.patient_id).missed_at == visit.starts_at


@postgres_only
def test_signed_sessions_have_the_31_protocol_sites_at_5_units(seeded):
    sessions = TreatmentSession.objects.signed().prefetch_related("sites", "vials__lot")
    fixed = {site.code: site for site in protocol.FIXED_SITES}
    assert len(fixed) == 31
    for session in sessions:
        sites = list(session.sites.all())
        assert {site.site_code for site in sites} == set(fixed)
        assert all(site.units == protocol.UNITS_PER_SITE for site in sites)
        assert all(
            (site.muscle, site.side) == (fixed[site.site_code].muscle, fixed[site.site_code].side)
            for site in sites
        )
        assert session.total_units == protocol.STANDARD_TOTAL_UNITS
        (vial,) = session.vials.all()
        assert vial.units_drawn == vial.units_administered + vial.units_wasted
        assert vial.units_administered == session.total_units
        assert vial.units_wasted == session.units_wasted
        assert vial.lot.expiry > session.given_on
        assert session.signed_by_id == session.injector_id
        assert session.appointment.status == "fulfilled"
        assert session.appointment.kind == "injection"
        assert session.given_on == session.local_administered_at.date()


@postgres_only
def test_every_signed_session_passes_the_rules_the_app_checks_at_sign_off(seeded):
    sessions = TreatmentSession.objects.signed().select_related("patient", "course", "location")
    checked = 0
    for session in sessions.order_by("pk")[:60]:
        assert check_session(session) == [], session.pk
        checked += 1
    assert checked == 60


@postgres_only
def test_sessions_are_numbered_in_order_and_at_least_the_minimum_interval_apart(seeded):
    by_course = defaultdict(list)
    for session in TreatmentSession.objects.signed().select_related("course"):
        by_course[session.course].append(session)
    assert by_course
    for course, sessions in by_course.items():
        sessions.sort(key=lambda s: s.administered_at)
        assert [s.cycle_number for s in sessions] == list(range(1, len(sessions) + 1))
        for earlier, later in zip(sessions, sessions[1:], strict=False):
            assert (later.given_on - earlier.given_on).days >= course.min_interval_days
        assert course.last_session_on == sessions[-1].given_on
        assert course.consent_on <= sessions[0].given_on
        assert course.patient_id == sessions[0].patient_id


@postgres_only
def test_no_clinician_or_patient_has_overlapping_active_visits(seeded):
    for who in ("clinician_id", "patient_id"):
        visits = defaultdict(list)
        for row in Appointment.objects.active().values(who, "starts_at", "ends_at"):
            visits[row[who]].append((row["starts_at"], row["ends_at"]))
        for spans in visits.values():
            spans.sort()
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                assert end <= start
    # Booked visits fall in the clinicians' injecting days and the opening hours
    for visit in Appointment.objects.active().select_related("location"):
        local = visit.local_starts_at
        assert local.weekday() < 5
        assert datetime.time(8) <= local.time() < datetime.time(17)
        assert visit.clinician.injector_days.filter(
            location=visit.location, weekday=local.weekday()
        ).exists()


@postgres_only
def test_future_visits_have_the_reminders_planning_would_make(seeded, time_machine):
    booked = Appointment.objects.filter(status="booked").select_related("patient", "location")
    assert booked.count() > PATIENTS // 3

    def snapshot():
        return {
            (r.appointment_id, r.subject_key, r.kind, r.channel): (
                r.due_at,
                r.status,
                r.skip_reason,
                r.patient_id,
            )
            for r in Reminder.objects.all()
        }

    seeded_rows = snapshot()
    assert len(seeded_rows) == 2 * booked.count()
    assert {status for _, status, _, _ in seeded_rows.values()} >= {"pending"}
    Reminder.objects.all().delete()
    for appointment in booked:
        plan_visit_reminders(appointment=appointment, now=SEED_NOW)
    assert snapshot() == seeded_rows


@postgres_only
def test_the_pages_render_the_seeded_network(seeded, client):
    clinician = User.objects.filter(role="clinician").order_by("pk").first()
    client.force_login(clinician)
    busiest = (
        Appointment.objects.values("location")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()["location"]
    )
    day = Appointment.objects.filter(location=busiest, status="booked").first().starts_at.date()
    patient = (
        TreatmentSession.objects.signed()
        .values("patient")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()["patient"]
    )
    for url in (
        "/treatments/due/",
        f"/treatments/due/?location={busiest}&weeks=4",
        f"/treatments/calendar/?location={busiest}&date={day}&view=week",
        f"/treatments/calendar/?location={busiest}&date={day}&view=day",
        "/treatments/reminders/",
        "/patients/",
        f"/treatments/patients/{patient}/chart/",
    ):
        assert client.get(url).status_code == 200, url
    portal_user = User.objects.filter(role="patient").order_by("pk").first()
    client.force_login(portal_user)
    for url in ("/portal/", "/portal/diary/"):
        assert client.get(url).status_code == 200, url
    client.force_login(User.objects.get(username="scale-admin"))
    for url in ("/admin/treatments/appointment/", "/admin/patients/patient/"):
        assert client.get(url).status_code == 200, url
