"""Cadence settings: one file, read from the environment.

Nothing set means the embedded default: SQLite under var/, Celery on kombu's filesystem
transport under var/, email written to files under var/mail/. Every variable is listed in
.env.example and shares its setting's name.
"""

import datetime
import os
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.contrib.messages import constants as message_constants
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """The variable's value; unset and empty (`NAME=` in an env file) both mean the default."""
    return os.getenv(name) or default


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool = False) -> bool:
    """True or false, said plainly; anything else stops the start: a typo in a security
    setting (`SECURE_SSL_REDIRECT=ture`) must not quietly turn it off."""
    value = os.getenv(name)
    if value is None or value == "":
        return default
    word = value.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ImproperlyConfigured(
            f"{name}={value!r} is neither true nor false "
            f"(use one of: {', '.join(sorted(TRUE_WORDS | FALSE_WORDS))})"
        )
    return word in TRUE_WORDS


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.getenv(name)
    return int(value) if value else default


VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))


DEBUG = env_bool("DEBUG")
# Public, so only for DEBUG: `check --deploy` flags it, and with DEBUG off it is refused.
DEV_SECRET_KEY = "django-insecure-cadence-dev-key-do-not-use-in-production"
EMBEDDED = not (env_str("DATABASE_URL") or env_str("POSTGRES_DB") or env_str("POSTGRES_HOST"))


def is_real_secret_key(key: str) -> bool:
    """Django's own test for a key (security.W009): long, varied, not a generated-insecure one."""
    return len(key) >= 50 and len(set(key)) >= 5 and not key.startswith("django-insecure-")


