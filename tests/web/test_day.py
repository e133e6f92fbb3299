"""Application actions on the project page, the day page's inline and bulk actions, the leads' page."""
from __future__ import annotations

import datetime as dt

import pytest

from models import Application, ChecklistItem, DayAction, Event, Project
from models.applications import file_application
from models.base import today as desk_today
from tests.conftest import login
from tests.factories import make_project

HX = {"HX-Request": "true"}


@pytest.fixture
def maria(client, users):
    return login(client, users["maria"])


def test_submit_then_refused_move_shows_what_is_allowed(maria, users):
    p = make_project(coordinator=users["maria"])
    resp = maria.post(f"/projects/{p.id}/applications", data={"kind": "utility_part1"}, headers=HX)
    assert resp.status_code == 200 and "project-changed" in resp.headers["HX-Trigger"]
    app = Application.get(Application.project == p)
    resp = maria.post(f"/applications/{app.id}/transition", headers=HX,
                      data={"to": "SUBMITTED", "reference": "PGE-INT-77", "sent": "A&A + SLD", "on": ""})
    assert resp.status_code == 200 and "PGE-INT-77" in resp.get_data(as_text=True)
    resp = maria.post(f"/applications/{app.id}/transition", headers=HX, data={"to": "PTO_GRANTED"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "PTO_GRANTED is not a status of a utility part1 application" in body
    resp = maria.post(f"/applications/{app.id}/transition", headers=HX,
                      data={"to": "RESUBMITTED", "why": "typo"})
    assert resp.status_code == 422 and "allowed next:" in resp.get_data(as_text=True)
    assert Application.get_by_id(app.id).status == "SUBMITTED"


def test_future_dates_are_refused(maria, users):
    p = make_project(coordinator=users["maria"])
    app = file_application(p, "utility_part1", "DRAFT")
    future = (desk_today() + dt.timedelta(days=10)).isoformat()
    resp = maria.post(f"/applications/{app.id}/transition", data={"to": "SUBMITTED", "on": future}, headers=HX)
    assert resp.status_code == 422 and "is in the future" in resp.get_data(as_text=True)


def test_log_contact_and_reopen(maria, users):
    p = make_project(coordinator=users["maria"])
    app = file_application(p, "utility_part1", "WITHDRAWN")
    assert maria.post(f"/applications/{app.id}/reopen", data={"why": ""}, headers=HX).status_code == 422
    assert maria.post(f"/applications/{app.id}/reopen", data={"why": "signed again"}, headers=HX).status_code == 200
    assert maria.post(f"/applications/{app.id}/contact", data={"channel": "portal", "note": "in review"},
                      headers=HX).status_code == 200
    assert Event.select().where(Event.kind == "contact").get().summary == "Portal about Utility Part 1"


def test_others_cannot_move_an_application(maria, users):
    p = make_project(coordinator=users["james"])
    app = file_application(p, "utility_part1", "DRAFT")
    assert maria.post(f"/applications/{app.id}/transition", data={"to": "SUBMITTED"}).status_code == 403


def overdue(users, coordinator="maria"):
    p = make_project(coordinator=users[coordinator], external_id=f"OD-{coordinator}")
    file_application(p, "utility_part1", "SUBMITTED", on=desk_today() - dt.timedelta(days=40))
    return p


def test_day_page_and_count(maria, users):
    overdue(users)
    overdue(users, "james")
    page = maria.get("/day").get_data(as_text=True)
    assert "OD-maria" in page and "OD-james" not in page and "past its SLA" in page
    assert maria.get("/day/count").get_data(as_text=True) == '<span class="count" id="day-count">2</span>'
    frag = maria.get("/day?kind=breach", headers=HX).get_data(as_text=True)
    assert "<html" not in frag and "Follow up on" not in frag


def test_row_actions_log_snooze_done(maria, users):
    p = overdue(users)
    app = Application.get(Application.project == p)
    follow_key = f"follow_up:{app.id}:{app.next_follow_up_on}"
    breach_key = f"breach:{app.id}:{app.due_on}"
    resp = maria.post("/day/act", data={"key": follow_key, "action": "log", "channel": "call",
                                        "note": "Rep says engineering next week"}, headers=HX)
    assert resp.status_code == 200 and follow_key not in resp.get_data(as_text=True)
    resp = maria.post("/day/act", data={"key": breach_key, "action": "snooze", "until": "", "reason": "x"}, headers=HX)
    assert resp.status_code == 422 and "give the date to snooze until" in resp.get_data(as_text=True)
    until = (desk_today() + dt.timedelta(days=2)).isoformat()
    resp = maria.post("/day/act", data={"key": breach_key, "action": "snooze", "until": until,
                                        "reason": "rep on leave"}, headers=HX)
    assert resp.status_code == 200 and breach_key not in resp.get_data(as_text=True)
    assert DayAction.get(DayAction.key == breach_key).reason == "rep on leave"


def test_bulk_snooze_and_reassign_by_a_lead(client, users):
    a, b = overdue(users), overdue(users, "james")
    login(client, users["lead"])
    keys = [f"breach:{x.id}:{x.due_on}" for x in Application.select()]
    until = (desk_today() + dt.timedelta(days=3)).isoformat()
    resp = client.post("/day/bulk", data={"keys": keys, "action": "snooze", "until": until, "reason": "holiday week",
                                          "who": "all"}, headers=HX)
    assert resp.status_code == 200 and DayAction.select().count() == 2
    resp = client.post("/day/bulk", data={"keys": keys, "action": "reassign", "coordinator": str(users["maria"].id)},
                       headers=HX)
    assert resp.status_code == 200
    assert {p.coordinator_id for p in Project.select()} == {users["maria"].id}
    assert client.get("/leads").status_code == 200


def test_coordinators_cannot_bulk_reassign(maria, users):
    overdue(users)
    app = Application.get()
    resp = maria.post("/day/bulk", data={"keys": [f"breach:{app.id}:{app.due_on}"], "action": "reassign",
                                         "coordinator": str(users["james"].id)})
    assert resp.status_code == 403
    assert maria.get("/leads").status_code == 403


def test_leads_escalations_reassign(client, users):
    p = overdue(users)
    p.flag("stuck", users["maria"])
    login(client, users["lead"])
    page = client.get("/leads?older=0").get_data(as_text=True)
    assert "OD-maria" in page and "Flagged" in page
    resp = client.post("/leads/reassign", data={"projects": [str(p.id)], "coordinator": str(users["james"].id)})
    assert resp.status_code == 303 and Project.get_by_id(p.id).coordinator_id == users["james"].id
    assert client.post("/leads/reassign", data={"coordinator": ""}).status_code == 422


def test_requested_document_puts_the_ball_with_the_customer(maria, users):
    p = make_project(coordinator=users["maria"])
    file_application(p, "utility_part1", "DRAFT")
    item = ChecklistItem.create(project=p, application="utility_part1", doc_type="UTILITY_BILL",
                                label="Utility bill", rule_id="x")
    assert Project.get_by_id(p.id).ball_in_court == "us"
    maria.post(f"/checklist/{item.id}", data={"status": "requested"}, headers=HX)
    assert Project.get_by_id(p.id).ball_in_court == "customer"
    assert ChecklistItem.get_by_id(item.id).next_reminder_on is not None


def test_done_on_a_follow_up_restarts_its_clock(maria, users):
    p = overdue(users)
    app = Application.get(Application.project == p)
    key = f"follow_up:{app.id}:{app.next_follow_up_on}"
    maria.post("/day/act", data={"key": key, "action": "done", "channel": "call"}, headers=HX)
    app = Application.get_by_id(app.id)
    assert app.last_contact_on == desk_today() and app.next_follow_up_on > desk_today()
    assert not DayAction.select().where(DayAction.key == key).exists()


def test_leads_page_queries_do_not_grow_with_escalations(client, users):
    from models.base import db as proxy
    from tests.web.test_projects import QueryCounter
    login(client, users["lead"])

    def queries():
        with QueryCounter(proxy.obj) as counter:
            assert client.get("/leads?older=0").status_code == 200
        return counter.count
    overdue(users)
    few = queries()
    for n in range(15):
        x = make_project(coordinator=users["james"], external_id=f"X{n}")
        file_application(x, "utility_part1", "SUBMITTED", on=desk_today() - dt.timedelta(days=40))
    assert queries() <= few + 2


def test_call_back_row_logs_the_new_call_and_leaves_the_day(maria, users):
    from models import CallLog, Contact
    from models.base import today
    p = make_project(coordinator=users["maria"], customer_email="olivia@example.net")
    contact = Contact.create(project=p, name="Olivia", role="customer", email="olivia@example.net")
    old = CallLog.create(project=p, contact=contact, direction="outbound", outcome="voicemail", notes="x",
                         follow_up_on=today(), user=users["maria"])
    key = f"call_back:{old.id}:{old.follow_up_on}"
    assert key in maria.get("/day", headers=HX).get_data(as_text=True)
    resp = maria.post("/day/act", headers=HX, data={"key": key, "action": "log", "channel": "call",
                                                    "note": "reached her, bill coming"})
    assert resp.status_code == 200 and key not in resp.get_data(as_text=True)
    assert CallLog.select().count() == 2 and Event.select().where(Event.kind == "call").count() == 1


def test_desk_wide_day_list_queries_do_not_grow_with_projects(client, users):
    """Everyone's day list, a page far down it, its count and the leads' page: the same queries at any size."""
    from models.base import db as proxy
    from tests.web.test_projects import QueryCounter
    login(client, users["lead"])
    pages = ("/day?who=all", "/day?who=all&page=2", "/day?who=all&q=x1&sort=project", "/day/count", "/leads")

    def queries():
        out = []
        for url in pages:
            with QueryCounter(proxy.obj) as counter:
                assert client.get(url, headers=HX).status_code == 200
            out.append(counter.count)
        return out

    def grow(start, stop):
        for n in range(start, stop):
            x = make_project(coordinator=users["james" if n % 2 else "maria"], external_id=f"X{n}")
            file_application(x, "utility_part1", "SUBMITTED", on=desk_today() - dt.timedelta(days=40))
            if n % 3 == 0:
                x.flag("stuck", users["lead"])
    grow(0, 60)
    few = queries()
    grow(60, 180)
    assert queries() == few
    assert max(few) <= 20
