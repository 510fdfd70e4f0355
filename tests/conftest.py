"""Personas and shared fixtures. The personas: a clinician, a front-desk user, a clinic admin,
and two patients with portal accounts who must never see each other."""

import ast
import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import zoneinfo
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from clinic.models import Location, User
from patients.models import Patient
from tests import clock
from tests.fake_twilio import fake_twilio  # noqa: F401 (a fixture: tests/fake_twilio.py)

# Playwright's sync API keeps an event loop in the test thread; Django's ORM refuses to run
# beside one unless told it is safe. Our tests have no async code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"


# --- the clock ---------------------------------------------------------------------------------
# Every test derives its instants from now (one anchor) or pins the clock itself, so the suite
# passes whatever the date and hour. CADENCE_TEST_NOW runs the whole suite at a chosen instant.


def pytest_configure(config):
    _flush_lifting_guards()
    if os.environ.get(clock.VARIABLE):
        try:
            clock.travel_to(os.environ[clock.VARIABLE])
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None


# --- the database's guards -----------------------------------------------------------------
# Between transactional tests (a live server, a real worker) Django empties every table: on
# PostgreSQL by TRUNCATE, which row triggers do not see; on SQLite by DELETE, which the
# triggers refusing to delete a signed record (named guard_*) would stop, and the triggers
# deriving the missed visits (derive_*) would refill as it goes. The data is thrown away, so
# lift them first; the post_migrate signal that flush sends puts them back.


def _flush_lifting_guards():
    from django.core.management.commands import flush
    from django.db import connections

    handle = flush.Command.handle
    if getattr(handle, "lifts_guards", False):
        return

    def handle_lifting_guards(self, **options):
        db = connections[options.get("database") or "default"]
        if db.vendor == "sqlite":
            with db.cursor() as cursor:
                guards = cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND (name LIKE 'guard\\_%' ESCAPE '\\' OR name LIKE 'derive\\_%' ESCAPE '\\')"
                ).fetchall()
                for (name,) in guards:
                    cursor.execute(f'DROP TRIGGER "{name}"')
        return handle(self, **options)

    handle_lifting_guards.lifts_guards = True  # type: ignore[attr-defined]
    flush.Command.handle = handle_lifting_guards


