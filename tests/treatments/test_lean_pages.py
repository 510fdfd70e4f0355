"""Issue 13, the record pages: what they print is what their templates printed, their slot
search reads a week of appointments at a time with the same result, and their query counts
are pinned (they do not grow with the rows behind them)."""

import datetime

import pytest
from django.template import engines
from django.urls import reverse

from clinic.models import User
from tests.conftest import (
    clinic_today,
    local,
    make_patient,
    make_user,
    next_weekday,
    session_input,
)
from treatments import protocol
from treatments.forms import SessionEntry
from treatments.models import Appointment, InjectorDay
from treatments.services import available_slots, record_session, standard_sites

# The sites table as the session form's template wrote it before SitesForm.table_rows.
SITE_ROWS_TEMPLATE = """{% for site, units, skip in entry.sites.rows %}{% if not forloop.first %}
{% endif %}<tr data-site="{{ site.code }}" data-muscle="{{ site.muscle }}" data-side="{{ site.side }}" data-ftp="{{ site.ftp|yesno:'true,false' }}">
  <th scope="row"><label for="{{ units.id_for_label }}">{{ units.label }}</label></th>
  <td>{{ units }}{% for e in units.errors %}<div class="invalid-feedback d-block">{{ e }}</div>{% endfor %}</td>
  <td>{% if skip %}{{ skip }}{% for e in skip.errors %}<div class="invalid-feedback d-block">{{ e }}</div>{% endfor %}{% endif %}</td>
</tr>{% endfor %}"""  # noqa: E501


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"units-TEM-L1": "5", "units-TEM-L5": "5", "skip-COR-L": 'healed <scar> & "pain"'},
        {"units-TEM-L1": "50", "units-COR-L": "5", "skip-COR-L": "both", "units-OCC-R4": "x"},
    ],
)
def test_the_site_rows_are_the_rows_the_template_wrote(db, data):
    entry = SessionEntry(data, initial_sites=standard_sites())
    if data:
        assert not entry.sites.is_valid() or data["units-TEM-L1"] == "5"
    expected = engines["django"].from_string(SITE_ROWS_TEMPLATE).render({"entry": entry})
    assert str(entry.sites.table_rows()) == expected
    assert expected.count("<tr ") == len(protocol.SITES)


# --- the slot search -----------------------------------------------------------------------------


HOURS = range(9, 17)


@pytest.fixture
def busy_schedule(schedule, clinician, patient_a):
    """Two injectors; the first fully booked on its first four weekdays, the second booked
    here and there, so the first slots of each fall in different weeks."""
    other = make_user("second", User.Role.CLINICIAN, first_name="Ben", last_name="Ode")
    for weekday in (1, 3):
        InjectorDay.objects.create(clinician=other, location=schedule, weekday=weekday)
    monday = next_weekday(0)
    visits = []
    for n, (person, day, hour) in enumerate(
        [
            (clinician, monday + datetime.timedelta(days=d), h)
            for d in range(4)
            for h in range(9, 17)
        ]
        + [(other, monday + datetime.timedelta(days=d), 9) for d in (1, 8, 10)]
    ):
        patient = make_patient(100 + n, location=schedule)
        for half in (0, 30):
            starts_at = local(day, hour, half)
            visits.append(
                Appointment(
                    patient=patient if half == 0 else make_patient(500 + n, location=schedule),
                    clinician=person,
                    location=schedule,
                    starts_at=starts_at,
                    ends_at=starts_at + datetime.timedelta(minutes=30),
                    booked_by=person,
                    cycle_number=1,
                )
            )
    Appointment.objects.bulk_create(visits)
    return schedule


