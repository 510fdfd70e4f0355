import datetime
import re

import pytest
from django.urls import reverse

from tests.conftest import SESSION_TIME, make_patient, session_input
from treatments import protocol
from treatments.models import AdverseEvent, TreatmentSession, VialLot
from treatments.services import record_session, sign_session


def form_data(location, **changes):
    """What the browser posts for a standard session at 10:00 New York time."""
    data = {
        "location": location.pk,
        "reconstituted_at": "2026-03-02T09:40",
        "administered_at": "2026-03-02T10:00",
        "diluent_ml": "4",
        "consent": "session",
        "infection_at_site": "False",
        "hypersensitivity": "False",
        "pregnant_or_breastfeeding": "False",
        "other_toxin_recent": "False",
        "other_toxin_units": "0",
        "vials-TOTAL_FORMS": "1",
        "vials-INITIAL_FORMS": "0",
        "vials-MIN_NUM_FORMS": "1",
        "vials-MAX_NUM_FORMS": "4",
        "vials-0-lot_number": "c1234ab",
        "vials-0-product": "botox_200",
        "vials-0-expiry": "2027-06-30",
        "vials-0-vials": "1",
        "action": "sign",
    }
    data |= {f"units-{site.code}": "5" for site in protocol.FIXED_SITES}
    return data | changes


@pytest.fixture
def clinician_client(client, clinician):
    client.force_login(clinician)
    return client


def test_the_new_session_form_starts_with_31_sites_at_5_units(clinician_client, patient_a):
    response = clinician_client.get(reverse("treatments:session_create", args=[patient_a.pk]))
    sites = response.context["entry"].sites
    assert {code: sites[f"units-{code}"].value() for code in protocol.SITE_CODES} == {
        code: (5 if not site.ftp else None) for code, site in protocol.SITES.items()
    }
    assert 'id="injection-map"' in response.content.decode()


def test_saving_and_signing_a_standard_session(clinician_client, patient_a, location):
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]), form_data(location)
    )
    session = TreatmentSession.objects.get()
    assert response["Location"] == reverse("treatments:session_detail", args=[session.pk])
    assert session.is_signed
    assert session.total_units == 155
    # entered as 10:00 in New York (EST, UTC-5)
    assert session.administered_at == SESSION_TIME
    assert session.vials.get().lot.lot_number == "C1234AB"
    detail = clinician_client.get(response["Location"]).content.decode()
    assert "10:00 EST" in detail
    assert "J0585-JW" in detail


def test_a_blocked_rule_shows_at_its_field_and_saves_nothing(clinician_client, patient_a, location):
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]),
        form_data(location, hypersensitivity="True"),
    )
    assert response.status_code == 200
    assert response.context["entry"].form.errors["hypersensitivity"] == [
        "R11: Hypersensitivity to botulinum toxin: do not inject."
    ]
    assert not TreatmentSession.objects.exists()


def test_a_site_problem_shows_at_the_site(clinician_client, patient_a, location):
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]),
        form_data(location, **{"units-OCC-L2": ""}),
    )
    assert response.context["entry"].sites.errors["units-OCC-L2"] == [
        "R3: Occipitalis left 2: give units or say why it was skipped."
    ]
    assert not TreatmentSession.objects.exists()


def test_an_unacknowledged_warning_saves_a_draft_then_signs_once_ticked(
    clinician_client, patient_a, location
):
    data = form_data(location, **{"units-FRO-L1": "", "skip-FRO-L1": "bruise"})
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]), data
    )
    session = TreatmentSession.objects.get()
    assert response["Location"] == reverse("treatments:session_update", args=[session.pk])
    assert session.status == "draft"
    page = clinician_client.get(response["Location"])
    assert page.context["ack_rules"] == {"R1"}

    clinician_client.post(response["Location"], data | {"acknowledged": ["R1"]})
    session.refresh_from_db()
    assert session.is_signed
    assert session.acknowledged == ["R1"]
    assert session.sites.get(site_code="FRO-L1").skipped_reason == "bruise"


def test_a_known_lot_with_another_expiry_is_questioned(clinician_client, patient_a, location):
    VialLot.objects.create(
        product="botox_200", lot_number="C1234AB", expiry=datetime.date(2027, 1, 31)
    )
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]), form_data(location)
    )
    assert response.context["entry"].vials.forms[0].errors["expiry"] == [
        "Lot C1234AB is on file with expiry 2027-01-31: check the vial."
    ]
    assert not TreatmentSession.objects.exists()


