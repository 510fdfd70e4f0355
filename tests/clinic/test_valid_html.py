"""Every full page is valid HTML, by the Nu HTML Checker (vnu): every page the role x URL matrix
renders, and the pages in states the matrix does not reach (a form with errors, a session with
no next visit, a booked visit in the portal ...).

vnu runs once for the whole batch (a JVM starts slowly). `make test` installs Java and the jar
(the Makefile's `vnu` target, into var/tools/); VNU_JAR points elsewhere.
"""

import datetime
import json
import os
import re
import shutil
import subprocess

from django.urls import reverse

from clinic.mfa import base32_secret, current_code
from clinic.models import User
from patients.models import DiaryEntry, MedicationReport, PatientMedication
from tests.access_matrix import ROLES
from tests.clinic.test_url_matrix import ROUTES, concrete_url
from tests.conftest import BASE_DIR, PASSWORD, clinic_today, make_offer, make_user, session_input
from treatments.links import make_link_token
from treatments.models import InboundMessage, TreatmentSession
from treatments.services import record_session, report_side_effect, sign_session

VNU_JAR = os.environ.get("VNU_JAR") or str(
    max((BASE_DIR / "var" / "tools").glob("vnu-*.jar"), key=os.path.getmtime, default="no jar")
)

# htmx's attributes are not in the HTML standard: the one complaint of vnu's we let pass.
HTMX_ATTRIBUTE = re.compile(
    r"^Attribute “hx-[\w:.-]+” not allowed on element “\w+” at this point\.$"
)


def is_full_page(response) -> bool:
    """An HTML document: not a redirect, not another type, not the empty body of a 405. (No
    request here is an htmx request, so none gets a fragment.)"""
    return (
        response.status_code != 302
        and response["Content-Type"].startswith("text/html")
        and bool(response.content.strip())
    )


def page_name(who: str, route: str) -> str:
    slug = re.sub(r"[^\w-]+", "_", route).strip("_") or "root"
    return f"{who}--{slug}.html"


def matrix_pages(client, personas, objects) -> dict[str, str]:
    """Every full page a GET of every route gives every role, by file name (role and route)."""
    pages = {}
    for role in ROLES:
        client.logout()
        if personas[role]:
            client.force_login(personas[role])
        for route in ROUTES:
            response = client.get(concrete_url(route, objects))
            if is_full_page(response):
                pages[page_name(role, route)] = response.content.decode()
    return pages