def embedded_secret_key(path: Path) -> str:
    """The embedded default's key: made on the first run and kept in var/ (readable by its
    owner only), so that the web server and the worker that signs links share it and it
    survives restarts. Written under another name and linked into place, so that processes
    starting together never read a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            draft.unlink()
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = DEV_SECRET_KEY
elif not SECRET_KEY and EMBEDDED:
    SECRET_KEY = embedded_secret_key(VAR_DIR / "secret_key")
if not DEBUG and not is_real_secret_key(SECRET_KEY):
    # A production start without a real key would sign links and sessions with a guessable
    # one. (The embedded default has its own key in var/; PostgreSQL means production.)
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random string (50+ characters) when DEBUG is off: "
        'python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "clinic",
    "patients",
    "treatments",
    # After patients and treatments: its post_migrate puts the history triggers back on their
    # tables once theirs have run (docs/audit.md).
    "audit",
    "clinic.apps.CadenceAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "template_partials",
    "phonenumber_field",
    "csp",
    # The second factor for staff: TOTP devices, and static tokens as recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Lockout after repeated failed logins (last, as django-axes asks).
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "clinic.middleware.PermissionsPolicyMiddleware",
    "clinic.middleware.RejectNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "clinic.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Records who opened which patient's data (docs/audit.md).
    "audit.trail.AuditMiddleware",
    # Last: turns a refused (locked-out) login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The embedded default's web start (Procfile) silences the checks that cannot hold on plain
# http://127.0.0.1 (HSTS, the HTTPS redirect, Secure cookies); production silences none.
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS")

# Only the page benchmark sets it (tests/bench/urls.py adds its bare view to clinic.urls).
ROOT_URLCONF = env_str("ROOT_URLCONF", "clinic.urls")
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.session",
                "treatments.context_processors.alerts",
            ],
        },
    },
]

# Database: DATABASE_URL wins, then POSTGRES_* (the names the postgres image uses), else SQLite.
# Connections are kept DATABASE_CONN_MAX_AGE seconds; 0 (one per request or task) behind a
# pgbouncer in session mode (docs/scaling.md).
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60)
if env_str("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=DATABASE_CONN_MAX_AGE
        )
    }
elif not EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env_str("POSTGRES_DB", "cadence"),
            "USER": env_str("POSTGRES_USER", "postgres"),
            "PASSWORD": env_str("POSTGRES_PASSWORD"),
            "HOST": env_str("POSTGRES_HOST", "127.0.0.1"),
            "PORT": env_str("POSTGRES_PORT", "5432"),
            "CONN_MAX_AGE": DATABASE_CONN_MAX_AGE,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "cadence.sqlite3"),
            # A file (not memory) so that a real worker process can share the test database.
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT: every query here is a short OLTP one, and a plan costed above jit_above_cost
    # (the due list's at 100,000 patients) spent far longer compiling than running (issue 13).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the worker writes; IMMEDIATE takes the write lock
        # at BEGIN so that two writers queue on busy_timeout instead of failing mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

# A read replica (PostgreSQL streaming replication) for reports and exports: off unless
# DATABASE_REPLICA_URL names one. Reads go to the primary unless a view opts in with
# clinic.db_routers.reading_from_replica(); writes and migrations always go to the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
DATABASE_ROUTERS: list[str] = []
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL, conn_max_age=DATABASE_CONN_MAX_AGE
    )
    DATABASE_ROUTERS = ["clinic.db_routers.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "clinic.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes checks every login first: after AXES_FAILURE_LIMIT failures the account and, on
# its own count, the source address are refused for AXES_COOLOFF_MINUTES (the clinic admin can
# unlock earlier).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 30)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A login resets the account's count once it is complete: for staff after the second factor,
# not at the password (else a known password would buy unlimited fresh tries at the code).
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Our admin shows lockouts (clinic/admin.py) with an unlock action; axes' own admin is off.
AXES_ENABLE_ADMIN = False
# The source address is REMOTE_ADDR, unless AXES_IPWARE_PROXY_COUNT says how many trusted
# proxies append to X-Forwarded-For in front of gunicorn (then the client is the hop before
# them; a client cannot forge its way past that count).
AXES_IPWARE_PROXY_COUNT = env_int("AXES_IPWARE_PROXY_COUNT", 0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)
# Usernames of patients are email addresses: axes' log lines name the source only.
AXES_CLIENT_STR_CALLABLE = "clinic.lockout.client_str"
# Successful logins are not recorded here (an audit trail is a separate piece of work).
AXES_DISABLE_ACCESS_LOG = True
# The second factor (django-otp): TOTP codes are throttled after failures (exponential
# back-off per device); the issuer names the account in authenticator apps.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Cadence")
MFA_RECOVERY_CODES = 10

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions end after SESSION_COOKIE_AGE seconds without a request (30 minutes by default).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True

# HTTPS hardening: off for the embedded default (plain http on 127.0.0.1), on in production.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE")
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
if env_bool("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
# The audit trail records REMOTE_ADDR; only behind a proxy we run, which appends the client's
# address to X-Forwarded-For, may it take that header's last hop instead (docs/audit.md).
AUDIT_TRUSTED_PROXY = env_bool("AUDIT_TRUSTED_PROXY")
# Browser features no page uses, off for every page (clinic/middleware.py sends it).
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

LANGUAGE_CODE = "en-gb"
# Date inputs need ISO values (clinic/formats/en_GB/formats.py says why).
FORMAT_MODULE_PATH = ["clinic.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# Private files (authorization documents, bulk exports): never served by a URL of their own,
# only streamed by a view that checks who asks (FileResponse, as an attachment).
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Email: files under var/mail/ unless EMAIL_BACKEND says otherwise (SMTP in production).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = Path(env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail")))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
# Seconds before a hanging relay counts as a transient error: well inside the reminder lease
# (REMINDER_LEASE_SECONDS; treatments/checks.py refuses anything else), so a slow relay never
# outlives the claim of the send that is waiting for it.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cadence <no-reply@cadence.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where an alert about a patient's side-effect report is emailed (the clinic's clinical inbox);
# empty: no email, the alerts inbox only. The email never names the patient or the symptom.
CLINICAL_ALERT_EMAIL = env_str("CLINICAL_ALERT_EMAIL")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60 * 24)

# Flash messages can name a patient: keep them in the server-side session, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# Message levels as Bootstrap alert colours (base.html uses the tag as the colour).
MESSAGE_TAGS = {message_constants.ERROR: "danger"}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
# Django's form renderer with the common widgets written in Python (clinic/renderers.py).
FORM_RENDERER = "clinic.renderers.WidgetRenderer"
PHONENUMBER_DEFAULT_REGION = env_str("PHONENUMBER_DEFAULT_REGION", "GB")
PHONENUMBER_DEFAULT_FORMAT = "INTERNATIONAL"

# Celery: kombu's filesystem transport under var/ by default; Redis or RabbitMQ by URL.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = Path(env_str("BROKER_DIR", str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # One folder for both directions: producers write where consumers read.
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu polls the folder once a second by default: a worker of `make run` would wait
        # up to a second for every batch of reminders.
        "polling_interval": 0.1,
    }
# Broker high availability (docs/scaling.md): Redis behind Sentinel with a sentinel:// URL (one
# per sentinel, joined by ";") and the name of the group they watch; or RabbitMQ with quorum
# queues (replicated; Celery then declares every queue, the routed ones too, with
# x-queue-type=quorum and uses per-consumer prefetch).
if CELERY_BROKER_URL.startswith("sentinel://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "master_name": env_str("CELERY_BROKER_MASTER_NAME", "mymaster")
    }
CELERY_TASK_DEFAULT_QUEUE_TYPE = env_str("CELERY_TASK_DEFAULT_QUEUE_TYPE", "classic")
CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = CELERY_TASK_DEFAULT_QUEUE_TYPE
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "cadence")
# A queue per kind of work, so that each can have workers of its own (docs/scaling.md): the
# reminders' dispatch and sends on CELERY_REMINDERS_QUEUE, everything else (housekeeping)
# on the default queue. Unset, the reminders share the default queue: one worker serves all,
# and a worker started on the default queue alone (as the tests' workers are) still gets them.
CELERY_REMINDERS_QUEUE = env_str("CELERY_REMINDERS_QUEUE", CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_ROUTES = {
    # a bulk export can run for minutes: never on the reminders' queue, ahead of their sends
    "treatments.tasks.run_export_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "treatments.tasks.*": {"queue": CELERY_REMINDERS_QUEUE},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# On purpose: when the broker connection drops, a running late-acked task can no longer be
# acknowledged and its message comes back; Celery cancels it rather than letting it run on
# beside its own repeat. Cancelling a send is safe: the outbox row stays claimed, the lease
# (started) or the queue timeout (not started) gives it back, and the exclusive start makes
# the redelivered copy do nothing (docs/architecture.md, "The reminder path").
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "dispatch-reminders": {
        "task": "treatments.tasks.dispatch_reminders_task",
        "schedule": float(env_int("REMINDER_DISPATCH_SECONDS", 60)),
    },
    "clear-expired-sessions": {
        "task": "clinic.tasks.clear_expired_sessions_task",
        "schedule": crontab(hour=3, minute=17),
    },
    "delete-expired-short-links": {
        "task": "treatments.tasks.delete_expired_short_links_task",
        "schedule": crontab(hour=3, minute=29),
    },
}

# Clinical thresholds that clinics and payers set differently (docs/clinical-rules.md, Settings).
RECONSTITUTION_MAX_HOURS = env_int("RECONSTITUTION_MAX_HOURS", 24)  # label; older labels: 4
TREATMENT_INTERVAL_DAYS = env_int("TREATMENT_INTERVAL_DAYS", 84)  # retreat every 12 weeks
TREATMENT_MIN_INTERVAL_DAYS = env_int("TREATMENT_MIN_INTERVAL_DAYS", 84)  # payers: 84, some 90
TOXIN_90_DAY_MAX_UNITS = env_int("TOXIN_90_DAY_MAX_UNITS", 400)  # across indications
OVERDUE_AFTER_DAYS = env_int("OVERDUE_AFTER_DAYS", 98)  # ours: 14 days past the 84-day target
SESSION_FUTURE_MINUTES = env_int("SESSION_FUTURE_MINUTES", 5)  # R21: clock skew allowed
# A response: at least this % fewer headache days than baseline, NICE's (TA260) and the one
# many US payers want; the continuation-evidence PDF says whether each is met
RESPONSE_NICE_PERCENT = env_int("RESPONSE_NICE_PERCENT", 30)
RESPONSE_PAYER_PERCENT = env_int("RESPONSE_PAYER_PERCENT", 50)
DUE_LIST_WEEKS = env_int("DUE_LIST_WEEKS", 3)  # the due list looks this far ahead
# ours: a patient this many days past due leaves the due list for "Lost to follow-up"
DUE_LIST_LOST_AFTER_DAYS = env_int("DUE_LIST_LOST_AFTER_DAYS", 365)
# ours: patients book their own visit in the portal from this many days ahead (1: tomorrow), and
# a patient already past the overdue date is offered this many days from the first bookable one
PORTAL_BOOKING_LEAD_DAYS = env_int("PORTAL_BOOKING_LEAD_DAYS", 1)
PORTAL_LATE_BOOKING_DAYS = env_int("PORTAL_LATE_BOOKING_DAYS", 28)
# Prior authorizations (issue 16): the worklist shows those ending within this many days of
# the clinic's today; a document uploaded to one is at most this many megabytes.
AUTHORIZATION_RENEW_DAYS = env_int("AUTHORIZATION_RENEW_DAYS", 30)
AUTHORIZATION_UPLOAD_MAX_MB = env_int("AUTHORIZATION_UPLOAD_MAX_MB", 5)

# Reminders (docs/clinical-rules.md). Offsets and quiet hours are local to the visit's location.
# The base of the links in messages, whose host also names Message-IDs and calendar UIDs. Unset
# (the embedded default), this machine on the port the app runs on: PORT, which `make run
# PORT=8123` passes on (as SITE_URL too: honcho gives the worker and beat ports of their own).
# Production must set it: `check --deploy` refuses it unset there (treatments.E004).
SITE_URL = env_str("SITE_URL") or f"http://127.0.0.1:{env_int('PORT', 8000)}"
SITE_URL_SET = bool(env_str("SITE_URL"))
# The base of the short links in text messages (/s/<code>): empty for SITE_URL, or a shorter
# domain that reaches the same site (in ALLOWED_HOSTS). A check warns when it is too long for
# every text to fit one segment (treatments/checks.py).
SMS_LINK_URL = env_str("SMS_LINK_URL")
# FHIR (issue 17): the identifier system of our MRNs in Patient resources, a URI that must stay
# the same for as long as the records are shared. Empty: SITE_URL + "/mrn".
FHIR_MRN_SYSTEM = env_str("FHIR_MRN_SYSTEM")
LINK_MAX_AGE_DAYS = env_int("LINK_MAX_AGE_DAYS", 30)  # signed confirm/cancel/stop links
CANCELLATION_CUTOFF_HOURS = env_int("CANCELLATION_CUTOFF_HOURS", 24)  # later: call the clinic
# The waitlist (issue 14): a freed slot is offered to this many waiting patients at once, each
# offer open this long; no slot is offered that starts sooner than the notice.
WAITLIST_OFFERS_PER_SLOT = env_int("WAITLIST_OFFERS_PER_SLOT", 3)
WAITLIST_OFFER_MINUTES = env_int("WAITLIST_OFFER_MINUTES", 120)
WAITLIST_MIN_NOTICE_MINUTES = env_int("WAITLIST_MIN_NOTICE_MINUTES", 60)
# the safety net under the offering task: beat sweeps every WAITLIST_SWEEP_MINUTES for slots
# freed in the last WAITLIST_SWEEP_HOURS that have no offer yet (a task the broker lost)
WAITLIST_SWEEP_MINUTES = env_int("WAITLIST_SWEEP_MINUTES", 5)
WAITLIST_SWEEP_HOURS = env_int("WAITLIST_SWEEP_HOURS", 24)
CELERY_BEAT_SCHEDULE["sweep-freed-slots"] = {
    "task": "treatments.tasks.sweep_freed_slots_task",
    "schedule": float(WAITLIST_SWEEP_MINUTES * 60),
}
# FHIR bulk export ($export): its NDJSON files are kept this many hours, then deleted with the
# job (hourly beat, and `manage.py delete_expired_exports`); rows are read in batches this big.
FHIR_EXPORT_KEEP_HOURS = env_int("FHIR_EXPORT_KEEP_HOURS", 24)
FHIR_EXPORT_BATCH = env_int("FHIR_EXPORT_BATCH", 100)
CELERY_BEAT_SCHEDULE["delete-expired-exports"] = {
    "task": "treatments.tasks.delete_expired_exports_task",
    "schedule": crontab(minute=41),
}
# A running export with no batch for this long lost its worker: taken back and enqueued again
# (and a pending one this old, whose message the broker lost), checked twice as often.
FHIR_EXPORT_STALL_MINUTES = env_int("FHIR_EXPORT_STALL_MINUTES", 10)
CELERY_BEAT_SCHEDULE["reclaim-stalled-exports"] = {
    "task": "treatments.tasks.reclaim_stalled_exports_task",
    "schedule": FHIR_EXPORT_STALL_MINUTES * 30.0,
}
REMINDER_VISIT_EMAIL_DAYS = env_int("REMINDER_VISIT_EMAIL_DAYS", 7)
REMINDER_VISIT_SMS_DAYS = env_int("REMINDER_VISIT_SMS_DAYS", 1)
REMINDER_DUE_DAY = env_int("REMINDER_DUE_DAY", 70)  # days after the last session
REMINDER_SEND_HOUR = env_int("REMINDER_SEND_HOUR", 10)  # local hour for due/no-show messages
# The post-injection check-in (docs/clinical-rules.md): this many days after a signed session,
# at REMINDER_SEND_HOUR in the session's location.
CHECKIN_AFTER_DAYS = env_int("CHECKIN_AFTER_DAYS", 10)
QUIET_HOURS_START = env_int("QUIET_HOURS_START", 21)
QUIET_HOURS_END = env_int("QUIET_HOURS_END", 8)
SMS_MAX_PER_DAY = env_int("SMS_MAX_PER_DAY", 1)
SMS_MAX_PER_WEEK = env_int("SMS_MAX_PER_WEEK", 3)
REMINDER_MAX_ATTEMPTS = env_int("REMINDER_MAX_ATTEMPTS", 5)
# A send that started and never finished (its worker died) is taken back after the lease; a
# claim still waiting in the broker's queue after the queue timeout: its message may have been
# lost with the broker (Redis without persistence, a deleted queue folder). The queue timeout
# is short on purpose: a stale copy of a retaken claim's message does nothing, since a send
# starts only on a row still claimed with its own token and not yet started. Beat dispatches
# every REMINDER_DISPATCH_SECONDS (60), so a lost message is claimed again within the queue
# timeout plus a minute (4 minutes). Redis's own redelivery of an unacknowledged message
# (visibility_timeout, an hour) is much later and likewise finds nothing to do.
REMINDER_LEASE_SECONDS = env_int("REMINDER_LEASE_SECONDS", 300)
REMINDER_QUEUE_TIMEOUT_SECONDS = env_int("REMINDER_QUEUE_TIMEOUT_SECONDS", 180)
# Claims per send task: each row of a batch is started (and leased) on its own, when its turn
# comes; one failing claim does not stop the others.
REMINDER_SEND_BATCH = env_int("REMINDER_SEND_BATCH", 20)
# On PostgreSQL a send's own outbox writes commit without waiting for the disk (a database
# crash may then repeat a message, with the same Message-ID, as a worker crash may); True
# waits for every one (treatments/services/reminders.py, _asynchronous_commits).
REMINDER_SYNCHRONOUS_COMMIT = env_bool("REMINDER_SYNCHRONOUS_COMMIT")
# A channel's timeout plus this margin must stay below the lease (treatments/checks.py).
REMINDER_SEND_MARGIN_SECONDS = env_int("REMINDER_SEND_MARGIN_SECONDS", 60)
# Re-planning every visit's reminders (manage.py plan_reminders) plans its batches on this many
# database connections at once: PostgreSQL plans each batch in one backend, so two use both
# cores of a small server. SQLite has one writer: always one there.
REMINDER_PLANNING_CONNECTIONS = env_int(
    "REMINDER_PLANNING_CONNECTIONS",
    2 if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" else 1,
)
# The SMS provider: a dotted path to a backend class; the file backend writes to var/sms/.
SMS_BACKEND = env_str("SMS_BACKEND", "treatments.channels.FileSmsBackend")
SMS_FILE_PATH = Path(env_str("SMS_FILE_PATH", str(VAR_DIR / "sms")))
SMS_TIMEOUT = env_int("SMS_TIMEOUT", 30)  # seconds, passed to the SMS backend
# Twilio (SMS_BACKEND=treatments.sms_twilio.TwilioSmsBackend): the account, its auth token (it
# also checks the signature of Twilio's webhooks), the sender (a number in E.164 or a Messaging
# Service SID, MG...), and the API's address (tests point it at a local server).
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM = env_str("TWILIO_FROM")
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "https://api.twilio.com")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request-line logging carries query strings; ours never hold patient data, but the
        # 4xx noise is not useful either.
        "django.request": {"level": "ERROR"},
        # django-axes notes every login at INFO; its warnings (lockouts) are what matter.
        "axes": {"level": "WARNING"},
        # The twilio package logs every request's URL and headers at INFO: noise at best.
        "twilio.http_client": {"level": "WARNING"},
    },
}
