"""Outcome measures: the headache diary per 28-day window, MIDAS and HIT-6 scoring, and the
response rules R14-R16. Constants and pure functions: no queries, no models (the rows they read
are passed in).

Sources (docs/clinical-rules.md, "Outcomes and scores" and "Response rules R14-R16"):
- MIDAS: Stewart WF, Lipton RB, et al. Development and testing of the Migraine Disability
  Assessment (MIDAS) Questionnaire. Neurology 2001;56(6 Suppl 1):S20-8. Five items, days in the
  last 3 months; grades I 0-5, II 6-10, III 11-20, IV >= 21.
- HIT-6: Kosinski M, et al. A six-item short-form survey for measuring headache impact: the
  HIT-6. Qual Life Res 2003;12:963-74 (HIT-6 v1.1, (c) QualityMetric). Answers score 6/8/10/11/13;
  bands <= 49, 50-55, 56-59, >= 60; a change of >= 5 points is meaningful (Smelt AF, et al.
  Cephalalgia 2014;34:29-36; Houts CR, et al. Headache 2020;60:28-39).
- Diary windows of 28 days, "insufficient data" below 20 entries [ours]; percent change vs
  baseline = (baseline - current) / baseline x 100.
- Baseline: the intake figure the clinician entered; without one, the diary's 28 days before
  cycle 1 if that window has enough entries (the same 20-entry threshold).
- R14: after cycle 2, < 30 % fewer headache days than baseline: stop criterion met (NICE TA260
  section 1.2; EHF 2018, Bendtsen L, et al. J Headache Pain 2018;19:91). Judged on the window
  that ends nearest the review: 12 weeks after cycle 2, when cycle 3 is due (as PREEMPT's
  endpoint, the 28 days to week 24), or today while that day is still ahead.
- R15: < 15 headache days a month for 3 consecutive months: now episodic (NICE TA260 1.2).
- R16: < 10 headache days a month for 3 months: suggest a pause and re-evaluate (EHF 2018).
  A 28-day window stands for a month, as in the trials' and NICE's diaries.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings

# --- MIDAS ---------------------------------------------------------------------------------

MIDAS_ITEMS = (
    "On how many days in the last 3 months did you miss work or school because of your headaches?",
    "How many days in the last 3 months was your productivity at work or school reduced by half "
    "or more because of your headaches? (Do not include days you counted in question 1 where you "
    "missed work or school.)",
    "On how many days in the last 3 months did you not do household work because of your "
    "headaches?",
    "How many days in the last 3 months was your productivity in household work reduced by half "
    "or more because of your headaches? (Do not include days you counted in question 3 where you "
    "did not do household work.)",
    "On how many days in the last 3 months did you miss family, social or leisure activities "
    "because of your headaches?",
)
MIDAS_MAX_DAYS = 92  # 3 months of recall
# (grade, lowest total, label)
MIDAS_GRADES = (
    ("I", 0, "little or no disability"),
    ("II", 6, "mild disability"),
    ("III", 11, "moderate disability"),
    ("IV", 21, "severe disability"),
)

# --- HIT-6 ---------------------------------------------------------------------------------

HIT6_ITEMS = (
    "When you have headaches, how often is the pain severe?",
    "How often do headaches limit your ability to do usual daily activities including household "
    "work, work, school, or social activities?",
    "When you have a headache, how often do you wish you could lie down?",
    "In the past 4 weeks, how often have you felt too tired to do work or daily activities "
    "because of your headaches?",
    "In the past 4 weeks, how often have you felt fed up or irritated because of your headaches?",
    "In the past 4 weeks, how often did headaches limit your ability to concentrate on work or "
    "daily activities?",
)
# (answer, label, points)
HIT6_ANSWERS = (
    ("never", "Never", 6),
    ("rarely", "Rarely", 8),
    ("sometimes", "Sometimes", 10),
    ("very_often", "Very often", 11),
    ("always", "Always", 13),
)
HIT6_POINTS = {answer: points for answer, _label, points in HIT6_ANSWERS}
# (band, lowest total, label)
HIT6_BANDS = (
    ("little", 36, "little or no impact"),
    ("some", 50, "some impact"),
    ("substantial", 56, "substantial impact"),
    ("severe", 60, "severe impact"),
)
HIT6_MEANINGFUL_CHANGE = 5

# --- the diary and the response rules --------------------------------------------------------

WINDOW_DAYS = 28
MIN_ENTRIES_PER_WINDOW = 20  # below this a window is "insufficient data" [ours]


def stop_min_reduction_percent() -> int:
    """R14's threshold [NICE, EHF: 30 %]: the setting RESPONSE_NICE_PERCENT, which the chart's
    and the continuation PDF's statement of the NICE criterion read too."""
    return settings.RESPONSE_NICE_PERCENT


