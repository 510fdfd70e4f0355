"""The patient portal: what a patient sees of their own care, on a phone."""

import datetime
import secrets

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from clinic.access import patient_required
from clinic.models import User
from patients.models import Channel, ContactConsent, Patient
from patients.outcomes import questionnaires_due
from patients.services import record_consent
from treatments.ical import appointments_calendar
from treatments.models import AdverseEvent, Appointment, TreatmentCourse, TreatmentSession
from treatments.services import BookingError, report_adverse_event
from treatments.services.responses import (
    confirm_appointment,
    patient_cancel_appointment,
    request_date_change,
)

CANCEL_REASONS = [
    "I cannot come at this time",
    "I am unwell",
    "I cannot get to the clinic",
    "Another reason",
]


class PatientCancelForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why are you cancelling?",
        widget=forms.RadioSelect,
        choices=[(r, r) for r in CANCEL_REASONS],
    )
    details = forms.CharField(
        label="In your own words",
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reason") == "Another reason" and not cleaned.get("details"):
            self.add_error("details", "Tell us the reason.")
        return cleaned

    @property
    def text(self) -> str:
        data = self.cleaned_data
        return "By the patient (portal): " + ". ".join(
            filter(None, [data["reason"], data["details"]])
        )


class DateChangeForm(forms.Form):
    note = forms.CharField(
        label="Which days or times suit you better?",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SideEffectForm(forms.Form):
    PATIENT_TERMS = [
        (AdverseEvent.Term.NECK_PAIN, "Neck pain"),
        (AdverseEvent.Term.HEADACHE, "Headache"),
        (AdverseEvent.Term.EYELID_PTOSIS, "Drooping eyelid"),
        (AdverseEvent.Term.BROW_PTOSIS, "Drooping or uneven eyebrows"),
        (AdverseEvent.Term.WEAKNESS, "Muscle weakness"),
        (AdverseEvent.Term.INJECTION_SITE_PAIN, "Pain where injected"),
        (AdverseEvent.Term.OTHER, "Something else"),
    ]
    term = forms.ChoiceField(
        label="What happened?", choices=PATIENT_TERMS, widget=forms.RadioSelect
    )
    description = forms.CharField(label="Tell us more", required=False, max_length=200)
    onset = forms.DateField(
        label="When did it start?", widget=forms.DateInput(attrs={"type": "date"})
    )
    severity = forms.ChoiceField(
        label="How bad is it?", widget=forms.RadioSelect, choices=AdverseEvent.Severity.choices
    )

    def __init__(self, *args, session: TreatmentSession, **kwargs):
        self.session = session
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("term") == AdverseEvent.Term.OTHER and not cleaned.get("description"):
            self.add_error("description", "Tell us what happened.")
        onset = cleaned.get("onset")
        if onset and onset < self.session.session_date:
            self.add_error("onset", "That is before your last treatment.")
        if onset and onset > timezone.localdate():
            self.add_error("onset", "That date is in the future.")
        return cleaned


def _me(request) -> Patient | None:
    return Patient.objects.for_user(request.user).select_related("location").first()


def _my_visit(request, pk) -> Appointment:
    return get_object_or_404(
        Appointment.objects.for_user(request.user).select_related("location", "patient"), pk=pk
    )


@patient_required
def portal_home(request):
    patient = _me(request)
    visit = course = None
    if patient:
        visit = (
            Appointment.objects.active().filter(patient=patient).select_related("location").first()
        )
        course = TreatmentCourse.objects.filter(patient=patient, status="active").first()
    today = patient.local_today() if patient else None
    due = questionnaires_due(patient, today) if patient else []
    context = {
        "patient": patient,
        "visit": visit,
        "course": course,
        "questionnaires_due": due,
        "today": today,
    }
    return render(request, "patients/portal_home.html", context)


@patient_required
@require_POST
def portal_confirm(request, pk):
    try:
        confirm_appointment(appointment=_my_visit(request, pk))
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Thank you: your visit is confirmed.")
    return redirect("portal:home")


@patient_required
def portal_cancel(request, pk):
    visit = _my_visit(request, pk)
    form = PatientCancelForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            patient_cancel_appointment(appointment=visit, reason=form.text)
        except BookingError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, "Your visit is cancelled. We will contact you to book a new one."
            )
        return redirect("portal:home")
    return render(
        request,
        "patients/portal_visit_form.html",
        {"visit": visit, "form": form, "action": "cancel"},
    )


@patient_required
def portal_change(request, pk):
    visit = _my_visit(request, pk)
    form = DateChangeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            request_date_change(appointment=visit, note=form.cleaned_data["note"])
        except BookingError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                "Thank you: the clinic will call you to agree a new "
                "date. Your visit stays booked until then.",
            )
        return redirect("portal:home")
    return render(
        request,
        "patients/portal_visit_form.html",
        {"visit": visit, "form": form, "action": "change"},
    )


