"""Reports and exports read from the replica when one is configured; pages, writes and
migrations stay on the primary; without a replica nothing changes (clinic/db_routers.py).

The replica here is a second real database, not a MIRROR of the test database: a copy of its
schema taken once (as a replica starts from a base backup of the primary; Django clones test
databases the same way for parallel runs), then rows of its own, so that each test can tell
which database answered. Only this module's tests see it: the rest of the suite runs as before.
"""

import csv
import datetime
import io
import json
import os

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.urls import reverse

from audit.models import AccessEvent
from clinic.db_routers import REPLICA, ReplicaRouter, reading_from_replica
from clinic.models import Location, User
from patients.models import Patient
from tests.clinic.test_settings import PRODUCTION, manage

ROUTER = "clinic.db_routers.ReplicaRouter"
AT = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


def _discard_sqlite_file(name: str) -> None:
    for path in (name, f"{name}-wal", f"{name}-shm"):
        if os.path.exists(path):
            os.remove(path)


@pytest.fixture(scope="module")
def replica_database(django_db_setup, django_db_blocker):
    """A `replica` alias on a copy of the (freshly migrated, empty) test database."""
    primary = connections[DEFAULT_DB_ALIAS]
    creation = primary.creation
    clone = creation.get_test_db_clone_settings(REPLICA)
    with django_db_blocker.unblock():
        if primary.vendor == "sqlite":
            # Everything in the main file before it is copied; no stale journal of an old copy.
            with primary.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            _discard_sqlite_file(clone["NAME"])
        # PostgreSQL copies a database only while no one else is connected to it.
        connections.close_all()
        creation.clone_test_db(suffix=REPLICA, verbosity=0)
    connections.settings[REPLICA] = clone
    yield
    with django_db_blocker.unblock():
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]
        if primary.vendor == "sqlite":
            _discard_sqlite_file(clone["NAME"])
        else:
            creation.destroy_test_db(verbosity=0, suffix=REPLICA)


@pytest.fixture
def with_replica(replica_database, settings):
    """The router installed, as the settings install it when DATABASE_REPLICA_URL is set."""
    settings.DATABASE_ROUTERS = [ROUTER]


def replicate(*rows) -> None:
    """Copy rows to the replica as replication would: the same primary keys."""
    for row in rows:
        type(row).objects.using(REPLICA).bulk_create([row])


def access_of(patient: Patient) -> dict:
    return {"at": AT, "patient_id": patient.pk, "role": "", "method": "GET"}


both_databases = pytest.mark.django_db(databases=[DEFAULT_DB_ALIAS, REPLICA])


@pytest.fixture
def two_versions_of_a_patient(with_replica, clinic_admin, patient_b):
    """Patient B on both databases, named differently on each, with one access row that only
    the primary has and one that only the replica has."""
    replicate(Location.objects.get(), patient_b.user, clinic_admin, patient_b)
    Patient.objects.using(REPLICA).filter(pk=patient_b.pk).update(last_name="Onthereplica")
    AccessEvent.objects.create(**access_of(patient_b), view="only-on-the-primary")
    AccessEvent.objects.using(REPLICA).create(**access_of(patient_b), view="only-on-replica")
    return patient_b


@both_databases
def test_an_export_wrapped_in_the_context_reads_the_replica(
    client, clinic_admin, two_versions_of_a_patient
):
    client.force_login(clinic_admin)

    response = client.get(reverse("audit:patient_csv", args=[two_versions_of_a_patient.pk]))

    assert response.status_code == 200
    views = {row[6] for row in csv.reader(io.StringIO(response.content.decode()))}
    assert "only-on-replica" in views
    assert "only-on-the-primary" not in views


@both_databases
def test_the_access_an_export_records_is_written_to_the_primary(
    client, clinic_admin, two_versions_of_a_patient
):
    client.force_login(clinic_admin)

    client.get(reverse("audit:patient_csv", args=[two_versions_of_a_patient.pk]))

    recorded = {"view": "audit:patient_csv", "user": clinic_admin}
    assert AccessEvent.objects.using(DEFAULT_DB_ALIAS).filter(**recorded).count() == 1
    assert not AccessEvent.objects.using(REPLICA).filter(**recorded).exists()


@both_databases
def test_an_ordinary_page_reads_the_primary(client, clinic_admin, two_versions_of_a_patient):
    client.force_login(clinic_admin)

    response = client.get(reverse("patients:detail", args=[two_versions_of_a_patient.pk]))

    assert response.status_code == 200
    assert "Patel" in response.content.decode()
    assert "Onthereplica" not in response.content.decode()


@both_databases
def test_writes_inside_the_context_go_to_the_primary(with_replica, location):
    with reading_from_replica():
        assert Location.objects.all().db == REPLICA
        Location.objects.create(name="Harbour Clinic", address="1 Quay", time_zone="Europe/London")

    assert Location.objects.using(DEFAULT_DB_ALIAS).filter(name="Harbour Clinic").exists()
    assert not Location.objects.using(REPLICA).filter(name="Harbour Clinic").exists()
    assert Location.objects.all().db == DEFAULT_DB_ALIAS  # the context ended


@both_databases
def test_rows_from_either_database_may_be_related(with_replica, location):
    replicate(location)
    from_replica = Location.objects.using(REPLICA).get()
    from_primary = User(username="someone")
    from_primary._state.db = DEFAULT_DB_ALIAS
    assert router.allow_relation(from_primary, from_replica) is True


def test_the_replica_is_never_migrated():
    replica_router = ReplicaRouter()
    assert replica_router.allow_migrate(REPLICA, "patients") is False
    assert replica_router.allow_migrate(REPLICA, "audit", model_name="accessevent") is False
    assert replica_router.allow_migrate(DEFAULT_DB_ALIAS, "patients") is not False
    with reading_from_replica():
        assert replica_router.db_for_write(Patient) == DEFAULT_DB_ALIAS


@pytest.mark.django_db
def test_without_a_replica_the_context_reads_the_primary(location):
    # Given the suite's settings, which name no replica
    with reading_from_replica():
        assert Location.objects.all().db == DEFAULT_DB_ALIAS
        assert Location.objects.get() == location


SHOW_SETTINGS = (
    "import json; from django.conf import settings; "
    "print(json.dumps([sorted(settings.DATABASES), settings.DATABASE_ROUTERS]))"
)
SHOW_REPLICA = (
    "import json; from django.conf import settings; "
    "print(json.dumps(settings.DATABASES['replica']))"
)


def test_with_no_replica_configured_the_router_is_not_installed():
    result = manage(
        "shell", "-c", SHOW_SETTINGS, extra_env=PRODUCTION | {"DATABASE_REPLICA_URL": ""}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [["default"], []]


def test_a_configured_replica_adds_the_alias_and_the_router():
    url = "postgres://reader@replica.example.org:5432/cadence"
    env = PRODUCTION | {"DATABASE_REPLICA_URL": url}
    result = manage("shell", "-c", SHOW_SETTINGS, extra_env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [["default", "replica"], [ROUTER]]


def test_the_replica_keeps_its_connections_as_long_as_the_primary():
    url = "postgres://reader@replica.example.org:5432/cadence"
    env = PRODUCTION | {"DATABASE_REPLICA_URL": url, "DATABASE_CONN_MAX_AGE": "0"}
    result = manage("shell", "-c", SHOW_REPLICA, extra_env=env)
    assert result.returncode == 0, result.stderr
    replica = json.loads(result.stdout.splitlines()[-1])
    assert (replica["HOST"], replica["NAME"], replica["CONN_MAX_AGE"]) == (
        "replica.example.org",
        "cadence",
        0,
    )
