"""The committed role x URL table: what a GET of every route gives each role.

Keyed by the route as the resolver spells it. A route missing here fails
tests/clinic/test_url_matrix.py, so every new route must say who may open it.

Outcomes: ok (200), login (redirect to a login page: ours or the admin's), redirect (any
other 302), bad_request (400), unauthorized (401: the FHIR API, which never redirects),
forbidden (403), not_found (404), not_allowed (405).
Columns: anonymous, patient, front_desk, clinician, clinic_admin.
"""

ROLES = ("anonymous", "patient", "front_desk", "clinician", "clinic_admin")


def row(*outcomes):
    assert len(outcomes) == len(ROLES)
    return dict(zip(ROLES, outcomes, strict=True))


# Django's admin sends anyone but a clinic admin to a login page: ours (LoginRequiredMiddleware)
# or its own, which says "you are not authorized" to a logged-in user.
def admin_row(clinic_admin_outcome):
    return row("login", "login", "login", "login", clinic_admin_outcome)


def admin_model(app, model, *, add="ok", delete="forbidden"):
    """The six admin routes of one model; `add` and `delete` as the admin allows them."""
    base = f"admin/{app}/{model}/"
    return {
        base: admin_row("ok"),
        f"{base}add/": admin_row(add),
        f"{base}<path:object_id>/": admin_row("redirect"),
        f"{base}<path:object_id>/change/": admin_row("ok"),
        f"{base}<path:object_id>/history/": admin_row("ok"),
        f"{base}<path:object_id>/delete/": admin_row(delete),
    }


