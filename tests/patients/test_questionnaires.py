import datetime

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from patients import outcomes
from patients.models import DiaryEntry, QuestionnaireResponse
from patients.outcomes import (
    InvalidAnswers,
    diary_summary,
    meaningful_hit6_change,
    response_flags,
    score_hit6,
    score_midas,
)
from patients.services import record_questionnaire
from tests.conftest import local

# --- MIDAS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total", "grade"),
    [
        ([0, 0, 0, 0, 0], 0, "I"),
        ([5, 0, 0, 0, 0], 5, "I"),
        ([5, 1, 0, 0, 0], 6, "II"),
        ([2, 2, 2, 2, 2], 10, "II"),
        ([2, 2, 2, 2, 3], 11, "III"),
        ([4, 4, 4, 4, 4], 20, "III"),
        ([4, 4, 4, 4, 5], 21, "IV"),
        ([92, 92, 92, 92, 92], 460, "IV"),
    ],
)
def test_midas_is_the_sum_of_days_graded_at_each_edge(answers, total, grade):
    assert score_midas(answers) == (total, grade)


@pytest.mark.parametrize(
    "answers",
    [
        [0, 0, 0, 0],  # too few
        [0, 0, 0, 0, 0, 0],  # too many
        [93, 0, 0, 0, 0],  # more days than 3 months hold
        [-1, 0, 0, 0, 0],
        ["3", 0, 0, 0, 0],
        [1.5, 0, 0, 0, 0],
        [True, 0, 0, 0, 0],
    ],
)
def test_midas_refuses_invalid_answers(answers):
    with pytest.raises(InvalidAnswers):
        score_midas(answers)


def test_midas_grades_have_labels():
    assert outcomes.band_label("midas", "III") == "grade III, moderate disability"


# --- HIT-6 ---------------------------------------------------------------------------------

NEVER, RARELY, SOMETIMES, VERY_OFTEN, ALWAYS = 6, 8, 10, 11, 13


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([NEVER] * 6, 36, "little"),
        ([NEVER, NEVER, RARELY, RARELY, SOMETIMES, VERY_OFTEN], 49, "little"),
        ([NEVER, NEVER, RARELY, SOMETIMES, SOMETIMES, SOMETIMES], 50, "some"),
        ([NEVER, RARELY, SOMETIMES, SOMETIMES, SOMETIMES, VERY_OFTEN], 55, "some"),
        ([NEVER, RARELY, SOMETIMES, SOMETIMES, VERY_OFTEN, VERY_OFTEN], 56, "substantial"),
        ([RARELY, RARELY, SOMETIMES, VERY_OFTEN, VERY_OFTEN, VERY_OFTEN], 59, "substantial"),
        ([SOMETIMES] * 6, 60, "severe"),
        ([ALWAYS] * 6, 78, "severe"),
    ],
)
def test_hit6_scores_every_band_edge(answers, total, band):
    assert score_hit6(answers) == (total, band)


def test_hit6_accepts_answer_names():
    answers = ["never", "rarely", "sometimes", "very_often", "always", "always"]
    assert score_hit6(answers) == (61, "severe")


@pytest.mark.parametrize(
    "answers",
    [
        [NEVER] * 5,
        [NEVER] * 7,
        [7, 6, 6, 6, 6, 6],  # not a HIT-6 point value
        ["often", 6, 6, 6, 6, 6],
        [True, 6, 6, 6, 6, 6],
    ],
)
def test_hit6_refuses_invalid_answers(answers):
    with pytest.raises(InvalidAnswers):
        score_hit6(answers)


@pytest.mark.parametrize(
    ("before", "after", "meaningful"),
    [(64, 60, False), (64, 59, True), (55, 60, True), (50, 50, False)],
)
def test_a_hit6_change_of_5_points_is_meaningful(before, after, meaningful):
    assert meaningful_hit6_change(before, after) is meaningful


# --- the service and the database ----------------------------------------------------------


def test_recording_hit6_stores_points_total_and_band(patient_a):
    response = record_questionnaire(
        patient=patient_a,
        kind="hit6",
        answers=["always"] * 6,
        answered_on=datetime.date(2026, 5, 1),
    )
    response.refresh_from_db()
    assert (response.answers, response.total, response.band) == ([13] * 6, 78, "severe")


def test_recording_invalid_midas_writes_nothing(patient_a):
    with pytest.raises(InvalidAnswers):
        record_questionnaire(
            patient=patient_a, kind="midas", answers=[100, 0, 0, 0, 0], answered_on=None
        )
    assert not QuestionnaireResponse.objects.exists()


@pytest.mark.parametrize(
    ("kind", "total"), [("phq9", 10), ("hit6", 35), ("hit6", 79), ("midas", 461)]
)
def test_the_database_refuses_an_impossible_response(patient_a, kind, total):
    with pytest.raises(IntegrityError), transaction.atomic():
        QuestionnaireResponse.objects.create(
            patient=patient_a,
            kind=kind,
            answers=[],
            total=total,
            band="x",
            answered_on=datetime.date(2026, 5, 1),
        )