def other_states(
    client, personas, patient_a, patient_b, session, appointment, alert
) -> dict[str, str]:
    """Pages in states the matrix's GETs do not reach, each of which must be a 200 page."""
    visit_day = appointment.local_starts_at.date().isoformat()
    calendar = f"/treatments/calendar/?location={appointment.location_id}&date={visit_day}"
    today = clinic_today().isoformat()
    # patient_b's session, amended: the version superseded, and the current one's amend form
    superseded = TreatmentSession.objects.get(patient=patient_b, status="superseded")
    current = superseded.later_versions.get()
    # patient_a waits for an earlier slot and has an open offer (the waitlist and its link)
    offer = make_offer(appointment, to=patient_a, by=personas["front_desk"])
    offer_link = reverse("links:offer", args=[make_link_token(purpose="offer", offer_id=offer.pk)])
    # patient_b's check-in, by the message's link: the questions, an answer refused, a danger
    # answer (the emergency message); then the portal's page of it, answered
    checkin_link = reverse(
        "links:checkin", args=[make_link_token(purpose="checkin", session_id=current.pk)]
    )
    # texts from patients: one waiting, one handled; a text the provider could not deliver
    for n, handled in enumerate((None, appointment.starts_at)):
        InboundMessage.objects.create(
            patient=patient_a if handled is None else None,
            from_number="+12125550100",
            body="Running <late> & sorry",
            provider_message_id=f"SM{n:032x}",
            action="inbox" if handled is None else "stop",
            received_at=appointment.starts_at,
            handled_at=handled,
            handled_by=personas["front_desk"] if handled else None,
        )
    appointment.reminders.filter(kind="visit_week").update(
        status="sent",
        sent_at=appointment.starts_at,
        delivery_status="undelivered",
        delivery_error="30003",
    )
    # patient_b's medication list: an entry still taken, and an open report of a start
    report_entry = PatientMedication.objects.create(
        patient=patient_b,
        drug="erenumab",
        dose="70 mg monthly",
        started_on=clinic_today() - datetime.timedelta(days=30),
        recorded_by=personas["clinician"],
    )
    report = MedicationReport.objects.create(
        patient=patient_b, kind="started", drug="propranolol", on=clinic_today()
    )
    requests = {
        "anonymous": [
            ("post", "/accounts/login/", {"username": "nobody", "password": "x"}),
            ("get", offer_link, None),
            ("get", checkin_link, None),
            ("post", checkin_link, {"eyelids": "maybe"}),
            ("post", checkin_link, {"eyelids": "yes", "trouble": ["breathing"], "other": "x"}),
        ],
        "front_desk": [
            ("post", "/patients/new/", {}),
            ("get", f"{calendar}&view=day", None),
            ("get", f"{calendar}&view=week", None),
            ("get", "/treatments/due/", None),
            ("get", "/treatments/waitlist/", None),
            ("get", "/treatments/waitlist/?show=offers", None),
            ("get", "/treatments/inbox/", None),
            ("get", "/treatments/reminders/", None),
            ("get", f"/patients/{appointment.patient_id}/", None),
            # a call back without its date: the call page with its error
            ("post", f"/treatments/patients/{patient_a.pk}/calls/", {"outcome": "call_back"}),
            ("get", f"/treatments/patients/{patient_a.pk}/book/", None),
            ("get", "/patients/?q=Morgan", None),
            # a search for a date that is no date: the registry with its message
            ("post_follow", "/patients/", {"q": "31/02/1980"}),
            # the no-show button's confirmation page
            ("post", f"/treatments/appointments/{appointment.pk}/status/", {"status": "noshow"}),
        ],
        "clinician": [
            ("get", f"/treatments/sessions/{session.pk}/", None),
            ("get", f"/treatments/patients/{patient_a.pk}/chart/", None),
            ("post", f"/treatments/patients/{patient_a.pk}/sessions/new/", {"action": "sign"}),
            # an open alert: the inbox, an acknowledgement without a note, the patient's report
            ("get", "/treatments/alerts/", None),
            ("get", f"/treatments/alerts/{alert.pk}/", None),
            ("post", f"/treatments/alerts/{alert.pk}/acknowledge/", {"note": " "}),
            ("get", f"/treatments/sessions/{alert.event.session_id}/", None),
            ("get", f"/treatments/adverse-events/{alert.event_id}/review/", None),
            ("get", f"{calendar}&view=day", None),
            ("get", f"/treatments/sessions/{superseded.pk}/", None),
            ("get", f"/treatments/sessions/{current.pk}/", None),
            ("post", f"/treatments/sessions/{current.pk}/amend/", {"reason": ""}),
            # the check-in's draft events, to confirm or dismiss
            ("get", f"/treatments/sessions/{current.pk}/", None),
            # the medication list: an entry refused, a report confirmed with a wrong reason
            ("post", f"/patients/{patient_b.pk}/medications/", {"stopped_on": "x"}),
            (
                "post",
                f"/patients/medication-reports/{report.pk}/confirm/",
                {"stop_reason": "other"},
            ),
            ("get", f"/patients/medications/{report_entry.pk}/edit/", None),
        ],
        # patient_b: a booked visit, a signed session, diary days
        "patient_b": [
            ("get", "/portal/", None),
            ("get", "/portal/diary/", None),
            ("get", f"/portal/diary/{today}/", None),
            ("post", f"/portal/diary/{today}/", {"hours": "99"}),
            ("post", "/portal/questionnaires/hit6/", {}),
            ("get", f"/portal/visits/{appointment.pk}/change/", None),
            ("get", f"/portal/visits/{appointment.pk}/cancel/", None),
            # moving the visit: a day's times, and a time refused
            ("get", f"/portal/visits/{appointment.pk}/move/?day={visit_day}", None),
            ("post", f"/portal/visits/{appointment.pk}/move/?day={visit_day}", {"slot": "x"}),
            ("get", "/portal/treatment/", None),
            ("get", "/portal/progress/", None),
            ("get", f"/portal/treatment/{current.pk}/checkin/", None),
            ("post", "/portal/medicines/", {"kind": "stopped", "on": "2999-01-01"}),
            # a calendar link: the copy button and the webcal link
            ("post_follow", "/portal/calendar-feed/", {"action": "new"}),
            ("post_follow", "/portal/earlier-slot/", {"action": "join"}),
            # a danger answer: the emergency message
            (
                "post_follow",
                "/portal/treatment/",
                {"term": "dyspnoea", "onset": alert.event.onset, "severity": "severe"},
            ),
        ],
    }
    users = personas | {"patient_b": patient_b.user}
    pages = {}
    for who, calls in requests.items():
        client.logout()
        if users[who]:
            client.force_login(users[who])
        for method, url, data in calls:
            if method == "post_follow":
                response = client.post(url, data, follow=True)
            else:
                response = getattr(client, method)(url, data)
            assert response.status_code == 200, f"{who} {method} {url}: {response.status_code}"
            pages[page_name(f"{who}-{method}", url)] = response.content.decode()
    return pages


