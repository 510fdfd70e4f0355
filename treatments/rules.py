"""Rules R1-R13 and R17-R22 (docs/clinical-rules.md) over the facts of one session, as a
pure function.

`evaluate(facts)` returns findings: a BLOCK stops the save (or, when `at_signoff`, only the
sign-off); a WARN is shown, and those that say `needs_ack` must be acknowledged before the
session is signed. Thresholds that clinics set differently are Django settings.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from treatments import protocol

BLOCK, WARN = "block", "warn"
# Warnings the clinician acknowledges with a tick at sign-off; the others carry their own
# reason (a skipped site's reason, R3; the early-treatment reason, R6; the under-18 reason,
# R17; the extra-vial reason, R20).
ACKNOWLEDGEABLE = {
    "R1": "Total below the standard 155 U",
    "R2": "Units other than 5 at a site",
    "R12": "Other botulinum toxin recently, or more than 400 U in 3 months",
    "R13": "Pregnant or breastfeeding",
    "R19": "Saline other than 2 mL per 100 U",
    "R22": "A drug on the medication list that interacts with the toxin",
}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    field: str = ""  # a form field name or a site code; "" for the whole session
    at_signoff: bool = False  # a block that stops sign-off but not saving a draft
    needs_ack: bool = False

    @property
    def blocks_save(self) -> bool:
        return self.severity == BLOCK and not self.at_signoff

    @property
    def badge(self) -> tuple[str, str]:
        """(label, Bootstrap colour) for the session page."""
        if self.severity != BLOCK:
            return "Warning", "warning"
        return ("Before signing" if self.at_signoff else "Blocked"), "danger"


@dataclass(frozen=True)
class SiteEntry:
    code: str
    units: int | None
    skipped_reason: str = ""
    side: str | None = None  # None: the catalogue's side


@dataclass(frozen=True)
class VialEntry:
    lot_number: str
    vial_units: int  # 100 or 200
    expiry: datetime.date
    vials: int = 1


@dataclass
class SessionFacts:
    sites: list[SiteEntry]
    administered_at: datetime.datetime
    reconstituted_at: datetime.datetime
    session_date: datetime.date  # in the location's time zone
    vials: list[VialEntry] = field(default_factory=list)
    consent: str = ""  # "session", "course" or ""
    course_consent_on: datetime.date | None = None
    infection_at_site: bool | None = None
    hypersensitivity: bool | None = None
    pregnant_or_breastfeeding: bool | None = None
    other_toxin_recent: bool | None = None
    other_toxin_units: int = 0
    botox_units_previous_90_days: int = 0
    # Signed Botox sessions within 90 days either side of this one, as (date, units) (R12)
    botox_nearby: tuple[tuple[datetime.date, int], ...] = ()
    previous_session_on: datetime.date | None = None
    next_session_on: datetime.date | None = None  # a later signed session (entered late, R6)
    next_session_early_reason: str = ""  # the reason that later session was treated early
    min_interval_days: int = 84
    early_reason: str = ""
    diluent_ml: Decimal | float = 4  # saline added to the vials, in all (R19)
    extra_vial_reason: str = ""  # R20
    date_of_birth: datetime.date | None = None  # R17
    under_18_reason: str = ""  # R17: an adolescent clinic's reason, given per session
    now: datetime.datetime | None = None  # R21: the clock, for a session dated in the future
    same_day_session: str = ""  # R21: another session of the patient that local day, named
    # From the medication list (issue 18): the interacting drugs taken on the session's date
    # (R22), and the other botulinum toxins within 3 months either side (R12), as
    # (name, from, to or None) each.
    interacting_on_list: tuple[tuple[str, datetime.date, datetime.date | None], ...] = ()
    toxins_on_list: tuple[tuple[str, datetime.date, datetime.date | None], ...] = ()

    @property
    def given(self) -> list[SiteEntry]:
        return [site for site in self.sites if site.units is not None]

    @property
    def total_units(self) -> int:
        return sum(max(site.units or 0, 0) for site in self.sites)


def evaluate(facts: SessionFacts) -> list[Finding]:
    checks = (
        _units,
        _fixed_sites_present,
        _sides,
        _follow_the_pain,
        _interval,
        _reconstitution,
        _vials,
        _consent,
        _contraindications,
        _other_toxins,
        _pregnancy,
        _age,
        _muscle_maxima,
        _saline,
        _fewest_vials,
        _once,
        _interactions,
    )
    return [finding for check in checks for finding in check(facts)]


def _units(facts):  # R1, R2
    for site in facts.given:
        if site.units <= 0:
            yield Finding("R2", BLOCK, "Units must be more than 0.", site.code)
    odd = [
        site.code
        for site in facts.given
        if site.units > 0 and site.units != protocol.UNITS_PER_SITE
    ]
    if odd:
        yield Finding(
            "R2", WARN, f"Not {protocol.UNITS_PER_SITE} U at: {', '.join(odd)}.", needs_ack=True
        )
    total = facts.total_units
    if total > protocol.MAX_TOTAL_UNITS:
        yield Finding(
            "R1", BLOCK, f"Total {total} U is above the {protocol.MAX_TOTAL_UNITS} U maximum."
        )
    elif total < protocol.STANDARD_TOTAL_UNITS:
        yield Finding(
            "R1",
            WARN,
            f"Total {total} U is below the standard {protocol.STANDARD_TOTAL_UNITS} U.",
            needs_ack=True,
        )


def _fixed_sites_present(facts):  # R3
    entries = {site.code: site for site in facts.sites}
    for site in protocol.FIXED_SITES:
        entry = entries.get(site.code)
        if entry is None or (entry.units is None and not entry.skipped_reason.strip()):
            yield Finding(
                "R3", BLOCK, f"{site.label}: give units or say why it was skipped.", site.code
            )
        elif entry.units is None:
            yield Finding("R3", WARN, f"{site.label} skipped: {entry.skipped_reason}", site.code)


def _sides(facts):  # R4
    for entry in facts.sites:
        site = protocol.SITES.get(entry.code)
        if site and entry.side is not None and entry.side != site.side:
            yield Finding(
                "R4",
                BLOCK,
                f"{site.label} is on the {protocol.SIDES[site.side].lower()} side.",
                entry.code,
            )


def _follow_the_pain(facts):  # R5
    by_muscle: dict[str, list[SiteEntry]] = {}
    for entry in facts.given:
        site = protocol.SITES.get(entry.code)
        if site is None:
            yield Finding(
                "R5", BLOCK, f"{entry.code} is not a PREEMPT or follow-the-pain site.", entry.code
            )
            continue
        by_muscle.setdefault(site.muscle, []).append(entry)
        if site.ftp and not _previous_number_given(site, facts):
            yield Finding(
                "R5", BLOCK, f"{site.label}: use the follow-the-pain sites in order.", entry.code
            )
    for code, entries in by_muscle.items():
        muscle = protocol.MUSCLES[code]
        units = sum(max(entry.units, 0) for entry in entries)
        if muscle.allows_ftp and units > muscle.ftp_max_units:
            yield Finding(
                "R5",
                BLOCK,
                f"{muscle.name}: {units} U is above the {muscle.ftp_max_units} U maximum.",
            )
        if muscle.allows_ftp and len(entries) > muscle.ftp_max_sites:
            yield Finding(
                "R5",
                BLOCK,
                f"{muscle.name}: {len(entries)} sites is above the "
                f"{muscle.ftp_max_sites}-site maximum.",
            )


def _previous_number_given(site: protocol.Site, facts: SessionFacts) -> bool:
    if site.number == protocol.MUSCLES[site.muscle].sites_per_side + 1:
        return True
    previous = site.code[: -len(str(site.number))] + str(site.number - 1)
    return any(entry.code == previous for entry in facts.given)


def _interval(facts):  # R6, against the signed sessions on both sides of this one
    gaps = []
    if facts.previous_session_on is not None:
        days = (facts.session_date - facts.previous_session_on).days
        if days < facts.min_interval_days:
            gaps.append(f"Only {days} days since the last session")
    covered = ""  # the gap to the later session was already justified there
    if facts.next_session_on is not None:
        days = (facts.next_session_on - facts.session_date).days
        if days < facts.min_interval_days:
            gap = f"Only {days} days before the session of {facts.next_session_on:%Y-%m-%d}"
            if facts.next_session_early_reason.strip():
                covered = f"{gap}: {facts.next_session_early_reason.strip()}"
            else:
                gaps.append(gap)
    if not gaps:
        if covered:
            yield Finding("R6", WARN, f"{covered} (the reason given on that session).")
        return
    message = f"{'; '.join(gaps)} (minimum {facts.min_interval_days})."
    if facts.early_reason.strip():
        yield Finding("R6", WARN, f"{message} Reason: {facts.early_reason.strip()}")
    else:
        yield Finding("R6", BLOCK, f"{message} Give a reason to treat early.", "early_reason")


def _reconstitution(facts):  # R7
    limit = datetime.timedelta(hours=settings.RECONSTITUTION_MAX_HOURS)
    waited = facts.administered_at - facts.reconstituted_at
    if waited < datetime.timedelta(0):
        yield Finding(
            "R7", BLOCK, "Reconstitution cannot be after the injection.", "reconstituted_at"
        )
    elif waited > limit:
        yield Finding(
            "R7",
            BLOCK,
            f"Reconstituted more than {settings.RECONSTITUTION_MAX_HOURS} "
            "hours before the injection: discard it.",
            "reconstituted_at",
        )


def _vials(facts):  # R8, R9
    for vial in facts.vials:
        if vial.expiry < facts.session_date:
            yield Finding(
                "R8", BLOCK, f"Lot {vial.lot_number} expired on {vial.expiry:%Y-%m-%d}.", "vials"
            )
    drawn = sum(vial.vials * vial.vial_units for vial in facts.vials)
    if not facts.vials:
        yield Finding("R9", BLOCK, "Record the vials used.", "vials", at_signoff=True)
    elif drawn < facts.total_units:
        yield Finding(
            "R9",
            BLOCK,
            f"The vials hold {drawn} U but {facts.total_units} U were given.",
            "vials",
            at_signoff=True,
        )


def _consent(facts):  # R10
    if facts.consent == "session":
        return
    if facts.consent == "course" and facts.course_consent_on:
        return
    message = (
        "No course consent is on file: record consent for this session."
        if facts.consent == "course"
        else "Record the patient's consent."
    )
    yield Finding("R10", BLOCK, message, "consent", at_signoff=True)


def _contraindications(facts):  # R11
    for name, label in (
        ("infection_at_site", "Infection at an injection site"),
        ("hypersensitivity", "Hypersensitivity to botulinum toxin"),
    ):
        answer = getattr(facts, name)
        if answer is None:
            yield Finding("R11", BLOCK, f"Answer: {label.lower()}?", name, at_signoff=True)
        elif answer:
            yield Finding("R11", BLOCK, f"{label}: do not inject.", name)


def _other_toxins(facts):  # R12
    if facts.other_toxin_recent:
        yield Finding(
            "R12",
            WARN,
            "Another botulinum toxin in the last 3 months.",
            "other_toxin_recent",
            needs_ack=True,
        )
    if facts.toxins_on_list:
        yield Finding(
            "R12",
            WARN,
            f"On the medication list within 3 months: {_periods(facts.toxins_on_list)}. "
            "Units are not interchangeable between toxins.",
            "other_toxin_recent",
            needs_ack=True,
        )
    combined = facts.total_units + facts.other_toxin_units + _botox_90_days_around(facts)
    if combined > settings.TOXIN_90_DAY_MAX_UNITS:
        yield Finding(
            "R12",
            WARN,
            f"{combined} U of botulinum toxin within 3 months (above "
            f"{settings.TOXIN_90_DAY_MAX_UNITS} U).",
            "other_toxin_units",
            needs_ack=True,
        )


def _botox_90_days_around(facts: SessionFacts) -> int:
    """The most Botox in any 90-day window holding this session, besides this session's own
    units: windows reach back to earlier sessions and forward to later ones (entered late)."""
    window = datetime.timedelta(days=90)
    starts = {facts.session_date - window, facts.session_date}
    starts |= {day for day, _ in facts.botox_nearby if facts.session_date - window <= day}
    worst = facts.botox_units_previous_90_days
    for start in starts:
        if start > facts.session_date:
            continue
        units = sum(u for day, u in facts.botox_nearby if start <= day <= start + window)
        worst = max(worst, units)
    return worst


def _pregnancy(facts):  # R13
    if facts.pregnant_or_breastfeeding is None:
        yield Finding(
            "R13",
            BLOCK,
            "Answer: pregnant or breastfeeding?",
            "pregnant_or_breastfeeding",
            at_signoff=True,
        )
    elif facts.pregnant_or_breastfeeding:
        yield Finding(
            "R13",
            WARN,
            "Pregnant or breastfeeding: safety not established.",
            "pregnant_or_breastfeeding",
            needs_ack=True,
        )


def age_on(born: datetime.date, day: datetime.date) -> int:
    """Whole years from `born` to `day` (a 29 February birthday turns over on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _age(facts):  # R17
    if facts.date_of_birth is None:
        return
    age = age_on(facts.date_of_birth, facts.session_date)
    if age >= protocol.ADULT_AGE:
        return
    message = f"The patient is {age} on the session date: the treatment is licensed for adults."
    if facts.under_18_reason.strip():
        yield Finding("R17", WARN, f"{message} Reason: {facts.under_18_reason.strip()}")
    else:
        yield Finding(
            "R17",
            BLOCK,
            f"{message} An adolescent clinic gives its reason to treat.",
            "under_18_reason",
        )


def _muscle_maxima(facts):  # R18 (R5 holds the follow-the-pain muscles' maxima)
    by_muscle: dict[str, list[SiteEntry]] = {}
    for entry in facts.given:
        site = protocol.SITES.get(entry.code)
        if site is None:
            continue  # R5
        by_muscle.setdefault(site.muscle, []).append(entry)
        if entry.units > protocol.MAX_SITE_UNITS:
            yield Finding(
                "R18",
                BLOCK,
                f"{site.label}: {entry.units} U is above the "
                f"{protocol.MAX_SITE_UNITS} U maximum at one site.",
                entry.code,
            )
    for code, entries in by_muscle.items():
        muscle = protocol.MUSCLES[code]
        units = sum(max(entry.units, 0) for entry in entries)
        if muscle.allows_ftp or units <= muscle.max_units:
            continue
        # shown at the site holding the most units in the muscle
        worst = max(entries, key=lambda entry: entry.units)
        yield Finding(
            "R18",
            BLOCK,
            f"{muscle.name}: {units} U is above the {muscle.max_units} U maximum.",
            worst.code,
        )


def label_saline_ml(vials: list[VialEntry]) -> Decimal:
    """The saline the label gives the vials: 2 mL per 100 U (R19)."""
    units = sum(vial.vials * vial.vial_units for vial in vials)
    return Decimal(units * protocol.SALINE_ML_PER_100_UNITS) / 100


def _saline(facts):  # R19
    yield from saline_findings(facts.diluent_ml, facts.vials)


def saline_findings(diluent_ml: Decimal | float, vials: list[VialEntry]):
    """R19 for a saline volume and the vials it went into (no vials: the absolute bounds)."""
    ml = Decimal(str(diluent_ml))
    label = label_saline_ml(vials)
    absolute = Decimal(protocol.MAX_DILUENT_ML)
    most = min(2 * label, absolute) if label else absolute
    if ml <= 0:
        yield Finding("R19", BLOCK, "Saline must be more than 0 mL.", "diluent_ml")
    elif ml > most:
        yield Finding(
            "R19",
            BLOCK,
            f"{ml:g} mL of saline is more than twice the label volume ({most:g} mL at most).",
            "diluent_ml",
        )
    elif label and ml != label:
        yield Finding(
            "R19",
            WARN,
            f"{ml:g} mL of saline: the label gives {label:g} mL for these vials (5 U per 0.1 mL).",
            "diluent_ml",
            needs_ack=True,
        )


def _fewest_vials(facts):  # R20
    """The vials drawn are the fewest that cover the units given: no vial could be left out."""
    if not facts.vials or not facts.total_units:
        return
    drawn = sum(vial.vials * vial.vial_units for vial in facts.vials)
    smallest = min(vial.vial_units for vial in facts.vials)
    if drawn - smallest < facts.total_units:
        return
    message = (
        f"{drawn} U drawn for {facts.total_units} U given: "
        f"{drawn - facts.total_units} U would be billed as waste."
    )
    if facts.extra_vial_reason.strip():
        yield Finding("R20", WARN, f"{message} Reason: {facts.extra_vial_reason.strip()}")
    else:
        yield Finding(
            "R20",
            BLOCK,
            f"{message} Say why an extra vial was used (dropped, contaminated).",
            "extra_vial_reason",
            at_signoff=True,
        )


def _once(facts):  # R21
    if facts.same_day_session:
        yield Finding(
            "R21",
            BLOCK,
            f"This patient already has a session on {facts.session_date:%Y-%m-%d}: "
            f"{facts.same_day_session}. Continue or amend that one.",
            "administered_at",
        )
    skew = datetime.timedelta(minutes=settings.SESSION_FUTURE_MINUTES)
    if facts.now is not None and facts.administered_at > facts.now + skew:
        yield Finding("R21", BLOCK, "A session cannot be dated in the future.", "administered_at")


def _periods(periods) -> str:
    return "; ".join(
        f"{name} from {start:%Y-%m-%d}" + (f" to {stop:%Y-%m-%d}" if stop else "")
        for name, start, stop in periods
    )


def _interactions(facts):  # R22 (BOTOX PI section 7, SmPC 4.5) [label]
    """An aminoglycoside, another neuromuscular blocker, an anticholinergic or a muscle
    relaxant on the medication list on the session's date may add to the toxin's effect."""
    if facts.interacting_on_list:
        yield Finding(
            "R22",
            WARN,
            f"Taken on the session's date, and may add to the toxin's effect: "
            f"{_periods(facts.interacting_on_list)}.",
            needs_ack=True,
        )
