"""Medication overuse from the diary (issue 18; ICHD-3 8.2): the thresholds at their edges, three
windows against two, mixed classes, and the flag on the chart and the clinician's due list."""

import datetime

import pytest
from django.urls import reverse

from patients import outcomes
from patients.models import DiaryEntry, medication_overuse_of
from tests.conftest import clinic_today, make_patient
from treatments.models import TreatmentCourse

DAY = datetime.timedelta(days=1)
START = datetime.date(2026, 1, 5)  # a fixed history: the pure functions read no clock


class Day:
    def __init__(self, date, medicine):
        self.date, self.acute_medication = date, medicine
        self.headache = medicine != "none"
        self.severity = 2 if self.headache else 0
        self.migraine = False


def window_days(start: datetime.date, **taken: int) -> list[Day]:
    """28 diary days from `start`: so many days of each class (in order), none on the rest."""
    medicines = [medicine for medicine, count in taken.items() for _ in range(count)]
    medicines += ["none"] * (outcomes.WINDOW_DAYS - len(medicines))
    return [Day(start + n * DAY, medicine) for n, medicine in enumerate(medicines)]


def flag_for(windows: int = 3, **taken: int):
    """The flag after `windows` consecutive windows each with `taken`, judged on the day the
    last one ends."""
    entries = []
    for n in range(windows):
        entries += window_days(START + n * outcomes.WINDOW_DAYS * DAY, **taken)
    today = START + (windows * outcomes.WINDOW_DAYS - 1) * DAY
    return outcomes.overuse_windows(entries, today)


@pytest.mark.parametrize(
    ("taken", "overuse"),
    [
        ({"triptan": 9}, False),
        ({"triptan": 10}, True),
        ({"ergot": 10}, True),
        ({"opioid": 10}, True),
        ({"combination_analgesic": 10}, True),
        ({"simple_analgesic": 14}, False),
        ({"simple_analgesic": 15}, True),
        ({"nsaid": 14}, False),
        ({"nsaid": 15}, True),
        # a mix of the 10-day classes counts together
        ({"triptan": 5, "opioid": 3, "ergot": 2}, True),
        ({"triptan": 5, "opioid": 4}, False),
        # simple analgesics and NSAIDs are one class (8.2.3): 15 days
        ({"simple_analgesic": 7, "nsaid": 7}, False),
        ({"simple_analgesic": 8, "nsaid": 7}, True),
        # both groups: a total of 10 days (8.2.6)
        ({"triptan": 9, "nsaid": 1}, True),
        ({"triptan": 1, "simple_analgesic": 9}, True),
        ({"triptan": 1, "simple_analgesic": 8}, False),
        # gepants and "other" do not count
        ({"gepant": 20}, False),
        ({"other": 20}, False),
        ({"triptan": 9, "gepant": 10}, False),
    ],
)
def test_the_overuse_threshold_at_its_edges(taken, overuse):
    assert (flag_for(**taken) is not None) is overuse


def test_two_windows_over_the_threshold_are_not_overuse_three_are():
    assert flag_for(windows=2, triptan=12) is None
    flag = flag_for(windows=3, triptan=12)
    assert flag.rule == "MOH"
    assert "12 + 0" in flag.message


def test_a_window_under_the_threshold_between_two_over_breaks_the_run():
    entries = (
        window_days(START, triptan=10)
        + window_days(START + 28 * DAY, triptan=9)
        + window_days(START + 56 * DAY, triptan=10)
    )
    assert outcomes.overuse_windows(entries, START + 83 * DAY) is None


def test_a_window_with_few_entries_still_counts_its_days():
    # 12 triptan days, and nothing else entered: too few entries for R14-R16, yet overuse
    entries = []
    for n in range(3):
        start = START + n * 28 * DAY
        entries += [Day(start + k * DAY, "triptan") for k in range(12)]
    assert outcomes.overuse_windows(entries, START + 83 * DAY) is not None


# --- the chart and the due list ----------------------------------------------------------------


def overusing(patient, *, medicine="triptan", days=10, windows=3):
    """`days` days of `medicine` in each of the last `windows` windows to the clinic's today."""
    today = clinic_today()
    rows = []
    for n in range(windows):
        end = today - n * 28 * DAY
        rows += [
            DiaryEntry(
                patient=patient,
                date=end - k * DAY,
                headache=True,
                hours=3,
                severity=2,
                acute_medication=medicine,
            )
            for k in range(days)
        ]
    DiaryEntry.objects.bulk_create(rows)


def test_the_chart_flags_medication_overuse(client, clinician, patient_a):
    overusing(patient_a, medicine="combination_analgesic")
    client.force_login(clinician)
    page = client.get(reverse("treatments:chart", args=[patient_a.pk])).content.decode()
    assert 'id="overuse-flag"' in page
    assert "Medication overuse in each of the last 3 windows" in page


def test_the_chart_does_not_flag_two_windows(client, clinician, patient_a):
    overusing(patient_a, windows=2)
    client.force_login(clinician)
    page = client.get(reverse("treatments:chart", args=[patient_a.pk])).content.decode()
    assert 'id="overuse-flag"' not in page


def test_the_bulk_flags_match_the_patients_own_windows(patient_a, patient_b):
    overusing(patient_a, days=10)
    overusing(patient_b, days=9)
    flags = medication_overuse_of({patient_a.pk: clinic_today(), patient_b.pk: clinic_today()})
    assert set(flags) == {patient_a.pk}


def due_patient(number, location):
    patient = make_patient(number, location=location)
    last = clinic_today() - 90 * DAY
    TreatmentCourse.objects.create(patient=patient, started_on=last, last_session_on=last)
    return patient


def test_the_due_list_flags_overuse_to_clinicians_only(client, clinician, front_desk, location):
    flagged, plain = due_patient(21, location), due_patient(22, location)
    overusing(flagged)
    overusing(plain, days=9)
    client.force_login(clinician)
    page = client.get(reverse("treatments:due_list")).content.decode()
    assert page.count("data-overuse") == 1
    row = page[page.index(f'data-patient="{flagged.pk}"') :]
    assert "Medication overuse" in row[: row.index("</tr>")]

    client.force_login(front_desk)  # front desk sees no medication
    page = client.get(reverse("treatments:due_list")).content.decode()
    assert f'data-patient="{flagged.pk}"' in page
    assert "Medication overuse" not in page


@pytest.mark.parametrize("rows", [3, 30])
def test_the_clinicians_due_list_keeps_a_constant_query_count(
    client, clinician, location, rows, django_assert_max_num_queries
):
    for n in range(rows):
        overusing(due_patient(30 + n, location))
    client.force_login(clinician)
    # the front desk's pinned count (tests/treatments/test_due_list.py, 14) and one query of
    # the page's diary days for the overuse flag
    with django_assert_max_num_queries(15):
        response = client.get(reverse("treatments:due_list"))
    shown = len(response.context["entries"])
    assert shown == rows
    assert response.content.decode().count("data-overuse") == shown
