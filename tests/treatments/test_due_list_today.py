"""The due list's "today" and its rows agree, whatever the location filter (issue 14, part 6).

The rule: a patient's days since the last session (and "overdue", and the list's cut-offs)
count from today at the patient's usual location; the page says which date that is at each
location. Tested at 00:40 UTC on 2 December 2026: Wednesday in London, still Tuesday 1
December (19:40) in New York."""

import datetime
import re

import pytest
from django.urls import reverse

from tests.conftest import make_patient
from treatments.models import TreatmentCourse
from treatments.services.local_dates import local_dates
from treatments.services.schedule import due_list, record_call_outcome

NOW = datetime.datetime(2026, 12, 2, 0, 40, tzinfo=datetime.UTC)
LONDON_TODAY = datetime.date(2026, 12, 2)
NEW_YORK_TODAY = datetime.date(2026, 12, 1)


@pytest.fixture
def pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


def last_session_on(number: int, day: datetime.date, location):
    patient = make_patient(number, location=location)
    TreatmentCourse.objects.create(patient=patient, started_on=day, last_session_on=day)
    return patient


def row(html: str, patient) -> str:
    return html.split(f'<tr data-patient="{patient.pk}">')[1].split("</tr>")[0]


def shown(html: str, patient) -> str:
    """The row but for its link back to the list as it was (which names the filter)."""
    return row(html, patient).split("?next=")[0]


def days_since(html: str, patient) -> int:
    return int(re.search(r"<td>(\d+) days</td>", row(html, patient)).group(1))


def stated_today(html: str) -> str:
    return re.search(r"Today: ([^<]*)\.</p>", html).group(1)


def test_each_row_counts_from_today_at_its_patients_location_filtered_or_not(
    pinned, client, front_desk, location, thames
):
    # Given a London and a New York patient whose last session was 98 days before 2 December
    last = LONDON_TODAY - datetime.timedelta(days=98)
    londoner = last_session_on(1, last, thames)
    new_yorker = last_session_on(2, last, location)
    client.force_login(front_desk)
    url = reverse("treatments:due_list")

    # When the front desk opens the list unfiltered, and filtered to each location
    everyone = client.get(url).content.decode()
    in_london = client.get(url, {"location": thames.pk}).content.decode()
    in_new_york = client.get(url, {"location": location.pk}).content.decode()

    # Then each location's rows count from its own date, the same filtered or not
    assert days_since(everyone, londoner) == days_since(in_london, londoner) == 98
    assert days_since(everyone, new_yorker) == days_since(in_new_york, new_yorker) == 97
    assert "Overdue" in row(everyone, londoner)  # day 98 in London
    assert "Overdue" not in row(everyone, new_yorker)  # day 97 in New York: due
    assert shown(everyone, londoner) == shown(in_london, londoner)
    assert shown(everyone, new_yorker) == shown(in_new_york, new_yorker)
    # and the page says which date "today" is, filtered and not
    assert stated_today(in_london) == "Wed 2 Dec 2026"
    assert stated_today(in_new_york) == "Tue 1 Dec 2026"
    assert stated_today(everyone) == (
        "Wed 2 Dec 2026 (Thames Clinic, patients with no usual location); "
        "Tue 1 Dec 2026 (Riverside Clinic)"
    )


def test_the_how_overdue_filter_counts_from_each_locations_own_date(
    pinned, client, front_desk, location, thames
):
    # Given a London and a New York patient both due on Tuesday 1 December
    last = NEW_YORK_TODAY - datetime.timedelta(days=84)
    londoner = last_session_on(1, last, thames)
    new_yorker = last_session_on(2, last, location)
    client.force_login(front_desk)
    url = reverse("treatments:due_list")

    # When the desk lists those past due by up to four weeks, then those not yet past due
    past_due = client.get(url, {"overdue": "4w"}).context["entries"]
    not_yet = client.get(url, {"overdue": "upcoming"}).context["entries"]

    # Then London (where 1 December was yesterday) is past due, New York (today) is not yet
    assert [entry.patient.pk for entry in past_due] == [londoner.pk]
    assert [entry.patient.pk for entry in not_yet] == [new_yorker.pk]


def test_every_location_on_one_date_reads_as_one_today(pinned, client, front_desk, location):
    # Given only a New York location, whose date (1 December) is not the server's (2 December)
    patient = last_session_on(1, NEW_YORK_TODAY - datetime.timedelta(days=90), location)
    client.force_login(front_desk)

    html = client.get(reverse("treatments:due_list")).content.decode()

    assert days_since(html, patient) == 90
    assert stated_today(html) == (
        "Wed 2 Dec 2026 (patients with no usual location); Tue 1 Dec 2026 (Riverside Clinic)"
    )


def test_the_service_without_local_dates_counts_every_row_from_one_today(location, thames):
    # The service's own callers (commands, tests) may still give one date for every row
    last = LONDON_TODAY - datetime.timedelta(days=98)
    last_session_on(1, last, thames)
    last_session_on(2, last, location)

    one_day = due_list(today=LONDON_TODAY)
    own_days = due_list(
        today=LONDON_TODAY, today_at={location.pk: NEW_YORK_TODAY, thames.pk: LONDON_TODAY}
    )

    assert [entry.days_since_last for entry in one_day] == [98, 98]
    assert sorted(entry.days_since_last for entry in own_days) == [97, 98]


def test_local_dates_are_each_locations_wall_calendar_date(pinned, location, thames):
    assert local_dates([location, thames]) == {location.pk: NEW_YORK_TODAY, thames.pk: LONDON_TODAY}


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize("query", [{}, {"overdue": "12w"}, {"list": "lost"}])
def test_the_split_day_list_keeps_the_pinned_query_count(
    pinned, client, front_desk, location, thames, rows, query, django_assert_max_num_queries
):
    for n in range(rows):
        day = LONDON_TODAY - datetime.timedelta(days=100 + 3 * n)
        last_session_on(n, day, (location, thames)[n % 2])
    client.force_login(front_desk)
    # as tests/treatments/test_due_list.py pins it (DUE_PAGE_QUERIES)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("treatments:due_list"), query)
    assert response.status_code == 200


def test_the_last_calls_time_is_read_in_the_patients_location_zone_and_named(
    pinned, client, front_desk, location, thames
):
    # Given a call to each patient at 00:40 UTC on 2 December (19:40 the day before in New York)
    last = LONDON_TODAY - datetime.timedelta(days=98)
    londoner = last_session_on(1, last, thames)
    new_yorker = last_session_on(2, last, location)
    for patient in (londoner, new_yorker):
        record_call_outcome(patient=patient, outcome="unreachable", by=front_desk)
    client.force_login(front_desk)

    # When the front desk opens the list
    html = client.get(reverse("treatments:due_list")).content.decode()

    # Then each call shows at its patient's location's time, with the zone's name
    assert "2 Dec 00:40 GMT" in row(html, londoner)
    assert "1 Dec 19:40 EST" in row(html, new_yorker)
