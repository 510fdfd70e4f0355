"""Issue 16, items 2 and 3: the outcome charts (chart page, the portal's "My progress") and the
continuation-evidence PDF, all from one set of figures (treatments/charts.py).

The fixture patient's history is written so that every figure is known by hand (see `HISTORY`);
every date derives from one read of the suite's clock (the clinic's today, T)."""

import datetime
import html
import re
import shutil
import subprocess

import pytest
from django.urls import reverse

from audit.models import AccessEvent
from patients.services import record_questionnaire
from tests.conftest import clinic_today, fresh_vials, local, session_input
from treatments.services import record_session, report_adverse_event, sign_session

DAY = datetime.timedelta(days=1)

# Six 28-day windows to T (the chart's), oldest first: W1 is T-167..T-140, ..., W6 is T-27..T.
# Per window: (days entered, headache days, migraine days). Baseline: the intake figure, 20.
# Change = (20 - headache days) / 20 x 100, by hand:
#   W1: 28 entered, 18 headache, 10 migraine -> (20-18)/20 = 10 % fewer
#   W2: 10 entered (< 20: insufficient data; its 8 headache days must not show, nor 0)
#   W3: 24 entered, 14 headache, 8 migraine  -> 6/20 = 30 % fewer
#   W4: 28 entered, 12 headache, 6 migraine  -> 8/20 = 40 % fewer
#   W5: 20 entered (just enough), 9 headache, 4 migraine -> 11/20 = 55 % fewer
#   W6: 28 entered, 8 headache, 3 migraine   -> 12/20 = 60 % fewer
# Cycle 1 on T-150 (in W1), cycle 2 on T-66 (in W4): R14's review (cycle 2 + 84 days) is ahead,
# so it judges the latest window, W6: 60 % fewer meets NICE's 30 % and the payers' 50 %; no R14.
# R15: W4-W6 all counted and under 15 (12, 9, 8): "now episodic". R16 needs all under 10: no.
HISTORY = [(28, 18, 10), (10, 8, 0), (24, 14, 8), (28, 12, 6), (20, 9, 4), (28, 8, 3)]
EXPECTED_ROWS = [
    ["28 of 28", "18", "10", "10 % fewer"],
    ["10 of 28", "insufficient data", "insufficient data", "insufficient data"],
    ["24 of 28", "14", "8", "30 % fewer"],
    ["28 of 28", "12", "6", "40 % fewer"],
    ["20 of 28", "9", "4", "55 % fewer"],
    ["28 of 28", "8", "3", "60 % fewer"],
]
CYCLE_DAYS = (150, 66)  # days before T
# HIT-6 answers (points) and MIDAS answers (days), days before T: totals by hand
HIT6 = [(160, [13, 13, 11, 11, 10, 8]), (70, [10] * 5 + [8]), (5, [10, 10, 8, 8, 8, 8])]
HIT6_TOTALS = [66, 58, 52]  # severe, substantial, some impact
MIDAS = [(160, [10, 10, 10, 5, 5]), (5, [3, 3, 2, 2, 2])]
MIDAS_TOTALS = [40, 12]  # grade IV, grade III


def window_start(today: datetime.date, number: int) -> datetime.date:
    """The first day of window `number` (1-6)."""
    return today - (28 * (7 - number) - 1) * DAY


def write_history(patient, clinician, location, *, extra_cycles: int = 0, scores: bool = True):
    """The diary, sessions, questionnaires and an adverse event of HISTORY. `extra_cycles`
    adds cycles 84 days apart before the first (more history, for the query counts)."""
    from patients.models import DiaryEntry

    today = clinic_today()
    patient.baseline_headache_days, patient.baseline_migraine_days = 20, 12
    patient.diagnosis_code = "G43.709"
    patient.save()
    entries = []
    for number, (entered, headache, migraine) in enumerate(HISTORY, start=1):
        start = window_start(today, number)
        entries += [
            DiaryEntry(
                patient=patient,
                date=start + i * DAY,
                headache=i < headache,
                hours=3 if i < headache else 0,
                severity=2 if i < headache else 0,
                migraine=i < migraine,
            )
            for i in range(entered)
        ]
    DiaryEntry.objects.bulk_create(entries)
    days = [CYCLE_DAYS[0] + 84 * n for n in range(extra_cycles, 0, -1)] + list(CYCLE_DAYS)
    sessions = []
    for before in days:
        when = local(today - before * DAY, 10)
        data = session_input(location, when=when, vials=fresh_vials(when))
        session = record_session(patient=patient, injector=clinician, data=data)
        sessions.append(sign_session(session=session, user=clinician, acknowledged=[]))
    report_adverse_event(
        session=sessions[-2],
        recorded_by=clinician,
        reported_by="clinician",
        term="neck_pain",
        onset=sessions[-2].session_date + 2 * DAY,
        severity="mild",
        hint_next_session="",
    )
    if scores:
        for before, answers in HIT6:
            record_questionnaire(
                patient=patient, kind="hit6", answers=answers, answered_on=today - before * DAY
            )
        for before, answers in MIDAS:
            record_questionnaire(
                patient=patient, kind="midas", answers=answers, answered_on=today - before * DAY
            )
    return sessions


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of the table `table_id`, each cell's text."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.DOTALL)
    assert table, f"no table {table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.DOTALL).group(1)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]
        for cells in (
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
        )
    ]


