"""Every paged staff list has one footer (templates/_pages.html) and one helper
(clinic.paging.page_of): the links keep the list's filters, escaped, and no `?page=` (nor any
other query parameter) makes a list fail."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import make_patient, make_reminders
from treatments.models import TreatmentCourse

HOSTILE_PAGES = {
    # what ?page= says: the page shown (1: the first, -1: the last)
    "abc": 1,
    "": 1,
    "1.5": 1,
    "²": 1,
    "1" * 5000: 1,  # more digits than int() accepts
    "-1": -1,
    "0": -1,
    "99999999999999999999": -1,
    "2": 2,
}


def failed_reminders(count: int) -> None:
    make_reminders(
        [make_patient(1)] * count,
        due_at=timezone.now(),
        each_earlier_by=datetime.timedelta(hours=1),
        status="failed",
    )


def due_patients(count: int, location) -> None:
    """`count` patients whose next session was due a week ago, none booked."""
    last = timezone.localdate() - datetime.timedelta(days=84 + 7)
    for number in range(count):
        patient = make_patient(100 + number, location=location)
        TreatmentCourse.objects.create(patient=patient, started_on=last, last_session_on=last)


def footer(html: str) -> str:
    start = html.index('<nav aria-label="Pages of the list">')
    return html[start : html.index("</nav>", start)]


@pytest.mark.parametrize(("asked", "shown"), HOSTILE_PAGES.items(), ids=lambda v: str(v)[:24])
def test_any_page_number_shows_the_first_the_last_or_the_page_asked(
    client, front_desk, asked, shown
):
    failed_reminders(120)  # three pages
    client.force_login(front_desk)
    response = client.get(reverse("treatments:reminder_list"), {"page": asked})
    assert response.status_code == 200
    page = response.context["page_obj"]
    assert page.number == (3 if shown == -1 else shown)
    assert f"Page {page.number} of 3" in footer(response.content.decode())


def test_the_due_list_footer_keeps_the_filters_and_escapes_the_query(client, front_desk, location):
    due_patients(51, location)
    client.force_login(front_desk)
    hostile = '"><script>alert(1)</script>'
    response = client.get(
        reverse("treatments:due_list"), {"location": location.pk, "weeks": "4", "x": hostile}
    )
    assert response.status_code == 200
    assert response.context["page_obj"].paginator.num_pages == 2
    nav = footer(response.content.decode())
    (href,) = re.findall(r'rel="next" href="([^"]*)"', nav)
    escaped = "%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
    assert href == f"?location={location.pk}&amp;weeks=4&amp;x={escaped}&amp;page=2"
    assert "<script>" not in nav
    second = client.get(f"{reverse('treatments:due_list')}{href.replace('&amp;', '&')}")
    assert len(second.context["entries"]) == 1
    (back,) = re.findall(r'rel="prev" href="([^"]*)"', footer(second.content.decode()))
    assert back.endswith("&amp;page=1")
    assert f"location={location.pk}&amp;weeks=4" in back


@pytest.mark.parametrize("hostile", ["²", "1" * 5000, "-1", "abc", "0"], ids=lambda v: v[:24])
def test_hostile_filters_on_the_due_list_show_the_list_unfiltered(
    client, front_desk, location, hostile
):
    due_patients(2, location)
    client.force_login(front_desk)
    response = client.get(
        reverse("treatments:due_list"),
        {"location": hostile, "clinician": hostile, "weeks": hostile, "page": hostile},
    )
    assert response.status_code == 200
    assert response.context["page_obj"].paginator.count == 2


def test_the_three_paged_lists_share_the_footer(client, front_desk, location):
    failed_reminders(51)
    due_patients(51, location)
    client.force_login(front_desk)
    for name in ("treatments:reminder_list", "treatments:due_list", "patients:list"):
        html = client.get(reverse(name)).content.decode()
        assert 'rel="next" href="?page=2"' in footer(html), name
        assert html.count('aria-label="Pages of the list"') == 1, name


@pytest.mark.parametrize("hostile", ["²", "1" * 5000, "99999999999999999999"], ids=lambda v: v[:24])
def test_hostile_filters_on_the_calendar_show_it_unfiltered(client, front_desk, location, hostile):
    client.force_login(front_desk)
    response = client.get(
        reverse("treatments:calendar"), {"location": hostile, "clinician": hostile}
    )
    assert response.status_code == 200
    assert response.context["clinician"] is None
