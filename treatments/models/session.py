"""Injection sessions: what was given, where, from which vial, and what
happened after. Rules about a session's content live in treatments/rules.py; the writes that
keep totals, waste and history consistent live in treatments/services.py."""

import datetime
from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from patients.models import PatientOwnedQuerySet
from treatments import protocol
from treatments.models.schedule import TreatmentCourse


class SessionQuerySet(PatientOwnedQuerySet):
    def signed(self) -> Self:
        return self.filter(status=TreatmentSession.Status.SIGNED)

    def live(self) -> Self:
        """Drafts and signed sessions: what counts for R21's once-a-day and cycle numbers (a
        discarded draft and a version an amendment superseded do not)."""
        return self.filter(status__in=TreatmentSession.LIVE)

    def charted(self) -> Self:
        """What the chart lists: every session but the versions an amendment superseded (the
        session's page shows those)."""
        return self.exclude(status=TreatmentSession.Status.SUPERSEDED)

    def dates_only(self) -> Self:
        """Newest first, dates and cycle numbers only: the front desk sees no clinical content."""
        fields = ("pk", "patient_id", "cycle_number", "administered_at", "status")
        return (
            self.charted()
            .select_related("location")
            .only(*fields, "location__time_zone")
            .order_by("-administered_at")
        )

    def for_chart(self) -> Self:
        """Oldest first, with everything the chart shows of each session."""
        return (
            self.charted()
            .select_related("location", "injector")
            .prefetch_related("sites", "vials__lot", "adverse_events")
            .order_by("administered_at")
        )


