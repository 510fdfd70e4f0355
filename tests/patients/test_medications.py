"""The medication list (issue 18): the catalogue, NICE's "three preventives failed" from the
list, the clinician's pages, the patient's reports and who sees what."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.urls import reverse

from patients import medications
from patients.models import MedicationReport, Patient, PatientMedication
from patients.services import (
    MedicationError,
    confirm_medication_report,
    dismiss_medication_report,
    report_medication,
    save_medication,
)
from tests.conftest import clinic_today

DAY = datetime.timedelta(days=1)


def entry(patient, clinician, drug, *, started_ago=400, stopped_ago=None, reason="", **fields):
    today = clinic_today()
    return PatientMedication.objects.create(
        patient=patient,
        drug=drug,
        started_on=today - started_ago * DAY,
        stopped_on=None if stopped_ago is None else today - stopped_ago * DAY,
        stop_reason=reason,
        recorded_by=clinician,
        **fields,
    )


def with_baseline(patient, headache=20, migraine=12):
    Patient.objects.filter(pk=patient.pk).update(
        baseline_headache_days=headache, baseline_migraine_days=migraine
    )
    return Patient.objects.get(pk=patient.pk)


# --- the catalogue ---------------------------------------------------------------------------


def test_every_drug_names_a_class_of_the_catalogue():
    assert all(drug.drug_class in medications.CLASSES for drug in medications.DRUGS.values())


def test_the_catalogue_holds_the_interacting_classes_and_other_toxins():
    classes = {drug.drug_class for drug in medications.DRUGS.values()}
    assert {
        "aminoglycoside",
        "neuromuscular_blocker",
        "anticholinergic",
        "muscle_relaxant",
        "botulinum_toxin",
    } <= classes
    assert medications.DRUGS["abobotulinumtoxina"].klass.role == medications.TOXIN
    assert medications.DRUGS["incobotulinumtoxina"].klass.role == medications.TOXIN


# --- NICE TA260 from the list ----------------------------------------------------------------


def test_three_preventives_ineffective_not_tolerated_or_contraindicated_meet_nice(
    patient_a, clinician
):
    # Given a full baseline and three preventives stopped, one for each counted reason
    patient = with_baseline(patient_a)
    entry(patient, clinician, "topiramate", stopped_ago=300, reason="not_tolerated")
    entry(patient, clinician, "propranolol", stopped_ago=200, reason="ineffective")
    assert patient.meets_nice_start_criteria is False  # two so far
    entry(
        patient, clinician, "valproate", started_ago=100, stopped_ago=100, reason="contraindicated"
    )

    # Then the list says three failed, and the criteria are met
    assert patient.preventives_failed_count == 3
    assert patient.meets_nice_start_criteria is True


def test_other_reasons_acute_drugs_a_drug_still_taken_and_a_repeat_do_not_count(
    patient_a, clinician
):
    patient = with_baseline(patient_a)
    entry(patient, clinician, "topiramate", stopped_ago=300, reason="ineffective")
    entry(patient, clinician, "topiramate", started_ago=250, stopped_ago=200, reason="ineffective")
    entry(patient, clinician, "amitriptyline", stopped_ago=100, reason="other")
    entry(patient, clinician, "sumatriptan", stopped_ago=100, reason="ineffective")
    entry(patient, clinician, "erenumab", started_ago=50)

    assert patient.preventives_failed_count == 1
    assert patient.meets_nice_start_criteria is False


def test_rimegepant_counts_as_a_preventive_and_nice_needs_the_baseline(patient_a, clinician):
    for drug in ("rimegepant", "candesartan", "flunarizine"):
        entry(patient_a, clinician, drug, stopped_ago=30, reason="ineffective")
    assert patient_a.preventives_failed_count == 3
    assert patient_a.meets_nice_start_criteria is None  # no baseline yet
    assert with_baseline(patient_a).meets_nice_start_criteria is True


def test_the_typed_count_moves_to_a_note_the_clinician_can_turn_into_entries(patient_a, patient_b):
    # Given counts typed before the list (one with notes, one without)
    Patient.objects.filter(pk=patient_a.pk).update(
        preventives_failed=4, preventives_notes="Topiramate: tingling"
    )
    Patient.objects.filter(pk=patient_b.pk).update(preventives_failed=2, preventives_notes="")

    # When the data migration runs (twice: it is safe to)
    migration = importlib.import_module("patients.migrations.0007_medication_list")
    migration.counts_to_notes(apps, None)
    migration.counts_to_notes(apps, None)

    # Then each note ends with the count, once, and the count is kept read-only
    patient_a.refresh_from_db()
    patient_b.refresh_from_db()
    assert patient_a.preventives_notes == (
        "Topiramate: tingling\nPreventives failed (typed before the medication list): 4"
    )
    assert patient_b.preventives_notes == "Preventives failed (typed before the medication list): 2"
    assert patient_a.preventives_failed == 4
    assert PatientMedication._meta.get_field("drug").editable
    assert not Patient._meta.get_field("preventives_failed").editable


# --- the database's rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stopped_ago", "reason"),
    [(500, "ineffective"), (None, "ineffective"), (10, ""), (10, "bored")],
    ids=["stops before it starts", "reason without a stop", "stop without a reason", "bad reason"],
)
def test_the_database_refuses_an_inconsistent_period(patient_a, clinician, stopped_ago, reason):
    with pytest.raises(IntegrityError), transaction.atomic():
        entry(patient_a, clinician, "topiramate", stopped_ago=stopped_ago, reason=reason)


def test_the_database_refuses_a_drug_outside_the_catalogue(patient_a, clinician):
    with pytest.raises(IntegrityError), transaction.atomic():
        entry(patient_a, clinician, "snake_oil")


def test_the_service_refuses_a_future_start(patient_a, clinician):
    with pytest.raises(MedicationError) as refused:
        save_medication(
            patient=patient_a,
            recorded_by=clinician,
            drug="erenumab",
            started_on=clinic_today() + DAY,
        )
    assert refused.value.field == "started_on"
    assert not PatientMedication.objects.exists()


# --- the clinician's pages -------------------------------------------------------------------


def test_a_clinician_adds_and_then_stops_an_entry(client, clinician, patient_a):
    client.force_login(clinician)
    started = clinic_today() - 90 * DAY
    response = client.post(
        reverse("patients:medications", args=[patient_a.pk]),
        {"drug": "erenumab", "dose": "70 mg monthly", "started_on": started.isoformat()},
    )
    assert response.status_code == 302
    added = PatientMedication.objects.get(patient=patient_a)
    assert (added.drug, added.dose, added.started_on, added.recorded_by) == (
        "erenumab",
        "70 mg monthly",
        started,
        clinician,
    )

    response = client.post(
        reverse("patients:medication_update", args=[added.pk]),
        {
            "drug": "erenumab",
            "dose": "70 mg monthly",
            "started_on": started.isoformat(),
            "stopped_on": clinic_today().isoformat(),
            "stop_reason": "ineffective",
        },
    )
    assert response.status_code == 302
    added.refresh_from_db()
    assert (added.stopped_on, added.stop_reason) == (clinic_today(), "ineffective")


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"drug": "snake_oil"}, "drug", "Select a valid choice."),
        ({"started_on": "2026-02-30"}, "started_on", "Enter a valid date."),
        ({"started_on": "0001-01-01"}, "started_on", "Check the year."),
        ({"stopped_on": "1990-01-01", "stop_reason": "ineffective"}, "stopped_on", None),
        ({"stop_reason": "ineffective"}, "stop_reason", None),
        ({"stopped_on": "{today}"}, "stop_reason", "Say why it stopped."),
        ({"stopped_on": "{tomorrow}", "stop_reason": "other"}, "stopped_on", None),
        ({"stop_reason": "\x00' OR 1=1"}, "stop_reason", None),
        ({"dose": "x" * 500}, "dose", None),
    ],
)
def test_hostile_or_inconsistent_entries_are_form_errors(
    client, clinician, patient_a, fields, field, error
):
    client.force_login(clinician)
    data = {"drug": "topiramate", "started_on": (clinic_today() - 30 * DAY).isoformat()}
    for name, value in fields.items():
        data[name] = value.format(
            today=clinic_today().isoformat(), tomorrow=(clinic_today() + DAY).isoformat()
        )
    response = client.post(reverse("patients:medications", args=[patient_a.pk]), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    if error:
        assert any(error in message for message in errors[field])
    assert not PatientMedication.objects.exists()


def test_another_patients_entry_or_an_unknown_id_is_not_found(client, clinician, patient_a):
    client.force_login(clinician)
    assert client.get(reverse("patients:medication_update", args=[999999])).status_code == 404
    assert client.get(reverse("patients:medications", args=[999999])).status_code == 404


def test_the_medication_list_page_has_a_constant_query_count(
    client, clinician, patient_a, django_assert_max_num_queries
):
    for n in range(12):
        entry(
            patient_a,
            clinician,
            "topiramate",
            started_ago=400 - n * 20,
            stopped_ago=390 - n * 20,
            reason="ineffective",
        )
        MedicationReport.objects.create(
            patient=patient_a, kind="started", drug="erenumab", on=clinic_today()
        )
    client.force_login(clinician)
    url = reverse("patients:medications", args=[patient_a.pk])
    with django_assert_max_num_queries(10):
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count("data-medication=") == 12


# --- who sees it -----------------------------------------------------------------------------


def test_front_desk_sees_no_medication_on_the_patient_page(
    client, front_desk, clinician, patient_a
):
    entry(patient_a, clinician, "erenumab", dose="140 mg monthly")
    url = reverse("patients:detail", args=[patient_a.pk])
    client.force_login(front_desk)
    page = client.get(url).content.decode()
    assert "Erenumab" not in page
    assert "Medication" not in page
    assert client.get(reverse("patients:medications", args=[patient_a.pk])).status_code == 403
    client.force_login(clinician)
    page = client.get(url).content.decode()
    assert "Erenumab 140 mg monthly" in page


def test_a_patient_sees_only_their_own_current_list(client, clinician, patient_a, patient_b):
    entry(patient_b, clinician, "erenumab", dose="70 mg monthly")
    entry(patient_b, clinician, "topiramate", stopped_ago=100, reason="not_tolerated")
    entry(patient_a, clinician, "propranolol")
    client.force_login(patient_b.user)
    page = client.get(reverse("portal:medications")).content.decode()
    # the list, not the report form's choices (which name every drug)
    shown = page[page.index('id="my-medications"') : page.index('id="report-heading"')]
    assert "Erenumab" in shown
    assert "70 mg monthly" in shown
    assert "Topiramate" not in shown  # stopped: not current
    assert "Propranolol" not in shown  # the other patient's


# --- the patient's reports ---------------------------------------------------------------------


def test_a_patients_report_of_a_start_confirmed_by_a_clinician_becomes_an_entry(
    client, clinician, patient_b
):
    # Given Ben reports in the portal that he started erenumab a week ago
    client.force_login(patient_b.user)
    week_ago = clinic_today() - 7 * DAY
    response = client.post(
        reverse("portal:medications"),
        {"kind": "started", "drug": "erenumab", "on": week_ago.isoformat(), "note": "from my GP"},
    )
    assert response.status_code == 302
    report = MedicationReport.objects.get(patient=patient_b)
    assert report.status == "open"
    assert not PatientMedication.objects.exists()  # nothing reaches the list unseen

    # When a clinician confirms it with the dose
    client.force_login(clinician)
    url = reverse("patients:medication_report_confirm", args=[report.pk])
    assert client.post(url, {"dose": "70 mg monthly"}).status_code == 302
    assert client.post(url, {"dose": "70 mg monthly"}).status_code == 302  # twice: once

    # Then the list has it from that day, and the report names the entry
    added = PatientMedication.objects.get()
    assert (added.patient, added.drug, added.started_on, added.dose) == (
        patient_b,
        "erenumab",
        week_ago,
        "70 mg monthly",
    )
    assert "from my GP" in added.note
    report.refresh_from_db()
    assert (report.status, report.entry, report.resolved_by) == ("confirmed", added, clinician)


def test_a_report_of_a_stop_stops_the_entry_with_the_clinicians_reason(
    client, clinician, patient_b
):
    taken = entry(patient_b, clinician, "topiramate", started_ago=200)
    report = report_medication(
        patient=patient_b, kind="stopped", drug="topiramate", on=clinic_today() - 3 * DAY
    )
    client.force_login(clinician)
    url = reverse("patients:medication_report_confirm", args=[report.pk])

    # Without a reason the clinician is asked for one
    response = client.post(url, {})
    assert response.status_code == 200
    assert "Say why it stopped." in response.content.decode()
    taken.refresh_from_db()
    assert taken.stopped_on is None

    assert client.post(url, {"stop_reason": "not_tolerated"}).status_code == 302
    taken.refresh_from_db()
    assert (taken.stopped_on, taken.stop_reason) == (clinic_today() - 3 * DAY, "not_tolerated")


def test_a_stop_of_a_drug_not_on_the_list_cannot_be_confirmed(patient_b, clinician):
    report = report_medication(
        patient=patient_b, kind="stopped", drug="propranolol", on=clinic_today()
    )
    with pytest.raises(MedicationError):
        confirm_medication_report(report=report, by=clinician, stop_reason="other")
    report.refresh_from_db()
    assert report.status == "open"


def test_a_start_of_a_drug_already_on_the_list_that_day_cannot_be_confirmed(patient_b, clinician):
    taken = entry(patient_b, clinician, "erenumab", started_ago=60)
    report = report_medication(
        patient=patient_b, kind="started", drug="erenumab", on=clinic_today() - 10 * DAY
    )
    with pytest.raises(MedicationError, match="already on the list"):
        confirm_medication_report(report=report, by=clinician)
    assert list(PatientMedication.objects.all()) == [taken]
    report.refresh_from_db()
    assert report.status == "open"


def test_a_dismissed_report_changes_nothing_on_the_list(patient_b, clinician):
    report = report_medication(
        patient=patient_b, kind="started", drug="erenumab", on=clinic_today()
    )
    dismiss_medication_report(report=report, by=clinician)
    report.refresh_from_db()
    assert report.status == "dismissed"
    assert confirm_medication_report(report=report, by=clinician).status == "dismissed"
    assert not PatientMedication.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "maybe"},
        {"drug": "snake_oil"},
        {"on": "{tomorrow}"},
        {"on": "not-a-date"},
        {"note": "x" * 301},
    ],
)
def test_hostile_reports_are_form_errors(client, patient_b, fields):
    client.force_login(patient_b.user)
    data = {"kind": "started", "drug": "erenumab", "on": clinic_today().isoformat()}
    for name, value in fields.items():
        data[name] = value.format(tomorrow=(clinic_today() + DAY).isoformat())
    response = client.post(reverse("portal:medications"), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not MedicationReport.objects.exists()


def test_another_patients_report_is_not_found_for_a_patient(client, patient_a, patient_b):
    report = report_medication(
        patient=patient_b, kind="started", drug="erenumab", on=clinic_today()
    )
    client.force_login(patient_a.user)
    url = reverse("patients:medication_report_confirm", args=[report.pk])
    assert client.post(url, {}).status_code == 404


# --- the audit trail ----------------------------------------------------------------------------


def test_a_change_to_the_list_is_in_the_patients_trail_with_its_author(
    client, clinician, patient_a
):
    from audit.models import ChangeEvent

    client.force_login(clinician)
    client.post(
        reverse("patients:medications", args=[patient_a.pk]),
        {"drug": "erenumab", "started_on": (clinic_today() - 5 * DAY).isoformat()},
    )
    added = PatientMedication.objects.get()
    change = ChangeEvent.objects.get(table_name="patients_patientmedication", operation="insert")
    assert (change.record_id, change.patient_id) == (added.pk, patient_a.pk)
    assert (change.actor_id, change.actor_role) == (clinician.pk, "clinician")
    assert change.changes["drug"] == [None, "erenumab"]
