"""The reports' GET form: a location (or all) and a range of local dates, `from` and `to`."""

import datetime
from collections.abc import Sequence

from django import forms

from clinic.models import Location
from clinic.params import EARLIEST_DATE, LATEST_DATE
from treatments.services.reports import MAX_RANGE_DAYS, ReportRange, default_range

# The query string's names: `from` is a Python keyword, so the fields are start and end.
PARAMETERS = {"start": "from", "end": "to"}


class ReportRangeForm(forms.Form):
    location = forms.ChoiceField(required=False, label="Location")
    start = forms.DateField(required=False, label="From", input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, label="To (included)", input_formats=["%Y-%m-%d"])

    def __init__(self, data, *, locations: Sequence[Location]):
        super().__init__(data)
        self.locations = {str(location.pk): location for location in locations}
        choice = self.fields["location"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [("", "All locations")] + [
            (pk, location.name) for pk, location in self.locations.items()
        ]
        for name in ("start", "end"):
            self.fields[name].widget = forms.DateInput(attrs={"type": "date"})

    def add_prefix(self, field_name: str) -> str:
        return PARAMETERS.get(field_name, field_name)

    def clean_start(self) -> datetime.date | None:
        return _plausible(self.cleaned_data.get("start"))

    def clean_end(self) -> datetime.date | None:
        return _plausible(self.cleaned_data.get("end"))

    def clean(self):
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if self.errors:
            return cleaned
        location = self.locations.get(cleaned.get("location") or "")
        if start is None and end is None:
            start, end = default_range(location)
        elif start is None or end is None:
            raise forms.ValidationError("Give both dates, or neither for last month.")
        if end < start:
            raise forms.ValidationError("The range ends before it starts.")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise forms.ValidationError(f"A report covers at most {MAX_RANGE_DAYS} days.")
        cleaned.update(start=start, end=end, location_object=location)
        return cleaned

    @property
    def range(self) -> ReportRange:
        """The valid form's range (call is_valid() first)."""
        data = self.cleaned_data
        return ReportRange(data["start"], data["end"], data["location_object"])


def _plausible(day: datetime.date | None) -> datetime.date | None:
    if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
        raise forms.ValidationError(f"Give a date from {EARLIEST_DATE:%Y} to {LATEST_DATE:%Y}.")
    return day
