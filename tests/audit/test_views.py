"""The clinic admin reads a patient's trail and exports it; a patient sees which staff roles
opened their record; who made a change comes from the request."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessEvent, ChangeEvent
from patients.models import Patient
from tests.conftest import make_patient


def test_a_staff_look_at_a_patient_is_on_the_admins_trail(
    client, front_desk, clinic_admin, patient_b
):
    # Given the front desk opened patient B's page
    client.force_login(front_desk)
    client.get(reverse("patients:detail", args=[patient_b.pk]))

    # When the clinic admin opens B's trail
    client.force_login(clinic_admin)
    response = client.get(reverse("audit:patient", args=[patient_b.pk]))

    # Then the look is there, with who, role and page
    assert response.status_code == 200
    opened = [(who, role, event.view) for _, who, role, event in response.context["accesses"]]
    assert (front_desk.get_full_name(), "Front desk", "patients:detail") in opened


def test_an_edit_through_the_page_names_its_author_and_the_field_in_plain_words(
    client, clinician, clinic_admin, patient_a
):
    # Given a clinician changes the intake baseline through the page
    client.force_login(clinician)
    response = client.post(
        reverse("patients:intake", args=[patient_a.pk]),
        {
            "baseline_headache_days": 20,
            "baseline_migraine_days": 10,
            "preventives_failed": 3,
            "diagnosis_code": patient_a.diagnosis_code or "G43.709",
        },
    )
    assert response.status_code == 302

    # Then the database recorded the change with the clinician as its author
    change = ChangeEvent.objects.filter(
        table_name="patients_patient", record_id=patient_a.pk, operation="update"
    ).latest("pk")
    assert change.actor_id == clinician.pk
    assert change.actor_role == "clinician"
    assert change.changes["baseline_headache_days"][1] == 20

    # And the admin's trail says it in plain words
    client.force_login(clinic_admin)
    page = client.get(reverse("audit:patient", args=[patient_a.pk])).content.decode()
    assert "Headache days a month" in page


def test_a_write_from_another_request_does_not_inherit_the_previous_author(
    client, clinician, patient_a
):
    client.force_login(clinician)
    client.get(reverse("patients:detail", args=[patient_a.pk]))
    # a write outside any request (a task, a command) has no author
    Patient.objects.filter(pk=patient_a.pk).update(address="1 New Road")
    change = ChangeEvent.objects.filter(table_name="patients_patient").latest("pk")
    assert change.actor_id is None


def test_the_csv_export_has_every_look_and_change(client, clinic_admin, front_desk, patient_b):
    # a name a spreadsheet would run as a formula
    front_desk.first_name = "=SUM(A1)"
    front_desk.save()
    client.force_login(front_desk)
    client.get(reverse("patients:detail", args=[patient_b.pk]))
    Patient.objects.filter(pk=patient_b.pk).update(address="2 Old Road")
    client.force_login(clinic_admin)

    response = client.get(reverse("audit:patient_csv", args=[patient_b.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    kinds = [row[0] for row in rows[1:]]
    assert "opened" in kinds
    assert "changed" in kinds
    assert "created" in kinds
    assert any(row[6] == "patients:detail" and row[5] == "front_desk" for row in rows)
    # a cell that a spreadsheet would run as a formula is quoted
    assert not any(cell.startswith("=") for row in rows for cell in row)
    assert any(cell.startswith("'=SUM(A1)") for row in rows for cell in row)


def test_the_admins_trail_of_another_patient_id_is_a_404(client, clinic_admin):
    client.force_login(clinic_admin)
    assert client.get(reverse("audit:patient", args=[999999])).status_code == 404
    assert client.get("/audit/patients/99999999999999999999999/").status_code == 404


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_only_the_clinic_admin_reads_the_trail(client, personas, patient_b, role):
    client.force_login(personas[role])
    assert client.get(reverse("audit:patient", args=[patient_b.pk])).status_code == 403
    assert client.get(reverse("audit:patient_csv", args=[patient_b.pk])).status_code == 403


def test_a_patient_sees_which_staff_roles_opened_their_record_and_not_who(
    client, clinician, patient_a, patient_b
):
    # Given a clinician opened A's page, and B's
    client.force_login(clinician)
    client.get(reverse("patients:detail", args=[patient_a.pk]))
    client.get(reverse("patients:detail", args=[patient_b.pk]))

    # When A opens "who opened my record"
    client.force_login(patient_a.user)
    response = client.get(reverse("audit:mine"))

    # Then A sees one look by a clinician: the role, not the name, and nothing about B
    assert response.status_code == 200
    assert [role for _, role, _ in response.context["events"]] == ["Clinician"]
    assert clinician.last_name not in response.content.decode()


def test_a_patients_own_looks_are_not_listed_as_staff_access(client, patient_a):
    client.force_login(patient_a.user)
    client.get(reverse("portal:home"))
    response = client.get(reverse("audit:mine"))
    assert response.context["events"] == []
    assert AccessEvent.objects.filter(patient_id=patient_a.pk, role="patient").exists()


def test_a_list_page_records_each_patient_shown_in_one_insert(client, front_desk, location):
    shown = [make_patient(n, location=location) for n in range(10, 22)]
    client.force_login(front_desk)

    client.get(reverse("patients:list"))  # warm the session

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("patients:list"))
    inserts = [q for q in queries.captured_queries if "audit_accessevent" in q["sql"]]
    assert len(inserts) == 1
    recorded = AccessEvent.objects.filter(view="patients:list", user=front_desk)
    assert {p.pk for p in shown} <= set(recorded.values_list("patient_id", flat=True))


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    client, front_desk, patient_b, settings
):
    client.force_login(front_desk)
    url = reverse("patients:detail", args=[patient_b.pk])
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.9, 192.0.2.4"}

    client.get(url, **forwarded)
    assert AccessEvent.objects.latest("pk").address == "10.0.0.2"

    settings.AUDIT_TRUSTED_PROXY = True
    client.get(url, **forwarded)
    assert AccessEvent.objects.latest("pk").address == "192.0.2.4"

    client.get(url, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")
    assert AccessEvent.objects.latest("pk").address is None


def test_a_refused_page_records_no_look(client, front_desk, patient_b):
    client.force_login(front_desk)
    assert client.get(reverse("patients:intake", args=[patient_b.pk])).status_code == 403
    assert not AccessEvent.objects.filter(view="patients:intake").exists()


def test_the_admins_trail_pages_every_look_newest_first(
    client, clinic_admin, front_desk, patient_b, django_assert_max_num_queries
):
    # Given 51 looks at patient B by the front desk, a minute apart, all before now
    now = timezone.now()
    seeded = AccessEvent.objects.bulk_create(
        AccessEvent(
            at=now - datetime.timedelta(hours=1, minutes=n),
            patient_id=patient_b.pk,
            user=front_desk,
            role="front_desk",
            view="patients:detail",
            record_id=patient_b.pk,
            method="GET",
        )
        for n in range(51)
    )
    client.force_login(clinic_admin)
    url = reverse("audit:patient", args=[patient_b.pk])

    # When the admin opens the trail (the look it records is the newest), then its 2nd page
    # session, user, patient, count, page (users joined), changes, the sliding expiry (3),
    # the audit trail's one INSERT
    with django_assert_max_num_queries(10):
        first = client.get(url)
    second = client.get(url, {"page": 2})

    # Then the first page holds the 50 newest looks of the 51, the second the rest: each
    # look reachable, newest first
    assert first.context["page_obj"].paginator.count == 51
    listed = [event.pk for _, _, _, event in first.context["accesses"]]
    assert listed == [event.pk for event in seeded[:50]]
    assert 'rel="next"' in first.content.decode()
    assert [event.pk for _, _, _, event in second.context["accesses"]] == [
        seeded[49].pk,
        seeded[50].pk,
    ]