def test_a_known_lot_fills_in_its_product_and_expiry(clinician_client, patient_a, location):
    VialLot.objects.create(
        product="botox_200", lot_number="C1234AB", expiry=datetime.date(2027, 6, 30)
    )
    data = form_data(location, **{"vials-0-product": "", "vials-0-expiry": ""})
    clinician_client.post(reverse("treatments:session_create", args=[patient_a.pk]), data)
    assert TreatmentSession.objects.get().vials.get().lot.expiry == datetime.date(2027, 6, 30)


def test_a_signed_session_is_amended_with_a_reason_not_edited(
    clinician_client, signed_session, location
):
    edit = reverse("treatments:session_update", args=[signed_session.pk])
    amend = reverse("treatments:session_amend", args=[signed_session.pk])
    assert clinician_client.get(edit)["Location"] == amend

    no_reason = clinician_client.post(amend, form_data(location, notes="Changed"))
    assert "reason" in no_reason.context["reason_form"].errors
    original = signed_session.original
    assert original.amendments.count() == 1

    saved = clinician_client.post(amend, form_data(location, notes="Changed", reason="Notes wrong"))
    assert original.amendments.count() == 2
    current = original.amendments.last().new_version
    assert saved["Location"] == reverse("treatments:session_detail", args=[current.pk])
    detail = clinician_client.get(saved["Location"]).content.decode()
    assert "Notes wrong" in detail
    # the history reads as the fields changed, before and after, not a dump of codes
    assert '<th scope="row">Notes</th><td>Amended</td><td>Changed</td>' in detail
    assert "total_units" not in detail
    # the superseded version stays readable, and points to the current one; it is not amended
    old = clinician_client.get(reverse("treatments:session_detail", args=[signed_session.pk]))
    assert "an amendment superseded it" in old.content.decode()
    again = clinician_client.get(amend)
    assert again["Location"] == reverse("treatments:session_detail", args=[signed_session.pk])


def test_the_last_cycles_adverse_event_hint_shows_on_the_next_session(
    clinician_client, signed_session
):
    page = clinician_client.get(
        reverse("treatments:session_create", args=[signed_session.patient.pk])
    )
    assert "trapezius sites lower" in page.content.decode()


def test_recording_an_adverse_event(clinician_client, signed_session):
    url = reverse("treatments:adverse_event_create", args=[signed_session.pk])
    bad = clinician_client.post(
        url, {"term": "other", "onset": "2026-03-01", "severity": "mild", "outcome": "ongoing"}
    )
    assert set(bad.context["form"].errors) == {"description", "onset"}
    clinician_client.post(
        url,
        {
            "term": "eyelid_ptosis",
            "onset": "2026-03-09",
            "severity": "moderate",
            "outcome": "resolving",
            "hint_next_session": "frontalis sites higher",
        },
    )
    event = AdverseEvent.objects.get(term="eyelid_ptosis")
    assert (event.patient, event.reported_by) == (signed_session.patient, "clinician")


def test_lot_recall_lists_every_patient_given_the_lot(
    client, clinic_admin, signed_session, clinician, location
):
    other = make_patient(7, location=location)
    record_session(patient=other, injector=clinician, data=session_input(location))
    client.force_login(clinic_admin)
    response = client.get(reverse("treatments:lot_recall"), {"lot": "c1234ab"})
    patients = [use.session.patient for use in response.context["uses"]]
    assert patients == [signed_session.patient, other]
    # the version the amendment superseded used the lot too, but is neither listed nor counted
    assert response.context["page_obj"].paginator.count == 2
    assert client.get(reverse("treatments:lot_recall"), {"lot": "NOPE"}).context["uses"] == []


def test_front_desk_sees_session_dates_and_cycles_but_no_clinical_content(
    client, front_desk, signed_session
):
    client.force_login(front_desk)
    html = client.get(reverse("patients:detail", args=[signed_session.patient.pk])).content.decode()
    assert "2026-03-02: cycle 1" in html
    # (the page's CSRF tokens, 64 random letters and digits, once held "155" by chance)
    assert "155" not in re.sub(r"[A-Za-z0-9]{32,}", "", html)
    assert "C1234AB" not in html
    assert "Neck pain" not in html


