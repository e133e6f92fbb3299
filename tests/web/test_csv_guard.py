"""Every CSV the desk writes guards cells a spreadsheet would run as formulas; the import reads them back."""
from __future__ import annotations

import csv
import io

import pytest

from models import Ahj, Application, Project
from models.catalog_ref import find_utility_code
from models.csv_safe import cell, unguard
from models.project_import import Importer, read_rows
from tests.conftest import login
from tests.factories import make_project

FORMULAS = {"customer_name": '=HYPERLINK("http://x","y")', "street": "+cmd|' /C calc'!A0", "city": "@SUM(A1)",
            "program": "-2+3"}
PLAIN = {"utility_account": "-12.5", "customer_phone": "+14155550100"}


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3",
                                   "\tindented", "\rreturned", "'=already quoted", "-", "+1 415 CALL NOW"])
def test_formula_like_text_gets_a_leading_quote_and_comes_back(value):
    assert cell(value) == "'" + value and unguard(cell(value)) == value


@pytest.mark.parametrize("value", ["-12.5", "+3", "12", "1e5", "+1 415 555 0100", "+14155550100",
                                   "(415) 555-0100", "'quoted", "'-12.5", "plain", "", "Ω"])
def test_numbers_phones_and_plain_text_stay_as_they_are(value):
    assert cell(value) == value and unguard(value) == value


def test_cells_that_are_not_text():
    assert (cell(None), cell(-3), cell(2.5)) == ("", -3, 2.5)


def _project() -> Project:
    p = make_project(external_id="CSV1", refs={"utility_part1": ("SUBMITTED", "\rPGE-1")},
                     **FORMULAS, **PLAIN)
    make_project(external_id="CSV2", customer_name="\tTab Name", program="'quoted")
    return p


def _export(client) -> list[dict]:
    resp = client.get("/projects/export.csv")
    assert resp.status_code == 200
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def test_the_pipeline_export_guards_formula_cells(client, users):
    login(client, users["lead"])
    _project()
    rows = {r["external_id"]: r for r in _export(client)}
    one, two = rows["CSV1"], rows["CSV2"]
    assert {k: one[k] for k in FORMULAS} == {k: "'" + v for k, v in FORMULAS.items()}
    assert {k: one[k] for k in PLAIN} == PLAIN
    assert one["utility_application_id"] == "'\rPGE-1"
    assert (two["customer_name"], two["program"]) == ("'\tTab Name", "'quoted")


def test_the_import_reads_its_own_export_back_unchanged(client, users):
    login(client, users["lead"])
    _project()
    text = _export_text(client)
    assert "'=HYPERLINK" in text
    _, rows = read_rows(text)
    cells = {r["external_id"]: r for _, r in rows}
    assert {k: cells["CSV1"][k] for k in {**FORMULAS, **PLAIN}} == {**FORMULAS, **PLAIN}
    assert (cells["CSV1"]["utility_application_id"], cells["CSV2"]["customer_name"]) == ("\rPGE-1", "\tTab Name")
    assert cells["CSV2"]["program"] == "'quoted"
    before = _stored()
    for dry_run in (True, False):
        report = Importer(find_utility_code, users["lead"], dry_run).run(text)
        assert report.errors == [] and report.total == 2
        stored = _stored()
        # Formulas, numbers, phones and quotes come back exactly; the import's usual cleaning still drops a
        # leading tab or CR (as from typed text), so those two are the only values an import may change.
        assert {k: stored["CSV1"][k] for k in {**FORMULAS, **PLAIN}} == {**FORMULAS, **PLAIN}
        assert stored["CSV2"]["program"] == "'quoted"
        if dry_run:
            assert stored == before
    assert (stored["CSV2"]["customer_name"], stored["CSV1"]["ref"]) == ("Tab Name", "PGE-1")


def _export_text(client) -> str:
    return client.get("/projects/export.csv").get_data(as_text=True)


def _stored() -> dict:
    out = {}
    for p in Project.select():
        ref = Application.get(Application.project == p).reference_number if p.external_id == "CSV1" else None
        out[p.external_id] = {**{k: getattr(p, k) for k in (*FORMULAS, *PLAIN)}, "ref": ref}
    return out


def test_an_imported_value_that_starts_with_a_quote_keeps_it(db, users):
    from tests.models.test_project_import import csv_text
    text = csv_text("Q1,'quoted,,,'-12.5,'Oakland,CA,,PGE,'=Town,pv,,,,,,,,")
    report = Importer(find_utility_code, users["lead"], False).run(text)
    assert report.errors == []
    p = Project.get(Project.external_id == "Q1")
    assert (p.customer_name, p.street, p.city) == ("'quoted", "'-12.5", "'Oakland")
    assert Ahj.get().name == "=Town"


def test_dashboard_csvs_guard_through_the_same_cells(client, users):
    login(client, users["lead"])
    make_project(customer_name="=1+1", flagged_at=None)
    resp = client.get("/dashboard/coordinators.csv")
    assert resp.status_code == 200
    users["lead"].name = "@lead"
    users["lead"].save()
    from models.projects import Project as P
    P.update(coordinator=users["lead"]).execute()
    body = client.get("/dashboard/coordinators.csv").get_data(as_text=True)
    assert "'@lead" in body and ",@lead" not in body
