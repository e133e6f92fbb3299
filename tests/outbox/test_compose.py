"""Outbound email: templates, tokens, threading headers, header safety, and delivery over real SMTP."""
from __future__ import annotations


import pytest

from models import Application, Contact, Event, OutboundMessage, tokens
from models.applications import file_application
from models.messages import add_contact
from models.catalog_ref import current
from outbox import compose
from tests import files, smtp
from tests.factories import make_project, wait_for_state


@pytest.fixture
def server(monkeypatch):
    sink, controller = smtp.start()
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    monkeypatch.setenv("MAIL_FROM", "Sunrise Desk <desk@sunrise.example>")
    monkeypatch.setenv("REPLY_TO", "desk@sunrise.example")
    yield sink
    controller.stop()


def full_context(project, app, users):
    return compose.context(project, app, users["maria"], {"name": "Sunrise Solar"})


@pytest.mark.parametrize("code", sorted(compose.TEMPLATES))
def test_every_template_renders_with_the_merge_fields(db, users, code):
    p = make_project(customer_name="Olivia Morrison", utility_account="1234567890")
    app = file_application(p, "utility_part1", "SUBMITTED", reference="PGE-INT-77")
    subject, body = compose.render(code, full_context(p, app, users))
    assert subject and "Sunrise Solar" in body and "{{" not in body


def test_a_template_with_an_unknown_field_fails(db, users, tmp_path, monkeypatch):
    from jinja2 import UndefinedError
    (tmp_path / "broken.txt").write_text("Subject: x\n{{ project.no_such_field_anywhere }}{{ nope }}\n")
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    monkeypatch.setattr(compose, "_env", Environment(loader=FileSystemLoader(str(tmp_path)), undefined=StrictUndefined))
    monkeypatch.setitem(compose.TEMPLATES, "broken", "Broken")
    with pytest.raises(UndefinedError):
        compose.render("broken", full_context(make_project(), None, users))


def test_request_documents_lists_missing_items_with_why(db, users):
    from models import ChecklistItem
    p = make_project()
    ChecklistItem.create(project=p, application="utility_part1", doc_type="UTILITY_BILL", label="Utility bill",
                         rule_id="r", explanation="internal rule text")
    ChecklistItem.create(project=p, application="utility_part1", doc_type="SLD", label="Single-line diagram",
                         rule_id="r", explanation="the designer's job")
    _, body = compose.render("request_documents", full_context(p, None, users))
    bill = current().doc_types["UTILITY_BILL"].description
    assert f"- Utility bill: {bill}" in body and "Single-line diagram" not in body and "internal rule" not in body


def test_reply_tokens_have_a_check_symbol():
    tag = tokens.encode(123)
    assert tokens.decode(f"Re: bill [{tag}]") == 123
    assert tokens.decode(f"Re: bill [{tag[:-1]}X]") is None  # a mistyped or guessed token goes nowhere
    assert tokens.decode("desk+" + tag.lower() + "@sunrise.example") == 123


def test_headers_are_validated_and_never_carry_user_line_breaks(db, users):
    p = make_project()
    with pytest.raises(compose.ComposeError, match="is not an email address"):
        compose.queue(p, ["victim@example.com\r\nBcc: all@example.com"], "Hi", "x", actor=users["maria"])
    msg = compose.queue(p, ["Ana@Example.com"], "Bill\r\nBcc: evil@example.com", "body", actor=users["maria"])
    assert msg.subject == f"Bill Bcc: evil@example.com {tokens.subject_tag(p.id)}"
    email = compose.build(msg, "Desk <desk@sunrise.example>", "desk@sunrise.example")
    assert "Bcc" not in email and email["To"] == "ana@example.com"
    assert email["Reply-To"] == f"Desk <desk+{tokens.encode(p.id).lower()}@sunrise.example>"
    assert email["Message-ID"] == msg.message_id and msg.message_id.startswith("<")


