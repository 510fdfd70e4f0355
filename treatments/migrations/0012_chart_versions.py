"""A chart the database itself protects (docs/architecture.md, "The locked chart").

An amendment records a new version of a signed session: the old row is marked superseded
and both are kept (`original` and `version`; SessionAmendment links the two). Then the
guards, on both engines, so that no write through the ORM, bulk_create or raw SQL gets past:

- a session is inserted as a draft (or a discarded draft), and signed afterwards;
- signing needs the sites to sum to the stored total;
- a signed, superseded or discarded session is never deleted, and never updated, except that
  a signed one may become superseded (and give its visit to the new version);
- the sites and vial uses of a session that is not a draft are never inserted, updated or
  deleted;
- no muscle's sites hold more than its maximum (R18), as a site is written.

PostgreSQL: trigger functions (errors are integrity violations), created here. SQLite:
triggers named `guard_*`, which treatments/apps.py creates after every migrate and drops
before it: a trigger that names another table breaks SQLite's rebuild of that table (the
way it alters one), and the update guard lists the session's columns, which change."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# R18's per-muscle maxima (treatments/protocol.py, `Muscle.max_units`), as they stand here.
MUSCLE_MAX_UNITS = {"COR": 10, "PRO": 5, "FRO": 20, "TEM": 50, "OCC": 40, "CPS": 20, "TRA": 50}
MUSCLE_MAX = "CASE NEW.muscle {} END".format(
    " ".join(f"WHEN '{code}' THEN {units}" for code, units in MUSCLE_MAX_UNITS.items())
)
SESSION = "treatments_treatmentsession"
CHILDREN = ("treatments_injectionsite", "treatments_vialuse")
SITES_SUM = (
    "(SELECT coalesce(sum(units), 0) FROM treatments_injectionsite WHERE session_id = NEW.id)"
)
MUSCLE_SUM = (
    "(SELECT coalesce(sum(units), 0) FROM treatments_injectionsite "
    "WHERE session_id = NEW.session_id AND muscle = NEW.muscle AND id IS NOT NEW.id)"
)
LOCKED = "a signed session is locked: correct it by an amendment"
INSERTED_AS_DRAFT = "a session is recorded as a draft, then signed"
KEPT = "a signed or discarded session is kept: it cannot be deleted"
SUM = "the sites of a signed session must sum to its total"
CHILD_LOCKED = "the sites and vials of a signed session are locked: amend the session"
OVER_MUSCLE = "the sites of a muscle hold more than its maximum (R18)"


def _parent_not_draft(row):
    return f"(SELECT status FROM {SESSION} WHERE id = {row}.session_id) <> 'draft'"


def sqlite_statements(cursor) -> list[str]:
    """The SQLite guards, for the session table's columns as they are now."""
    columns = [
        row[1]
        for row in cursor.execute(f"PRAGMA table_info({SESSION})").fetchall()
        if row[1] not in ("status", "appointment_id")
    ]
    unchanged = " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in columns)
    supersede = (
        "OLD.status = 'signed' AND NEW.status = 'superseded' AND "
        f"(NEW.appointment_id IS NULL OR NEW.appointment_id IS OLD.appointment_id) AND {unchanged}"
    )

    def trigger(name, when, table, condition, message):
        return (
            f"CREATE TRIGGER {name} BEFORE {when} ON {table} WHEN {condition} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )

    statements = [
        trigger(
            "guard_session_insert",
            "INSERT",
            SESSION,
            "NEW.status NOT IN ('draft', 'voided')",
            INSERTED_AS_DRAFT,
        ),
        trigger("guard_session_delete", "DELETE", SESSION, "OLD.status <> 'draft'", KEPT),
        trigger(
            "guard_session_update",
            "UPDATE",
            SESSION,
            f"OLD.status <> 'draft' AND NOT ({supersede})",
            LOCKED,
        ),
        trigger(
            "guard_session_sign",
            "UPDATE OF status",
            SESSION,
            f"OLD.status = 'draft' AND NEW.status = 'signed' AND NEW.total_units IS NOT {SITES_SUM}",
            SUM,
        ),
        trigger(
            "guard_site_muscle",
            "INSERT",
            "treatments_injectionsite",
            f"{MUSCLE_SUM} + coalesce(NEW.units, 0) > {MUSCLE_MAX}",
            OVER_MUSCLE,
        ),
        trigger(
            "guard_site_muscle_update",
            "UPDATE",
            "treatments_injectionsite",
            f"{MUSCLE_SUM} + coalesce(NEW.units, 0) > {MUSCLE_MAX}",
            OVER_MUSCLE,
        ),
    ]
    for table in CHILDREN:
        short = table.removeprefix("treatments_")
        statements += [
            trigger(
                f"guard_{short}_insert", "INSERT", table, _parent_not_draft("NEW"), CHILD_LOCKED
            ),
            trigger(
                f"guard_{short}_update",
                "UPDATE",
                table,
                f"{_parent_not_draft('OLD')} OR {_parent_not_draft('NEW')}",
                CHILD_LOCKED,
            ),
            trigger(
                f"guard_{short}_delete", "DELETE", table, _parent_not_draft("OLD"), CHILD_LOCKED
            ),
        ]
    return statements


SQLITE_TRIGGERS = [
    "guard_session_insert",
    "guard_session_delete",
    "guard_session_update",
    "guard_session_sign",
    "guard_site_muscle",
    "guard_site_muscle_update",
    *(
        f"guard_{t.removeprefix('treatments_')}_{op}"
        for t in CHILDREN
        for op in ("insert", "update", "delete")
    ),
]


def _raise(message):
    return f"RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation'"


POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION treatments_session_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        IF NEW.status NOT IN ('draft', 'voided') THEN {_raise(INSERTED_AS_DRAFT)}; END IF;
        RETURN NEW;
      ELSIF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN {_raise(KEPT)}; END IF;
        RETURN OLD;
      ELSIF OLD.status = 'draft' THEN
        IF NEW.status = 'signed' AND NEW.total_units IS DISTINCT FROM {SITES_SUM} THEN
          {_raise(SUM)};
        END IF;
        RETURN NEW;
      ELSIF OLD.status = 'signed' AND NEW.status = 'superseded'
        AND (NEW.appointment_id IS NULL OR NEW.appointment_id = OLD.appointment_id)
        AND to_jsonb(NEW) - 'status' - 'appointment_id'
          = to_jsonb(OLD) - 'status' - 'appointment_id' THEN
        RETURN NEW;
      END IF;
      {_raise(LOCKED)};
    END $$""",
    f"""CREATE OR REPLACE FUNCTION treatments_session_child_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') AND {_parent_not_draft("OLD")} THEN
        {_raise(CHILD_LOCKED)};
      END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      IF {_parent_not_draft("NEW")} THEN {_raise(CHILD_LOCKED)}; END IF;
      IF TG_TABLE_NAME = 'treatments_injectionsite' THEN
        IF {MUSCLE_SUM.replace("IS NOT", "IS DISTINCT FROM")} + coalesce(NEW.units, 0)
          > ({MUSCLE_MAX}) THEN
          {_raise(OVER_MUSCLE)};
        END IF;
      END IF;
      RETURN NEW;
    END $$""",
    f"CREATE TRIGGER guard_session BEFORE INSERT OR UPDATE OR DELETE ON {SESSION} "
    "FOR EACH ROW EXECUTE FUNCTION treatments_session_guard()",
    *(
        f"CREATE TRIGGER guard_{t.removeprefix('treatments_')} BEFORE INSERT OR UPDATE OR DELETE "
        f"ON {t} FOR EACH ROW EXECUTE FUNCTION treatments_session_child_guard()"
        for t in CHILDREN
    ),
]
POSTGRES_REVERSE = [
    f"DROP TRIGGER guard_session ON {SESSION}",
    *(f"DROP TRIGGER guard_{t.removeprefix('treatments_')} ON {t}" for t in CHILDREN),
    "DROP FUNCTION treatments_session_guard()",
    "DROP FUNCTION treatments_session_child_guard()",
]


def add_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES:
            schema_editor.execute(sql)
    # SQLite: post_migrate creates them once every migration has run (treatments/apps.py)


def drop_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for sql in POSTGRES_REVERSE:
            schema_editor.execute(sql)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0004_portal"),
        ("patients", "0002_diary_questionnaires"),
        ("treatments", "0011_session_once_a_day"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="treatmentsession",
            name="one_session_per_cycle",
        ),
        migrations.RemoveConstraint(
            model_name="treatmentsession",
            name="one_session_per_patient_per_day",
        ),
        migrations.AddField(
            model_name="sessionamendment",
            name="new_version",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="amendment",
                to="treatments.treatmentsession",
            ),
        ),
        migrations.AddField(
            model_name="sessionamendment",
            name="previous_version",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="superseding_amendment",
                to="treatments.treatmentsession",
            ),
        ),
        migrations.AddField(
            model_name="treatmentsession",
            name="original",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="later_versions",
                to="treatments.treatmentsession",
            ),
        ),
        migrations.AddField(
            model_name="treatmentsession",
            name="version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="sessionamendment",
            name="session",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="amendments",
                to="treatments.treatmentsession",
            ),
        ),
        migrations.AlterField(
            model_name="treatmentsession",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("signed", "Signed"),
                    ("voided", "Discarded draft"),
                    ("superseded", "Superseded by an amendment"),
                ],
                default="draft",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="injectionsite",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("muscle", "COR"), ("site_code__in", ["COR-L", "COR-R"])),
                    models.Q(("muscle", "PRO"), ("site_code__in", ["PRO-M"])),
                    models.Q(
                        ("muscle", "FRO"),
                        ("site_code__in", ["FRO-L1", "FRO-L2", "FRO-R1", "FRO-R2"]),
                    ),
                    models.Q(
                        ("muscle", "TEM"),
                        (
                            "site_code__in",
                            [
                                "TEM-L1",
                                "TEM-L2",
                                "TEM-L3",
                                "TEM-L4",
                                "TEM-R1",
                                "TEM-R2",
                                "TEM-R3",
                                "TEM-R4",
                                "TEM-L5",
                                "TEM-L6",
                                "TEM-R5",
                                "TEM-R6",
                            ],
                        ),
                    ),
                    models.Q(
                        ("muscle", "OCC"),
                        (
                            "site_code__in",
                            [
                                "OCC-L1",
                                "OCC-L2",
                                "OCC-L3",
                                "OCC-R1",
                                "OCC-R2",
                                "OCC-R3",
                                "OCC-L4",
                                "OCC-L5",
                                "OCC-R4",
                                "OCC-R5",
                            ],
                        ),
                    ),
                    models.Q(
                        ("muscle", "CPS"),
                        ("site_code__in", ["CPS-L1", "CPS-L2", "CPS-R1", "CPS-R2"]),
                    ),
                    models.Q(
                        ("muscle", "TRA"),
                        (
                            "site_code__in",
                            [
                                "TRA-L1",
                                "TRA-L2",
                                "TRA-L3",
                                "TRA-R1",
                                "TRA-R2",
                                "TRA-R3",
                                "TRA-L4",
                                "TRA-L5",
                                "TRA-L6",
                                "TRA-L7",
                                "TRA-R4",
                                "TRA-R5",
                                "TRA-R6",
                                "TRA-R7",
                            ],
                        ),
                    ),
                    _connector="OR",
                ),
                name="site_muscle_matches_code",
            ),
        ),
        migrations.AddConstraint(
            model_name="sessionamendment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("new_version__isnull", True), ("previous_version__isnull", True)),
                    models.Q(("new_version__isnull", False), ("previous_version__isnull", False)),
                    _connector="OR",
                ),
                name="amendment_links_both_versions",
            ),
        ),
        migrations.AddConstraint(
            model_name="treatmentsession",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["draft", "signed"])),
                fields=("course", "cycle_number"),
                name="one_session_per_cycle",
            ),
        ),
        migrations.AddConstraint(
            model_name="treatmentsession",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["draft", "signed"])),
                fields=("patient", "given_on"),
                name="one_session_per_patient_per_day",
            ),
        ),
        migrations.AddConstraint(
            model_name="treatmentsession",
            constraint=models.UniqueConstraint(
                fields=("original", "version"), name="one_row_per_version"
            ),
        ),
        migrations.AddConstraint(
            model_name="treatmentsession",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("original__isnull", True), ("version", 1)),
                    models.Q(("original__isnull", False), ("version__gt", 1)),
                    _connector="OR",
                ),
                name="session_version_numbered",
            ),
        ),
        migrations.RunPython(add_guards, drop_guards),
    ]
