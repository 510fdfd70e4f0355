import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from clinic.models import User
from patients import medications, outcomes
from patients.models import (
    ContactConsent,
    DiaryEntry,
    MedicationReport,
    Patient,
    PatientMedication,
    QuestionnaireResponse,
    StopReason,
)


@transaction.atomic
def record_consent(
    *, patient: Patient, channel: str, granted: bool, source: str, recorded_by: User | None
) -> ContactConsent:
    """Append a consent change for one channel; the latest row is the patient's current state."""
    return ContactConsent.objects.create(
        patient=patient, channel=channel, granted=granted, source=source, recorded_by=recorded_by
    )


@transaction.atomic
def record_diary_entry(
    *,
    patient: Patient,
    date: datetime.date,
    headache: bool,
    hours: Decimal | int = 0,
    severity: int = 0,
    migraine: bool = False,
    acute_medication: str = "none",
) -> DiaryEntry:
    """Create or replace the patient's diary entry for `date` (one entry per day).

    A day without headache keeps no hours, severity or migraine features, whatever was sent:
    the form hides those fields then, and a value left in them is not the patient's answer.
    """
    if not headache:
        hours, severity, migraine = 0, 0, False
    entry, _created = DiaryEntry.objects.update_or_create(
        patient=patient,
        date=date,
        defaults={
            "headache": headache,
            "hours": hours,
            "severity": severity,
            "migraine": migraine,
            "acute_medication": acute_medication,
        },
    )
    return entry


@transaction.atomic
def record_questionnaire(
    *, patient: Patient, kind: str, answers: list, answered_on: datetime.date
) -> QuestionnaireResponse:
    """Score a completed MIDAS or HIT-6 and store it (raises outcomes.InvalidAnswers).

    HIT-6 answers may be answer names ("very_often"); they are stored as points.
    """
    if kind == QuestionnaireResponse.Kind.MIDAS:
        stored = list(answers)
        total, band = outcomes.score_midas(stored)
    elif kind == QuestionnaireResponse.Kind.HIT6:
        stored = outcomes.hit6_points(answers)
        total, band = outcomes.score_hit6(stored)
    else:
        raise outcomes.InvalidAnswers(f"Unknown questionnaire {kind!r}.")
    return QuestionnaireResponse.objects.create(
        patient=patient,
        kind=kind,
        answers=stored,
        total=total,
        band=band,
        answered_on=answered_on,
    )


# --- the medication list -------------------------------------------------------------------


class MedicationError(ValueError):
    """A medication write refused; `field` names the form field it belongs to ("" for none)."""

    def __init__(self, message: str, field: str = ""):
        self.field = field
        super().__init__(message)


def _lock_patient(patient: Patient) -> None:
    """Writes to one patient's list and reports queue behind each other (a report confirmed
    twice at once, an entry stopped while it is edited)."""
    Patient.objects.select_for_update().values_list("pk", flat=True).get(pk=patient.pk)


def _check_period(
    *,
    patient: Patient,
    drug: str,
    started_on: datetime.date,
    stopped_on: datetime.date | None,
    stop_reason: str,
) -> None:
    """The rules of one entry, also held by the database's constraints (the forms repeat
    them with friendlier words)."""
    if drug not in medications.DRUGS:
        raise MedicationError("Choose a medicine from the list.", "drug")
    today = patient.local_today()
    if started_on > today:
        raise MedicationError("The start cannot be in the future.", "started_on")
    if stopped_on is not None and stopped_on > today:
        raise MedicationError("The stop cannot be in the future.", "stopped_on")
    if stopped_on is not None and stopped_on < started_on:
        raise MedicationError("It cannot stop before it started.", "stopped_on")
    if stopped_on is None and stop_reason:
        raise MedicationError("A reason is given only when it stopped.", "stop_reason")
    if stopped_on is not None and stop_reason not in StopReason.values:
        raise MedicationError("Say why it stopped.", "stop_reason")