STOP_REVIEW_AFTER_CYCLE = 2  # R14: the response review is after cycle 2 [NICE]
STOP_REVIEW_DAYS = 84  # R14: the review is 12 weeks after cycle 2, when cycle 3 is due [NICE]
EPISODIC_BELOW_DAYS = 15  # R15 [NICE]
PAUSE_BELOW_DAYS = 10  # R16 [EHF]
CONSECUTIVE_WINDOWS = 3  # R15, R16: "for 3 months"
QUESTIONNAIRE_LEAD_DAYS = 14  # asked for before each visit, within 14 days of it [ours]

# Medication overuse (ICHD-3 8.2; docs/clinical-rules.md), from the diary's acute medicine of
# each day (one class a day): in each of 3 consecutive 28-day windows,
# - >= 10 days of triptans, ergots, opioids or combination analgesics, or any mix of these
#   (8.2.1, 8.2.2, 8.2.4, 8.2.5);
# - or >= 15 days of simple analgesics or NSAIDs (8.2.3: one class, the non-opioid analgesics);
# - or >= 10 days in all when both groups are taken (8.2.6: "any combination of ergotamine,
#   triptans, simple analgesics, NSAIDs and/or opioids on a total of >= 10 days", no single
#   class overused): 9 triptan days and 1 ibuprofen day overuse; 14 ibuprofen days do not.
# Gepants and "other" do not count (ICHD-3 lists no overuse for them). A window with too few
# entries for R14-R16 still counts here: the days entered can only understate the use.
OVERUSE_TEN_DAY_CLASSES = frozenset({"triptan", "ergot", "opioid", "combination_analgesic"})
OVERUSE_FIFTEEN_DAY_CLASSES = frozenset({"simple_analgesic", "nsaid"})
OVERUSE_TEN_DAYS = 10
OVERUSE_FIFTEEN_DAYS = 15


class InvalidAnswers(ValueError):
    """Answers that are not a complete, valid questionnaire."""


def _band(bands, total: int) -> str:
    chosen = bands[0][0]
    for code, lowest, _label in bands:
        if total >= lowest:
            chosen = code
    return chosen


def score_midas(answers: Sequence[int]) -> tuple[int, str]:
    """The MIDAS total (sum of five items of 0-92 days) and its grade (I-IV)."""
    if len(answers) != len(MIDAS_ITEMS):
        raise InvalidAnswers(f"MIDAS has {len(MIDAS_ITEMS)} items.")
    for answer in answers:
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise InvalidAnswers("Each MIDAS answer is a whole number of days.")
        if not 0 <= answer <= MIDAS_MAX_DAYS:
            raise InvalidAnswers(f"Each MIDAS answer is 0 to {MIDAS_MAX_DAYS} days.")
    total = sum(answers)
    return total, _band(MIDAS_GRADES, total)


def hit6_points(answers: Sequence[str | int]) -> list[int]:
    """Each HIT-6 answer as its points: an answer name ("very_often") or its points (11)."""
    if len(answers) != len(HIT6_ITEMS):
        raise InvalidAnswers(f"HIT-6 has {len(HIT6_ITEMS)} items.")
    points = []
    for answer in answers:
        if isinstance(answer, str) and answer in HIT6_POINTS:
            points.append(HIT6_POINTS[answer])
        elif (
            isinstance(answer, int)
            and not isinstance(answer, bool)
            and answer in HIT6_POINTS.values()
        ):
            points.append(answer)
        else:
            raise InvalidAnswers(
                "Each HIT-6 answer is never, rarely, sometimes, very often or always."
            )
    return points