EXPECTED = {
    # clinic
    "": row("login", "redirect", "redirect", "redirect", "redirect"),
    "healthz": row("ok", "ok", "ok", "ok", "ok"),
    "accounts/login/": row("ok", "ok", "ok", "ok", "ok"),
    "accounts/logout/": row("login", "not_allowed", "not_allowed", "not_allowed", "not_allowed"),
    "accounts/keep-alive/": row(
        "login", "not_allowed", "not_allowed", "not_allowed", "not_allowed"
    ),
    "accounts/password_change/": row("login", "ok", "ok", "ok", "ok"),
    "accounts/password_change/done/": row("login", "ok", "ok", "ok", "ok"),
    "accounts/password_reset/": row("ok", "ok", "ok", "ok", "ok"),
    "accounts/password_reset/done/": row("ok", "ok", "ok", "ok", "ok"),
    "accounts/reset/<uidb64>/<token>/": row("ok", "ok", "ok", "ok", "ok"),
    "accounts/reset/done/": row("ok", "ok", "ok", "ok", "ok"),
    # the second factor: staff only (a patient is told nothing exists). The matrix's staff have
    # passed it with an authenticator, so each page sends them on; tests/clinic/test_mfa.py
    # covers the pages themselves.
    "accounts/two-factor/": row("login", "not_found", "redirect", "redirect", "redirect"),
    "accounts/two-factor/setup/": row("login", "not_found", "redirect", "redirect", "redirect"),
    # the recovery codes are shown once, right after enrolment; later it sends you home
    "accounts/two-factor/recovery-codes/": row(
        "login", "not_found", "redirect", "redirect", "redirect"
    ),
    # patients: the registry (staff). A patient is told nothing exists.
    "patients/": row("login", "not_found", "ok", "ok", "ok"),
    "patients/new/": row("login", "not_found", "ok", "ok", "ok"),
    "patients/<int:pk>/": row("login", "not_found", "ok", "ok", "ok"),
    "patients/<int:pk>/edit/": row("login", "not_found", "ok", "ok", "ok"),
    "patients/<int:pk>/intake/": row("login", "not_found", "forbidden", "ok", "forbidden"),
    # the medication list: clinicians only; front desk sees no medication (issue 18)
    "patients/<int:pk>/medications/": row("login", "not_found", "forbidden", "ok", "forbidden"),
    "patients/medications/<int:pk>/edit/": row(
        "login", "not_found", "forbidden", "ok", "forbidden"
    ),
    "patients/medication-reports/<int:pk>/confirm/": row(
        "login", "not_found", "forbidden", "not_allowed", "forbidden"
    ),
    "patients/medication-reports/<int:pk>/dismiss/": row(
        "login", "not_found", "forbidden", "not_allowed", "forbidden"
    ),
    "patients/<int:pk>/consent/": row(
        "login", "not_found", "not_allowed", "not_allowed", "not_allowed"
    ),
    # patients: the portal
    "portal/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    # the diary and questionnaires: only the patient's own, so no id in the path
    "portal/diary/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/diary/<str:day>/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/questionnaires/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/questionnaires/midas/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/questionnaires/hit6/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/medicines/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/progress/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    # download my record: the page and its two files, the patient's own (issue 17)
    "portal/record/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/record/fhir.json": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/record/summary.pdf": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    # admin: clinic admins only
    "admin/": admin_row("ok"),
    # The admin has no login of its own: ours (password and second factor), then back.
    "admin/login/": row("login", "login", "login", "login", "redirect"),
    # The admin sends a logged-in non-admin from its logout to its index (then to its login).
    "admin/logout/": row("login", "redirect", "redirect", "redirect", "not_allowed"),
    "admin/password_change/": admin_row("ok"),
    "admin/password_change/done/": admin_row("ok"),
    "admin/autocomplete/": admin_row("forbidden"),
    "admin/jsi18n/": admin_row("ok"),
    "admin/r/<path:content_type_id>/<path:object_id>/": admin_row("not_found"),
    "admin/^(?P<app_label>auth|clinic|axes|patients|treatments)/$": admin_row("ok"),
    "admin/(?P<url>.*)$": admin_row("not_found"),
    # Groups are made by migrations from clinic/access.py: read-only in the admin.
    **admin_model("auth", "group", add="forbidden"),
    # Users, locations, patients: no deleting (deactivate, discharge); records are kept.
    # No page sets another user's password: only its owner does (by the emailed link).
    **admin_model("clinic", "user"),
    # Failed logins (django-axes): read-only; deleting them unlocks.
    **admin_model("axes", "accessattempt", add="forbidden", delete="ok"),
    **admin_model("clinic", "location"),
    **admin_model("patients", "patient"),
    # Consent history is append-only: recorded on the patient page, read here.
    **admin_model("patients", "contactconsent", add="forbidden"),
    # Clinical records change only through the clinician's pages, where the rules run.
    **{
        route: outcome
        for model in (
            "treatmentcourse",
            "treatmentsession",
            "injectionsite",
            "viallot",
            "vialuse",
            "adverseevent",
            "sessionamendment",
            "appointment",
            "appointmentevent",
            "calloutcome",
            "priorauthorization",
            "authorizationdocument",
        )
        for route, outcome in admin_model("treatments", model, add="forbidden").items()
    },
    # treatments: clinicians only; lot recall also for clinic admins
    "treatments/patients/<int:patient_pk>/sessions/new/": row(
        "login", "not_found", "forbidden", "ok", "forbidden"
    ),
    "treatments/patients/<int:patient_pk>/chart/": row(
        "login", "not_found", "forbidden", "ok", "forbidden"
    ),
    # the continuation-evidence PDF (issue 16): clinicians, and clinic admins who send it to payers
    "treatments/patients/<int:patient_pk>/continuation.pdf": row(
        "login", "not_found", "forbidden", "ok", "ok"
    ),
    "treatments/sessions/<int:pk>/": row("login", "not_found", "forbidden", "ok", "forbidden"),
    # the session is signed: editing it means amending it
    "treatments/sessions/<int:pk>/edit/": row(
        "login", "not_found", "forbidden", "redirect", "forbidden"
    ),
    "treatments/sessions/<int:pk>/amend/": row(
        "login", "not_found", "forbidden", "ok", "forbidden"
    ),
    # discarding a draft: a POST with a reason, clinicians only
    "treatments/sessions/<int:pk>/discard/": row(
        "login", "not_found", "forbidden", "not_allowed", "forbidden"
    ),
    "treatments/sessions/<int:pk>/adverse-events/new/": row(
        "login", "not_found", "forbidden", "ok", "forbidden"
    ),
    **admin_model("treatments", "openinghours", delete="ok"),
    **admin_model("treatments", "injectorday", delete="ok"),
    **admin_model("treatments", "closure", delete="ok"),
    "treatments/lots/": row("login", "not_found", "forbidden", "ok", "ok"),
    # clinic reports (clinicians, clinic admin) and the billing export (the clinic admin only)
    "treatments/reports/": row("login", "not_found", "forbidden", "ok", "ok"),
    "treatments/reports/clinic.csv": row("login", "not_found", "forbidden", "ok", "ok"),
    "treatments/reports/billing.csv": row("login", "not_found", "forbidden", "forbidden", "ok"),
    # side effects: turning a patient's report into an adverse event, resolving one; the alerts
    # inbox (clinicians only)
    "treatments/adverse-events/<int:pk>/review/": row(
        "login", "not_found", "forbidden", "ok", "forbidden"
    ),
    "treatments/adverse-events/<int:pk>/resolve/": row(
        "login", "not_found", "forbidden", "not_allowed", "forbidden"
    ),
    "treatments/adverse-events/<int:pk>/dismiss/": row(
        "login", "not_found", "forbidden", "not_allowed", "forbidden"
    ),
    "treatments/alerts/": row("login", "not_found", "forbidden", "ok", "forbidden"),
    "treatments/alerts/<int:pk>/": row("login", "not_found", "forbidden", "ok", "forbidden"),
    "treatments/alerts/<int:pk>/acknowledge/": row(
        "login", "not_found", "forbidden", "not_allowed", "forbidden"
    ),
    # the schedule: every staff role books and works the due list
    # the patient already has a visit booked: booking sends staff to move it instead
    "treatments/patients/<int:patient_pk>/book/": row(
        "login", "not_found", "redirect", "redirect", "redirect"
    ),
    "treatments/patients/<int:patient_pk>/calls/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/appointments/<int:pk>/reschedule/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/appointments/<int:pk>/cancel/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/due/": row("login", "not_found", "ok", "ok", "ok"),
    # reminders: the front desk's list of failed and skipped messages, and resending one
    "treatments/reminders/": row("login", "not_found", "ok", "ok", "ok"),
    # booked visits that a closure or leave covers, to be moved
    "treatments/closures/visits/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/reminders/<int:pk>/resend/": row(
        "login", "not_found", "not_allowed", "not_allowed", "not_allowed"
    ),
    # texts from patients (the SMS provider's inbound webhook): staff only
    "treatments/inbox/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/inbox/<int:pk>/handled/": row(
        "login", "not_found", "not_allowed", "not_allowed", "not_allowed"
    ),
    # the SMS provider's webhooks: public (its signature, not a login), POST only
    "webhooks/twilio/status/": row(*["not_allowed"] * 5),
    "webhooks/twilio/inbound/": row(*["not_allowed"] * 5),
    # signed links in messages: public; the matrix's made-up token is refused for everyone
    "r/confirm/<str:token>/": row(*["bad_request"] * 5),
    "r/cancel/<str:token>/": row(*["bad_request"] * 5),
    "r/stop/<str:token>/": row(*["bad_request"] * 5),
    "r/offer/<str:token>/": row(*["bad_request"] * 5),
    "r/checkin/<str:token>/": row(*["bad_request"] * 5),
    # a text message's short link: public; the matrix's made-up code is unknown to everyone
    "s/<str:code>": row(*["not_found"] * 5),
    # the waitlist: the staff's list, asking for a patient (POST), the patient's own page
    "treatments/waitlist/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/patients/<int:patient_pk>/waitlist/": row(
        "login", "not_found", "not_allowed", "not_allowed", "not_allowed"
    ),
    "portal/earlier-slot/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    # prior authorizations: the worklist for all staff; recorded and edited by the front desk
    # and clinicians; a document downloaded by any staff (an upload is a POST)
    "treatments/authorizations/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/patients/<int:patient_pk>/authorizations/new/": row(
        "login", "not_found", "ok", "ok", "forbidden"
    ),
    "treatments/authorizations/<int:pk>/": row("login", "not_found", "ok", "ok", "forbidden"),
    "treatments/authorizations/<int:pk>/documents/": row(
        "login", "not_found", "not_allowed", "not_allowed", "forbidden"
    ),
    "treatments/authorization-documents/<int:pk>/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/authorization-documents/<int:pk>/remove/": row(
        "login", "not_found", "not_allowed", "not_allowed", "forbidden"
    ),
    # invitations: staff send them; the link's page answers anyone (a made-up token: invalid)
    "patients/<int:pk>/invite/": row(
        "login", "not_found", "not_allowed", "not_allowed", "not_allowed"
    ),
    "welcome/<uidb64>/<token>/": row("ok", "ok", "ok", "ok", "ok"),
    # the portal: the matrix's visit is patient_b's, so patient_a gets 404 on it
    "portal/visits/<int:pk>/confirm/": row(
        "login", "not_allowed", "forbidden", "forbidden", "forbidden"
    ),
    "portal/visits/<int:pk>/cancel/": row(
        "login", "not_found", "forbidden", "forbidden", "forbidden"
    ),
    "portal/visits/<int:pk>/change/": row(
        "login", "not_found", "forbidden", "forbidden", "forbidden"
    ),
    "portal/visits/<int:pk>/calendar.ics": row(
        "login", "not_found", "forbidden", "forbidden", "forbidden"
    ),
    "portal/calendar-feed/": row("login", "not_allowed", "forbidden", "forbidden", "forbidden"),
    # booking and moving one's own visit: patient_a has no session yet (nothing to offer, but
    # the page answers); patient_b's visit is not theirs (404)
    "portal/book/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    "portal/visits/<int:pk>/move/": row(
        "login", "not_found", "forbidden", "forbidden", "forbidden"
    ),
    "portal/treatment/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    # the check-in of one's own session: the matrix's session is patient_b's (404 for patient_a)
    "portal/treatment/<int:pk>/checkin/": row(
        "login", "not_found", "forbidden", "forbidden", "forbidden"
    ),
    "portal/contact/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
    # a private calendar feed: public, by its secret (a made-up one finds nothing)
    "feed/<str:token>.ics": row(*["not_found"] * 5),
    "treatments/calendar/": row("login", "not_found", "ok", "ok", "ok"),
    "treatments/appointments/<int:pk>/status/": row(
        "login", "not_found", "not_allowed", "not_allowed", "not_allowed"
    ),
    "treatments/appointments/<int:pk>/undo/": row(
        "login", "not_found", "not_allowed", "not_allowed", "not_allowed"
    ),
    "treatments/appointments/<int:pk>/calendar.ics": row("login", "not_found", "ok", "ok", "ok"),
}