def _ics(appointments) -> HttpResponse:
    response = HttpResponse(
        appointments_calendar(appointments), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response


@patient_required
@require_safe
def portal_ics(request, pk):
    return _ics([_my_visit(request, pk)])


@patient_required
@require_POST
def portal_feed(request):
    """Create, replace or stop the private calendar feed (its secret is in its URL)."""
    stop = request.POST.get("action") == "stop"
    token = None if stop else secrets.token_urlsafe(32)
    User.objects.filter(pk=request.user.pk).update(calendar_token=token)
    messages.success(
        request,
        "The calendar link is stopped."
        if stop
        else "Your calendar link is ready. Any older link no longer works.",
    )
    return redirect("portal:home")


@login_not_required
@require_safe
def calendar_feed(request, token):
    """A patient's visits as a calendar that follows every change (public, by its secret)."""
    user = User.objects.filter(calendar_token=token, role=User.Role.PATIENT, is_active=True).first()
    if user is None or not hasattr(user, "patient"):
        raise Http404
    since = timezone.now() - datetime.timedelta(days=90)
    visits = Appointment.objects.filter(patient=user.patient, starts_at__gte=since).select_related(
        "location"
    )
    response = _ics(visits)
    response["Content-Disposition"] = 'inline; filename="visits.ics"'
    return response


@patient_required
def portal_treatment(request):
    patient = _me(request)
    sessions = (
        TreatmentSession.objects.signed()
        .filter(patient=patient)
        .select_related("location")
        .order_by("-administered_at")
        if patient
        else []
    )
    last = sessions[0] if sessions else None
    form = (
        SideEffectForm(request.POST if request.method == "POST" else None, session=last)
        if last
        else None
    )
    if form is not None and form.is_valid():
        data = form.cleaned_data
        report_adverse_event(
            session=last,
            recorded_by=request.user,
            reported_by=AdverseEvent.Reporter.PATIENT,
            term=data["term"],
            description=data["description"],
            onset=data["onset"],
            severity=data["severity"],
        )
        messages.success(
            request,
            "Thank you: your clinician will see this. If you have "
            "trouble swallowing, speaking or breathing, get help now.",
        )
        return redirect("portal:treatment")
    return render(
        request,
        "patients/portal_treatment.html",
        {"patient": patient, "sessions": sessions, "form": form},
    )


@patient_required
def portal_contact(request):
    patient = get_object_or_404(
        Patient.objects.for_user(request.user).prefetch_related("consents__recorded_by")
    )
    if request.method == "POST":
        channel = request.POST.get("channel")
        granted = request.POST.get("granted") == "true"
        if channel not in Channel.values:
            messages.error(request, "Choose email or text messages.")
        elif granted and not (patient.email if channel == Channel.EMAIL else patient.phone):
            messages.error(request, "We have no address for that yet: please tell the clinic.")
        else:
            record_consent(
                patient=patient,
                channel=channel,
                granted=granted,
                source=ContactConsent.Source.PORTAL,
                recorded_by=request.user,
            )
            messages.success(request, "Saved: this applies from the next message.")
        return redirect("portal:contact")
    return render(
        request,
        "patients/portal_contact.html",
        {
            "patient": patient,
            "consents": patient.current_consents(),
            "history": patient.consents.all(),
        },
    )
