import os
import subprocess
import sys

from tests.conftest import BASE_DIR

PRODUCTION = {
    "SECRET_KEY": "q8v-3kP0x_this-is-a-long-random-production-key-7Yt2mZr9LwB4nHs6",
    "ALLOWED_HOSTS": "cadence.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def check_deploy(extra_env):
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env = inherited | extra_env
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_check_deploy():
    result = check_deploy(PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_the_embedded_default_is_flagged_by_check_deploy():
    result = check_deploy({})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "SECURE_SSL_REDIRECT" in result.stderr


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
