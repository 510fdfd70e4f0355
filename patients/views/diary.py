"""The portal's headache diary and questionnaires: a patient sees and writes only their own.

Every view starts from `_own_patient`, the patient row of the logged-in user; no URL carries a
patient id, so there is no one else's diary to ask for.
"""

import calendar
import datetime

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from clinic.access import AuthenticatedHttpRequest, patient_required
from clinic.params import date_param
from patients import outcomes
from patients.forms import DiaryEntryForm, Hit6Form, MidasForm, diary_date_error
from patients.models import Patient, QuestionnaireResponse
from patients.services import record_diary_entry, record_questionnaire


def _own_patient(request) -> Patient:
    # A portal account not linked to a record yet has no diary.
    return get_object_or_404(Patient.objects.for_user(request.user).select_related("location"))


def _month_from(value: str, today: datetime.date) -> datetime.date:
    month = date_param(f"{value}-01")
    return min(month, today.replace(day=1)) if month else today.replace(day=1)


def _add_months(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + count
    return datetime.date(index // 12, index % 12 + 1, 1)


@patient_required
def diary_month(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A month of the diary as a calendar, with the last 28 days summarised above it."""
    patient = _own_patient(request)
    today = patient.local_today()
    month = _month_from(request.GET.get("month", ""), today)
    window_start = today - datetime.timedelta(days=outcomes.WINDOW_DAYS - 1)
    summary = outcomes.diary_summary(
        patient.diary_entries.filter(date__gte=window_start, date__lte=today),
        window_start,
        baseline=patient.baseline_headache_days,
    )
    previous, following = _add_months(month, -1), _add_months(month, 1)
    context = {
        "patient": patient,
        "month": month,
        "weeks": _month_grid(patient, month, today),
        "weekdays": list(calendar.day_abbr),
        "summary": summary,
        "previous": previous if month > today - datetime.timedelta(days=365) else None,
        "next": following if following <= today else None,
        "today": today,
        "is_current_month": month == today.replace(day=1),
    }
    return render(request, "patients/diary_month.html", context)


DAY_MARKER = "2000-01-01"  # a day reversed once for the month's links, then replaced


def _month_grid(patient: Patient, month: datetime.date, today: datetime.date) -> list[list[dict]]:
    """The month's weeks, Monday first, each day with its entry and whether it can be filled."""
    weeks = calendar.Calendar().monthdatescalendar(month.year, month.month)
    entries = patient.diary_entries.filter(date__gte=weeks[0][0], date__lte=weeks[-1][-1])
    by_date = {entry.date: entry for entry in entries}
    # each day's link made once a page, not reversed in the template 42 times
    head, _, tail = reverse("portal:diary_day", args=[DAY_MARKER]).rpartition(DAY_MARKER)
    return [
        [
            {
                "date": day,
                "url": f"{head}{day:%Y-%m-%d}{tail}",
                "in_month": day.month == month.month,
                "entry": by_date.get(day),
                "open": not diary_date_error(day, today),
                "today": day == today,
            }
            for day in week
        ]
        for week in weeks
    ]


@patient_required
def diary_day(request: AuthenticatedHttpRequest, day: str) -> HttpResponse:
    """Enter or correct one day; the date is the path, the entry is the patient's own."""
    date = date_param(day)
    if date is None:
        raise Http404
    patient = _own_patient(request)
    today = patient.local_today()
    entry = patient.diary_entries.filter(date=date).first()
    form = DiaryEntryForm(
        request.POST or None, initial=DiaryEntryForm.initial_from(entry), day=date, today=today
    )
    if request.method == "POST" and form.is_valid():
        record_diary_entry(patient=patient, date=date, **form.entry_fields())
        messages.success(request, f"Saved {date:%A} {date.day} {date:%B}.")
        return redirect(f"{reverse('portal:diary')}?month={date:%Y-%m}")
    one_day = datetime.timedelta(days=1)
    context = {"form": form, "date": date, "entry": entry}
    context |= {"date_error": diary_date_error(date, today), "previous": date - one_day}
    context |= {"next": date + one_day if date < today else None}
    return render(request, "patients/diary_day_form.html", context)


@patient_required
def questionnaire_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    patient = _own_patient(request)
    responses = list(patient.questionnaire_responses.order_by("-answered_on", "-pk"))
    return render(
        request,
        "patients/questionnaire_list.html",
        {
            "responses": responses,
            "due": questionnaire_links(patient.questionnaires_due(patient.local_today())),
        },
    )


QUESTIONNAIRES: dict[str, tuple[type[MidasForm | Hit6Form], str, str]] = {
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


def questionnaire_links(kinds: list[str]) -> list[tuple[str, str]]:
    """(name, URL) of each questionnaire kind, for the "please fill in" notes."""
    return [(QuestionnaireResponse.Kind(kind).label, reverse(f"portal:{kind}")) for kind in kinds]


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
def midas(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _questionnaire(request, QuestionnaireResponse.Kind.MIDAS)


@patient_required
def hit6(request):
    return _questionnaire(request, QuestionnaireResponse.Kind.HIT6)