@pytest.mark.parametrize("cycles", [1, 6])
def test_the_chart_query_count_does_not_grow_with_sessions(
    clinician_client,
    patient_a,
    clinician,
    location,
    cycles,
    django_assert_max_num_queries,
    time_machine,
):
    # R21: no session in the future, so the clock stands after the last cycle
    time_machine.move_to(SESSION_TIME + datetime.timedelta(days=84 * cycles))
    for cycle in range(cycles):
        when = SESSION_TIME + datetime.timedelta(days=84 * cycle)
        session = record_session(
            patient=patient_a, injector=clinician, data=session_input(location, when=when)
        )
        sign_session(session=session, user=clinician, acknowledged=[])
    clinician_client.force_login(clinician)  # at the pinned clock: the login does not expire
    # session, user, patient, sessions, sites, vials, lots, adverse events, the outcomes
    # section's diary entries and questionnaire responses (2), the diary before cycle 1 and
    # around the R14 review (1), the session's sliding expiry (3), the navbar's count of
    # open alerts (1), and the medication list of the timeline (1, issue 18)
    with django_assert_max_num_queries(17):  # +1: the audit trail's one INSERT
        response = clinician_client.get(reverse("treatments:chart", args=[patient_a.pk]))
    assert len(response.context["sessions"]) == cycles
    assert response.context["site_history"][3] == ("Temporalis", [40] * cycles)


def test_the_new_session_form_offers_the_last_lot_used_at_the_location(
    clinician_client, signed_session, patient_a, time_machine
):
    # Twelve weeks after patient_b's session, its lot (to 2027-06-30) is still in date
    time_machine.move_to(SESSION_TIME + datetime.timedelta(weeks=12))
    response = clinician_client.get(reverse("treatments:session_create", args=[patient_a.pk]))
    first_vial = response.context["entry"].vials.forms[0]
    assert first_vial["lot_number"].value() == "C1234AB"
    assert first_vial["expiry"].value() == datetime.date(2027, 6, 30)


def test_units_above_a_muscles_maximum_show_at_the_site(clinician_client, patient_a, location):
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]),
        form_data(location, **{"units-PRO-M": "10"}),
    )
    assert response.context["entry"].sites.errors["units-PRO-M"] == [
        "R18: Procerus: 10 U is above the 5 U maximum."
    ]
    assert not TreatmentSession.objects.exists()


def test_45_units_at_a_site_are_refused_at_the_site(clinician_client, patient_a, location):
    frontalis = {f"units-{code}": "45" for code in ("FRO-L1", "FRO-L2", "FRO-R1", "FRO-R2")}
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]),
        form_data(location, acknowledged=["R2"], **frontalis),
    )
    assert response.context["entry"].sites.errors["units-FRO-L1"] == [
        "R18: no site holds more than 10 U."
    ]
    assert not TreatmentSession.objects.exists()


@pytest.mark.parametrize("ml", ["0", "-4", "40"])
def test_impossible_saline_shows_at_its_field(clinician_client, patient_a, location, ml):
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]),
        form_data(location, diluent_ml=ml),
    )
    errors = response.context["entry"].form.errors["diluent_ml"]
    assert any(error.startswith("R19:") for error in errors)
    assert not TreatmentSession.objects.exists()


def test_an_extra_vial_signs_once_its_reason_is_given(clinician_client, patient_a, location):
    # four 200 U vials: R19 warns too (4 mL of saline, not the label's 16 mL)
    data = form_data(location, acknowledged=["R19"], **{"vials-0-vials": "4"})
    response = clinician_client.post(
        reverse("treatments:session_create", args=[patient_a.pk]), data
    )
    session = TreatmentSession.objects.get()
    assert session.status == "draft"
    page = clinician_client.get(response["Location"])
    assert [f.field for f in page.context["findings"] if f.rule == "R20"] == ["extra_vial_reason"]
    clinician_client.post(response["Location"], data | {"extra_vial_reason": "Two dropped"})
    session.refresh_from_db()
    assert session.is_signed


def test_a_child_is_blocked_at_the_under_18_reason(clinician_client, clinician, location):
    child = make_patient(
        9,
        date_of_birth=datetime.date(2016, 5, 1),  # 9 on the session date, 2026-03-02
        location=location,
        primary_clinician=clinician,
    )
    response = clinician_client.post(
        reverse("treatments:session_create", args=[child.pk]), form_data(location)
    )
    errors = response.context["entry"].form.errors["under_18_reason"]
    assert [e[:4] for e in errors] == ["R17:"]
    assert not TreatmentSession.objects.exists()
    clinician_client.post(
        reverse("treatments:session_create", args=[child.pk]),
        form_data(location, under_18_reason="Adolescent clinic, specialist plan"),
    )
    assert TreatmentSession.objects.get().is_signed


# --- R21: a session is recorded once; drafts are discarded with a reason -----------------------

TOKEN = "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5"


