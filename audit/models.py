"""The audit trail: who opened which patient's record (AccessEvent, written by the request) and
what changed in it (ChangeEvent, written by database triggers). Both tables are append-only:
the database refuses UPDATE and DELETE on them (audit/triggers.py).

Neither has a foreign key to the patient: a trail must outlive and never block what it
describes. The user columns join to the user table without a database constraint for the same
reason."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditQuerySet(models.QuerySet):
    def for_patient(self, patient_id: int):
        return self.filter(patient_id=patient_id).order_by("-at", "-pk")


class AccessEvent(models.Model):
    """One request that showed one patient's data: who, from where, which page, when.

    A FHIR API call is recorded even when it showed no patient (metadata, a Location, a refused
    call): then `patient_id` is NULL. Its caller may be an API client instead of a user."""

    at = models.DateTimeField()
    patient_id = models.BigIntegerField(null=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    # The role when the page was opened ("" for a signed link or calendar feed: no login).
    role = models.CharField(max_length=20, blank=True)
    view = models.CharField(max_length=100)  # the URL name, e.g. "treatments:session_detail"
    record_id = models.BigIntegerField(null=True)  # the object the URL names, if any
    method = models.CharField(max_length=10)
    address = models.GenericIPAddressField(null=True)
    # FHIR API calls: the API client that called (no user then), the resource type asked for,
    # the ids of this patient's resources that the answer held, and the HTTP status.
    # (a plain id, not a foreign key: the audit app's migrations stay below the treatments app)
    api_client_id = models.BigIntegerField(null=True)
    resource_type = models.CharField(max_length=40, blank=True, db_default="")
    resource_ids = models.JSONField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(null=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["patient_id", "at"], name="audit_access_patient_at")]

    def __str__(self) -> str:
        return f"{self.view} patient {self.patient_id} by {self.user_id} at {self.at:%Y-%m-%d}"

    @property
    def view_label(self) -> str:
        if self.resource_type:  # a FHIR API call: "FHIR API search: Procedure"
            return f"FHIR API {view_label(self.view).lower()}: {self.resource_type}"
        return view_label(self.view)


class ChangeEvent(models.Model):
    """One row inserted, updated or deleted in a patient's data, with the fields that changed:
    {column: [before, after]}. Written only by the triggers."""

    class Operation(models.TextChoices):
        INSERT = "insert", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"

    at = models.DateTimeField()
    table_name = models.CharField(max_length=63)
    record_id = models.BigIntegerField()
    patient_id = models.BigIntegerField(null=True)
    operation = models.CharField(max_length=6, choices=Operation.choices)
    # NULL: the write came from outside a logged-in request (a task, a command, raw SQL).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    actor_role = models.CharField(max_length=20, blank=True)
    changes = models.JSONField()

    objects = AuditQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["patient_id", "at"], name="audit_change_patient_at")]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name} {self.record_id}"

    @property
    def record_label(self) -> str:
        return record_label(self.table_name)

    def described(self) -> list[tuple[str, str, str]]:
        """(field in plain words, before, after) for each field that changed."""
        return [
            (
                field_label(self.table_name, column),
                _shown(before, self.table_name, column),
                _shown(after, self.table_name, column),
            )
            for column, (before, after) in sorted(self.changes.items())
        ]


def _shown(value, table_name: str, column: str) -> str:
    if value is None:
        return "(empty)"
    model = _model_of(table_name)
    fields = {f.column: f for f in model._meta.concrete_fields} if model else {}
    # SQLite stores booleans as 0 / 1; PostgreSQL's JSON says true / false.
    if isinstance(fields.get(column), models.BooleanField) or isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _model_of(table_name: str):
    from django.apps import apps

    for model in apps.get_models():
        if model._meta.db_table == table_name:
            return model
    return None


def record_label(table_name: str) -> str:
    model = _model_of(table_name)
    return str(model._meta.verbose_name).capitalize() if model else table_name


def field_label(table_name: str, column: str) -> str:
    """A column in plain words: the model field's label ("Baseline headache days")."""
    model = _model_of(table_name)
    if model is not None:
        for model_field in model._meta.concrete_fields:
            if model_field.column == column:
                return str(model_field.verbose_name).capitalize()
    return column.replace("_", " ").capitalize()


def view_label(view: str) -> str:
    """A URL name in plain words: "treatments:session_detail" -> "Session detail"."""
    name = view.rpartition(":")[2]
    return name.replace("_", " ").capitalize() or view
