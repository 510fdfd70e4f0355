"""Amendments (issue "records a clinician can trust", item 7): an amendment passes the same
rules and acknowledgements as signing, its history reads as the fields changed in plain words
and the location's time, and an amended date re-plans the due reminder and re-checks the
patient's bookings."""

import datetime

import pytest
from django.urls import reverse

from tests.conftest import clinic_today, fresh_vials, local, session_input
from tests.treatments.test_views import form_data
from treatments.models import Reminder, SessionAmendment, TreatmentSession
from treatments.services import RuleViolation, amend_session, visits_before_earliest


@pytest.mark.parametrize(
    ("answer", "rule"),
    [({"pregnant_or_breastfeeding": True}, "R13"), ({"other_toxin_recent": True}, "R12")],
)
def test_an_amendment_needs_the_acknowledgements_signing_needs(
    signed_session, clinician, location, answer, rule
):
    data = session_input(location, **answer)
    with pytest.raises(RuleViolation) as raised:
        amend_session(session=signed_session, user=clinician, data=data, reason="Asked again")
    assert [(f.rule, f.needs_ack) for f in raised.value.findings] == [(rule, True)]
    signed_session.refresh_from_db()
    assert signed_session.is_signed  # nothing written

    amendment = amend_session(
        session=signed_session, user=clinician, data=data, reason="Asked again", acknowledged=[rule]
    )
    assert amendment.new_version.acknowledged == [rule]


def test_the_amend_form_asks_for_the_acknowledgement_and_changes_nothing_without_it(
    client, clinician, signed_session, location
):
    client.force_login(clinician)
    amend = reverse("treatments:session_amend", args=[signed_session.pk])
    data = form_data(location, pregnant_or_breastfeeding="True", reason="She told us after")
    page = client.post(amend, data)
    assert page.status_code == 200
    assert 'value="R13"' in page.content.decode()  # the box to tick is on the page
    assert SessionAmendment.objects.filter(new_version__isnull=False).count() == 1  # fixture's
    saved = client.post(amend, data | {"acknowledged": "R13"})
    current = SessionAmendment.objects.latest("pk").new_version
    assert saved["Location"] == reverse("treatments:session_detail", args=[current.pk])
    assert (current.pregnant_or_breastfeeding, current.acknowledged) == (True, ["R13"])


def test_the_history_reads_the_changed_fields_in_the_locations_time(
    signed_session, clinician, location
):
    # 10:00 in New York (15:00 UTC) moved to 08:30; the saline was missing from the old history
    when = local(datetime.date(2026, 3, 2), 8, 30)
    sites = dict.fromkeys(signed_session.sites.values_list("site_code", flat=True), 5)
    sites["TRA-L1"] = 10
    from treatments.rules import SiteEntry

    amendment = amend_session(
        session=signed_session,
        user=clinician,
        data=session_input(
            location,
            when=when,
            diluent_ml=4.5,
            notes="Amended",  # as the fixture's version 2 has it
            sites=[SiteEntry(code, units) for code, units in sites.items()],
        ),
        reason="Wrong time, saline and one trapezius site",
        acknowledged=["R2", "R19"],
    )
    changes = amendment.changes(location.zone)
    assert ("Injected at", "2026-03-02 10:00 EST", "2026-03-02 08:30 EST") in changes
    assert ("Saline added (mL)", "4.0 mL", "4.5 mL") in changes
    assert ("Trapezius left 1", "5 U", "10 U") in changes
    assert ("Units given", "155 U", "160 U") in changes
    assert "Notes" not in [label for label, _, _ in changes]  # unchanged fields are not listed


def test_a_legacy_amendment_reads_not_recorded_for_what_it_did_not_keep(signed_session):
    legacy = SessionAmendment(before={"notes": "a"}, after={"notes": "b", "diluent_ml": "4.0"})
    assert legacy.changes(signed_session.location.zone) == [
        ("Notes", "a", "b"),
        ("Saline added (mL)", "not recorded", "4.0 mL"),
    ]


def test_an_amended_date_replans_the_due_reminder_and_rechecks_bookings(
    client, clinician, booked_appointment, signed_session, location
):
    course = signed_session.course
    # the session was really given 30 days ago: the visit booked for next week is now too early
    day = clinic_today() - datetime.timedelta(days=30)
    when = local(day, 9)
    assert visits_before_earliest(signed_session.patient) == []
    amendment = amend_session(
        session=signed_session,
        user=clinician,
        data=session_input(location, when=when, vials=fresh_vials(when)),
        reason="Entered with the wrong date",
    )
    course.refresh_from_db()
    assert course.last_session_on == day
    due = Reminder.objects.get(course=course, kind="due_not_booked", status="pending")
    assert due.subject_key == f"course:{course.pk}:{day.isoformat()}"
    assert not Reminder.objects.filter(
        course=course, kind="due_not_booked", status="pending"
    ).exclude(pk=due.pk)
    assert visits_before_earliest(signed_session.patient) == [booked_appointment]

    client.force_login(clinician)
    page = client.get(reverse("treatments:session_detail", args=[amendment.new_version.pk]))
    assert "is earlier than the minimum interval" in page.content.decode()


def test_a_superseded_version_is_read_only_and_off_the_chart(client, clinician, signed_session):
    client.force_login(clinician)
    old = TreatmentSession.objects.get(pk=signed_session.original_id)
    page = client.get(reverse("treatments:session_detail", args=[old.pk])).content.decode()
    assert "Superseded" in page
    assert reverse("treatments:session_amend", args=[old.pk]) not in page
    chart = client.get(reverse("treatments:chart", args=[old.patient_id]))
    assert [s.pk for s in chart.context["sessions"]] == [signed_session.pk]
