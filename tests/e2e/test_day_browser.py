"""A coordinator works through the day page and moves an application, in a real browser."""
from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from models import Application, Event
from models.applications import file_application
from models.base import today as desk_today
from tests.e2e.conftest import sign_in
from tests.factories import make_project


def test_day_page_acts_on_a_row(page, users):
    late = make_project(external_id="LATE1", customer_name="Olivia Late", coordinator=users["maria"])
    file_application(late, "utility_part1", "SUBMITTED", on=desk_today() - dt.timedelta(days=40))
    other = make_project(external_id="LATE2", customer_name="Noah Later", coordinator=users["maria"])
    file_application(other, "ahj_permit", "SUBMITTED", on=desk_today() - dt.timedelta(days=30))
    sign_in(page, "maria@example.com")
    expect(page.locator("#day-count")).to_have_text("4")  # breach + follow-up for each
    page.click("header nav >> text=My day")
    rows = page.locator("#day-list tbody tr.day-row")
    expect(rows).to_have_count(4)
    follow = page.locator("tr.kind-follow_up", has_text="LATE1")
    follow.locator("input[name=note]").fill("Utility says engineering review next week")
    follow.locator("button[value=log]").click()
    expect(rows).to_have_count(3)
    expect(page.locator("#day-count")).to_have_text("3")  # the nav count follows
    breach = page.locator("tr.kind-breach", has_text="LATE2")
    breach.locator("input[name=reason]").fill("AHJ closed for the holiday")
    breach.locator("button[value=snooze]").click()
    expect(rows).to_have_count(2)
    page.locator("tr.day-row").first.locator("input[type=checkbox]").check()
    page.locator("#bulk input[name=reason]").fill("Waiting on the rep")
    page.locator("#bulk button[value=snooze]").click()
    expect(rows).to_have_count(1)
    assert Event.select().where(Event.kind == "contact").count() == 1
    assert Event.select().where(Event.kind == "snooze").count() == 2


def test_moving_an_application_through_a_refusal(page, users):
    p = make_project(external_id="APP1", coordinator=users["maria"], stage="intake")
    app = file_application(p, "utility_part1", "DRAFT")
    sign_in(page, "maria@example.com")
    page.goto(f"/projects/{p.id}")
    box = page.locator(f"#application-{app.id}")
    box.locator("summary").click()
    box.locator("select[name=to]").select_option("SUBMITTED")
    box.locator("input[name=reference]").fill("PGE-INT-4242")
    box.locator("input[name=sent]").fill("A&A, SLD, spec sheets")
    box.locator("form.move button.primary").click()
    expect(page.locator(f"#application-{app.id} .app-line")).to_contain_text("Submitted")
    expect(page.locator("#keyline")).to_contain_text("IX approval")  # the stage advanced
    expect(page.locator("#timeline")).to_contain_text("Utility Part 1: Draft → Submitted")
    box = page.locator(f"#application-{app.id}")
    box.locator("summary").click()
    box.locator("select[name=to]").select_option("AGREEMENT_EXECUTED")
    box.locator("form.move button.primary").click()
    expect(page.locator(f"#application-{app.id} .error")).to_contain_text("allowed next")
    box = page.locator(f"#application-{app.id}")
    box.locator("input[name=notice]").check()
    box.locator("form.move button.primary").click()
    expect(page.locator(f"#application-{app.id} .app-line")).to_contain_text("Agreement executed")
    assert Application.get_by_id(app.id).status == "AGREEMENT_EXECUTED"
    expect(page.locator("#timeline")).to_contain_text("skipped, not seen here")