@pytest.fixture
def history(patient_a, clinician, location):
    return write_history(patient_a, clinician, location)


def chart_page(client, clinician, patient) -> str:
    client.force_login(clinician)
    response = client.get(reverse("treatments:chart", args=[patient.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- the chart page ------------------------------------------------------------------------------


def test_the_chart_page_charts_each_window_against_the_baseline_with_the_hand_computed_numbers(
    client, clinician, patient_a, history
):
    page = chart_page(client, clinician, patient_a)
    today = clinic_today()

    rows = table_rows(page, "headache-chart-table")
    assert [row[0] for row in rows] == [
        f"{window_start(today, n):%Y-%m-%d} to {window_start(today, n) + 27 * DAY:%Y-%m-%d}"
        for n in range(1, 7)
    ]
    assert [row[1:] for row in rows] == EXPECTED_ROWS


def test_the_headache_chart_draws_counted_windows_as_points_and_the_thin_one_as_a_gap(
    client, clinician, patient_a, history
):
    page = chart_page(client, clinician, patient_a)
    svg = re.search(r'id="headache-chart">.*?</svg>', page, re.DOTALL)
    svg = html.unescape(svg.group(0))

    # The plot is x 44..708 (664 units for 168 days) and y 212 (0 days) up to 22 (28 days).
    # W6's middle: 44 + 664 x 140/168 + 664 x 14/168 = 652.67; 8 days: 212 - 190 x 8/28 = 157.71
    assert '<circle class="chart-headache" cx="652.7" cy="157.7" r="3.5">' in svg
    # W1's 18 headache days: x 44 + 55.33 = 99.33, y 212 - 190 x 18/28 = 89.86
    assert '<circle class="chart-headache" cx="99.3" cy="89.9" r="3.5">' in svg
    headache_points = re.findall(r'<circle class="chart-headache"', svg)
    migraine_points = re.findall(r'<circle class="chart-migraine"', svg)
    assert len(headache_points) == len(migraine_points) == 5  # W2 is no point at all
    # the baseline of 20: y = 212 - 190 x 20/28 = 76.29
    assert 'class="chart-baseline" x1="44" y1="76.3" x2="708" y2="76.3"' in svg
    # W2 as a grey band from x 44 + 664 x 28/168 = 154.67, 110.67 wide, saying so
    assert '<rect class="chart-gap" x="154.7" y="22" width="110.7" height="190">' in svg
    assert "insufficient data (10 of 28 days entered)" in svg
    # the line breaks at W2: one polyline for W1 alone is none; W3-W6 is one of 4 points
    lines = re.findall(r'<polyline class="chart-headache" points="([^"]+)"', svg)
    assert [len(line.split()) for line in lines] == [4]
    # each session marked: cycle 1 on T-150, 17 days into W1: x = 44 + 664 x 17/168 = 111.19
    assert '<line class="chart-session" x1="111.2"' in svg
    assert ">C1</text>" in svg
    assert ">C2</text>" in svg


def test_the_chart_page_states_both_criteria_and_the_flags(client, clinician, patient_a, history):
    page = html.unescape(chart_page(client, clinician, patient_a))
    today = clinic_today()
    w6 = f"{window_start(today, 6):%Y-%m-%d} to {today:%Y-%m-%d}"

    assert (
        "NICE criterion (at least 30 % fewer headache days than baseline): MET: 8 headache days "
        f"in the 28 days {w6} against a baseline of 20 (60 % fewer)." in page
    )
    assert "50 % criterion (at least 50 % fewer headache days than baseline): MET" in page
    assert "<strong>R15</strong> Now episodic" in page
    pdf = reverse("treatments:continuation_pdf", args=[patient_a.pk])
    assert f'href="{pdf}" id="continuation-pdf"' in page  # one click from the chart
    assert "<strong>R14</strong>" not in page
    assert "<strong>R16</strong>" not in page


def test_the_criteria_judge_the_latest_window_with_enough_entries(
    client, clinician, patient_a, history
):
    # Given W6 thinned to 19 entries (insufficient), W5 is the latest counted: 9 headache days
    from patients.models import DiaryEntry

    today = clinic_today()
    DiaryEntry.objects.filter(patient=patient_a, date__gte=today - 8 * DAY).delete()
    page = html.unescape(chart_page(client, clinician, patient_a))
    w5 = f"{window_start(today, 5):%Y-%m-%d} to {window_start(today, 6) - DAY:%Y-%m-%d}"
    # Then a payer reads the response now (W5, 55 % fewer), not "cannot be judged"
    assert (
        "NICE criterion (at least 30 % fewer headache days than baseline): MET: 9 headache days "
        f"in the 28 days {w5} against a baseline of 20 (55 % fewer)." in page
    )
    assert "50 % criterion (at least 50 % fewer headache days than baseline): MET" in page


def test_the_score_charts_draw_each_total_with_its_band_thresholds(
    client, clinician, patient_a, history
):
    page = html.unescape(chart_page(client, clinician, patient_a))

    assert [row[1] for row in table_rows(page, "hit6-chart-table")] == list(map(str, HIT6_TOTALS))
    assert [row[2] for row in table_rows(page, "hit6-chart-table")] == [
        "severe impact",
        "substantial impact",
        "some impact",
    ]
    assert [row[1] for row in table_rows(page, "midas-chart-table")] == list(map(str, MIDAS_TOTALS))
    hit6 = re.search(r'id="hit6-chart".*?</svg>', page, re.DOTALL).group(0)
    assert len(re.findall(r'<circle class="chart-hit6"', hit6)) == 3
    # HIT-6's y axis is 36..78 on 212..22: 66 at 212 - 190 x 30/42 = 76.29; bands at 50, 56, 60
    assert 'cy="76.3"' in hit6
    for label in ("50: some impact", "56: substantial impact", "60: severe impact"):
        assert f">{label}</text>" in hit6
    midas = re.search(r'id="midas-chart".*?</svg>', page, re.DOTALL).group(0)
    for label in ("6: grade II, mild", "11: grade III, moderate", "21: grade IV, severe"):
        assert label in midas


def test_a_patient_without_a_diary_has_every_window_shown_as_insufficient_not_zero(
    client, clinician, patient_b
):
    page = chart_page(client, clinician, patient_b)

    rows = table_rows(page, "headache-chart-table")
    assert len(rows) == 6
    assert all(row[1] == "0 of 28" and row[2] == "insufficient data" for row in rows)
    assert 'class="chart-headache" cx' not in page
    assert "cannot be judged (too few diary entries in the window)" in page


# --- the portal ----------------------------------------------------------------------------------


def test_my_progress_shows_the_patient_their_own_figures_as_the_chart_does(
    client, clinician, patient_a, history
):
    chart = chart_page(client, clinician, patient_a)
    client.force_login(patient_a.user)

    response = client.get(reverse("portal:progress"))

    assert response.status_code == 200
    page = response.content.decode()
    for table in ("headache-chart-table", "hit6-chart-table", "midas-chart-table"):
        assert table_rows(page, table) == table_rows(chart, table)
    assert "<strong>20 headache days</strong>" in page
    # the flags and criteria are the clinician's to discuss
    assert "R15" not in page
    assert "criterion" not in page
    home = client.get(reverse("portal:home")).content.decode()
    assert f'href="{reverse("portal:progress")}"' in home


def test_another_patient_sees_only_their_own_progress(client, patient_a, patient_b, history):
    client.force_login(patient_b.user)

    page = client.get(reverse("portal:progress")).content.decode()

    rows = table_rows(page, "headache-chart-table")
    assert all(row[1] == "0 of 28" for row in rows)
    assert "hit6-chart" not in page
    assert 'id="no-scores"' in page


# --- the PDF -------------------------------------------------------------------------------------


def pdf_text(content: bytes, tmp_path) -> str:
    assert shutil.which("pdftotext"), "no pdftotext: `make pdftotext` installs poppler-utils"
    path = tmp_path / "evidence.pdf"
    path.write_bytes(content)
    result = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return result.stdout.decode()


def test_the_pdf_shows_the_chart_pages_figures(client, clinician, patient_a, history, tmp_path):
    chart = chart_page(client, clinician, patient_a)

    response = client.get(reverse("treatments:continuation_pdf", args=[patient_a.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="continuation-evidence.pdf"'
    text = pdf_text(response.content, tmp_path)
    lines = text.splitlines()
    # every row of the chart page's window table, on one line of the PDF, in the same order
    for row in table_rows(chart, "headache-chart-table"):
        pattern = re.compile(r"\s+".join(map(re.escape, row)))
        assert any(pattern.search(line) for line in lines), f"row {row} not in the PDF"
    one_line = " ".join(text.split())
    statements = re.findall(r"(?:NICE|50 %) criterion \(.*?\)\.", html.unescape(chart))
    assert len(statements) == 2
    for statement in statements:
        assert statement in one_line
    assert "Alice Morgan" in one_line
    assert patient_a.mrn in one_line
    assert f"{patient_a.date_of_birth:%Y-%m-%d}" in one_line
    assert "G43.709" in one_line
    assert "Baseline: 20 headache days a month, 12 migraine days (the intake figure)." in one_line
    assert "R15: Now episodic" in one_line
    for total in (*HIT6_TOTALS, *MIDAS_TOTALS):
        assert re.search(rf"\b{total} \(", one_line)
    for session in history:
        lot = session.vials.get().lot.lot_number
        assert re.search(
            rf"{session.session_date:%Y-%m-%d}\s+{session.cycle_number}\s+155 U\s+45 U\s+{lot}",
            text,
        )
    assert "Neck pain" in one_line


def test_the_pdf_is_one_or_two_pages_and_audited_as_the_chart(
    client, clinician, patient_a, history, tmp_path
):
    client.force_login(clinician)

    response = client.get(reverse("treatments:continuation_pdf", args=[patient_a.pk]))

    text = pdf_text(response.content, tmp_path)
    assert 1 <= text.count("\f") <= 2  # pdftotext ends each page with a form feed
    event = AccessEvent.objects.get(view="treatments:continuation_pdf")
    assert (event.patient_id, event.user_id, event.record_id) == (
        patient_a.pk,
        clinician.pk,
        patient_a.pk,
    )


def test_a_clinic_admin_may_download_the_pdf(client, clinic_admin, patient_a, history):
    client.force_login(clinic_admin)

    response = client.get(reverse("treatments:continuation_pdf", args=[patient_a.pk]))

    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")


def test_a_patient_asking_for_another_patients_pdf_gets_a_404(client, patient_a, patient_b):
    client.force_login(patient_a.user)

    for pk in (patient_b.pk, patient_a.pk):
        response = client.get(reverse("treatments:continuation_pdf", args=[pk]))
        assert response.status_code == 404


def test_the_front_desk_may_not_have_the_pdf(client, front_desk, patient_a):
    client.force_login(front_desk)

    response = client.get(reverse("treatments:continuation_pdf", args=[patient_a.pk]))

    assert response.status_code == 403


def test_an_unknown_patient_id_is_a_404(client, clinician):
    client.force_login(clinician)

    assert client.get("/treatments/patients/999999/continuation.pdf").status_code == 404


# --- query counts --------------------------------------------------------------------------------

CHART_QUERIES = 17  # as before the charts: they read only what the chart page loaded
PROGRESS_QUERIES = 11


@pytest.mark.parametrize("extra_cycles", [0, 4])
def test_the_chart_page_needs_as_many_queries_for_a_long_history_as_for_a_short_one(
    client, clinician, patient_a, location, extra_cycles, django_assert_max_num_queries
):
    write_history(patient_a, clinician, location, extra_cycles=extra_cycles)
    client.force_login(clinician)

    with django_assert_max_num_queries(CHART_QUERIES):
        response = client.get(reverse("treatments:chart", args=[patient_a.pk]))

    assert len(response.context["figures"].signed) == 2 + extra_cycles


@pytest.mark.parametrize("extra_cycles", [0, 4])
def test_my_progress_needs_as_many_queries_for_a_long_history_as_for_a_short_one(
    client, clinician, patient_a, location, extra_cycles, django_assert_max_num_queries
):
    write_history(patient_a, clinician, location, extra_cycles=extra_cycles)
    client.force_login(patient_a.user)

    with django_assert_max_num_queries(PROGRESS_QUERIES):
        response = client.get(reverse("portal:progress"))

    assert len(response.context["figures"].signed) == 2 + extra_cycles
