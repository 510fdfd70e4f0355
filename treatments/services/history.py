"""A patient's history as the front desk reads it: every visit, whatever became of it, and
every call about booking, newest first (issue 14, part 6)."""

import datetime
from dataclasses import dataclass

from patients.models import Patient
from treatments.models import Appointment, CallOutcome

HISTORY_LENGTH = 20  # the patient page shows the latest this many, then "Show all"


@dataclass(frozen=True)
class HistoryItem:
    at: datetime.datetime  # a visit's start, a call's recording time
    visit: Appointment | None = None
    call: CallOutcome | None = None


def patient_history(patient: Patient, *, limit: int | None) -> tuple[list[HistoryItem], bool]:
    """The patient's visits (every status, with their cancel and early-booking reasons) and
    call outcomes, newest first: the latest `limit` items (all if None), and whether there are
    more. Two queries however long the history (each on its (patient, time) index).

    1. Read at most `limit` + 1 visits and `limit` + 1 calls, each newest first: the latest
       `limit` items of the two together are among them.
    2. Merge them by time; one item past `limit` means there are more."""
    visits = (
        Appointment.objects.filter(patient=patient)
        .select_related("location", "clinician")
        .order_by("-starts_at", "-pk")
    )
    calls = (
        CallOutcome.objects.filter(patient=patient)
        .select_related("recorded_by")
        .order_by("-recorded_at", "-pk")
    )
    if limit is not None:
        visits, calls = visits[: limit + 1], calls[: limit + 1]
    items = [HistoryItem(at=visit.starts_at, visit=visit) for visit in visits]
    items += [HistoryItem(at=call.recorded_at, call=call) for call in calls]
    items.sort(key=lambda item: item.at, reverse=True)
    if limit is None:
        return items, False
    return items[:limit], len(items) > limit
