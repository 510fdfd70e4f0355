"""The locked chart (migration 0012): the database itself refuses to change or delete a signed
session, its sites and its vial uses, whichever way the write comes (QuerySet.update(),
bulk_create, delete(), raw SQL). The suite runs on SQLite and on PostgreSQL, so each test
holds on both engines."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.conftest import session_input
from treatments.models import InjectionSite, TreatmentSession, VialUse
from treatments.services import amend_session, record_session, sign_session


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
    refused(lambda: rows.update(status="voided", voided_reason="x", voided_at=timezone.now()))
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
    sign = {"status": "signed", "signed_at": timezone.now(), "signed_by": clinician}
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
