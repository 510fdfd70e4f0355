"""The form renderer writes the common widgets in Python: the HTML must be Django's, exactly."""

import datetime
import itertools
from pathlib import Path

import django
import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils.safestring import mark_safe
from phonenumber_field.formfields import PhoneNumberField

from clinic.renderers import FAST, WidgetRenderer

HOSTILE = "a \"quoted\" <b>&amp; 'it'"
VALUES = [
    None,
    "",
    "plain",
    HOSTILE,
    mark_safe("<i>safe</i>"),
    0,
    5,
    1.5,
    datetime.date(2026, 3, 4),
]
ATTRS = [
    {},
    {"class": "form-control", "id": "id_x"},
    {"min": 1, "max": 10, "required": True, "disabled": False, "aria-label": HOSTILE},
    {"data-x": None, "placeholder": mark_safe("&lt;safe&gt;"), "autofocus": True},
]
CHOICES = [
    [("", "---------"), ("a", "Alpha"), ("b", HOSTILE), (3, "Three")],
    [("Group <1>", [("x", "Ex"), ("y", "Why")]), ("z", "Zed"), (True, "Yes"), (False, "No")],
    [(1, 1), (2, datetime.date(2026, 1, 2))],  # labels the template localizes
]


def widgets():
    simple = [
        forms.TextInput,
        forms.NumberInput,
        forms.EmailInput,
        forms.URLInput,
        forms.PasswordInput,
        forms.HiddenInput,
        forms.DateInput,
        forms.DateTimeInput,
        forms.TimeInput,
        forms.Textarea,
        forms.CheckboxInput,
    ]
    for cls, attrs in itertools.product(simple, ATTRS):
        yield cls(attrs=dict(attrs)), VALUES + [True, False]
    for cls, attrs, choices in itertools.product(
        [forms.Select, forms.SelectMultiple, forms.RadioSelect, forms.CheckboxSelectMultiple],
        ATTRS,
        CHOICES,
    ):
        yield cls(attrs=dict(attrs), choices=choices), [None, "a", "b", 3, "3", ["x", "z"], True]
    yield forms.NullBooleanSelect(), [None, True, False, "unknown"]
    when = datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.UTC)
    yield forms.SplitDateTimeWidget(), [None, when]
    yield PhoneNumberField().widget, [None, "+447700900123", HOSTILE]


def test_every_fast_widget_renders_as_djangos_template():
    fast, django_templates = WidgetRenderer(), DjangoTemplates()
    compared = 0
    for widget, values in widgets():
        for value in values:
            for attrs in ATTRS:
                ours = widget.render("field-name", value, attrs=dict(attrs), renderer=fast)
                theirs = widget.render(
                    "field-name", value, attrs=dict(attrs), renderer=django_templates
                )
                assert ours == theirs, (type(widget).__name__, value, attrs)
                compared += 1
    assert compared > 2000


def test_subwidgets_of_a_choice_field_render_as_djangos():
    class Form(forms.Form):
        pick = forms.ChoiceField(choices=CHOICES[0], widget=forms.RadioSelect)
        many = forms.MultipleChoiceField(choices=CHOICES[1], widget=forms.CheckboxSelectMultiple)

    for renderer in (WidgetRenderer(), DjangoTemplates()):
        form = Form({"pick": "b", "many": ["x"]}, renderer=renderer)
        tags = [box.tag() for name in ("pick", "many") for box in form[name]]
        labels = [str(box) for name in ("pick", "many") for box in form[name]]
        if isinstance(renderer, WidgetRenderer):
            ours = tags, labels
        else:
            assert (tags, labels) == ours


def test_the_fast_templates_are_djangos_own_not_an_apps_override():
    """An installed app could override a widget template; the Python version would then lie."""
    engine = WidgetRenderer().engine
    django_forms = Path(django.__file__).parent / "forms" / "templates"
    for name in FAST:
        origin = Path(engine.get_template(name).origin.name)
        assert origin.is_relative_to(django_forms), origin


def test_the_renderer_is_the_default():
    assert isinstance(get_default_renderer(), WidgetRenderer)


@pytest.mark.parametrize("name", sorted(FAST))
def test_each_fast_template_exists_in_django(name):
    assert DjangoTemplates().get_template(name)


def test_the_radio_and_checkbox_groups_render_as_crispys_own_template():
    """templates/bootstrap5/layout/radio_checkbox_select.html overrides crispy-bootstrap5's with
    one include written in Python: the same HTML for every kind of group."""
    import crispy_bootstrap5
    from django.template import engines

    engine = engines["django"]
    theirs = engine.from_string(
        (
            Path(crispy_bootstrap5.__file__).parent
            / "templates/bootstrap5/layout/radio_checkbox_select.html"
        ).read_text()
    )
    ours = engine.get_template("bootstrap5/layout/radio_checkbox_select.html")
    assert "site-packages" not in ours.origin.name  # ours, not crispy's

    class Form(forms.Form):
        pick = forms.ChoiceField(choices=CHOICES[0], widget=forms.RadioSelect)
        many = forms.MultipleChoiceField(choices=CHOICES[1], widget=forms.CheckboxSelectMultiple)
        odd = forms.ChoiceField(
            choices=CHOICES[2], widget=forms.RadioSelect(attrs={"data-x": HOSTILE})
        )

    compared = 0
    for data in (None, {"pick": "b", "many": ["x", "z"], "odd": "1"}, {"pick": "nope"}):
        form = Form(data)
        if data:
            form.is_valid()
        for name in form.fields:
            for extra in ({}, {"inline_class": "inline", "field_class": "col-6"}):
                context = {"field": form[name], **extra}
                assert ours.render(context) == theirs.render(context), (name, data, extra)
                compared += 1
    assert compared == 18