def score_hit6(answers: Sequence[str | int]) -> tuple[int, str]:
    """The HIT-6 total (36-78) and its impact band."""
    total = sum(hit6_points(answers))
    return total, _band(HIT6_BANDS, total)


def meaningful_hit6_change(before: int, after: int) -> bool:
    """A HIT-6 change of 5 points or more, in either direction, is clinically meaningful."""
    return abs(after - before) >= HIT6_MEANINGFUL_CHANGE


def band_label(kind: str, band: str) -> str:
    bands = MIDAS_GRADES if kind == "midas" else HIT6_BANDS
    for code, _lowest, label in bands:
        if code == band:
            return f"grade {code}, {label}" if kind == "midas" else label
    return band


@dataclass(frozen=True)
class DiarySummary:
    """One window of the diary."""

    start: datetime.date
    end: datetime.date  # inclusive
    days: int
    entries: int
    headache_days: int
    moderate_severe_days: int
    migraine_days: int
    medication_days: int
    baseline: int | None
    insufficient: bool
    # Medication overuse: days of the 10-day classes, and of the 15-day classes (ICHD-3 8.2)
    overuse_days: int = 0
    analgesic_days: int = 0

    @property
    def overuses(self) -> bool:
        """This window crosses ICHD-3's medication-overuse threshold (see OVERUSE_*)."""
        ten, fifteen = self.overuse_days, self.analgesic_days
        return (
            ten >= OVERUSE_TEN_DAYS
            or fifteen >= OVERUSE_FIFTEEN_DAYS
            or (ten > 0 and fifteen > 0 and ten + fifteen >= OVERUSE_TEN_DAYS)
        )

    @property
    def percent_change(self) -> Decimal | None:
        """(baseline - current) / baseline x 100: positive is fewer headache days. None without
        a baseline or with too few entries to count."""
        if self.insufficient or not self.baseline:
            return None
        return percent_change(self.baseline, self.headache_days)

    @property
    def change_text(self) -> str:
        """The percent change in words: "25 % fewer", "10 % more" or "no change"."""
        change = self.percent_change
        if not change:
            return "no change"
        return f"{abs(change)} % {'fewer' if change > 0 else 'more'}"


def percent_change(baseline: int, current: int) -> Decimal:
    return (Decimal(baseline - current) * 100 / Decimal(baseline)).quantize(Decimal("1"))


def diary_summary(
    entries: Iterable, start: datetime.date, days: int = WINDOW_DAYS, baseline: int | None = None
) -> DiarySummary:
    """Count the entries dated in [start, start + days) (other entries are ignored)."""
    end = start + datetime.timedelta(days=days - 1)
    inside = [e for e in entries if start <= e.date <= end]
    return DiarySummary(
        start=start,
        end=end,
        days=days,
        entries=len(inside),
        headache_days=sum(1 for e in inside if e.headache),
        moderate_severe_days=sum(1 for e in inside if e.headache and e.severity >= 2),
        migraine_days=sum(1 for e in inside if e.headache and e.migraine),
        medication_days=sum(1 for e in inside if e.acute_medication != "none"),
        overuse_days=sum(1 for e in inside if e.acute_medication in OVERUSE_TEN_DAY_CLASSES),
        analgesic_days=sum(1 for e in inside if e.acute_medication in OVERUSE_FIFTEEN_DAY_CLASSES),
        baseline=baseline,
        # Scaled for a shorter window, so a 28-day window needs 20 entries.
        insufficient=len(inside) * WINDOW_DAYS < MIN_ENTRIES_PER_WINDOW * days,
    )


def diary_windows(
    entries: Iterable, today: datetime.date, count: int, baseline: int | None = None
) -> list[DiarySummary]:
    """`count` consecutive 28-day windows ending today, oldest first."""
    entries = list(entries)
    first = today - datetime.timedelta(days=WINDOW_DAYS * count - 1)
    return [
        diary_summary(entries, first + datetime.timedelta(days=WINDOW_DAYS * i), baseline=baseline)
        for i in range(count)
    ]


