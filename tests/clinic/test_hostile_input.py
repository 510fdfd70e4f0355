"""Hostile input never gives a server error: a 400, a form error, a 404 or a redirect instead.

Every route the URL resolver knows is opened by every role with hostile values in each query
parameter the code reads (and some it does not), in each path parameter, and posted to each
form the pages render (one field at a time with the others as rendered, and all at once, plus
a field nobody asked for). Hypothesis draws the values: very long strings, NUL bytes, unicode,
dates of year 1 and 9999, huge and negative numbers, values a `next` field must not follow.
"""

import random
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest
from django.db import connection, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.access_matrix import ROLES
from tests.clinic.test_url_matrix import ROUTES, concrete_url

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = 3

# Routes that end the user's session: posting to them would sign the walker out mid-walk.
SIGN_OUT = ("accounts/logout/", "admin/logout/")

CLASSIC = [
    "",
    "\x00",
    "a\x00b",
    "x" * 5000,
    "0001-01-01",
    "9999-12-31",
    "0001-01",
    "9999-12",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "9999-12-31 23:59:59",
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "☃💉\u202e\ufeff",
    "javascript:alert(1)",
    "//evil.example/",
    "https://evil.example/",
    "admin:index",
    "treatments:due_list",
    "' OR 1=1 --",
    "<script>x</script>",
    "2026-02-30",
    "1|2026-01-01T09:00:00+00:00",
    "1|9999-12-31T23:59:59+00:00",
]


def hostile_values() -> st.SearchStrategy[str]:
    """Classic hostile strings, and generated ones of the same kinds."""
    printable = st.characters(exclude_categories=("Cs",))  # lone surrogates cannot be encoded
    return st.one_of(
        st.sampled_from(CLASSIC),
        st.text(alphabet=printable, max_size=40),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.dates().map(lambda day: day.isoformat()),
        st.datetimes().map(lambda moment: moment.isoformat()),
        st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=5), st.text(max_size=5)),
    )


def _names_in_source() -> tuple[set[str], set[str]]:
    """The query and form keys the views read by name, and the query keys templates link with."""
    code = "\n".join(
        path.read_text()
        for app in ("clinic", "patients", "treatments")
        for path in (ROOT / app).rglob("*.py")
    )
    templates = "\n".join(path.read_text() for path in (ROOT / "templates").rglob("*.html"))
    query = set(re.findall(r"GET(?:\.get\(|\[)\"(\w+)\"", code))
    query |= set(re.findall(r"[?&](?:amp;)?(\w+)=", templates))
    posted = set(re.findall(r"POST(?:\.get\(|\[)\"(\w+)\"", code))
    return query, posted


SOURCE_QUERY, SOURCE_POST = _names_in_source()
# The admin's changelist parameters, pagination, and the redirect targets Django knows.
QUERY_NAMES = sorted(SOURCE_QUERY | {"q", "o", "p", "e", "all", "next", "page", "_popup"})
POST_NAMES = sorted(SOURCE_POST | {"next", "confirm", "reason", "note"})


