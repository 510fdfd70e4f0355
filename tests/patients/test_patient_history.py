"""The patient page's history (issue 14, part 6): every visit, whatever its status, with its
cancel and early-booking reasons, and every call outcome ("Declined" with its reason), newest
first; the latest HISTORY_LENGTH with "Show all"; a constant number of queries."""

import datetime
import re

import pytest
from django.urls import reverse

from tests.conftest import make_patient
from treatments.models import Appointment, CallOutcome
from treatments.services.history import HISTORY_LENGTH

# A Monday in the past: every visit and call is placed from it, never from today.
ANCHOR = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture
def desk_client(client, front_desk):
    client.force_login(front_desk)
    return client


def visit(patient, clinician, front_desk, weeks: int, status: str, **fields) -> Appointment:
    starts = ANCHOR + datetime.timedelta(weeks=weeks)
    return Appointment.objects.create(
        patient=patient, location=patient.location, clinician=clinician, booked_by=front_desk,
        starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), status=status,
        **fields,
    )  # fmt: skip


def call(patient, front_desk, weeks: int, outcome: str, **fields) -> CallOutcome:
    made = CallOutcome.objects.create(
        patient=patient, outcome=outcome, recorded_by=front_desk, **fields
    )
    at = ANCHOR + datetime.timedelta(weeks=weeks, hours=1)
    CallOutcome.objects.filter(pk=made.pk).update(recorded_at=at)
    return made


def history_rows(html: str) -> list[str]:
    """The history table's rows, in page order, as "visit:<pk>" or "call:<pk>"."""
    table = html.split('id="visit-history"')[1].split("</table>")[0]
    return [f"{kind}:{pk}" for kind, pk in re.findall(r'data-(visit|call)="(\d+)"', table)]


def test_the_patient_page_shows_every_visit_and_call_newest_first_with_their_reasons(
    desk_client, patient_a, clinician, front_desk
):
    # Given a year of visits in every state and calls, one of them declined
    fulfilled = visit(patient_a, clinician, front_desk, 0, "fulfilled")
    noshow = visit(patient_a, clinician, front_desk, 12, "noshow")
    declined = call(patient_a, front_desk, 13, "declined", note="Trying a CGRP antibody first")
    early = visit(patient_a, clinician, front_desk, 14, "fulfilled",
                  early_override_reason="Flying abroad for a month")  # fmt: skip
    cancelled = visit(patient_a, clinician, front_desk, 26, "cancelled", cancel_reason="Flu")
    later = call(patient_a, front_desk, 27, "call_back", call_back_on=datetime.date(2026, 9, 14))
    booked = visit(patient_a, clinician, front_desk, 30, "booked")
    # and another patient's visit, which is not hers
    other = make_patient(9, location=patient_a.location)
    visit(other, clinician, front_desk, 1, "cancelled", cancel_reason="Someone else's reason")

    # When the front desk opens her page
    html = desk_client.get(reverse("patients:detail", args=[patient_a.pk])).content.decode()

    # Then every visit and call is there, newest first
    assert history_rows(html) == [
        f"visit:{booked.pk}",
        f"call:{later.pk}",
        f"visit:{cancelled.pk}",
        f"visit:{early.pk}",
        f"call:{declined.pk}",
        f"visit:{noshow.pk}",
        f"visit:{fulfilled.pk}",
    ]
    # with the reasons and outcomes
    history = html.split('id="visit-history"')[1].split("</table>")[0]
    assert "Cancelled: Flu" in history
    assert "Booked before the earliest date: Flying abroad for a month" in history
    assert ">Declined</span>" in history
    assert "Reason: Trying a CGRP antibody first" in history
    assert "Call back on Mon 14 Sep 2026" in history
    for status in ("No-show", "Fulfilled", "Booked", "Cancelled"):
        assert f">{status}</span>" in history, status
    assert "Someone else" not in html
    # and each time is the clinic's (New York), named: 15:00 UTC in March is 10:00 EST
    assert "Mon 2 Mar 2026, 10:00 EST" in history
    assert "Show all" not in html


def test_a_long_history_shows_the_latest_and_a_link_to_all(
    desk_client, patient_a, clinician, front_desk
):
    for week in range(HISTORY_LENGTH):
        visit(patient_a, clinician, front_desk, 2 * week, "fulfilled")
        call(patient_a, front_desk, 2 * week, "unreachable")
    url = reverse("patients:detail", args=[patient_a.pk])

    latest = desk_client.get(url).content.decode()
    everything = desk_client.get(url, {"history": "all"}).content.decode()

    assert len(history_rows(latest)) == HISTORY_LENGTH
    assert history_rows(latest) == history_rows(everything)[:HISTORY_LENGTH]
    assert 'href="?history=all#history">Show all visits and calls</a>' in latest
    assert len(history_rows(everything)) == 2 * HISTORY_LENGTH
    assert "Show all" not in everything


@pytest.mark.parametrize("rows", [2, 40])
@pytest.mark.parametrize("query", [{}, {"history": "all"}])
def test_the_history_needs_the_same_queries_however_long(
    desk_client, patient_a, clinician, front_desk, rows, query, django_assert_max_num_queries
):
    for week in range(rows):
        visit(patient_a, clinician, front_desk, week, ("fulfilled", "cancelled")[week % 2],
              cancel_reason="Unwell" if week % 2 else "")  # fmt: skip
        call(patient_a, front_desk, week, ("declined", "unreachable")[week % 2], note="No")
    # the page's 11 (tests/patients/test_registry.py) and the history's visits and calls
    with django_assert_max_num_queries(13):
        response = desk_client.get(reverse("patients:detail", args=[patient_a.pk]), query)
    assert len(history_rows(response.content.decode())) == min(
        2 * rows, 2 * rows if query else HISTORY_LENGTH
    )


def test_a_patient_without_visits_or_calls_has_an_empty_history(desk_client, patient_a):
    html = desk_client.get(reverse("patients:detail", args=[patient_a.pk])).content.decode()
    assert "No visits or calls yet." in html
