"""Automatic reminders: opt-in per project, Auto-Submitted, never to bouncing addresses, one a day per address."""
from __future__ import annotations

import datetime as dt

from models import Application, ChecklistItem, Contact, OutboundMessage, checklists
from models.base import today
from models.messages import add_contact
from outbox import compose
from outbox.reminders import send_due
from tests.conftest import login
from tests.factories import make_project


def due_project(**fields):
    p = make_project(customer_email="ana@example.net", auto_reminders=True, **fields)
    checklists.sync(p)
    item = ChecklistItem.select().where(ChecklistItem.project == p).first()
    item.status, item.requested_on, item.next_reminder_on = "requested", today() - dt.timedelta(days=7), today()
    item.save()
    return p, item


def test_a_due_document_reminder_goes_once_a_day_marked_automatic(db):
    p, item = due_project()
    due_project()  # the same customer on a second project (a re-do)
    ids = send_due()
    assert len(ids) == 1, "one automatic message per recipient per day, even across projects"
    msg = OutboundMessage.get_by_id(ids[0])
    assert msg.automatic and msg.recipients == ["ana@example.net"] and msg.template == "request_documents"
    built = compose.build(msg, "Desk <desk@sunrise.example>", "desk@sunrise.example")
    assert built["Auto-Submitted"] == "auto-generated"
    reminded = ChecklistItem.get_by_id(item.id)
    assert reminded.reminders_sent == 1 and reminded.next_reminder_on > today()
    assert send_due() == []  # the same day again: nothing


def test_never_to_a_bouncing_address_nor_without_opt_in(db):
    p, _ = due_project()
    from models.messages import contacts_for
    customer = contacts_for(p)[0]
    customer.mark_bouncing("550 5.1.1 no such user")
    assert send_due() == []
    quiet, _ = due_project()
    quiet.auto_reminders = False
    quiet.save()
    assert send_due() == []
    assert OutboundMessage.select().count() == 0


def test_utility_follow_up_goes_to_the_utility_contact_and_restarts_the_clock(db):
    p = make_project(auto_reminders=True)
    add_contact(p, "Rita Rep", "utility", "rep@pge.com")
    app = Application.create(project=p, kind="utility_part1", status="SUBMITTED", reference_number="PGE-INT-300000001",
                             submitted_on=today() - dt.timedelta(days=20), status_changed_on=today() - dt.timedelta(days=20),
                             next_follow_up_on=today() - dt.timedelta(days=1))
    ids = send_due()
    msg = OutboundMessage.get_by_id(ids[0])
    assert msg.recipients == ["rep@pge.com"] and msg.application_id == app.id and "PGE-INT-300000001" in msg.body
    assert Application.get_by_id(app.id).last_contact_on == today()
    assert Application.get_by_id(app.id).next_follow_up_on > today()


def test_toggle_on_the_project_page(client, users):
    login(client, users["maria"])
    p = make_project(coordinator=users["maria"])
    resp = client.post(f"/projects/{p.id}/auto-reminders", data={"on": "1"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "Automatic reminders: <b>on</b>" in resp.get_data(as_text=True)
    p = type(p).get_by_id(p.id)
    assert p.auto_reminders
    client.post(f"/projects/{p.id}/auto-reminders", data={"on": "0"})
    assert not type(p).get_by_id(p.id).auto_reminders


def test_a_bounce_coming_back_stops_the_next_automatic_reminder(db):
    """Send, the receiving server bounces it (DSN through the inbox pipeline), the next day's reminder skips."""
    from inbox.intake import run_now
    from inbox.pipeline import Intake
    from inbox.store import store
    p, item = due_project()
    first = OutboundMessage.get_by_id(send_due()[0])
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\nTo: desk@sunrise.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; ana@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {first.message_id}\r\n"
        f"Subject: {first.subject}\r\n--B--\r\n").encode()
    got = run_now(store(dsn, "cli").mail, Intake())
    assert (got.kind, got.state, got.project_id) == ("bounce", "processed", p.id)
    assert OutboundMessage.get_by_id(first.id).state == "failed"
    customer = Contact.get((Contact.project == p) & (Contact.email == "ana@example.net"))
    assert customer.bouncing_since is not None and "5.1.1" in customer.bounce_reason
    ChecklistItem.update(next_reminder_on=today()).where(ChecklistItem.id == item.id).execute()
    from models.base import utcnow
    OutboundMessage.update(created_at=utcnow() - dt.timedelta(days=2)).execute()  # as if sent two days ago
    assert send_due() == []
