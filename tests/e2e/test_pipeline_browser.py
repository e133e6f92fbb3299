"""A coordinator's first hour, in a real browser: sign in, search, filter, edit, note, import."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from models import Event, Project
from models.project_import import COLUMNS
from tests.e2e.conftest import sign_in
from tests.factories import make_project


def rows(page):
    return page.locator("#pipeline tbody tr")


def test_sign_in_search_filter_and_back_button(page, users):
    make_project(external_id="3763MORR", customer_name="Olivia Morrison", utility="SCE", stage="permitting")
    make_project(external_id="2633REGA", customer_name="Noah Regan", utility="PGE", stage="pto")
    make_project(external_id="1500PATE", customer_name="Priya Patel", utility="SCE", stage="pto")
    page.goto("/projects")
    expect(page).to_have_url(re.compile(r"/login"))
    sign_in(page, "maria@example.com")
    expect(rows(page)).to_have_count(3)
    assert page.evaluate("htmx.version").startswith("2.")

    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("morris")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("3763MORR")
    expect(page).to_have_url(re.compile(r"q=morris"))

    page.fill("#q", "")
    expect(rows(page)).to_have_count(3)
    page.select_option("select[name=utility]", "SCE")
    expect(rows(page)).to_have_count(2)
    assert "utility=SCE" in page.get_attribute("#export", "href")  # export follows the htmx filters
    page.click("a.stage[data-stage=pto]")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("1500PATE")
    expect(page).to_have_url(re.compile(r"utility=SCE.*stage=pto|stage=pto.*utility=SCE"))
    expect(page.locator("a.stage[data-stage=pto] b")).to_have_text("1")

    page.click("#pipeline th a:has-text('Customer')")
    expect(page).to_have_url(re.compile(r"sort=customer"))
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Customer")
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"sort=customer"))
    # the page itself, not just the address bar, must be back (reloaded from the server)
    expect(page.locator("th[aria-sort=ascending]")).to_have_count(0)
    expect(rows(page)).to_have_count(1)
    page.wait_for_load_state()
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"stage=pto"))
    expect(rows(page)).to_have_count(2)


def test_edit_through_a_validation_error_then_add_a_note(page, users):
    p = make_project(external_id="EDIT1", customer_name="Ana", coordinator=users["maria"])
    sign_in(page, "maria@example.com")
    page.click("text=EDIT1")
    page.click("#facts >> text=Edit")
    page.fill("input[name=customer_name]", "Ana Morris")
    page.fill("input[name=customer_email]", "ana-at-example")
    page.click("#facts button[type=submit]")
    expect(page.locator("#err-customer_email")).to_contain_text("is not a valid email address")
    expect(page.locator("input[name=customer_name]")).to_have_value("Ana Morris")  # nothing lost
    assert Project.get_by_id(p.id).customer_name == "Ana"
    page.fill("input[name=customer_email]", "ana@example.net")
    page.click("#facts button[type=submit]")
    expect(page.locator("#facts")).to_contain_text("Saved")
    expect(page.locator("#facts")).to_contain_text("ana@example.net")
    expect(page.locator("#keyline h1")).to_contain_text("Ana Morris")  # the header follows the edit
    expect(page.locator("#timeline")).to_contain_text("Updated customer, email")

    page.click("#timeline button[type=submit]")
    expect(page.locator("#timeline .error")).to_contain_text("a note cannot be empty")
    page.fill("#note-body", "Called SCE: application in engineering review.")
    page.click("#timeline button[type=submit]")
    expect(page.locator("#timeline .events li").first).to_contain_text("engineering review")
    assert Event.select().where(Event.project == p.id, Event.kind == "note").count() == 1


def test_lead_imports_a_csv_with_one_bad_row(page, users, tmp_path):
    header = ",".join(COLUMNS)
    good = "3763MORR,Olivia Morrison,olivia@example.net,,,Oakland,CA,94610,PG&E,,pv,7.6,6.0,,,,,,"
    bad = "9999NOPE,Bad Row,,,,,,,Acme Power,,pv,,,,,,,,"
    path = tmp_path / "projects.csv"
    path.write_text(f"{header}\n{good}\n{bad}\n")
    sign_in(page, "lead@example.com")
    page.click("nav >> text=Import")
    page.set_input_files("input[type=file]", str(path))
    page.click("text=Upload and check")
    expect(page.locator("#import-summary")).to_contain_text("1 to create")
    expect(page.locator("#import-errors")).to_contain_text("unknown utility 'Acme Power'")
    expect(page.locator("#import-errors td").first).to_have_text("3")
    page.click("text=Apply import")
    expect(page.locator("#import-summary")).to_contain_text("1 created")
    page.click("text=Open the pipeline")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("3763MORR")


def test_checklist_tab_waive_and_edit_preview(page, users):
    from models import checklists
    p = make_project(external_id="CHK1", utility="PGE", state="CA", product_type="pv", pv_kw_ac=6.0,
                     coordinator=users["maria"])
    checklists.sync(p)
    sign_in(page, "maria@example.com")
    page.goto(f"/projects/{p.id}")
    page.click("nav.tabs >> text=Checklist")
    row = page.locator("#app-utility_part1 tr", has_text="Customer authorization").first
    expect(row).to_contain_text("PGE-PART1-SHORT")
    row.locator("select[name=status]").select_option("waived")
    row.locator("button", has_text="Set").click()
    expect(page.locator("#app-utility_part1 .error")).to_contain_text("say why")
    row = page.locator("#app-utility_part1 tr", has_text="Customer authorization").first
    row.locator("input[name=reason]").fill("Signed A&A already on file with PG&E")
    row.locator("button", has_text="Set").click()
    expect(page.locator("#app-utility_part1 tr", has_text="Customer authorization").first).to_contain_text("Waived")

    page.click("nav.tabs >> text=Overview")
    page.click("#facts >> text=Edit")
    page.select_option("select[name=product_type]", "pv_battery")
    page.fill("input[name=battery_kwh]", "13.5")
    page.locator("input[name=battery_kwh]").dispatch_event("change")
    expect(page.locator("#checklist-preview")).to_contain_text("79-1174-02")
    page.click("#facts button[type=submit]")
    expect(page.locator("#facts")).to_contain_text("Saved")
    page.click("nav.tabs >> text=Checklist")
    expect(page.locator("#app-utility_part1")).to_contain_text("Battery technical data")