def pytest_report_header(config):
    moved = os.environ.get(clock.VARIABLE)
    return f"clock: {clock.VARIABLE}={moved}" if moved else "clock: real"


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Production serves hashed names from collectstatic's manifest; tests skip collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(scope="session")
def _media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _private_media(settings, _media_dir):
    # Uploaded documents go to a directory of the run's, never to var/media.
    settings.MEDIA_ROOT = _media_dir


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the second factor ---------------------------------------------------------------------
# Staff pass a second factor (clinic/mfa.py). Tests that log staff in with force_login are
# about something else: their session is marked as having passed it with a real device, the
# way the verify page marks it. Tests about the second factor itself use the marker
# `password_only` to get the session a password alone gives.

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def give_totp_device(user: User):
    """The user's confirmed authenticator, with TEST_TOTP_SECRET (created once)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from clinic.mfa import hex_key_from_base32

    device, _ = TOTPDevice.objects.get_or_create(
        user=user,
        defaults={"key": hex_key_from_base32(TEST_TOTP_SECRET), "name": "test authenticator"},
    )
    return device


def totp_code(secret: str = TEST_TOTP_SECRET) -> str:
    """What an authenticator app set up with this secret shows now (django-otp's own TOTP)."""
    from clinic.mfa import current_code

    return current_code(secret)


def fresh_totp_step(user: User) -> None:
    """Let the user's authenticator accept a code of this 30-second step again: a test that
    logs in twice within one step stands for a person who logs in twice minutes apart
    (django-otp refuses a code it has already accepted)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user).update(last_t=-1)


def enter_second_factor(page, user: User) -> None:
    """In a browser at the code page: type the authenticator's code, as a person would."""
    give_totp_device(user)
    fresh_totp_step(user)
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Continue").click()


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(request, monkeypatch):
    if request.node.get_closest_marker("password_only"):
        return
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if user.role in User.STAFF_ROLES:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = give_totp_device(user).persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture
def location(db):
    return Location.objects.create(
        name="Riverside Clinic",
        address="120 Riverside Drive, New York",
        phone="+12125550142",
        time_zone="America/New_York",
    )


def make_user(username: str, role: str, **fields) -> User:
    return User.objects.create_user(
        username=username,
        password=PASSWORD,
        role=role,
        email=f"{username}@example.com",
        **fields,
    )


@pytest.fixture
def clinician(db):
    return make_user("clinician", User.Role.CLINICIAN, first_name="Ama", last_name="Osei")


@pytest.fixture
def front_desk(db):
    return make_user("frontdesk", User.Role.FRONT_DESK, first_name="Min-ji", last_name="Kim")


@pytest.fixture
def clinic_admin(db):
    return make_user("clinicadmin", User.Role.CLINIC_ADMIN, first_name="Priya", last_name="Shah")


def make_patient(number: int, **fields) -> Patient:
    defaults = {
        "mrn": f"MRN-{number:04d}",
        "first_name": f"Given{number}",
        "last_name": f"Family{number}",
        "date_of_birth": datetime.date(1980, 1, 1) + datetime.timedelta(days=number),
        "sex": "female",
        "email": f"patient{number}@example.com",
        "phone": "+12125550100",
    }
    return Patient.objects.create(**(defaults | fields))


def short_link_in(text: str, label: str) -> str:
    """The path (/s/<code>) of the short link after `label: ` in a text message."""
    match = re.search(rf"{re.escape(label)}: https?://\S+?(/s/\w+)", text)
    assert match, f"No {label!r} short link in {text!r}"
    return match.group(1)


def signed_link_behind(client, text: str, label: str) -> tuple[str, str]:
    """Open the text's short link after `label`: the purpose and token of the signed link
    (/r/<purpose>/<token>/) it sends the phone on to."""
    response = client.get(short_link_in(text, label))
    assert response.status_code == 302
    match = re.fullmatch(r"https?://[^/]+/r/(\w+)/([^/]+)/", response["Location"])
    assert match, response["Location"]
    return match.group(1), match.group(2)


def make_reminders(
    patients: list[Patient],
    *,
    due_at: datetime.datetime,
    each_earlier_by: datetime.timedelta = datetime.timedelta(0),
    **fields,
) -> list:
    """An email reminder for each of `patients` (one patient may stand several times), the
    n-th due `each_earlier_by` n times before `due_at`; `fields` (a status, a kind) apply to
    every row."""
    from treatments.models import Reminder

    return Reminder.objects.bulk_create(
        Reminder(
            patient=patient,
            subject_key=f"test:{n}",
            channel="email",
            due_at=due_at - n * each_earlier_by,
            **({"kind": "rebook_noshow"} | fields),
        )
        for n, patient in enumerate(patients)
    )


def make_offer(appointment, *, to: Patient, by: User, slot_key: str = "test-slot"):
    """An open offer of the appointment's slot (until it starts) to `to`, put on the waitlist
    at the appointment's location by `by`: the waitlist page and the offer link have a row."""
    from treatments.models import SlotOffer, WaitlistEntry

    entry = WaitlistEntry.objects.create(patient=to, location=appointment.location, asked_by=by)
    return SlotOffer.objects.create(
        entry=entry,
        clinician=appointment.clinician,
        location=appointment.location,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        slot_key=slot_key,
        expires_at=appointment.starts_at,
    )


@pytest.fixture
def patient_a(db, location, clinician):
    user = make_user("patienta", User.Role.PATIENT, first_name="Alice", last_name="Morgan")
    return make_patient(
        1,
        first_name="Alice",
        last_name="Morgan",
        user=user,
        location=location,
        primary_clinician=clinician,
    )


@pytest.fixture
def patient_b(db, location):
    user = make_user("patientb", User.Role.PATIENT, first_name="Ben", last_name="Patel")
    return make_patient(2, first_name="Ben", last_name="Patel", user=user, location=location)


@pytest.fixture
def personas(clinician, front_desk, clinic_admin, patient_a, patient_b):
    """Every role's user, by role name (anonymous is None)."""
    return {
        "anonymous": None,
        "patient": patient_a.user,
        "front_desk": front_desk,
        "clinician": clinician,
        "clinic_admin": clinic_admin,
    }


# --- a real browser -------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    """A page at phone width (iPhone 13-ish viewport)."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


# --- a real Celery worker ---------------------------------------------------------------------


class CeleryProcess:
    """A `celery worker` or `celery beat` subprocess, in its own process group (so that a
    test can SIGKILL it whole), with its output collected."""

    started: "list[CeleryProcess]" = []  # this test's, for wait_until to show when it fails

    def __init__(self, argv: list[str], env: dict[str, str], ready_marker: str):
        self.argv = argv
        self.output: list[str] = []
        CeleryProcess.started.append(self)
        self.ready_marker = ready_marker
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.clock", "celery", "--app", "clinic", *argv],
            cwd=BASE_DIR,
            # The worker reads the test's clock, whether CADENCE_TEST_NOW or a test moved it.
            env=env | clock.handoff(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)
            if self.ready_marker in line:
                self._ready.set()

    def wait_ready(self, timeout: float = 60) -> None:
        if not self._ready.wait(timeout):
            self.stop()
            raise AssertionError("celery did not start:\n" + "".join(self.output[-40:]))

    def kill(self) -> None:
        """SIGKILL the process and its children: no cleanup, no acknowledgements."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """End it after its test: at once. Its work was checked by then, and a warm shutdown
        took 5-6 s a process (a solo worker finishes its 2-second poll first), a minute of
        every run of the suite."""
        if self.process.poll() is None:
            self.kill()


class CeleryCluster:
    """Workers and beats sharing the test database, a private queue, and private mail/SMS
    folders. Quiet hours are off (tests run at any hour) and the lease is short, the channel
    timeouts shorter still (as treatments/checks.py requires)."""

    def __init__(self, tmp_path: Path):
        self.queue = f"test-{uuid.uuid4().hex[:12]}"
        self.mail_dir, self.sms_dir = tmp_path / "mail", tmp_path / "sms"
        self.tmp_path = tmp_path
        self.env = os.environ | {
            "DATABASE_URL": test_database_url(),
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "SMS_FILE_PATH": str(self.sms_dir),
            "QUIET_HOURS_START": "24",
            "QUIET_HOURS_END": "0",
            "REMINDER_DISPATCH_SECONDS": "1",
            "REMINDER_LEASE_SECONDS": "5",
            "EMAIL_TIMEOUT": "2",
            "SMS_TIMEOUT": "2",
            "REMINDER_SEND_MARGIN_SECONDS": "1",
            # A killed worker's received-but-unstarted message comes back from Redis only after
            # its visibility timeout (an hour); the outbox retakes the claim sooner.
            "REMINDER_QUEUE_TIMEOUT_SECONDS": "30",
        }
        self.processes: list[CeleryProcess] = []

    def send_results(self) -> list[tuple[int, str]]:
        """(reminder id, outcome) of every send the workers logged, repeats included."""
        results = []
        for process in self.processes:
            for line in process.output:
                if found := SEND_RESULT.search(line):
                    batch = ast.literal_eval(found.group(1))
                    results += [(int(pk), outcome) for pk, outcome in batch.items()]
        return results

    def worker(self, options: tuple[str, ...] | None = None) -> CeleryProcess:
        """A worker on the private queue; by default one solo-pool process, or `options`
        instead (the benchmark's Procfile mode: `--concurrency 2`)."""
        if options is None:
            options = ("--pool", "solo", "--without-gossip", "--without-mingle")
            options += ("--without-heartbeat",)
        process = CeleryProcess(
            ["worker", "--queues", self.queue, *options, "--loglevel", "INFO"],
            self.env,
            " ready.",
        )
        self.processes.append(process)
        process.wait_ready()
        return process

    def beat(self) -> CeleryProcess:
        schedule = self.tmp_path / f"beat-{len(self.processes)}"
        process = CeleryProcess(
            ["beat", "--schedule", str(schedule), "--loglevel", "INFO"], self.env, "beat: Starting"
        )
        self.processes.append(process)
        process.wait_ready()
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        CeleryProcess.started.clear()


# Celery's "Task treatments.tasks.send_reminders_task[<id>] succeeded in 0.01s: {'12': 'sent'}"
SEND_RESULT = re.compile(r"\.send_reminders_task\[[^]]+\] succeeded in \S+: (\{.*\})\s*$")


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence: a test may
    SIGKILL it and start it again empty (a broker that lost its queue). Never the machine's."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database this test run uses, for a worker process to share it."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(params['NAME']).resolve()}"
    user, password = params["USER"], params["PASSWORD"]
    auth = f"{user}:{password}@" if password else f"{user}@"
    host, port = params["HOST"] or "localhost", params["PORT"] or 5432
    return f"postgres://{auth}{host}:{port}/{params['NAME']}"


test_database_url.__test__ = False  # not a test, despite the name


@pytest.fixture
def celery_cluster(transactional_db, tmp_path):
    cluster = CeleryCluster(tmp_path)
    yield cluster
    cluster.stop()


@pytest.fixture
def celery_worker_process(celery_cluster):
    """One real worker on the configured broker, consuming the cluster's private queue."""
    worker = celery_cluster.worker()
    worker.queue = celery_cluster.queue
    return worker


def wait_until(predicate, timeout: float = 30, interval: float = 0.1):
    """Poll `predicate` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    outputs = "".join(
        f"\n--- celery {' '.join(process.argv[:1])} (exit {process.process.poll()}), "
        f"its last lines:\n" + "".join(process.output[-40:])
        for process in CeleryProcess.started
    )
    raise AssertionError(f"condition not met within {timeout} s{outputs}")


# --- injection sessions ------------------------------------------------------------------------

SESSION_TIME = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)  # 10:00 in New York


def fresh_vials(when: datetime.datetime) -> list:
    """One 200 U vial of a lot that expires a year after `when`: for a session dated from the
    clock (C1234AB, the default, expires on 2027-06-30, after SESSION_TIME)."""
    from treatments.services import VialInput

    return [VialInput(f"L{when:%Y%m%d}", "botox_200", when.date() + datetime.timedelta(days=365))]


def session_input(location, *, when=SESSION_TIME, sites=None, vials=None, **fields):
    """A complete, signable standard session: 31 sites x 5 U from one 200 U vial."""
    from treatments.services import SessionInput, VialInput, standard_sites

    defaults = {
        "consent": "session",
        "infection_at_site": False,
        "hypersensitivity": False,
        "pregnant_or_breastfeeding": False,
        "other_toxin_recent": False,
    }
    return SessionInput(
        location=location,
        administered_at=when,
        reconstituted_at=when - datetime.timedelta(minutes=20),
        sites=standard_sites() if sites is None else sites,
        vials=(
            [VialInput("C1234AB", "botox_200", datetime.date(2027, 6, 30))]
            if vials is None
            else vials
        ),
        **(defaults | fields),
    )


@pytest.fixture
def signed_session(patient_b, clinician, location):
    """A signed cycle-1 session for patient_b, with an adverse event and an amendment: its
    current version (2); version 1 is kept, superseded."""
    from treatments.services import (
        amend_session,
        record_session,
        report_adverse_event,
        sign_session,
    )

    session = record_session(patient=patient_b, injector=clinician, data=session_input(location))
    session = sign_session(session=session, user=clinician, acknowledged=[])
    report_adverse_event(
        session=session,
        recorded_by=clinician,
        reported_by="clinician",
        term="neck_pain",
        onset=datetime.date(2026, 3, 4),
        severity="mild",
        hint_next_session="trapezius sites lower",
    )
    amendment = amend_session(
        session=session,
        user=clinician,
        data=session_input(location, notes="Amended"),
        reason="Typo in the notes",
    )
    return amendment.new_version  # version 2, the current one


def make_medication_records(patient: Patient, clinician: User) -> dict:
    """A stopped entry of the patient's medication list and an open report of theirs: what
    the medication routes name (`medication`, `medication_report`)."""
    from patients.models import MedicationReport, PatientMedication

    medication = PatientMedication.objects.create(
        patient=patient,
        drug="topiramate",
        dose="50 mg twice daily",
        started_on=SESSION_TIME.date() - datetime.timedelta(days=200),
        stopped_on=SESSION_TIME.date() - datetime.timedelta(days=100),
        stop_reason="not_tolerated",
        recorded_by=clinician,
    )
    report = MedicationReport.objects.create(
        patient=patient, kind="started", drug="erenumab", on=SESSION_TIME.date()
    )
    return {"medication": medication, "medication_report": report}


# The smallest file each upload check accepts (their first bytes are what counts).
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def make_authorization_records(patient: Patient, by: User, **fields) -> dict:
    """A prior authorization of the patient's (2026-01-01 to two years after the clinic's
    today: it covers their visits) and a PDF attached to it: what the authorization routes
    name (`authorization`, `document`)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from treatments.services.authorizations import attach_document, record_authorization

    values = {
        "payer": "Aetna",
        "reference": "PA-10001",
        "sessions_approved": 4,
        "units_approved": 800,
        "valid_from": datetime.date(2026, 1, 1),
        "valid_to": clinic_today() + datetime.timedelta(days=730),
    }
    authorization = record_authorization(patient=patient, by=by, **(values | fields))
    document = attach_document(
        authorization=authorization,
        upload=SimpleUploadedFile("approval letter.pdf", PDF_BYTES, "application/pdf"),
        content_type="application/pdf",
        by=by,
    )
    return {"authorization": authorization, "document": document}


@pytest.fixture
def one_of_every_kind(personas, patient_b, signed_session, booked_appointment):
    """One object of every kind a route can name (patient_b's, who is the patient persona's
    other): what the role x URL matrix, the HTML check and the hostile-input walk open."""
    from axes.models import AccessAttempt

    from patients.models import ContactConsent
    from treatments.models import Alert, CallOutcome, Closure

    ContactConsent.objects.create(
        patient=patient_b, channel="email", granted=True, source="written"
    )
    CallOutcome.objects.create(
        patient=patient_b, outcome="unreachable", recorded_by=personas["front_desk"]
    )
    AccessAttempt.objects.create(
        username="someone",
        ip_address="192.0.2.1",
        failures_since_start=2,
        get_data="",
        post_data="",
    )
    visit = booked_appointment.local_starts_at  # a closure over it: the visits page lists it
    Closure.objects.create(
        location=booked_appointment.location,
        day=visit.date(),
        from_time=visit.time(),
        to_time=booked_appointment.ends_at.astimezone(visit.tzinfo).time(),
        reason="Fire drill",
    )
    event = signed_session.adverse_events.get()
    return {
        **make_medication_records(patient_b, personas["clinician"]),
        **make_authorization_records(patient_b, personas["front_desk"]),
        "patient": patient_b,
        "user": personas["front_desk"],
        "session": signed_session,
        "appointment": booked_appointment,
        "adverse_event": event,
        "alert": Alert.objects.create(patient=patient_b, event=event, urgency="prompt"),
    }


# --- the schedule ------------------------------------------------------------------------------


NEW_YORK = zoneinfo.ZoneInfo("America/New_York")  # the `location` fixture's zone


def clinic_today() -> datetime.date:
    """Today at the `location` fixture's clinic: the anchor of every date the schedule tests
    book (the server's UTC date is a day ahead of New York every evening)."""
    return timezone.localdate(timezone=NEW_YORK)


def next_weekday(weekday: int, after: datetime.date | None = None) -> datetime.date:
    """The next date (after the clinic's today, or `after`) falling on `weekday` (0 = Monday)."""
    day = (after or clinic_today()) + datetime.timedelta(days=1)
    while day.weekday() != weekday:
        day += datetime.timedelta(days=1)
    return day


@pytest.fixture
def schedule(location, clinician):
    """The location opens Monday to Friday 09:00-17:00 (30-minute slots); the clinician
    injects there every weekday."""
    from treatments.models import InjectorDay, OpeningHours

    for weekday in range(5):
        OpeningHours.objects.create(
            location=location, weekday=weekday, opens=datetime.time(9), closes=datetime.time(17)
        )
        InjectorDay.objects.create(clinician=clinician, location=location, weekday=weekday)
    return location


def local(day: datetime.date, hour: int, minute: int = 0, zone="America/New_York"):
    return datetime.datetime.combine(day, datetime.time(hour, minute), zoneinfo.ZoneInfo(zone))


@pytest.fixture
def harbour(clinician):
    """A second location, in London, open weekdays 09:00-17:00, where a second clinician
    injects every weekday."""
    from treatments.models import InjectorDay, OpeningHours

    harbour = Location.objects.create(
        name="Harbour Clinic", address="1 Quay St", phone="+441174960100", time_zone="Europe/London"
    )
    other = make_user("second", User.Role.CLINICIAN, first_name="Ben", last_name="Ode")
    for weekday in range(5):
        OpeningHours.objects.create(
            location=harbour, weekday=weekday, opens=datetime.time(9), closes=datetime.time(17)
        )
        InjectorDay.objects.create(clinician=other, location=harbour, weekday=weekday)
    harbour.injector = other
    return harbour


@pytest.fixture
def thames(db):
    """A second location, in London, with no rota: for what depends on a location's zone
    (its today, its times), not on its slots."""
    return Location.objects.create(
        name="Thames Clinic", address="1 Embankment, London", phone="+442079460000",
        time_zone="Europe/London",
    )  # fmt: skip


def london(day, hour, minute=0):
    return local(day, hour, minute, zone="Europe/London")


def visit_day() -> datetime.date:
    """The day of `booked_appointment`: the first Monday more than a week after today, so that
    its "week before" reminder is still ahead and the Wednesday before it is after today."""
    return next_weekday(0, after=clinic_today() + datetime.timedelta(days=7))


@pytest.fixture
def booked_appointment(schedule, signed_session, clinician, front_desk):
    """patient_b's next injection, booked for 10:00 New York time on `visit_day()`."""
    from treatments.services import book_appointment

    return book_appointment(
        patient=signed_session.patient,
        clinician=clinician,
        location=schedule,
        starts_at=local(visit_day(), 10),
        booked_by=front_desk,
    )
