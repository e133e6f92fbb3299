"""Triage in the shared inbox, end to end: link, unlink, accept/reject a suggested change, assign, handled,
bulk, two people at once, the unified in/out list, live counts and conversations."""
from __future__ import annotations

from email.message import EmailMessage

from models import Application, Event, InboundMail, OutboundMessage, tokens
from models.base import db as proxy
from models.sms import queue as queue_text
from outbox import compose
from tests.conftest import login
from tests import mails
from tests.factories import make_project
from tests.web.test_projects import QueryCounter

HX = {"HX-Request": "true"}


def ingest(raw: bytes, auth: str | None = None) -> InboundMail:
    """Process a mail as the CLI does; auth: the DMARC result the desk's receiving server recorded."""
    from inbox.intake import run_now
    from inbox.pipeline import Intake
    from inbox.store import store
    return run_now(store(mails.received(raw, auth) if auth else raw, "cli").mail, Intake(auth=mails.AUTH))


def message(sender: str, subject: str, body: str, n: int, **headers) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, "desk@example.com", subject, f"<t{n}@x.org>"
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    return msg.as_bytes()


def needs_review_mail():
    """A PTO notice found only by its sender (a known utility contact): a suggestion, not a change."""
    from models.messages import add_contact
    p = make_project()
    app = Application.create(project=p, kind="utility_part2", status="METER_INSTALLED")
    add_contact(p, "Rita", "utility", "rita@pge.com")
    mail = ingest(message("rita@pge.com", "Permission to Operate granted", "You have permission to operate.", 1))
    assert mail.state == "needs_review" and mail.suggested_change["to"] == "PTO_GRANTED", mail.reason
    return p, app, mail


def test_accepting_a_suggestion_lands_on_the_application_and_timeline(client, users):
    login(client, users["lead"])
    p, app, mail = needs_review_mail()
    resp = client.post(f"/inbox/{mail.id}/accept", data={"version": mail.version}, headers=HX)
    assert resp.status_code == 200 and "Applied" in resp.get_data(as_text=True)
    assert Application.get_by_id(app.id).status == "PTO_GRANTED"
    event = Event.get((Event.project == p) & (Event.kind == "status"))
    assert event.actor_id == users["lead"].id and event.data["cause"]["inbound_id"] == mail.id
    mail = InboundMail.get_by_id(mail.id)
    assert (mail.state, mail.suggested_change, mail.handled_by_id) == ("processed", None, users["lead"].id)
    assert mail.status_change == {"application": "utility_part2", "from": "METER_INSTALLED", "to": "PTO_GRANTED"}


def test_rejecting_needs_a_reason_and_changes_nothing(client, users):
    login(client, users["maria"])
    _, app, mail = needs_review_mail()
    resp = client.post(f"/inbox/{mail.id}/reject", data={"version": mail.version, "reason": ""}, headers=HX)
    assert resp.status_code == 422 and "say why" in resp.get_data(as_text=True)
    resp = client.post(f"/inbox/{mail.id}/reject", data={"version": mail.version, "reason": "that was another house"},
                       headers=HX)
    assert resp.status_code == 200
    mail = InboundMail.get_by_id(mail.id)
    assert mail.state == "processed" and "another house" in mail.reason and mail.suggested_change is None
    assert Application.get_by_id(app.id).status == "METER_INSTALLED"


