"""The continuation-evidence PDF for a payer (issue 16): one or two pages of the figures the chart
page shows (treatments/charts.py `outcome_figures`, the same objects, so the numbers cannot
differ), drawn with ReportLab: pure-Python wheels, no system Pango or Cairo, and we need tables
and text, not HTML layout."""

import datetime
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer
from reportlab.platypus.flowables import KeepTogether

from patients import outcomes
from patients.models import Patient
from treatments.charts import OutcomeFigures
from treatments.pdf import BODY, H1, H2, build, paragraph, table, text

TITLE = "Continuation evidence: onabotulinumtoxinA (Botox) for chronic migraine"


def _score(response: Any) -> str:
    """A QuestionnaireResponse as "62 (severe impact)"; "" for none."""
    return f"{response.total} ({response.band_label})" if response is not None else ""


def continuation_pdf(
    *, patient: Patient, figures: OutcomeFigures, prepared_on: datetime.date, clinician: str
) -> bytes:
    """The PDF's bytes: who, the baseline and each window, the criteria and R14-R16, MIDAS and
    HIT-6, the sessions given and the adverse events."""
    review = figures.review
    story: list = [Paragraph(text(TITLE), H1)]
    diagnosis = patient.get_diagnosis_code_display() if patient.diagnosis_code else "not recorded"
    story.append(
        table(
            ["Patient", "MRN", "Date of birth", "Diagnosis (ICD-10-CM)"],
            [[patient.full_name, patient.mrn, f"{patient.date_of_birth:%Y-%m-%d}", diagnosis]],
            [45, 25, 25, 85],
        )
    )
    story.append(
        paragraph(f"Prepared on {prepared_on:%Y-%m-%d} by {clinician} from the clinic's records.")
    )

    story.append(Paragraph("Response", H2))
    if review.baseline is None:
        baseline = "Baseline: not known (no intake figure and too few diary days before cycle 1)."
    else:
        source = (
            "the diary's 28 days before cycle 1"
            if review.baseline_source == "diary"
            else "the intake figure"
        )
        migraine = (
            f", {patient.baseline_migraine_days} migraine days"
            if review.baseline_source == "intake" and patient.baseline_migraine_days is not None
            else (
                f", {review.before_cycle_1.migraine_days} migraine days"
                if review.baseline_source == "diary" and review.before_cycle_1 is not None
                else ""
            )
        )
        baseline = f"Baseline: {review.baseline} headache days a month{migraine} ({source})."
    story.append(paragraph(baseline))
    for criterion in figures.criteria:
        story.append(Paragraph(f"<b>{text(criterion.statement)}</b>", BODY))
    if figures.headache_chart is not None:
        chart = figures.headache_chart
        story.append(Spacer(1, 2 * mm))
        story.append(
            table(
                ["28-day window", "Days entered", "Headache days", "Migraine days", "Change"],
                chart.table_rows,
                [50, 25, 30, 30, 45],
            )
        )
    story.append(Paragraph("Rules R14-R16 (response flags)", H2))
    if figures.flags:
        for flag in figures.flags:
            story.append(paragraph(f"{flag.rule}: {flag.message}"))
    else:
        story.append(
            paragraph(
                f"None raised: R14 (under {outcomes.stop_min_reduction_percent()} % fewer headache "
                f"days after cycle {outcomes.STOP_REVIEW_AFTER_CYCLE}), R15 (under "
                f"{outcomes.EPISODIC_BELOW_DAYS} headache days in each of the last "
                f"{outcomes.CONSECUTIVE_WINDOWS} windows) and R16 (under "
                f"{outcomes.PAUSE_BELOW_DAYS}) are not met."
            )
        )
    if figures.overuse_flag is not None:
        story.append(paragraph(f"Medication overuse: {figures.overuse_flag.message}"))

    story.append(Paragraph("MIDAS and HIT-6", H2))
    scores = [row for row in figures.outcome_timeline if row.midas or row.hit6]
    if scores:
        story.append(
            table(
                ["Date", "MIDAS", "HIT-6"],
                [
                    [
                        f"{row.date:%Y-%m-%d}",
                        _score(row.midas),
                        _score(row.hit6),
                    ]
                    for row in scores
                ],
                [30, 75, 75],
            )
        )
    else:
        story.append(paragraph("No MIDAS or HIT-6 answered."))

    story.append(Paragraph("Sessions given", H2))
    if figures.signed:
        story.append(
            table(
                ["Date", "Cycle", "Total units", "Wasted", "Lot numbers"],
                [
                    [
                        f"{s.session_date:%Y-%m-%d}",
                        s.cycle_number,
                        f"{s.total_units} U",
                        f"{s.units_wasted} U",
                        ", ".join(use.lot.lot_number for use in s.vials.all()) or "-",
                    ]
                    for s in figures.signed
                ],
                [30, 20, 30, 25, 75],
            )
        )
    else:
        story.append(paragraph("No signed session."))

    events = [
        (s, e) for s in figures.signed for e in s.adverse_events.all() if e.dismissed_at is None
    ]
    story.append(Paragraph("Adverse events", H2))
    if events:
        story.append(
            table(
                ["Session", "Event", "Onset", "Severity", "Serious", "Outcome"],
                [
                    [
                        f"{s.session_date:%Y-%m-%d}",
                        e.get_term_display()
                        + (" (patient's report, not yet reviewed)" if e.awaits_review else ""),
                        f"{e.onset:%Y-%m-%d}",
                        e.get_severity_display(),
                        "yes" if e.serious else "no",
                        e.get_outcome_display(),
                    ]
                    for s, e in events
                ],
                [25, 50, 25, 25, 20, 35],
            )
        )
    else:
        story.append(paragraph("None recorded."))
    story.append(KeepTogether([Spacer(1, 4 * mm), paragraph("Signed: ______________________")]))

    return build(story, title=TITLE, on_page=_footer)


def _footer(canvas, document) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 7)
    canvas.drawString(15 * mm, 8 * mm, f"{TITLE}. Page {document.page}.")
    canvas.restoreState()
