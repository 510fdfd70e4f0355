"""The chart's one timeline (issue 18): the Botox sessions, the diary's 28-day windows and the
medication list's periods on one time axis, drawn as server-side SVG (no script: the CSP is
strict) and given as a table too; and the note a response flag (R14-R16) carries when a
preventive started or stopped inside the windows it judges. Pure functions over rows loaded
by the view."""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from patients import medications, outcomes

WIDTH = 720  # the SVG's user units; it scales to the page's width
LABEL_WIDTH = 170
ROW_HEIGHT = 22
AXIS_HEIGHT = 24


@dataclass(frozen=True)
class Bar:
    label: str
    start: datetime.date
    end: datetime.date  # inclusive
    x: float
    width: float
    css: str  # a class of static/css/cadence.css


@dataclass(frozen=True)
class Row:
    label: str
    y: float
    bars: list[Bar]


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class TimeScale:
    """Days from `start` to `end` (inclusive) on `width` user units from `left`: the time axis
    of the timeline and of the outcome charts (treatments/charts.py)."""

    start: datetime.date
    end: datetime.date
    left: float
    width: float

    @property
    def days(self) -> int:
        return max((self.end - self.start).days + 1, 1)

    def x_of(self, day: datetime.date) -> float:
        return self.left + self.width * (day - self.start).days / self.days

    def month_ticks(self, most: int = 8) -> list[Tick]:
        """The first of each month on the axis, labelled, no more than about `most` of them
        (every 2nd, 3rd ... month when there are more)."""
        ticks = []
        month = self.start.replace(day=1)
        while month <= self.end:
            if month >= self.start:
                ticks.append(Tick(round(self.x_of(month), 1), f"{month:%b %Y}"))
            month = (month + datetime.timedelta(days=32)).replace(day=1)
        if len(ticks) > most:
            step = -(-len(ticks) // most)
            ticks = ticks[::step]
        return ticks


@dataclass(frozen=True)
class Timeline:
    start: datetime.date
    end: datetime.date
    rows: list[Row]
    ticks: list[Tick]
    width: int = WIDTH
    label_width: int = LABEL_WIDTH

    @property
    def height(self) -> float:
        return AXIS_HEIGHT + ROW_HEIGHT * len(self.rows) + 4

    @property
    def plot_width(self) -> int:
        return self.width - self.label_width


def build_timeline(
    *,
    sessions: Sequence,  # signed sessions: session_date, cycle_number
    windows: Sequence[outcomes.DiarySummary],
    entries: Iterable,  # PatientMedication rows
    today: datetime.date,
) -> Timeline | None:
    """Sessions, windows and medication periods from the earliest of the first window and the
    first session to today; a period that ended before that is left out of the drawing (the
    list page has it). None when there is nothing to draw."""
    starts = [w.start for w in windows] + [s.session_date for s in sessions]
    if not starts:
        return None
    start = min(starts)
    scale = TimeScale(start=start, end=today, left=LABEL_WIDTH, width=WIDTH - LABEL_WIDTH)
    x_of, plot, days = scale.x_of, scale.width, scale.days

    def bar(label: str, first: datetime.date, last: datetime.date, css: str) -> Bar:
        first, last = max(first, start), min(last, today)
        x = x_of(first)
        return Bar(
            label, first, last, round(x, 1), round(max(x_of(last) - x + plot / days, 2), 1), css
        )

    rows: list[Row] = []

    def add(label: str, bars: list[Bar]) -> None:
        rows.append(Row(label, AXIS_HEIGHT + ROW_HEIGHT * len(rows), bars))

    add(
        "Botox sessions",
        [
            bar(f"Cycle {s.cycle_number}", s.session_date, s.session_date, "tl-session")
            for s in sessions
        ],
    )
    add(
        "Diary (28 days)",
        [
            bar(
                "insufficient data"
                if w.insufficient
                else f"{w.headache_days} headache days"
                + (", medication overuse" if w.overuses else ""),
                w.start,
                w.end,
                "tl-window-thin"
                if w.insufficient
                else ("tl-window-overuse" if w.overuses else "tl-window"),
            )
            for w in windows
        ],
    )
    for entry in sorted(entries, key=lambda e: (e.started_on, e.pk)):
        stopped = entry.stopped_on or today
        if stopped < start or entry.drug not in medications.DRUGS:
            continue
        drug = medications.DRUGS[entry.drug]
        css = "tl-preventive" if drug.is_preventive else f"tl-{drug.klass.role}"
        add(drug.name, [bar(_period_text(entry), entry.started_on, stopped, css)])
    ticks = scale.month_ticks()
    return Timeline(start=start, end=today, rows=rows, ticks=ticks)


def _period_text(entry) -> str:
    since = f"from {entry.started_on:%Y-%m-%d}"
    if entry.stopped_on is None:
        return f"{since}, taken now"
    return f"{since} to {entry.stopped_on:%Y-%m-%d} ({entry.get_stop_reason_display().lower()})"


def judged_span(
    rule: str, review: outcomes.ResponseReview
) -> tuple[datetime.date, datetime.date] | None:
    """The days a response flag judged: R14 its review window (or the latest window); R15 and
    R16 the last 3 windows."""
    windows = review.windows
    if rule == "R14":
        judged = review.review if review.review is not None else (windows[-1] if windows else None)
        return (judged.start, judged.end) if judged else None
    if rule in ("R15", "R16") and windows:
        last = windows[-outcomes.CONSECUTIVE_WINDOWS :]
        return last[0].start, last[-1].end
    return None


def confounders(span: tuple[datetime.date, datetime.date], entries: Iterable) -> list[str]:
    """Each start or stop of a preventive inside `span`, in words, oldest first."""
    first, last = span
    changes = []
    for entry in entries:
        drug = medications.DRUGS.get(entry.drug)
        if drug is None or not (drug.is_preventive and drug.klass.confounds_response):
            continue
        article = "an" if drug.klass.name[0].lower() in "aeiou" else "a"
        what = f"{article} {drug.klass.name} ({drug.name})"
        if first <= entry.started_on <= last:
            changes.append((entry.started_on, f"{what} was started on {entry.started_on:%Y-%m-%d}"))
        if entry.stopped_on is not None and first <= entry.stopped_on <= last:
            changes.append((entry.stopped_on, f"{what} was stopped on {entry.stopped_on:%Y-%m-%d}"))
    return [text for _day, text in sorted(changes)]


def with_confounders(
    flags: Sequence[outcomes.Flag], review: outcomes.ResponseReview, entries: Iterable
) -> list[outcomes.Flag]:
    """R14-R16 with a note when a preventive started or stopped in the windows they judged:
    "a CGRP monoclonal antibody (Erenumab) was started on ...: the change may not be Botox's
    alone"."""
    entries = list(entries)
    noted = []
    for flag in flags:
        span = judged_span(flag.rule, review)
        changes = confounders(span, entries) if span else []
        if changes:
            text = "; ".join(changes)
            flag = replace(
                flag,
                message=f"{flag.message} Note: {text[0].upper()}{text[1:]}: the change may not "
                "be Botox's alone.",
            )
        noted.append(flag)
    return noted
