"""Booking, moving and cancelling visits, and the front desk's due list."""

import datetime
import zoneinfo

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clinic.access import staff_required
from clinic.models import Location, User
from patients.models import Patient
from treatments.models import Appointment, CallOutcome, TreatmentCourse
from treatments.services import (
    BookingError,
    available_slots,
    book_appointment,
    cancel_appointment,
    due_list,
    record_call_outcome,
    reschedule_appointment,
)
from treatments.services.schedule import earliest_bookable_on

SLOT_DAYS = 21  # how far ahead the picker looks from its first day
SLOTS_PER_CLINICIAN = 4


class SlotChoiceForm(forms.Form):
    """The slot button pressed ("<clinician id>|<ISO start>") and an early-booking reason."""

    slot = forms.CharField()
    early_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for booking before the earliest date",
    )

    def clean_slot(self):
        try:
            clinician_id, starts = self.cleaned_data["slot"].split("|")
            starts_at = datetime.datetime.fromisoformat(starts)
            clinician = User.objects.get(pk=int(clinician_id), role=User.Role.CLINICIAN)
        except (ValueError, User.DoesNotExist) as error:
            raise forms.ValidationError("Choose one of the offered slots.") from error
        if starts_at.tzinfo is None:
            raise forms.ValidationError("Choose one of the offered slots.")
        return clinician, starts_at


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason for cancelling", widget=forms.Textarea(attrs={"rows": 2}), max_length=500
    )


class CallOutcomeForm(forms.ModelForm):
    class Meta:
        model = CallOutcome
        fields = ["outcome", "call_back_on", "note"]
        widgets = {"call_back_on": forms.DateInput(attrs={"type": "date"})}
        labels = {"note": "Note (the reason, if declined)"}

    def clean(self):
        cleaned = super().clean()
        outcome = cleaned.get("outcome")
        if outcome == CallOutcome.Outcome.CALL_BACK and not cleaned.get("call_back_on"):
            self.add_error("call_back_on", "Give the date to call back.")
        if outcome == CallOutcome.Outcome.DECLINED and not cleaned.get("note"):
            self.add_error("note", "Say why the patient declined.")
        return cleaned


def _patient(user, pk):
    return get_object_or_404(Patient.objects.for_user(user).select_related("location"), pk=pk)


@staff_required
def book(request, patient_pk):
    patient = _patient(request.user, patient_pk)
    current = Appointment.objects.active().filter(patient=patient).first()
    if current is not None:
        messages.info(request, "This patient already has a visit booked: move it instead.")
        return redirect("treatments:appointment_reschedule", pk=current.pk)
    return _slot_page(request, patient=patient, appointment=None)


@staff_required
def appointment_reschedule(request, pk):
    appointment = get_object_or_404(
        Appointment.objects.for_user(request.user).select_related("patient", "location"), pk=pk
    )
    if appointment.status != Appointment.Status.BOOKED:
        messages.error(request, "Only a booked appointment can be moved.")
        return redirect("patients:detail", pk=appointment.patient_id)
    return _slot_page(request, patient=appointment.patient, appointment=appointment)


def _slot_page(request, *, patient, appointment):
    """The slot picker: first free slots per clinician from the earliest bookable date."""
    location = (
        appointment.location
        if appointment
        else _chosen_location(request)
        or patient.location
        or Location.objects.order_by("name").first()
    )
    zone = zoneinfo.ZoneInfo(location.time_zone)
    today = timezone.localdate(timezone=zone)
    earliest = earliest_bookable_on(patient)
    start = _date_param(request, "from") or max(today, earliest or today)
    form = SlotChoiceForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        clinician, starts_at = form.cleaned_data["slot"]
        reason = form.cleaned_data["early_reason"]
        try:
            if appointment:
                appointment = reschedule_appointment(
                    appointment=appointment,
                    starts_at=starts_at,
                    clinician=clinician,
                    by=request.user,
                    early_reason=reason,
                )
            else:
                appointment = book_appointment(
                    patient=patient,
                    clinician=clinician,
                    location=location,
                    starts_at=starts_at,
                    booked_by=request.user,
                    early_reason=reason,
                )
        except BookingError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            when = appointment.local_starts_at
            messages.success(
                request,
                f"Booked: {when:%a %d %b %Y %H:%M %Z} with {appointment.clinician} at {location}.",
            )
            return redirect(_calendar_url(appointment))
    slots = available_slots(
        location=location,
        start_date=start,
        days=SLOT_DAYS,
        per_clinician=SLOTS_PER_CLINICIAN,
        ignore=appointment,
    )
    course = TreatmentCourse.objects.filter(patient=patient, status="active").first()
    with timezone.override(zone):  # slot times show in the location's zone
        return render(
            request,
            "treatments/book.html",
            {
                "patient": patient,
                "appointment": appointment,
                "course": course,
                "location": location,
                "locations": Location.objects.order_by("name"),
                "earliest": earliest,
                "start": start,
                "before_earliest": bool(earliest and start < earliest),
                "slots": slots,
                "form": form,
                "zone_name": timezone.localtime(timezone=zone).tzname(),
                "today": today,
            },
        )


def _chosen_location(request) -> Location | None:
    location_id = request.GET.get("location", "")
    return Location.objects.filter(pk=location_id).first() if location_id.isdigit() else None


def _date_param(request, name) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return None


def _calendar_url(appointment) -> str:
    return (
        f"{reverse('treatments:calendar')}?location={appointment.location_id}"
        f"&date={appointment.local_starts_at.date().isoformat()}"
    )


@staff_required
def appointment_cancel(request, pk):
    appointment = get_object_or_404(
        Appointment.objects.for_user(request.user).select_related(
            "patient", "location", "clinician"
        ),
        pk=pk,
    )
    form = CancelForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            cancel_appointment(
                appointment=appointment, reason=form.cleaned_data["reason"], by=request.user
            )
        except BookingError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Appointment cancelled; the slot is free again.")
            return redirect(_calendar_url(appointment))
    return render(
        request, "treatments/appointment_cancel.html", {"appointment": appointment, "form": form}
    )


@staff_required
def due_list_view(request):
    location = _chosen_location(request)
    weeks = request.GET.get("weeks", "")
    weeks = int(weeks) if weeks.isdigit() and 0 < int(weeks) <= 26 else None
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(location.time_zone) if location else None)
    entries = due_list(today=today, weeks=weeks, location=location)
    return render(
        request,
        "treatments/due_list.html",
        {
            "entries": entries,
            "today": today,
            "location": location,
            "locations": Location.objects.order_by("name"),
            "weeks": weeks,
            "call_form": CallOutcomeForm(),
        },
    )


@staff_required
@require_POST
def call_outcome_create(request, patient_pk):
    patient = _patient(request.user, patient_pk)
    form = CallOutcomeForm(request.POST)
    if form.is_valid():
        record_call_outcome(patient=patient, by=request.user, **form.cleaned_data)
        messages.success(request, f"Call outcome saved for {patient.full_name}.")
    else:
        errors = " ".join(e for errs in form.errors.values() for e in errs)
        messages.error(request, f"Not saved: {errors}")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("treatments:due_list")
    return redirect(next_url)
