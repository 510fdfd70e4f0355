"""The clinic admin's form for a new API client (the FHIR API's bearer tokens)."""

from django import forms

from clinic.models import Location


def scope_choices() -> list[tuple[str, str]]:
    from treatments.fhir.mappers import RESOURCE_TYPES

    return [(name, name) for name in sorted(RESOURCE_TYPES)]


class ApiClientForm(forms.Form):
    name = forms.CharField(
        max_length=120, help_text="The system that will call the API, e.g. Hospital EHR."
    )
    scopes = forms.MultipleChoiceField(
        label="Resource types it may read",
        widget=forms.CheckboxSelectMultiple,
        choices=scope_choices,
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.order_by("name"),
        required=False,
        empty_label="Every location",
        help_text="Limit it to one location's patients and their records.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Name the system that will call the API.")
        return name
