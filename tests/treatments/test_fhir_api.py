"""The FHIR R4 API under /fhir/R4/: who may read what, search and paging, errors as
OperationOutcome, and an audit row for every call. Bundles and OperationOutcomes are validated
with fhir.resources' R4B models (a dev dependency)."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from audit.models import AccessEvent
from clinic.models import Location, User
from tests.conftest import make_patient, make_user
from treatments.fhir.mappers import RESOURCE_TYPES
from treatments.models import ApiClient
from treatments.services.api_clients import create_api_client, revoke_api_client

ALL_TYPES = sorted(RESOURCE_TYPES)
CLINICAL_TYPES = sorted(name for name, t in RESOURCE_TYPES.items() if t.clinical)


def needs_type(name: str):
    return pytest.mark.skipif(name not in RESOURCE_TYPES, reason=f"{name} is not mapped yet")


@pytest.fixture
def api_client_and_token(clinic_admin):
    return create_api_client(
        name="Hospital EHR", scopes=ALL_TYPES, location=None, created_by=clinic_admin
    )


@pytest.fixture
def token(api_client_and_token):
    return api_client_and_token[1]


def get(client: Client, url: str, token: str | None = None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(url, params, headers=headers)


def outcome(response, status: int, code: str) -> OperationOutcome:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    parsed = OperationOutcome.model_validate(body)
    assert parsed.issue[0].code == code
    assert parsed.issue[0].severity == "error"
    return parsed


def bundle(response) -> dict:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    return body


def ids(body: dict, mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in body["entry"] if e["search"]["mode"] == mode]


def next_link(body: dict) -> str | None:
    for item in body["link"]:
        if item["relation"] == "next":
            parts = urlsplit(item["url"])
            return f"{parts.path}?{parts.query}"
    return None


# --- metadata -------------------------------------------------------------------------------------


def test_the_capability_statement_is_public_valid_and_lists_every_type(client, db):
    response = client.get("/fhir/R4/metadata")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    statement = CapabilityStatement.model_validate(response.json())
    assert statement.fhirVersion == "4.0.1"
    listed = {r.type for r in statement.rest[0].resource}
    assert listed == set(RESOURCE_TYPES)
    event = AccessEvent.objects.get()
    assert (event.view, event.patient_id, event.status) == ("fhir:metadata", None, 200)


def test_metadata_with_a_bad_token_is_401(client, db):
    outcome(get(client, "/fhir/R4/metadata", "cad_nope"), 401, "login")


# --- tokens ---------------------------------------------------------------------------------------


def test_a_token_lists_patients_and_each_patient_shown_gets_an_audit_row(
    client, personas, patient_a, patient_b, api_client_and_token
):
    api_client, token = api_client_and_token
    response = get(client, "/fhir/R4/Patient", token)
    body = bundle(response)
    assert ids(body) == [str(patient_a.pk), str(patient_b.pk)]
    events = AccessEvent.objects.order_by("patient_id")
    assert [e.patient_id for e in events] == [patient_a.pk, patient_b.pk]
    for event, patient in zip(events, (patient_a, patient_b), strict=True):
        assert event.api_client_id == api_client.pk
        assert event.user_id is None
        assert event.resource_type == "Patient"
        assert event.resource_ids == [f"Patient/{patient.pk}"]
        assert event.status == 200
        assert event.address == "127.0.0.1"
    api_client.refresh_from_db()
    assert api_client.last_used_at is not None


def test_the_token_is_stored_only_as_its_sha256(api_client_and_token):
    import hashlib

    api_client, token = api_client_and_token
    stored = ApiClient.objects.get()
    assert token not in str(stored.__dict__)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert ApiClient.objects.by_token(token) == api_client
    assert ApiClient.objects.by_token(token + "x") is None
    assert ApiClient.objects.by_token("") is None


def test_a_token_lookup_is_one_query(django_assert_num_queries, api_client_and_token):
    _, token = api_client_and_token
    with django_assert_num_queries(1):
        assert ApiClient.objects.by_token(token) is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer cad_unknown", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000, "cad_x"],
)
def test_an_unknown_or_malformed_token_is_401_and_audited(client, db, header):
    response = client.get("/fhir/R4/Patient", headers={"Authorization": header})
    outcome(response, 401, "login")
    assert response["WWW-Authenticate"].startswith("Bearer")
    event = AccessEvent.objects.get()
    assert (event.status, event.patient_id, event.api_client_id) == (401, None, None)


def test_a_revoked_token_is_401_at_once(client, personas, clinic_admin, api_client_and_token):
    api_client, token = api_client_and_token
    assert get(client, "/fhir/R4/Patient", token).status_code == 200
    assert revoke_api_client(client=api_client, revoked_by=clinic_admin)
    assert not revoke_api_client(client=api_client, revoked_by=clinic_admin)  # once
    outcome(get(client, "/fhir/R4/Patient", token), 401, "login")
    outcome(get(client, "/fhir/R4/metadata", token), 401, "login")


def test_a_type_outside_the_clients_scopes_is_403(client, personas, clinic_admin, patient_a):
    _, token = create_api_client(
        name="Registry", scopes=["Location"], location=None, created_by=clinic_admin
    )
    outcome(get(client, "/fhir/R4/Patient", token), 403, "forbidden")
    outcome(get(client, f"/fhir/R4/Patient/{patient_a.pk}", token), 403, "forbidden")
    assert get(client, "/fhir/R4/Location", token).status_code == 200
    assert AccessEvent.objects.filter(status=403).count() == 2


def test_a_client_limited_to_a_location_sees_nothing_of_another_location(
    client, personas, clinic_admin, patient_a, location
):
    elsewhere = Location.objects.create(
        name="Harbour Clinic", address="1 Quay St", phone="+441174960100",
        time_zone="Europe/London",
    )  # fmt: skip
    there = make_patient(30, location=elsewhere)
    _, token = create_api_client(
        name="Riverside only", scopes=ALL_TYPES, location=location, created_by=clinic_admin
    )
    outcome(get(client, f"/fhir/R4/Patient/{there.pk}", token), 404, "not-found")
    body = bundle(get(client, "/fhir/R4/Patient", token))
    assert str(there.pk) not in ids(body)
    assert str(patient_a.pk) in ids(body)
    assert not AccessEvent.objects.filter(patient_id=there.pk).exists()


def test_a_missing_resource_is_a_404_operation_outcome(client, personas, token):
    outcome(get(client, "/fhir/R4/Patient/999999", token), 404, "not-found")
    outcome(get(client, "/fhir/R4/Patient/not-an-id!", token), 404, "not-found")
    outcome(get(client, "/fhir/R4/Spaceship", token), 404, "not-supported")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_is_read_only(client, personas, token, method):
    response = getattr(client, method)(
        "/fhir/R4/Patient", headers={"Authorization": f"Bearer {token}"}
    )
    outcome(response, 405, "not-supported")
    assert response["Allow"] == "GET, HEAD"


# --- sessions -------------------------------------------------------------------------------------


def test_a_patient_reads_only_themself(client, personas, patient_a, patient_b):
    client.force_login(patient_a.user)
    body = bundle(client.get("/fhir/R4/Patient"))
    assert ids(body) == [str(patient_a.pk)]
    assert client.get(f"/fhir/R4/Patient/{patient_a.pk}").status_code == 200
    outcome(client.get(f"/fhir/R4/Patient/{patient_b.pk}"), 404, "not-found")
    assert client.get("/fhir/R4/Location").status_code == 200
    assert client.get("/fhir/R4/Practitioner").status_code == 200
    assert not AccessEvent.objects.filter(patient_id=patient_b.pk).exists()
    assert set(AccessEvent.objects.values_list("user_id", flat=True)) == {patient_a.user_id}


def test_staff_read_everything_front_desk_no_clinical_type(client, personas, front_desk):
    client.force_login(front_desk)
    assert client.get("/fhir/R4/Patient").status_code == 200
    for name in CLINICAL_TYPES:
        outcome(client.get(f"/fhir/R4/{name}"), 403, "forbidden")
    client.force_login(personas["clinician"])
    for name in ALL_TYPES:
        assert client.get(f"/fhir/R4/{name}").status_code == 200, name


@pytest.mark.password_only
def test_a_staff_session_without_the_second_factor_is_401_not_a_redirect(client, clinician):
    client.force_login(clinician)
    outcome(client.get("/fhir/R4/Patient"), 401, "login")


def test_anonymous_is_401_not_a_login_redirect(client, db):
    outcome(client.get("/fhir/R4/Patient"), 401, "login")


def test_a_token_wins_over_the_session(client, personas, clinic_admin, patient_a):
    _, token = create_api_client(
        name="Locations", scopes=["Location"], location=None, created_by=clinic_admin
    )
    client.force_login(personas["clinician"])
    outcome(get(client, "/fhir/R4/Patient", token), 403, "forbidden")


# --- search and paging ----------------------------------------------------------------------------


def test_next_links_walk_every_row_once_and_previous_goes_back(client, personas, token):
    for number in range(10, 17):
        make_patient(number)
    from patients.models import Patient

    expected = [str(pk) for pk in Patient.objects.order_by("pk").values_list("pk", flat=True)]
    seen: list[str] = []
    url: str | None = "/fhir/R4/Patient?_count=3&_total=accurate"
    pages = []
    while url:
        body = bundle(get(client, url, token))
        assert body["total"] == len(expected)
        assert len(ids(body)) <= 3
        seen += ids(body)
        pages.append(body)
        url = next_link(body)
    assert seen == expected
    assert len(pages) == 3
    assert not any(link["relation"] == "previous" for link in pages[0]["link"])
    back = next(link["url"] for link in pages[1]["link"] if link["relation"] == "previous")
    parts = urlsplit(back)
    assert ids(bundle(get(client, f"{parts.path}?{parts.query}", token))) == ids(pages[0])


@pytest.mark.parametrize("size", [3, 30])
def test_a_page_costs_the_same_queries_whatever_the_rows(
    client, personas, token, size, django_assert_max_num_queries
):
    for number in range(10, 10 + size):
        make_patient(number)
    # token (1) + last used (1) + rows (1) + audit insert (1) + the mapper's own (a few)
    with django_assert_max_num_queries(8):
        body = bundle(get(client, "/fhir/R4/Patient?_count=500", token))
    assert len(ids(body)) == size + 2


def test_count_zero_gives_an_empty_page_and_no_next(client, personas, token):
    body = bundle(get(client, "/fhir/R4/Patient?_count=0", token))
    assert ids(body) == []
    assert next_link(body) is None


HOSTILE = [
    "_count=-1",
    "_count=501",
    "_count=abc",
    "_count=%C2%B2",
    "_count=9",
    "_count=99999999999999999999999",
    "_page=garbage",
    "_page=" + "A" * 5000,
    "_total=maybe",
    "_format=xml",
    "_sort=name",
    "birthdate=1980-01-01",
    "patient=Patient/1",  # Patient has no `patient` parameter
    "_count=1&_count=2",
    "_include=Patient:general-practitioner",
    "%00=1",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_parameters_are_a_400_operation_outcome(client, personas, token, query):
    response = client.get(f"/fhir/R4/Patient?{query}", headers={"Authorization": f"Bearer {token}"})
    if query == "_count=9":
        assert response.status_code == 200
        return
    assert response.status_code == 400, query
    if response["Content-Type"] == "application/fhir+json":
        outcome(response, 400, "invalid")


def test_a_read_takes_no_search_parameters(client, personas, token, patient_a):
    outcome(get(client, f"/fhir/R4/Patient/{patient_a.pk}", token, foo="1"), 400, "invalid")


@needs_type("Appointment")
class TestAppointments:
    @pytest.fixture
    def visits(self, booked_appointment, patient_a, schedule, clinician, front_desk):
        from tests.conftest import local, visit_day
        from treatments.services import book_appointment

        other = book_appointment(
            patient=patient_a,
            clinician=clinician,
            location=schedule,
            starts_at=local(visit_day() + datetime.timedelta(days=1), 11),
            booked_by=front_desk,
        )
        return booked_appointment, other

    def test_patient_date_and_status_narrow_the_search(self, client, personas, token, visits):
        first, second = visits
        body = bundle(get(client, "/fhir/R4/Appointment", token, patient=first.patient_id))
        assert ids(body) == [str(first.pk)]
        body = bundle(
            get(client, "/fhir/R4/Appointment", token, patient=f"Patient/{second.patient_id}")
        )
        assert ids(body) == [str(second.pk)]
        day = first.starts_at.astimezone(datetime.UTC).date()
        for query, expected in [
            ({"date": day.isoformat()}, [first]),
            ({"date": f"eq{day.isoformat()}"}, [first]),
            ({"date": f"gt{day.isoformat()}"}, [second]),
            ({"date": f"ge{day.isoformat()}"}, [first, second]),
            ({"date": f"le{day.isoformat()}"}, [first]),
            ({"date": f"lt{day.isoformat()}"}, []),
            ({"date": [f"ge{day.isoformat()}", f"le{day.isoformat()}"]}, [first]),
            ({"date": "ge" + first.starts_at.isoformat()}, [first, second]),
            ({"date": "gt" + first.starts_at.isoformat()}, [second]),
            ({"date": "le" + first.starts_at.isoformat()}, [first]),
            ({"date": "lt" + second.starts_at.isoformat().replace("+00:00", "Z")}, [first]),
            ({"status": "booked"}, [first, second]),
            ({"status": "cancelled"}, []),
            ({"status": "cancelled,booked"}, [first, second]),
        ]:
            body = bundle(client.get("/fhir/R4/Appointment", query, headers=auth(token)))
            assert ids(body) == [str(v.pk) for v in expected], query

    @pytest.mark.parametrize(
        "query",
        ["date=2026-13-01", "date=ap2026-01-01", "date=ge", "date=2026-01-01T10:00:00",
         "date=99999-01-01", "status=bogus", "patient=abc", "patient=Practitioner/1",
         "date=" + "9" * 400, "_include=Appointment:practitioner"],
    )  # fmt: skip
    def test_hostile_appointment_parameters_are_400(self, client, personas, token, query):
        response = client.get(f"/fhir/R4/Appointment?{query}", headers=auth(token))
        outcome(response, 400, "invalid")

    def test_include_adds_each_patient_once(self, client, personas, token, visits):
        first, second = visits
        body = bundle(get(client, "/fhir/R4/Appointment", token, _include="Appointment:patient"))
        assert sorted(ids(body, "include")) == sorted(
            {str(first.patient_id), str(second.patient_id)}
        )
        events = AccessEvent.objects.filter(patient_id=first.patient_id).get()
        assert f"Patient/{first.patient_id}" in events.resource_ids
        assert f"Appointment/{first.pk}" in events.resource_ids

    def test_a_patient_sees_only_their_appointments(self, client, personas, visits, patient_a):
        first, second = visits
        client.force_login(patient_a.user)
        body = bundle(client.get("/fhir/R4/Appointment", {"_include": "Appointment:patient"}))
        assert ids(body) == [str(second.pk)]
        assert ids(body, "include") == [str(patient_a.pk)]
        outcome(client.get(f"/fhir/R4/Appointment/{first.pk}"), 404, "not-found")
        body = bundle(client.get("/fhir/R4/Appointment", {"patient": first.patient_id}))
        assert ids(body) == []


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@needs_type("Procedure")
def test_a_client_lists_a_patients_procedures(client, personas, token, signed_session):
    body = bundle(get(client, "/fhir/R4/Procedure", token, patient=signed_session.patient_id))
    assert len(ids(body)) == 1
    event = AccessEvent.objects.get(resource_type="Procedure")
    assert event.patient_id == signed_session.patient_id


def test_every_call_leaves_a_row_even_when_refused(client, personas, token, patient_b):
    calls = [
        ("/fhir/R4/metadata", None),
        ("/fhir/R4/Patient", token),
        (f"/fhir/R4/Patient/{patient_b.pk}", token),
        ("/fhir/R4/Patient/0", token),
        ("/fhir/R4/Patient?_count=x", token),
        ("/fhir/R4/Patient", "cad_wrong"),
        ("/fhir/R4/Location", token),
    ]
    before = timezone.now()
    for url, key in calls:
        count = AccessEvent.objects.count()
        get(client, url, key)
        assert AccessEvent.objects.count() > count, url
    assert AccessEvent.objects.filter(at__gte=before).count() >= len(calls)
    read = AccessEvent.objects.get(view="fhir:read", status=200)
    assert (read.patient_id, read.record_id) == (patient_b.pk, patient_b.pk)


def test_a_deactivated_user_session_is_401(client, personas, clinician):
    client.force_login(clinician)
    User.objects.filter(pk=clinician.pk).update(is_active=False)
    assert client.get("/fhir/R4/Patient").status_code in (401, 302)


def test_a_second_client_is_its_own(personas, clinic_admin):
    other = make_user("other-admin", User.Role.CLINIC_ADMIN)
    first, first_token = create_api_client(
        name="A", scopes=["Patient"], location=None, created_by=clinic_admin
    )
    second, second_token = create_api_client(
        name="B", scopes=["Patient"], location=None, created_by=other
    )
    assert first_token != second_token
    assert ApiClient.objects.by_token(second_token) == second


def test_the_trail_names_the_api_client_for_the_admin_and_the_patient(
    client, personas, patient_a, api_client_and_token, clinic_admin
):
    _, token = api_client_and_token
    get(client, f"/fhir/R4/Patient/{patient_a.pk}", token)
    client.force_login(clinic_admin)
    page = client.get(f"/audit/patients/{patient_a.pk}/").content.decode()
    assert "API client: Hospital EHR" in page
    assert "FHIR API read: Patient" in page
    export = client.get(f"/audit/patients/{patient_a.pk}/export.csv").content.decode()
    assert "API client: Hospital EHR" in export
    client.force_login(patient_a.user)
    mine = client.get("/audit/mine/").content.decode()
    assert "Another system (Hospital EHR)" in mine


# --- every type ----------------------------------------------------------------------------------


def give_histories(*numbers: int) -> list:
    """A patient with one of everything (a signed session from two lots with an adverse event,
    a visit, a diary, both questionnaires) per number, each at a location of their own."""
    from patients.models import Patient
    from tests.treatments.test_fhir_mappers import give_history

    for number in numbers:
        give_history(number)
    return [Patient.objects.get(mrn=f"MRN-{number:04d}") for number in numbers]


def by_patient(body: dict) -> dict[int, list[tuple[str, str]]]:
    from treatments.fhir.views import patient_refs

    found: dict[int, list[tuple[str, str]]] = {}
    for item in body["entry"]:
        resource = item["resource"]
        for patient_id in patient_refs(resource):
            found.setdefault(patient_id, []).append((resource["resourceType"], resource["id"]))
    return found


def test_every_type_searches_and_reads_as_valid_r4b(client, db, token):
    from tests.treatments.test_fhir_mappers import r4b_model

    give_histories(41, 42)
    for name in ALL_TYPES:
        body = bundle(get(client, f"/fhir/R4/{name}", token))
        assert ids(body), f"no {name}"
        for item in body["entry"]:
            resource = item["resource"]
            assert item["fullUrl"].endswith(f"/fhir/R4/{name}/{resource['id']}")
            response = get(client, f"/fhir/R4/{name}/{resource['id']}", token)
            assert response.status_code == 200, (name, resource["id"])
            assert response["Content-Type"] == "application/fhir+json"
            read = r4b_model(name).model_validate(response.json())
            assert read.id == resource["id"]


def test_another_locations_resources_are_404_for_a_limited_client(client, clinic_admin, token):
    ours, theirs = give_histories(41, 42)
    _, limited = create_api_client(
        name="Clinic 41 only", scopes=ALL_TYPES, location=ours.location, created_by=clinic_admin
    )
    for name in ALL_TYPES:
        everything = by_patient(bundle(get(client, f"/fhir/R4/{name}", token)))
        seen = by_patient(bundle(get(client, f"/fhir/R4/{name}", limited)))
        assert theirs.pk not in seen, name
        for type_name, resource_id in everything.get(theirs.pk, []):
            response = get(client, f"/fhir/R4/{type_name}/{resource_id}", limited)
            outcome(response, 404, "not-found")
        for type_name, resource_id in everything.get(ours.pk, []):
            assert get(client, f"/fhir/R4/{type_name}/{resource_id}", limited).status_code == 200
    outcome(get(client, f"/fhir/R4/Location/{theirs.location_id}", limited), 404, "not-found")
    assert get(client, f"/fhir/R4/Location/{ours.location_id}", limited).status_code == 200
    assert not AccessEvent.objects.filter(patient_id=theirs.pk, status=200).exclude(
        api_client_id=ApiClient.objects.get(name="Hospital EHR").pk
    )


def test_another_patients_resources_are_404_for_a_patient(client, db, token):
    from patients.models import Patient

    mine, theirs = give_histories(41, 42)
    user = make_user("patient41", User.Role.PATIENT)
    Patient.objects.filter(pk=mine.pk).update(user=user)
    client.force_login(user)
    for name in ALL_TYPES:
        everything = by_patient(bundle(get(client, f"/fhir/R4/{name}", token)))
        seen = by_patient(bundle(client.get(f"/fhir/R4/{name}")))
        assert set(seen) <= {mine.pk}, name
        for type_name, resource_id in everything.get(theirs.pk, []):
            outcome(client.get(f"/fhir/R4/{type_name}/{resource_id}"), 404, "not-found")
        for type_name, resource_id in everything.get(mine.pk, []):
            assert client.get(f"/fhir/R4/{type_name}/{resource_id}").status_code == 200
    assert not AccessEvent.objects.filter(patient_id=theirs.pk, user=user).exists()


def test_each_types_page_costs_the_same_queries_at_two_sizes(client, db, token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> dict[str, int]:
        counts = {}
        for name in ALL_TYPES:
            # every call then writes last_used_at (else only the first in a minute does)
            ApiClient.objects.update(last_used_at=None)
            with CaptureQueriesContext(connection) as captured:
                bundle(get(client, f"/fhir/R4/{name}?_count=500", token))
            counts[name] = len(captured)
        return counts

    give_histories(41)
    small = queries()
    give_histories(42, 43, 44, 45)
    large = queries()
    assert small == large
    assert max(large.values()) <= 12, large


def test_observation_windows_are_searched_by_their_period(client, db, token):
    (patient,) = give_histories(41)
    every = bundle(get(client, "/fhir/R4/Observation", token))
    periods = {
        e["resource"]["id"]: (
            e["resource"]["effectivePeriod"]["start"],
            e["resource"]["effectivePeriod"]["end"],
        )
        for e in every["entry"]
    }
    assert periods
    start, end = min(periods.values())
    inside = bundle(get(client, "/fhir/R4/Observation", token, date=[f"ge{start}", f"le{end}"]))
    assert ids(inside)
    assert set(ids(inside)) <= set(periods)
    assert ids(bundle(get(client, "/fhir/R4/Observation", token, date="lt1990-01-01"))) == []
    assert ids(bundle(get(client, "/fhir/R4/Observation", token, date=f"ge{start}"))) == ids(every)
    outcome(get(client, "/fhir/R4/Observation", token, date="ge2026-02-30"), 400, "invalid")


def test_head_answers_like_get_and_is_audited(client, personas, token, patient_a):
    response = client.head(f"/fhir/R4/Patient/{patient_a.pk}", headers=auth(token))
    assert response.status_code == 200
    event = AccessEvent.objects.get()
    assert (event.method, event.patient_id) == ("HEAD", patient_a.pk)


def test_a_session_post_is_a_405_operation_outcome_not_a_csrf_page(client, personas):
    from django.test import Client as DjangoClient

    strict = DjangoClient(enforce_csrf_checks=True)
    strict.force_login(personas["clinician"])
    outcome(strict.post("/fhir/R4/Patient", {"name": "x"}), 405, "not-supported")