def test_link_from_a_suggestion_then_unlink(client, users):
    login(client, users["maria"])
    p = make_project(customer_name="Olivia Morrison")
    mail = ingest(message("Olivia Morrison <olivia@gmail.example>", "my panels", "Hi, question about my panels", 2))
    assert mail.state == "unmatched" and mail.suggestions[0]["external_id"] == p.external_id
    page = client.get(f"/inbox/{mail.id}").get_data(as_text=True)
    assert f"Link to {p.external_id}" in page
    resp = client.post(f"/inbox/{mail.id}/link", data={"project": p.external_id, "version": mail.version}, headers=HX)
    assert resp.status_code == 200 and f"Linked to {p.external_id}" in resp.get_data(as_text=True)
    mail = InboundMail.get_by_id(mail.id)
    assert (mail.project_id, mail.matched_by, mail.state) == (p.id, "person", "processed")
    assert Event.select().where(Event.project == p, Event.summary.startswith("Mail linked by hand")).exists()
    assert client.post(f"/inbox/{mail.id}/link", data={"project": "NOPE"}, headers=HX).status_code == 422
    resp = client.post(f"/inbox/{mail.id}/unlink", data={"version": mail.version}, headers=HX)
    assert resp.status_code == 200
    assert InboundMail.get_by_id(mail.id).project_id is None


