"""A patient's record as a readable PDF ("download my record" in the portal): who they are,
their visits, the injection sessions with their units and vial lots, the headache diary's
28-day figures, MIDAS and HIT-6 scores, side effects, and medicines.

`record_summary` reads everything in a constant number of queries (one per kind of record,
with its joins), whatever the record's size; `record_pdf` lays it out with ReportLab.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.utils import timezone
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer

from patients import outcomes
from patients.models import Patient
from treatments.models import AdverseEvent, Appointment, TreatmentSession
from treatments.pdf import BODY, H1, H2, build, paragraph, text
from treatments.pdf import table as grid

DIARY_WINDOWS_MAX = 13  # a year of 28-day windows


@dataclass
class RecordSummary:
    patient: Patient
    today: datetime.date
    visits: list[Appointment]
    sessions: list[TreatmentSession]
    diary: list[outcomes.DiarySummary]
    questionnaires: list
    adverse_events: list[AdverseEvent]
    medicines: list


def record_summary(patient: Patient, today: datetime.date) -> RecordSummary:
    """Everything the PDF shows, oldest first, each list in one query."""
    entries = list(patient.diary_entries.order_by("date"))
    diary: list[outcomes.DiarySummary] = []
    if entries:
        span = (today - entries[0].date).days + 1
        count = min(DIARY_WINDOWS_MAX, max(1, math.ceil(span / outcomes.WINDOW_DAYS)))
        diary = outcomes.diary_windows(entries, today, count)
    return RecordSummary(
        patient=patient,
        today=today,
        visits=list(patient.appointments.select_related("location").order_by("starts_at")),
        sessions=list(
            patient.sessions.signed()
            .select_related("location")
            .prefetch_related("vials__lot")
            .order_by("administered_at")
        ),
        diary=diary,
        questionnaires=list(patient.questionnaire_responses.order_by("answered_on", "pk")),
        adverse_events=list(
            patient.adverse_events.filter(dismissed_at__isnull=True)
            .select_related("session")
            .order_by("onset", "pk")
        ),
        medicines=list(patient.medications.order_by("started_on", "pk")),
    )


def _day(value: datetime.date | None) -> str:
    return value.strftime("%d %b %Y") if value else ""


def _local(when: datetime.datetime, location) -> str:
    zone = location.zone if location is not None else timezone.get_current_timezone()
    return timezone.localtime(when, zone).strftime("%d %b %Y %H:%M")


def record_pdf(summary: RecordSummary) -> bytes:
    """The summary as an A4 PDF (text, not images: screen readers and pdftotext read it)."""
    patient = summary.patient
    story: list = []

    def heading(title: str) -> None:
        story.append(Spacer(1, 2 * mm))
        story.append(paragraph(title, H2))

    def table(header: list[str], rows: list[list[str]], empty: str) -> None:
        story.append(grid(header, rows) if rows else paragraph(empty))

    story.append(paragraph("My treatment record", H1))
    facts = [
        ("Name", f"{patient.first_name} {patient.last_name}"),
        ("MRN", patient.mrn),
        ("Date of birth", _day(patient.date_of_birth)),
        ("Printed on", _day(summary.today)),
    ]
    for label, value in facts:
        story.append(Paragraph(f"<b>{text(label)}:</b> {text(value)}", BODY))

    heading("Visits")
    table(
        ["Date and time", "Place", "Kind", "Status"],
        [
            [
                _local(visit.starts_at, visit.location),
                visit.location.name,
                visit.get_kind_display(),
                visit.get_status_display(),
            ]
            for visit in summary.visits
        ],
        "No visits.",
    )

    heading("Injection sessions")
    table(
        ["Date", "Cycle", "Units given", "Units wasted", "Vial lots (expiry)"],
        [
            [
                _day(session.given_on),
                str(session.cycle_number),
                str(session.total_units),
                str(session.units_wasted),
                ", ".join(
                    f"{use.lot.lot_number} ({_day(use.lot.expiry)})" for use in session.vials.all()
                ),
            ]
            for session in summary.sessions
        ],
        "No injection sessions yet.",
    )

    heading("Headache diary, 28-day windows")
    table(
        ["From", "To", "Days recorded", "Headache days", "Migraine days", "Medication days"],
        [
            [
                _day(window.start),
                _day(window.end),
                str(window.entries),
                "too few entries" if window.insufficient else str(window.headache_days),
                "" if window.insufficient else str(window.migraine_days),
                "" if window.insufficient else str(window.medication_days),
            ]
            for window in summary.diary
        ],
        "No diary entries.",
    )

    heading("Questionnaires (MIDAS, HIT-6)")
    table(
        ["Date", "Questionnaire", "Score", "Meaning"],
        [
            [
                _day(response.answered_on),
                response.get_kind_display(),
                str(response.total),
                outcomes.band_label(response.kind, response.band),
            ]
            for response in summary.questionnaires
        ],
        "No questionnaires answered.",
    )

    heading("Side effects")
    table(
        ["Began", "Side effect", "Severity", "Serious", "Outcome", "After the session of"],
        [
            [
                _day(event.onset),
                event.get_term_display(),
                event.get_severity_display(),
                "yes" if event.serious else "no",
                event.get_outcome_display(),
                _day(event.session.given_on),
            ]
            for event in summary.adverse_events
        ],
        "No side effects recorded.",
    )

    heading("Medicines")
    table(
        ["Medicine", "Dose", "Started", "Stopped"],
        [
            [
                medicine.drug_name,
                medicine.dose,
                _day(medicine.started_on),
                _day(medicine.stopped_on),
            ]
            for medicine in summary.medicines
        ],
        "No medicines on the list.",
    )

    return build(story, title="My treatment record")
