"""How fast the pages answer at network scale (issue 13), beside a bare Django view measured in
the same run. Not part of `make test`; run it on the database `manage.py seed_scale` built:

    POSTGRES_HOST=127.0.0.1 POSTGRES_USER=postgres \\
        .venv/bin/python tests/bench/bench_pages.py [--database cadence_scale] [--requests 50]

1. It starts gunicorn as `make run`'s Procfile does (clinic.wsgi, gunicorn.conf.py, 2 workers)
   with production settings (DEBUG off, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1) on the
   scale database, and ROOT_URLCONF=tests.bench.urls: Cadence's URLs plus /bench/bare/.
2. It logs in without passwords: session rows made directly, staff ones marked as past the
   second factor (a TOTP device made for the benchmark, removed at the end).
3. Each page of PAGES: --clients concurrent clients (threads, keep-alive HTTP), --requests
   each, after a warm-up; p50, p95, requests/s, and the ratio of its requests/s to the bare
   view's (measured first and last; their mean is the yardstick). Every answer must be 200.

The database is only read (the benchmark's sessions, devices and the pages' own access-audit
rows are the writes); everything it made is removed on exit, Ctrl-C or `kill`.
"""

import argparse
import http.client
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

# The pages, in the order measured: (name, who, URL, kind). `who` is the session used: staff
# (a clinician), search (a clinician whose registry search is set), patient (a portal
# account), admin (a clinic admin). The URL's {placeholders} are picked from the database
# (pick_objects). kind: "page" has targets, "admin" is reported.
PAGES = [
    ("due list", "staff", "/treatments/due/", "page"),
    (
        "due list, location + 4 weeks",
        "staff",
        "/treatments/due/?location={location}&weeks=4",
        "page",
    ),
    ("due list, lost to follow-up", "staff", "/treatments/due/?list=lost", "page"),
    (
        "week calendar, busiest",
        "staff",
        "/treatments/calendar/?location={location}&date={week}&view=week",
        "page",
    ),
    (
        "day calendar, busiest",
        "staff",
        "/treatments/calendar/?location={location}&date={day}&view=day",
        "page",
    ),
    ("failed/skipped reminders", "staff", "/treatments/reminders/", "page"),
    ("alerts inbox", "staff", "/treatments/alerts/", "page"),
    ("registry, first page", "staff", "/patients/", "page"),
    ("registry search", "search", "/patients/", "page"),
    ("patient record", "staff", "/patients/{chart_patient}/", "page"),
    ("patient details form", "staff", "/patients/{chart_patient}/edit/", "page"),
    ("patient chart, 6 sessions", "staff", "/treatments/patients/{chart_patient}/chart/", "page"),
    ("session record", "staff", "/treatments/sessions/{session}/", "page"),
    ("new session form", "staff", "/treatments/patients/{chart_patient}/sessions/new/", "page"),
    ("booking: week slot grid", "staff", "/treatments/patients/{unbooked_patient}/book/", "page"),
    ("waitlist and offers", "staff", "/treatments/waitlist/", "page"),
    ("visits inside closures", "staff", "/treatments/closures/visits/", "page"),
    ("lot recall (report)", "staff", "/treatments/lots/?lot={lot}", "page"),
    ("audit trail of a patient", "admin", "/audit/patients/{chart_patient}/", "page"),
    ("portal home", "patient", "/portal/", "page"),
    ("portal diary month", "patient", "/portal/diary/", "page"),
    ("portal diary day", "patient", "/portal/diary/{diary_day}/", "page"),
    ("portal treatment", "patient", "/portal/treatment/", "page"),
    ("portal: book my visit", "patient", "/portal/book/", "page"),
    ("portal: earlier slot", "patient", "/portal/earlier-slot/", "page"),
    ("portal contact", "patient", "/portal/contact/", "page"),
    ("portal questionnaires", "patient", "/portal/questionnaires/", "page"),
    ("portal who opened my record", "patient", "/audit/mine/", "page"),
    ("admin Appointment changelist", "admin", "/admin/treatments/appointment/", "admin"),
    ("admin TreatmentSession changelist", "admin", "/admin/treatments/treatmentsession/", "admin"),
    ("admin Patient changelist", "admin", "/admin/patients/patient/", "admin"),
]
BARE_URL = "/bench/bare/"  # tests/bench/urls.py, measured right before every page
P95_TARGET_MS = 100
RATIO_TARGET = 0.30


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the data set --------------------------------------------------------------------------------


