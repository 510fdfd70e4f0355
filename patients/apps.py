import importlib

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_sqlite_portal_link_guard(sender, using="default", **kwargs):
    """SQLite rebuilds a table to alter it, and a rebuild drops its triggers: after every
    migrate (and flush), put back migration 0003's guard on the portal link if it is gone."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if ("patients", "0003_portal_link_guard") not in MigrationRecorder(
        connection
    ).applied_migrations():
        return
    migration = importlib.import_module("patients.migrations.0003_portal_link_guard")
    with connection.cursor() as cursor:
        cursor.execute(migration.SQLITE)


class PatientsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "patients"

    def ready(self):
        post_migrate.connect(ensure_sqlite_portal_link_guard, sender=self)
