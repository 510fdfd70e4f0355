"""`widget_attrs`: a widget's attributes as django/forms/widgets/attrs.html writes them, in
Python (clinic/renderers.py): crispy's radio and checkbox groups include that template once an
option."""

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from clinic.renderers import Unknown, attrs

register = template.Library()


@register.filter
def widget_attrs(widget: dict[str, Any]) -> SafeString:
    try:
        return mark_safe(attrs(widget["attrs"]))  # noqa: S308 -- attrs() escapes every part
    except Unknown:
        return render_to_string("bootstrap5/layout/attrs.html", {"widget": widget})
