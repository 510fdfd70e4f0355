"""FHIR Bulk Data export (treatments/fhir/export.py, treatments/views/fhir_export.py): the
kick-off, status polling and files over HTTP, the service that streams NDJSON, its claim, its
audit and its expiry; and one run through a real worker on the configured broker."""

import datetime
import importlib
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessEvent
from clinic.models import Location
from patients.models import Patient
from tests.conftest import make_patient, wait_until
from treatments.fhir import export
from treatments.fhir.access import FhirAccess
from treatments.fhir.mappers import RESOURCE_TYPES
from treatments.models import ExportJob
from treatments.services.api_clients import create_api_client, revoke_api_client
from treatments.tasks import (
    delete_expired_exports_task,
    reclaim_stalled_exports_task,
    run_export_task,
)

KICK_OFF = "/fhir/R4/$export"
ASYNC = {"HTTP_PREFER": "respond-async"}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def r4b_model(type_name: str):
    module = importlib.import_module(f"fhir.resources.R4B.{type_name.lower()}")
    return getattr(module, type_name)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def make_client(clinic_admin, scopes=None, location=None, name="Registry"):
    return create_api_client(
        name=name,
        scopes=list(RESOURCE_TYPES) if scopes is None else scopes,
        location=location,
        created_by=clinic_admin,
    )


def kick_off(client, headers: dict, query: str = "") -> ExportJob:
    """Kick off through the view and run the queued task as the worker would (by id)."""
    response = client.get(KICK_OFF + query, **ASYNC, **headers)
    assert response.status_code == 202, response.content
    job = ExportJob.objects.get(token=response["Content-Location"].rsplit("/", 1)[1])
    assert run_export_task(job.pk) == "done"
    return job


def status_path(job: ExportJob) -> str:
    return reverse("fhir_export:status", args=[job.token])


def file_path(job: ExportJob, type_name: str) -> str:
    return reverse("fhir_export:file", args=[job.token, type_name])


