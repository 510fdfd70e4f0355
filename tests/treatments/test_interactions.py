"""Interactions at the session (issue 18; DOMAIN section 6): an interacting drug on the
medication list on the session's date is a warning acknowledged at sign-off (R22), and another
botulinum toxin on the list within 3 months feeds R12."""

import datetime

import pytest
from django.urls import reverse

from patients.models import PatientMedication
from tests.conftest import SESSION_TIME, session_input
from tests.treatments.test_views import form_data
from treatments.services import RuleViolation, check_session, record_session, sign_session

DAY = datetime.timedelta(days=1)
SESSION_DAY = SESSION_TIME.date()  # 10:00 in New York: the same local date


def on_list(patient, clinician, drug, *, started, stopped=None, reason=""):
    return PatientMedication.objects.create(
        patient=patient,
        drug=drug,
        started_on=SESSION_DAY + started * DAY,
        stopped_on=None if stopped is None else SESSION_DAY + stopped * DAY,
        stop_reason=reason or ("other" if stopped is not None else ""),
        recorded_by=clinician,
    )


def draft(patient, clinician, location, **fields):
    return record_session(
        patient=patient, injector=clinician, data=session_input(location, **fields)
    )


@pytest.mark.parametrize(
    "drug", ["gentamicin", "rocuronium", "oxybutynin", "baclofen"], ids=lambda d: d
)
def test_an_interacting_drug_taken_on_the_day_must_be_acknowledged_at_sign_off(
    patient_a, clinician, location, drug
):
    # Given the drug on the list since 30 days before the session, still taken
    on_list(patient_a, clinician, drug, started=-30)
    session = draft(patient_a, clinician, location)

    # When the clinician signs without acknowledging it, the service refuses
    with pytest.raises(RuleViolation) as refused:
        sign_session(session=session, user=clinician, acknowledged=[])
    [finding] = refused.value.findings
    assert (finding.rule, finding.needs_ack) == ("R22", True)
    session.refresh_from_db()
    assert not session.is_signed

    # And with the acknowledgement it signs, and keeps it
    signed = sign_session(session=session, user=clinician, acknowledged=["R22"])
    assert signed.is_signed
    assert signed.acknowledged == ["R22"]


def test_an_interacting_drug_stopped_before_the_day_or_started_after_is_no_warning(
    patient_a, clinician, location
):
    on_list(patient_a, clinician, "baclofen", started=-60, stopped=-1)
    on_list(patient_a, clinician, "gentamicin", started=1)
    on_list(patient_a, clinician, "erenumab", started=-60)  # a preventive: no interaction
    session = draft(patient_a, clinician, location)
    assert [f.rule for f in check_session(session)] == []
    assert sign_session(session=session, user=clinician, acknowledged=[]).is_signed


def test_the_last_day_taken_is_still_the_session_day(patient_a, clinician, location):
    on_list(patient_a, clinician, "tizanidine", started=-10, stopped=0)
    session = draft(patient_a, clinician, location)
    [finding] = check_session(session)
    assert finding.rule == "R22"
    assert "Tizanidine from" in finding.message


def test_another_toxin_on_the_list_within_3_months_feeds_r12(patient_a, clinician, location):
    # Given Dysport for cervical dystonia, last given 60 days before the session (a single
    # day's entry), and no tick on the form's "other toxin" question
    on_list(patient_a, clinician, "abobotulinumtoxina", started=-60, stopped=-60)
    session = draft(patient_a, clinician, location, other_toxin_recent=False)

    with pytest.raises(RuleViolation) as refused:
        sign_session(session=session, user=clinician, acknowledged=[])
    [finding] = refused.value.findings
    assert (finding.rule, finding.needs_ack) == ("R12", True)
    assert "AbobotulinumtoxinA (Dysport)" in finding.message
    assert sign_session(session=session, user=clinician, acknowledged=["R12"]).is_signed


def test_a_toxin_more_than_3_months_before_does_not_feed_r12(patient_a, clinician, location):
    on_list(patient_a, clinician, "incobotulinumtoxina", started=-200, stopped=-91)
    session = draft(patient_a, clinician, location)
    assert check_session(session) == []


def test_the_session_page_offers_the_r22_box_and_saving_without_it_keeps_a_draft(
    client, patient_a, clinician, location
):
    on_list(patient_a, clinician, "oxybutynin", started=-30)
    client.force_login(clinician)
    url = reverse("treatments:session_create", args=[patient_a.pk])
    response = client.post(url, form_data(location), follow=True)  # "Save and sign"
    page = response.content.decode()
    assert 'value="R22"' in page  # the box to tick
    assert "Oxybutynin" in page
    session = patient_a.sessions.get()
    assert not session.is_signed  # kept as a draft until acknowledged
