"""Requests at once, for the tests that prove a rule holds under concurrency: `at_once` releases
N calls together and returns what each got; `logged_in` is a test client past the second
factor; `LiveSession` is one browser on pytest-django's live server, through real sockets."""

import http.client
import http.cookies
import re
import threading
from collections.abc import Callable, Sequence
from email.message import Message
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import connection
from django.test import Client

from clinic.models import User

T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run every call in a thread of its own, all released at the same moment by a barrier, and
    return what each returned, in the order of the calls. Each thread closes its database
    connection when done (a transactional test's flush would otherwise wait on it). If any call
    raised, all the exceptions are raised together once every thread has finished: a test
    never counts a crashed request as an answer."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[Exception] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # handed to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise ExceptionGroup(f"{len(errors)} of {len(calls)} calls at once raised", errors)
    return results


def logged_in(user: User) -> Client:
    """A test client of its own with the user logged in (staff past the second factor, see
    conftest's force_login): one desk, tab or phone among those sending at once."""
    client = Client()
    client.force_login(user)
    return client


class LiveSession:
    """One browser on the live server: its cookies (the user's session when given one) and the
    CSRF token of the form it read last. Every request opens a real socket to the server."""

    def __init__(self, live_server, user: User | None = None):
        address = urlsplit(live_server.url)
        self.host, self.port = address.hostname, address.port
        self.cookies: dict[str, str] = {}
        self.token = ""
        if user is not None:
            name = settings.SESSION_COOKIE_NAME
            self.cookies[name] = logged_in(user).cookies[name].value

    def request(self, method: str, path: str, body: str = "") -> tuple[int, Message, str]:
        """(status, headers, text) of one request, sent with the session's cookies."""
        connection_ = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
            if body:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection_.request(method, path, body=body or None, headers=headers)
            response = connection_.getresponse()
            return response.status, response.headers, response.read().decode()
        finally:
            connection_.close()

    def get(self, path: str) -> tuple[int, Message, str]:
        """Read a page as a browser does: keep the cookies it sets (CSRF) and its form's token."""
        status, headers, text = self.request("GET", path)
        for header in headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie(header)
            self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
        if found := re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text):
            self.token = found.group(1)
        return status, headers, text

    def post(self, path: str, data: dict[str, str] | None = None) -> tuple[int, Message, str]:
        """Send the form (with the token of the page read last). The cookies stay as they are,
        so many posts can leave one session at once, like clicks in several tabs."""
        body = urlencode({"csrfmiddlewaretoken": self.token, **(data or {})})
        return self.request("POST", path, body)