def test_resubmitting_the_same_new_session_form_shows_the_recorded_session(
    clinician_client, patient_a, location
):
    url = reverse("treatments:session_create", args=[patient_a.pk])
    first = clinician_client.post(url, form_data(location, form_token=TOKEN))
    session = TreatmentSession.objects.get()
    assert session.is_signed
    # Back, and "Save and sign" again: the same form, the same token
    again = clinician_client.post(url, form_data(location, form_token=TOKEN), follow=True)
    assert again.redirect_chain == [(first.url, 302)]
    assert "This session is already recorded." in again.content.decode()
    assert TreatmentSession.objects.get() == session


def test_resubmitting_a_saved_draft_form_shows_the_draft(clinician_client, patient_a, location):
    url = reverse("treatments:session_create", args=[patient_a.pk])
    clinician_client.post(url, form_data(location, form_token=TOKEN, action="draft"))
    draft = TreatmentSession.objects.get()
    again = clinician_client.post(url, form_data(location, form_token=TOKEN), follow=True)
    assert again.redirect_chain == [(reverse("treatments:session_update", args=[draft.pk]), 302)]
    assert "This session is already recorded." in again.content.decode()
    draft.refresh_from_db()
    assert not draft.is_signed


def test_a_second_form_for_the_same_day_names_the_recorded_session(
    clinician_client, patient_a, location
):
    url = reverse("treatments:session_create", args=[patient_a.pk])
    clinician_client.post(url, form_data(location, form_token=TOKEN))
    other_tab = form_data(
        location,
        form_token="0e4c0a4e-3b1f-4d57-9a0e-5d7c1b2a3f40",
        administered_at="2026-03-02T16:00",
        reconstituted_at="2026-03-02T15:40",
        early_reason="second try",
    )
    response = clinician_client.post(url, other_tab)
    assert response.status_code == 200
    errors = response.context["entry"].form.errors["administered_at"]
    assert errors == [
        "R21: This patient already has a session on 2026-03-02: cycle 1 (signed). "
        "Continue or amend that one."
    ]
    assert TreatmentSession.objects.count() == 1


def test_a_new_session_dated_in_the_future_is_a_form_error(
    clinician_client, patient_a, location, time_machine
):
    time_machine.move_to(SESSION_TIME)  # 10:00 in New York
    url = reverse("treatments:session_create", args=[patient_a.pk])
    response = clinician_client.post(
        url,
        form_data(
            location, administered_at="2027-06-01T10:00", reconstituted_at="2027-06-01T09:40"
        ),
    )
    assert response.status_code == 200
    assert response.context["entry"].form.errors["administered_at"] == [
        "R21: A session cannot be dated in the future."
    ]
    assert not TreatmentSession.objects.exists()


def test_a_draft_is_discarded_with_a_reason_and_shown_on_the_chart(
    clinician_client, patient_a, location
):
    url = reverse("treatments:session_create", args=[patient_a.pk])
    clinician_client.post(url, form_data(location, action="draft"))
    draft = TreatmentSession.objects.get()
    response = clinician_client.post(
        reverse("treatments:session_discard", args=[draft.pk]), {"reason": "wrong patient"}
    )
    assert response.url == reverse("treatments:chart", args=[patient_a.pk])
    draft.refresh_from_db()
    assert (draft.status, draft.voided_reason) == ("voided", "wrong patient")
    chart = clinician_client.get(response.url).content.decode()
    assert "Discarded" in chart
    assert "wrong patient" in chart
    # the day is free again: a new form records cycle 1
    clinician_client.post(url, form_data(location))
    assert TreatmentSession.objects.signed().get().cycle_number == 1


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001, "bad\x00byte", None])
def test_hostile_discard_input_is_a_form_error(clinician_client, patient_a, location, reason):
    url = reverse("treatments:session_create", args=[patient_a.pk])
    clinician_client.post(url, form_data(location, action="draft"))
    draft = TreatmentSession.objects.get()
    data = {} if reason is None else {"reason": reason}
    response = clinician_client.post(reverse("treatments:session_discard", args=[draft.pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_signed_session_is_not_discarded(clinician_client, signed_session):
    response = clinician_client.post(
        reverse("treatments:session_discard", args=[signed_session.pk]), {"reason": "oops"}
    )
    assert response.url == reverse("treatments:session_detail", args=[signed_session.pk])
    signed_session.refresh_from_db()
    assert signed_session.is_signed


def test_discarding_a_missing_session_is_not_found_and_a_get_is_not_allowed(
    clinician_client, signed_session
):
    url = reverse("treatments:session_discard", args=[signed_session.pk + 1000])
    assert clinician_client.post(url, {"reason": "x"}).status_code == 404
    assert clinician_client.get(url).status_code == 405
