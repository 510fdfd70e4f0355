import importlib

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_sqlite_overlap_guards(sender, using="default", **kwargs):
    """SQLite rebuilds a table to alter it, and a rebuild drops its triggers: after every
    migrate, put back the no-double-booking triggers of migration 0004 if they are gone."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return  # PostgreSQL keeps its exclusion constraints through ALTER TABLE
    migration = importlib.import_module("treatments.migrations.0004_no_double_booking")
    with connection.cursor() as cursor:
        for sql in migration.SQLITE:
            cursor.execute(sql.replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1))


class TreatmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "treatments"

    def ready(self):
        post_migrate.connect(ensure_sqlite_overlap_guards, sender=self)