def test_two_people_at_once_are_told_not_overwritten(app, users):
    lee, maria = app.test_client(), app.test_client()
    login(lee, users["lead"])
    login(maria, users["maria"])
    p = make_project()
    mail = ingest(message("someone@example.org", "hello", "text", 3))
    seen = mail.version  # both opened the mail at this version
    assert lee.post(f"/inbox/{mail.id}/assign", data={"user": users["james"].id, "version": seen},
                    headers=HX).status_code == 200
    resp = maria.post(f"/inbox/{mail.id}/link", data={"project": p.external_id, "version": seen}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "Lee Lead assigned it to James Chen" in body and "reload" in body
    mail = InboundMail.get_by_id(mail.id)
    assert mail.project_id is None and mail.assigned_to_id == users["james"].id
    # Acting on the fresh version works.
    assert maria.post(f"/inbox/{mail.id}/link", data={"project": p.external_id, "version": mail.version},
                      headers=HX).status_code == 200


def test_handled_assign_and_bulk(client, users):
    login(client, users["lead"])
    mails = [ingest(message(f"s{i}@example.org", f"hello {i}", "text", 10 + i)) for i in range(3)]
    resp = client.post(f"/inbox/{mails[0].id}/handled", data={"version": mails[0].version})
    assert resp.status_code == 303 and InboundMail.get_by_id(mails[0].id).handled_at is not None
    assert client.post(f"/inbox/{mails[0].id}/handled", data={}, headers=HX).status_code == 422  # already handled
    resp = client.post("/inbox/bulk", data={"ids": [m.id for m in mails[1:]], "action": "assign",
                                            "user": users["maria"].id})
    assert resp.status_code == 303
    assert {m.assigned_to_id for m in InboundMail.select().where(InboundMail.id.in_([m.id for m in mails[1:]]))} == \
        {users["maria"].id}
    client.post("/inbox/bulk", data={"ids": [m.id for m in mails], "action": "handled"})
    flashed = client.get("/inbox").get_data(as_text=True)
    assert "2 message(s) done" in flashed and "already handled" in flashed  # the first was handled before
    assert InboundMail.select().where(InboundMail.handled_at.is_null()).count() == 0
    waiting = client.get("/inbox?open=1", headers=HX).get_data(as_text=True)
    assert "Nothing here" in waiting


def test_count_badge_and_new_mail_notice(client, users):
    login(client, users["maria"])
    assert client.get("/inbox/count").get_data(as_text=True).strip() == ""
    first = ingest(message("a@example.org", "one", "x", 20))
    ingest(message("b@example.org", "two", "x", 21))
    assert '>2</span>' in client.get("/inbox/count").get_data(as_text=True)
    notice = client.get(f"/inbox/new?after={first.id}").get_data(as_text=True)
    assert "1 new message arrived" in notice
    assert client.get(f"/inbox/new?after={first.id + 1}").get_data(as_text=True).strip() == ""


def test_one_list_for_mail_in_mail_out_and_texts(client, users):
    login(client, users["maria"])
    p = make_project(utility="SCE", coordinator=users["maria"], customer_phone="+14155550123")
    other = make_project(utility="PGE")
    compose.queue(p, ["ana@example.net"], "Bill needed", "Please send the bill", actor=users["maria"])
    queue_text(p, "+14155550123", "Text about the meter", users["maria"])
    ingest(message("ana@example.net", f"Re: Bill needed {tokens.subject_tag(p.id)}", "attached", 30))
    ingest(message("x@example.org", f"About {tokens.subject_tag(other.id)}", "other", 31))
    everything = client.get("/inbox", headers=HX).get_data(as_text=True)
    assert "Bill needed [IX-" in everything and "Text about the meter" in everything and "About [IX-" in everything
    out = client.get("/inbox?channel=out", headers=HX).get_data(as_text=True)
    assert "Bill needed [IX-" in out and "Re: Bill needed" not in out and "Text about" not in out
    assert "Text about the meter" in client.get("/inbox?channel=sms", headers=HX).get_data(as_text=True)
    sce = client.get("/inbox?utility=SCE", headers=HX).get_data(as_text=True)
    assert "Re: Bill needed" in sce and "About [IX-" not in sce
    mine = client.get(f"/inbox?coordinator={users['maria'].id}", headers=HX).get_data(as_text=True)
    assert "Re: Bill needed" in mine and "About [IX-" not in mine
    bad = client.get("/inbox?date_from=2026-13-01&date_to=x", headers=HX).get_data(as_text=True)
    assert "is not a date" in bad
    backwards = client.get("/inbox?date_from=2026-02-01&date_to=2026-01-01", headers=HX).get_data(as_text=True)
    assert "the From date is after the To date" in backwards
    assert "Nothing here" in client.get("/inbox?date_to=2001-01-01", headers=HX).get_data(as_text=True)


def test_conversation_shows_what_we_sent_and_the_answer(client, users):
    login(client, users["maria"])
    p = make_project()
    sent = compose.queue(p, ["ana@example.net"], "Signature needed", "Please sign", actor=users["maria"])
    reply = ingest(message("ana@example.net", "Re: Signature needed", "signed", 40, In_Reply_To=sent.message_id,
                           References=sent.message_id))
    page = client.get(f"/inbox/{reply.id}").get_data(as_text=True)
    assert "Conversation" in page and "Signature needed [IX-" in page and "Re: Signature needed" in page


def test_list_query_count_does_not_grow_with_rows(client, users):
    login(client, users["maria"])

    def queries():
        with QueryCounter(proxy.obj) as counter:
            assert client.get("/inbox", headers=HX).status_code == 200
        return counter.count
    p = make_project()
    for i in range(3):
        ingest(message(f"a{i}@example.org", f"m{i} {tokens.subject_tag(p.id)}", "x", 50 + i))
        compose.queue(p, ["ana@example.net"], f"out {i}", "x", actor=users["maria"])
    few = queries()
    for i in range(30):
        ingest(message(f"b{i}@example.org", f"n{i}", "x", 60 + i))
        compose.queue(p, ["ana@example.net"], f"more {i}", "x", actor=users["maria"])
    assert queries() == few <= 12
    assert OutboundMessage.select().count() == 33


def test_mail_to_review_is_on_the_coordinators_day(client, users):
    login(client, users["maria"])
    p, _, mail = needs_review_mail()
    p.coordinator = users["maria"]
    p.save()
    day = client.get("/day").get_data(as_text=True)
    assert "Mail to review" in day and f'href="/inbox/{mail.id}"' in day and "Permission to Operate granted" in day
    client.post(f"/inbox/{mail.id}/handled", data={"version": mail.version})
    assert "Review mail:" not in client.get("/day").get_data(as_text=True)


def test_linking_by_hand_files_the_attachments_and_survives_a_rerun(client, users):
    from tests import files
    login(client, users["maria"])
    p = make_project()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = "x@gmail.example", "desk@x", "the bill", "<lb-1@x>"
    msg.set_content("here it is")
    msg.add_attachment(files.pdf("bill"), maintype="application", subtype="pdf", filename="electric_bill.pdf")
    mail = ingest(msg.as_bytes())
    assert mail.state == "unmatched" and not mail.documents
    resp = client.post(f"/inbox/{mail.id}/link", data={"project": p.external_id, "version": mail.version}, headers=HX)
    assert resp.status_code == 200
    mail = InboundMail.get_by_id(mail.id)
    assert (mail.state, mail.project_id, mail.matched_by) == ("processed", p.id, "person")
    from models import Document
    assert [d.name for d in Document.select().where(Document.project == p)] == ["electric_bill.pdf"]
    client.post(f"/inbox/{mail.id}/rerun")
    mail = InboundMail.get_by_id(mail.id)
    assert (mail.project_id, mail.matched_by) == (p.id, "person")
    assert Document.select().where(Document.project == p).count() == 1
    assert Event.select().where(Event.project == p, Event.kind == "email",
                                Event.summary.startswith("Email from")).count() == 1


def test_reply_from_the_inbox_threads_with_the_mail(client, users):
    login(client, users["maria"])
    p = make_project(coordinator=users["maria"])
    mail = ingest(message("rep@utility.example", f"Question on {tokens.subject_tag(p.id)}", "Which inverter?", 70))
    assert f"reply={mail.id}" in client.get(f"/inbox/{mail.id}").get_data(as_text=True)
    panel = client.get(f"/projects/{p.id}/compose?reply={mail.id}", headers=HX).get_data(as_text=True)
    assert 'value="rep@utility.example" checked' in panel and "Re: Question on [IX-" in panel
    assert "&gt; Which inverter?" in panel
    resp = client.post(f"/projects/{p.id}/compose/send", headers=HX, data={
        "to": ["rep@utility.example"], "subject": "Re: Question on", "body": "The IQ8.", "reply_to": mail.id})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    sent = OutboundMessage.get()
    assert sent.in_reply_to == mail.message_id and sent.references.endswith(mail.message_id)
    # Someone else's mail id cannot be used to thread into another project.
    other = make_project(coordinator=users["maria"])
    client.post(f"/projects/{other.id}/compose/send", headers=HX, data={
        "to": ["x@example.org"], "subject": "hi", "body": "x", "reply_to": mail.id})
    assert OutboundMessage.select().where(OutboundMessage.project == other).get().in_reply_to is None


def test_triage_respects_who_may_change_a_project(app, users):
    james = app.test_client()
    login(james, users["james"])
    p, application, mail = needs_review_mail()
    p.coordinator = users["maria"]
    p.save()
    resp = james.post(f"/inbox/{mail.id}/accept", data={"version": mail.version}, headers=HX)
    assert resp.status_code == 403 and "assigned to another coordinator" in resp.get_data(as_text=True)
    assert Application.get_by_id(application.id).status == "METER_INSTALLED"
    stray = ingest(message("x@example.org", "hello", "text", 80))
    assert james.post(f"/inbox/{stray.id}/link", data={"project": p.external_id}, headers=HX).status_code == 403
    assert james.post(f"/inbox/{mail.id}/rerun", data={}, headers=HX).status_code == 403
    assert InboundMail.get_by_id(stray.id).project_id is None
    # Mail on another coordinator's project is theirs to triage too: assigning and marking it handled.
    before = InboundMail.get_by_id(mail.id)
    resp = james.post(f"/inbox/{mail.id}/handled", data={}, headers=HX)
    assert resp.status_code == 403 and "assigned to another coordinator" in resp.get_data(as_text=True)
    assert james.post(f"/inbox/{mail.id}/assign", data={"user": users["james"].id}, headers=HX).status_code == 403
    james.post("/inbox/bulk", data={"ids": [mail.id], "action": "handled"})
    james.post("/inbox/bulk", data={"ids": [mail.id], "action": "assign", "user": users["james"].id})
    assert "Not done: #%d: %s is assigned to another coordinator" % (mail.id, p.external_id) in \
        james.get("/inbox").get_data(as_text=True)
    after = InboundMail.get_by_id(mail.id)
    assert (after.version, after.handled_at, after.assigned_to_id) == (before.version, None, None)
    # Mail on no project is anyone's to triage.
    assert james.post(f"/inbox/{stray.id}/assign", data={"user": users["james"].id}, headers=HX).status_code == 200
    assert james.post(f"/inbox/{stray.id}/handled", data={}, headers=HX).status_code == 200
    # Someone who may change the project sees the actions; others are told whose mail it is.
    assert "Mark handled" not in james.get(f"/inbox/{mail.id}").get_data(as_text=True)


def test_a_notice_from_a_utility_domain_our_server_did_not_authenticate_is_a_suggestion(db):
    """A From header is easy to forge: only the receiving server's DMARC verdict proves the utility sent it."""
    p = make_project()
    app = Application.create(project=p, kind="utility_part1", status="SUBMITTED", reference_number="PGE-INT-300123456")
    forged = ingest(message("noreply@pge.com", f"Application approved {tokens.subject_tag(p.id)}",
                            "Your application has been approved.", 81))
    assert forged.state == "needs_review" and "sender not authenticated" in forged.reason
    assert Application.get_by_id(app.id).status == "SUBMITTED"
    old_token = ingest(message("noreply@pge.com", f"Application approved [{tokens.legacy(p.id)}]",
                               "Your application has been approved.", 84), auth="pass")
    assert old_token.state == "needs_review" and "project found only by token" in old_token.reason
    real = ingest(message("noreply@pge.com", f"Application approved {tokens.subject_tag(p.id)}",
                          "Your application has been approved.", 82), auth="pass")
    assert real.state == "processed" and Application.get_by_id(app.id).status == "APPROVED_TO_INSTALL"


def test_process_again_with_a_stale_page_is_refused_and_bulk_goes_to_a_worker(client, users, worker):
    import time
    login(client, users["lead"])
    mail = ingest(message("x@example.org", "hello", "text", 83))
    seen = mail.version
    assert client.post(f"/inbox/{mail.id}/rerun", data={"version": seen}, headers=HX).status_code == 200
    stale = client.post(f"/inbox/{mail.id}/rerun", data={"version": seen}, headers=HX)
    assert stale.status_code == 409 and "Lee Lead processed it again" in stale.get_data(as_text=True)
    resp = client.post("/inbox/bulk", data={"ids": [mail.id], "action": "rerun"})
    assert resp.status_code == 303
    deadline = time.monotonic() + 20
    while InboundMail.get_by_id(mail.id).state in ("pending", "processing"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert InboundMail.get_by_id(mail.id).state == "unmatched"
    assert "sent to be processed again" in client.get("/inbox").get_data(as_text=True)


def test_re_runs_respect_what_people_decided(client, users):
    login(client, users["lead"])
    p, app, mail = needs_review_mail()
    client.post(f"/inbox/{mail.id}/reject", data={"reason": "not this house"})
    client.post(f"/inbox/{mail.id}/rerun", data={})
    mail = InboundMail.get_by_id(mail.id)
    assert mail.suggested_change is None and mail.state == "processed"
    assert any("rejected" in t["verdict"] for t in mail.trace)
    other = make_project()
    tokened = ingest(message("x@example.org", f"About {tokens.subject_tag(other.id)}", "text", 90))
    client.post(f"/inbox/{tokened.id}/unlink", data={})
    client.post(f"/inbox/{tokened.id}/rerun", data={})
    tokened = InboundMail.get_by_id(tokened.id)
    assert (tokened.project_id, tokened.state) == (None, "unmatched")
    client.post(f"/inbox/{tokened.id}/link", data={"project": other.external_id})
    assert InboundMail.get_by_id(tokened.id).project_id == other.id  # a person may link it back
    assert Application.get_by_id(app.id).status == "METER_INSTALLED"
