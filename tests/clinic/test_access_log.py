"""Gunicorn's access log keeps the route and status of a secret URL, never its secret."""

import datetime
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from clinic.access_log import RedactingLogger
from tests.conftest import BASE_DIR

SECRET = "eyJhIjoxfQ:1uX9Zt:s3cr3t-Signature_abc123"


def access_line(tmp_path, path: str, referer: str = "-") -> str:
    """The line gunicorn writes for one GET, with the project's gunicorn.conf.py."""
    config = Config()
    settings = {}
    exec((BASE_DIR / "gunicorn.conf.py").read_text(), settings)
    for name in ("logger_class", "accesslog"):
        config.set(name, settings[name])
    assert config.logger_class is RedactingLogger
    log_file = tmp_path / "access.log"
    config.set("accesslog", str(log_file))
    logger = config.logger_class(config)
    raw_path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": raw_path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": "Mozilla/5.0",
    }
    request = SimpleNamespace(headers=[("HOST", "cadence.example.org"), ("REFERER", referer)])
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    return log_file.read_text()


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        (f"/feed/{SECRET}.ics", "/feed/[redacted].ics"),
        (f"/r/confirm/{SECRET}/", "/r/confirm/[redacted]/"),
        (f"/r/cancel/{SECRET}/?utm=sms", "/r/cancel/[redacted]/?utm=sms"),
        (f"/r/stop/{SECRET}/", "/r/stop/[redacted]/"),
        (f"/r/offer/{SECRET}/", "/r/offer/[redacted]/"),
        (f"/s/{SECRET}", "/s/[redacted]"),
        (f"/s/{SECRET}?x=1", "/s/[redacted]?x=1"),
        (f"/welcome/MQ/{SECRET}/", "/welcome/[redacted]/"),
        (f"/accounts/reset/MQ/{SECRET}/", "/accounts/reset/[redacted]/"),
    ],
)
def test_the_access_log_redacts_secret_urls(tmp_path, path, kept):
    line = access_line(tmp_path, path, referer=f"https://cadence.example.org{path}")
    assert SECRET not in line
    assert line.count(kept) == 2  # the request line and the Referer
    assert '" 200 512 ' in line


def test_the_access_log_keeps_ordinary_urls(tmp_path):
    line = access_line(tmp_path, "/treatments/calendar/?date=2026-12-01")
    assert '"GET /treatments/calendar/?date=2026-12-01 HTTP/1.1" 200' in line
