"""The shared inbox in a real browser: upload a mail, triage a suggestion, link an unmatched mail."""
from __future__ import annotations

from playwright.sync_api import expect

from models import Application
from models.messages import add_contact
from tests.e2e.conftest import sign_in
from tests.factories import make_project

PTO_NOTICE = (b"From: Rita <rita@pge.com>\r\nTo: desk@example.com\r\nSubject: Permission to Operate granted\r\n"
              b"Message-ID: <pto-1@pge.com>\r\n\r\nYou have permission to operate your system.\r\n")
STRAY = (b"From: Olivia Morrison <olivia@gmail.example>\r\nTo: desk@example.com\r\nSubject: question about panels\r\n"
         b"Message-ID: <stray-1@gmail.example>\r\n\r\nWhen will my panels be installed?\r\n")


def test_upload_then_accept_the_suggested_change(page, users, tmp_path):
    p = make_project(external_id="TRI1")
    app = Application.create(project=p, kind="utility_part2", status="METER_INSTALLED")
    add_contact(p, "Rita", "utility", "rita@pge.com")
    eml = tmp_path / "pto.eml"
    eml.write_bytes(PTO_NOTICE)
    sign_in(page, "lead@example.com")
    page.goto("/inbox")
    page.set_input_files("input[name=files]", str(eml))
    page.click("form.eml-upload button")
    expect(page.locator("#triage")).to_contain_text("Needs review")
    expect(page.locator("#triage .suggested")).to_contain_text("METER_INSTALLED → PTO_GRANTED")
    page.click("#triage button:has-text('Accept and apply')")
    expect(page.locator("#triage .ok")).to_contain_text("Applied")
    expect(page.locator("#triage")).to_contain_text("Processed")
    assert Application.get_by_id(app.id).status == "PTO_GRANTED"
    page.click("#triage a:has-text('TRI1')")
    expect(page.locator("#timeline")).to_contain_text("Meter installed → PTO granted")


def test_filter_unmatched_and_link_from_a_suggestion(page, users, tmp_path):
    make_project(external_id="OLIV1", customer_name="Olivia Morrison")
    eml = tmp_path / "stray.eml"
    eml.write_bytes(STRAY)
    sign_in(page, "maria@example.com")
    page.goto("/inbox")
    page.set_input_files("input[name=files]", str(eml))
    page.click("form.eml-upload button")
    page.goto("/inbox")
    page.click("nav.stages a:has-text('Unmatched')")
    page.wait_for_url("**/inbox?state=unmatched")
    page.click("#mail a:has-text('question about panels')")
    page.click("#triage button:has-text('Link to OLIV1')")
    expect(page.locator("#triage .ok")).to_contain_text("Linked to OLIV1")
    page.go_back()
    expect(page.locator("#mail")).to_be_visible()
