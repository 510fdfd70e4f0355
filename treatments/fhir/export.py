"""FHIR Bulk Data export, system level (`GET /fhir/R4/$export`; the Bulk Data Access IG).

1. `start_export` records an ExportJob for the caller (an API client, or a clinic admin by
   session) with the resource types it asked for and may read; the view enqueues its id.
2. `run_export` (the task's one call) claims the job with a conditional UPDATE
   (pending -> running, attempt + 1), so a second run of the same task does nothing. It
   streams each type's rows, narrowed to what the requester may read (`FhirAccess.rows`),
   `FHIR_EXPORT_BATCH` at a time (`.iterator(chunk_size)`, prefetches per chunk) through the
   mapper's `resources()` into MEDIA_ROOT/fhir-export/<token>/<Type>.ndjson: memory stays
   flat however big the clinic.
   Between batches it checks the job is still running as its attempt, and records the time
   (a DELETE cancels it; a reclaim takes it away).
3. The patients whose data went into the files are audited (AccessEvent rows, view
   `fhir:export`, the job as the record): who exported whose record, when.
4. `cancel_export` (DELETE on the status URL) and `delete_expired_exports` (hourly, after
   FHIR_EXPORT_KEEP_HOURS) delete the files and the row.
5. `reclaim_stalled_exports` (beat): a running job with no batch for FHIR_EXPORT_STALL_MINUTES
   (its worker died) goes back to pending, and every job pending that long (its message lost
   with the broker, or the job just taken back) is enqueued again. The conditional claim makes
   a message that was not lost after all harmless.

Reads of the clinic's data go to the read replica when there is one (clinic/db_routers.py);
the job's own row is always read and written on the primary.
"""

from __future__ import annotations

import datetime
import json
import logging
import secrets
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F, Q
from django.utils import timezone

from clinic.db_routers import reading_from_replica
from clinic.models import User
from treatments.fhir.access import FhirAccess
from treatments.models import ExportJob

log = logging.getLogger(__name__)

AUDIT_VIEW = "fhir:export"
NDJSON = "application/fhir+ndjson"


