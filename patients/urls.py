from django.urls import path

from patients.views import medications, staff

app_name = "patients"
urlpatterns = [
    path("", staff.patient_list, name="list"),
    path("new/", staff.patient_create, name="create"),
    path("<int:pk>/", staff.patient_detail, name="detail"),
    path("<int:pk>/edit/", staff.patient_update, name="update"),
    path("<int:pk>/intake/", staff.patient_intake, name="intake"),
    path("<int:pk>/consent/", staff.patient_consent, name="consent"),
    path("<int:pk>/invite/", staff.patient_invite, name="invite"),
    # the medication list: clinicians only
    path("<int:pk>/medications/", medications.medication_list, name="medications"),
    path("medications/<int:pk>/edit/", medications.medication_update, name="medication_update"),
    path(
        "medication-reports/<int:pk>/confirm/",
        medications.medication_report_confirm,
        name="medication_report_confirm",
    ),
    path(
        "medication-reports/<int:pk>/dismiss/",
        medications.medication_report_dismiss,
        name="medication_report_dismiss",
    ),
]
