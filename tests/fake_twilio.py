"""A stand-in for Twilio's Messages API on 127.0.0.1, for the SMS adapter's tests
(treatments/sms_twilio.py): POST /2010-04-01/Accounts/{sid}/Messages.json with the form fields
To, From or MessagingServiceSid, Body and StatusCallback, HTTP Basic auth with the account SID
and auth token (401 otherwise), answers shaped like Twilio's (a message resource with an
"SM..." sid and status "queued"; errors as {"code", "message", "more_info", "status"}).

A test programs the next answers (`answer("429")`, `answer("21211")`, `answer("hang")`); with
none programmed a message is accepted. Every request that reached the server is kept in
`requests` (form fields, auth), accepted messages in `messages`. `receipt()` builds a status
callback as Twilio would post it, signed with the auth token.

The `fake_twilio` fixture starts a server on a free port and points the settings at it (the
adapter chosen, the account, token, sender and base URL, SITE_URL for the callbacks)."""

import base64
import collections
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+12125550199"
SITE_URL = "https://cadence.example.org"

# Twilio's error answers, by what a test asks for: (HTTP status, Twilio code, message).
ERRORS = {
    "429": (429, 20429, "Too Many Requests"),
    "500": (500, 20500, "Internal Server Error"),
    "503": (503, 20503, "Service Unavailable"),
    "21211": (400, 21211, "The 'To' number is not a valid phone number."),
    "21610": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "21614": (400, 21614, "'To' number is not a valid mobile number"),
}


def error_body(status: int, code: int, message: str) -> bytes:
    return json.dumps(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    ).encode()


@dataclass
class Received:
    path: str
    auth: tuple[str, str] | None
    form: dict[str, str]


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    requests: list[Received] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    answers: collections.deque = field(default_factory=collections.deque)
    # A "hang" answer waits on this (set when the server stops), never on a sleep.
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *kinds: str) -> None:
        """The next requests' answers, in order: "ok", "hang", or a key of ERRORS."""
        self.answers.extend(kinds)

    def start(self) -> "FakeTwilio":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the test reads `requests`
                pass

            def do_POST(self):
                fake.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    # --- the API --------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(request.rfile.read(length).decode()).items()}
        auth = _basic_auth(request.headers.get("Authorization", ""))
        path = urlsplit(request.path).path
        with self.lock:
            self.requests.append(Received(path, auth, form))
            kind = self.answers.popleft() if self.answers else "ok"
        if auth != (self.account_sid, self.auth_token):
            return _send(request, 401, error_body(401, 20003, "Authenticate"))
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return _send(request, 404, error_body(404, 20404, "The resource was not found"))
        if kind == "hang":
            self.released.wait(60)
            return _send(request, 503, error_body(503, 20503, "Service Unavailable"))
        if kind in ERRORS:
            return _send(request, ERRORS[kind][0], error_body(*ERRORS[kind]))
        missing = [
            (21604, "A 'To' phone number is required.", not form.get("To")),
            (21602, "Message body is required.", not form.get("Body")),
            (
                21603,
                "A 'From' phone number is required.",
                not (form.get("From") or form.get("MessagingServiceSid")),
            ),
        ]
        for code, message, absent in missing:
            if absent:
                return _send(request, 400, error_body(400, code, message))
        sid = "SM" + uuid.uuid4().hex
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": None,  # (no clock in the fake: the adapter reads only the sid)
            "date_updated": None,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {},
        }
        with self.lock:
            self.messages.append(resource | {"status_callback": form.get("StatusCallback")})
        _send(request, 201, json.dumps(resource).encode())

    # --- webhooks, as Twilio would post them ------------------------------------------------

    def sign(self, url: str, params: dict[str, str]) -> str:
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def receipt(self, sid: str, status: str, error_code: str = "") -> tuple[str, dict, dict]:
        """(path, form, headers) of the status callback Twilio would post for message `sid`,
        to the callback URL the message named."""
        [message] = [m for m in self.messages if m["sid"] == sid]
        url = message["status_callback"]
        form = {
            "AccountSid": self.account_sid,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": message["to"],
            "From": message["from"] or "",
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            form["ErrorCode"] = error_code
        return urlsplit(url).path, form, {"X-Twilio-Signature": self.sign(url, form)}


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


@pytest.fixture
def fake_twilio(settings):
    """A fake Twilio on a free port of 127.0.0.1, and the settings pointed at it."""
    server = FakeTwilio().start()
    settings.SMS_BACKEND = "treatments.sms_twilio.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = server.account_sid
    settings.TWILIO_AUTH_TOKEN = server.auth_token
    settings.TWILIO_FROM = FROM_NUMBER
    settings.TWILIO_API_BASE_URL = server.url
    settings.SITE_URL = SITE_URL
    yield server
    server.stop()
