"""A lead reads the dashboard in a real browser: charts, a change of period, a drill-down to the projects."""
from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from models.applications import file_application
from models.base import today as desk_today
from tests.e2e.conftest import sign_in
from tests.factories import make_project


def approved(name: str, utility: str, coordinator, submitted: dt.date, decided: dt.date):
    p = make_project(external_id=name, customer_name=f"Customer {name}", utility=utility, coordinator=coordinator,
                     contract_signed_on=submitted)
    app = file_application(p, "utility_part1", "DRAFT", on=submitted)
    app.transition("SUBMITTED", coordinator, on=submitted)
    app.transition("APPROVED_TO_INSTALL", coordinator, on=decided)
    return p


def settled(page) -> None:
    """htmx wires swapped-in controls when the swap settles; a person is never faster than that, a test is."""
    expect(page.locator("#dashboard")).not_to_have_class(re.compile("htmx-(settling|swapping|request)"))


def test_lead_changes_the_period_and_drills_into_a_number(page, users):
    today = desk_today()
    approved("RECENT1", "PGE", users["maria"], today - dt.timedelta(days=20), today - dt.timedelta(days=6))
    approved("OLDER1", "SCE", users["james"], today - dt.timedelta(days=75), today - dt.timedelta(days=60))
    sign_in(page, "lead@example.com")
    page.click("header nav >> text=Dashboard")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    chart = page.get_by_role("img", name=re.compile("Median business days from Part 1 submitted to approved"))
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("aria-describedby", "chart-turnaround-desc")
    expect(page.locator("#chart-turnaround-desc")).to_contain_text("Southern California Edison")
    table = page.locator("#turnaround-table tbody")
    expect(table).to_contain_text("Pacific Gas and Electric Company")
    expect(table).to_contain_text("Southern California Edison")

    page.click("#preset-30d")
    expect(page).to_have_url(re.compile(r"preset=30d"))
    expect(page.locator("#preset-30d")).to_have_attribute("aria-pressed", "true")
    expect(table).not_to_contain_text("Southern California Edison")  # approved 60 days ago
    expect(page.locator("#dash-from")).to_have_value((today - dt.timedelta(days=29)).isoformat())
    settled(page)

    page.fill("#dash-to", (today - dt.timedelta(days=40)).isoformat())
    expect(page.locator("#dash-errors")).to_contain_text("The end date is before the start date.")
    expect(page.locator("#dash-to")).to_have_value((today - dt.timedelta(days=40)).isoformat())  # input kept
    settled(page)
    page.fill("#dash-from", (today - dt.timedelta(days=89)).isoformat())
    expect(page.locator("#dash-errors")).to_have_count(0)
    expect(page.locator("#turnaround-table tbody")).to_contain_text("Southern California Edison")
    expect(page.locator("#turnaround-table tbody")).not_to_contain_text("Pacific Gas and Electric Company")
    expect(page).to_have_url(re.compile(r"from=.*to="))
    settled(page)

    page.click("#preset-90d")
    expect(page).to_have_url(re.compile(r"preset=90d"))
    row = page.locator("#turnaround-table tbody tr", has_text="Pacific Gas and Electric Company")
    row.locator("td").first.locator("a").click()  # Part 1 approvals: 1
    expect(page).to_have_url(re.compile(r"/dashboard/drill\?.*metric=part1"))
    expect(page.locator("h1")).to_contain_text("Part 1 submitted → approved")
    expect(page.locator("#drill tbody tr")).to_have_count(1)
    expect(page.locator("#drill tbody")).to_contain_text("RECENT1")
    page.click("#drill >> text=RECENT1")
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    expect(page.locator("#keyline h1")).to_contain_text("Customer RECENT1")
