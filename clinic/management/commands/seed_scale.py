"""A clinic network at scale, for the page benchmark (tests/bench/bench_pages.py, issue 13).

PostgreSQL only. Everything is built by set-based SQL (INSERT ... SELECT over generate_series)
in one transaction, so a failed run leaves nothing behind. Every check, unique and exclusion
constraint and every guard trigger stays on: sessions are inserted as drafts, their sites and
vial uses added, then signed, as the app does it. Only the audit trail's history triggers
(`audit_history`, audit/triggers.py) are disabled, inside the transaction, and enabled again
before it commits: seed data is not a change anyone made, and recording it would add some two
million change rows (and their time) that no page of the benchmark reads. So are the triggers
deriving each patient's due state (treatments migration 0017): the rows are derived once, at
the end, by the migration's own set-based statement.

The shape (for --patients 100000): 20 locations in several time zones, 5 injectors each working
Monday to Friday 08:00-17:00 in 30-minute slots; about 3 years of history and 12 weeks ahead.
Time is cut into 91-day rounds; in each round a patient has one visit, always in the same slot
of the round (so visits are exactly 13 weeks apart, above the 84-day minimum, R6), spread
evenly over the round's 5,850 slots of the location. A patient joins in one of the first
seven rounds. A past visit ended as an injection (a signed session of 31 sites at 5 U), a
review, a no-show or a cancellation; a future visit within 12 weeks is booked for about half
the patients, with its two reminders planned as `plan_visit_reminders` plans them.
"""

import importlib
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from audit.triggers import HISTORY_TABLES
from treatments import protocol

DUE_STATES = importlib.import_module("treatments.migrations.0017_due_states")

PATIENTS_PER_LOCATION = 5000
INJECTORS_PER_LOCATION = 5
ROUND_DAYS = 91  # 13 weeks: one visit per patient per round
WEEKDAYS_PER_ROUND = 65
SLOTS_PER_DAY = 18  # 08:00-17:00 in 30-minute slots
SLOTS_PER_ROUND = WEEKDAYS_PER_ROUND * SLOTS_PER_DAY * INJECTORS_PER_LOCATION
HISTORY_DAYS = 3 * 365
AHEAD_DAYS = 84
DIARY_DAYS = 20  # diary entries per patient, the days before today
PORTAL_EVERY = 10  # every tenth patient has a portal account

# Locations: (city, time zone). Twenty, in thirteen zones; a small run takes the first ones,
# so that even two locations are in two zones.
CITIES = [
    ("London", "Europe/London"),
    ("New York", "America/New_York"),
    ("Berlin", "Europe/Berlin"),
    ("Los Angeles", "America/Los_Angeles"),
    ("Sydney", "Australia/Sydney"),
    ("Chicago", "America/Chicago"),
    ("Athens", "Europe/Athens"),
    ("Denver", "America/Denver"),
    ("Auckland", "Pacific/Auckland"),
    ("Phoenix", "America/Phoenix"),
    ("Singapore", "Asia/Singapore"),
    ("Dublin", "Europe/Dublin"),
    ("Toronto", "America/Toronto"),
    ("Manchester", "Europe/London"),
    ("Boston", "America/New_York"),
    ("Paris", "Europe/Paris"),
    ("Houston", "America/Chicago"),
    ("Seattle", "America/Los_Angeles"),
    ("Madrid", "Europe/Madrid"),
    ("Helsinki", "Europe/Helsinki"),
]
FIRST_NAMES = [
    "Amara", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kemi", "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tariq",
]  # fmt: skip
LAST_NAMES = [
    "Adeyemi", "Brennan", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
    "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
    "Quintero", "Rossi", "Schmidt", "Tanaka", "Ueda", "Varga", "Walsh", "Xu", "Yilmaz", "Zhou",
]  # fmt: skip


def _h(expression: str, salt: int) -> str:
    """A deterministic pseudo-random integer 0..99 from an integer SQL expression."""
    return f"(abs(hashint8(({expression})::bigint * 7919 + {salt})) %% 100)"


