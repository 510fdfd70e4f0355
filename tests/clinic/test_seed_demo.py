import datetime
import io
import zoneinfo

import pytest
from django.apps import apps
from django.core.management import call_command

from clinic.models import Location, User
from patients.models import Patient


def snapshot():
    """Every row of every model in our apps, as plain values."""
    return {
        model._meta.label: sorted(map(repr, model.objects.values_list()))
        for app in ("clinic", "patients", "treatments")
        for model in apps.get_app_config(app).get_models()
    }


def test_seed_demo_builds_the_demo_clinic(db):
    call_command("seed_demo", stdout=None)
    assert sorted(Location.objects.values_list("time_zone", flat=True)) == [
        "America/New_York",
        "Australia/Sydney",
        "Europe/London",
    ]
    roles = {role: User.objects.filter(role=role).count() for role in User.Role.values}
    assert roles == {"clinician": 4, "front_desk": 2, "clinic_admin": 1, "patient": 8}
    assert Patient.objects.count() == 50
    assert Patient.objects.filter(location__name="Bayside Clinic").count() == 10
    assert Patient.objects.filter(user__isnull=False).count() == 8
    assert User.objects.get(username="desk.kim").check_password("cadence-demo")


def test_seed_demo_gives_most_patients_a_signed_history_that_obeys_the_rules(db):
    from treatments.models import AdverseEvent, TreatmentSession
    from treatments.services import check_session

    call_command("seed_demo")
    sessions = TreatmentSession.objects.select_related("patient", "course", "location")
    treated = Patient.objects.filter(sessions__isnull=False).distinct().count()
    per_patient = [p.sessions.count() for p in Patient.objects.filter(sessions__isnull=False)]
    assert 38 <= treated < 50
    assert min(per_patient) >= 1
    assert max(per_patient) <= 6
    assert all(s.is_signed for s in sessions)
    assert {s.total_units for s in sessions} >= {155, 195}
    assert AdverseEvent.objects.exists()
    assert [f for s in sessions for f in check_session(s) if f.severity == "block"] == []


def test_seed_demo_twice_leaves_the_same_rows(db):
    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first


def test_if_empty_loads_the_demo_into_a_new_database_only(db, clinician):
    # A database with users (here one clinician) is in use: `make run` leaves it alone
    call_command("seed_demo", "--if-empty", stdout=io.StringIO())
    assert list(User.objects.all()) == [clinician]

    # and a new or emptied one gets the demo clinic
    User.objects.all().delete()
    call_command("seed_demo", "--if-empty", stdout=io.StringIO())
    assert (
        User.objects.filter(username__in=["dr.osei", "desk.kim", "admin", "patient01"]).count() == 4
    )


def zone_of(reminder):
    """Where a message's quiet hours are read: its visit's location, its session's (a
    check-in), else the patient's usual one."""
    if reminder.appointment_id:
        return reminder.appointment.location.time_zone
    if reminder.session_id:
        return reminder.session.location.time_zone
    return reminder.patient.location.time_zone


@pytest.mark.parametrize(
    ("instant", "awake"),
    [
        # 23:00 in London (quiet), 18:00 in New York, 10:00 the next day in Sydney
        (
            datetime.datetime(2027, 1, 13, 23, 0, tzinfo=datetime.UTC),
            {"America/New_York", "Australia/Sydney"},
        ),
        # 05:00 in New York (quiet), 10:00 in London, 21:00 in Sydney (quiet)
        (datetime.datetime(2027, 1, 13, 10, 0, tzinfo=datetime.UTC), {"Europe/London"}),
        # 23:00 in New York and 04:00 in London (both quiet), 15:00 in Sydney
        (datetime.datetime(2027, 1, 13, 4, 0, tzinfo=datetime.UTC), {"Australia/Sydney"}),
        # summer: 23:00 in New York and 04:00 in London (both quiet), 13:00 in Sydney
        (datetime.datetime(2027, 7, 14, 3, 0, tzinfo=datetime.UTC), {"Australia/Sydney"}),
    ],
)
def test_a_first_run_brings_forward_messages_of_a_location_where_it_is_daytime(
    db, time_machine, instant, awake
):
    from treatments.models import Reminder
    from treatments.services.reminders import dispatch_due_reminders

    # Given the clock at an hour when one or two demo clinics are in their quiet hours
    time_machine.move_to(instant, tick=False)

    # When the demo is loaded
    call_command("seed_demo", stdout=io.StringIO())

    # Then the messages due now are an awake clinic's, and the dispatcher takes them at once
    due = list(Reminder.objects.filter(status="pending", due_at__lte=instant))
    assert 3 <= len(due) <= 5  # five, or all the awake clinic has (Bayside is small)
    assert {zone_of(reminder) for reminder in due} <= awake
    assert len(dispatch_due_reminders(now=instant)) == len(due)


@pytest.mark.parametrize("day", [datetime.date(2027, 1, 13), datetime.date(2027, 7, 14)])
def test_at_every_hour_of_a_winter_and_a_summer_day_a_demo_clinic_is_out_of_quiet_hours(day):
    from clinic.demo import LOCATIONS
    from treatments.services.reminders import in_quiet_hours

    zones = [zoneinfo.ZoneInfo(fields["time_zone"]) for fields in LOCATIONS]
    for minute in range(0, 24 * 60, 15):
        instant = datetime.datetime.combine(day, datetime.time(), datetime.UTC) + (
            datetime.timedelta(minutes=minute)
        )
        assert any(not in_quiet_hours(instant, zone) for zone in zones), instant


def test_seed_demo_has_authorizations_in_every_state_and_a_visit_booked_past_one(db):
    from treatments.models import Appointment, PriorAuthorization
    from treatments.services.authorizations import authorization_state, with_usage

    call_command("seed_demo")
    rows = with_usage(PriorAuthorization.objects.select_related("patient__location"))
    states = sorted(authorization_state(row, row.patient.local_today()) for row in rows)
    assert set(states) >= {"active", "ending_soon", "one_left", "used_up", "expired", "future"}
    [visit] = Appointment.objects.filter(authorization_override_reason__isnull=False)
    assert visit.authorization_override_reason.startswith("Renewal sent")
    assert visit.booked_by.role == User.Role.CLINICIAN
    covering = PriorAuthorization.objects.covering(visit.patient_id, visit.local_starts_at.date())
    assert covering is None  # booked past the end of the patient's authorization
    assert visit.patient.authorizations.exists()
    # each with its payer's approval letter, a PDF one may download
    for authorization in PriorAuthorization.objects.prefetch_related("documents"):
        [letter] = authorization.documents.all()
        assert letter.original_name.endswith(f"approval {authorization.reference}.pdf")
        assert letter.file.read(5) == b"%PDF-"
