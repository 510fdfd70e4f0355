"""The PREEMPT injection protocol for chronic migraine, as code (docs/clinical-rules.md).

Sources: BOTOX (onabotulinumtoxinA) US Prescribing Information, section 2.2 "Chronic Migraine"
(155 U as 0.1 mL = 5 U at each of 31 sites across 7 head and neck muscles); BOTOX UK SmPC
section 4.2 (155-195 U; up to 40 U more by a "follow-the-pain" strategy in temporalis,
occipitalis and trapezius); Blumenfeld et al., Headache 2010;50:1406-18 (PREEMPT injection
paradigm, per-muscle maxima). Site codes are ours and stable: forms, rules, the map, reports
and tests all read them from here.
"""

from dataclasses import dataclass

UNITS_PER_SITE = 5  # 5 U in 0.1 mL at every site [label]
STANDARD_TOTAL_UNITS = 155  # 31 sites x 5 U [label]
MAX_TOTAL_UNITS = 195  # with follow-the-pain [SmPC]
MAX_SITES = 39
MAX_SITE_UNITS = 10  # no site above 10 U (R18) [ours]

# Reconstitution (R19): 2 mL of saline per 100 U = 5 U per 0.1 mL [label]; more than twice that
# is refused. MAX_DILUENT_ML bounds every row (a database check): twice the label volume of two
# 200 U vials, the most a session reconstitutes with one extra vial.
SALINE_ML_PER_100_UNITS = 2
MAX_DILUENT_ML = 16

ADULT_AGE = 18  # R17: adults only [label]

LEFT, RIGHT, MIDLINE = "L", "R", "M"
SIDES = {LEFT: "Left", RIGHT: "Right", MIDLINE: "Midline"}


@dataclass(frozen=True)
class Muscle:
    code: str
    name: str
    sites_per_side: int  # fixed sites on each of left and right (0 for procerus)
    midline_sites: int = 0
    ftp_max_units: int | None = None  # whole-muscle maximum with follow-the-pain sites
    ftp_max_sites: int | None = None

    @property
    def fixed_sites(self) -> int:
        return 2 * self.sites_per_side + self.midline_sites

    @property
    def fixed_units(self) -> int:
        return self.fixed_sites * UNITS_PER_SITE

    @property
    def max_units(self) -> int:
        """R18: the follow-the-pain maximum where there is one, else the protocol dose."""
        return self.ftp_max_units or self.fixed_units

    @property
    def allows_ftp(self) -> bool:
        return self.ftp_max_sites is not None

    @property
    def ftp_extra_sites(self) -> int:
        """How many follow-the-pain sites may be added to the fixed ones (0 if none)."""
        return (self.ftp_max_sites or self.fixed_sites) - self.fixed_sites


MUSCLES: dict[str, Muscle] = {
    m.code: m
    for m in (
        Muscle("COR", "Corrugator", 1),
        Muscle("PRO", "Procerus", 0, midline_sites=1),
        Muscle("FRO", "Frontalis", 2),
        Muscle("TEM", "Temporalis", 4, ftp_max_units=50, ftp_max_sites=10),
        Muscle("OCC", "Occipitalis", 3, ftp_max_units=40, ftp_max_sites=8),
        Muscle("CPS", "Cervical paraspinal", 2),
        Muscle("TRA", "Trapezius", 3, ftp_max_units=50, ftp_max_sites=10),
    )
}


@dataclass(frozen=True)
class Site:
    code: str  # e.g. "TEM-L3"
    muscle: str  # muscle code
    side: str  # L, R or M
    number: int  # 1-based within the muscle and side
    ftp: bool

    @property
    def muscle_name(self) -> str:
        return MUSCLES[self.muscle].name

    @property
    def label(self) -> str:
        if self.side == MIDLINE:
            return self.muscle_name
        suffix = f" {self.number}" if MUSCLES[self.muscle].sites_per_side > 1 or self.ftp else ""
        return f"{self.muscle_name} {SIDES[self.side].lower()}{suffix}"


def _code(muscle: Muscle, side: str, number: int) -> str:
    # Single-site sides (corrugator) and the midline procerus carry no number: COR-L, PRO-M.
    if side == MIDLINE or (muscle.sites_per_side == 1 and number == 1):
        return f"{muscle.code}-{side}"
    return f"{muscle.code}-{side}{number}"


def _fixed_sites() -> tuple[Site, ...]:
    sites = []
    for muscle in MUSCLES.values():
        for side in (LEFT, RIGHT):
            for number in range(1, muscle.sites_per_side + 1):
                sites.append(Site(_code(muscle, side, number), muscle.code, side, number, False))
        if muscle.midline_sites:
            sites.append(Site(_code(muscle, MIDLINE, 1), muscle.code, MIDLINE, 1, False))
    return tuple(sites)


def _ftp_sites() -> tuple[Site, ...]:
    """Every follow-the-pain site that may be used: numbering continues on each side, and as
    the extra sites need not be symmetric, each side may take all of the muscle's extra sites."""
    sites = []
    for muscle in MUSCLES.values():
        for side in (LEFT, RIGHT):
            first = muscle.sites_per_side + 1
            for number in range(first, first + muscle.ftp_extra_sites):
                sites.append(Site(_code(muscle, side, number), muscle.code, side, number, True))
    return tuple(sites)


FIXED_SITES = _fixed_sites()
FTP_SITES = _ftp_sites()
SITES: dict[str, Site] = {site.code: site for site in FIXED_SITES + FTP_SITES}
SITE_CODES = tuple(SITES)
LEFT_CODES = tuple(code for code, site in SITES.items() if site.side == LEFT)
RIGHT_CODES = tuple(code for code, site in SITES.items() if site.side == RIGHT)
MIDLINE_CODES = tuple(code for code, site in SITES.items() if site.side == MIDLINE)
