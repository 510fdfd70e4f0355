"""The registry's search at network scale: on PostgreSQL, trigram (pg_trgm) GIN indexes on the
very expressions the search filters by. `icontains` and `istartswith` compile to
`UPPER(column::text) LIKE UPPER(%s)` there, which no b-tree index serves: without these the
search reads every patient.

The indexes are SQL, not `Meta.indexes`: a GIN index in the model state would be re-created by
SQLite's table rebuilds (any later ALTER of this table) and fail there. On SQLite the migration
does nothing and the search keeps its plain `LIKE` scan."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

# (index name, the expression PostgreSQL's icontains/istartswith lookups produce)
INDEXES = [
    ("patient_last_name_trgm", "UPPER(last_name::text)"),
    ("patient_first_name_trgm", "UPPER(first_name::text)"),
    ("patient_mrn_trgm", "UPPER(mrn::text)"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON patients_patient "
            f"USING gin ({expression} gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("patients", "0004_admin_indexes")]

    operations = [TrigramExtension(), migrations.RunPython(forwards, backwards)]