def second_factor_pages(client, settings) -> dict[str, str]:
    """The second factor's pages for a staff member who logged in with a password only: the
    enrolment (and its error), the recovery codes, the code asked at login (and its error), and
    the lockout page."""
    user = make_user("newstaff", User.Role.FRONT_DESK)
    pages = {}

    def keep(name, response, status=200):
        assert response.status_code == status, f"{name}: {response.status_code}"
        pages[page_name("newstaff", name)] = response.content.decode()

    client.logout()
    client.post("/accounts/login/", {"username": "newstaff", "password": PASSWORD})
    keep("setup", client.get("/accounts/two-factor/setup/"))
    keep("setup-error", client.post("/accounts/two-factor/setup/", {"code": "12"}))
    key = client.session["mfa_setup_key"]
    code = current_code(base32_secret(key))
    keep("codes", client.post("/accounts/two-factor/setup/", {"code": code}, follow=True))
    client.logout()
    client.post("/accounts/login/", {"username": "newstaff", "password": PASSWORD})
    keep("verify", client.get("/accounts/two-factor/"))
    keep("verify-error", client.post("/accounts/two-factor/", {"code": "not-a-code"}))
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/accounts/login/", {"username": user.username, "password": "x"})
    keep("locked", response, status=429)
    return pages


def vnu_messages(paths) -> list[dict]:
    java = shutil.which("java")
    assert java, "no Java: `make vnu` installs Debian's default-jre-headless"
    assert os.path.isfile(VNU_JAR), f"no {VNU_JAR}: `make vnu` installs it"
    result = subprocess.run(
        [java, "-jar", VNU_JAR, "--errors-only", "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return json.loads(result.stderr)["messages"]  # vnu writes its report to stderr


def test_every_full_page_is_valid_html(
    client,
    personas,
    patient_a,
    patient_b,
    location,
    signed_session,
    booked_appointment,
    one_of_every_kind,
    tmp_path,
    settings,
):
    # Given one object of every kind, as the URL matrix has them
    objects = one_of_every_kind
    # And Ben's report of trouble swallowing, an open urgent alert
    event = report_side_effect(
        session=signed_session,
        user=patient_b.user,
        term="dysphagia",
        description="",
        onset=signed_session.session_date + datetime.timedelta(days=1),
        severity="severe",
    )
    objects["alert"] = event.alert
    # And Alice, signed for cycle 1 with nothing booked; Ben has diary days
    clinician = personas["clinician"]
    session = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    sign_session(session=session, user=clinician, acknowledged=[])
    for days_ago, severity in ((1, 0), (2, 2), (3, 3)):
        DiaryEntry.objects.create(
            patient=patient_b,
            date=clinic_today() - datetime.timedelta(days=days_ago),
            headache=bool(severity),
            hours=5 if severity else 0,
            severity=severity,
            migraine=severity == 3,
        )

    # When every role opens every route, and the other states are shown, and vnu checks each
    pages = matrix_pages(client, personas, objects)
    assert len(pages) > 200, f"the matrix gave only {len(pages)} full pages"
    pages |= other_states(
        client, personas, patient_a, patient_b, session, booked_appointment, event.alert
    )
    pages |= second_factor_pages(client, settings)
    for name, html in pages.items():
        (tmp_path / name).write_text(html)
    messages = vnu_messages(sorted(tmp_path.iterdir()))

    # Then there is no error, but for htmx's attributes
    errors = [
        f"{message.get('url', '').rsplit('/', 1)[-1]}:{message.get('lastLine', '?')}: "
        f"{message['message']}  [{message.get('extract', '').strip()}]"
        for message in messages
        if message["type"] != "info" and not HTMX_ATTRIBUTE.match(message["message"])
    ]
    assert errors == [], f"{len(errors)} errors in {len(pages)} pages:\n" + "\n".join(errors)
