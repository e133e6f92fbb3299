"""The dashboard through the test client: access, the period form, fragments, CSV, drill-down, query count."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from models import business_days as bd
from models.applications import file_application
from models.base import db as proxy, today as desk_today
from tests.conftest import login
from tests.factories import make_project
from tests.web.test_projects import QueryCounter

HX = {"HX-Request": "true"}


@pytest.fixture
def lead(client, users):
    return login(client, users["lead"])


def approved(name: str, utility: str, coordinator, submitted: dt.date, decided: dt.date, pto: dt.date | None = None):
    """A project whose Part 1 went submitted -> deficient -> resubmitted -> approved, and maybe to PTO."""
    p = make_project(external_id=name, utility=utility, coordinator=coordinator, contract_signed_on=submitted)
    app = file_application(p, "utility_part1", "DRAFT", on=submitted)
    app.transition("SUBMITTED", coordinator, on=submitted)
    app.transition("DEFICIENT", coordinator, on=submitted, deficiencies=["Bill is older than 120 days"])
    app.transition("RESUBMITTED", coordinator, on=submitted)
    app.transition("APPROVED_TO_INSTALL", coordinator, on=decided)
    if pto:
        part2 = file_application(p, "utility_part2", "DRAFT", on=decided)
        part2.transition("COMPLETION_SUBMITTED", coordinator, on=decided)
        part2.transition("PTO_GRANTED", coordinator, on=pto)
    return p


def waiting(name: str, utility: str, coordinator, submitted: dt.date):
    """A project whose Part 1 waits on the utility (a breach once its SLA date has passed)."""
    p = make_project(external_id=name, utility=utility, coordinator=coordinator, contract_signed_on=submitted)
    file_application(p, "utility_part1", "SUBMITTED", on=submitted)
    p.refresh_rollups()
    p.save()
    return p


def test_lead_sees_every_section_with_charts(lead, users):
    today = desk_today()
    approved("DASH1", "PGE", users["maria"], today - dt.timedelta(days=40), today - dt.timedelta(days=20))
    page = lead.get("/dashboard")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body
    for section in ("funnel", "aging", "turnaround", "breaches", "coordinators"):
        assert f'id="{section}"' in body
    assert 'role="img"' in body and 'aria-labelledby="chart-turnaround-title"' in body
    assert '<title id="chart-turnaround-title">Median business days' in body
    assert 'href="/dashboard"' in body and 'aria-current="page">Dashboard' in body  # the nav link
    assert "Pacific Gas and Electric Company" in body


def test_coordinators_are_refused(client, users):
    maria = login(client, users["maria"])
    assert maria.get("/dashboard").status_code == 403
    assert maria.get("/dashboard/drill?metric=funnel&key=intake").status_code == 403
    assert maria.get("/dashboard/turnaround.csv").status_code == 403
    assert 'href="/dashboard"' not in maria.get("/projects").get_data(as_text=True)


def test_signed_out_goes_to_login(client, db):
    resp = client.get("/dashboard?preset=30d")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_htmx_gets_the_region_without_the_layout(lead, users):
    resp = lead.get("/dashboard?preset=30d", headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" not in body and 'id="dash-form"' in body and 'id="funnel"' in body
    assert "HX-Request" in resp.headers["Vary"]
    start = desk_today() - dt.timedelta(days=29)
    assert f'value="{start.isoformat()}"' in body and 'aria-pressed="true">Last 30 days' in body


def test_invalid_periods_answer_422_with_the_input_kept(lead, users):
    resp = lead.get("/dashboard?from=2025-13-01&to=2025-02-01", headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "<html" not in body
    assert 'value="2025-13-01"' in body and 'aria-invalid="true"' in body
    assert "Enter the start date as YYYY-MM-DD" in body and 'id="funnel"' not in body
    resp = lead.get("/dashboard?from=2025-03-01&to=2025-02-01")
    assert resp.status_code == 422 and "<html" in resp.get_data(as_text=True)
    assert "The end date is before the start date." in resp.get_data(as_text=True)
    assert lead.get("/dashboard/aging.csv?from=2025-03-01&to=2025-02-01").status_code == 422
    assert lead.get("/dashboard/drill?metric=funnel&key=intake&from=nope").status_code == 422


def test_csv_exports_match_the_tables(lead, users):
    today = desk_today()
    submitted, decided = today - dt.timedelta(days=50), today - dt.timedelta(days=30)
    pto = today - dt.timedelta(days=10)
    approved("CSV1", "PGE", users["maria"], submitted, decided, pto)
    waiting("CSV2", "SCE", users["james"], today - dt.timedelta(days=60))
    resp = lead.get("/dashboard/turnaround.csv?preset=90d")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "ixdesk-turnaround-" in resp.headers["Content-Disposition"]
    rows = {r["utility"]: r for r in csv.DictReader(io.StringIO(resp.get_data(as_text=True)))}
    pge = rows["PGE"]
    assert pge["part1_n"] == "1" and pge["part1_median_bd"] == str(bd.between(submitted, decided))
    assert pge["part1_sla_bd"] == "25" and pge["approved_to_pto_median_bd"] == str(bd.between(decided, pto))
    assert pge["part1_submitted"] == "1" and pge["part1_deficient"] == "1" and pge["deficiency_rate_pct"] == "100.0"
    breaches = list(csv.DictReader(io.StringIO(lead.get("/dashboard/breaches-utility.csv").get_data(as_text=True))))
    assert [(r["utility"], r["open_breaches"]) for r in breaches] == [("SCE", "1")]
    people = {r["coordinator"]: r for r in csv.DictReader(io.StringIO(
        lead.get("/dashboard/coordinators.csv?preset=90d").get_data(as_text=True)))}
    assert people["Maria Ortiz"]["status_moves"] == "6" and people["Maria Ortiz"]["ptos"] == "1"
    assert people["James Chen"]["open_projects"] == "1"
    for table in ("funnel", "aging", "breaches-coordinator"):
        assert lead.get(f"/dashboard/{table}.csv").status_code == 200
    assert lead.get("/dashboard/nothing.csv").status_code == 404


def test_csv_cells_cannot_become_spreadsheet_formulas(lead, users):
    p = make_project(external_id="=HYPERLINK(1)", customer_name="@SUM(A1)", coordinator=users["maria"])
    resp = lead.get("/dashboard/drill.csv?metric=open_projects&key=" + str(users["maria"].id))
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[1][:2] == ["'=HYPERLINK(1)", "'@SUM(A1)"] and p.id


def test_drill_down_lists_the_projects_behind_a_number(lead, users):
    today = desk_today()
    approved("FAST", "PGE", users["maria"], today - dt.timedelta(days=30), today - dt.timedelta(days=25))
    approved("SLOW", "PGE", users["james"], today - dt.timedelta(days=70), today - dt.timedelta(days=20))
    approved("OTHER", "SCE", users["james"], today - dt.timedelta(days=40), today - dt.timedelta(days=20))
    body = lead.get("/dashboard?preset=90d").get_data(as_text=True)
    link = "/dashboard/drill?metric=part1&amp;key=PGE"
    assert link in body
    page = lead.get("/dashboard/drill?metric=part1&key=PGE&preset=90d")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "FAST" in text and "SLOW" in text and "OTHER" not in text
    assert text.index("SLOW") < text.index("FAST")  # longest first
    frag = lead.get("/dashboard/drill?metric=part1&key=PGE&preset=90d&sort=value&dir=asc", headers=HX)
    text = frag.get_data(as_text=True)
    assert "<html" not in text and text.index("FAST") < text.index("SLOW")
    assert lead.get("/dashboard/drill?metric=bogus&key=PGE").status_code == 404
    assert lead.get("/dashboard/drill?metric=part1&key=NOPE").status_code == 404
    csv_rows = list(csv.DictReader(io.StringIO(
        lead.get("/dashboard/drill.csv?metric=part1&key=PGE&preset=90d").get_data(as_text=True))))
    assert [r["external_id"] for r in csv_rows] == ["SLOW", "FAST"]


def test_utility_and_coordinator_filters_narrow_every_section(lead, users):
    today = desk_today()
    approved("PG1", "PGE", users["maria"], today - dt.timedelta(days=30), today - dt.timedelta(days=25))
    approved("SC1", "SCE", users["james"], today - dt.timedelta(days=30), today - dt.timedelta(days=25))
    body = lead.get(f"/dashboard?utility=SCE&coordinator={users['james'].id}", headers=HX).get_data(as_text=True)
    table = body[body.index('id="turnaround-table"'):]
    assert "Southern California Edison" in table and "Pacific Gas and Electric Company" not in table
    people = body[body.index('id="coordinators-table"'):]
    assert "James Chen" in people and "Maria Ortiz" not in people


def shaped_desk(users, numbers: range, today: dt.date) -> None:
    """Projects of every shape the dashboard reads: approved with PTO, approved by agreement, waiting, new."""
    for i in numbers:
        approved(f"A{i}", "PGE", users["maria"], today - dt.timedelta(days=60), today - dt.timedelta(days=40),
                 today - dt.timedelta(days=5))
        p = waiting(f"W{i}", "SCE", users["james"], today - dt.timedelta(days=45))
        app = p.applications.get()
        app.transition("TECHNICAL_REVIEW", users["james"], on=today - dt.timedelta(days=40))
        app.transition("AGREEMENT_SENT", users["james"], on=today - dt.timedelta(days=30))
        waiting(f"B{i}", "PGE", None, today - dt.timedelta(days=50))
        make_project(external_id=f"N{i}", coordinator=users["maria"], contract_signed_on=today)


def test_query_count_stays_flat_as_rows_grow(lead, users):
    today = desk_today()

    def queries(url):
        with QueryCounter(proxy.obj) as counter:
            assert lead.get(url, headers=HX).status_code == 200
        return counter.count
    pages = ("/dashboard?preset=90d", "/dashboard/drill?metric=aging&key=utility&preset=90d",
             "/dashboard/drill?metric=part1&key=PGE&preset=90d")
    shaped_desk(users, range(2), today)
    few = [queries(url) for url in pages]
    shaped_desk(users, range(2, 32), today)
    assert [queries(url) for url in pages] == few
    assert few[0] <= 35 and max(few[1:]) <= 12


def test_day_list_numbers_and_their_drills_do_not_grow_with_projects(lead, users):
    """The coordinators' due-today and overdue counts come from one GROUP BY; their drills and the breach
    drills are a fixed number of queries too."""
    today = desk_today()
    maria = users["maria"].id

    def queries(url):
        with QueryCounter(proxy.obj) as counter:
            assert lead.get(url, headers=HX).status_code == 200
        return counter.count
    pages = (f"/dashboard/drill?metric=overdue&key={maria}", f"/dashboard/drill?metric=due_today&key={maria}",
             "/dashboard/drill?metric=overdue&key=none", "/dashboard/drill?metric=breaches_utility&key=PGE",
             f"/dashboard/drill?metric=breaches_coordinator&key={maria}")
    shaped_desk(users, range(2), today)
    few = [queries(url) for url in pages]
    shaped_desk(users, range(2, 32), today)
    assert [queries(url) for url in pages] == few
