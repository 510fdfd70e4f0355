"""/fhir/R4/: the FHIR API (treatments/fhir/views.py). A type name starts with a capital letter,
so operations such as `$export` can sit beside the types."""

from django.urls import path, register_converter

from treatments.fhir import views


class ResourceTypeConverter:
    regex = "[A-Z][A-Za-z]{0,39}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ResourceTypeConverter, "fhirtype")

app_name = "fhir"

urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path("<fhirtype:type_name>", views.search, name="search"),
    path("<fhirtype:type_name>/<str:resource_id>", views.read, name="read"),
]