class FormParser(HTMLParser):
    """Each <form method="post"> of a page: its action and its fields with rendered values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attr = dict(attrs)
        if tag == "form":
            if (attr.get("method") or "get").lower() == "post":
                self._form = {"action": attr.get("action") or "", "fields": {}}
                self.forms.append(self._form)
            return
        if self._form is None or not attr.get("name"):
            return
        name = attr["name"]
        fields = self._form["fields"]
        if tag == "input":
            kind = (attr.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attr or name not in fields:
                    fields[name] = attr.get("value", "on")
            elif kind not in ("submit", "button", "file", "image", "reset"):
                fields[name] = attr.get("value") or ""
        elif tag == "select":
            self._select = name
            fields.setdefault(name, "")
        elif tag == "option" and self._select:
            if "selected" in attr or not fields[self._select]:
                fields[self._select] = attr.get("value") or ""
        elif tag == "textarea":
            self._textarea = name
            fields[name] = ""
        elif tag == "button" and attr.get("value") is not None:
            fields.setdefault(name, attr["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data


def discover(client: Client, urls: dict[str, str]) -> dict[str, dict[str, str]]:
    """The forms each page renders, keyed by the path they post to."""
    forms: dict[str, dict[str, str]] = {}
    for url in urls.values():
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = FormParser()
        parser.feed(response.content.decode())
        for form in parser.forms:
            action = urlsplit(urljoin(url, form["action"]))
            if action.netloc or action.path.startswith(tuple("/" + r for r in SIGN_OUT)):
                continue
            fields = {k: v for k, v in form["fields"].items() if k != "csrfmiddlewaretoken"}
            target = action.path + (f"?{action.query}" if action.query else "")
            forms.setdefault(target, {}).update(fields)
    return forms


def with_path_value(route: str, url: str, value: str) -> str | None:
    """The route's URL with its last path parameter replaced by `value`, or None."""
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    if not names or "(?P" in route:
        return None
    pattern = re.sub(r"<(?:\w+:)?\w+>", "([^/]*?)", route)
    pattern = "^/" + pattern.replace(".", r"\.") + "$"
    match = re.match(pattern, url)
    if not match:
        return None
    start, end = match.span(len(names))
    return url[:start] + quote(value, safe="") + url[end:]


def request(client: Client, method: str, url: str, data: dict) -> tuple[int, str]:
    """The status, and the exception's type when the view raised, with the database kept
    usable after an error (on PostgreSQL a failed statement aborts the whole transaction)."""
    savepoint = transaction.savepoint()
    response = getattr(client, method)(url, data)
    if response.status_code >= 500:
        transaction.savepoint_rollback(savepoint)
        connection.needs_rollback = False
        error = response.exc_info[1] if response.exc_info else None
        return response.status_code, type(error).__name__
    transaction.savepoint_commit(savepoint)
    return response.status_code, ""


@pytest.fixture
def walk_targets(one_of_every_kind):
    """Every route's URL, naming one object of every kind (as the role x URL matrix does)."""
    return {route: concrete_url(route, one_of_every_kind) for route in ROUTES}


@pytest.mark.parametrize("role", ROLES)
def test_no_hostile_query_path_or_form_value_gives_a_server_error(personas, walk_targets, role):
    # Given a signed-in role and the forms its pages render
    client = Client(raise_request_exception=False)
    if personas[role]:
        client.force_login(personas[role])
    forms = discover(client, walk_targets)
    for route, url in walk_targets.items():
        if not route.startswith(SIGN_OUT):
            forms.setdefault(url, dict.fromkeys(POST_NAMES, ""))
    errors: set[tuple[str, ...]] = set()

    # When hostile values go into every query parameter, path parameter and form field, each
    # drawn on its own, a form's fields either hostile or as rendered
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(pool=st.lists(hostile_values(), min_size=8, max_size=8), seed=st.integers(0, 2**32))
    def walk(pool: list[str], seed: int) -> None:
        # The pool is what hypothesis draws; the seed spreads it over the parameters and fields
        # (drawing each of thousands of values from hypothesis would overrun its buffer).
        chance = random.Random(seed)
        pool = CLASSIC + pool
        for route, url in walk_targets.items():
            query = {name: chance.choice(pool) for name in QUERY_NAMES}
            checks = [("GET", url, query)]
            if path_url := with_path_value(route, url, chance.choice(pool)):
                checks.append(("GET path", path_url, {}))
            for label, target, values in checks:
                status, error = request(client, "get", target, values)
                if status >= 500:
                    errors.add((label, route, error, repr(values)[:80]))
        for target, fields in forms.items():
            values = {
                name: chance.choice(pool) if chance.random() < 0.5 else rendered
                for name, rendered in fields.items()
            } | {"unexpected": chance.choice(pool)}
            status, error = request(client, "post", target, values)
            if status >= 500:
                errors.add(("POST", target, error, repr(values)[:80]))

    walk()

    # Then nothing gave a server error
    assert not errors, "\n".join(str(error) for error in sorted(errors))
