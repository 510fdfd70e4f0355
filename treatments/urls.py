from django.urls import path

from treatments.views import (
    alerts,
    api_clients,
    authorizations,
    calendar,
    closures,
    evidence,
    inbox,
    reminders,
    reports,
    schedule,
    sessions,
    waitlist,
)

app_name = "treatments"
urlpatterns = [
    path("patients/<int:patient_pk>/sessions/new/", sessions.session_create, name="session_create"),
    path("patients/<int:patient_pk>/chart/", sessions.chart, name="chart"),
    path(
        "patients/<int:patient_pk>/continuation.pdf",
        evidence.continuation_pdf,
        name="continuation_pdf",
    ),
    path("sessions/<int:pk>/", sessions.session_detail, name="session_detail"),
    path("sessions/<int:pk>/edit/", sessions.session_update, name="session_update"),
    path("sessions/<int:pk>/amend/", sessions.session_amend, name="session_amend"),
    path("sessions/<int:pk>/discard/", sessions.session_discard, name="session_discard"),
    path(
        "sessions/<int:pk>/adverse-events/new/",
        sessions.adverse_event_create,
        name="adverse_event_create",
    ),
    path(
        "adverse-events/<int:pk>/review/",
        alerts.adverse_event_review,
        name="adverse_event_review",
    ),
    path(
        "adverse-events/<int:pk>/resolve/",
        alerts.adverse_event_resolve,
        name="adverse_event_resolve",
    ),
    path(
        "adverse-events/<int:pk>/dismiss/",
        alerts.adverse_event_dismiss,
        name="adverse_event_dismiss",
    ),
    path("lots/", sessions.lot_recall, name="lot_recall"),
    # clinic reports (clinicians, clinic admin) and the billing export (clinic admin)
    path("reports/", reports.report_view, name="reports"),
    path("reports/clinic.csv", reports.report_csv, name="report_csv"),
    path("reports/billing.csv", reports.billing_csv, name="billing_csv"),
    # the clinicians' alerts inbox (side effects the patients report)
    path("alerts/", alerts.alert_list, name="alert_list"),
    path("alerts/<int:pk>/", alerts.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/acknowledge/", alerts.alert_acknowledge, name="alert_acknowledge"),
    # the schedule: booking and the due list
    path("patients/<int:patient_pk>/book/", schedule.book, name="book"),
    path("patients/<int:patient_pk>/calls/", schedule.call_outcome_create, name="call_outcome"),
    path(
        "appointments/<int:pk>/reschedule/",
        schedule.appointment_reschedule,
        name="appointment_reschedule",
    ),
    path("appointments/<int:pk>/cancel/", schedule.appointment_cancel, name="appointment_cancel"),
    path("due/", schedule.due_list_view, name="due_list"),
    path("closures/visits/", closures.closure_visit_list, name="closure_visit_list"),
    path("reminders/", reminders.reminder_list, name="reminder_list"),
    # the FHIR API's clients (the clinic admin's)
    path("api-clients/", api_clients.api_client_list, name="api_client_list"),
    path("api-clients/new/", api_clients.api_client_create, name="api_client_create"),
    path("api-clients/<int:pk>/revoke/", api_clients.api_client_revoke, name="api_client_revoke"),
    path("reminders/<int:pk>/resend/", reminders.reminder_resend, name="reminder_resend"),
    # texts patients send to the clinic's number
    path("inbox/", inbox.inbound_list, name="inbound_list"),
    path("inbox/<int:pk>/handled/", inbox.inbound_handled, name="inbound_handled"),
    # the waitlist
    path("waitlist/", waitlist.waitlist_list, name="waitlist"),
    path("patients/<int:patient_pk>/waitlist/", waitlist.waitlist_patient, name="waitlist_patient"),
    # prior authorizations and their documents (issue 16)
    path("authorizations/", authorizations.authorization_list, name="authorization_list"),
    path(
        "patients/<int:patient_pk>/authorizations/new/",
        authorizations.authorization_create,
        name="authorization_create",
    ),
    path(
        "authorizations/<int:pk>/",
        authorizations.authorization_detail,
        name="authorization_detail",
    ),
    path(
        "authorizations/<int:pk>/documents/",
        authorizations.document_upload,
        name="authorization_document_upload",
    ),
    path(
        "authorization-documents/<int:pk>/",
        authorizations.document_download,
        name="authorization_document",
    ),
    path(
        "authorization-documents/<int:pk>/remove/",
        authorizations.document_remove,
        name="authorization_document_remove",
    ),
    # the calendar
    path("calendar/", calendar.calendar_view, name="calendar"),
    path("appointments/<int:pk>/status/", calendar.appointment_status, name="appointment_status"),
    path("appointments/<int:pk>/undo/", calendar.appointment_undo, name="appointment_undo"),
    path("appointments/<int:pk>/calendar.ics", calendar.appointment_ics, name="appointment_ics"),
]
