from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate, pre_migrate


def drop_sqlite_audit_triggers(sender, using="default", **kwargs):
    """Before a migrate on SQLite, drop the history triggers and guards: a trigger that names
    another table (the history triggers write to audit_changeevent) breaks SQLite's rebuild of
    that table, the way it alters one. post_migrate puts them back."""
    from django.db import connections

    from audit import triggers

    connection = connections[using]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            triggers.sqlite_uninstall(cursor)


def ensure_sqlite_audit_triggers(sender, using="default", **kwargs):
    """SQLite rebuilds a table to alter it, and a rebuild drops its triggers; a column added
    later is missing from the generated history triggers. After every migrate (and every
    flush), put them back as the tables now are (audit/triggers.py)."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from audit import triggers

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if ("audit", "0001_trail") not in MigrationRecorder(connection).applied_migrations():
        return  # migrated back before the trail: its tables are gone
    with connection.cursor() as cursor:
        triggers.sqlite_install(cursor)


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"

    def ready(self):
        from audit import trail

        connection_created.connect(trail.on_connection_created)
        trail.watch_patient_models()
        # Run after every app's post_migrate (the treatments triggers included): this app is
        # listed after them in INSTALLED_APPS.
        pre_migrate.connect(drop_sqlite_audit_triggers, sender=self)
        post_migrate.connect(ensure_sqlite_audit_triggers, sender=self)