def test_threading_headers_and_automatic_reminders(db, users):
    p = make_project(customer_email="ana@example.net")
    add_contact(p, "Utility rep", "utility", "rep@utility.example")
    Contact.update(bouncing_since=p.created_at, bounce_reason="550 no such user").where(
        Contact.email == "rep@utility.example").execute()
    msg = compose.queue(p, ["ana@example.net", "rep@utility.example"], "Reminder", "body", actor=None,
                        automatic=True, in_reply_to="<abc@utility.example>", references="<root@utility.example>")
    assert msg.recipients == ["ana@example.net"]  # never automatic mail to a bouncing address
    email = compose.build(msg, "Desk <desk@sunrise.example>", "desk@sunrise.example")
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["In-Reply-To"] == "<abc@utility.example>"
    assert email["References"] == "<root@utility.example> <abc@utility.example>"
    with pytest.raises(compose.ComposeError, match="every recipient's address bounces"):
        compose.queue(p, ["rep@utility.example"], "x", "y", actor=None, automatic=True)


def wait_state(row_id, states, timeout=20):
    return wait_for_state(OutboundMessage, row_id, states, timeout)


def test_delivery_over_smtp_with_attachments_and_a_retry(db, users, server, worker):
    from models import documents
    from workers.actors import send_email
    p = make_project(customer_email="ana@example.net")
    doc, _ = documents.add(p, files.pdf("A&A"), "aa.pdf", actor=users["maria"])
    server.refuse = ["451 4.3.0 try again later"]
    msg = compose.queue(p, ["ana@example.net"], "Please sign", "Hello", actor=users["maria"], attachments=[doc.id])
    send_email.send(msg.id)
    got = server.wait()[0]
    assert wait_state(msg.id, ("sent",)).attempts == 2  # refused once, delivered on the retry
    assert got["Subject"] == f"Please sign {tokens.subject_tag(p.id)}" and got["Message-ID"] == msg.message_id
    assert got["Reply-To"].addresses[0].addr_spec == f"desk+{tokens.encode(p.id).lower()}@sunrise.example"
    attachment = next(part for part in got.iter_attachments())
    assert attachment.get_filename() == "aa.pdf" and attachment.get_content()[:5] == b"%PDF-"
    assert Event.select().where(Event.kind == "email", Event.summary.startswith("Email sent")).exists()


def test_a_permanent_refusal_surfaces_on_the_project(db, users, server, worker):
    from workers.actors import send_email
    p = make_project(customer_email="gone@example.net")
    server.refuse = ["550 5.1.1 no such user"]
    msg = compose.queue(p, ["gone@example.net"], "Hello", "x", actor=users["maria"])
    send_email.send(msg.id)
    failed = wait_state(msg.id, ("failed",))
    assert "550" in failed.last_error
    event = Event.get(Event.summary.startswith("Email FAILED"))
    assert event.project_id == p.id and "550" in event.body


def test_a_reply_to_a_sent_message_finds_its_project(db, users):
    """What a customer's mail client sends back carries the token twice: subject and our plus-address."""
    from email.message import EmailMessage
    p = make_project()
    msg = compose.queue(p, ["ana@example.net"], "Bill needed", "x", actor=users["maria"])
    sent = compose.build(msg, "Desk <desk@sunrise.example>", "desk@sunrise.example")
    reply = EmailMessage()
    reply["To"] = sent["Reply-To"]
    reply["Subject"] = "Re: " + sent["Subject"]
    reply["In-Reply-To"] = sent["Message-ID"]
    reply["From"] = "ana@example.net"
    reply["Message-ID"] = "<reply-1@example.net>"
    reply.set_content("Attached is the bill.\n\n> " + msg.body)
    assert tokens.decode(reply["Subject"]) == p.id and tokens.decode(str(reply["To"])) == p.id
    from inbox.intake import run_now
    from inbox.pipeline import Intake
    from inbox.store import store
    got = run_now(store(reply.as_bytes(), "cli").mail, Intake())
    assert (got.project_id, got.matched_by, got.state) == (p.id, "token", "processed")
    # Each of the three routes back works on its own.
    for header, method in (("Subject", "plus_address"), ("To", "thread")):
        del reply[header]
        reply[header] = "Re: Bill needed" if header == "Subject" else "desk@sunrise.example"
        del reply["Message-ID"]
        reply["Message-ID"] = f"<reply-{method}@example.net>"
        got = run_now(store(reply.as_bytes(), "cli").mail, Intake())
        assert (got.project_id, got.matched_by) == (p.id, method)