class TreatmentSession(models.Model):
    """One injection session. Totals are stored (and constrained) so that reports and the
    chart never re-add sites. A signed session is locked, by the database too (migration
    0012): a correction is an amendment, which records a new version and marks this one
    superseded, the one change a signed row allows."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"
        VOIDED = "voided", "Discarded draft"
        SUPERSEDED = "superseded", "Superseded by an amendment"

    LIVE = (Status.DRAFT, Status.SIGNED)

    class Consent(models.TextChoices):
        SESSION = "session", "Signed for this session"
        COURSE = "course", "Covered by the course consent"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="sessions"
    )
    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, related_name="sessions")
    appointment = models.OneToOneField(
        "treatments.Appointment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="session",
    )
    cycle_number = models.PositiveSmallIntegerField()
    location = models.ForeignKey("clinic.Location", on_delete=models.PROTECT, related_name="+")
    injector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"role": "clinician"},
    )
    administered_at = models.DateTimeField("injected at")
    # administered_at's date in the location's zone, stored so that the database can hold
    # R21 (one session per patient per local day); save() keeps it in step.
    given_on = models.DateField("given on (local date)", editable=False)
    reconstituted_at = models.DateTimeField("reconstituted at")
    diluent_ml = models.DecimalField(
        "saline added (mL)",
        max_digits=3,
        decimal_places=1,
        default=4,
        help_text="200 U vial + 4 mL, or 100 U vial + 2 mL: 5 U per 0.1 mL.",
    )
    total_units = models.PositiveSmallIntegerField(default=0)
    units_wasted = models.PositiveSmallIntegerField(default=0)

    consent = models.CharField(max_length=10, choices=Consent.choices, blank=True)
    infection_at_site = models.BooleanField("infection at an injection site", null=True)
    hypersensitivity = models.BooleanField("hypersensitivity to botulinum toxin", null=True)
    pregnant_or_breastfeeding = models.BooleanField(null=True)
    other_toxin_recent = models.BooleanField(
        "another botulinum toxin in the last 3 months", null=True
    )
    other_toxin_units = models.PositiveSmallIntegerField(
        "units of botulinum toxin for other indications in the last 3 months", default=0
    )
    early_reason = models.TextField("reason for treating before the minimum interval", blank=True)
    extra_vial_reason = models.TextField(
        "reason for an extra vial",
        blank=True,
        help_text="Needed when more vials were drawn than the units given need (dropped, "
        "contaminated).",
    )
    under_18_reason = models.TextField(
        "reason to treat a patient under 18",
        blank=True,
        help_text="Adolescent clinics only: the treatment is licensed for adults.",
    )
    acknowledged = models.JSONField(
        "warnings acknowledged",
        default=list,
        blank=True,
        help_text="Rule ids (R1, R2, ...) the clinician acknowledged at sign-off.",
    )
    notes = models.TextField(blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    voided_reason = models.TextField("reason for discarding", blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The new-session form's one-time token: a resubmitted form (Back, a second tab) finds
    # the session it already recorded instead of recording it again.
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # Amendments: every version is a row of its own; `original` is version 1 of the chain.
    original = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="later_versions"
    )
    version = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-administered_at", "-pk"]
        indexes = [
            models.Index(fields=["patient", "-administered_at"], name="session_patient_date_idx"),
            models.Index(fields=["-administered_at", "-id"], name="session_order_idx"),  # admin
            # The few versions an amendment superseded, which lot recall leaves out: read
            # whole on this small index, never by a scan of every session.
            models.Index(
                fields=["id"], condition=Q(status="superseded"), name="session_superseded_idx"
            ),
            # Reports and the billing export: the signed sessions of a range of local dates,
            # at one location or all (treatments/services/reports.py)
            models.Index(
                fields=["given_on", "location"],
                condition=Q(status="signed"),
                name="session_signed_day_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "cycle_number"],
                condition=Q(status__in=["draft", "signed"]),
                name="one_session_per_cycle",
            ),
            models.UniqueConstraint(
                # R21: a session is recorded once; a discarded draft does not count
                fields=["patient", "given_on"],
                condition=Q(status__in=["draft", "signed"]),
                name="one_session_per_patient_per_day",
            ),
            models.CheckConstraint(
                condition=~Q(status="voided") | (~Q(voided_reason="") & Q(voided_at__isnull=False)),
                name="session_voided_has_reason",
            ),
            models.UniqueConstraint(fields=["original", "version"], name="one_row_per_version"),
            models.CheckConstraint(
                condition=Q(original__isnull=True, version=1)
                | Q(original__isnull=False, version__gt=1),
                name="session_version_numbered",
            ),
            models.CheckConstraint(condition=Q(cycle_number__gte=1), name="session_cycle_positive"),
            models.CheckConstraint(
                condition=Q(total_units__lte=protocol.MAX_TOTAL_UNITS),
                name="session_total_at_most_195",
            ),
            models.CheckConstraint(
                # R19's absolute bounds; the rules also refuse more than twice the label volume
                condition=Q(diluent_ml__gt=0, diluent_ml__lte=protocol.MAX_DILUENT_ML),
                name="session_saline_within_bounds",
            ),
            models.CheckConstraint(
                condition=Q(reconstituted_at__lte=F("administered_at")),
                name="session_reconstituted_before_injection",
            ),
            models.CheckConstraint(
                condition=~Q(status="signed") | Q(signed_at__isnull=False, signed_by__isnull=False),
                name="session_signed_has_signer",
            ),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.cycle_number} on {self.local_administered_at:%Y-%m-%d}"

    def save(self, *args, **kwargs) -> None:
        self.given_on = self.session_date
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "administered_at" in update_fields:
            kwargs["update_fields"] = {*update_fields, "given_on"}
        super().save(*args, **kwargs)

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED

    @property
    def is_voided(self) -> bool:
        return self.status == self.Status.VOIDED

    @property
    def is_superseded(self) -> bool:
        return self.status == self.Status.SUPERSEDED

    @property
    def local_administered_at(self) -> datetime.datetime:
        return self.administered_at.astimezone(self.location.zone)

    @property
    def session_date(self) -> datetime.date:
        """The date of the session in its location's time zone."""
        return self.local_administered_at.date()

    @property
    def billing_lines(self) -> list[tuple[str, str, int]]:
        """US billing for reports (docs/clinical-rules.md): CPT 64615 once, J0585 per unit given,
        and the wasted units on a JW line, or JZ when nothing was wasted."""
        lines = [
            ("64615", "Chemodenervation for chronic migraine", 1),
            ("J0585", "OnabotulinumtoxinA, per unit, administered", self.total_units),
        ]
        if self.units_wasted:
            lines.append(("J0585-JW", "Drug wasted", self.units_wasted))
        else:
            lines.append(("J0585-JZ", "No drug wasted", 0))
        return lines


