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


def _walked_list(user, today):
    """The day list as it was built before it moved to SQL: every candidate row in Python, sorted by a walk."""
    from models.applications import status_label
    from models.inbound import InboundMail
    from models.lifecycle import TERMINAL
    from models.messages import CallLog, Contact
    from models.projects import Project

    def mine(query):
        return query.where(Project.coordinator == user) if user is not None else query
    items = []
    apps = mine(Application.select(Application, Project).join(Project)
                .where(Application.status.not_in(tuple(TERMINAL))))
    filed = {a.project_id for a in Application.select().where(
        Application.kind == "utility_part2", Application.status.not_in(("DRAFT", "AWAITING_COMPLETION_DOCS")))}
    for a in apps:
        if a.kind == "utility_part1" and a.project_id in filed:
            continue
        p, label = a.project, f"{a.kind_label} ({status_label(a.kind, a.status)})"
        ref = f" {a.reference_number}" if a.reference_number else ""
        if a.status == "DEFICIENT":
            items.append(day.DayItem(f"deficiency:{a.id}:{a.updated_at:%Y%m%d%H%M%S%f}", "deficiency", p,
                                     f"Correct and resubmit {a.kind_label}{ref}", "", a.due_on, a))
        elif a.due_on and a.due_on < today:
            items.append(day.DayItem(f"breach:{a.id}:{a.due_on}", "breach", p, f"{label}{ref} is past its SLA", "",
                                     a.due_on, a))
        if a.next_follow_up_on and a.next_follow_up_on <= today and a.status != "DEFICIENT":
            items.append(day.DayItem(f"follow_up:{a.id}:{a.next_follow_up_on}", "follow_up", p,
                                     f"Follow up on {label}{ref}", "", a.next_follow_up_on, a))
        if a.expires_on and a.expires_on <= today + dt.timedelta(days=30) and not p.installed_on:
            items.append(day.DayItem(f"expiring:{a.id}:{a.expires_on}", "expiring", p,
                                     f"{label} expires {a.expires_on}", "", a.expires_on, a))
    for i in mine(ChecklistItem.select(ChecklistItem, Project).join(Project).where(ChecklistItem.required == True)):  # noqa: E712
        if i.status == "requested" and i.next_reminder_on and i.next_reminder_on <= today:
            items.append(day.DayItem(f"reminder:{i.id}:{i.next_reminder_on}", "reminder", i.project,
                                     f"Remind the customer: {i.label}", "", i.next_reminder_on, item=i))
        elif i.status == "received":
            items.append(day.DayItem(f"review:{i.id}:{i.updated_at:%Y%m%d%H%M%S}", "review", i.project,
                                     f"Review {i.label}", "", i.updated_at.date(), item=i))
    for c in mine(CallLog.select(CallLog, Project).join(Project).where(CallLog.follow_up_on <= today)):
        who = Contact.get_or_none(Contact.id == c.contact_id) if c.contact_id else None
        items.append(day.DayItem(f"call_back:{c.id}:{c.follow_up_on}", "call_back", c.project,
                                 f"Call back {who.label if who else 'the contact'}", "", c.follow_up_on))
    for m in mine(InboundMail.select(InboundMail, Project).join(Project, on=(InboundMail.project == Project.id))
                  .where(InboundMail.state == "needs_review", InboundMail.handled_at.is_null())):
        items.append(day.DayItem(f"mail:{m.id}:{m.version}", "mail", m.project, f"Review mail: {m.subject[:120]}",
                                 "", m.received_at.date()))
    for p in mine(Project.select().where(Project.flagged_at.is_null(False))):
        items.append(day.DayItem(f"flag:{p.id}:{p.flagged_at:%Y%m%d%H%M%S}", "flag", p, "Flagged to a lead", "",
                                 p.flagged_at.date()))
    gone = {a.key for a in day.DayAction.select() if a.action == "done" or (a.until and a.until > today)}

    def late_by(i):  # the day-by-day walk the list used to sort with
        from tests.models.test_business_days import walk_between
        return walk_between(i.due, today) if i.due else 0
    return sorted((i for i in items if i.key not in gone),
                  key=lambda i: (-late_by(i), day.KIND_WEIGHT[i.kind], i.due or dt.date.max, i.project.id))


