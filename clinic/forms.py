"""Input checks every app's forms and views share (plausible dates and safe `next` targets),
and the login and second-factor forms."""

import datetime

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from clinic.params import EARLIEST_DATE, LATEST_DATE, is_plausible_date


def validate_plausible_date(value: datetime.date | datetime.datetime) -> None:
    day = value.date() if isinstance(value, datetime.datetime) else value
    if not is_plausible_date(day):
        raise forms.ValidationError(
            "Enter a date between %(earliest)s and %(latest)s.",
            code="implausible_date",
            params={"earliest": EARLIEST_DATE.year, "latest": LATEST_DATE.year},
        )


class PlausibleDatesMixin:
    """Every date and date-time field of the form refuses years outside EARLIEST_DATE and
    LATEST_DATE with a form error. Put it first in a form's bases."""

    fields: dict[str, forms.Field]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.DateField | forms.DateTimeField):
                field.validators.append(validate_plausible_date)


class ChoicesReadWhole(forms.models.ModelChoiceIterator):
    """A select's rows in one query read whole. Django's iterator reads them through
    `QuerySet.iterator()`, on PostgreSQL a server-side cursor: DECLARE, FETCH and CLOSE, three
    round trips for a list of 20 locations or 100 clinicians, at every render of the select."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class ChoicesReadWholeMixin:
    """Every select of the form over a queryset reads it whole (ChoicesReadWhole). Put it
    first in a form's bases."""

    fields: dict[str, forms.Field]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField):
                field.iterator = ChoicesReadWhole
                field.widget.choices = field.choices  # the widget holds its own iterator


def safe_next_url(request: HttpRequest, value: str | None, default: str) -> str:
    """`value` when it is a path on this site, else `default`. Never a view name: Django's
    redirect() would try to reverse a bare word (NoReverseMatch, a server error)."""
    if (
        value
        and value.startswith("/")
        and url_has_allowed_host_and_scheme(
            value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return value
    return default


class LoginForm(AuthenticationForm):
    """Django's login form, whose username also refuses more characters than an account name
    can have: Django sets the field's max_length after the field is built, without its
    validator, so an overlong name reached the failed-login record (a server error on
    PostgreSQL). Such a name is a form error, and no account's attempt is counted."""

    def __init__(self, request: HttpRequest | None = None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        limit = self.username_field.max_length or 254  # as Django's form sets the field's
        self.fields["username"].validators.append(MaxLengthValidator(limit))


class SecondFactorForm(forms.Form):
    """The code from an authenticator app, or one of the recovery codes."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


class EnrolmentForm(forms.Form):
    code = forms.CharField(
        label="Code from your app",
        max_length=16,
        strip=True,
        help_text="The 6-digit code your authenticator app shows for Cadence.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
