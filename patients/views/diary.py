"""The portal's headache diary and questionnaires: a patient sees and writes only their own.

Every view starts from `_own_patient`, the patient row of the logged-in user; no URL carries a
patient id, so there is no one else's diary to ask for.
"""

import calendar
import datetime

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from clinic.access import patient_required
from patients import outcomes
from patients.forms import DiaryEntryForm, Hit6Form, MidasForm, diary_date_error
from patients.models import Patient, QuestionnaireResponse
from patients.services import record_diary_entry, record_questionnaire


def _own_patient(request) -> Patient:
    # A portal account not linked to a record yet has no diary.
    return get_object_or_404(Patient.objects.for_user(request.user).select_related("location"))


def _month_from(value: str, today: datetime.date) -> datetime.date:
    try:
        month = datetime.date.fromisoformat(f"{value}-01")
    except ValueError:
        return today.replace(day=1)
    return min(month, today.replace(day=1))


def _add_months(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + count
    return datetime.date(index // 12, index % 12 + 1, 1)


@patient_required
def diary_month(request):
    """A month of the diary as a calendar, with the last 28 days summarised above it."""
    patient = _own_patient(request)
    today = patient.local_today()
    month = _month_from(request.GET.get("month", ""), today)
    weeks = calendar.Calendar().monthdatescalendar(month.year, month.month)
    by_date = {
        e.date: e
        for e in patient.diary_entries.filter(date__gte=weeks[0][0], date__lte=weeks[-1][-1])
    }
    window_start = today - datetime.timedelta(days=outcomes.WINDOW_DAYS - 1)
    summary = outcomes.diary_summary(
        patient.diary_entries.filter(date__gte=window_start, date__lte=today),
        window_start,
        baseline=patient.baseline_headache_days,
    )
    earliest = today - datetime.timedelta(days=365)
    previous = _add_months(month, -1)
    following = _add_months(month, 1)
    context = {
        "patient": patient,
        "month": month,
        "weeks": [
            [
                {
                    "date": day,
                    "in_month": day.month == month.month,
                    "entry": by_date.get(day),
                    "open": not diary_date_error(day, today),
                    "today": day == today,
                }
                for day in week
            ]
            for week in weeks
        ],
        "weekdays": list(calendar.day_abbr),
        "summary": summary,
        "previous": previous if _add_months(previous, 1) > earliest else None,
        "next": following if following <= today else None,
        "today": today,
    }
    return render(request, "patients/diary_month.html", context)


@patient_required
def diary_day(request, day):
    """Enter or correct one day; the date is the path, the entry is the patient's own."""
    try:
        date = datetime.date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    patient = _own_patient(request)
    today = patient.local_today()
    entry = patient.diary_entries.filter(date=date).first()
    form = DiaryEntryForm(
        request.POST or None, initial=DiaryEntryForm.initial_from(entry), day=date, today=today
    )
    if request.method == "POST" and form.is_valid():
        record_diary_entry(patient=patient, date=date, **_entry_fields(form.cleaned_data))
        messages.success(request, f"Saved {date:%A} {date.day} {date:%B}.")
        return redirect(f"{reverse('portal:diary')}?month={date:%Y-%m}")
    return render(
        request,
        "patients/diary_day_form.html",
        {
            "form": form,
            "date": date,
            "entry": entry,
            "date_error": diary_date_error(date, today),
            "previous": date - datetime.timedelta(days=1),
            "next": date + datetime.timedelta(days=1) if date < today else None,
        },
    )


def _entry_fields(data) -> dict:
    return {
        "headache": data["headache"],
        "hours": data["hours"] or 0,
        "severity": data["severity"] or 0,
        "migraine": data["migraine"],
        "acute_medication": data["acute_medication"],
    }


@patient_required
def questionnaire_list(request):
    patient = _own_patient(request)
    responses = list(patient.questionnaire_responses.order_by("-answered_on", "-pk"))
    return render(
        request,
        "patients/questionnaire_list.html",
        {
            "responses": responses,
            "due": outcomes.questionnaires_due(patient, patient.local_today()),
        },
    )


QUESTIONNAIRES = {
    QuestionnaireResponse.Kind.MIDAS: (
        MidasForm,
        "MIDAS: Migraine Disability Assessment",
        "These questions are about the last 3 months. Count the days your headaches affected "
        "you; write 0 if none.",
    ),
    QuestionnaireResponse.Kind.HIT6: (
        Hit6Form,
        "HIT-6: Headache Impact Test",
        "This survey asks how headaches affect your life. Choose one answer for each question.",
    ),
}


def _questionnaire(request, kind: str):
    patient = _own_patient(request)
    form_class, title, intro = QUESTIONNAIRES[kind]
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        response = record_questionnaire(
            patient=patient, kind=kind, answers=form.answers(), answered_on=patient.local_today()
        )
        messages.success(
            request,
            f"Thank you. Your {response.get_kind_display()} score is {response.total}: "
            f"{response.band_label}.",
        )
        return redirect("portal:questionnaires")
    return render(
        request,
        "patients/questionnaire_form.html",
        {"form": form, "title": title, "intro": intro, "kind": kind},
    )


@patient_required
def midas(request):
    return _questionnaire(request, QuestionnaireResponse.Kind.MIDAS)


@patient_required
def hit6(request):
    return _questionnaire(request, QuestionnaireResponse.Kind.HIT6)
