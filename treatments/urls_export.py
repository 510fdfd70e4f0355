"""FHIR Bulk Data export (treatments/views/fhir_export.py), under /fhir/R4/ ahead of the API's
own routes, whose `<type>` would otherwise take `$export` for a resource type."""

from django.urls import path

from treatments.views import fhir_export

app_name = "fhir_export"
urlpatterns = [
    path("$export", fhir_export.export_kick_off, name="kick_off"),
    path("$export-status/<str:token>", fhir_export.export_status, name="status"),
    path(
        "$export-status/<str:token>/<str:resource_type>.ndjson",
        fhir_export.export_file,
        name="file",
    ),
]
