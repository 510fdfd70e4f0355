"""axe-core finds nothing serious or critical on the main pages of every role, on a desktop and
on a phone.

axe-core is vendored under tests/browser/vendor/axe-core/ (a test-only asset, never served; its
version is in VERSION there). It goes in through the DevTools protocol (`page.evaluate`), which
the page's Content Security Policy does not govern: the pages are checked with their CSP on.
"""

import datetime
from pathlib import Path

import pytest

from clinic.mfa import current_code
from clinic.models import User
from patients.models import DiaryEntry, MedicationReport, PatientMedication
from tests.conftest import (
    PASSWORD,
    clinic_today,
    enter_second_factor,
    give_totp_device,
    make_user,
)
from treatments.models import InboundMessage, TreatmentCourse
from treatments.services import report_side_effect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
GRAVE = ("serious", "critical")
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


def main_pages(patient_a, patient_b, session, appointment) -> dict[str, list[str]]:
    """The pages each role works in, by the username that logs in (None: nobody)."""
    today = clinic_today()
    visit_day = appointment.local_starts_at.date().isoformat()
    calendar = f"/treatments/calendar/?location={appointment.location_id}&date={visit_day}"
    staff = [
        "/",
        "/patients/",
        f"/patients/{patient_b.pk}/",
        "/patients/new/",
        f"/patients/{patient_b.pk}/edit/",
        calendar,
        f"{calendar}&view=day",
        "/treatments/due/",
        f"/treatments/patients/{patient_a.pk}/calls/",
        f"/treatments/patients/{patient_a.pk}/book/",
        f"/treatments/appointments/{appointment.pk}/reschedule/",
        f"/treatments/appointments/{appointment.pk}/cancel/",
        "/treatments/reminders/",
        "/treatments/inbox/",
        "/accounts/password_change/",
    ]
    return {
        None: ["/accounts/login/", "/accounts/password_reset/"],
        "frontdesk": staff,
        "clinician": [
            "/",
            f"/patients/{patient_b.pk}/",
            f"/patients/{patient_b.pk}/intake/",
            f"/patients/{patient_b.pk}/medications/",
            f"/treatments/patients/{patient_a.pk}/sessions/new/",
            f"/treatments/patients/{patient_b.pk}/chart/",
            f"/treatments/sessions/{session.pk}/",
            f"/treatments/sessions/{session.pk}/amend/",
            f"/treatments/sessions/{session.pk}/adverse-events/new/",
            "/treatments/lots/",
            calendar,
            "/treatments/alerts/",
        ],
        # the audit trail after the staff above opened Ben's record
        "clinicadmin": [
            "/",
            "/treatments/lots/",
            "/treatments/due/",
            f"/audit/patients/{patient_b.pk}/",
        ],
        "patientb": [
            "/portal/",
            "/portal/diary/",
            f"/portal/diary/{today.isoformat()}/",
            "/portal/questionnaires/",
            "/portal/questionnaires/midas/",
            "/portal/questionnaires/hit6/",
            "/portal/treatment/",
            "/portal/contact/",
            "/portal/medicines/",
            "/portal/progress/",
            "/audit/mine/",
            f"/portal/visits/{appointment.pk}/change/",
            f"/portal/visits/{appointment.pk}/cancel/",
            # moving the visit: the days, and a day's times
            f"/portal/visits/{appointment.pk}/move/?day={appointment.local_starts_at.date()}",
            "/accounts/password_change/",
        ],
    }


def settle(page) -> None:
    """Wait for what scripts add after the load (the injection map), and on a phone open the
    navigation that folds behind a toggle, so that axe sees its links."""
    if page.locator("#injection-map").count():
        page.locator("#injection-map svg").first.wait_for()
    toggle = page.get_by_role("button", name="Toggle navigation")
    if toggle.is_visible():
        toggle.click()
        page.locator("#nav.collapse.show").wait_for()