def lines_of(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


# --- the service -------------------------------------------------------------------------------


def test_the_demo_clinics_export_writes_ndjson_whose_every_line_validates_as_r4b(
    db, clinic_admin, settings
):
    # Given the demo clinic, and batches smaller than its tables
    call_command("seed_demo")
    settings.FHIR_EXPORT_BATCH = 7
    access = FhirAccess(user=clinic_admin, client=None)
    job = export.start_export(
        access=access,
        types=export.export_types(access, None),
        request_url="http://testserver/fhir/R4/$export",
        now=timezone.now(),
    )

    # When the export runs
    assert export.run_export(job_id=job.pk) == "done"

    # Then every type has a file, each line validates, and the manifest's counts are the lines
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE
    assert [item["type"] for item in job.output] == list(RESOURCE_TYPES)
    for item in job.output:
        lines = job.file_path(item["type"]).read_text().splitlines()
        assert len(lines) == item["count"] > 0, item
        model = r4b_model(item["type"])
        ids = set()
        for line in lines:
            resource = json.loads(line)
            assert resource["resourceType"] == item["type"]
            model.model_validate(resource)
            ids.add(resource["id"])
        assert len(ids) == len(lines), f"{item['type']} ids repeat"
    assert job.output[0] == {"type": "Patient", "count": Patient.objects.count()}
    assert not list(job.directory.glob("*.part"))


def test_running_the_export_twice_exports_once(db, clinic_admin):
    make_patient(31)
    access = FhirAccess(user=clinic_admin, client=None)
    job = export.start_export(
        access=access,
        types=["Patient"],
        request_url="http://testserver/fhir/R4/$export",
        now=timezone.now(),
    )
    assert run_export_task(job.pk) == "done"
    written = job.file_path("Patient").read_bytes()
    audit_rows = AccessEvent.objects.count()

    # a second delivery of the same task (acks_late, a redelivery) finds nothing to claim
    assert run_export_task(job.pk) == "not claimed (done)"
    assert job.file_path("Patient").read_bytes() == written
    assert AccessEvent.objects.count() == audit_rows


class WorkerDied(BaseException):
    """Stands for a SIGKILL: no `except Exception` catches it, so the run leaves the job as
    a killed worker would, running, with its part file half written."""


def with_patient_mapper(monkeypatch, resources) -> None:
    patched = RESOURCE_TYPES["Patient"].__class__(
        **{**RESOURCE_TYPES["Patient"].__dict__, "resources": resources}
    )
    monkeypatch.setitem(RESOURCE_TYPES, "Patient", patched)


def start_patient_export(clinic_admin, now) -> ExportJob:
    access = FhirAccess(user=clinic_admin, client=None)
    return export.start_export(
        access=access, types=["Patient"], request_url="http://testserver/x", now=now
    )


def test_a_job_whose_worker_died_is_taken_back_and_run_again(
    db, clinic_admin, settings, monkeypatch, time_machine
):
    # Given an export whose worker dies during its first batch
    for number in range(1, 5):
        make_patient(number)
    settings.FHIR_EXPORT_BATCH = 2
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    job = start_patient_export(clinic_admin, start)
    original = RESOURCE_TYPES["Patient"].resources

    def dies(rows):
        yield from original(rows[:1])
        raise WorkerDied

    with_patient_mapper(monkeypatch, dies)
    with pytest.raises(WorkerDied):
        run_export_task(job.pk)
    monkeypatch.undo()
    job.refresh_from_db()
    assert (job.status, job.attempt, job.heartbeat_at) == ("running", 1, start)
    # its message comes back (acks_late) but the job is running: the claim refuses it
    assert run_export_task(job.pk) == "not claimed (running)"

    # When the beat's reclaim runs: before the stall time nothing; after it, the job is back
    stall = datetime.timedelta(minutes=settings.FHIR_EXPORT_STALL_MINUTES)
    assert export.reclaim_stalled_exports(now=start + stall - datetime.timedelta(seconds=1)) == []
    assert export.reclaim_stalled_exports(now=start + stall + datetime.timedelta(seconds=1)) == [
        job.pk
    ]
    job.refresh_from_db()
    assert (job.status, job.heartbeat_at) == ("pending", None)

    # Then the task enqueued again runs it whole, as the second attempt
    assert run_export_task(job.pk) == "done"
    job.refresh_from_db()
    assert (job.status, job.attempt) == ("done", 2)
    assert job.output == [{"type": "Patient", "count": 4}]
    assert len(job.file_path("Patient").read_text().splitlines()) == 4
    assert not list(job.directory.glob("*.part"))


def test_a_slow_run_that_lost_its_job_stops_without_touching_the_new_attempts_files(
    db, clinic_admin, settings, monkeypatch
):
    # Given a run whose job is taken back and claimed by a second run during its first batch
    for number in range(1, 5):
        make_patient(number)
    settings.FHIR_EXPORT_BATCH = 2
    job = start_patient_export(clinic_admin, timezone.now())
    original = RESOURCE_TYPES["Patient"].resources

    def overtaken(rows):
        yield from original(rows)
        if ExportJob.objects.get(pk=job.pk).attempt == 1:
            ExportJob.objects.filter(pk=job.pk).update(attempt=2)  # reclaimed and claimed
            (job.directory / "Patient.ndjson.2.part").write_text("the new attempt's\n")

    with_patient_mapper(monkeypatch, overtaken)

    # When the first run reaches the end of its batch, it stops
    assert run_export_task(job.pk) == "superseded"

    # Then the job is the second attempt's, running, and only the first run's file is gone
    job.refresh_from_db()
    assert (job.status, job.attempt, job.output) == ("running", 2, [])
    assert sorted(path.name for path in job.directory.iterdir()) == ["Patient.ndjson.2.part"]
    assert not AccessEvent.objects.filter(view="fhir:export").exists()


def test_the_reclaim_enqueues_a_pending_job_only_once_it_is_stale(
    db, clinic_admin, settings, monkeypatch, time_machine
):
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    job = start_patient_export(clinic_admin, start)
    stall = datetime.timedelta(minutes=settings.FHIR_EXPORT_STALL_MINUTES, seconds=1)
    enqueued = []
    monkeypatch.setattr(run_export_task, "delay_on_commit", enqueued.append)

    # a fresh job's message is still on its way: the beat's task leaves it
    assert reclaim_stalled_exports_task() == 0
    # one pending past the stall time was lost with the broker: enqueued again
    time_machine.move_to(start + stall, tick=False)
    assert reclaim_stalled_exports_task() == 1
    assert enqueued == [job.pk]
    # an expired one is left to the cleanup
    assert export.reclaim_stalled_exports(now=job.expires_at) == []


def test_the_database_refuses_a_running_job_without_a_heartbeat(db, clinic_admin):
    from django.db import IntegrityError, transaction

    job = start_patient_export(clinic_admin, timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        ExportJob.objects.filter(pk=job.pk).update(status="running")


def test_the_export_is_audited_once_per_patient_naming_the_job(db, client, clinic_admin, location):
    # Given two patients, and a client limited to one location
    first = make_patient(1, location=location)
    other_place = Location.objects.create(
        name="Elsewhere", address="1 Strand", time_zone="Europe/London"
    )
    make_patient(2, location=other_place)
    api_client, token = make_client(clinic_admin, location=location)

    # When the client exports
    job = kick_off(client, bearer(token))

    # Then the trail says the client's export read that location's patient, and no other
    rows = list(AccessEvent.objects.filter(view="fhir:export"))
    assert [
        (row.patient_id, row.record_id, row.api_client_id, row.user_id, row.role) for row in rows
    ] == [(first.pk, job.pk, api_client.pk, None, "")]


def test_a_client_with_a_location_limit_exports_only_that_locations_patients(
    db, client, clinic_admin, location
):
    mine = make_patient(1, location=location)
    elsewhere = Location.objects.create(
        name="Elsewhere", address="1 Strand", time_zone="Europe/London"
    )
    make_patient(2, location=elsewhere)
    _, token = make_client(clinic_admin, scopes=["Patient"], location=location)

    job = kick_off(client, bearer(token))

    response = client.get(file_path(job, "Patient"), **bearer(token))
    assert [resource["id"] for resource in lines_of(response)] == [str(mine.pk)]


def test_a_revoked_clients_waiting_export_fails_without_writing(db, clinic_admin):
    make_patient(31)
    api_client, _ = make_client(clinic_admin, scopes=["Patient"])
    job = export.start_export(
        access=FhirAccess(user=None, client=api_client),
        types=["Patient"],
        request_url="http://testserver/fhir/R4/$export",
        now=timezone.now(),
    )
    revoke_api_client(client=api_client, revoked_by=clinic_admin)

    assert run_export_task(job.pk) == "failed"

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert "revoked" in job.error
    assert not job.directory.exists()


def test_a_mapper_that_fails_fails_the_job_with_a_message_naming_no_patient(
    db, client, clinic_admin, monkeypatch
):
    patient = make_patient(31)

    def broken(rows):
        raise ValueError(f"cannot map {patient.last_name}")
        yield  # a generator, as the mappers are

    patched = RESOURCE_TYPES["Patient"].__class__(
        **{**RESOURCE_TYPES["Patient"].__dict__, "resources": broken}
    )
    monkeypatch.setitem(RESOURCE_TYPES, "Patient", patched)
    client.force_login(clinic_admin)
    response = client.get(KICK_OFF + "?_type=Patient", **ASYNC)
    job = ExportJob.objects.get()
    assert run_export_task(job.pk) == "failed"

    response = client.get(response["Content-Location"])
    assert response.status_code == 500
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "exception"
    assert patient.last_name not in response.content.decode()
    assert not job.directory.exists()


def test_a_cancel_while_running_stops_after_the_batch_and_leaves_no_files(
    db, clinic_admin, settings, monkeypatch
):
    for number in range(1, 5):
        make_patient(number)
    settings.FHIR_EXPORT_BATCH = 2
    access = FhirAccess(user=clinic_admin, client=None)
    job = export.start_export(
        access=access,
        types=["Patient"],
        request_url="http://testserver/fhir/R4/$export",
        now=timezone.now(),
    )
    original = RESOURCE_TYPES["Patient"].resources

    def cancel_midway(rows):
        yield from original(rows)
        if ExportJob.objects.filter(pk=job.pk).exists():
            export.cancel_export(job=job)  # the DELETE arrives during the first batch

    patched = RESOURCE_TYPES["Patient"].__class__(
        **{**RESOURCE_TYPES["Patient"].__dict__, "resources": cancel_midway}
    )
    monkeypatch.setitem(RESOURCE_TYPES, "Patient", patched)

    assert export.run_export(job_id=job.pk) == "cancelled"
    assert not job.directory.exists()
    assert not ExportJob.objects.exists()
    assert not AccessEvent.objects.filter(view="fhir:export").exists()


def test_expired_exports_lose_their_files_and_rows_by_the_beat_task_and_the_command(
    db, clinic_admin, media_root, time_machine
):
    make_patient(31)
    access = FhirAccess(user=clinic_admin, client=None)
    start = timezone.now()
    jobs = []
    for _ in range(2):
        job = export.start_export(
            access=access, types=["Patient"], request_url="http://testserver/x", now=start
        )
        export.run_export(job_id=job.pk)
        jobs.append(job)
    later = export.start_export(
        access=access,
        types=["Patient"],
        request_url="http://testserver/x",
        now=start + datetime.timedelta(hours=2),
    )
    export.run_export(job_id=later.pk)
    orphan = media_root / "fhir-export" / "left-by-a-crash"
    orphan.mkdir()
    assert all(job.directory.is_dir() for job in jobs)

    # When the clock passes the first two jobs' expiry (24 h), and beat's task runs
    time_machine.move_to(jobs[0].expires_at + datetime.timedelta(minutes=1))
    assert delete_expired_exports_task() == 2

    # Then their files and rows are gone, the later job stays, and so does nothing orphaned
    assert list(ExportJob.objects.values_list("pk", flat=True)) == [later.pk]
    assert not any(job.directory.exists() for job in jobs)
    assert later.directory.is_dir()
    assert not orphan.exists()

    # and the command does the same later on
    time_machine.move_to(later.expires_at + datetime.timedelta(minutes=1))
    call_command("delete_expired_exports")
    assert not ExportJob.objects.exists()
    assert not later.directory.exists()


def test_the_cleanup_runs_hourly_on_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["delete-expired-exports"]
    assert entry["task"] == delete_expired_exports_task.name


def test_the_export_task_is_routed_to_the_default_queue_not_the_reminders(settings):
    from clinic.celery import app

    routes = settings.CELERY_TASK_ROUTES
    assert routes[run_export_task.name] == {"queue": settings.CELERY_TASK_DEFAULT_QUEUE}
    assert list(routes).index(run_export_task.name) < list(routes).index("treatments.tasks.*")
    assert app.amqp.router.route({}, run_export_task.name)["queue"].name == (
        settings.CELERY_TASK_DEFAULT_QUEUE
    )


# --- kick-off ----------------------------------------------------------------------------------


def test_kick_off_needs_prefer_respond_async(db, client, clinic_admin):
    _, token = make_client(clinic_admin)
    response = client.get(KICK_OFF, **bearer(token))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/fhir+json"
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not ExportJob.objects.exists()


def test_kick_off_answers_202_with_an_opaque_status_url_and_queues_only_the_jobs_id(
    db, client, clinic_admin, django_capture_on_commit_callbacks
):
    api_client, token = make_client(clinic_admin, scopes=["Patient", "Location"])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.get(KICK_OFF, **ASYNC, **bearer(token))

    assert response.status_code == 202
    job = ExportJob.objects.get()
    assert response["Content-Location"] == f"http://testserver/fhir/R4/$export-status/{job.token}"
    assert len(job.token) >= 43
    assert str(job.pk) != job.token
    assert job.client == api_client
    assert job.user is None
    assert job.types == ["Patient", "Location"]  # its scopes, in the mappers' order
    assert job.status == ExportJob.Status.PENDING
    assert [callback.args for callback in callbacks] == [(job.pk,)]


def test_type_is_checked_against_the_mappers_and_the_clients_scopes(db, client, clinic_admin):
    _, token = make_client(clinic_admin, scopes=["Patient", "Location"])
    cases = {
        "?_type=Patient": 202,
        "?_type=Patient,Location": 202,
        "?_type=Practitioner": 403,  # a known type, not in its scopes
        "?_type=Patient,Nonsense": 400,
        "?_type=": 400,
        "?_type=Patient,,Location": 400,
        "?_since=2026-01-01T00:00:00Z": 400,  # refused: see the view's docstring
        "?_typeFilter=Patient%3Factive%3Dtrue": 400,
        "?_outputFormat=text/csv": 400,
        "?_outputFormat=ndjson": 202,
    }
    got = {
        query: client.get(KICK_OFF + query, **ASYNC, **bearer(token)).status_code for query in cases
    }
    assert got == cases
    assert ExportJob.objects.count() == 3
    assert ExportJob.objects.order_by("pk").first().types == ["Patient"]


def test_who_may_export_by_session(db, client, personas):
    expected = {"clinic_admin": 202, "clinician": 403, "front_desk": 403, "patient": 404}
    got = {}
    for role, status in expected.items():
        client.force_login(personas[role])
        response = client.get(KICK_OFF, **ASYNC)
        got[role] = response.status_code
        if status != 202:
            assert response.json()["resourceType"] == "OperationOutcome"
    assert got == expected
    assert ExportJob.objects.get().user == personas["clinic_admin"]


def test_no_credentials_or_a_revoked_token_get_401_with_www_authenticate(db, client, clinic_admin):
    api_client, token = make_client(clinic_admin)
    revoke_api_client(client=api_client, revoked_by=clinic_admin)
    for headers in ({}, bearer(token), bearer("cad_made-up")):
        response = client.get(KICK_OFF, **ASYNC, **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")


# --- status, manifest and files ----------------------------------------------------------------


def test_status_is_202_with_progress_until_done_then_the_manifest(db, client, clinic_admin):
    patient = make_patient(31)
    _, token = make_client(clinic_admin, scopes=["Patient", "Practitioner"])
    response = client.get(KICK_OFF, **ASYNC, **bearer(token))
    status_url = response["Content-Location"]
    job = ExportJob.objects.get()

    waiting = client.get(status_url, **bearer(token))
    assert waiting.status_code == 202
    assert waiting["X-Progress"]
    assert waiting["Retry-After"]

    run_export_task(job.pk)
    done = client.get(status_url, **bearer(token))
    assert done.status_code == 200
    manifest = done.json()
    job.refresh_from_db()
    assert manifest["transactionTime"] == job.started_at.isoformat().replace("+00:00", "Z")
    assert manifest["request"] == "http://testserver/fhir/R4/$export"
    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    assert [(item["type"], item["count"]) for item in manifest["output"]] == [
        ("Patient", 1),
        ("Practitioner", job.output[1]["count"]),
    ]

    patient_url = manifest["output"][0]["url"]
    assert patient_url.startswith("http://testserver/fhir/R4/$export-status/")
    response = client.get(patient_url, **bearer(token))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+ndjson"
    assert [resource["id"] for resource in lines_of(response)] == [str(patient.pk)]


def test_only_the_client_that_asked_gets_the_status_and_the_files(
    db, client, clinic_admin, personas
):
    make_patient(31)
    _, token = make_client(clinic_admin, scopes=["Patient"])
    _, other_token = make_client(clinic_admin, scopes=["Patient"], name="Another registry")
    job = kick_off(client, bearer(token))

    assert client.get(file_path(job, "Patient"), **bearer(token)).status_code == 200
    for url in (status_path(job), file_path(job, "Patient"), file_path(job, "Location")):
        # another client, and the clinic admin by session, are told nothing exists
        response = client.get(url, **bearer(other_token))
        assert response.status_code == 404
        assert response.json()["issue"][0]["code"] == "not-found"
        client.force_login(personas["clinic_admin"])
        assert client.get(url).status_code == 404
        client.logout()
        assert client.delete(url, **bearer(other_token)).status_code in (404, 405)
    assert ExportJob.objects.filter(pk=job.pk).exists()


def test_a_clinic_admins_export_is_served_to_that_admin_by_session_only(
    db, client, personas, clinic_admin
):
    make_patient(31)
    client.force_login(clinic_admin)
    job = kick_off(client, {})
    assert client.get(file_path(job, "Patient")).status_code == 200
    _, token = make_client(clinic_admin, scopes=["Patient"])
    client.logout()
    # a client made by that same admin is still not the admin
    assert client.get(file_path(job, "Patient"), **bearer(token)).status_code == 404


def test_an_expired_export_is_gone_before_the_cleanup_runs(db, client, clinic_admin, time_machine):
    make_patient(31)
    _, token = make_client(clinic_admin, scopes=["Patient"])
    job = kick_off(client, bearer(token))
    time_machine.move_to(job.expires_at + datetime.timedelta(seconds=1))
    assert client.get(status_path(job), **bearer(token)).status_code == 404
    assert client.get(file_path(job, "Patient"), **bearer(token)).status_code == 404


def test_delete_cancels_the_export_and_deletes_its_files(
    db, client, clinic_admin, django_capture_on_commit_callbacks
):
    make_patient(31)
    _, token = make_client(clinic_admin, scopes=["Patient"])
    job = kick_off(client, bearer(token))
    directory = job.directory
    assert directory.is_dir()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(status_path(job), **bearer(token))

    assert response.status_code == 202
    assert not ExportJob.objects.exists()
    assert not Path(directory).exists()
    assert client.get(status_path(job), **bearer(token)).status_code == 404
    # a task delivered after the cancel finds nothing to run
    assert run_export_task(job.pk) == "not claimed (gone)"


# --- a real worker -----------------------------------------------------------------------------


@pytest.mark.worker
def test_a_real_worker_on_the_configured_broker_runs_the_export(
    celery_cluster, clinic_admin, media_root, client
):
    # Given a kick-off in the database the worker shares, its files under this test's media
    celery_cluster.env["MEDIA_ROOT"] = str(media_root)
    worker = celery_cluster.worker()
    patient = make_patient(31)
    _, token = make_client(clinic_admin, scopes=["Patient"])
    response = client.get(KICK_OFF, **ASYNC, **bearer(token))
    job = ExportJob.objects.get()

    # When its task goes through the broker to a worker process
    run_export_task.apply_async((job.pk,), queue=celery_cluster.queue)

    # Then the status turns into a manifest whose file holds the patient
    wait_until(lambda: client.get(response["Content-Location"], **bearer(token)).status_code == 200)
    manifest = client.get(response["Content-Location"], **bearer(token)).json()
    lines = lines_of(client.get(manifest["output"][0]["url"], **bearer(token)))
    assert [line["id"] for line in lines] == [str(patient.pk)]
    assert "run_export_task" in "".join(worker.output)


def test_every_export_call_leaves_an_audit_row_naming_the_caller(db, client, clinic_admin):
    make_patient(31)
    api_client, token = make_client(clinic_admin, scopes=["Patient"])
    job = kick_off(client, bearer(token))
    client.get(status_path(job), **bearer(token))
    client.get(file_path(job, "Patient"), **bearer(token))
    client.get(KICK_OFF, **bearer(token))  # refused: no Prefer header
    client.get(KICK_OFF, **ASYNC)  # refused: nobody

    calls = AccessEvent.objects.filter(view__startswith="fhir_export:").order_by("pk")
    assert [(e.view, e.status, e.api_client_id) for e in calls] == [
        ("fhir_export:kick_off", 202, api_client.pk),
        ("fhir_export:status", 200, api_client.pk),
        ("fhir_export:file", 200, api_client.pk),
        ("fhir_export:kick_off", 400, api_client.pk),
        ("fhir_export:kick_off", 401, None),
    ]
    assert [e.record_id for e in calls[:3]] == [job.pk] * 3
    assert calls[2].resource_type == "Patient"