def _site_side_is_right() -> Q:
    # R4: the side is the one the catalogue gives the code; procerus alone is midline.
    return (
        Q(site_code__in=protocol.LEFT_CODES, side=protocol.LEFT)
        | Q(site_code__in=protocol.RIGHT_CODES, side=protocol.RIGHT)
        | Q(site_code__in=protocol.MIDLINE_CODES, side=protocol.MIDLINE)
    )


def _site_muscle_is_right() -> Q:
    # The muscle is the one the catalogue gives the code: the per-muscle maxima (R18) that
    # the database holds at signing (migration 0012) sum sites by it.
    condition = Q()
    for muscle in protocol.MUSCLES:
        codes = [code for code, site in protocol.SITES.items() if site.muscle == muscle]
        condition |= Q(site_code__in=codes, muscle=muscle)
    return condition


class InjectionSite(models.Model):
    """One site of a session: given (units) or, for a fixed site, skipped with a reason."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="sites")
    site_code = models.CharField(
        max_length=8, choices=[(code, site.label) for code, site in protocol.SITES.items()]
    )
    muscle = models.CharField(
        max_length=3, choices=[(m.code, m.name) for m in protocol.MUSCLES.values()]
    )
    side = models.CharField(max_length=1, choices=list(protocol.SIDES.items()))
    is_ftp = models.BooleanField("follow-the-pain", default=False)
    units = models.PositiveSmallIntegerField(null=True, blank=True)
    skipped_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "site_code"], name="one_row_per_site"),
            models.CheckConstraint(
                condition=Q(site_code__in=protocol.SITE_CODES), name="site_code_in_catalogue"
            ),
            models.CheckConstraint(condition=_site_side_is_right(), name="site_side_matches_code"),
            models.CheckConstraint(
                condition=_site_muscle_is_right(), name="site_muscle_matches_code"
            ),
            models.CheckConstraint(
                # units__isnull=False: a CHECK that evaluates to NULL would pass
                condition=Q(skipped_reason="", units__isnull=False, units__gt=0)
                | (~Q(skipped_reason="") & Q(units__isnull=True)),
                name="site_given_or_skipped_with_reason",
            ),
            models.CheckConstraint(
                condition=Q(units__lte=protocol.MAX_SITE_UNITS), name="site_units_at_most_10"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_code}: {self.units or 'skipped'}"


class VialLot(models.Model):
    class Product(models.TextChoices):
        BOTOX_100 = "botox_100", "Botox 100 U vial"
        BOTOX_200 = "botox_200", "Botox 200 U vial"

    VIAL_UNITS: dict[str, int] = {Product.BOTOX_100: 100, Product.BOTOX_200: 200}

    product = models.CharField(max_length=10, choices=Product.choices)
    lot_number = models.CharField(max_length=30)
    expiry = models.DateField()

    class Meta:
        ordering = ["lot_number"]
        constraints = [
            # lot_number first: the recall search looks lots up by number alone
            models.UniqueConstraint(fields=["lot_number", "product"], name="one_row_per_lot"),
        ]

    def __str__(self) -> str:
        return f"{self.lot_number} ({self.get_product_display()}, exp {self.expiry:%Y-%m-%d})"

    @property
    def vial_units(self) -> int:
        return self.VIAL_UNITS[self.product]


class VialUse(models.Model):
    """The vials of one lot used in a session. Single-dose vials: drawn = vials x vial size,
    and every unit drawn is either administered or wasted (R9)."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="vials")
    # No index of its own: vialuse_lot_idx is the same index under a stable name.
    lot = models.ForeignKey(VialLot, on_delete=models.PROTECT, related_name="uses", db_index=False)
    vials = models.PositiveSmallIntegerField(default=1)
    units_drawn = models.PositiveSmallIntegerField()
    units_administered = models.PositiveSmallIntegerField()
    units_wasted = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["lot"], name="vialuse_lot_idx"),
            # Lot recall: a lot's uses in this order, counted and paged on the index alone
            models.Index(fields=["lot", "session"], name="vialuse_recall_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["session", "lot"], name="one_row_per_session_lot"),
            models.CheckConstraint(
                condition=Q(units_drawn=F("units_administered") + F("units_wasted")),
                name="vial_drawn_is_administered_plus_wasted",
            ),
            models.CheckConstraint(condition=Q(vials__gte=1), name="vial_count_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.vials} x {self.lot}"


class AdverseEvent(models.Model):
    """An adverse event after a session, reported by a clinician or by the patient."""

    class Term(models.TextChoices):
        # Common in chronic migraine per the label (docs/clinical-rules.md, "Safety facts shown")
        NECK_PAIN = "neck_pain", "Neck pain"
        HEADACHE = "headache", "Headache"
        WORSENING_MIGRAINE = "worsening_migraine", "Worsening migraine"
        EYELID_PTOSIS = "eyelid_ptosis", "Eyelid ptosis"
        BROW_PTOSIS = "brow_ptosis", "Brow ptosis / asymmetry"
        STIFFNESS = "stiffness", "Musculoskeletal stiffness"
        WEAKNESS = "weakness", "Muscular weakness"
        INJECTION_SITE_PAIN = "injection_site_pain", "Injection-site pain"
        MYALGIA = "myalgia", "Myalgia"
        FACIAL_PARESIS = "facial_paresis", "Facial paresis"
        SPREAD = "spread", "Distant spread (swallowing, speech, breathing, vision)"
        # The boxed warning's signs of distant spread, one term each (docs/clinical-rules.md)
        DYSPHAGIA = "dysphagia", "Trouble swallowing"
        DYSPNOEA = "dyspnoea", "Trouble breathing"
        DYSARTHRIA = "dysarthria", "Trouble speaking / slurred speech"
        VISION = "vision", "Double or blurred vision"
        DISTANT_WEAKNESS = "distant_weakness", "Weakness beyond the injected muscles"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    class Outcome(models.TextChoices):
        ONGOING = "ongoing", "Ongoing"
        RESOLVING = "resolving", "Resolving"
        RESOLVED = "resolved", "Resolved"
        SEQUELAE = "sequelae", "Resolved with lasting effects"
        UNKNOWN = "unknown", "Unknown"

    class Reporter(models.TextChoices):
        CLINICIAN = "clinician", "Clinician"
        PATIENT = "patient", "Patient"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="adverse_events"
    )
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="adverse_events"
    )
    term = models.CharField(max_length=24, choices=Term.choices)
    description = models.CharField(max_length=200, blank=True)
    onset = models.DateField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    serious = models.BooleanField(default=False)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ONGOING)
    hint_next_session = models.CharField(
        "hint for the next session",
        max_length=200,
        blank=True,
        help_text='Shown when the next session is opened, e.g. "frontalis sites higher".',
    )
    reported_by = models.CharField(max_length=10, choices=Reporter.choices)
    # None: the patient answered a check-in's signed link, without logging in.
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A patient's report (a draft) becomes a structured event when a clinician reviews it, or
    # is dismissed (kept, struck through: not an adverse event after all).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    resolved_on = models.DateField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    objects = PatientOwnedQuerySet.as_manager()

    # The product label's boxed warning (distant spread of toxin effect): swallowing and
    # breathing difficulties can be life threatening, so these three need emergency care at
    # once; its other signs need a clinician's review within one working day
    # (docs/clinical-rules.md). Every other term is a local effect, shown on the chart.
    DANGER_TERMS = frozenset({Term.DYSPHAGIA, Term.DYSPNOEA, Term.DYSARTHRIA})
    PROMPT_TERMS = frozenset({Term.VISION, Term.EYELID_PTOSIS, Term.DISTANT_WEAKNESS, Term.SPREAD})
    RESOLVED_OUTCOMES = frozenset({Outcome.RESOLVED, Outcome.SEQUELAE})

    class Meta:
        ordering = ["-onset", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(term="other") | ~Q(description=""),
                name="adverse_event_other_is_described",
            ),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(outcome__in=["resolved", "sequelae"]),
                name="adverse_event_resolved_on_only_when_resolved",
            ),
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True, confirmed_by__isnull=True)
                | Q(confirmed_at__isnull=False, confirmed_by__isnull=False),
                name="adverse_event_confirmed_by_someone",
            ),
            models.CheckConstraint(
                condition=Q(dismissed_at__isnull=True, dismissed_by__isnull=True)
                | Q(
                    dismissed_at__isnull=False,
                    dismissed_by__isnull=False,
                    confirmed_at__isnull=True,
                ),
                name="adverse_event_dismissed_by_someone_unconfirmed",
            ),
            models.CheckConstraint(
                condition=Q(recorded_by__isnull=False) | Q(reported_by="patient"),
                name="adverse_event_recorded_by_unless_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_term_display()} ({self.get_severity_display()})"

    @property
    def urgency(self) -> str | None:
        """How fast a clinician must see this: "danger", "prompt", or None (a local effect)."""
        if self.term in self.DANGER_TERMS:
            return "danger"
        if self.term in self.PROMPT_TERMS:
            return "prompt"
        return None

    @property
    def awaits_review(self) -> bool:
        """A patient's report (a draft) no clinician has confirmed or dismissed yet."""
        return (
            self.reported_by == self.Reporter.PATIENT
            and self.confirmed_at is None
            and self.dismissed_at is None
        )

    @property
    def badge_class(self) -> str:
        """The Bootstrap badge colour for its severity: red for serious, severe or a danger
        sign; orange for moderate or a sign to review promptly; grey for mild."""
        if self.serious or self.severity == self.Severity.SEVERE or self.urgency == "danger":
            return "text-bg-danger"
        if self.severity == self.Severity.MODERATE or self.urgency == "prompt":
            return "text-bg-warning"
        return "text-bg-secondary"


class SessionAmendment(models.Model):
    """A correction to a signed session: who, when and why, and the version it superseded
    and the one it recorded (both rows kept, neither ever changes again). `before` and
    `after` hold each version's content as plain JSON, which the history reads in words.

    `session` is version 1 of the chain, so that one query finds all its amendments.
    Amendments made before versions existed (migration 0012) changed the row in place: they
    have no `previous_version` and only their snapshots tell what changed."""

    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="amendments"
    )
    previous_version = models.OneToOneField(
        TreatmentSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseding_amendment",
    )
    new_version = models.OneToOneField(
        TreatmentSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="amendment",
    )
    reason = models.TextField()
    before = models.JSONField()
    after = models.JSONField()
    amended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    amended_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["amended_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="amendment_has_reason"),
            models.CheckConstraint(
                condition=Q(previous_version__isnull=True, new_version__isnull=True)
                | Q(previous_version__isnull=False, new_version__isnull=False),
                name="amendment_links_both_versions",
            ),
        ]

    def __str__(self) -> str:
        return f"Amendment of {self.amended_at:%Y-%m-%d %H:%M}"

    def changes(self, zone: datetime.tzinfo) -> list[tuple[str, str, str]]:
        """What changed, in words: (field, before, after), times in `zone` (the location's).
        A site's change is a line of its own; a field a legacy snapshot lacks reads "not
        recorded"."""
        lines = []
        for key in [*self.after, *(k for k in self.before if k not in self.after)]:
            old, new = self.before.get(key, _MISSING), self.after.get(key, _MISSING)
            if old == new:
                continue
            if key == "sites":
                lines += _site_changes(old if old is not _MISSING else {}, new or {})
            else:
                label = str(_LABELS.get(key) or _verbose_name(key))
                label = label[:1].upper() + label[1:]
                lines.append((label, _words(key, old, zone), _words(key, new, zone)))
        return lines