def grave_violations(page) -> list[str]:
    """axe's serious and critical findings on the page, one line per rule and element."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{rule['id']} ({rule['impact']}): {' '.join(node['target'][0:1])}: "
        f"{node['failureSummary'].splitlines()[-1].strip()}"
        for rule in results["violations"]
        if rule["impact"] in GRAVE
        for node in rule["nodes"]
    ]


@pytest.mark.parametrize("size", SIZES)
def test_the_main_pages_of_every_role_have_no_serious_accessibility_violation(
    browser, live_server, personas, patient_a, signed_session, booked_appointment, size
):
    # Given Alice is due soon with nothing booked, and Ben has a signed session, a booked visit
    # and a few diary days
    patient_b = booked_appointment.patient
    TreatmentCourse.objects.create(
        patient=patient_a,
        started_on=clinic_today() - datetime.timedelta(days=80),
        last_session_on=clinic_today() - datetime.timedelta(days=80),
    )
    for days_ago, headache in ((1, False), (2, True), (3, True)):
        DiaryEntry.objects.create(
            patient=patient_b,
            date=clinic_today() - datetime.timedelta(days=days_ago),
            headache=headache,
            hours=4 if headache else 0,
            severity=days_ago - 1 if headache else 0,
            migraine=days_ago == 3,
        )
    # And Ben reported trouble swallowing: an open urgent alert
    event = report_side_effect(
        session=signed_session,
        user=patient_b.user,
        term="dysphagia",
        description="",
        onset=signed_session.session_date + datetime.timedelta(days=1),
        severity="severe",
    )
    # And Ben takes a CGRP antibody, stopped topiramate, and reported starting propranolol
    clinician = personas["clinician"]
    since = clinic_today() - datetime.timedelta(days=60)
    for drug, stopped in (("erenumab", None), ("topiramate", since)):
        PatientMedication.objects.create(
            patient=patient_b,
            drug=drug,
            started_on=since - datetime.timedelta(days=90),
            stopped_on=stopped,
            stop_reason="not_tolerated" if stopped else "",
            recorded_by=clinician,
        )
    MedicationReport.objects.create(
        patient=patient_b, kind="started", drug="propranolol", on=clinic_today()
    )
    pages = main_pages(patient_a, patient_b, signed_session, booked_appointment)
    pages["clinician"].append(f"/treatments/alerts/{event.alert.pk}/")
    # And Ben texted the clinic: a text waiting in the inbox
    InboundMessage.objects.create(
        patient=patient_b,
        from_number="+12125550100",
        body="Running late, sorry",
        provider_message_id="SM" + "1" * 32,
        action="inbox",
        received_at=booked_appointment.starts_at,
    )
    # And a new staff account, which is sent to set up its second factor
    make_user("newstaff", User.Role.FRONT_DESK)
    pages["newstaff"] = []

    # When each role opens its pages at this size, and axe checks each one
    found = {}
    for username, urls in pages.items():
        # Reduced motion: Bootstrap's menu then opens without its animation.
        context = browser.new_context(
            base_url=live_server.url, reduced_motion="reduce", **SIZES[size]
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        if username:
            user = User.objects.get(username=username)
            staff = user.role in User.STAFF_ROLES
            if staff and username != "newstaff":
                give_totp_device(user)
            page.goto("/accounts/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(lambda url: "/accounts/login/" not in url)
            if staff:
                # the second step (the code, or enrolment for a new account) is a page too
                settle(page)
                for violation in grave_violations(page):
                    found.setdefault(f"{username} {page.url}", []).append(violation)
                if username == "newstaff":
                    # and the recovery codes, once the app's code turns the second factor on
                    secret = page.locator("#mfa-secret").inner_text()
                    page.get_by_label("Code from your app").fill(current_code(secret))
                    page.get_by_role("button", name="Turn on").click()
                    page.wait_for_url("**/recovery-codes/**")
                    settle(page)
                    for violation in grave_violations(page):
                        found.setdefault(f"{username} {page.url}", []).append(violation)
                    context.close()
                    continue
                enter_second_factor(page, user)
                page.wait_for_url(lambda url: "/accounts/two-factor/" not in url)
        for url in urls:
            response = page.goto(url)
            assert response.ok, f"{username} got {response.status} at {url}"
            settle(page)
            for violation in grave_violations(page):
                found.setdefault(f"{username or 'anonymous'} {url}", []).append(violation)
        context.close()

    # Then there is nothing serious or critical
    report = "\n".join(f"{where}\n  " + "\n  ".join(lines) for where, lines in found.items())
    assert found == {}, f"{size}: {sum(map(len, found.values()))} violations\n{report}"