def baseline_window(entries: Iterable, first_session_on: datetime.date) -> DiarySummary:
    """The diary's 28 days before cycle 1 (the day of cycle 1 not included)."""
    return diary_summary(entries, first_session_on - datetime.timedelta(days=WINDOW_DAYS))


def choose_baseline(
    intake: int | None, before_cycle_1: DiarySummary | None
) -> tuple[int | None, str]:
    """(headache days a month, where from): the intake figure the clinician entered, else the
    diary's 28 days before cycle 1 when that window has enough entries, else (None, "")."""
    if intake is not None:
        return intake, "intake"
    if before_cycle_1 is not None and not before_cycle_1.insufficient:
        return before_cycle_1.headache_days, "diary"
    return None, ""


def review_on(second_session_on: datetime.date, today: datetime.date) -> datetime.date:
    """The day R14's window ends: the review, 12 weeks after cycle 2, or today while that
    day is still ahead (no window ends in the future)."""
    return min(today, second_session_on + datetime.timedelta(days=STOP_REVIEW_DAYS))


@dataclass(frozen=True)
class ResponseReview:
    """What the chart shows of the diary, and what R14-R16 judge."""

    windows: list[DiarySummary]  # the last `count` windows to today, oldest first
    baseline: int | None
    baseline_source: str  # "intake", "diary" (the 28 days before cycle 1) or ""
    before_cycle_1: DiarySummary | None
    review: DiarySummary | None  # R14's window, once cycle 2 is given

    def flags(self, *, cycles_given: int) -> list["Flag"]:
        return response_flags(self.windows, cycles_given=cycles_given, review=self.review)


def response_review(
    entries: Iterable,
    *,
    today: datetime.date,
    count: int,
    intake: int | None,
    first_session_on: datetime.date | None = None,
    second_session_on: datetime.date | None = None,
) -> ResponseReview:
    """The windows to today, the baseline (intake, else the diary before cycle 1) and R14's
    review window, from the diary `entries` (which must cover those days)."""
    entries = list(entries)
    before = baseline_window(entries, first_session_on) if first_session_on else None
    baseline, source = choose_baseline(intake, before)
    review = None
    if second_session_on is not None:
        end = review_on(second_session_on, today)
        start = end - datetime.timedelta(days=WINDOW_DAYS - 1)
        review = diary_summary(entries, start, baseline=baseline)
    return ResponseReview(
        windows=diary_windows(entries, today, count, baseline=baseline),
        baseline=baseline,
        baseline_source=source,
        before_cycle_1=before,
        review=review,
    )


@dataclass(frozen=True)
class Flag:
    rule: str
    message: str


def response_flags(
    windows: Sequence[DiarySummary],
    *,
    cycles_given: int,
    review: DiarySummary | None = None,
) -> list[Flag]:
    """R14-R16 from windows oldest first; windows with insufficient data do not count.

    1. R14: once 2 cycles are given, the review window (`response_review`; without one, the
       latest window) shows less than a 30 % reduction. That window only: when it has too
       few entries R14 is not judged, rather than judged on an older window.
    2. R15 / R16: the last 3 windows all counted, all below 15 (or 10) headache days.
    """
    flags = []
    judged = review if review is not None else (windows[-1] if windows else None)
    change = judged.percent_change if judged is not None else None
    if (
        cycles_given >= STOP_REVIEW_AFTER_CYCLE
        and judged is not None
        and change is not None
        and change < stop_min_reduction_percent()
    ):
        flags.append(
            Flag(
                "R14",
                f"Stop criterion met after cycle 2: {judged.headache_days} headache days "
                f"in the 28 days to {judged.end:%Y-%m-%d} against a baseline of "
                f"{judged.baseline} ({change} % fewer; under {stop_min_reduction_percent()} %).",
            )
        )
    last = windows[-CONSECUTIVE_WINDOWS:]
    if len(last) == CONSECUTIVE_WINDOWS and not any(w.insufficient for w in last):
        if all(w.headache_days < EPISODIC_BELOW_DAYS for w in last):
            flags.append(
                Flag(
                    "R15",
                    f"Now episodic: fewer than {EPISODIC_BELOW_DAYS} headache days in each of "
                    f"the last {CONSECUTIVE_WINDOWS} windows.",
                )
            )
        if all(w.headache_days < PAUSE_BELOW_DAYS for w in last):
            flags.append(
                Flag(
                    "R16",
                    f"Fewer than {PAUSE_BELOW_DAYS} headache days in each of the last "
                    f"{CONSECUTIVE_WINDOWS} windows: suggest a pause; re-evaluate in 4-5 months.",
                )
            )
    return flags