class ExportRequestError(Exception):
    """A kick-off the server refuses: `status` 400 (invalid) or 403 (a type not granted)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def may_export(access: FhirAccess) -> bool:
    """API clients (with scopes), and clinic admins by session: a whole clinic's data is not a
    clinician's or the front desk's to take away."""
    if access.client is not None:
        return True
    return access.user is not None and access.user.role == User.Role.CLINIC_ADMIN


def export_types(access: FhirAccess, requested: str | None) -> list[str]:
    """The types to export: `_type` (a comma list) checked against the mappers and the
    caller's scopes, or every type the caller may read.

    Unknown type: 400; a known type the caller may not read: 403 (as a search would be)."""
    from treatments.fhir.mappers import RESOURCE_TYPES

    if requested is None:
        types = [name for name in RESOURCE_TYPES if access.may_read(name)]
        if not types:
            raise ExportRequestError(403, "forbidden", "No resource type may be exported.")
        return types
    names = [name.strip() for name in requested.split(",")]
    if not all(names) or len(names) > len(RESOURCE_TYPES):
        raise ExportRequestError(400, "invalid", "_type must be a comma-separated list of types.")
    unknown = [name for name in names if name not in RESOURCE_TYPES]
    if unknown:
        shown = ", ".join(sorted(name[:40] for name in unknown)[:5])
        raise ExportRequestError(400, "invalid", f"Unknown resource type in _type: {shown}.")
    refused = [name for name in names if not access.may_read(name)]
    if refused:
        shown = ", ".join(sorted(refused))
        raise ExportRequestError(403, "forbidden", f"Not in this client's scopes: {shown}.")
    return list(dict.fromkeys(names))


@transaction.atomic
def start_export(
    *, access: FhirAccess, types: list[str], request_url: str, now: datetime.datetime
) -> ExportJob:
    """Record a pending export for this caller; the caller enqueues `run_export_task(job.pk)`
    on commit. The token (the status URL's id) is 256 random bits."""
    return ExportJob.objects.create(
        token=secrets.token_urlsafe(32),
        user=access.user if access.client is None else None,
        client=access.client,
        types=types,
        request_url=request_url[:2000],
        created_at=now,
        expires_at=now + datetime.timedelta(hours=settings.FHIR_EXPORT_KEEP_HOURS),
    )


def job_access(job: ExportJob) -> FhirAccess | None:
    """The requester's access now: None if the client was revoked or the user may no longer
    export (deactivated, or no longer a clinic admin) since the kick-off."""
    if job.client is not None:
        access = FhirAccess(user=None, client=job.client)
        return None if job.client.is_revoked else access
    if job.user is None or not job.user.is_active:
        return None
    access = FhirAccess(user=job.user, client=None)
    return access if may_export(access) else None


@dataclass
class _Cancelled(Exception):
    job_id: int


def run_export(*, job_id: int, now: datetime.datetime | None = None) -> str:
    """Run one export job: claim it, write one NDJSON file per type, audit, mark it done.

    1. Claim: UPDATE ... WHERE status = pending. No row: already claimed, done, cancelled or
       gone; return its state and do nothing (a repeated task).
    2. The requester's access is taken afresh (a revoked client's export fails).
    3. Each type in turn: its rows narrowed by the access, in batches, through the mapper,
       one JSON line each, into <Type>.ndjson.<attempt>.part, renamed when complete. After
       each batch, check the job is still this run's (not cancelled, not taken back).
    4. Audit the patients exported, then UPDATE running -> done with the counts. A failure
       marks it failed with a message that names no patient; its partial files are deleted.
    """
    now = now or timezone.now()
    jobs = ExportJob.objects.using(DEFAULT_DB_ALIAS)
    claimed = jobs.filter(pk=job_id, status=ExportJob.Status.PENDING).update(
        status=ExportJob.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempt=F("attempt") + 1,
        progress="starting",
    )
    if not claimed:
        state = jobs.filter(pk=job_id).values_list("status", flat=True).first()
        return f"not claimed ({state or 'gone'})"
    job = jobs.select_related("user", "client", "client__location").get(pk=job_id)
    access = job_access(job)
    if access is None:
        _fail(job, "The requester may no longer export (revoked or deactivated).")
        return "failed"
    try:
        output, patients = _write_files(job, access)
    except _Cancelled:
        return _abandon(job)
    except Exception as error:  # noqa: BLE001 - any failure fails the job, named by class only
        log.exception("export job %s failed (%s)", job.pk, type(error).__name__)
        _fail(job, f"The export failed on the server ({type(error).__name__}).")
        return "failed"
    finished = timezone.now()
    with transaction.atomic():
        done = _ours(job).update(
            status=ExportJob.Status.DONE, output=output, finished_at=finished, progress="done"
        )
        if done:
            _audit(job, patients, at=finished)
    if not done:  # cancelled or taken back while the last file was written
        return _abandon(job)
    return "done"


def _ours(job: ExportJob):
    """The job's row while it is running as this run's attempt."""
    return ExportJob.objects.using(DEFAULT_DB_ALIAS).filter(
        pk=job.pk, status=ExportJob.Status.RUNNING, attempt=job.attempt
    )


def _abandon(job: ExportJob) -> str:
    """The job is no longer this run's: cancelled (its row gone: delete its files), or taken
    back by a reclaim (another attempt owns the folder now: delete only this run's parts)."""
    if not ExportJob.objects.using(DEFAULT_DB_ALIAS).filter(pk=job.pk).exists():
        shutil.rmtree(job.directory, ignore_errors=True)
        return "cancelled"
    for part in job.directory.glob(f"*.{job.attempt}.part"):
        part.unlink(missing_ok=True)
    return "superseded"


def _batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(islice(rows, size)):
        yield batch


def _write_files(job: ExportJob, access: FhirAccess) -> tuple[list[dict], set[int]]:
    from treatments.fhir.mappers import RESOURCE_TYPES

    size = max(1, settings.FHIR_EXPORT_BATCH)
    job.directory.mkdir(parents=True, exist_ok=True)
    for part in job.directory.glob("*.part"):  # an earlier attempt's, whose worker died
        if not part.name.endswith(f".{job.attempt}.part"):
            part.unlink(missing_ok=True)
    output: list[dict] = []
    patients: set[int] = set()
    for index, name in enumerate(job.types, start=1):
        resource_type = RESOURCE_TYPES[name]
        _set_progress(job, f"{name} ({index} of {len(job.types)})")
        final = job.file_path(name)
        part = final.with_name(f"{final.name}.{job.attempt}.part")
        count = 0
        with reading_from_replica():
            rows = access.rows(resource_type)
            with part.open("w", encoding="utf-8") as out:
                for batch in _batches(rows.iterator(chunk_size=size), size):
                    count += _write_lines(out, resource_type.resources(batch))
                    patients.update(_patient_ids(resource_type, batch))
                    if not _still_running(job):
                        raise _Cancelled(job.pk)
        part.rename(final)
        output.append({"type": name, "count": count})
    return output, patients


def _write_lines(out, resources: Iterable[dict]) -> int:
    count = 0
    for resource in resources:
        out.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        count += 1
    return count


def _patient_ids(resource_type, rows: list[Any]) -> Iterator[int]:
    """The patient of each row, by the mapper's path, from what the row already holds (the
    mappers' `rows()` join what `resources()` reads, the patient among it)."""
    if resource_type.name == "Patient":
        yield from (row.pk for row in rows)
        return
    path = resource_type.patient_path
    if not path:
        return
    if path == "pk":  # a type whose rows are patients (derived resources)
        yield from (row.pk for row in rows)
        return
    *hops, last = path.split("__")
    for row in rows:
        for hop in hops:
            row = getattr(row, hop, None)
        patient_id = getattr(row, f"{last}_id", None) if row is not None else None
        if patient_id is not None:
            yield patient_id


def _still_running(job: ExportJob) -> bool:
    """Still this run's? Then record that it is alive (the reclaim reads the time)."""
    return bool(_ours(job).update(heartbeat_at=timezone.now()))


def _set_progress(job: ExportJob, progress: str) -> None:
    _ours(job).update(progress=progress[:60], heartbeat_at=timezone.now())


def _fail(job: ExportJob, message: str) -> None:
    failed = _ours(job).update(
        status=ExportJob.Status.FAILED,
        error=message,
        finished_at=timezone.now(),
        progress="failed",
    )
    if failed:
        shutil.rmtree(job.directory, ignore_errors=True)
    else:
        _abandon(job)


def _audit(job: ExportJob, patient_ids: set[int], *, at: datetime.datetime) -> None:
    """One AccessEvent per patient exported, naming the requester (the clinic admin, or the
    API client by id as the API's own audit rows do) and the job as the record; the job's
    types in `resource_type` (as many as fit)."""
    from audit.models import AccessEvent

    rows = (
        AccessEvent(
            at=at,
            patient_id=patient_id,
            user_id=job.user_id,
            role=job.user.role if job.user is not None else "",
            api_client_id=job.client_id,
            view=AUDIT_VIEW,
            record_id=job.pk,
            method="GET",
            address=None,
            resource_type=",".join(job.types)[:40],
            status=200,
        )
        for patient_id in sorted(patient_ids)
    )
    while batch := list(islice(rows, 1000)):
        AccessEvent.objects.bulk_create(batch)


@transaction.atomic
def cancel_export(*, job: ExportJob) -> None:
    """DELETE on the status URL: stop the job (a running task notices after its batch) and
    delete its files and its row."""
    ExportJob.objects.filter(pk=job.pk).delete()
    transaction.on_commit(lambda: shutil.rmtree(job.directory, ignore_errors=True))


def reclaim_stalled_exports(*, now: datetime.datetime) -> list[int]:
    """Take back the running jobs with no batch for FHIR_EXPORT_STALL_MINUTES (their worker
    died: acks_late brings its message back, but the claim refuses a running job), then return
    the ids of every unexpired job pending that long, for the caller to enqueue again. A run
    that was only slow finds at its next batch that the job is another attempt's, and stops."""
    stale = now - datetime.timedelta(minutes=settings.FHIR_EXPORT_STALL_MINUTES)
    jobs = ExportJob.objects.using(DEFAULT_DB_ALIAS)
    stalled = jobs.filter(status=ExportJob.Status.RUNNING, heartbeat_at__lt=stale)
    taken = stalled.update(
        status=ExportJob.Status.PENDING, heartbeat_at=None, progress="waiting for a worker again"
    )
    if taken:
        log.warning("took back %s export job(s) whose worker stopped", taken)
    waiting = jobs.filter(status=ExportJob.Status.PENDING, expires_at__gt=now).filter(
        Q(created_at__lt=stale) | Q(attempt__gt=0)
    )
    return list(waiting.order_by("pk").values_list("pk", flat=True))


def delete_expired_exports(*, now: datetime.datetime) -> int:
    """Delete the exports past their expiry, files first, then rows. Returns how many."""
    deleted = 0
    for job in ExportJob.objects.expired(now).only("pk", "token").iterator(chunk_size=200):
        shutil.rmtree(job.directory, ignore_errors=True)
        deleted += ExportJob.objects.filter(pk=job.pk).delete()[0]
    # files whose row is gone (a crash between the two, a cancel during a write): the folders
    # no job names, listed before the jobs are read, so a job started meanwhile keeps its own
    root = Path(settings.MEDIA_ROOT) / "fhir-export"
    folders = [folder for folder in root.iterdir() if folder.is_dir()] if root.is_dir() else []
    if folders:
        live = set(ExportJob.objects.values_list("token", flat=True))
        for folder in folders:
            if folder.name not in live:
                shutil.rmtree(folder, ignore_errors=True)
    return deleted
