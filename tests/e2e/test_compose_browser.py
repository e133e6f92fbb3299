"""Compose, preview and send an email from a project, in a real browser."""
from __future__ import annotations

from playwright.sync_api import expect

from models import OutboundMessage
from tests.e2e.conftest import sign_in
from tests.factories import make_project


def test_compose_preview_send(page, users):
    p = make_project(external_id="MAIL1", coordinator=users["maria"], customer_name="Olivia Morrison",
                     customer_email="olivia@example.net")
    sign_in(page, "maria@example.com")
    page.goto(f"/projects/{p.id}")
    page.click("#write-email")
    page.select_option("#compose select[name=template]", "customer_status_update")
    page.click("#compose >> text=Use template")
    expect(page.locator("#compose-form textarea[name=body]")).to_contain_text("Hello Olivia")
    page.fill("#compose input[name=subject]", "Your project update")
    page.click("#compose button:has-text('Preview')")
    expect(page.locator("#mail-preview")).to_contain_text("To: olivia@example.net")
    expect(page.locator("#mail-preview")).to_contain_text("Subject: Your project update [IX-")
    page.click("#compose button:has-text('Send')")
    expect(page.locator("#compose .ok")).to_contain_text("Queued to olivia@example.net")
    expect(page.locator("#timeline")).to_contain_text("Email queued to olivia@example.net")
    expect(page.locator("#compose .sent")).to_be_visible()
    assert OutboundMessage.get().subject.startswith("Your project update [IX-")
