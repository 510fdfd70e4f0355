import datetime
from typing import Self

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from clinic.models import User
from patients import medications, outcomes


class DiagnosisCode(models.TextChoices):
    """Chronic migraine, ICD-10-CM (docs/clinical-rules.md, "Who is treated")."""

    G43_701 = (
        "G43.701",
        "G43.701 Chronic migraine without aura, not intractable, with status migrainosus",
    )
    G43_709 = (
        "G43.709",
        "G43.709 Chronic migraine without aura, not intractable, without status migrainosus",
    )
    G43_711 = (
        "G43.711",
        "G43.711 Chronic migraine without aura, intractable, with status migrainosus",
    )
    G43_719 = (
        "G43.719",
        "G43.719 Chronic migraine without aura, intractable, without status migrainosus",
    )
    G43_E01 = (
        "G43.E01",
        "G43.E01 Chronic migraine with aura, not intractable, with status migrainosus",
    )
    G43_E09 = (
        "G43.E09",
        "G43.E09 Chronic migraine with aura, not intractable, without status migrainosus",
    )
    G43_E11 = (
        "G43.E11",
        "G43.E11 Chronic migraine with aura, intractable, with status migrainosus",
    )
    G43_E19 = (
        "G43.E19",
        "G43.E19 Chronic migraine with aura, intractable, without status migrainosus",
    )


# NICE TA260 start criteria (docs/clinical-rules.md): >= 15 headache days a month, >= 8 of them
# migraine days, and at least 3 preventive medicines failed, not tolerated or unsuitable.
NICE_MIN_HEADACHE_DAYS = 15
NICE_MIN_MIGRAINE_DAYS = 8
NICE_MIN_PREVENTIVES_FAILED = 3

# No one in the registry was born before this; the form also refuses ages over 120.
EARLIEST_DATE_OF_BIRTH = datetime.date(1900, 1, 1)


def sees_every_patient(user: User | AnonymousUser) -> bool:
    """Staff see the whole registry (PatientQuerySet.for_user)."""
    return getattr(user, "role", None) in User.STAFF_ROLES


class PatientQuerySet(models.QuerySet):
    def for_user(self, user: User | AnonymousUser) -> Self:
        """The patients `user` may see: staff see the registry, a patient only themself."""
        if sees_every_patient(user):
            return self
        if getattr(user, "role", None) in User.PATIENT_ROLES:
            return self.filter(user=user)
        return self.none()

    def with_consents(self) -> Self:
        """With every consent record and who recorded it loaded."""
        recorded = ContactConsent.objects.select_related("recorded_by")
        return self.prefetch_related(models.Prefetch("consents", queryset=recorded))

    def with_outcomes(self, *, windows: int) -> Self:
        """With the diary's last `windows` 28-day windows and every questionnaire (oldest
        first) loaded: two queries more, whatever the history. The range is widened by a day
        so that the patient's own "today" (their zone) is inside."""
        days = outcomes.WINDOW_DAYS * windows
        diary_from = timezone.localdate() - datetime.timedelta(days=days)
        return self.prefetch_related(
            models.Prefetch(
                "diary_entries", queryset=DiaryEntry.objects.filter(date__gte=diary_from)
            ),
            models.Prefetch(
                "questionnaire_responses",
                queryset=QuestionnaireResponse.objects.order_by("answered_on", "pk"),
            ),
        )

    def search(self, query: str) -> Self:
        """Match every word against name or MRN; a date (YYYY-MM-DD) matches date of birth."""
        query = query.strip()
        if not query:
            return self
        try:
            return self.filter(date_of_birth=datetime.date.fromisoformat(query))
        except ValueError:
            pass
        condition = Q()
        for word in query.split():
            condition &= (
                Q(last_name__icontains=word)
                | Q(first_name__icontains=word)
                | Q(mrn__istartswith=word)
            )
        return self.filter(condition)


class PatientOwnedQuerySet(models.QuerySet):
    """For every model that belongs to a patient (`patient` foreign key): one access gate."""

    def for_user(self, user: User | AnonymousUser) -> Self:
        """The rows of the patients `user` may see (see PatientQuerySet.for_user). Staff see
        every patient, hence every row (`patient` is never null): no semi-join to the whole
        registry to say so, which PostgreSQL answered by reading all 100,000 patients for a
        list of a few thousand reminders."""
        if sees_every_patient(user):
            return self
        return self.filter(patient__in=Patient.objects.for_user(user))