# --- the portal pages ----------------------------------------------------------------------


@pytest.fixture
def patient_client(client, patient_a):
    client.force_login(patient_a.user)
    return client


def test_a_patient_fills_in_midas_and_sees_the_grade(patient_client, patient_a):
    data = {"item1": 3, "item2": 4, "item3": 2, "item4": 2, "item5": 3}

    response = patient_client.post(reverse("portal:midas"), data, follow=True)

    saved = QuestionnaireResponse.objects.get(patient=patient_a)
    assert (saved.kind, saved.answers, saved.total, saved.band) == (
        "midas",
        [3, 4, 2, 2, 3],
        14,
        "III",
    )
    assert saved.answered_on == patient_a.local_today()
    html = response.content.decode()
    assert "Your MIDAS score is 14: grade III, moderate disability." in html


def test_the_midas_form_shows_the_instruments_items(patient_client):
    html = patient_client.get(reverse("portal:midas")).content.decode()
    assert "did you miss work or school because of your headaches?" in html
    assert "miss family, social or leisure activities" in html


def test_midas_refuses_more_than_92_days(patient_client):
    data = {"item1": 93, "item2": 0, "item3": 0, "item4": 0, "item5": 0}
    response = patient_client.post(reverse("portal:midas"), data)
    assert response.context["form"].errors["item1"]
    assert not QuestionnaireResponse.objects.exists()


def test_a_patient_fills_in_hit6_and_sees_the_band(patient_client, patient_a):
    data = {f"item{n}": "sometimes" for n in range(1, 7)}

    response = patient_client.post(reverse("portal:hit6"), data, follow=True)

    saved = QuestionnaireResponse.objects.get(patient=patient_a)
    assert (saved.total, saved.band) == (60, "severe")
    assert "Your HIT-6 score is 60: severe impact." in response.content.decode()


def test_hit6_needs_every_item_answered(patient_client):
    data = {f"item{n}": "never" for n in range(1, 6)}
    response = patient_client.post(reverse("portal:hit6"), data)
    assert response.context["form"].errors["item6"]
    assert not QuestionnaireResponse.objects.exists()


def test_the_list_shows_only_the_patients_own_scores(patient_client, patient_a, patient_b):
    day = datetime.date(2026, 5, 1)
    record_questionnaire(patient=patient_a, kind="midas", answers=[1] * 5, answered_on=day)
    record_questionnaire(patient=patient_b, kind="midas", answers=[40] * 5, answered_on=day)

    response = patient_client.get(reverse("portal:questionnaires"))

    assert [r.patient_id for r in response.context["responses"]] == [patient_a.pk]
    assert "little or no disability" in response.content.decode()
    assert "200" not in response.content.decode().split('id="responses"')[1]


# --- due before a visit --------------------------------------------------------------------


def visit_in(days: int, patient, clinician, location, front_desk, status="booked"):
    from treatments.models import Appointment

    today = patient.local_today()
    starts = local(today + datetime.timedelta(days=days), 10)
    return Appointment.objects.create(
        patient=patient,
        location=location,
        clinician=clinician,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
        status=status,
        booked_by=front_desk,
        cancel_reason="moved" if status == "cancelled" else "",
    )


def test_both_questionnaires_are_due_within_14_days_of_a_visit(
    patient_a, clinician, location, front_desk
):
    visit_in(14, patient_a, clinician, location, front_desk)
    assert patient_a.questionnaires_due(patient_a.local_today()) == ["midas", "hit6"]


def test_nothing_is_due_more_than_14_days_before_a_visit(
    patient_a, clinician, location, front_desk
):
    visit_in(15, patient_a, clinician, location, front_desk)
    assert patient_a.questionnaires_due(patient_a.local_today()) == []


def test_nothing_is_due_without_an_active_visit(patient_a, clinician, location, front_desk):
    visit_in(3, patient_a, clinician, location, front_desk, status="cancelled")
    assert patient_a.questionnaires_due(patient_a.local_today()) == []


def test_a_response_since_14_days_before_the_visit_counts(
    patient_a, clinician, location, front_desk
):
    today = patient_a.local_today()
    visit_in(10, patient_a, clinician, location, front_desk)
    # 14 days before the visit is 4 days ago: that HIT-6 counts; a MIDAS a day earlier does not
    record_questionnaire(
        patient=patient_a,
        kind="hit6",
        answers=["never"] * 6,
        answered_on=today - datetime.timedelta(days=4),
    )
    record_questionnaire(
        patient=patient_a,
        kind="midas",
        answers=[0] * 5,
        answered_on=today - datetime.timedelta(days=5),
    )
    assert patient_a.questionnaires_due(today) == ["midas"]