# FHIR bulk export (issue 17): API clients by token and clinic admins by session. No credentials:
# 401; a patient is told nothing exists, other staff are refused; the admin's kick-off without
# `Prefer: respond-async` is a 400, and a made-up export id is a 404.
EXPECTED |= {
    "fhir/R4/$export": row("unauthorized", "not_found", "forbidden", "forbidden", "bad_request"),
    "fhir/R4/$export-status/<str:token>": row(
        "unauthorized", "not_found", "forbidden", "forbidden", "not_found"
    ),
    "fhir/R4/$export-status/<str:token>/<str:resource_type>.ndjson": row(
        "unauthorized", "not_found", "forbidden", "forbidden", "not_found"
    ),
}

# The audit trail: the clinic admin's per-patient trail and its export; a patient's accounting of
# who opened their record.
EXPECTED |= {
    "audit/patients/<int:pk>/": row("login", "not_found", "forbidden", "forbidden", "ok"),
    "audit/patients/<int:pk>/export.csv": row("login", "not_found", "forbidden", "forbidden", "ok"),
    "audit/mine/": row("login", "ok", "forbidden", "forbidden", "forbidden"),
}

# The FHIR API (treatments/fhir/): the CapabilityStatement is public; the rest answers 401 (an
# OperationOutcome, never a login redirect) without a token or session. A patient reads only
# their own resources: another's Patient is a 404. API clients' rows are in
# tests/treatments/test_fhir_api.py (tokens are not sessions). The clinic admin's page of API
# clients, where tokens are made and revoked.
EXPECTED |= {
    "fhir/R4/metadata": row("ok", "ok", "ok", "ok", "ok"),
    "fhir/R4/<fhirtype:type_name>": row("unauthorized", "ok", "ok", "ok", "ok"),
    "fhir/R4/<fhirtype:type_name>/<str:resource_id>": row(
        "unauthorized", "not_found", "ok", "ok", "ok"
    ),
    "treatments/api-clients/": row("login", "not_found", "forbidden", "forbidden", "ok"),
    "treatments/api-clients/new/": row("login", "not_found", "forbidden", "forbidden", "ok"),
    "treatments/api-clients/<int:pk>/revoke/": row(
        "login", "not_found", "forbidden", "forbidden", "not_allowed"
    ),
}