class Patient(models.Model):
    class Sex(models.TextChoices):
        # FHIR AdministrativeGender
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISCHARGED = "discharged", "Discharged"

    mrn = models.CharField(
        "MRN",
        max_length=20,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Z0-9][A-Z0-9-]{2,19}$",
                "An MRN is 3 to 20 letters, digits or hyphens.",
            )
        ],
        help_text="Medical record number, unique in the clinic.",
    )
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True, help_text="Mobile number, used for SMS reminders.")
    address = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    location = models.ForeignKey(
        "clinic.Location",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patients",
        verbose_name="usual location",
    )
    primary_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="primary_patients",
        limit_choices_to={"role": "clinician"},
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
        limit_choices_to={"role": "patient"},
        verbose_name="portal account",
    )

    # Intake baseline (clinical; clinicians only)
    baseline_headache_days = models.PositiveSmallIntegerField(
        "headache days a month", null=True, blank=True, validators=[MaxValueValidator(31)]
    )
    baseline_migraine_days = models.PositiveSmallIntegerField(
        "migraine days a month", null=True, blank=True, validators=[MaxValueValidator(31)]
    )
    # The typed count from before the medication list: read-only, kept as history. Migration
    # 0006 copied every count into `preventives_notes`; NICE's criterion now reads the list
    # (`preventives_failed_count`).
    preventives_failed = models.PositiveSmallIntegerField(
        "preventive medicines failed (typed before the medication list)",
        null=True,
        blank=True,
        editable=False,
        validators=[MaxValueValidator(30)],
    )
    preventives_notes = models.TextField("preventives tried", blank=True)
    diagnosis_code = models.CharField(
        "diagnosis (ICD-10-CM)", max_length=8, choices=DiagnosisCode.choices, blank=True
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="patient_name_idx"),
            models.Index(fields=["date_of_birth"], name="patient_dob_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "discharged"]), name="patient_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(sex__in=["female", "male", "other", "unknown"]),
                name="patient_sex_valid",
            ),
            models.CheckConstraint(
                condition=Q(date_of_birth__gte=EARLIEST_DATE_OF_BIRTH),
                name="patient_dob_plausible",
            ),
            models.CheckConstraint(
                condition=Q(baseline_headache_days__isnull=True)
                | Q(baseline_headache_days__lte=31),
                name="patient_baseline_headache_days_range",
            ),
            models.CheckConstraint(
                condition=Q(baseline_migraine_days__isnull=True)
                | Q(
                    baseline_headache_days__isnull=False,
                    baseline_migraine_days__lte=models.F("baseline_headache_days"),
                ),
                name="patient_migraine_days_within_headache_days",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def age(self) -> int:
        today = timezone.localdate()
        dob = self.date_of_birth
        return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))

    @property
    def preventives_failed_count(self) -> int:
        """Preventive drugs on the medication list stopped as ineffective, not tolerated or
        contraindicated (patients/medications.py); uses prefetched `medications`."""
        return medications.preventives_failed(self.medications.all())

    @property
    def meets_nice_start_criteria(self) -> bool | None:
        """NICE TA260 start criteria from the intake baseline and the medication list; None
        while the baseline is incomplete."""
        headache = self.baseline_headache_days
        migraine = self.baseline_migraine_days
        if headache is None or migraine is None:
            return None
        failed = self.preventives_failed_count
        return (
            headache >= NICE_MIN_HEADACHE_DAYS
            and migraine >= NICE_MIN_MIGRAINE_DAYS
            and failed >= NICE_MIN_PREVENTIVES_FAILED
        )

    def local_today(self) -> datetime.date:
        """Today where the patient is treated (their usual location's zone, else the server's)."""
        if self.location_id and self.location:
            return timezone.localdate(timezone=self.location.zone)
        return timezone.localdate()

    def current_consents(self) -> dict[str, "ContactConsent | None"]:
        """The latest consent record per channel (None: never asked). Uses a prefetched
        `consents` list when there is one."""
        latest: dict[str, ContactConsent | None] = dict.fromkeys(Channel.values)
        for consent in sorted(self.consents.all(), key=lambda c: (c.recorded_at, c.pk)):
            latest[consent.channel] = consent
        return latest

    def diary_windows(self, count: int) -> list["outcomes.DiarySummary"]:
        """The last `count` 28-day windows of the diary to the patient's today, oldest first
        (uses prefetched `diary_entries` when there are some)."""
        return outcomes.diary_windows(
            self.diary_entries.all(),
            self.local_today(),
            count,
            baseline=self.baseline_headache_days,
        )

    def response_review(
        self,
        count: int,
        *,
        first_session_on: datetime.date | None = None,
        second_session_on: datetime.date | None = None,
    ) -> "outcomes.ResponseReview":
        """The diary windows, baseline and R14 review window for the chart
        (`outcomes.response_review`), given the local dates of cycles 1 and 2. The recent
        windows come from prefetched `diary_entries`; the 28 days before cycle 1 and the
        review window, when there are such, from one query more."""
        today = self.local_today()
        by_day = {entry.date: entry for entry in self.diary_entries.all()}
        ranges = Q()
        if first_session_on is not None:
            days_before = datetime.timedelta(days=outcomes.WINDOW_DAYS)
            ranges |= Q(date__gte=first_session_on - days_before, date__lt=first_session_on)
        if second_session_on is not None:
            end = outcomes.review_on(second_session_on, today)
            start = end - datetime.timedelta(days=outcomes.WINDOW_DAYS - 1)
            ranges |= Q(date__gte=start, date__lte=end)
        if ranges:
            # Not self.diary_entries.filter(): that would keep the prefetch's date filter.
            older = DiaryEntry.objects.filter(patient=self).filter(ranges)
            by_day |= {entry.date: entry for entry in older}
        return outcomes.response_review(
            by_day.values(),
            today=today,
            count=count,
            intake=self.baseline_headache_days,
            first_session_on=first_session_on,
            second_session_on=second_session_on,
        )

    def consents_to(self, channel: str) -> bool | None:
        """True if the latest record on `channel` grants consent, False if it revokes it, None
        if the patient was never asked (no message either way)."""
        consent = self.current_consents()[channel]
        return None if consent is None else consent.granted

    def address_for(self, channel: str) -> str:
        """Where a message on `channel` goes: the email address or the phone number ("" if
        none is on file)."""
        return self.email if channel == Channel.EMAIL else str(self.phone or "")

    def questionnaires_due(self, today: datetime.date) -> list[str]:
        """The questionnaire kinds the patient should fill in now: there is an active
        appointment within the next 14 days and no response of that kind since 14 days
        before that visit."""
        lead = datetime.timedelta(days=outcomes.QUESTIONNAIRE_LEAD_DAYS)
        # A generous UTC range, then the visit's own local date decides.
        since = datetime.datetime.combine(
            today - datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
        )
        visits = (
            self.appointments.active()
            .between(since, since + lead + datetime.timedelta(days=3))
            .select_related("location")
            .order_by("starts_at")
        )
        visit_days = [visit.local_starts_at.date() for visit in visits]
        answered = self.questionnaire_responses.values_list("kind", "answered_on")
        return outcomes.questionnaires_due(
            visit_days, answered, today, QuestionnaireResponse.Kind.values
        )


