"""The chart's one timeline (issue 18): medicines beside the Botox cycles and the diary windows,
and the response flags' note when a preventive changed inside the windows they judge."""

import datetime
import html

from django.urls import reverse

from patients import outcomes
from patients.models import DiaryEntry, PatientMedication
from tests.conftest import clinic_today
from treatments import timeline

DAY = datetime.timedelta(days=1)
START = datetime.date(2026, 1, 5)  # the pure functions' fixed history


class Day:
    def __init__(self, date, headache):
        self.date, self.headache = date, headache
        self.severity = 2 if headache else 0
        self.migraine = False
        self.acute_medication = "none"


def review_with(headache_days: int, *, cycles_from: datetime.date | None = None):
    """Three full windows from START, each with `headache_days`, against a baseline of 20."""
    entries = [Day(START + n * DAY, n % 28 < headache_days) for n in range(84)]
    return outcomes.response_review(
        entries, today=START + 83 * DAY, count=3, intake=20, second_session_on=cycles_from
    )


class Entry:
    def __init__(self, drug, started_on, stopped_on=None):
        self.drug, self.started_on, self.stopped_on = drug, started_on, stopped_on
        self.pk = id(self)


def test_a_preventive_started_inside_the_judged_windows_notes_the_flag():
    review = review_with(5)  # R15 and R16: 5 headache days in each of the 3 windows
    flags = review.flags(cycles_given=3)
    assert {flag.rule for flag in flags} == {"R15", "R16"}

    noted = timeline.with_confounders(
        flags, review, [Entry("erenumab", START + 30 * DAY), Entry("sumatriptan", START)]
    )

    for flag in noted:
        assert flag.message.endswith(
            "Note: A CGRP monoclonal antibody (Erenumab) was started on 2026-02-04: the change "
            "may not be Botox's alone."
        )
        assert "Sumatriptan" not in flag.message  # an acute medicine does not confound


def test_a_stop_inside_the_r14_review_window_notes_it_and_an_earlier_start_does_not():
    # cycle 2 on START - 1: the review window is the 28 days to START + 83
    review = review_with(18, cycles_from=START - DAY)
    [flag] = review.flags(cycles_given=2)
    assert flag.rule == "R14"
    entries = [
        Entry("topiramate", START - 400 * DAY, stopped_on=START + 70 * DAY),
        Entry("propranolol", START - 400 * DAY),  # started long before: no note
    ]

    [noted] = timeline.with_confounders([flag], review, entries)

    assert "An Antiepileptic (Topiramate) was stopped on 2026-03-16" in noted.message
    assert "Propranolol" not in noted.message


def test_a_flag_with_no_change_in_its_windows_is_left_as_it_is():
    review = review_with(5)
    flags = review.flags(cycles_given=3)
    assert timeline.with_confounders(flags, review, [Entry("erenumab", START - DAY)]) == flags


# --- on the chart -----------------------------------------------------------------------------


def test_the_chart_shows_medicines_on_the_timeline_and_notes_the_confounded_flag(
    client, clinician, patient_a
):
    # Given 3 full diary windows to today with 5 headache days each (R15, R16), and a CGRP
    # antibody started 30 days ago, beside an older preventive stopped long ago
    today = clinic_today()
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            patient=patient_a,
            date=today - n * DAY,
            headache=n % 28 < 5,
            hours=2 if n % 28 < 5 else 0,
            severity=2 if n % 28 < 5 else 0,
        )
        for n in range(84)
    )
    for drug, started, stopped, reason in (
        ("erenumab", today - 30 * DAY, None, ""),
        ("topiramate", today - 900 * DAY, today - 700 * DAY, "not_tolerated"),
    ):
        PatientMedication.objects.create(
            patient=patient_a,
            drug=drug,
            dose="70 mg monthly" if drug == "erenumab" else "",
            started_on=started,
            stopped_on=stopped,
            stop_reason=reason,
            recorded_by=clinician,
        )

    # When the clinician opens the chart
    client.force_login(clinician)
    response = client.get(reverse("treatments:chart", args=[patient_a.pk]))
    page = html.unescape(response.content.decode())

    # Then R15 says the antibody started inside its windows
    started = (today - 30 * DAY).isoformat()
    assert (
        f"Note: A CGRP monoclonal antibody (Erenumab) was started on {started}: the change may "
        "not be Botox's alone."
    ) in page
    # And the timeline draws the antibody (the topiramate stopped before it begins) and the
    # table lists both with their dates
    svg = page[page.index('id="timeline-svg"') : page.index("</svg>")]
    assert "Erenumab: from " in svg
    assert "Topiramate" not in svg
    table = page[
        page.index('id="medication-periods"') : page.index(
            "</table>", page.index('id="medication-periods"')
        )
    ]
    assert "Erenumab" in table
    assert "70 mg monthly" in table
    assert "taken now" in table
    assert "Topiramate" in table
    assert "(not tolerated)" in table


def test_the_timeline_puts_each_session_on_its_day():
    class Session:
        def __init__(self, day, cycle):
            self.session_date, self.cycle_number = day, cycle

    windows = outcomes.diary_windows([], START + 83 * DAY, 3)
    drawn = timeline.build_timeline(
        sessions=[Session(START, 1), Session(START + 84 * DAY - DAY, 2)],
        windows=windows,
        entries=[],
        today=START + 83 * DAY,
    )
    botox = drawn.rows[0]
    assert [bar.label for bar in botox.bars] == ["Cycle 1", "Cycle 2"]
    assert botox.bars[0].x == timeline.LABEL_WIDTH
    assert botox.bars[1].x < timeline.WIDTH
    assert [bar.label for bar in drawn.rows[1].bars] == ["insufficient data"] * 3
