"""Side effects the patient reports (docs/clinical-rules.md): boxed-warning choices, the
emergency message, alerts and their inbox, the email, badges, conversion and resolution."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse

from treatments.models import AdverseEvent, Alert
from treatments.services import report_side_effect


@pytest.fixture
def ben(client, signed_session):
    """Ben (patient_b, with a signed session) logged in to the portal."""
    client.force_login(signed_session.patient.user)
    return client


@pytest.fixture
def clinician_client(client, clinician):
    client.force_login(clinician)
    return client


def onset(session) -> str:
    return (session.session_date + datetime.timedelta(days=1)).isoformat()


def report(client, session, term, severity="severe", **fields):
    return client.post(
        reverse("portal:treatment"),
        {"term": term, "onset": onset(session), "severity": severity, **fields},
        follow=True,
    )


def patient_report(session, term, severity="severe") -> AdverseEvent:
    return report_side_effect(
        session=session,
        user=session.patient.user,
        term=term,
        description="",
        onset=session.session_date + datetime.timedelta(days=1),
        severity=severity,
    )


# --- the portal ---------------------------------------------------------------------------


def test_the_portal_offers_the_six_boxed_warning_signs(ben):
    html = ben.get(reverse("portal:treatment")).content.decode()
    for words in (
        "Trouble swallowing",
        "Trouble breathing",
        "Trouble speaking or slurred speech",
        "Double or blurred vision",
        "Drooping eyelids",
        "Weakness away from where you were injected",
    ):
        assert words in html
    for term in ("dysphagia", "dyspnoea", "dysarthria", "vision", "eyelid_ptosis"):
        assert f'value="{term}"' in html
    assert 'value="distant_weakness"' in html


def test_a_danger_answer_tells_the_patient_to_seek_emergency_care_with_the_clinics_phone(
    ben, signed_session
):
    response = report(ben, signed_session, "dysphagia")
    html = response.content.decode()
    assert "Get emergency care now" in html
    assert "Call 911" in html
    assert 'href="tel:+12125550142"' in html
    assert "(212) 555-0142" in html
    alert = Alert.objects.get()
    assert (alert.urgency, alert.patient, alert.event.term) == (
        "danger",
        signed_session.patient,
        "dysphagia",
    )
    assert alert.is_open
    # the message is shown once, not on every later visit
    assert "Get emergency care now" not in ben.get(reverse("portal:treatment")).content.decode()


def test_another_boxed_warning_sign_raises_a_prompt_alert_without_the_emergency_message(
    ben, signed_session
):
    html = report(ben, signed_session, "vision", severity="moderate").content.decode()
    assert "Get emergency care now" not in html
    assert "within one working day" in html
    assert Alert.objects.get().urgency == "prompt"


def test_a_local_effect_raises_no_alert(ben, signed_session):
    report(ben, signed_session, "neck_pain", severity="mild")
    assert AdverseEvent.objects.filter(term="neck_pain", reported_by="patient").exists()
    assert not Alert.objects.exists()


# --- the email ------------------------------------------------------------------------------


def test_the_email_goes_only_on_commit_to_the_clinical_address_without_patient_or_symptom(
    settings, signed_session, django_capture_on_commit_callbacks
):
    settings.CLINICAL_ALERT_EMAIL = "clinical@clinic.test"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        patient_report(signed_session, "dyspnoea")
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["clinical@clinic.test"]
    text = f"{message.subject}\n{message.body}".lower()
    assert "a patient report needs review" in text
    assert reverse("treatments:alert_list") in text
    patient = signed_session.patient
    for secret in ("breath", "dyspn", patient.first_name.lower(), patient.last_name.lower()):
        assert secret not in text


def test_no_email_without_a_clinical_address_or_for_a_local_effect(
    settings, signed_session, django_capture_on_commit_callbacks
):
    settings.CLINICAL_ALERT_EMAIL = ""
    with django_capture_on_commit_callbacks(execute=True):
        patient_report(signed_session, "dysphagia")
    settings.CLINICAL_ALERT_EMAIL = "clinical@clinic.test"
    with django_capture_on_commit_callbacks(execute=True):
        patient_report(signed_session, "headache")
    assert mail.outbox == []


# --- the inbox ------------------------------------------------------------------------------


def test_the_inbox_lists_open_alerts_first_and_urgent_before_prompt(
    clinician_client, signed_session, clinician
):
    prompt = patient_report(signed_session, "vision").alert
    urgent = patient_report(signed_session, "dysarthria").alert
    done = patient_report(signed_session, "dysphagia").alert
    Alert.objects.filter(pk=done.pk).update(
        acknowledged_at=done.created_at, acknowledged_by=clinician, note="Seen in ED"
    )
    response = clinician_client.get(reverse("treatments:alert_list"))
    assert [a.pk for a in response.context["alerts"]] == [urgent.pk, prompt.pk, done.pk]
    html = response.content.decode()
    assert signed_session.patient.full_name in html
    assert "Seen in ED" in html


@pytest.mark.parametrize("alerts", [1, 60])
def test_the_inbox_query_count_does_not_grow_with_alerts(
    clinician_client, signed_session, alerts, django_assert_max_num_queries
):
    for number in range(alerts):
        patient_report(signed_session, "dysphagia" if number % 2 else "vision")
    # session, user, the count and a page of alerts (patient, event, session and its location
    # joined), the navbar's count, and the session's sliding expiry (3)
    with django_assert_max_num_queries(9):  # +1: the audit trail's one INSERT
        response = clinician_client.get(reverse("treatments:alert_list"))
    assert len(response.context["alerts"]) == min(alerts, 50)


def test_the_inbox_shows_fifty_alerts_a_page_open_ones_first_and_no_form(
    clinician_client, signed_session, clinician
):
    # Given 60 alerts, the 10 oldest acknowledged
    alerts = [patient_report(signed_session, "vision").alert for _ in range(60)]
    done = [alert.pk for alert in alerts[:10]]
    Alert.objects.filter(pk__in=done).update(
        acknowledged_at=alerts[0].created_at, acknowledged_by=clinician, note="Seen"
    )

    # When a clinician opens the inbox, and its second page
    first = clinician_client.get(reverse("treatments:alert_list"))
    second = clinician_client.get(reverse("treatments:alert_list"), {"page": "2"})

    # Then the first page holds 50 open alerts, each a link to its own page and no form
    assert [a.is_open for a in first.context["alerts"]] == [True] * 50
    inbox = first.content.decode().split('id="alerts"')[1].split("</ul>")[0]
    assert "<form" not in inbox
    for alert in first.context["alerts"]:
        assert f'href="{reverse("treatments:alert_detail", args=[alert.pk])}"' in inbox
    # and the second the 10 acknowledged, through the shared footer
    assert sorted(a.pk for a in second.context["alerts"]) == sorted(done)
    assert 'rel="prev" href="?page=1"' in second.content.decode()


def test_an_alerts_page_offers_the_acknowledgement_while_it_is_open(
    clinician_client, signed_session, clinician
):
    alert = patient_report(signed_session, "dysphagia").alert
    url = reverse("treatments:alert_detail", args=[alert.pk])
    acknowledge = reverse("treatments:alert_acknowledge", args=[alert.pk])
    html = clinician_client.get(url).content.decode()
    assert f'action="{acknowledge}"' in html
    assert signed_session.patient.full_name in html
    clinician_client.post(acknowledge, {"note": "Phoned: fine."})
    html = clinician_client.get(url).content.decode()
    assert f'action="{acknowledge}"' not in html
    assert "Phoned: fine." in html


def test_acknowledging_needs_a_note_and_records_who_and_when(
    clinician_client, signed_session, clinician
):
    alert = patient_report(signed_session, "dysphagia").alert
    url = reverse("treatments:alert_acknowledge", args=[alert.pk])
    for hostile in ({}, {"note": "   "}, {"note": "x" * 5000}, {"note": "\x00"}):
        response = clinician_client.post(url, hostile)
        assert response.status_code == 200
        assert response.context["form"].errors
    alert.refresh_from_db()
    assert alert.is_open
    response = clinician_client.post(url, {"note": " Phoned: sent to ED. "})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.note) == (clinician, "Phoned: sent to ED.")
    assert alert.acknowledged_at is not None
    # a second acknowledgement keeps the first
    clinician_client.post(url, {"note": "again"})
    alert.refresh_from_db()
    assert alert.note == "Phoned: sent to ED."


def test_the_database_refuses_an_acknowledgement_without_a_note(signed_session, clinician):
    from django.db import IntegrityError, transaction

    alert = patient_report(signed_session, "dysphagia").alert
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(
            acknowledged_at=alert.created_at, acknowledged_by=clinician, note=""
        )


def test_the_navbar_and_the_clinicians_home_show_the_open_alert_count(
    clinician_client, signed_session
):
    patient_report(signed_session, "dysphagia")
    patient_report(signed_session, "vision")
    home = clinician_client.get(reverse("home"), follow=True).content.decode()
    assert 'id="open-alert-count">2<span class="visually-hidden"> open, 1 urgent' in home
    assert "2 open alerts" in home
    Alert.objects.filter(urgency="danger").update(
        acknowledged_at=Alert.objects.get(urgency="danger").created_at,
        acknowledged_by=signed_session.injector,
        note="done",
    )
    home = clinician_client.get(reverse("home"), follow=True).content.decode()
    assert 'id="open-alert-count">1<span class="visually-hidden"> open</span>' in home


def test_only_clinicians_see_the_inbox_and_a_patient_gets_404(client, signed_session, front_desk):
    alert = patient_report(signed_session, "dysphagia").alert
    client.force_login(front_desk)
    assert client.get(reverse("treatments:alert_list")).status_code == 403
    assert "open-alert-count" not in client.get(reverse("patients:list")).content.decode()
    client.force_login(signed_session.patient.user)
    assert client.get(reverse("treatments:alert_list")).status_code == 404
    assert client.get(reverse("treatments:alert_detail", args=[alert.pk])).status_code == 404
    url = reverse("treatments:alert_acknowledge", args=[alert.pk])
    assert client.post(url, {"note": "x"}).status_code == 404
    alert.refresh_from_db()
    assert alert.is_open


# --- badges ---------------------------------------------------------------------------------


def test_badges_are_coloured_by_severity_with_the_severity_in_words(
    clinician_client, signed_session
):
    patient_report(signed_session, "dysphagia", severity="severe")
    patient_report(signed_session, "headache", severity="moderate")
    chart = clinician_client.get(
        reverse("treatments:chart", args=[signed_session.patient.pk])
    ).content.decode()
    assert '<span class="badge text-bg-danger">Trouble swallowing · severe' in chart
    assert '<span class="badge text-bg-warning">Headache · moderate' in chart
    assert '<span class="badge text-bg-secondary">Neck pain · mild' in chart  # the fixture's
    detail = clinician_client.get(
        reverse("treatments:session_detail", args=[signed_session.pk])
    ).content.decode()
    assert '<span class="badge text-bg-danger">Trouble swallowing · severe' in detail


# --- conversion and resolution ---------------------------------------------------------------


def test_a_clinician_turns_a_patient_report_into_a_structured_adverse_event(
    clinician_client, signed_session, clinician
):
    event = patient_report(signed_session, "dysphagia")
    assert event.awaits_review
    day = signed_session.session_date + datetime.timedelta(days=2)
    response = clinician_client.post(
        reverse("treatments:adverse_event_review", args=[event.pk]),
        {
            "term": "dysphagia",
            "onset": day.isoformat(),
            "severity": "moderate",
            "serious": "on",
            "outcome": "resolving",
            "description": "",
            "hint_next_session": "lower cervical paraspinal dose",
        },
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.onset, event.severity, event.serious, event.outcome) == (
        day,
        "moderate",
        True,
        "resolving",
    )
    assert event.confirmed_by == clinician
    assert not event.awaits_review
    assert event.reported_by == "patient"


def test_an_adverse_event_is_marked_resolved_with_its_outcome(clinician_client, signed_session):
    event = signed_session.adverse_events.get()
    url = reverse("treatments:adverse_event_resolve", args=[event.pk])
    before_onset = (event.onset - datetime.timedelta(days=1)).isoformat()
    clinician_client.post(url, {"outcome": "sequelae", "resolved_on": before_onset})
    event.refresh_from_db()
    assert (event.outcome, event.resolved_on) == ("ongoing", None)
    resolved_on = event.onset + datetime.timedelta(days=5)
    response = clinician_client.post(
        url, {"outcome": "sequelae", "resolved_on": resolved_on.isoformat()}
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.outcome, event.resolved_on) == ("sequelae", resolved_on)
    detail = clinician_client.get(
        reverse("treatments:session_detail", args=[signed_session.pk])
    ).content.decode()
    assert f"resolved with lasting effects on {resolved_on:%Y-%m-%d}" in detail


def test_another_patients_event_gives_404_to_a_patient(client, signed_session, patient_a):
    event = signed_session.adverse_events.get()  # patient_b's
    client.force_login(patient_a.user)
    for name in ("adverse_event_review", "adverse_event_resolve"):
        response = client.post(reverse(f"treatments:{name}", args=[event.pk]), {})
        assert response.status_code == 404
