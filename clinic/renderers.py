"""The form renderer: Django's, with its most repeated widget templates written out in Python.

A form field's widget is a template of its own (`<input>` with a loop over its attributes, an
`<option>` per choice): the new-session page renders about a hundred of them a request, each a
template render of a dozen variables. `WidgetRenderer` gives the same HTML, character for
character (tests/clinic/test_renderers.py compares every one with Django's template), with
string formatting; a widget it does not know, or a value it would not print the way the
template does, goes to Django's template as before.
"""

import html
from collections.abc import Callable
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.safestring import SafeData

WIDGETS = "django/forms/widgets/"


class Unknown(Exception):
    """A value the template would print in its own way (a date, a number): let it."""


def _text(value: Any) -> str:
    """`{{ value }}` of a string: escaped unless marked safe (django.utils.html.escape is
    html.escape, without its lazy-string wrapper)."""
    if type(value) is str:
        return html.escape(value)
    if isinstance(value, SafeData):
        return str(value)
    if isinstance(value, str | Promise):
        return html.escape(str(value))
    raise Unknown


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: str() of anything, escaped unless it was marked safe."""
    if type(value) is str:
        return html.escape(value)
    if isinstance(value, tuple):  # "%s" % a tuple formats its items (or fails): the template's
        raise Unknown
    text = str(value)
    return text if isinstance(value, SafeData) else html.escape(text)


def attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html."""
    return "".join(
        f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: dict[str, Any]) -> str:
    """django/forms/widgets/input.html, with its closing newline."""
    value = widget["value"]
    shown = "" if value is None else f' value="{_formatted(value)}"'
    return (
        f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}'
        f"{attrs(widget['attrs'])}>\n"
    )


def _input_option(widget: dict[str, Any]) -> str:
    """django/forms/widgets/input_option.html (a radio button or a checkbox of a group)."""
    if not widget["wrap_label"]:
        return _input(widget) + "\n"
    the_id = widget["attrs"].get("id")
    label_for = f' for="{_text(the_id)}"' if the_id else ""
    return f"<label{label_for}>{_input(widget)} {_text(widget['label'])}</label>\n"


def _option(widget: dict[str, Any]) -> str:
    """django/forms/widgets/select_option.html."""
    if widget["template_name"] != WIDGETS + "select_option.html":
        raise Unknown
    return (
        f'<option value="{_formatted(widget["value"])}"{attrs(widget["attrs"])}>'
        f"{_text(widget['label'])}</option>\n"
    )


def _select(widget: dict[str, Any]) -> str:
    """django/forms/widgets/select.html."""
    parts = [f'<select name="{_text(widget["name"])}"{attrs(widget["attrs"])}>']
    for group_name, group_choices, _ in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        parts.extend("\n  " + _option(option) for option in group_choices)
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(widget: dict[str, Any]) -> str:
    """django/forms/widgets/textarea.html."""
    value = widget["value"]
    return (
        f'<textarea name="{_text(widget["name"])}"{attrs(widget["attrs"])}>\n'
        f"{_text(value) if value else ''}</textarea>"
    )


# Each template's output as the renderer returns it: stripped of the newlines around it.
FAST: dict[str, Callable[[dict[str, Any]], str]] = {
    **{
        f"{WIDGETS}{name}.html": _input
        for name in (
            "input",
            "text",
            "number",
            "email",
            "url",
            "tel",
            "search",
            "password",
            "hidden",
            "date",
            "datetime",
            "time",
            "color",
            "checkbox",
        )
    },
    WIDGETS + "input_option.html": _input_option,
    WIDGETS + "radio_option.html": _input_option,
    WIDGETS + "checkbox_option.html": _input_option,
    WIDGETS + "select.html": _select,
    WIDGETS + "select_option.html": _option,
    WIDGETS + "textarea.html": _textarea,
}


class WidgetRenderer(DjangoTemplates):
    """settings.FORM_RENDERER: Django's templates, the widgets of FAST in Python."""

    def render(self, template_name, context, request=None):
        fast = FAST.get(template_name)
        if fast is not None and set(context) == {"widget"}:
            try:
                return fast(context["widget"]).strip()
            except (Unknown, KeyError):
                pass
        return super().render(template_name, context, request)