def test_another_patients_visit_makes_nothing_due(
    patient_a, patient_b, clinician, location, front_desk
):
    visit_in(3, patient_b, clinician, location, front_desk)
    assert patient_a.questionnaires_due(patient_a.local_today()) == []


def test_the_questionnaires_page_asks_for_the_due_ones(
    patient_client, patient_a, clinician, location, front_desk
):
    visit_in(5, patient_a, clinician, location, front_desk)
    html = patient_client.get(reverse("portal:questionnaires")).content.decode()
    assert "Before your next visit, please fill in" in html


# --- the response rules R14-R16 --------------------------------------------------------------


def window(headache_days: int, *, baseline=20, entries=28):
    class Day:
        def __init__(self, n):
            self.date = datetime.date(2026, 1, 1) + datetime.timedelta(days=n)
            self.headache = n < headache_days
            self.severity = 2 if self.headache else 0
            self.migraine = False
            self.acute_medication = "none"

    return diary_summary(
        [Day(n) for n in range(entries)], datetime.date(2026, 1, 1), baseline=baseline
    )


def rules(windows, cycles=2):
    return [flag.rule for flag in response_flags(windows, cycles_given=cycles)]


def test_r14_less_than_30_percent_fewer_after_cycle_2_meets_the_stop_criterion():
    assert rules([window(15)]) == ["R14"]  # 25 % fewer
    assert rules([window(14)]) == []  # 30 % fewer
    assert rules([window(15)], cycles=1) == []  # too early to judge


def test_r15_three_windows_below_15_days_is_now_episodic():
    assert rules([window(14)] * 3, cycles=1) == ["R15"]
    assert rules([window(14), window(15), window(14)], cycles=1) == []


def test_r16_three_windows_below_10_days_suggests_a_pause():
    assert rules([window(9)] * 3, cycles=1) == ["R15", "R16"]


def test_windows_with_insufficient_data_raise_no_flag():
    assert rules([window(5, entries=19)] * 3) == []


# --- the clinician's chart -----------------------------------------------------------------


def test_the_chart_shows_diary_windows_and_scores_by_the_sessions(
    client, clinician, signed_session, patient_b
):
    today = patient_b.local_today()
    patient_b.baseline_headache_days = 20
    patient_b.save()
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            patient=patient_b,
            date=today - datetime.timedelta(days=n),
            headache=n % 2 == 0,
            hours=2 if n % 2 == 0 else 0,
            severity=2 if n % 2 == 0 else 0,
        )
        for n in range(28)
    )
    record_questionnaire(
        patient=patient_b, kind="hit6", answers=[13] * 6, answered_on=datetime.date(2026, 2, 20)
    )
    record_questionnaire(
        patient=patient_b, kind="hit6", answers=[10] * 6, answered_on=datetime.date(2026, 5, 20)
    )
    client.force_login(clinician)

    response = client.get(reverse("treatments:chart", args=[patient_b.pk]))

    latest = response.context["diary_windows"][0]
    assert (latest.end, latest.headache_days, latest.percent_change) == (today, 14, 30)
    assert len(response.context["diary_windows"]) == 6
    timeline = response.context["outcome_timeline"]
    assert [(row.date, bool(row.session)) for row in timeline] == [
        (datetime.date(2026, 2, 20), False),
        (signed_session.session_date, True),
        (datetime.date(2026, 5, 20), False),
    ]
    assert (timeline[2].hit6_change, timeline[2].hit6_meaningful) == (-18, True)
    assert "78 (severe impact)" in response.content.decode()


@pytest.mark.parametrize("count", [1, 12])
def test_the_questionnaires_page_query_count_does_not_grow_with_responses(
    patient_client, patient_a, clinician, location, front_desk, count, django_assert_max_num_queries
):
    visit_in(5, patient_a, clinician, location, front_desk)
    for n in range(count):
        record_questionnaire(
            patient=patient_a,
            kind="hit6",
            answers=["rarely"] * 6,
            answered_on=datetime.date(2026, 1, 1) + datetime.timedelta(days=n),
        )
    # session, user, patient, responses, the next visit, responses since 14 days before it,
    # and the session's sliding expiry (3)
    with django_assert_max_num_queries(10):  # +1: the audit trail's one INSERT
        response = patient_client.get(reverse("portal:questionnaires"))
    assert len(response.context["responses"]) == count


def test_a_midas_and_a_hit6_of_one_day_share_a_timeline_row(patient_a):
    day = datetime.date(2026, 5, 1)
    responses = [
        record_questionnaire(patient=patient_a, kind=kind, answers=answers, answered_on=day)
        for kind, answers in (("midas", [1] * 5), ("hit6", ["never"] * 6))
    ]
    (row,) = outcomes.outcome_timeline([], responses)
    assert (row.date, row.midas.total, row.hit6.total, row.hit6_change) == (day, 5, 36, None)
