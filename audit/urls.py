from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("patients/<int:pk>/", views.patient_audit, name="patient"),
    path("patients/<int:pk>/export.csv", views.patient_audit_csv, name="patient_csv"),
    path("mine/", views.portal_access, name="mine"),
]
