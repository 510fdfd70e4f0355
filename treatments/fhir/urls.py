"""/fhir/R4/: the FHIR API (treatments/fhir/views.py). Type names start with a capital letter,
so operations such as `$export` can sit beside them."""

from django.urls import path, re_path

from treatments.fhir import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    re_path(r"^(?P<type_name>[A-Z][A-Za-z]{0,39})$", views.search, name="search"),
    re_path(
        r"^(?P<type_name>[A-Z][A-Za-z]{0,39})/(?P<resource_id>[^/]{1,200})$",
        views.read,
        name="read",
    ),
]