# The audited column: the routes that show or change a patient's data. Opening one records an
# AccessEvent for each patient it shows (docs/audit.md); tests/audit/test_audited_routes.py
# fails for a patient-data route missing here, and for a route here that leaves no row.
AUDITED = frozenset(
    {
        # the registry and the patient pages
        "patients/",
        "patients/<int:pk>/",
        "patients/<int:pk>/edit/",
        "patients/<int:pk>/intake/",
        "patients/<int:pk>/consent/",
        "patients/<int:pk>/invite/",
        "patients/<int:pk>/medications/",
        "patients/medications/<int:pk>/edit/",
        "patients/medication-reports/<int:pk>/confirm/",
        "patients/medication-reports/<int:pk>/dismiss/",
        # the portal: every page shows the patient's own record
        "portal/",
        "portal/diary/",
        "portal/diary/<str:day>/",
        "portal/questionnaires/",
        "portal/questionnaires/midas/",
        "portal/questionnaires/hit6/",
        "portal/medicines/",
        "portal/progress/",
        "portal/record/",
        "portal/record/fhir.json",
        "portal/record/summary.pdf",
        "portal/visits/<int:pk>/confirm/",
        "portal/visits/<int:pk>/cancel/",
        "portal/visits/<int:pk>/change/",
        "portal/visits/<int:pk>/calendar.ics",
        "portal/book/",
        "portal/visits/<int:pk>/move/",
        "portal/treatment/",
        "portal/treatment/<int:pk>/checkin/",
        "portal/contact/",
        # sessions, chart, adverse events, alerts, lot recall
        "treatments/patients/<int:patient_pk>/sessions/new/",
        "treatments/patients/<int:patient_pk>/chart/",
        "treatments/patients/<int:patient_pk>/continuation.pdf",
        "treatments/sessions/<int:pk>/",
        "treatments/sessions/<int:pk>/edit/",
        "treatments/sessions/<int:pk>/amend/",
        "treatments/sessions/<int:pk>/discard/",
        "treatments/sessions/<int:pk>/adverse-events/new/",
        "treatments/adverse-events/<int:pk>/review/",
        "treatments/adverse-events/<int:pk>/resolve/",
        "treatments/adverse-events/<int:pk>/dismiss/",
        "treatments/alerts/",
        "treatments/alerts/<int:pk>/",
        "treatments/alerts/<int:pk>/acknowledge/",
        "treatments/lots/",
        # the billing export names every session's patient
        "treatments/reports/billing.csv",
        # the schedule: booking, the due list, reminders, the calendar
        "treatments/patients/<int:patient_pk>/book/",
        "treatments/patients/<int:patient_pk>/calls/",
        "treatments/appointments/<int:pk>/reschedule/",
        "treatments/appointments/<int:pk>/cancel/",
        "treatments/appointments/<int:pk>/status/",
        "treatments/appointments/<int:pk>/undo/",
        "treatments/appointments/<int:pk>/calendar.ics",
        "treatments/due/",
        "treatments/reminders/",
        "treatments/reminders/<int:pk>/resend/",
        "treatments/inbox/",
        "treatments/inbox/<int:pk>/handled/",
        "treatments/closures/visits/",
        "treatments/calendar/",
        # signed links and the calendar feed: no login, the token names the patient
        "r/confirm/<str:token>/",
        "r/cancel/<str:token>/",
        "r/stop/<str:token>/",
        "r/offer/<str:token>/",
        "r/checkin/<str:token>/",
        "feed/<str:token>.ics",
        # the waitlist
        "treatments/waitlist/",
        "treatments/patients/<int:patient_pk>/waitlist/",
        "portal/earlier-slot/",
        # the FHIR API: every call, with the patients whose resources it returned
        "fhir/R4/<fhirtype:type_name>",
        "fhir/R4/<fhirtype:type_name>/<str:resource_id>",
        # prior authorizations: the worklist, the record's pages and its documents
        "treatments/authorizations/",
        "treatments/patients/<int:patient_pk>/authorizations/new/",
        "treatments/authorizations/<int:pk>/",
        "treatments/authorizations/<int:pk>/documents/",
        "treatments/authorization-documents/<int:pk>/",
        "treatments/authorization-documents/<int:pk>/remove/",
        # the audit trail itself: reading it is a look at the record
        "audit/patients/<int:pk>/",
        "audit/patients/<int:pk>/export.csv",
        "audit/mine/",
        # the admin's pages of patient records (lists, and one record's change and history)
        *[
            f"admin/{model}/{page}"
            for model in (
                "patients/patient",
                "patients/contactconsent",
                "treatments/treatmentcourse",
                "treatments/treatmentsession",
                "treatments/adverseevent",
                "treatments/appointment",
                "treatments/calloutcome",
                "treatments/priorauthorization",
            )
            for page in ("", "<path:object_id>/change/", "<path:object_id>/history/")
        ],
    }
)
