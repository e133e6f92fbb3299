"""Checklists generated from the catalog: creation, regeneration on fact changes, statuses, preview."""
from __future__ import annotations

import pytest

from models import ChecklistItem, Event, checklists
from tests.factories import make_project


def keys(project, required=True):
    return {(i.application, i.doc_type, i.form_number) for i in ChecklistItem.select().where(
        ChecklistItem.project == project, ChecklistItem.required == required)}


def test_sync_creates_items_with_their_rules_and_no_news_event(db, users):
    p = make_project(utility="PGE", product_type="pv", pv_kw_ac=6.0, state="CA")
    diff = checklists.sync(p)
    assert ("utility_part1", "CUSTOMER_AUTH", "79-1151A-02") in keys(p)
    assert ("utility_part2", "AHJ_FINAL", None) in keys(p)
    item = ChecklistItem.get(ChecklistItem.project == p, ChecklistItem.doc_type == "CUSTOMER_AUTH")
    assert item.rule_id == "PGE-PART1-SHORT" and item.status == "missing" and item.explanation
    assert diff.added and not Event.select().where(Event.kind == "checklist").exists()
    assert not checklists.sync(p)  # idempotent


def test_adding_a_battery_regenerates_and_records_the_difference(db, users):
    p = make_project(utility="PGE", product_type="pv", pv_kw_ac=6.0, state="CA", coordinator=users["maria"])
    checklists.sync(p)
    p.apply_changes({"product_type": "pv_battery", "battery_kwh": 13.5}, users["maria"])
    assert ("utility_part1", "INTERCONNECTION_APPLICATION", "79-1174-02") in keys(p)
    assert ("utility_part1", "BESS_DATASHEET", None) in keys(p)
    event = Event.get(Event.project == p, Event.kind == "checklist")
    assert "Part 1: Battery technical data" in event.data["added"]
    # back to PV only: battery items are kept but no longer required, never deleted
    p.apply_changes({"product_type": "pv", "battery_kwh": None}, users["maria"])
    assert ("utility_part1", "BESS_DATASHEET", None) in keys(p, required=False)
    assert ("utility_part1", "BESS_DATASHEET", None) not in keys(p)
    last = Event.select().where(Event.project == p, Event.kind == "checklist").order_by(Event.id.desc()).get()
    assert "Part 1: Battery technical data" in last.data["dropped"]


def test_unrelated_changes_do_not_touch_the_checklist(db, users):
    p = make_project(utility="SCE", state="CA")
    checklists.sync(p)
    before = list(ChecklistItem.select().order_by(ChecklistItem.id).dicts())
    p.apply_changes({"customer_name": "Renamed"}, users["lead"])
    assert list(ChecklistItem.select().order_by(ChecklistItem.id).dicts()) == before


def test_status_changes_need_reasons_for_waive_and_reject(db, users):
    p = make_project()
    checklists.sync(p)
    item = ChecklistItem.select().where(ChecklistItem.project == p).first()
    with pytest.raises(ValueError, match="say why the item is waived"):
        item.set_status("waived", " ", users["maria"])
    with pytest.raises(ValueError, match="status must be one of"):
        item.set_status("lost", "", users["maria"])
    item.set_status("waived", "Utility confirmed not needed for this tier", users["maria"])
    assert ChecklistItem.get_by_id(item.id).status == "waived"
    event = Event.get(Event.kind == "checklist")
    assert event.summary.endswith("Missing -> Waived") and "not needed" in event.body


def test_preview_lists_gains_and_losses_without_writing(db, users):
    p = make_project(utility="PGE", product_type="pv", pv_kw_ac=6.0, state="CA")
    checklists.sync(p)
    count = ChecklistItem.select().count()
    diff = checklists.preview(p, {"product_type": "pv_battery", "battery_kwh": 13.5})
    assert any("79-1174-02" in a for a in diff.added) and not diff.dropped
    diff = checklists.preview(p, {"utility": "SCE"})
    assert any(d.startswith("Part 1: ") for d in diff.dropped)  # SCE has no pre-install application
    assert ChecklistItem.select().count() == count


def test_report_is_plain_data(db, users):
    p = make_project(external_id="R1", utility="SRP", state="AZ")
    checklists.sync(p)
    data = checklists.report(p)
    assert data["project"] == "R1" and data["items"]
    first = data["items"][0]
    assert set(first) >= {"application", "doc_type", "doc_label", "form_number", "form_version", "status",
                          "rule_id", "explanation"}
