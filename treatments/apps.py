import importlib

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


def drop_sqlite_cross_table_triggers(sender, using="default", **kwargs):
    """Before a migrate on SQLite, drop the triggers that name other tables than their own
    (the locked chart's, migration 0012, the due states', 0017, and the closures', 0022): a
    trigger naming a table breaks SQLite's rebuild of it."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    chart = importlib.import_module("treatments.migrations.0012_chart_versions")
    due = importlib.import_module("treatments.migrations.0017_due_states")
    closures = importlib.import_module("treatments.migrations.0022_closure_guard")
    with connection.cursor() as cursor:
        for name in [*chart.SQLITE_TRIGGERS, *due.SQLITE_TRIGGERS, *closures.SQLITE_TRIGGERS]:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def ensure_sqlite_guards(sender, using="default", **kwargs):
    """SQLite rebuilds a table to alter it, and a rebuild drops its triggers: after every
    migrate (and every flush), put back the no-double-booking triggers of migration 0004,
    create the locked chart's of migration 0012 for the columns there are now, and the due
    states' of migration 0017 (deriving the rows again: writes made while the triggers were
    lifted, by a data migration, count too), and the closures' of migration 0022."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    if connection.vendor != "sqlite":
        return  # PostgreSQL keeps its triggers and exclusion constraints through ALTER TABLE
    applied = MigrationRecorder(connection).applied_migrations()
    overlap = importlib.import_module("treatments.migrations.0004_no_double_booking")
    chart = importlib.import_module("treatments.migrations.0012_chart_versions")
    with connection.cursor() as cursor:
        if ("treatments", "0004_no_double_booking") in applied:
            for sql in overlap.SQLITE:
                cursor.execute(sql.replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1))
    if ("treatments", "0012_chart_versions") in applied:
        drop_sqlite_cross_table_triggers(sender, using)
        with connection.cursor() as cursor:
            for sql in chart.sqlite_statements(cursor):
                cursor.execute(sql)
    if ("treatments", "0017_due_states") in applied:
        due = importlib.import_module("treatments.migrations.0017_due_states")
        with connection.cursor() as cursor:
            for sql in due.SQLITE:
                cursor.execute(sql)
            cursor.execute(f"DELETE FROM {due.STATE}")
            cursor.execute(due.derive("sqlite"))
    if ("treatments", "0022_closure_guard") in applied:
        closures = importlib.import_module("treatments.migrations.0022_closure_guard")
        with connection.cursor() as cursor:
            for sql in closures.SQLITE:
                cursor.execute(sql)


class TreatmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "treatments"

    def ready(self):
        from treatments import checks  # noqa: F401 (registers the system checks)

        pre_migrate.connect(drop_sqlite_cross_table_triggers, sender=self)
        post_migrate.connect(ensure_sqlite_guards, sender=self)
