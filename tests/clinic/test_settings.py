import os
import subprocess
import sys

import pytest

from tests.conftest import BASE_DIR

PRODUCTION = {
    "SECRET_KEY": "q8v-3kP0x_this-is-a-long-random-production-key-7Yt2mZr9LwB4nHs6",
    "ALLOWED_HOSTS": "cadence.example.org",
    "SITE_URL": "https://cadence.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


# Variables that choose the database: without them the settings are the embedded default.
DATABASE_VARIABLES = ("DATABASE_URL", "POSTGRES_DB", "POSTGRES_HOST")


def manage(*args, extra_env, embedded=False):
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION
        and k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG", "SILENCED_SYSTEM_CHECKS")
        and not (embedded and k in DATABASE_VARIABLES)
    }
    env = inherited | extra_env
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def check_deploy(extra_env, embedded=False):
    return manage(
        "check", "--deploy", "--fail-level", "WARNING", extra_env=extra_env, embedded=embedded
    )


def test_production_settings_pass_check_deploy():
    result = check_deploy(PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_the_embedded_default_over_plain_http_is_flagged_by_check_deploy(tmp_path):
    result = check_deploy({"VAR_DIR": str(tmp_path)}, embedded=True)
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr


def test_without_debug_a_start_without_a_key_is_refused():
    # Given production settings (PostgreSQL) with every variable but SECRET_KEY
    env = PRODUCTION | {"SECRET_KEY": "", "POSTGRES_HOST": "127.0.0.1"}

    # When Django starts, then it stops at once and says why
    result = manage("check", extra_env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    "key",
    ["change-me-to-a-long-random-string", "django-insecure-" + "k" * 50, "a" * 60],
)
def test_without_debug_a_weak_or_public_key_is_refused(key):
    result = manage("check", extra_env=PRODUCTION | {"SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_passes_only_with_a_real_key():
    # With DEBUG on (the only way to start without a key) the public dev key is flagged
    result = check_deploy(PRODUCTION | {"SECRET_KEY": "", "DEBUG": "true"})
    assert result.returncode != 0
    assert "security.W009" in result.stderr

    result = check_deploy(PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_the_embedded_default_makes_its_own_key_once_and_keeps_it(tmp_path):
    # Given the embedded default with nothing set
    env = {"VAR_DIR": str(tmp_path), "SECRET_KEY": ""}
    show_key = (
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
    )

    # When it starts twice
    first = manage(*show_key, extra_env=env, embedded=True)
    second = manage(*show_key, extra_env=env, embedded=True)

    # Then both starts use one key, kept in var/ for its owner only, and not the public one
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text().strip()
    assert first.stdout.strip() == second.stdout.strip() == key
    assert len(key) >= 50
    assert not key.startswith("django-insecure")
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_procfile_web_start_passes_its_deploy_check_on_the_embedded_default(tmp_path):
    # Given the web line of the Procfile that `make run` starts, with nothing set
    web = (BASE_DIR / "Procfile").read_text().split("web:", 1)[1].splitlines()[0]
    check, gunicorn = web.split("&&")
    assert "check --deploy --fail-level WARNING" in check
    assert "gunicorn" in gunicorn

    # When its check runs as the Procfile says
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION
        and k not in DATABASE_VARIABLES
        and k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    result = subprocess.run(
        check.replace(".venv/bin/python", sys.executable),
        shell=True,
        cwd=BASE_DIR,
        env=env | {"VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then it passes: only the plain-http checks are silenced, the key is the embedded one
    assert result.returncode == 0, result.stderr


def test_a_boolean_setting_that_is_not_true_or_false_stops_the_start(tmp_path):
    env = {"VAR_DIR": str(tmp_path), "SECURE_SSL_REDIRECT": "ture"}
    result = manage("check", extra_env=env, embedded=True)
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT='ture' is neither true nor false" in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"), [("TRUE", "True"), (" off ", "False"), ("", "False")]
)
def test_a_boolean_setting_reads_plain_words(tmp_path, value, expected):
    env = {"VAR_DIR": str(tmp_path), "SECURE_SSL_REDIRECT": value}
    show = (
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECURE_SSL_REDIRECT)",
    )
    result = manage(*show, extra_env=env, embedded=True)
    assert result.stdout.strip() == expected, result.stderr


def test_an_empty_variable_means_the_default(tmp_path):
    # An env file line such as `VAR_DIR=` must not put var/ in the working directory
    env = os.environ | {"VAR_DIR": "", "STATIC_ROOT": "", "EMAIL_FILE_PATH": ""}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; "
            "print(settings.VAR_DIR, settings.STATIC_ROOT, settings.EMAIL_FILE_PATH)",
        ],
        cwd=tmp_path,
        env=env | {"DJANGO_SETTINGS_MODULE": "clinic.settings", "PYTHONPATH": str(BASE_DIR)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    var = BASE_DIR / "var"
    assert result.stdout.split() == [str(var), str(var / "static"), str(var / "mail")]
