"""The 12-week schedule: treatment courses, clinic hours, who injects where, appointments and
the front desk's call log. One concrete next appointment at a time, anchored on the last
session given."""

import datetime
import zoneinfo
from collections.abc import Iterable
from typing import Any, Self, cast

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Exists, ExpressionWrapper, F, OuterRef, Prefetch, Q
from django.db.models.functions import Length, Trim
from django.db.models.lookups import GreaterThan

from clinic.models import Location
from patients.models import Patient, PatientOwnedQuerySet


class AddDays(models.Func):
    """`date + days` (an integer expression) as a date, on PostgreSQL and SQLite alike."""

    arity = 2
    output_field = models.DateField()

    def as_sql(self, compiler, connection, **extra_context):  # PostgreSQL: date + integer
        date_sql, date_params = compiler.compile(self.source_expressions[0])
        days_sql, days_params = compiler.compile(self.source_expressions[1])
        return f"({date_sql} + {days_sql})", (*date_params, *days_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        date_sql, date_params = compiler.compile(self.source_expressions[0])
        days_sql, days_params = compiler.compile(self.source_expressions[1])
        return f"date({date_sql}, '+' || {days_sql} || ' days')", (*date_params, *days_params)


class _InZone(models.Func):
    """An aware datetime's local date or time in a zone named per row (say the location's
    `time_zone`): PostgreSQL's AT TIME ZONE; on SQLite Django's own registered functions,
    which take the zone's name as an argument."""

    arity = 2
    part = ""  # "date" or "time"

    def as_sql(self, compiler, connection, **extra_context):
        at_sql, at_params = compiler.compile(self.source_expressions[0])
        zone_sql, zone_params = compiler.compile(self.source_expressions[1])
        return f"(({at_sql}) AT TIME ZONE ({zone_sql}))::{self.part}", (*at_params, *zone_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        at_sql, at_params = compiler.compile(self.source_expressions[0])
        zone_sql, zone_params = compiler.compile(self.source_expressions[1])
        sql = f"django_datetime_cast_{self.part}({at_sql}, {zone_sql}, 'UTC')"
        return sql, (*at_params, *zone_params)


class LocalDate(_InZone):
    part = "date"
    output_field = models.DateField()


class LocalTime(_InZone):
    part = "time"
    output_field = models.TimeField()


class DueQuerySet(PatientOwnedQuerySet):
    """The due list's verbs, for courses and appointments alike (rows with a `patient`)."""

    def of_active_patients(self) -> Self:
        return self.filter(patient__status=Patient.Status.ACTIVE)

    def unbooked(self) -> Self:
        """Rows whose patient holds no active appointment."""
        return self.exclude(
            Exists(Appointment.objects.active().filter(patient=OuterRef("patient")))
        )

    def at(self, location: Location | None) -> Self:
        """Rows of the patients whose usual location is `location` (all for None)."""
        return self if location is None else self.filter(patient__location=location)

    def with_calls(self) -> Self:
        """With the patient, their location and their call log loaded."""
        calls = CallOutcome.objects.select_related("recorded_by")
        return self.select_related("patient", "patient__location").prefetch_related(
            Prefetch("patient__call_outcomes", queryset=calls)
        )


class CourseQuerySet(DueQuerySet):
    def active(self) -> Self:
        """The course in progress (one per patient at most)."""
        return self.filter(status=TreatmentCourse.Status.ACTIVE)


class TreatmentCourse(models.Model):
    """A patient's course of Botox for chronic migraine: one active course at a time."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="courses"
    )
    started_on = models.DateField()
    interval_days = models.PositiveSmallIntegerField(default=84)
    min_interval_days = models.PositiveSmallIntegerField(
        default=84, help_text="Payers' earliest retreatment (84 days; some 90)."
    )
    consent_on = models.DateField(
        "course consent signed on",
        null=True,
        blank=True,
        help_text="Written consent covering every session of this course.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(blank=True)
    last_session_on = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="Date of the last session given (signed), in its location's time zone.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "-pk"]
        indexes = [
            models.Index(fields=["status", "last_session_on"], name="course_due_idx"),
            models.Index(fields=["-started_on", "-id"], name="course_order_idx"),  # admin
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="active"), name="one_active_course"
            ),
            models.CheckConstraint(
                condition=Q(interval_days__gt=0) & Q(min_interval_days__gt=0),
                name="course_intervals_positive",
            ),
            models.CheckConstraint(
                condition=Q(status="active") | ~Q(status_reason=""),
                name="course_pause_or_stop_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Course from {self.started_on:%Y-%m-%d} ({self.get_status_display()})"

    # The 12-week cycle (docs/clinical-rules.md), anchored on the last session actually given.
    @property
    def next_due_on(self) -> datetime.date | None:
        if self.last_session_on is None:
            return None
        return self.last_session_on + datetime.timedelta(days=self.interval_days)

    @property
    def earliest_on(self) -> datetime.date | None:
        if self.last_session_on is None:
            return None
        return self.last_session_on + datetime.timedelta(days=self.min_interval_days)

    @property
    def overdue_from(self) -> datetime.date | None:
        if self.last_session_on is None:
            return None
        return self.last_session_on + datetime.timedelta(days=settings.OVERDUE_AFTER_DAYS)

    def is_overdue_on(self, today: datetime.date) -> bool:
        """The next session is overdue on `today` (booked after day 98)."""
        return self.overdue_from is not None and today >= self.overdue_from

    def is_due_on(self, today: datetime.date) -> bool:
        """The next session is due (or overdue) on `today`."""
        return self.next_due_on is not None and self.next_due_on <= today

    def days_since_last(self, today: datetime.date) -> int | None:
        return (today - self.last_session_on).days if self.last_session_on else None


class OpeningHours(models.Model):
    """A location's opening hours on one weekday (several rows make split hours)."""

    WEEKDAYS = [
        (0, "Monday"),
        (1, "Tuesday"),
        (2, "Wednesday"),
        (3, "Thursday"),
        (4, "Friday"),
        (5, "Saturday"),
        (6, "Sunday"),
    ]

    location = models.ForeignKey(
        "clinic.Location", on_delete=models.CASCADE, related_name="opening_hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["location", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(opens__lt=models.F("closes")), name="hours_open_before_close"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="hours_weekday_valid"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.location} {self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"
        )


class InjectorDay(models.Model):
    """A clinician injects at a location on a weekday (one location a day)."""

    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="injector_days",
        limit_choices_to={"role": "clinician"},
    )
    location = models.ForeignKey(
        "clinic.Location", on_delete=models.CASCADE, related_name="injector_days"
    )
    weekday = models.PositiveSmallIntegerField(choices=OpeningHours.WEEKDAYS)

    class Meta:
        ordering = ["weekday", "clinician"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinician", "weekday"], name="one_location_per_clinician_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinician} at {self.location} on {self.get_weekday_display()}"


class ClosureQuerySet(models.QuerySet):
    def affecting(self, location: Location, clinicians: Iterable[Any]) -> Self:
        """The location's closures and these clinicians' leave (wherever they inject)."""
        return self.filter(Q(location=location) | Q(clinician__in=clinicians))

    def on_days(self, first: datetime.date, end: datetime.date) -> Self:
        """On the local days from `first` up to (not including) `end`."""
        return self.filter(day__gte=first, day__lt=end)


class Closure(models.Model):
    """A location closed (a public holiday, a one-off closure, part of a day) or a clinician
    on leave, on one local date: all day, or from/until a time (either may be open: "from
    13:00" is the rest of the day). A location's closure is read in its own zone; a
    clinician's leave in the zone of whichever location they inject at that day. Existing
    visits inside a new closure are kept (the front desk moves them: `visits_in_closures`)."""

    location = models.ForeignKey(
        "clinic.Location",
        on_delete=models.CASCADE,
        related_name="closures",
        null=True,
        blank=True,
        help_text="The location closed (leave empty for a clinician's leave).",
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="leave",
        null=True,
        blank=True,
        limit_choices_to={"role": "clinician"},
        help_text="The clinician on leave (leave empty for a location's closure).",
    )
    day = models.DateField(help_text="The local date.")
    from_time = models.TimeField(
        "from", null=True, blank=True, help_text="Empty: from the start of the day."
    )
    to_time = models.TimeField(
        "until", null=True, blank=True, help_text="Empty: to the end of the day."
    )
    reason = models.CharField(max_length=120, help_text="Shown to staff, e.g. Christmas Day.")

    objects = ClosureQuerySet.as_manager()

    class Meta:
        ordering = ["day", "from_time", "pk"]
        verbose_name = "closure or leave"
        verbose_name_plural = "closures and leave"
        indexes = [
            models.Index(fields=["location", "day"], name="closure_location_day_idx"),
            models.Index(fields=["clinician", "day"], name="closure_clinician_day_idx"),
            models.Index(fields=["day"], name="closure_day_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(location__isnull=False, clinician__isnull=True)
                | Q(location__isnull=True, clinician__isnull=False),
                name="closure_location_xor_clinician",
            ),
            models.CheckConstraint(
                condition=Q(from_time__isnull=True)
                | Q(to_time__isnull=True)
                | Q(from_time__lt=F("to_time")),
                name="closure_times_ordered",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="closure_has_reason"),
        ]

    def __str__(self) -> str:
        who = self.location or self.clinician
        return f"{who} {self.day:%Y-%m-%d}{self.times}: {self.reason}"

    @property
    def times(self) -> str:
        """ " 13:00-17:00", " from 13:00", " until 10:00", or "" for the whole day."""
        start, end = self.from_time, self.to_time
        if start and end:
            return f" {start:%H:%M}-{end:%H:%M}"
        if start or end:
            return f" from {start:%H:%M}" if start else f" until {end:%H:%M}"
        return ""

    def bounds(self, zone: zoneinfo.ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
        """The closed instants [start, end) when its local date and times are read in
        `zone` (the location's, or for leave the location the clinician is at that day)."""
        start = datetime.datetime.combine(self.day, self.from_time or datetime.time(), zone)
        if self.to_time is None:
            next_day = self.day + datetime.timedelta(days=1)
            return start, datetime.datetime.combine(next_day, datetime.time(), zone)
        return start, datetime.datetime.combine(self.day, self.to_time, zone)


class AppointmentQuerySet(DueQuerySet):
    def active(self) -> Self:
        """Appointments that hold their slot: booked or arrived."""
        return self.filter(status__in=Appointment.ACTIVE)

    def missed(self) -> Self:
        """No-shows with no session given since."""
        sessions = apps.get_model("treatments", "TreatmentSession")  # its module imports this
        given_since = sessions.objects.filter(
            patient=OuterRef("patient"), administered_at__gt=OuterRef("starts_at")
        )
        return self.filter(status=Appointment.Status.NOSHOW).exclude(Exists(given_since))

    def change_requested(self) -> Self:
        """Active visits the patient asked to move."""
        return self.active().filter(change_requested_at__isnull=False)

    def with_active_course(self) -> Self:
        """With `patient.active_courses` (a list of at most one)."""
        return self.prefetch_related(
            Prefetch(
                "patient__courses",
                queryset=TreatmentCourse.objects.active(),
                to_attr="active_courses",
            )
        )

    def overlapping(self, starts_at: datetime.datetime, ends_at: datetime.datetime) -> Self:
        return self.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)

    def between(self, start: datetime.datetime, end: datetime.datetime) -> Self:
        return self.filter(starts_at__gte=start, starts_at__lt=end)


class Appointment(models.Model):
    """One visit. Status codes are FHIR's; moves keep the row (and its calendar UID) and
    raise `sequence`; every change is in AppointmentEvent."""

    class Kind(models.TextChoices):
        INJECTION = "injection", "Injection"
        REVIEW = "review", "Review"

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ARRIVED = "arrived", "Arrived"
        FULFILLED = "fulfilled", "Fulfilled"
        CANCELLED = "cancelled", "Cancelled"
        NOSHOW = "noshow", "No-show"

    ACTIVE = (Status.BOOKED, Status.ARRIVED)
    # The state machine: from each status, where it may go.
    TRANSITIONS: dict[str, set[str]] = {
        Status.BOOKED: {Status.ARRIVED, Status.CANCELLED, Status.NOSHOW},
        Status.ARRIVED: {Status.FULFILLED, Status.CANCELLED},
        Status.FULFILLED: set(),
        Status.CANCELLED: set(),
        Status.NOSHOW: set(),
    }
    # Undone (back to booked) only by `undo_appointment_status`, on the day they were recorded.
    UNDOABLE = (Status.ARRIVED, Status.NOSHOW)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    location = models.ForeignKey(
        "clinic.Location", on_delete=models.PROTECT, related_name="appointments"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="appointments",
        limit_choices_to={"role": "clinician"},
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INJECTION)
    cycle_number = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    booked_at = models.DateTimeField(auto_now_add=True)
    early_override_reason = models.TextField(blank=True)
    # A clinician booked this injection past what the patient's prior authorization covers
    # (treatments/services/authorizations.py): why. NULL: no override; never blank.
    authorization_override_reason = models.TextField(null=True, blank=True)  # noqa: DJ001
    cancel_reason = models.TextField(blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    change_requested_at = models.DateTimeField(null=True, blank=True)
    change_request = models.CharField("date change asked for", max_length=300, blank=True)
    sequence = models.PositiveIntegerField(default=0, help_text="iCalendar SEQUENCE.")

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "pk"]
        indexes = [
            models.Index(fields=["location", "starts_at"], name="appt_location_start_idx"),
            models.Index(fields=["clinician", "starts_at"], name="appt_clinician_start_idx"),
            models.Index(fields=["patient", "status", "starts_at"], name="appt_patient_status_idx"),
            # the admin: its ordering, whole and by status (a rare status is not a long walk)
            models.Index(fields=["starts_at", "id"], name="appt_order_idx"),
            models.Index(fields=["status", "starts_at", "id"], name="appt_status_order_idx"),
            # the due list: no-shows, and visits the patient asked to move
            models.Index(
                fields=["patient", "starts_at"],
                name="appt_noshow_idx",
                condition=Q(status="noshow"),
            ),
            models.Index(
                fields=["patient"],
                name="appt_change_request_idx",
                condition=Q(status__in=["booked", "arrived"], change_requested_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="appt_starts_before_it_ends"
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | ~Q(cancel_reason=""),
                name="appt_cancel_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["booked", "arrived", "fulfilled", "cancelled", "noshow"]),
                name="appt_status_valid",
            ),
            models.CheckConstraint(
                condition=cast(
                    Q,
                    Q(authorization_override_reason__isnull=True)
                    | GreaterThan(Length(Trim("authorization_override_reason")), 0),
                ),
                name="appt_authorization_override_has_reason",
            ),
            # One next injection visit per patient: another is a move of that one.
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=["booked", "arrived"], kind="injection"),
                name="appt_one_active_injection",
            ),
        ]
        # No double booking is also enforced by the database: an exclusion constraint on
        # PostgreSQL and triggers on SQLite (migration 0004), beside the service's row locks.

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.local_starts_at:%Y-%m-%d %H:%M}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return self.location.zone

    @property
    def local_starts_at(self) -> datetime.datetime:
        return self.starts_at.astimezone(self.zone)

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]