def medication_overuse(windows: Sequence[DiarySummary]) -> Flag | None:
    """The overuse flag when each of the last 3 windows (oldest first) crosses the threshold
    (see OVERUSE_*): ICHD-3's "for more than 3 months", with the diary's windows."""
    last = windows[-CONSECUTIVE_WINDOWS:]
    if len(last) < CONSECUTIVE_WINDOWS or not all(w.overuses for w in last):
        return None
    counts = "; ".join(f"{w.start:%Y-%m-%d}: {w.overuse_days} + {w.analgesic_days}" for w in last)
    return Flag(
        "MOH",
        f"Medication overuse in each of the last {CONSECUTIVE_WINDOWS} windows (days of "
        f"triptans, ergots, opioids or combination analgesics + days of simple analgesics or "
        f"NSAIDs: {counts}). Treat the overuse: it mimics and causes chronic migraine.",
    )


def overuse_windows(entries: Iterable, today: datetime.date) -> Flag | None:
    """`medication_overuse` over the 3 windows to `today` of the diary `entries`."""
    return medication_overuse(diary_windows(entries, today, CONSECUTIVE_WINDOWS))


def questionnaires_due(
    visit_days: Iterable[datetime.date],
    answered: Iterable[tuple[str, datetime.date]],
    today: datetime.date,
    kinds: Sequence[str],
) -> list[str]:
    """Which of `kinds` are due today: the first visit within the next 14 days decides;
    a kind answered (kind, date) since 14 days before that visit is not due again."""
    lead = datetime.timedelta(days=QUESTIONNAIRE_LEAD_DAYS)
    visit_day = next((day for day in visit_days if today <= day <= today + lead), None)
    if visit_day is None:
        return []
    done = {kind for kind, answered_on in answered if answered_on >= visit_day - lead}
    return [kind for kind in kinds if kind not in done]


@dataclass(frozen=True)
class TimelineRow:
    date: datetime.date
    session: object = None  # a TreatmentSession
    midas: object = None  # a QuestionnaireResponse
    hit6: object = None
    hit6_change: int | None = None  # vs the previous HIT-6
    hit6_meaningful: bool = False


def outcome_timeline(sessions: Iterable, responses: Iterable) -> list[TimelineRow]:
    """Sessions and questionnaire scores on one time line, oldest first (a session sorts before
    the scores of its day; a MIDAS and a HIT-6 of one day share a row), each HIT-6 with its
    change from the one before."""
    rows = [TimelineRow(date=s.session_date, session=s) for s in sessions]
    scores: dict[datetime.date, TimelineRow] = {}
    previous_hit6 = None
    for response in sorted(responses, key=lambda r: (r.answered_on, r.pk)):
        row = scores.get(response.answered_on) or TimelineRow(date=response.answered_on)
        if response.kind == "hit6":
            change = None if previous_hit6 is None else response.total - previous_hit6
            row = replace(
                row,
                hit6=response,
                hit6_change=change,
                hit6_meaningful=change is not None
                and meaningful_hit6_change(previous_hit6, response.total),
            )
            previous_hit6 = response.total
        else:
            row = replace(row, midas=response)
        scores[response.answered_on] = row
    return sorted([*rows, *scores.values()], key=lambda row: (row.date, row.session is None))