@transaction.atomic
def save_medication(
    *,
    patient: Patient,
    recorded_by: User,
    drug: str,
    started_on: datetime.date,
    dose: str = "",
    stopped_on: datetime.date | None = None,
    stop_reason: str = "",
    note: str = "",
    entry: PatientMedication | None = None,
) -> PatientMedication:
    """Add an entry to the patient's medication list, or change one (`entry`, which must be
    theirs): a clinician's write. Raises MedicationError.

    1. Lock the patient's row.
    2. Check the period: a drug of the catalogue, no future date, stopped on or after the
       start, a reason exactly when stopped.
    3. Write the row (the database's constraints hold the same rules).
    """
    _lock_patient(patient)
    _check_period(
        patient=patient,
        drug=drug,
        started_on=started_on,
        stopped_on=stopped_on,
        stop_reason=stop_reason,
    )
    if entry is None:
        entry = PatientMedication(patient=patient, recorded_by=recorded_by)
    elif entry.patient_id != patient.pk:
        raise MedicationError("This entry is another patient's.")
    entry.drug = drug
    entry.dose = dose.strip()
    entry.started_on = started_on
    entry.stopped_on = stopped_on
    entry.stop_reason = stop_reason if stopped_on else ""
    entry.note = note.strip()
    entry.save()
    return entry


@transaction.atomic
def report_medication(
    *, patient: Patient, kind: str, drug: str, on: datetime.date, note: str = ""
) -> MedicationReport:
    """A patient's "I started / stopped ..." from the portal, waiting for a clinician."""
    if kind not in MedicationReport.Kind.values:
        raise MedicationError("Say whether you started or stopped it.", "kind")
    if drug not in medications.DRUGS:
        raise MedicationError("Choose a medicine from the list.", "drug")
    if on > patient.local_today():
        raise MedicationError("The date cannot be in the future.", "on")
    return MedicationReport.objects.create(
        patient=patient, kind=kind, drug=drug, on=on, note=note.strip()
    )


@transaction.atomic
def confirm_medication_report(
    *, report: MedicationReport, by: User, stop_reason: str = "", dose: str = ""
) -> MedicationReport:
    """A clinician turns a patient's report into the list.

    1. Lock the patient, then re-read the report: one already confirmed or dismissed is
       returned as it is (confirming twice writes once).
    2. "Started": a new entry from the report's date, with the dose the clinician gives
       (refused when that drug is already on the list that day). "Stopped": the entry of
       that drug taken on the report's date stops then, with the clinician's reason; with
       no such entry the report cannot be confirmed (add the entry with its start first).
    3. The report is closed, naming the entry and who confirmed it.
    """
    _lock_patient(report.patient)
    report = MedicationReport.objects.select_related("patient").get(pk=report.pk)
    if report.status != MedicationReport.Status.OPEN:
        return report
    patient = report.patient
    note = f"Reported by the patient on {timezone.localdate(report.reported_at):%Y-%m-%d}"
    if report.note:
        note += f": {report.note}"
    if report.kind == MedicationReport.Kind.STARTED:
        if stop_reason:
            raise MedicationError("A start has no stop reason.", "stop_reason")
        taking = PatientMedication.objects.filter(patient=patient, drug=report.drug)
        if taking.active_on(report.on).exists():
            raise MedicationError(
                f"{report.drug_name} is already on the list on {report.on:%Y-%m-%d}: edit that "
                "entry, or dismiss the report."
            )
        entry = save_medication(
            patient=patient,
            recorded_by=by,
            drug=report.drug,
            started_on=report.on,
            dose=dose,
            note=note,
        )
    else:
        taken = (
            PatientMedication.objects.filter(patient=patient, drug=report.drug)
            .active_on(report.on)
            .order_by("-started_on", "-pk")
            .first()
        )
        if taken is None:
            raise MedicationError(
                f"{report.drug_name} is not on the list on {report.on:%Y-%m-%d}: add it with "
                "its start date first."
            )
        entry = save_medication(
            patient=patient,
            recorded_by=by,
            drug=taken.drug,
            started_on=taken.started_on,
            dose=dose or taken.dose,
            stopped_on=report.on,
            stop_reason=stop_reason,
            note="\n".join(filter(None, [taken.note, note])),
            entry=taken,
        )
    report.status = MedicationReport.Status.CONFIRMED
    report.resolved_by = by
    report.resolved_at = timezone.now()
    report.entry = entry
    report.save(update_fields=["status", "resolved_by", "resolved_at", "entry"])
    return report


@transaction.atomic
def dismiss_medication_report(*, report: MedicationReport, by: User) -> MedicationReport:
    """A clinician closes a report without changing the list (a mistake, already recorded)."""
    _lock_patient(report.patient)
    report = MedicationReport.objects.get(pk=report.pk)
    if report.status != MedicationReport.Status.OPEN:
        return report
    report.status = MedicationReport.Status.DISMISSED
    report.resolved_by = by
    report.resolved_at = timezone.now()
    report.save(update_fields=["status", "resolved_by", "resolved_at"])
    return report
