"""Outcome figures (issue 16): the numbers the chart page, the portal's "My progress" page and
the continuation-evidence PDF show, built once here from the rows the caller loaded, and the
charts drawn from them as server-side SVG (no script; the CSP is strict, so colours are classes
of static/css/cadence.css or SVG presentation attributes, never style attributes).

1. `chart_patients(user)`: the patients `user` may see, with what the figures read loaded.
2. `outcome_figures(...)`: the diary's windows against the baseline, R14-R16, the criteria of
   response (NICE >= 30 %, payers' >= 50 %: settings), MIDAS and HIT-6 over time, and the
   three charts. Pure: no queries beyond the rows loaded by `chart_patients`.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch

from clinic.models import User
from patients import outcomes
from patients.models import Patient, PatientQuerySet
from treatments import timeline
from treatments.models import TreatmentSession

CHART_WINDOWS = 6  # 28-day windows of the diary on the chart: about six months

WIDTH = 720  # the SVG's user units; it scales to the page's width
HEIGHT = 240
LEFT = 44  # room for the y axis's labels
RIGHT = 12
TOP = 22  # room for the session markers' labels
BOTTOM = 28  # room for the month labels


def chart_patients(user: User, *, clinical: bool = True) -> PatientQuerySet:
    """The patients `user` may see, with the diary's recent windows, every questionnaire and
    the charted sessions (oldest first) loaded; `clinical` adds what only staff pages show
    (each session's sites, lots and adverse events, and the medication list). A constant
    number of queries, whatever the history."""
    sessions = TreatmentSession.objects.for_chart()
    if not clinical:  # the portal: the sessions' dates and cycles mark the charts
        sessions = (
            TreatmentSession.objects.charted()
            .select_related("location")
            .order_by("administered_at")
        )
    patients = (
        Patient.objects.for_user(user)
        .select_related("location")
        .with_outcomes(windows=CHART_WINDOWS)
    )
    if not clinical:
        return patients.prefetch_related(Prefetch("sessions", queryset=sessions))
    return patients.prefetch_related(Prefetch("sessions", queryset=sessions), "medications")


# --- the drawing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # the point's <title>: its value in words


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # a class of static/css/cadence.css
    points: list[Point]
    lines: list[str]  # <polyline points="...">: one per run of consecutive counted values


@dataclass(frozen=True)
class Rule:
    """A horizontal line: the baseline, or a band's lower threshold."""

    y: float
    label: str
    css: str


@dataclass(frozen=True)
class Marker:
    """A vertical line on the time axis: a session given."""

    x: float
    label: str
    title: str


@dataclass(frozen=True)
class Gap:
    """A window with too few diary entries: shown as such, never as zero."""

    x: float
    width: float
    label: str


@dataclass(frozen=True)
class YTick:
    y: float
    label: str


@dataclass(frozen=True)
class LineChart:
    slug: str  # the element ids' stem
    title: str
    description: str
    x_ticks: list[timeline.Tick]
    y_ticks: list[YTick]
    series: list[Series]
    rules: list[Rule] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    table_head: list[str] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP

    @property
    def right(self) -> int:
        return self.width - RIGHT

    @property
    def bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def plot_height(self) -> int:
        return self.bottom - self.top


def _y_scale(low: int, high: int):
    def y_of(value: float) -> float:
        return round(HEIGHT - BOTTOM - (HEIGHT - BOTTOM - TOP) * (value - low) / (high - low), 1)

    return y_of


def _series(name: str, css: str, values: Sequence[tuple[float, float | None, str]], y_of):
    """(x, value or None, label) in time order: points, and lines broken at each None."""
    points: list[Point] = []
    lines: list[str] = []
    run: list[str] = []
    for x, value, label in values:
        if value is None:
            if len(run) > 1:
                lines.append(" ".join(run))
            run = []
            continue
        point = Point(round(x, 1), y_of(value), label)
        points.append(point)
        run.append(f"{point.x},{point.y}")
    if len(run) > 1:
        lines.append(" ".join(run))
    return Series(name, css, points, lines)


def _markers(scale: timeline.TimeScale, sessions: Iterable) -> list[Marker]:
    return [
        Marker(
            round(scale.x_of(s.session_date), 1),
            f"C{s.cycle_number}",
            f"Cycle {s.cycle_number} given on {s.session_date:%Y-%m-%d} ({s.total_units} U)",
        )
        for s in sessions
        if scale.start <= s.session_date <= scale.end
    ]


def _days(value: int) -> str:
    return f"{value} day" if value == 1 else f"{value} days"


def change_words(window: outcomes.DiarySummary) -> str:
    """The window's change against the baseline for a table cell."""
    if window.insufficient:
        return "insufficient data"
    if window.percent_change is None:
        return "no baseline"
    return window.change_text


def headache_chart(
    windows: Sequence[outcomes.DiarySummary], baseline: int | None, sessions: Sequence
) -> LineChart | None:
    """Headache and migraine days per 28-day window (each at its middle) against the baseline,
    with each signed session marked; a window with too few entries is a grey band."""
    if not windows:
        return None
    scale = timeline.TimeScale(
        start=windows[0].start, end=windows[-1].end, left=LEFT, width=WIDTH - LEFT - RIGHT
    )
    half = scale.width * outcomes.WINDOW_DAYS / scale.days / 2
    y_of = _y_scale(0, outcomes.WINDOW_DAYS)
    middles = [scale.x_of(w.start) + half for w in windows]

    def values(attribute: str, noun: str):
        return [
            (
                x,
                None if w.insufficient else getattr(w, attribute),
                f"{w.start:%Y-%m-%d} to {w.end:%Y-%m-%d}: "
                f"{_days(getattr(w, attribute))} with {noun}",
            )
            for x, w in zip(middles, windows, strict=True)
        ]

    return LineChart(
        slug="headache-chart",
        title="Headache and migraine days per 28-day window",
        description=(
            "Each point is one 28-day window of the diary; "
            + (f"the dashed line is the baseline of {baseline} headache days; " if baseline else "")
            + "vertical lines mark the sessions given; grey bands are windows with too few "
            "diary entries to count."
        ),
        x_ticks=scale.month_ticks(),
        y_ticks=[YTick(y_of(v), str(v)) for v in range(0, outcomes.WINDOW_DAYS + 1, 7)],
        series=[
            _series("Headache days", "chart-headache", values("headache_days", "headache"), y_of),
            _series("Migraine days", "chart-migraine", values("migraine_days", "migraine"), y_of),
        ],
        rules=[Rule(y_of(baseline), f"baseline {baseline}", "chart-baseline")]
        if baseline is not None
        else [],
        markers=_markers(scale, sessions),
        gaps=[
            Gap(
                round(scale.x_of(w.start), 1),
                round(2 * half, 1),
                f"{w.start:%Y-%m-%d} to {w.end:%Y-%m-%d}: insufficient data "
                f"({w.entries} of {w.days} days entered)",
            )
            for w in windows
            if w.insufficient
        ],
        table_head=["Window", "Days entered", "Headache days", "Migraine days", "Change"],
        table_rows=[
            [
                f"{w.start:%Y-%m-%d} to {w.end:%Y-%m-%d}",
                f"{w.entries} of {w.days}",
                *(
                    ["insufficient data", "insufficient data"]
                    if w.insufficient
                    else [str(w.headache_days), str(w.migraine_days)]
                ),
                change_words(w),
            ]
            for w in windows
        ],
    )


# The y axis of each score: its range and its bands' lower thresholds (patients/outcomes.py).
SCORES = {
    "hit6": ("HIT-6", 36, 78, outcomes.HIT6_BANDS),
    "midas": ("MIDAS", 0, 60, outcomes.MIDAS_GRADES),
}


def score_chart(
    kind: str, responses: Sequence, scale: timeline.TimeScale, sessions: Sequence
) -> LineChart | None:
    """One questionnaire's totals over time with its bands' thresholds (MIDAS's axis grows
    past 60 when a total does)."""
    mine = [r for r in responses if r.kind == kind]
    if not mine:
        return None
    name, low, high, bands = SCORES[kind]
    high = max(high, *(-(-r.total // 10) * 10 for r in mine))
    y_of = _y_scale(low, high)
    step = 10 if high - low <= 60 else 20
    return LineChart(
        slug=f"{kind}-chart",
        title=f"{name} totals over time",
        description=(
            f"Each point is one {name} answered; the dotted lines are the lower edges of its "
            "bands; vertical lines mark the sessions given."
        ),
        x_ticks=scale.month_ticks(),
        y_ticks=[YTick(y_of(v), str(v)) for v in range(low - low % 10, high + 1, step) if v >= low],
        series=[
            _series(
                name,
                f"chart-{kind}",
                [
                    (
                        scale.x_of(r.answered_on),
                        r.total,
                        f"{r.answered_on:%Y-%m-%d}: {name} {r.total} ({r.band_label})",
                    )
                    for r in mine
                ],
                y_of,
            )
        ],
        rules=[
            Rule(y_of(lowest), f"{lowest}: {outcomes.band_label(kind, code)}", "chart-band")
            for code, lowest, _label in bands[1:]
        ],
        markers=_markers(scale, sessions),
        table_head=["Date", name, "Band" if kind == "hit6" else "Grade"],
        table_rows=[[f"{r.answered_on:%Y-%m-%d}", str(r.total), r.band_label] for r in mine],
    )


# --- the figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """A response criterion on the judged window: met, not met, or not judged (None)."""

    name: str
    threshold: int
    met: bool | None
    statement: str


@dataclass(frozen=True)
class OutcomeFigures:
    review: outcomes.ResponseReview
    signed: list  # signed sessions, oldest first
    flags: list[outcomes.Flag]  # R14-R16, with their confounders noted
    overuse_flag: outcomes.Flag | None
    outcome_timeline: list[outcomes.TimelineRow]
    judged: outcomes.DiarySummary | None  # the window the criteria judge (as R14)
    criteria: list[Criterion]
    headache_chart: LineChart | None
    hit6_chart: LineChart | None
    midas_chart: LineChart | None

    @property
    def windows(self) -> list[outcomes.DiarySummary]:
        return self.review.windows

    @property
    def charts(self) -> list[LineChart]:
        return [c for c in (self.headache_chart, self.hit6_chart, self.midas_chart) if c]


def first_cycles(sessions: Iterable) -> dict[str, datetime.date]:
    """The local dates of cycles 1 and 2 of the latest course given (signed sessions)."""
    signed = [s for s in sessions if s.is_signed]
    course = max(signed, key=lambda s: s.administered_at).course_id if signed else None
    cycles = {s.cycle_number: s.session_date for s in signed if s.course_id == course}
    names = {1: "first_session_on", 2: "second_session_on"}
    return {name: cycles[number] for number, name in names.items() if number in cycles}


def criteria(judged: outcomes.DiarySummary | None) -> list[Criterion]:
    """NICE's (>= 30 % fewer headache days; RESPONSE_NICE_PERCENT) and the payers' (>= 50 %;
    RESPONSE_PAYER_PERCENT) criteria on the judged window, in a sentence each."""
    change: Decimal | None = judged.percent_change if judged is not None else None
    found = []
    for name, threshold in (
        ("NICE", settings.RESPONSE_NICE_PERCENT),
        (f"{settings.RESPONSE_PAYER_PERCENT} %", settings.RESPONSE_PAYER_PERCENT),
    ):
        label = f"{name} criterion (at least {threshold} % fewer headache days than baseline)"
        if judged is None or change is None:
            why = (
                "no diary window"
                if judged is None
                else (
                    "too few diary entries in the window" if judged.insufficient else "no baseline"
                )
            )
            found.append(Criterion(name, threshold, None, f"{label}: cannot be judged ({why})."))
            continue
        met = change >= threshold
        found.append(
            Criterion(
                name,
                threshold,
                met,
                f"{label}: {'MET' if met else 'NOT MET'}: {judged.headache_days} headache days "
                f"in the 28 days {judged.start:%Y-%m-%d} to {judged.end:%Y-%m-%d} against a "
                f"baseline of {judged.baseline} ({judged.change_text}).",
            )
        )
    return found


def outcome_figures(
    *, patient: Patient, sessions: Sequence, medications: Iterable = ()
) -> OutcomeFigures:
    """The figures of `patient` (from `chart_patients`): `sessions` are their charted sessions
    oldest first, `medications` their medication list (for R14-R16's confounder notes).

    1. The response review: the last CHART_WINDOWS windows to the patient's today, the
       baseline (intake, else the diary's 28 days before cycle 1) and R14's review window.
    2. R14-R16 and the overuse flag, as the chart has always shown them.
    3. The criteria on the latest window with enough diary entries: the response now, which
       is what a payer renewing asks (R14 keeps judging its own review window).
    4. The charts: the diary windows, and HIT-6 and MIDAS from the earliest of the first
       window and the first answer to today.
    """
    signed = [s for s in sessions if s.is_signed]
    review = patient.response_review(CHART_WINDOWS, **first_cycles(sessions))
    medications = list(medications)
    flags = review.flags(cycles_given=len(signed))
    counted = [w for w in review.windows if not w.insufficient]
    judged = counted[-1] if counted else review.windows[-1]
    responses = list(patient.questionnaire_responses.all())
    today = patient.local_today()
    start = min([review.windows[0].start, *(r.answered_on for r in responses)])
    scale = timeline.TimeScale(start=start, end=today, left=LEFT, width=WIDTH - LEFT - RIGHT)
    return OutcomeFigures(
        review=review,
        signed=signed,
        flags=timeline.with_confounders(flags, review, medications),
        overuse_flag=outcomes.medication_overuse(review.windows),
        outcome_timeline=outcomes.outcome_timeline(
            [s for s in sessions if not s.is_voided], responses
        ),
        judged=judged,
        criteria=criteria(judged),
        headache_chart=headache_chart(review.windows, review.baseline, signed),
        hit6_chart=score_chart("hit6", responses, scale, signed),
        midas_chart=score_chart("midas", responses, scale, signed),
    )
