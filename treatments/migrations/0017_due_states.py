"""Where each patient stands for the due list, kept by the database (issue 13, the due list at
network scale).

The due list takes the patients with an active course due within some weeks or a no-show with
no session since, none with a visit booked or a refusal since their last session, plus those
who asked to move a visit. Derived on each request, that evaluated all 100,000 patients'
visits, sessions and calls (about 0.6-1.1 s at network scale). Now one DueState row per patient
holds what does not depend on the day (active, booked, asked to move, declined, next due date,
missed visit, and the patient's name, location and clinician the list is ordered and filtered
by), and the list reads the workable rows through a partial index, without the registry.

Every write that could change a patient's row re-derives it, by triggers, not the services,
so that QuerySet.update(), bulk_create and raw SQL keep it true too: a patient inserted or its
status changed; a course inserted, deleted or changed (status, last session, interval, patient);
an appointment inserted, deleted or changed (status, start, patient, change request); a session
inserted, deleted, re-dated or moved; a call outcome inserted, deleted or changed. `derive` is
the one derivation: the triggers run it for one patient, this migration and seed_scale for all.

PostgreSQL: a plpgsql function per patient, which first locks the patient's DueState row:
two transactions writing one patient's rows at once re-derive one after the other, the second
reading what the first committed (each statement of the function takes a new snapshot under
READ COMMITTED). SQLite (one writer at a time): triggers named `derive_*`,
which treatments/apps.py drops before every migrate and creates after it, as it does the
locked chart's: a trigger that names another table breaks SQLite's rebuild of that table."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

PATIENT = "patients_patient"
COURSE = "treatments_treatmentcourse"
APPOINTMENT = "treatments_appointment"
SESSION = "treatments_treatmentsession"
CALL = "treatments_calloutcome"
STATE = "treatments_duestate"
ACTIVE_VISIT = "a.status IN ('booked', 'arrived')"
ENGINE = {
    "postgresql": {
        "next_due": "course.last_session_on + course.interval_days",
        "call_day": "(c.recorded_at AT TIME ZONE 'UTC')::date",
        "floor": "'-infinity'::timestamptz",
    },
    "sqlite": {  # Django keeps SQLite dates and date-times as ISO text: '' sorts before all
        "next_due": "date(course.last_session_on, '+' || course.interval_days || ' days')",
        "call_day": "date(c.recorded_at)",
        "floor": "''",
    },
}


STATE_COLUMNS = (
    "active, booked, change_requested, declined, next_due_on, missed_at, "
    "last_name, first_name, location_id, primary_clinician_id"
)
FRESH = ", ".join(f"fresh.{column}" for column in STATE_COLUMNS.split(", "))


def _state_of(vendor: str, patient: str | None) -> str:
    """SELECT of STATE_COLUMNS (after the patient's id) for `patient` (an SQL expression), or
    for every patient: the same reading as `due_patients` made of the rows before 0017."""
    sql = ENGINE[vendor]
    where = f"WHERE p.id = {patient}" if patient else ""
    return f"""SELECT p.id, p.status = 'active',
      EXISTS (SELECT 1 FROM {APPOINTMENT} a WHERE a.patient_id = p.id AND {ACTIVE_VISIT}),
      EXISTS (SELECT 1 FROM {APPOINTMENT} a WHERE a.patient_id = p.id AND {ACTIVE_VISIT}
              AND a.change_requested_at IS NOT NULL),
      COALESCE((SELECT c.outcome = 'declined' AND (course.last_session_on IS NULL
                       OR {sql["call_day"]} >= course.last_session_on)
                FROM {CALL} c WHERE c.patient_id = p.id
                ORDER BY c.recorded_at DESC, c.id DESC LIMIT 1), FALSE),
      {sql["next_due"]},
      (SELECT max(a.starts_at) FROM {APPOINTMENT} a
       WHERE a.patient_id = p.id AND a.status = 'noshow' AND a.starts_at > COALESCE(
         (SELECT max(s.administered_at) FROM {SESSION} s WHERE s.patient_id = p.id),
         {sql["floor"]})),
      p.last_name, p.first_name, p.location_id, p.primary_clinician_id
    FROM {PATIENT} p
    LEFT JOIN {COURSE} course ON course.patient_id = p.id AND course.status = 'active'
    {where}"""


def derive(vendor: str, patient: str | None = None) -> str:
    """INSERT ... SELECT of the DueState row of `patient` (an SQL expression), or of every
    patient."""
    return f"INSERT INTO {STATE} (patient_id, {STATE_COLUMNS}) {_state_of(vendor, patient)}"


# The tables whose writes re-derive a patient: the column naming the patient, the columns
# whose change matters on UPDATE, and which rows matter at all on INSERT and DELETE ({row}:
# NEW or OLD; a cancelled or fulfilled visit changes no one's state as it comes or goes).
WATCHED = {
    PATIENT: (
        "id",
        ("status", "last_name", "first_name", "location_id", "primary_clinician_id"),
        "",
    ),
    COURSE: ("patient_id", ("status", "last_session_on", "interval_days", "patient_id"), ""),
    APPOINTMENT: (
        "patient_id",
        ("status", "starts_at", "patient_id", "change_requested_at"),
        "{row}.status IN ('booked', 'arrived', 'noshow')",
    ),
    SESSION: ("patient_id", ("administered_at", "patient_id"), ""),
    CALL: ("patient_id", ("outcome", "recorded_at", "patient_id"), ""),
}
ROW = {"insert": "NEW", "delete": "OLD"}


def _when(sql_when: str, op: str, relevant: str, columns, differs: str) -> str:
    condition = _changed(columns, differs) if op == "update" else relevant.format(row=ROW[op])
    return f" WHEN {sql_when.format(condition)}" if condition else ""


def _changed(columns, differs: str) -> str:
    """One of `columns` differs between OLD and NEW (an UPDATE that sets them unchanged, as
    Django's save() does, derives nothing)."""
    return " OR ".join(f"OLD.{c} {differs} NEW.{c}" for c in columns)


POSTGRES = [
    # The row's lock first: a concurrent re-derivation of the patient commits before this one
    # reads (a row lock, not an advisory one: those fill the lock table in a bulk write).
    f"""CREATE FUNCTION treatments_due_state_refresh(target bigint) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
      fresh record;
    BEGIN
      PERFORM 1 FROM {STATE} WHERE patient_id = target FOR UPDATE;
      IF NOT FOUND THEN  -- a new patient
        {derive("postgresql", "target")} ON CONFLICT (patient_id) DO NOTHING;
        RETURN;
      END IF;
      SELECT * INTO fresh FROM ({_state_of("postgresql", "target")}) AS s ({"id, " + STATE_COLUMNS});
      -- Only a change is written: a bulk write to one patient leaves no chain of row versions.
      UPDATE {STATE} SET ({STATE_COLUMNS}) = ({FRESH})
      WHERE patient_id = target AND ({STATE_COLUMNS}) IS DISTINCT FROM ({FRESH});
    END $$""",
    # TG_ARGV[0]: the column naming the patient. A deleted patient takes its row with it.
    f"""CREATE FUNCTION treatments_due_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      old_patient bigint := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) ->> TG_ARGV[0] END;
      new_patient bigint := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) ->> TG_ARGV[0] END;
    BEGIN
      IF TG_OP = 'DELETE' AND TG_TABLE_NAME = '{PATIENT}' THEN
        DELETE FROM {STATE} WHERE patient_id = OLD.id;
        RETURN OLD;
      END IF;
      IF old_patient IS NOT NULL THEN
        PERFORM treatments_due_state_refresh(old_patient);
      END IF;
      IF new_patient IS DISTINCT FROM old_patient THEN
        PERFORM treatments_due_state_refresh(new_patient);
      END IF;
      RETURN NULL;
    END $$""",
    f"CREATE TRIGGER derive_due_state_deleted BEFORE DELETE ON {PATIENT} "
    "FOR EACH ROW EXECUTE FUNCTION treatments_due_state_changed('id')",
    *(
        f"CREATE TRIGGER derive_due_state_{op} AFTER {op.upper()}"
        f"{' OF ' + ', '.join(cols) if op == 'update' else ''} ON {table} FOR EACH ROW"
        f"{_when('({})', op, relevant, cols, 'IS DISTINCT FROM')} "
        f"EXECUTE FUNCTION treatments_due_state_changed('{column}')"
        for table, (column, cols, relevant) in WATCHED.items()
        for op in ("insert", "update", "delete")
        if not (table == PATIENT and op == "delete")
    ),
]
POSTGRES_TRIGGERS = {
    table: [
        f"derive_due_state_{op}"
        for op in ("insert", "update", "delete" if table != PATIENT else "deleted")
    ]
    for table in WATCHED
}
POSTGRES_REVERSE = [
    *(f"DROP TRIGGER {name} ON {t}" for t, names in POSTGRES_TRIGGERS.items() for name in names),
    "DROP FUNCTION treatments_due_state_changed()",
    "DROP FUNCTION treatments_due_state_refresh(bigint)",
]


def _sqlite_refresh(patient: str) -> str:
    return f"DELETE FROM {STATE} WHERE patient_id = {patient}; {derive('sqlite', patient)};"


def _sqlite_triggers() -> dict[str, str]:
    triggers = {
        f"derive_due_{PATIENT}_delete": (
            f"CREATE TRIGGER IF NOT EXISTS derive_due_{PATIENT}_delete BEFORE DELETE ON "
            f"{PATIENT} BEGIN DELETE FROM {STATE} WHERE patient_id = OLD.id; END"
        )
    }
    for table, (column, cols, relevant) in WATCHED.items():
        bodies = {
            "insert": ("INSERT", _sqlite_refresh(f"NEW.{column}")),
            "update": (
                f"UPDATE OF {', '.join(cols)}",
                _sqlite_refresh(f"OLD.{column}") + " " + _sqlite_refresh(f"NEW.{column}"),
            ),
            "delete": ("DELETE", _sqlite_refresh(f"OLD.{column}")),
        }
        for op, (event, body) in bodies.items():
            if table == PATIENT and op == "delete":
                continue
            name = f"derive_due_{table}_{op}"
            when = _when("{}", op, relevant, cols, "IS NOT")
            triggers[name] = (
                f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table}{when} "
                f"BEGIN {body} END"
            )
    return triggers


SQLITE_TRIGGERS = _sqlite_triggers()
SQLITE = list(SQLITE_TRIGGERS.values())


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for sql in POSTGRES:
            schema_editor.execute(sql)
    # SQLite: post_migrate creates the triggers once every migration has run (treatments/apps.py)
    schema_editor.execute(derive(vendor))


def uninstall(apps, schema_editor):
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
        ("patients", "0005_trigram_search"),
        ("treatments", "0016_reminder_problem_idx_sent_after_cancel"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DueState",
            fields=[
                (
                    "patient",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="due_state",
                        serialize=False,
                        to="patients.patient",
                    ),
                ),
                ("active", models.BooleanField(help_text="The patient's status is active.")),
                ("booked", models.BooleanField(help_text="A visit is booked or under way.")),
                (
                    "change_requested",
                    models.BooleanField(help_text="They asked to move a booked visit."),
                ),
                (
                    "declined",
                    models.BooleanField(
                        help_text=(
                            "Their latest call declined, on or after the last session "
                            "(or with none)."
                        )
                    ),
                ),
                (
                    "next_due_on",
                    models.DateField(help_text="The active course's next session.", null=True),
                ),
                (
                    "missed_at",
                    models.DateTimeField(
                        help_text="Their latest no-show's start, when no session was given since.",
                        null=True,
                    ),
                ),
                ("last_name", models.CharField(max_length=80)),
                ("first_name", models.CharField(max_length=80)),
                (
                    "location",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="clinic.location",
                    ),
                ),
                (
                    "primary_clinician",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(
                            ("declined", False),
                            models.Q(
                                ("change_requested", True),
                                models.Q(("active", True), ("booked", False)),
                                _connector="OR",
                            ),
                        ),
                        fields=["next_due_on"],
                        name="due_workable_idx",
                    ),
                    models.Index(
                        condition=models.Q(
                            ("declined", False),
                            models.Q(
                                ("change_requested", True),
                                models.Q(("active", True), ("booked", False)),
                                _connector="OR",
                            ),
                        ),
                        fields=["location", "next_due_on"],
                        name="due_location_idx",
                    ),
                ],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
