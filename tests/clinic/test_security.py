import os
import subprocess
import sys

from django.urls import reverse

from tests.conftest import BASE_DIR


def test_every_page_carries_a_strict_content_security_policy(client, db):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_pages_load_nothing_from_the_internet(client, front_desk):
    client.force_login(front_desk)
    html = client.get(reverse("patients:list")).content.decode()
    assert "http://" not in html
    assert "https://" not in html


def test_the_embedded_default_runs_sqlite_in_wal_mode(tmp_path):
    # Whatever database this test run uses, the embedded default (nothing set) is SQLite + WAL
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "POSTGRES_DB", "POSTGRES_HOST"}
    }
    script = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA journal_mode'); print(connection.vendor, c.fetchone()[0])"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=BASE_DIR,
        env=env | {"VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split()[-2:] == ["sqlite", "wal"], result.stderr


def test_the_health_check_answers_without_login(client, db):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.content == b"ok"


def test_flash_messages_stay_on_the_server(client, front_desk, patient_a):
    # A message may name a patient: it must not travel in a cookie
    client.force_login(front_desk)
    client.post(
        reverse("patients:consent", args=[patient_a.pk]),
        {"channel": "email", "granted": "true", "source": "written"},
    )
    assert "messages" not in client.cookies


def test_every_response_turns_off_browser_features_no_page_uses(client, db, front_desk):
    client.force_login(front_desk)
    for url in (reverse("login"), reverse("patients:list"), "/no-such-page/"):
        policy = client.get(url)["Permissions-Policy"]
        features = dict(item.strip().split("=") for item in policy.split(","))
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert features[feature] == "()", (url, feature)


def test_a_nul_byte_in_the_path_or_a_query_is_a_bad_request(client, db, clinician):
    client.force_login(clinician)
    assert client.get("/feed/abc%00def.ics").status_code == 400
    assert client.get(reverse("treatments:lot_recall"), {"lot": "C12\x0034"}).status_code == 400
    # the same request without the NUL is served (posted fields are the forms' to refuse)
    assert client.get(reverse("treatments:lot_recall"), {"lot": "C1234"}).status_code == 200