def medication_overuse_of(today_of: dict[int, datetime.date]) -> dict[int, "outcomes.Flag"]:
    """The medication-overuse flag (`outcomes.medication_overuse`) of each patient in
    `today_of` (patient id -> their today) that has one: one query, however many patients
    (the due list's page), reading only the days a counted class was taken."""
    if not today_of:
        return {}
    counted = outcomes.OVERUSE_TEN_DAY_CLASSES | outcomes.OVERUSE_FIFTEEN_DAY_CLASSES
    span = datetime.timedelta(days=outcomes.WINDOW_DAYS * outcomes.CONSECUTIVE_WINDOWS)
    rows = DiaryEntry.objects.filter(
        patient_id__in=list(today_of),
        date__gt=min(today_of.values()) - span,
        date__lte=max(today_of.values()),
        acute_medication__in=counted,
    )
    by_patient: dict[int, list[DiaryEntry]] = {}
    for row in rows:
        by_patient.setdefault(row.patient_id, []).append(row)
    flags = {}
    for pk, entries in by_patient.items():
        flag = outcomes.overuse_windows(entries, today_of[pk])
        if flag is not None:
            flags[pk] = flag
    return flags


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class ContactConsent(models.Model):
    """One change of a patient's consent to be contacted on a channel. Rows are never edited:
    the latest row per channel is the current state, the rest is the history."""

    class Source(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        PHONE = "phone", "By phone"
        WRITTEN = "written", "Written form"
        PORTAL = "portal", "Patient portal"
        STOP_LINK = "stop_link", "Stop link in a message"
        SMS_REPLY = "sms_reply", "Text message reply"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=12, choices=Source.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        indexes = [
            models.Index(fields=["patient", "channel", "-recorded_at"], name="consent_latest_idx"),
            models.Index(fields=["-recorded_at", "-id"], name="consent_order_idx"),  # admin
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms"]), name="consent_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        state = "granted" if self.granted else "revoked"
        return f"{self.get_channel_display()} {state} {self.recorded_at:%Y-%m-%d}"


# --- outcomes: the headache diary and questionnaires (docs/clinical-rules.md) -------------------


class AcuteMedication(models.TextChoices):
    """Acute-medication classes of the diary (docs/clinical-rules.md). The classes matter for
    medication overuse: >= 10 days/month of triptans, ergots, opioids or combination analgesics,
    >= 15 of simple analgesics (docs/clinical-rules.md, "Who is treated")."""

    NONE = "none", "None"
    TRIPTAN = "triptan", "Triptan"
    ERGOT = "ergot", "Ergot"
    OPIOID = "opioid", "Opioid"
    SIMPLE_ANALGESIC = "simple_analgesic", "Simple analgesic (paracetamol, aspirin)"
    NSAID = "nsaid", "NSAID (ibuprofen, naproxen)"
    COMBINATION_ANALGESIC = "combination_analgesic", "Combination analgesic"
    GEPANT = "gepant", "Gepant"
    OTHER = "other", "Other"


class Severity(models.IntegerChoices):
    NONE = 0, "None"
    MILD = 1, "Mild"
    MODERATE = 2, "Moderate"
    SEVERE = 3, "Severe"


class DiaryEntry(models.Model):
    """One day of a patient's headache diary (one row per patient per date).

    Migraine features are one yes/no question ("did it feel like your migraine?") rather than
    the ICHD-3 checklist (nausea, light and sound sensitivity, throbbing, worse on activity): a
    daily diary is kept only if a day takes seconds to enter, and the outcome counted per window
    is migraine days, a yes/no per day.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="diary_entries")
    date = models.DateField()
    headache = models.BooleanField()
    hours = models.DecimalField("hours of headache", max_digits=3, decimal_places=1, default=0)
    severity = models.PositiveSmallIntegerField(
        "peak severity", choices=Severity.choices, default=Severity.NONE
    )
    migraine = models.BooleanField("migraine features", default=False)
    acute_medication = models.CharField(
        max_length=24, choices=AcuteMedication.choices, default=AcuteMedication.NONE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        verbose_name_plural = "diary entries"
        indexes = [models.Index(fields=["patient", "date"], name="diary_patient_date_idx")]
        constraints = [
            models.UniqueConstraint(fields=["patient", "date"], name="diary_one_entry_per_day"),
            models.CheckConstraint(
                condition=Q(hours__gte=0, hours__lte=24), name="diary_hours_range"
            ),
            models.CheckConstraint(
                condition=Q(severity__gte=0, severity__lte=3), name="diary_severity_range"
            ),
            # A day without headache has no duration, no severity and no migraine features;
            # a headache day has a severity.
            models.CheckConstraint(
                condition=Q(headache=True) | Q(hours=0, severity=0, migraine=False),
                name="diary_no_headache_is_empty",
            ),
            models.CheckConstraint(
                condition=Q(headache=False) | Q(severity__gte=1),
                name="diary_headache_has_severity",
            ),
            models.CheckConstraint(
                condition=Q(acute_medication__in=AcuteMedication.values),
                name="diary_medication_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {'headache' if self.headache else 'no headache'}"


class QuestionnaireResponse(models.Model):
    """A completed MIDAS or HIT-6: the item answers as the instrument scores them (MIDAS: days;
    HIT-6: points per answer), with the total and band computed by patients/outcomes.py."""

    class Kind(models.TextChoices):
        MIDAS = "midas", "MIDAS"
        HIT6 = "hit6", "HIT-6"

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="questionnaire_responses"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    answers = models.JSONField()
    total = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=16)
    answered_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["answered_on", "pk"]
        indexes = [
            models.Index(
                fields=["patient", "kind", "answered_on"], name="questionnaire_patient_kind_idx"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["midas", "hit6"]), name="questionnaire_kind_valid"
            ),
            # MIDAS: five items of 0-92 days; HIT-6: six items of 6-13 points.
            models.CheckConstraint(
                condition=Q(kind="midas", total__lte=460)
                | Q(kind="hit6", total__gte=36, total__lte=78),
                name="questionnaire_total_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.total} on {self.answered_on:%Y-%m-%d}"

    @property
    def band_label(self) -> str:
        return outcomes.band_label(self.kind, self.band)


# --- the medication list (patients/medications.py; docs/clinical-rules.md) -----------------------


class StopReason(models.TextChoices):
    INEFFECTIVE = "ineffective", "Ineffective"
    NOT_TOLERATED = "not_tolerated", "Not tolerated"
    CONTRAINDICATED = "contraindicated", "Contraindicated (unsuitable)"
    OTHER = "other", "Other"


class PatientMedicationQuerySet(PatientOwnedQuerySet):
    def active_on(self, day: datetime.date) -> Self:
        """Taken on `day`: started by then, and not stopped before it."""
        return self.filter(started_on__lte=day).filter(
            Q(stopped_on__isnull=True) | Q(stopped_on__gte=day)
        )


class PatientMedication(models.Model):
    """One period of one drug from the catalogue (patients/medications.py): started, and
    stopped with a reason once it is. A drug tried twice is two rows."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medications")
    drug = models.CharField(max_length=40, choices=medications.drug_choices())
    dose = models.CharField(
        max_length=120, blank=True, help_text="As prescribed, e.g. 50 mg daily."
    )
    started_on = models.DateField()
    stopped_on = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=16, choices=StopReason.choices, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientMedicationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "-pk"]
        indexes = [models.Index(fields=["patient", "started_on"], name="medication_patient_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(drug__in=medications.DRUG_CODES), name="medication_drug_valid"
            ),
            models.CheckConstraint(
                condition=Q(stopped_on__isnull=True) | Q(stopped_on__gte=models.F("started_on")),
                name="medication_stops_after_start",
            ),
            # A reason only once stopped, and a stopped drug always has one.
            models.CheckConstraint(
                condition=Q(stopped_on__isnull=True, stop_reason="")
                | Q(stopped_on__isnull=False, stop_reason__in=StopReason.values),
                name="medication_stop_reason_when_stopped",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.drug_name} from {self.started_on:%Y-%m-%d}"

    @property
    def drug_name(self) -> str:
        return medications.drug_name(self.drug)

    @property
    def catalogue(self) -> "medications.Drug":
        return medications.DRUGS[self.drug]

    def active_on(self, day: datetime.date) -> bool:
        return self.started_on <= day and (self.stopped_on is None or self.stopped_on >= day)


class MedicationReport(models.Model):
    """A patient's "I started / stopped ..." from the portal: a clinician confirms it (it
    becomes, or stops, an entry of the list) or dismisses it. Nothing the patient types
    reaches the list unseen."""

    class Kind(models.TextChoices):
        STARTED = "started", "I started"
        STOPPED = "stopped", "I stopped"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a clinician"
        CONFIRMED = "confirmed", "Confirmed"
        DISMISSED = "dismissed", "Dismissed"

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="medication_reports"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    drug = models.CharField(max_length=40, choices=medications.drug_choices())
    on = models.DateField("when")
    note = models.CharField(max_length=300, blank=True)
    reported_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    entry = models.ForeignKey(
        PatientMedication, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = PatientOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-reported_at", "-pk"]
        indexes = [models.Index(fields=["patient", "status"], name="medreport_patient_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(drug__in=medications.DRUG_CODES), name="medreport_drug_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["started", "stopped"]), name="medreport_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | Q(status__in=["confirmed", "dismissed"], resolved_at__isnull=False),
                name="medreport_resolved_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {medications.drug_name(self.drug)}"

    @property
    def drug_name(self) -> str:
        return medications.drug_name(self.drug)