_MISSING = object()
_LABELS = {
    "location": "location",
    "total_units": "units given",
    "units_wasted": "units wasted",
    "consent": "consent",
    "acknowledged": "warnings acknowledged",
    "vials": "vials (lot x count)",
    "pregnant_or_breastfeeding": "pregnant or breastfeeding",
}


def _verbose_name(key: str) -> str:
    field = TreatmentSession._meta.get_field(key)
    return str(getattr(field, "verbose_name", key))


def _words(key: str, value, zone: datetime.tzinfo) -> str:
    if value is _MISSING:
        return "not recorded"
    if value is None:
        return "not answered"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in ("administered_at", "reconstituted_at"):
        return datetime.datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    if key == "consent":
        return TreatmentSession.Consent(value).label if value else "none"
    if key == "diluent_ml":
        return f"{value} mL"
    if key in ("total_units", "units_wasted", "other_toxin_units"):
        return f"{value} U"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value) or "(empty)"


def _site_changes(old: dict, new: dict) -> list[tuple[str, str, str]]:
    def words(value) -> str:
        if value is None:
            return "not used"
        return f"{value} U" if isinstance(value, int) else str(value)

    return [
        (protocol.SITES[code].label, words(old.get(code)), words(new.get(code)))
        for code in protocol.SITE_CODES
        if old.get(code) != new.get(code)
    ]
