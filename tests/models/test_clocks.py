"""Business days over US federal holidays, SLA and follow-up dates, reminders, idempotent recomputation."""
from __future__ import annotations

import datetime as dt

import pytest

from models import Application, ChecklistItem, business_days as bd, clocks
from models.applications import file_application, recompute_clocks
from models.catalog_ref import current
from tests.factories import make_project

D = dt.date


@pytest.mark.parametrize("start, n, expected", [
    (D(2026, 11, 25), 1, D(2026, 11, 27)),   # Thanksgiving (Thu 26th) skipped
    (D(2026, 11, 27), 1, D(2026, 11, 30)),   # Friday -> Monday
    (D(2026, 7, 2), 1, D(2026, 7, 6)),       # Independence Day observed Fri 3rd, weekend
    (D(2026, 12, 24), 1, D(2026, 12, 28)),   # Christmas Friday
    (D(2026, 12, 31), 1, D(2027, 1, 4)),     # New Year's Day Friday, across the year
    (D(2026, 11, 2), 10, D(2026, 11, 17)),   # Veterans Day (Wed 11th) inside the span
    (D(2026, 11, 28), 0, D(2026, 11, 30)),   # a Saturday start rolls to Monday
    (D(2026, 11, 30), -1, D(2026, 11, 27)),
])
def test_add_business_days(start, n, expected):
    assert bd.add(start, n) == expected


def test_between_counts_business_days_both_ways():
    assert bd.between(D(2026, 11, 23), D(2026, 11, 30)) == 4  # Thanksgiving week
    assert bd.between(D(2026, 11, 30), D(2026, 11, 23)) == -4
    assert bd.between(D(2026, 11, 30), D(2026, 11, 30)) == 0
    assert not bd.is_business_day(D(2027, 1, 18))  # MLK Day 2027


def test_sla_from_the_catalog_default_and_deficiency_clock():
    pge, sce = current().utilities["PGE"], current().utilities["SCE"]
    c = clocks.compute("TECHNICAL_REVIEW", D(2026, 11, 2), None, pge, waiting_on_them=True)
    assert (c.due_step, c.due_on) == ("engineering", bd.add(D(2026, 11, 2), 15))
    c = clocks.compute("TECHNICAL_REVIEW", D(2026, 11, 2), None, sce, waiting_on_them=True)
    assert c.due_step == "default" and c.due_on == bd.add(D(2026, 11, 2), clocks.REVIEW_DEFAULT_BD)
    c = clocks.compute("DEFICIENT", D(2026, 11, 2), None, pge, waiting_on_them=False)
    assert c.due_step == "deficiency_response" and c.next_follow_up_on is None


def test_follow_up_counts_from_the_last_contact_either_way():
    pge = current().utilities["PGE"]
    c = clocks.compute("SUBMITTED", D(2026, 11, 2), D(2026, 11, 20), pge, waiting_on_them=True)
    assert c.next_follow_up_on == D(2026, 11, 30)  # 5 BD after the 20th, over Thanksgiving


def test_expiry_window_where_the_catalog_has_one():
    heco = current().utilities["HECO"]
    c = clocks.compute("APPROVED_TO_INSTALL", D(2026, 1, 5), None, heco, waiting_on_them=False)
    assert c.expires_on == D(2026, 1, 5) + dt.timedelta(days=548)


def test_customer_reminders_at_2_5_10_business_days():
    start = D(2026, 11, 2)
    assert [clocks.next_reminder(start, n) for n in range(4)] == [
        D(2026, 11, 4), D(2026, 11, 9), D(2026, 11, 17), None]


def test_recompute_is_idempotent(db, users):
    p = make_project(utility="PGE")
    app = file_application(p, "utility_part1", "SUBMITTED", on=D(2026, 11, 2))
    Application.update(due_on=None, next_follow_up_on=None).where(Application.id == app.id).execute()
    item = ChecklistItem.create(project=p, application="utility_part1", doc_type="UTILITY_BILL", label="Bill",
                                rule_id="x", status="requested", requested_on=D(2026, 11, 2))
    assert recompute_clocks() == 2
    assert recompute_clocks() == 0
    assert Application.get_by_id(app.id).due_on == D(2026, 11, 17)
    assert ChecklistItem.get_by_id(item.id).next_reminder_on == D(2026, 11, 4)


def test_follow_up_cadence_comes_from_the_catalog_when_set():
    heco = current().utilities["HECO"]
    assert heco.follow_up_business_days == 10
    c = clocks.compute("SUBMITTED", D(2026, 11, 2), None, heco, waiting_on_them=True)
    assert c.next_follow_up_on == bd.add(D(2026, 11, 2), 10)


def test_weekend_filing_counts_from_monday():
    assert bd.add(D(2026, 3, 7), 10) == bd.add(D(2026, 3, 9), 10) == D(2026, 3, 23)


def test_acknowledgement_does_not_restart_the_review_clock(db, users):
    p = make_project(utility="PGE")
    app = file_application(p, "utility_part1", "SUBMITTED", on=D(2026, 3, 2))
    assert app.due_on == D(2026, 3, 16)
    app.transition("COMPLETENESS_REVIEW", users["lead"], on=D(2026, 3, 12))
    assert Application.get_by_id(app.id).due_on == D(2026, 3, 16)
    app.transition("TECHNICAL_REVIEW", users["lead"], on=D(2026, 3, 13))  # a new step: its own clock
    assert Application.get_by_id(app.id).due_on == bd.add(D(2026, 3, 13), 15)


def test_expiry_runs_from_the_approval_through_the_agreement(db, users):
    p = make_project(utility="HECO", state="HI")
    app = file_application(p, "utility_part1", "TECHNICAL_REVIEW", on=D(2025, 1, 2))
    app.transition("APPROVED_TO_INSTALL", users["lead"], on=D(2025, 1, 6))
    assert Application.get_by_id(app.id).expires_on == D(2026, 7, 8)
    app = Application.get_by_id(app.id)
    app.transition("AGREEMENT_SENT", users["lead"], on=D(2025, 3, 1))
    app = Application.get_by_id(app.id)
    assert app.expires_on == D(2026, 7, 8)
    app.transition("AGREEMENT_EXECUTED", users["lead"], on=D(2025, 5, 1))
    assert Application.get_by_id(app.id).expires_on == D(2026, 7, 8)