class DueStateQuerySet(models.QuerySet):
    def workable(self) -> Self:
        """Patients the front desk may have to call (WORKABLE, the partial index's rows)."""
        return self.filter(WORKABLE)


# No refusal since the last session, and a visit to move or none booked while active.
WORKABLE = Q(declined=False) & (Q(change_requested=True) | Q(active=True, booked=False))


# The due list's order: no due date first (a missed first visit), then by due date and name.
# "IS NOT NULL" first rather than NULLS FIRST, which SQLite refuses in an index.
DUE_ORDER = (
    ExpressionWrapper(Q(next_due_on__isnull=False), output_field=models.BooleanField()),
    F("next_due_on"),
    F("last_name"),
    F("first_name"),
    F("patient_id"),
)


class DueState(models.Model):
    """Where a patient stands for the due list, one row per patient, kept by the database
    itself: triggers on patients, courses, appointments, sessions and calls re-derive the
    patient's row on every write that could change it, whatever makes the write (migration
    0017, which holds the derivation). The due list reads these rows through a partial index
    instead of evaluating every patient's visits, sessions and calls on each request."""

    patient = models.OneToOneField(
        Patient, on_delete=models.DO_NOTHING, primary_key=True, related_name="due_state"
    )
    active = models.BooleanField(help_text="The patient's status is active.")
    booked = models.BooleanField(help_text="A visit is booked or under way.")
    change_requested = models.BooleanField(help_text="They asked to move a booked visit.")
    declined = models.BooleanField(
        help_text="Their latest call declined, on or after the last session (or with none)."
    )
    next_due_on = models.DateField(null=True, help_text="The active course's next session.")
    missed_at = models.DateTimeField(
        null=True, help_text="Their latest no-show's start, when no session was given since."
    )
    # The patient's, copied: the list is filtered and ordered without reading the registry.
    last_name = models.CharField(max_length=80)
    first_name = models.CharField(max_length=80)
    location = models.ForeignKey(
        Location, on_delete=models.DO_NOTHING, null=True, db_constraint=False, related_name="+"
    )
    primary_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        related_name="+",
    )

    objects = DueStateQuerySet.as_manager()

    class Meta:
        # In the list's own order (DUE_ORDER), so that a page is an index range read up to
        # its 50th row, not a sort of every workable row (31,000 at network scale).
        indexes = [
            models.Index(*DUE_ORDER, condition=WORKABLE, name="due_order_idx"),
            # a location's list (a front desk's usual view) without the other locations' rows
            models.Index(
                F("location"), *DUE_ORDER, condition=WORKABLE, name="due_location_order_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"due {self.next_due_on}"


class AppointmentEvent(models.Model):
    """What happened to an appointment: booked, moved, checked in, cancelled, ..."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    note = models.TextField(blank=True)
    previous_starts_at = models.DateTimeField(null=True, blank=True)
    # a move's old clinician and location, with previous_starts_at: the slot it freed, which
    # the waitlist's sweep offers if its task was lost (treatments/services/waitlist.py)
    previous_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    previous_location = models.ForeignKey(
        "clinic.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["at", "id"], name="event_order_idx")]  # admin

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"


class CallOutcome(models.Model):
    """The front desk's note of a call about booking the next session."""

    class Outcome(models.TextChoices):
        BOOKED = "booked", "Booked"
        CALL_BACK = "call_back", "Call back"
        UNREACHABLE = "unreachable", "Unreachable"
        DECLINED = "declined", "Declined"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="call_outcomes")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    call_back_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        indexes = [
            models.Index(fields=["patient", "-recorded_at"], name="call_latest_idx"),
            models.Index(fields=["-recorded_at", "-id"], name="call_order_idx"),  # admin
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="call_back") | Q(call_back_on__isnull=False),
                name="call_back_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(outcome="declined") | ~Q(note=""), name="declined_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return self.get_outcome_display()
