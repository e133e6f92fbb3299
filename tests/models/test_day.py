"""My day: what shows up, in which order, and how snoozing and finishing hide it."""
from __future__ import annotations

import datetime as dt

import pytest

from models import Application, ChecklistItem, Event, day
from models.applications import file_application
from tests.factories import make_project

TODAY = dt.date(2026, 11, 30)


def setup_desk(users):
    maria = users["maria"]
    late = make_project(external_id="LATE", coordinator=maria, utility="PGE")
    file_application(late, "utility_part1", "SUBMITTED", on=dt.date(2026, 10, 1))  # SLA and follow-up overdue
    fresh = make_project(external_id="FRESH", coordinator=maria)
    file_application(fresh, "utility_part1", "SUBMITTED", on=TODAY)  # nothing due
    deficient = make_project(external_id="DEF", coordinator=maria)
    file_application(deficient, "utility_part1", "DEFICIENT", on=dt.date(2026, 11, 20))
    docs = make_project(external_id="DOCS", coordinator=maria)
    ChecklistItem.create(project=docs, application="utility_part1", doc_type="UTILITY_BILL", label="Utility bill",
                         rule_id="x", status="requested", requested_on=dt.date(2026, 11, 24),
                         next_reminder_on=dt.date(2026, 11, 27))
    ChecklistItem.create(project=docs, application="utility_part1", doc_type="SLD", label="SLD", rule_id="x",
                         status="received")
    others = make_project(external_id="OTHER", coordinator=users["james"])
    file_application(others, "utility_part1", "SUBMITTED", on=dt.date(2026, 10, 1))
    flagged = make_project(external_id="FLAG", coordinator=maria)
    flagged.flag("Customer unreachable", maria)


def test_items_are_collected_and_sorted_by_urgency(db, users):
    setup_desk(users)
    items = day.today_for(users["maria"], TODAY)
    kinds = [(i.kind, i.project.external_id) for i in items]
    assert ("breach", "LATE") in kinds and ("follow_up", "LATE") in kinds
    assert ("deficiency", "DEF") in kinds and ("reminder", "DOCS") in kinds and ("review", "DOCS") in kinds
    assert ("flag", "FLAG") in kinds
    assert not any(pid in ("FRESH", "OTHER") for _, pid in kinds)
    assert items[0].project.external_id == "LATE"  # the latest item comes first
    lates = [i.late_by(TODAY) for i in items]
    assert lates == sorted(lates, reverse=True)
    assert {i.project.external_id for i in day.today_for(None, TODAY)} >= {"LATE", "OTHER"}


def test_snooze_hides_until_the_date_and_done_hides_that_occurrence(db, users):
    setup_desk(users)
    items = {i.kind: i for i in day.today_for(users["maria"], TODAY)}
    with pytest.raises(ValueError, match="say why"):
        day.snooze([items["breach"].key], TODAY + dt.timedelta(days=3), "", users["maria"], TODAY)
    with pytest.raises(ValueError, match="after today"):
        day.snooze([items["breach"].key], TODAY, "x", users["maria"], TODAY)
    day.snooze([items["breach"].key], TODAY + dt.timedelta(days=3), "Utility rep on leave", users["maria"], TODAY)
    day.finish([items["review"].key], users["maria"])
    now = {i.kind for i in day.today_for(users["maria"], TODAY)}
    assert "breach" not in now and "review" not in now and "follow_up" in now
    later = {i.kind for i in day.today_for(users["maria"], TODAY + dt.timedelta(days=3))}
    assert "breach" in later and "review" not in later
    assert Event.select().where(Event.kind == "snooze").get().body == "Utility rep on leave"


def test_logging_a_contact_moves_the_follow_up_off_today(db, users):
    setup_desk(users)
    follow = next(i for i in day.today_for(users["maria"], TODAY) if i.kind == "follow_up")
    follow.application.log_contact(users["maria"], "call", "In engineering review", on=TODAY)
    app = Application.get_by_id(follow.application.id)
    assert app.next_follow_up_on == dt.date(2026, 12, 7)
    assert not any(i.kind == "follow_up" and i.project.external_id == "LATE"
                   for i in day.today_for(users["maria"], TODAY))


def test_reminders_step_through_2_5_10_days(db, users):
    setup_desk(users)
    item = ChecklistItem.get(ChecklistItem.status == "requested")
    item.log_reminder(users["maria"], "sms")
    # 5 BD, over Thanksgiving; never earlier than the next business day after the reminder really went.
    from models import business_days
    from models.base import today
    expected = max(dt.date(2026, 12, 2), business_days.add(today(), 1))
    assert ChecklistItem.get_by_id(item.id).next_reminder_on == expected


def test_load_and_escalations(db, users):
    setup_desk(users)
    rows = {r["user"].email: r for r in day.load(TODAY)}
    assert rows["maria@example.com"]["open"] == 5 and rows["maria@example.com"]["breaches"] == 1
    esc = day.escalations(5, TODAY)
    assert {(i.kind, i.project.external_id) for i in esc} >= {("flag", "FLAG"), ("breach", "LATE"), ("breach", "OTHER")}
    assert all(i.kind != "follow_up" for i in esc)


def test_part1_is_quiet_once_part2_is_filed(db, users):
    p = make_project(external_id="P2", coordinator=users["maria"], utility="HECO", state="HI")
    file_application(p, "utility_part1", "AGREEMENT_EXECUTED", on=dt.date(2025, 1, 2))
    file_application(p, "utility_part2", "METER_ORDERED", on=TODAY)
    assert [i for i in day.today_for(users["maria"], TODAY) if i.application and
            i.application.kind == "utility_part1"] == []


def test_a_second_deficiency_the_same_day_shows_again(db, users):
    p = make_project(external_id="D2", coordinator=users["maria"])
    app = file_application(p, "utility_part1", "SUBMITTED", on=TODAY)
    app.transition("DEFICIENT", users["maria"], deficiencies=["one"], on=TODAY)
    first = next(i for i in day.today_for(users["maria"], TODAY) if i.kind == "deficiency")
    day.finish([first.key], users["maria"])
    app = Application.get_by_id(app.id)
    app.transition("RESUBMITTED", users["maria"], on=TODAY)
    app = Application.get_by_id(app.id)
    app.transition("DEFICIENT", users["maria"], deficiencies=["two"], on=TODAY)
    assert any(i.kind == "deficiency" for i in day.today_for(users["maria"], TODAY))
