"""Composing email through the web: template fill, preview of the exact message, send, contacts."""
from __future__ import annotations

import pytest

from models import Contact, Event, OutboundMessage
from models.applications import file_application
from tests.conftest import login
from tests.factories import make_project

HX = {"HX-Request": "true"}


@pytest.fixture
def maria(client, users):
    return login(client, users["maria"])


def test_template_fills_the_panel_and_preview_shows_the_exact_message(maria, users):
    p = make_project(coordinator=users["maria"], customer_name="Olivia Morrison", customer_email="olivia@example.net")
    app = file_application(p, "utility_part1", "SUBMITTED", reference="PGE-INT-77")
    panel = maria.get(f"/projects/{p.id}/compose?template=request_documents", headers=HX).get_data(as_text=True)
    assert "Hello Olivia" in panel and 'value="olivia@example.net" checked' in panel
    resp = maria.post(f"/projects/{p.id}/compose/preview", headers=HX, data={
        "to": ["olivia@example.net"], "subject": "Documents needed", "body": "Hello Olivia", "application": str(app.id)})
    body = resp.get_data(as_text=True)
    assert "Subject: Documents needed [IX-" in body and "Reply-To: " in body and "+ix-" in body
    assert OutboundMessage.select().count() == 0  # a preview sends nothing


def test_send_queues_puts_it_on_the_timeline_and_keeps_input_on_errors(maria, users):
    p = make_project(coordinator=users["maria"], customer_email="olivia@example.net")
    bad = maria.post(f"/projects/{p.id}/compose/send", headers=HX, data={"to": [], "subject": "Hi", "body": "kept text"})
    assert bad.status_code == 422 and "choose at least one recipient" in bad.get_data(as_text=True)
    assert "kept text" in bad.get_data(as_text=True)
    resp = maria.post(f"/projects/{p.id}/compose/send", headers=HX,
                      data={"to": ["olivia@example.net"], "subject": "Hi", "body": "Hello"})
    assert resp.status_code == 200 and "project-changed" in resp.headers["HX-Trigger"]
    msg = OutboundMessage.get()
    assert msg.recipients == ["olivia@example.net"] and msg.created_by_id == users["maria"].id
    assert Event.get(Event.kind == "email").summary.startswith("Email queued to olivia@example.net")


def test_contacts_are_validated_and_others_cannot_write(maria, users):
    p = make_project(coordinator=users["maria"])
    resp = maria.post(f"/projects/{p.id}/contacts", headers=HX, data={"name": "Rep", "role": "utility", "email": "x"})
    assert resp.status_code == 422 and "&#39;x&#39; is not a valid email address" in resp.get_data(as_text=True)
    maria.post(f"/projects/{p.id}/contacts", headers=HX,
               data={"name": "Rep", "role": "utility", "email": "rep@utility.example", "phone": "(415) 555-0199"})
    assert Contact.get(Contact.email == "rep@utility.example").phone == "+14155550199"
    other = make_project(coordinator=users["james"])
    assert maria.get(f"/projects/{other.id}/compose", headers=HX).status_code == 403


def test_day_rows_open_the_compose_panel_on_the_right_template(maria, users):
    p = make_project(coordinator=users["maria"])
    page = maria.get(f"/projects/{p.id}?compose=utility_follow_up").get_data(as_text=True)
    assert f"/projects/{p.id}/compose?template=utility_follow_up" in page and 'hx-trigger="load"' in page


def test_log_a_call_with_a_follow_up_that_comes_back_on_the_day(maria, users):
    import datetime as dt
    from models import CallLog, Contact, day
    from models.base import today
    p = make_project(coordinator=users["maria"], customer_email="olivia@example.net",
                     customer_phone="+14155550142")
    panel = maria.get(f"/projects/{p.id}/compose", headers=HX).get_data(as_text=True)
    assert 'href="tel:+14155550142"' in panel
    contact = Contact.get(Contact.email == "olivia@example.net")
    bad = maria.post(f"/projects/{p.id}/calls", headers=HX, data={
        "contact": str(contact.id), "direction": "outbound", "outcome": "voicemail", "notes": "left a message",
        "follow_up_on": today().isoformat()})
    assert bad.status_code == 422 and "the follow-up date must be after today" in bad.get_data(as_text=True)
    assert "left a message" in bad.get_data(as_text=True)
    later = today() + dt.timedelta(days=2)
    ok = maria.post(f"/projects/{p.id}/calls", headers=HX, data={
        "contact": str(contact.id), "direction": "outbound", "outcome": "voicemail", "notes": "left a message",
        "follow_up_on": later.isoformat()})
    assert ok.status_code == 200 and Event.get(Event.kind == "call").summary.endswith("Left voicemail")
    items = day.today_for(users["maria"], later)
    back = next(i for i in items if i.kind == "call_back")
    assert back.project.id == p.id and back.title == f"Call back {p.customer_name} (Customer)"
    assert not any(i.kind == "call_back" for i in day.today_for(users["maria"], today()))
    assert CallLog.select().count() == 1