def random_desk(users, rng, n=40):
    """Projects with every kind of day item, due dates on weekends and around holidays, some hidden."""
    from models.inbound import InboundMail
    from models.messages import CallLog, Contact
    statuses = ("SUBMITTED", "COMPLETENESS_REVIEW", "TECHNICAL_REVIEW", "DEFICIENT", "APPROVED_TO_INSTALL",
                "RESUBMITTED", "PTO_GRANTED")
    for k in range(n):
        who = rng.choice([users["maria"], users["james"], None])
        p = make_project(external_id=f"R{k:03d}", customer_name=rng.choice(["Ana Lima", "bo_b 100%", "Zoë Park"]),
                         coordinator=who, installed_on=rng.choice([None, TODAY]))
        a = file_application(p, "utility_part1", rng.choice(statuses), on=TODAY - dt.timedelta(days=rng.randint(0, 40)))
        due = TODAY + dt.timedelta(days=rng.randint(-60, 5))
        Application.update(due_on=due, reference_number=rng.choice([None, "", f"REF-{k}"]),
                           next_follow_up_on=TODAY - dt.timedelta(days=rng.randint(-3, 30)),
                           expires_on=rng.choice([None, TODAY + dt.timedelta(days=rng.randint(-5, 60))])
                           ).where(Application.id == a.id).execute()
        if rng.random() < 0.3:
            file_application(p, "utility_part2", rng.choice(["DRAFT", "COMPLETION_SUBMITTED"]), on=TODAY)
        if rng.random() < 0.3:
            ChecklistItem.create(project=p, application="utility_part1", doc_type=f"D{k}", label=f"Doc {k}",
                                 rule_id="x", status=rng.choice(["requested", "received", "accepted"]),
                                 next_reminder_on=TODAY - dt.timedelta(days=rng.randint(-2, 9)))
        if rng.random() < 0.2:
            contact = rng.choice([None, Contact.create(project=p, name=rng.choice(["", "Pat"]), email="p@example.com",
                                                       role=rng.choice(["customer", "utility"]))])
            CallLog.create(project=p, contact=contact, notes="x", follow_up_on=TODAY - dt.timedelta(days=rng.randint(0, 9)))
        if rng.random() < 0.2:
            InboundMail.create(message_id=f"<{k}@x>", sha256=f"{k}", dedupe_key=f"{k}", size=1, source="cli",
                               state="needs_review", project=p, subject=f"Re: {k} " + "long " * 40)
        if rng.random() < 0.1:
            p.flag("stuck", users["maria"])
    keys = [i.key for i in _walked_list(None, TODAY)]
    for key in rng.sample(keys, len(keys) // 5):
        day.DayAction.create(key=key, project=day.project_of(key), user=users["maria"],
                             action=rng.choice(["done", "snooze"]), until=TODAY + dt.timedelta(days=rng.randint(-2, 3)))


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_day_list_equals_the_walked_python_list(db, users, seed):
    import random
    rng = random.Random(seed)
    random_desk(users, rng)
    for user in (None, users["maria"]):
        want = _walked_list(user, TODAY)
        got = day.today_for(user, TODAY)
        assert [(i.key, i.title) for i in got] == [(i.key, i.title) for i in want]
        listed = day.listing(user, TODAY, per_page=7, page=2)
        assert [i.key for i in listed.items] == [i.key for i in want[7:14]] and listed.total == len(want)
        assert listed.kinds == {k: sum(1 for i in want if i.kind == k) for k in day.KINDS}
        assert day.count(user, TODAY) == len(want)
        for q in ("r00", "ana", "follow up on", "bo_b", "100%", "ref-1", "review mail", "the contact"):
            found = day.listing(user, TODAY, q=q, per_page=500)
            assert [i.key for i in found.items] == [
                i.key for i in want if q in f"{i.project.external_id} {i.project.customer_name} {i.title}".lower()]
        by_due = day.listing(user, TODAY, sort="due", per_page=500).items
        assert [i.key for i in by_due] == [i.key for i in sorted(want, key=lambda i: (i.due or dt.date.max, i.project.id))]
        by_project = day.listing(user, TODAY, sort="project", per_page=500).items
        assert [i.key for i in by_project] == [i.key for i in sorted(
            want, key=lambda i: (i.project.customer_name.lower(), i.due or dt.date.max))]
    for older in (0, 1, 5, 20):
        want = [i for i in _walked_list(None, TODAY) if i.kind == "flag" or (i.kind == "breach" and i.late_by(TODAY) > older)]
        assert [i.key for i in day.escalations(older, TODAY)] == [i.key for i in want]
        assert day.escalation_count(older, TODAY) == len(want)