@pytest.mark.parametrize("per_clinician", [None, 1, 3, 20])
@pytest.mark.parametrize("days", [1, 7, 9, 21])
def test_the_slot_search_a_week_at_a_time_finds_what_one_read_found(
    busy_schedule, monkeypatch, per_clinician, days
):
    def search():
        return [
            (slot.clinician.pk, slot.starts_at)
            for slot in available_slots(
                location=busy_schedule,
                start_date=next_weekday(0),
                days=days,
                per_clinician=per_clinician,
            )
        ]

    by_week = search()
    monkeypatch.setattr("treatments.services.schedule.BUSY_DAYS", 1000)
    assert by_week == search()
    assert by_week or days == 1


# --- query counts --------------------------------------------------------------------------------

SIZES = [1, 5]


@pytest.fixture
def sessions_of(location, clinician):
    def make(patient, count):
        start = datetime.datetime(2014, 1, 6, 15, tzinfo=datetime.UTC)
        return [
            record_session(
                patient=patient,
                injector=clinician,
                data=session_input(location, when=start + datetime.timedelta(days=84 * n)),
            )
            for n in range(count)
        ]

    return make


@pytest.mark.parametrize("size", SIZES)
def test_the_new_session_form_needs_as_many_queries_for_many_sessions_as_for_one(
    client, clinician, patient_a, location, sessions_of, size, django_assert_max_num_queries
):
    from treatments.services import sign_session

    for session in sessions_of(patient_a, size):
        sign_session(session=session, user=clinician, acknowledged=[])
    client.force_login(clinician)
    # session, user, patient, draft?, the location's last lot, the last signed session and
    # its adverse events, the known lots, the location select, the alert count, the audit
    # INSERT, the session's sliding expiry (3)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("treatments:session_create", args=[patient_a.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("size", SIZES)
def test_the_session_record_needs_as_many_queries_for_many_sessions_as_for_one(
    client, clinician, patient_a, sessions_of, size, django_assert_max_num_queries
):
    from treatments.services import sign_session

    sessions = sessions_of(patient_a, size)
    for session in sessions:
        sign_session(session=session, user=clinician, acknowledged=[])
    client.force_login(clinician)
    with django_assert_max_num_queries(19):
        response = client.get(reverse("treatments:session_detail", args=[sessions[-1].pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("clinicians", SIZES)
def test_the_patient_details_form_needs_as_many_queries_for_many_clinicians_as_for_one(
    client, front_desk, patient_a, clinicians, django_assert_max_num_queries
):
    for n in range(clinicians):
        make_user(f"doctor{n}", User.Role.CLINICIAN, first_name=f"Doc{n}", last_name="Tor")
    client.force_login(front_desk)
    # session, user, patient, its location (the phone's region), the location and clinician
    # selects, the audit INSERT, the session's sliding expiry (3)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("patients:update", args=[patient_a.pk]))
    assert response.content.decode().count("Tor</option>") == clinicians


@pytest.mark.parametrize("visits", SIZES)
def test_the_slot_picker_needs_as_many_queries_for_many_visits_as_for_one(
    client, front_desk, schedule, clinician, patient_a, visits, django_assert_max_num_queries
):
    monday = next_weekday(0)
    for n in range(visits):
        other = make_patient(200 + n, location=schedule)
        starts_at = local(monday, 9 + n)
        Appointment.objects.create(
            patient=other,
            clinician=clinician,
            location=schedule,
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(minutes=30),
            booked_by=front_desk,
            cycle_number=1,
        )
    client.force_login(front_desk)
    with django_assert_max_num_queries(16):
        response = client.get(
            reverse("treatments:book", args=[patient_a.pk]), {"from": monday.isoformat()}
        )
    assert response.context["slots"]
    assert clinic_today() < monday


@pytest.mark.parametrize("size", SIZES)
def test_the_portal_treatment_page_needs_as_many_queries_for_many_sessions_as_for_one(
    client, clinician, patient_a, sessions_of, size, django_assert_max_num_queries
):
    from treatments.services import sign_session

    for session in sessions_of(patient_a, size):
        sign_session(session=session, user=clinician, acknowledged=[])
    client.force_login(patient_a.user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("portal:treatment"))
    assert len(response.context["sessions"]) == size