def pick_objects(search: str | None) -> dict:
    """The busiest location, its busiest week and day, a patient with 6 sessions and their
    latest signed session, a portal patient with a booked visit and their latest diary day, a
    patient of the busiest location with nothing booked, the lot used most, a clinician, a
    clinic admin and a name fragment."""
    from django.db import connection
    from django.db.models import Count

    from clinic.models import User
    from patients.models import Patient
    from treatments.models import Appointment, TreatmentSession, VialLot

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT location_id, count(*) FROM treatments_appointment "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        )
        location, _ = cursor.fetchone()
        cursor.execute(
            "SELECT (a.starts_at AT TIME ZONE l.time_zone)::date AS day, count(*) "
            "FROM treatments_appointment a JOIN clinic_location l ON l.id = a.location_id "
            "WHERE a.location_id = %s GROUP BY 1 ORDER BY 2 DESC, 1 DESC LIMIT 1",
            [location],
        )
        day, day_visits = cursor.fetchone()
        cursor.execute(
            "SELECT date_trunc('week', a.starts_at AT TIME ZONE l.time_zone)::date, count(*) "
            "FROM treatments_appointment a JOIN clinic_location l ON l.id = a.location_id "
            "WHERE a.location_id = %s GROUP BY 1 ORDER BY 2 DESC, 1 DESC LIMIT 1",
            [location],
        )
        week, week_visits = cursor.fetchone()
    six = (
        TreatmentSession.objects.charted()
        .values("patient")
        .annotate(n=Count("pk"))
        .filter(n=6)
        .order_by("patient")
        .first()
    )
    portal = (
        Patient.objects.filter(user__isnull=False, appointments__status="booked")
        .select_related("user")
        .order_by("pk")
        .first()
    )
    clinician = User.objects.filter(role="clinician", is_active=True).order_by("pk").first()
    admin = User.objects.filter(role="clinic_admin", is_active=True).order_by("pk").first()
    if not (six and portal and clinician and admin):
        raise SystemExit("The database lacks a 6-session patient, a portal patient or staff.")
    if search is None:
        middle = Patient.objects.order_by("pk")[Patient.objects.count() // 2]
        search = middle.last_name[1:5]
    session = (
        TreatmentSession.objects.signed()
        .filter(patient=six["patient"])
        .order_by("-administered_at")
        .first()
    )
    # Someone the desk would book next: active, at the busiest location, nothing booked.
    unbooked = (
        Patient.objects.filter(location=location, status=Patient.Status.ACTIVE)
        .exclude(appointments__in=Appointment.objects.active())
        .order_by("pk")
        .first()
    )
    # The lot used most (a recall lists every use of it: the report's worst case).
    lot = (
        VialLot.objects.annotate(n_uses=Count("uses"))
        .order_by("-n_uses", "pk")
        .values("lot_number", "n_uses")
        .first()
    )
    diary = portal.diary_entries.order_by("-date").first()
    if not (session and unbooked and lot and diary):
        raise SystemExit(
            "The database lacks a signed session, an unbooked patient, a lot or a diary."
        )
    return {
        "session": session.pk,
        "unbooked_patient": unbooked.pk,
        "lot": lot["lot_number"],
        "lot_uses": lot["n_uses"],
        "diary_day": diary.date.isoformat(),
        "location": location,
        "day": day.isoformat(),
        "day_visits": day_visits,
        "week": week.isoformat(),
        "week_visits": week_visits,
        "chart_patient": six["patient"],
        "portal_user": portal.user,
        "clinician": clinician,
        "admin": admin,
        "search": search,
    }


class Logins:
    """Session rows made directly (no password typed), and the TOTP devices that mark the
    staff ones as past the second factor; `remove` deletes what was made."""

    def __init__(self):
        self.keys: list[str] = []
        self.devices: list = []

    def session(self, user, extra: dict | None = None) -> str:
        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from clinic.models import User

        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        if user.role in User.STAFF_ROLES:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
                self.devices.append(device)
            store[DEVICE_ID_SESSION_KEY] = device.persistent_id
        for key, value in (extra or {}).items():
            store[key] = value
        store.create()
        self.keys.append(store.session_key)
        return store.session_key

    def remove(self) -> None:
        from django.contrib.sessions.models import Session

        Session.objects.filter(session_key__in=self.keys).delete()
        for device in self.devices:
            device.delete()


# --- gunicorn ------------------------------------------------------------------------------------


def start_gunicorn(port: int, env: dict, log_file: Path) -> subprocess.Popen:
    """As the Procfile's web line (without its `check --deploy`), in its own process group."""
    command = [
        str(BASE_DIR / ".venv" / "bin" / "gunicorn"),
        "clinic.wsgi",
        "--config",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
    ]
    with log_file.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}); see {log_file}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer /healthz within 60 s; see {log_file}")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- measuring -----------------------------------------------------------------------------------


