"""Checklist tab, status changes, the edit preview, the catalog browser and start-up validation."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import catalog
from app import create_app
from models import ChecklistItem, checklists
from tests.conftest import login, overrides
from tests.factories import make_project

HX = {"HX-Request": "true"}


@pytest.fixture
def maria(client, users):
    return login(client, users["maria"])


def test_checklist_tab_groups_items_with_why_and_warnings(maria, users):
    p = make_project(utility="SRP", state="AZ", product_type="pv", pv_kw_ac=8.0, installed_on=None)
    checklists.sync(p)
    body = maria.get(f"/projects/{p.id}/checklist").get_data(as_text=True)
    assert 'id="app-utility_part1"' in body and 'id="app-ahj_permit"' in body
    assert "SRP-PART1" in body and "source" in body
    assert "Missing fact" in body  # e.g. the utility account the rules need


def test_waive_needs_a_reason_and_returns_the_row(maria, users):
    p = make_project(coordinator=users["maria"])
    checklists.sync(p)
    item = ChecklistItem.select().where(ChecklistItem.project == p).first()
    resp = maria.post(f"/checklist/{item.id}", data={"status": "waived", "reason": ""}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "say why the item is waived" in body and body.lstrip().startswith("<tr")
    resp = maria.post(f"/checklist/{item.id}", data={"status": "waived", "reason": "Not needed under 10 kW"},
                      headers=HX)
    assert resp.status_code == 200 and "Not needed under 10 kW" in resp.get_data(as_text=True)
    assert ChecklistItem.get_by_id(item.id).status == "waived"


def test_other_coordinators_cannot_change_items(maria, users):
    p = make_project(coordinator=users["james"])
    checklists.sync(p)
    item = ChecklistItem.select().where(ChecklistItem.project == p).first()
    assert maria.post(f"/checklist/{item.id}", data={"status": "requested"}).status_code == 403


def test_edit_preview_shows_gains_and_losses(maria, users):
    p = make_project(utility="PGE", product_type="pv", pv_kw_ac=6.0, state="CA", coordinator=users["maria"])
    checklists.sync(p)
    resp = maria.post(f"/projects/{p.id}/checklist/preview",
                      data={"utility": "PGE", "product_type": "pv_battery", "battery_kwh": "13.5", "state": "CA",
                            "pv_kw_ac": "6", "pv_kw_dc": "7.2"}, headers=HX)
    body = resp.get_data(as_text=True)
    assert "Adds:" in body and "79-1174-02" in body
    same = maria.post(f"/projects/{p.id}/checklist/preview",
                      data={"utility": "PGE", "product_type": "pv", "state": "CA", "pv_kw_ac": "6", "pv_kw_dc": "7.2"})
    assert "would not change" in same.get_data(as_text=True)
    bad = maria.post(f"/projects/{p.id}/checklist/preview", data={"utility": "PGE", "pv_kw_ac": "lots"})
    assert "Fix pv kw ac" in bad.get_data(as_text=True)
    edit = maria.get(f"/projects/{p.id}/edit", headers=HX).get_data(as_text=True)
    assert 'id="checklist-preview"' in edit


def test_catalog_browser(maria):
    index = maria.get("/catalog").get_data(as_text=True)
    assert "Pacific Gas and Electric" in index and "Oncor" in index
    assert "Salt River Project" in maria.get("/catalog?q=az").get_data(as_text=True)
    assert "Oncor" not in maria.get("/catalog?q=az").get_data(as_text=True)
    pge = maria.get("/catalog/PGE").get_data(as_text=True)
    assert "79-1151A-02" in pge and "Net Billing Tariff" in pge and "PGE-PART1-SHORT" in pge
    assert maria.get("/catalog/permits/SOLARAPP").status_code == 200
    assert maria.get("/catalog/NOPE").status_code == 404


def test_cli_checklist_json(app, users):
    p = make_project(external_id="3763MORR", utility="PGE", state="CA", pv_kw_ac=6.0)
    checklists.sync(p)
    result = app.test_cli_runner().invoke(args=["projects", "checklist", "3763MORR", "--json"])
    data = json.loads(result.output)
    item = next(i for i in data["items"] if i["doc_type"] == "CUSTOMER_AUTH")
    assert item["form_number"] == "79-1151A-02" and item["rule_id"] == "PGE-PART1-SHORT" and item["status"] == "missing"
    assert item["doc_label"] and item["explanation"] and data["warnings"]
    missing = app.test_cli_runner().invoke(args=["projects", "checklist", "NOPE"])
    assert missing.exit_code == 1 and "no project" in missing.output


def test_start_up_refuses_an_invalid_catalog(db, tmp_path):
    broken = tmp_path / "catalog"
    shutil.copytree(Path(catalog.__file__).parent / "data", broken / "data")
    target = broken / "data" / "utilities" / "srp.toml"
    target.write_text(target.read_text().replace('"SITE_PLAN"', '"SITE_PLANS"', 1))
    with pytest.raises(catalog.CatalogError) as err:
        create_app(overrides(catalog_dir=broken))
    assert "srp.toml" in str(err.value) and "SITE_PLANS" in str(err.value)