class Command(BaseCommand):
    help = (
        "Build the scale data set (issue 13) in an empty, migrated PostgreSQL database: "
        "~100,000 patients, ~1M visits, ~206,000 signed sessions at --patients 100000."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--patients", type=int, default=100_000, help="Patients (all else scales with it)."
        )

    def handle(self, *args, patients: int, **options):
        if connection.vendor != "postgresql":
            raise CommandError("seed_scale builds with PostgreSQL SQL: point POSTGRES_DB at one.")
        if patients < 10:
            raise CommandError("--patients must be 10 or more.")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM patients_patient) "
                "OR EXISTS (SELECT 1 FROM treatments_appointment) "
                "OR EXISTS (SELECT 1 FROM clinic_location)"
            )
            if cursor.fetchone()[0]:
                raise CommandError(
                    f"Database {connection.settings_dict['NAME']} already holds patients, visits "
                    "or locations: seed_scale only fills an empty one (createdb, migrate, seed)."
                )
        started = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            self.cursor = cursor
            self._build(patients)
        with connection.cursor() as cursor:
            self._step("analyze", "ANALYZE", cursor=cursor)
        self.stdout.write(
            self.style.SUCCESS(
                f"Scale data set ready in {connection.settings_dict['NAME']} "
                f"({time.monotonic() - started:.1f} s)."
            )
        )

    # --- helpers ----------------------------------------------------------------------------

    def _step(self, name: str, *statements: str, params=None, cursor=None) -> int:
        cursor = cursor or self.cursor
        began = time.monotonic()
        rows = []
        for sql in statements:
            cursor.execute(sql, params)
            rows.append(max(cursor.rowcount, 0))
        counts = " + ".join(f"{n:,}" for n in rows)
        self.stdout.write(f"  {name}: {counts} rows, {time.monotonic() - began:.1f} s")
        return rows[-1]

    def _reserve(self, table: str, count: int) -> int:
        """Take `count` ids from the table's sequence; returns the first."""
        self.cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
        first = self.cursor.fetchone()[0]
        self.cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, first + count - 1]
        )
        return first

    # --- the build --------------------------------------------------------------------------

    def _build(self, patients: int) -> None:
        cur = self.cursor
        now = timezone.now()
        locations = max(2, -(-patients // PATIENTS_PER_LOCATION))
        if locations > len(CITIES):
            cities = [
                (f"{CITIES[i % 20][0]} {i // 20 + 1}", CITIES[i % 20][1]) for i in range(locations)
            ]
        else:
            cities = CITIES[:locations]
        per_location = -(-patients // locations)
        today = now.date()
        first_day = today - timedelta(days=HISTORY_DAYS)
        first_day -= timedelta(days=first_day.weekday())  # a Monday
        rounds = -(-((today - first_day).days + AHEAD_DAYS) // ROUND_DAYS)
        horizon = now + timedelta(days=AHEAD_DAYS)
        clinicians = locations * INJECTORS_PER_LOCATION

        # Foreign keys are checked at the end of each statement, not at commit: the audit
        # triggers cannot be enabled again while deferred checks are pending.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in HISTORY_TABLES:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_history")
        for table, names in DUE_STATES.POSTGRES_TRIGGERS.items():
            for name in names:
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")

        loc0 = self._reserve("clinic_location", locations)
        portal_accounts = -(-patients // PORTAL_EVERY)  # patients 0, 10, 20, ...
        user0 = self._reserve("clinic_user", clinicians + locations + 1 + portal_accounts)
        desk0 = user0 + clinicians
        admin_id = desk0 + locations
        portal0 = admin_id + 1
        patient0 = self._reserve("patients_patient", patients)
        course0 = self._reserve("treatments_treatmentcourse", patients)
        p = {
            "now": now,
            "loc0": loc0,
            "locations": locations,
            "user0": user0,
            "desk0": desk0,
            "admin_id": admin_id,
            "portal0": portal0,
            "patient0": patient0,
            "course0": course0,
            "patients": patients,
            "portal_accounts": portal_accounts,
            "per_location": per_location,
            "first_day": first_day,
            "rounds": rounds,
            "horizon": horizon,
            "today": today,
            "names": [name for name, _ in cities],
            "zones": [zone for _, zone in cities],
            "first_names": FIRST_NAMES,
            "last_names": LAST_NAMES,
        }

        self._step(
            "locations, hours, users",
            """INSERT INTO clinic_location (id, name, address, phone, time_zone, slot_minutes)
               SELECT %(loc0)s + i, 'Cadence ' || (%(names)s::text[])[i + 1],
                      (i + 1) || ' Clinic Road, ' || (%(names)s::text[])[i + 1],
                      '+44207946' || lpad(i::text, 4, '0'), (%(zones)s::text[])[i + 1], 30
               FROM generate_series(0, %(locations)s - 1) i""",
            """INSERT INTO treatments_openinghours (location_id, weekday, opens, closes)
               SELECT %(loc0)s + i, d, '08:00', '17:00'
               FROM generate_series(0, %(locations)s - 1) i, generate_series(0, 4) d""",
            # Clinicians (5 a location), one front desk a location, one clinic admin, and the
            # patients' portal accounts. No usable password: the benchmark makes sessions.
            f"""INSERT INTO clinic_user (id, password, is_superuser, username, first_name,
                   last_name, email, is_staff, is_active, date_joined, role)
               SELECT %(user0)s + i, '!', false, 'scale-injector-' || i,
                      (%(first_names)s::text[])[i %% 20 + 1], 'Injector ' || i,
                      'injector' || i || '@scale.example', false, true, %(now)s, 'clinician'
               FROM generate_series(0, {clinicians} - 1) i
               UNION ALL
               SELECT %(desk0)s + i, '!', false, 'scale-desk-' || i, 'Desk', 'Location ' || i,
                      'desk' || i || '@scale.example', false, true, %(now)s, 'front_desk'
               FROM generate_series(0, %(locations)s - 1) i
               UNION ALL
               SELECT %(admin_id)s, '!', false, 'scale-admin', 'Scale', 'Admin',
                      'admin@scale.example', true, true, %(now)s, 'clinic_admin'
               UNION ALL
               SELECT %(portal0)s + k, '!', false, 'patient' || k || '@scale.example',
                      '', '', 'patient' || k || '@scale.example', false, true, %(now)s, 'patient'
               FROM generate_series(0, %(portal_accounts)s - 1) k""",
            """INSERT INTO clinic_user_groups (user_id, group_id)
               SELECT u.id, g.id FROM clinic_user u JOIN auth_group g ON g.name = u.role
               WHERE u.id >= %(user0)s""",
            f"""INSERT INTO treatments_injectorday (clinician_id, location_id, weekday)
               SELECT %(user0)s + c, %(loc0)s + c / {INJECTORS_PER_LOCATION}, d
               FROM generate_series(0, {clinicians} - 1) c, generate_series(0, 4) d""",
            params=p,
        )

        # Patient i: location i %% L, index j = i / L there; joins in round i's start round.
        start_round = _h("i", 1) + " %% 7"
        self._step(
            "patients, consents",
            f"""INSERT INTO patients_patient (id, mrn, first_name, last_name, date_of_birth, sex,
                   email, phone, address, status, location_id, primary_clinician_id, user_id,
                   baseline_headache_days, baseline_migraine_days, preventives_failed,
                   preventives_notes, diagnosis_code, created_at, updated_at)
               SELECT %(patient0)s + i, 'SC-' || lpad(i::text, 7, '0'),
                      (%(first_names)s::text[])[i %% 20 + 1],
                      (%(last_names)s::text[])[(i / 20) %% 26 + 1] || '-' || (i %% 997),
                      date '1950-01-01' + (i * 37 %% 16000),
                      CASE WHEN i %% 4 = 0 THEN 'male' ELSE 'female' END,
                      'patient' || i || '@scale.example',
                      '+447700900' || lpad((i %% 1000)::text, 3, '0'),
                      i || ' Example Street', 'active',
                      %(loc0)s + i %% %(locations)s,
                      %(user0)s + (i %% %(locations)s) * {INJECTORS_PER_LOCATION} + i %% 5,
                      CASE WHEN i %% {PORTAL_EVERY} = 0 THEN %(portal0)s + i / {PORTAL_EVERY} END,
                      15 + i %% 10, 8 + i %% 7, 3 + i %% 3, '', 'G43.709',
                      %(first_day)s::date + ({start_round}) * {ROUND_DAYS} - 14
                          + time '09:00', %(now)s
               FROM generate_series(0, %(patients)s - 1) i""",
            """INSERT INTO patients_contactconsent (patient_id, channel, granted, source,
                   recorded_by_id, recorded_at)
               SELECT id, 'email', true, 'in_person', NULL::bigint, created_at FROM patients_patient
               WHERE id >= %(patient0)s
               UNION ALL
               SELECT id, 'sms', true, 'in_person', NULL::bigint, created_at FROM patients_patient
               WHERE id >= %(patient0)s AND id %% 2 = 0""",
            params=p,
        )

        # Every visit of every patient, one a round from the start round: the slot k of the
        # round spreads the location's patients evenly over its SLOTS_PER_ROUND slots.
        self._step(
            "visit plan (temporary)",
            f"""CREATE TEMPORARY TABLE seed_visit ON COMMIT DROP AS
               SELECT v.*, (v.local_start AT TIME ZONE v.zone) AS starts_at
               FROM (
                 SELECT i, r, loc, zone, user0 + (loc - loc0) * {INJECTORS_PER_LOCATION}
                            + k %% {INJECTORS_PER_LOCATION} AS clinician_id,
                        first_day + (((k / {SLOTS_PER_DAY * INJECTORS_PER_LOCATION}) / 5) * 7
                          + (k / {SLOTS_PER_DAY * INJECTORS_PER_LOCATION}) %% 5
                          + r * {ROUND_DAYS})::int
                          + time '08:00'
                          + ((k %% {SLOTS_PER_DAY * INJECTORS_PER_LOCATION})
                             / {INJECTORS_PER_LOCATION}) * interval '30 minutes' AS local_start,
                        {_h("i * 64 + r", 2)} AS roll
                 FROM (
                   SELECT i, r, %(loc0)s::bigint AS loc0, %(user0)s::bigint AS user0,
                          %(first_day)s::date AS first_day,
                          %(loc0)s + i %% %(locations)s AS loc,
                          (%(zones)s::text[])[i %% %(locations)s + 1] AS zone,
                          ((i / %(locations)s)::bigint * {SLOTS_PER_ROUND}
                              / %(per_location)s) AS k
                   FROM generate_series(0, %(patients)s - 1) i,
                        generate_series(0, %(rounds)s - 1) r
                   WHERE r >= {start_round}
                 ) s
               ) v""",
            params=p,
        )
        # Outcomes: past visits 22 %% injections, 20 %% reviews, 15 %% no-shows, the rest
        # cancelled; future ones (within 12 weeks) booked for 55 %% of patients.
        self._step(
            "visit outcomes",
            """ALTER TABLE seed_visit ADD COLUMN appointment_id bigint,
                   ADD COLUMN status text, ADD COLUMN kind text""",
            """DELETE FROM seed_visit WHERE starts_at >= %(horizon)s
                   OR (starts_at >= %(now)s AND roll >= 55)""",
            """UPDATE seed_visit SET
                 status = CASE WHEN starts_at >= %(now)s THEN 'booked'
                               WHEN roll < 42 THEN 'fulfilled'
                               WHEN roll < 57 THEN 'noshow' ELSE 'cancelled' END,
                 kind = CASE WHEN starts_at < %(now)s AND roll BETWEEN 22 AND 41 THEN 'review'
                             ELSE 'injection' END""",
            params=p,
        )
        count = self._count("SELECT count(*) FROM seed_visit")
        appt0 = self._reserve("treatments_appointment", count)
        p["appt0"] = appt0
        self._step(
            "appointments",
            """UPDATE seed_visit SET appointment_id = n.id FROM (
                   SELECT ctid, %(appt0)s + row_number() OVER () - 1 AS id FROM seed_visit
               ) n WHERE seed_visit.ctid = n.ctid""",
            """INSERT INTO treatments_appointment (id, patient_id, location_id, clinician_id,
                   starts_at, ends_at, kind, cycle_number, status, booked_by_id, booked_at,
                   early_override_reason, cancel_reason, confirmed_at, change_requested_at,
                   change_request, sequence)
               SELECT appointment_id, %(patient0)s + i, loc, clinician_id, starts_at,
                      starts_at + interval '30 minutes', kind, NULL, status,
                      %(desk0)s + (loc - %(loc0)s), starts_at - interval '60 days', '',
                      CASE WHEN status = 'cancelled' THEN 'The patient asked to move it.'
                           ELSE '' END,
                      NULL, NULL, '', 0
               FROM seed_visit ORDER BY appointment_id""",
            params=p,
        )

        self._step(
            "treatment courses",
            """INSERT INTO treatments_treatmentcourse (id, patient_id, started_on, interval_days,
                   min_interval_days, consent_on, status, status_reason, last_session_on,
                   created_at)
               SELECT %(course0)s + i, %(patient0)s + i, min(local_start)::date, 84, 84,
                      min(local_start)::date, 'active', '', NULL, min(starts_at)
               FROM seed_visit GROUP BY i""",
            params=p,
        )
        self._sessions(p)
        self._step(
            "diary entries",
            f"""INSERT INTO patients_diaryentry (patient_id, date, headache, hours, severity,
                   migraine, acute_medication, created_at, updated_at)
               SELECT %(patient0)s + i, %(today)s::date - d,
                      roll < 45,
                      CASE WHEN roll < 45 THEN 2 + roll %% 10 ELSE 0 END,
                      CASE WHEN roll < 45 THEN 1 + roll %% 3 ELSE 0 END,
                      roll < 30,
                      CASE WHEN roll < 20 THEN 'triptan' WHEN roll < 35 THEN 'nsaid'
                           ELSE 'none' END,
                      %(now)s, %(now)s
               FROM (SELECT i, d, {_h("i * 64 + d", 3)} AS roll
                     FROM generate_series(0, %(patients)s - 1) i,
                          generate_series(1, {DIARY_DAYS}) d) s""",
            params=p,
        )
        self._reminders(p)
        for table in HISTORY_TABLES:
            cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER audit_history")
        for table, names in DUE_STATES.POSTGRES_TRIGGERS.items():
            for name in names:
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
        self._step("due states", DUE_STATES.derive("postgresql"))

    def _count(self, sql: str) -> int:
        self.cursor.execute(sql)
        return self.cursor.fetchone()[0]

    def _sessions(self, p: dict) -> None:
        """Signed sessions for the fulfilled injection visits, the way the app makes them:
        inserted as drafts, 31 sites of 5 U and a 200 U vial added, then signed."""
        count = self._count(
            "SELECT count(*) FROM seed_visit WHERE status = 'fulfilled' AND kind = 'injection'"
        )
        p["session0"] = self._reserve("treatments_treatmentsession", count)
        lots = (p["rounds"] * ROUND_DAYS) // 182 + 2
        p["lot0"] = self._reserve("treatments_viallot", lots)
        p["lots"] = lots
        sites = [(site.code, site.muscle, site.side) for site in protocol.FIXED_SITES]
        p["site_codes"] = [code for code, _, _ in sites]
        p["site_muscles"] = [muscle for _, muscle, _ in sites]
        p["site_sides"] = [side for _, _, side in sites]
        p["units"] = protocol.UNITS_PER_SITE
        p["total"] = protocol.UNITS_PER_SITE * len(sites)
        self._step(
            "sessions (draft)",
            # One lot of 200 U vials every half year, each good for two years.
            """INSERT INTO treatments_viallot (id, product, lot_number, expiry)
               SELECT %(lot0)s + n, 'botox_200', 'SCALE-' || lpad(n::text, 3, '0'),
                      %(first_day)s::date + n * 182 + 730
               FROM generate_series(0, %(lots)s - 1) n""",
            """CREATE TEMPORARY TABLE seed_session ON COMMIT DROP AS
               SELECT %(session0)s + row_number() OVER (ORDER BY appointment_id) - 1 AS id,
                      v.*, row_number() OVER (PARTITION BY i ORDER BY starts_at) AS cycle
               FROM seed_visit v WHERE status = 'fulfilled' AND kind = 'injection'""",
            """INSERT INTO treatments_treatmentsession (id, patient_id, course_id, appointment_id,
                   cycle_number, location_id, injector_id, administered_at, given_on,
                   reconstituted_at, diluent_ml, total_units, units_wasted, consent,
                   infection_at_site, hypersensitivity, pregnant_or_breastfeeding,
                   other_toxin_recent, other_toxin_units, early_reason, extra_vial_reason,
                   under_18_reason, acknowledged, notes, status, signed_at, signed_by_id,
                   voided_reason, voided_at, voided_by_id, form_token, original_id, version,
                   created_at, updated_at)
               SELECT id, %(patient0)s + i, %(course0)s + i, appointment_id, cycle, loc,
                      clinician_id, starts_at + interval '10 minutes',
                      (local_start + interval '10 minutes')::date,
                      starts_at - interval '20 minutes', 4.0, %(total)s, 45, 'course',
                      false, false, false, false, 0, '', '', '', '[]'::jsonb, '', 'draft',
                      NULL, NULL, '', NULL, NULL, NULL, NULL, 1,
                      starts_at + interval '10 minutes', starts_at + interval '25 minutes'
               FROM seed_session ORDER BY id""",
            params=p,
        )
        self._step(
            "injection sites",
            """INSERT INTO treatments_injectionsite (session_id, site_code, muscle, side, is_ftp,
                   units, skipped_reason)
               SELECT s.id, c.code, c.muscle, c.side, false, %(units)s, ''
               FROM seed_session s,
                    unnest(%(site_codes)s::text[], %(site_muscles)s::text[],
                           %(site_sides)s::text[]) AS c(code, muscle, side)
               ORDER BY s.id""",
            params=p,
        )
        self._step(
            "vial uses",
            """INSERT INTO treatments_vialuse (session_id, lot_id, vials, units_drawn,
                   units_administered, units_wasted)
               SELECT id, %(lot0)s + (local_start::date - %(first_day)s::date) / 182, 1, 200,
                      %(total)s, 200 - %(total)s
               FROM seed_session""",
            params=p,
        )
        self._step(
            "sessions signed",
            """UPDATE treatments_treatmentsession s
               SET status = 'signed', signed_at = s.administered_at + interval '15 minutes',
                   signed_by_id = s.injector_id
               WHERE s.id >= %(session0)s""",
            """UPDATE treatments_appointment a SET cycle_number = s.cycle_number
               FROM treatments_treatmentsession s WHERE s.appointment_id = a.id
                 AND s.id >= %(session0)s""",
            """UPDATE treatments_treatmentcourse c SET last_session_on = l.given_on
               FROM (SELECT course_id, max(given_on) AS given_on
                     FROM treatments_treatmentsession WHERE id >= %(session0)s
                     GROUP BY course_id) l
               WHERE c.id = l.course_id""",
            params=p,
        )

    def _reminders(self, p: dict) -> None:
        """The two reminders of every future visit, as `plan_visit_reminders` plans them at
        `now`: a week before by email and the day before by SMS (email without SMS consent),
        at the visit's local time of day out of quiet hours; a time already passed is
        recorded as skipped."""
        p["week_days"] = settings.REMINDER_VISIT_EMAIL_DAYS
        p["sms_days"] = settings.REMINDER_VISIT_SMS_DAYS
        p["quiet_start"] = settings.QUIET_HOURS_START
        p["quiet_end"] = settings.QUIET_HOURS_END
        # out_of_quiet_hours: a local time in the quiet hours moves to QUIET_HOURS_END
        # (the same day before it, the next day after the start).
        moved = """CASE
            WHEN extract(hour FROM w) >= %(quiet_start)s
              THEN (w::date + 1 + make_time(%(quiet_end)s, 0, 0)) AT TIME ZONE zone
            WHEN extract(hour FROM w) < %(quiet_end)s
              THEN (w::date + make_time(%(quiet_end)s, 0, 0)) AT TIME ZONE zone
            ELSE w AT TIME ZONE zone END"""
        self._step(
            "reminders",
            f"""INSERT INTO treatments_reminder (patient_id, appointment_id, course_id,
                   subject_key, kind, channel, due_at, status, attempts, claim_token,
                   claimed_at, started_at, last_error, skip_reason, sent_at,
                   provider_message_id, created_at)
               SELECT patient_id, appointment_id, NULL, 'appointment:' || appointment_id || ':0',
                      kind, channel, due_at,
                      CASE WHEN due_at <= %(now)s THEN 'skipped' ELSE 'pending' END, 0, '',
                      NULL, NULL, '',
                      CASE WHEN due_at <= %(now)s
                           THEN 'Its time had passed when it was planned.' ELSE '' END,
                      NULL, '', %(now)s
               FROM (
                 SELECT %(patient0)s + v.i AS patient_id, v.appointment_id, k.kind,
                        CASE WHEN k.kind = 'visit_week' THEN 'email'
                             WHEN (%(patient0)s + v.i) %% 2 = 0 THEN 'sms' ELSE 'email' END
                          AS channel,
                        {moved} AS due_at
                 FROM seed_visit v,
                      LATERAL (VALUES
                          ('visit_week', v.local_start - %(week_days)s * interval '1 day'),
                          ('visit_tomorrow', v.local_start - %(sms_days)s * interval '1 day')
                      ) k(kind, w)
                 WHERE v.status = 'booked'
               ) r""",
            params=p,
        )