def measure(port: int, url: str, cookies: list[str], requests: int, warmup: int, budget: float):
    """len(cookies) clients in threads, each on its own keep-alive connection with its own
    session: `warmup` untimed requests, then `requests` each, or fewer once `budget` seconds
    have passed (a page of several seconds would otherwise take an hour); the latencies and
    the wall time. A connection error counts as status 0."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(len(cookies) + 1)
    deadline: list[float] = []

    def client(cookie: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Cookie": cookie, "Host": "127.0.0.1"}
        mine: list[float] = []
        codes: dict[int, int] = {}

        def get() -> None:
            started = time.perf_counter()
            try:
                connection.request("GET", url, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                connection.close()
                status = 0
            mine.append(time.perf_counter() - started)
            codes[status] = codes.get(status, 0) + 1

        for _ in range(warmup):
            get()
        mine.clear()
        codes.clear()
        barrier.wait()
        for _ in range(requests):
            if mine and time.perf_counter() > deadline[0]:
                break
            get()
        connection.close()
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in cookies]
    for thread in threads:
        thread.start()
    deadline.append(time.perf_counter() + budget + 3600)  # set for real below
    barrier.wait()
    started = time.perf_counter()
    deadline[0] = started + budget
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "n": len(latencies),
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000,
        "rps": len(latencies) / wall,
        "statuses": statuses,
        "load": os.getloadavg()[0],
    }


def cookies_for(keys: list[str]) -> list[str]:
    from django.conf import settings

    return [f"{settings.SESSION_COOKIE_NAME}={key}" for key in keys]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="cadence_scale", help="built by seed_scale")
    parser.add_argument("--requests", type=int, default=50, help="per client and page")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1, help="requests per client, untimed")
    parser.add_argument(
        "--budget", type=float, default=60, help="seconds per page at most (then fewer requests)"
    )
    parser.add_argument("--search", default=None, help="name fragment (default: from the data)")
    parser.add_argument(
        "--only",
        default="",
        help="measure only pages whose name has this (several: separated by commas)",
    )
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cadence-bench-pages-"))
    os.environ.pop("DATABASE_URL", None)
    os.environ.update(
        {
            "POSTGRES_DB": args.database,
            "POSTGRES_HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
            "POSTGRES_USER": os.environ.get("POSTGRES_USER", "postgres"),
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "VAR_DIR": str(tmp),
            "BROKER_DIR": str(tmp / "broker"),
            "STATIC_ROOT": str(tmp / "static"),
        }
    )
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(BASE_DIR))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logins = Logins()
    server = None
    failed = False
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from patients.models import Patient
        from patients.views.staff import SEARCH_SESSION_KEY

        if not Patient.objects.exists():
            raise SystemExit(
                f"{args.database} holds no patients. Build it first:\n"
                f"  createdb -h HOST -U postgres {args.database}\n"
                f"  POSTGRES_DB={args.database} SECRET_KEY=... .venv/bin/python manage.py migrate\n"
                f"  POSTGRES_DB={args.database} SECRET_KEY=... .venv/bin/python manage.py "
                "seed_scale"
            )
        log(f"database {args.database}: {Patient.objects.count():,} patients; picking pages ...")
        picked = pick_objects(args.search)
        sessions = {
            "staff": [logins.session(picked["clinician"]) for _ in range(args.clients)],
            "search": [
                logins.session(picked["clinician"], {SEARCH_SESSION_KEY: picked["search"]})
                for _ in range(args.clients)
            ],
            "patient": [logins.session(picked["portal_user"]) for _ in range(args.clients)],
            "admin": [logins.session(picked["admin"]) for _ in range(args.clients)],
        }
        log("collectstatic (as make run does: the manifest storage needs it with DEBUG off) ...")
        call_command("collectstatic", interactive=False, verbosity=0)
        port = args.port or free_port()
        env = {**os.environ, "ROOT_URLCONF": "tests.bench.urls"}
        log(f"starting gunicorn (2 workers) on 127.0.0.1:{port} ...")
        server = start_gunicorn(port, env, tmp / "gunicorn.log")
        log(
            f"location {picked['location']}: week of {picked['week']} ({picked['week_visits']} "
            f"visits), day {picked['day']} ({picked['day_visits']}); chart of patient "
            f"{picked['chart_patient']} (session {picked['session']}); booking for patient "
            f"{picked['unbooked_patient']}; lot {picked['lot']} ({picked['lot_uses']} uses); "
            f"search fragment {picked['search']!r}"
        )
        results = []
        for name, who, url, kind in PAGES:
            if args.only and not any(part in name for part in args.only.split(",")):
                continue
            url = url.format(**picked)
            cookies = cookies_for(sessions[who])
            log(f"{name}: {url} (and the bare view first) ...")
            # The bare view right before the page: on a shared machine the load moves, and
            # the ratio compares two figures taken under the same load.
            bare = measure(
                port, BARE_URL, cookies_for(sessions["staff"]), args.requests, args.warmup, 15
            )
            page = measure(port, url, cookies, args.requests, args.warmup, args.budget)
            results.append((name, kind, page, bare))
        bare_rates = sorted(bare["rps"] for _, _, _, bare in results)
        print(
            f"\n{args.clients} clients x {args.requests} requests per page (at most "
            f"{args.budget:.0f} s a page); the bare view before each page: "
            f"{bare_rates[0]:,.0f} to {bare_rates[-1]:,.0f} req/s, median "
            f"{statistics.median(bare_rates):,.0f}\n"
        )
        print(
            "| page | requests | p50 ms | p95 ms | req/s | bare req/s | ratio | load | result |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"
        )
        for name, kind, r, bare in results:
            ratio = r["rps"] / bare["rps"]
            bad = {code: n for code, n in r["statuses"].items() if code != 200}
            bad_bare = {code: n for code, n in bare["statuses"].items() if code != 200}
            if bad and kind == "admin":
                verdict = f"report (answers {bad})"  # e.g. a model the admin does not list
            elif bad or bad_bare:
                verdict = f"FAIL (answers {bad or bad_bare})"
                failed = True
            elif kind == "admin":
                verdict = "report"
            elif r["p95"] <= P95_TARGET_MS and ratio >= RATIO_TARGET:
                verdict = "PASS"
            else:
                verdict = "FAIL"
                failed = True
            print(
                f"| {name} | {r['n']} | {r['p50']:,.1f} | {r['p95']:,.1f} | {r['rps']:,.1f} | "
                f"{bare['rps']:,.1f} | {ratio:.3f} | {r['load']:.2f} | {verdict} |"
            )
        if any(set(r["statuses"]) - {200} for _, _, r, _ in results):
            lines = (tmp / "gunicorn.log").read_text(errors="replace").splitlines()
            tail = [line for line in lines if not line.startswith("127.0.0.1 - ")][-40:]
            log("gunicorn's last lines (access log left out):\n" + "\n".join(tail))
        print(f"\ntargets: p95 <= {P95_TARGET_MS} ms and ratio >= {RATIO_TARGET} (admin: report)")
    finally:
        stop(server)
        try:
            logins.remove()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
