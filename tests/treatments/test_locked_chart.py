"""The locked chart (migration 0012): the database itself refuses to change or delete a signed
session, its sites and its vial uses, whichever way the write comes (QuerySet.update(),
bulk_create, delete(), raw SQL). The suite runs on SQLite and on PostgreSQL, so each test
holds on both engines."""

import datetime

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import session_input
from treatments import protocol
from treatments.models import (
    DueState,
    InjectionSite,
    TreatmentCourse,
    TreatmentSession,
    VialUse,
)
from treatments.rules import ACKNOWLEDGEABLE, SiteEntry
from treatments.services import RuleViolation, amend_session, record_session, sign_session

WHEN = datetime.datetime(2026, 3, 2, 15, tzinfo=datetime.UTC)


def refused(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def raw(sql, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def signed(patient_a, clinician, location):
    draft = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    return sign_session(session=draft, user=clinician, acknowledged=[])


@pytest.fixture
def draft(patient_a, clinician, location):
    return record_session(patient=patient_a, injector=clinician, data=session_input(location))


def unchanged(session):
    """The signed row, its 31 sites and its vial use, exactly as signed."""
    fresh = TreatmentSession.objects.get(pk=session.pk)
    assert (fresh.status, fresh.total_units, fresh.notes) == ("signed", 155, "")
    assert sorted(fresh.sites.values_list("units", flat=True)) == [5] * 31
    assert fresh.vials.get().units_administered == 155


def test_a_signed_session_is_not_updated_through_the_orm(signed):
    rows = TreatmentSession.objects.filter(pk=signed.pk)
    refused(lambda: rows.update(total_units=195))
    refused(lambda: rows.update(notes="rewritten"))
    refused(lambda: rows.update(status="draft"))
    refused(lambda: rows.update(status="voided", voided_reason="x", voided_at=WHEN))
    signed.notes = "rewritten"
    refused(signed.save)
    unchanged(signed)


def test_a_signed_session_is_not_deleted(signed):
    refused(lambda: TreatmentSession.objects.filter(pk=signed.pk).delete())
    refused(lambda: raw("DELETE FROM treatments_treatmentsession WHERE id = %s", signed.pk))
    unchanged(signed)


def test_a_signed_session_is_not_changed_by_raw_sql(signed):
    table = "treatments_treatmentsession"
    refused(lambda: raw(f"UPDATE {table} SET total_units = 195 WHERE id = %s", signed.pk))
    refused(lambda: raw(f"UPDATE {table} SET status = 'draft' WHERE id = %s", signed.pk))
    refused(lambda: raw(f"UPDATE {table} SET notes = 'x' WHERE id = %s", signed.pk))
    unchanged(signed)


def test_the_sites_of_a_signed_session_are_locked(signed):
    sites = InjectionSite.objects.filter(session=signed)
    refused(lambda: sites.delete())
    refused(lambda: sites.update(units=10))
    refused(lambda: raw("DELETE FROM treatments_injectionsite WHERE session_id = %s", signed.pk))
    refused(
        lambda: raw(
            "UPDATE treatments_injectionsite SET units = 10 WHERE session_id = %s", signed.pk
        )
    )
    extra = InjectionSite(session=signed, site_code="TEM-L5", muscle="TEM", side="L", units=5)
    refused(lambda: InjectionSite.objects.bulk_create([extra]))
    unchanged(signed)


def test_the_vial_uses_of_a_signed_session_are_locked(signed):
    uses = VialUse.objects.filter(session=signed)
    refused(lambda: uses.delete())
    refused(lambda: uses.update(vials=2, units_drawn=400, units_wasted=245))
    refused(lambda: raw("DELETE FROM treatments_vialuse WHERE session_id = %s", signed.pk))
    use = uses.get()
    copy = VialUse(session=signed, lot=use.lot, vials=1, units_drawn=200, units_administered=0)
    copy.units_wasted = 200
    refused(lambda: VialUse.objects.bulk_create([copy]))
    unchanged(signed)


def test_a_session_is_inserted_as_a_draft_and_signed_after(signed, clinician):
    copy = TreatmentSession.objects.get(pk=signed.pk)
    copy.pk, copy.given_on, copy.cycle_number = None, copy.given_on + datetime.timedelta(1), 2
    refused(lambda: TreatmentSession.objects.bulk_create([copy]))


def test_signing_needs_the_sites_to_sum_to_the_total(draft, clinician):
    # a draft whose stored total says 195 while its sites hold 155
    rows = TreatmentSession.objects.filter(pk=draft.pk)
    rows.update(total_units=195)
    sign = {"status": "signed", "signed_at": WHEN, "signed_by": clinician}
    refused(lambda: rows.update(**sign))
    rows.update(total_units=155)
    rows.update(**sign)
    assert TreatmentSession.objects.get(pk=draft.pk).is_signed


def test_no_muscle_holds_more_than_its_maximum(draft):
    # R18 in the database: frontalis 20 U (4 sites of 5 U today); one more unit is refused
    frontalis = InjectionSite.objects.filter(session=draft, muscle="FRO")
    assert sum(frontalis.values_list("units", flat=True)) == 20
    refused(lambda: frontalis.filter(site_code="FRO-L1").update(units=10))
    procerus = InjectionSite.objects.filter(session=draft, muscle="PRO")
    refused(
        lambda: raw(
            "UPDATE treatments_injectionsite SET units = 6 WHERE id = %s", procerus.get().pk
        )
    )
    frontalis.delete()
    four_at_ten = [
        InjectionSite(session=draft, site_code=code, muscle="FRO", side=code[4], units=10)
        for code in ("FRO-L1", "FRO-L2", "FRO-R1", "FRO-R2")
    ]
    refused(lambda: InjectionSite.objects.bulk_create(four_at_ten))
    refused(
        lambda: InjectionSite.objects.create(
            session=draft, site_code="FRO-L1", muscle="TEM", side="L", units=5
        )
    )  # a frontalis code counted under another muscle


def test_a_draft_stays_editable_and_deletable(draft):
    InjectionSite.objects.filter(session=draft, site_code="TRA-L1").update(units=10)
    TreatmentSession.objects.filter(pk=draft.pk).update(notes="still a draft")
    VialUse.objects.filter(session=draft).delete()
    InjectionSite.objects.filter(session=draft).delete()
    TreatmentSession.objects.filter(pk=draft.pk).delete()
    assert not TreatmentSession.objects.filter(pk=draft.pk).exists()


def test_superseding_is_the_one_change_a_signed_row_takes(signed):
    rows = TreatmentSession.objects.filter(pk=signed.pk)
    refused(lambda: rows.update(status="superseded", notes="and a rewrite"))
    refused(lambda: rows.update(status="superseded", total_units=100))
    rows.update(status="superseded")
    # and a superseded version is as locked as a signed one
    refused(lambda: rows.update(status="signed"))
    refused(lambda: rows.delete())
    refused(lambda: InjectionSite.objects.filter(session=signed).delete())


def test_an_amendment_keeps_every_version_and_changes_none(signed, clinician, location):
    first = amend_session(
        session=signed,
        user=clinician,
        data=session_input(location, notes="Second"),
        reason="Notes",
    ).new_version
    second = amend_session(
        session=first, user=clinician, data=session_input(location, notes="Third"), reason="Again"
    ).new_version
    versions = TreatmentSession.objects.filter(pk__in=[signed.pk, first.pk, second.pk])
    assert sorted(versions.values_list("version", "status", "notes")) == [
        (1, "superseded", ""),
        (2, "superseded", "Second"),
        (3, "signed", "Third"),
    ]
    assert second.original == first.original == TreatmentSession.objects.get(pk=signed.pk)
    assert [a.reason for a in second.original.amendments.all()] == ["Notes", "Again"]
    for version in versions:
        assert version.sites.count() == 31


# --- the rules and the database agree ------------------------------------------------------


STANDARD = {code: (None if site.ftp else 5) for code, site in protocol.SITES.items()}
# The standard table with a few sites changed to anything (none, 0 U or less, up to 14 U):
# near the protocol, so that many tables are accepted, and often well over a limit.
SITE_TABLES = st.dictionaries(
    st.sampled_from(protocol.SITE_CODES),
    st.sampled_from([None, 2, 5, 10]) | st.integers(-2, 14),
    max_size=6,
).map(lambda changes: STANDARD | changes)


def _breaks_a_limit(table: dict[str, int | None]) -> bool:
    """Over a per-muscle maximum, over 195 U, or a site at 0 U or less (or over 10 U)."""
    given = {code: units for code, units in table.items() if units is not None}
    per_muscle: dict[str, int] = {}
    for code, units in given.items():
        muscle = protocol.SITES[code].muscle
        per_muscle[muscle] = per_muscle.get(muscle, 0) + units
    return (
        any(units <= 0 or units > protocol.MAX_SITE_UNITS for units in given.values())
        or any(per_muscle[m] > protocol.MUSCLES[m].max_units for m in per_muscle)
        or sum(given.values()) > protocol.MAX_TOTAL_UNITS
    )


class _Undo(Exception):
    pass


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=SITE_TABLES)
@example(table=STANDARD)  # accepted: the standard 155 U
@example(table=STANDARD | {"FRO-L1": 10})  # frontalis 25 U, over its 20
def test_no_table_the_rules_accept_breaks_the_database_nor_the_reverse(
    patient_a, clinician, location, table
):
    entries = [SiteEntry(code, units) for code, units in table.items()]
    data = session_input(location, sites=entries)
    accepted = False
    try:
        with transaction.atomic():
            try:
                draft = record_session(patient=patient_a, injector=clinician, data=data)
                sign_session(session=draft, user=clinician, acknowledged=list(ACKNOWLEDGEABLE))
                accepted = True  # an IntegrityError would have failed the test
            except RuleViolation:
                pass
            raise _Undo
    except _Undo:
        pass
    if not _breaks_a_limit(table):
        return
    assert not accepted, "the rules accepted a table over a limit"
    with transaction.atomic():
        course = TreatmentCourse.objects.create(patient=patient_a, started_on=WHEN.date())
        session = TreatmentSession.objects.create(
            patient=patient_a,
            course=course,
            cycle_number=1,
            location=location,
            injector=clinician,
            administered_at=WHEN,
            reconstituted_at=WHEN,
        )
        rows = [
            InjectionSite(
                session=session,
                site_code=code,
                muscle=protocol.SITES[code].muscle,
                side=protocol.SITES[code].side,
                is_ftp=protocol.SITES[code].ftp,
                units=units,
            )
            for code, units in table.items()
            if units is not None
        ]
        refused(lambda: InjectionSite.objects.bulk_create(rows))
        transaction.set_rollback(True)


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute(
                "SELECT tgname || ' on ' || tgrelid::regclass FROM pg_trigger "
                "WHERE NOT tgisinternal"
            )
        return {row[0] for row in cursor.fetchall()}


def _guards() -> set[str]:
    chart = ("guard_session", "guard_site", "guard_injectionsite", "guard_vialuse")
    return {name for name in _triggers() if name.startswith(chart)}


def _due_state_triggers() -> set[str]:
    return {name for name in _triggers() if name.startswith("derive_due")}


@pytest.mark.django_db(transaction=True)
def test_the_guards_survive_migrations_that_rebuild_the_tables(patient_a, clinician, location):
    # Migrating back before 0012 and forward again rebuilds the session and site tables on
    # SQLite (the way it alters one), which drops their triggers: migrate puts them back.
    expected = _guards()
    engine = {"sqlite": 12, "postgresql": 3}[connection.vendor]
    assert len(expected) == engine
    derived = _due_state_triggers()  # the due states' triggers (0017) come back too
    assert len(derived) == 15
    call_command("migrate", "treatments", "0011_session_once_a_day", verbosity=0)
    assert not _guards()
    assert not _due_state_triggers()
    call_command("migrate", verbosity=0)
    assert _guards() == expected
    assert _due_state_triggers() == derived
    assert DueState.objects.filter(patient=patient_a, active=True).exists()  # derived again
    draft = record_session(patient=patient_a, injector=clinician, data=session_input(location))
    signed = sign_session(session=draft, user=clinician, acknowledged=[])
    refused(lambda: TreatmentSession.objects.filter(pk=signed.pk).update(notes="x"))
