"""The shared inbox as people use it: list, tabs, search, one mail, re-run, .eml upload."""
from __future__ import annotations

from email.message import EmailMessage
from io import BytesIO

from models import Application, Document, Event, InboundMail, checklists, tokens
from tests import files, mails
from tests.conftest import login
from tests.factories import make_project


def eml(subject: str, sender: str = "someone@example.org", body: str = "Hello", message_id: str | None = None,
        html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "desk@example.com", subject
    msg["Message-ID"] = message_id or f"<{abs(hash((subject, sender, body)))}@example.org>"
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def upload(client, *files: tuple[bytes, str]):
    data = {"files": [(BytesIO(raw), name) for raw, name in files]}
    return client.post("/inbox/upload", data=data, content_type="multipart/form-data")


def test_upload_runs_the_pipeline_and_shows_why(client, users):
    login(client, users["maria"])
    p = make_project()
    Application.create(project=p, kind="utility_part1", status="SUBMITTED", reference_number="PGE-INT-300123456")
    resp = upload(client, (eml("Deficiency notice PGE-INT-300123456", "noreply@pge.com",
                               "Corrections required:\n- Bill is older than 120 days\n"), "notice.eml"))
    assert resp.status_code == 303
    mail = InboundMail.get()
    assert resp.headers["Location"].endswith(f"/inbox/{mail.id}")
    page = client.get(f"/inbox/{mail.id}").get_data(as_text=True)
    assert "Utility notice" in page and "deficiency notice" in page and p.external_id in page
    assert "uploaded by Maria Ortiz" in page and "SUBMITTED → DEFICIENT" in page
    # Anyone can write an .eml: an uploaded notice only suggests; a person confirms it.
    assert mail.state == "needs_review" and "someone must confirm" in mail.reason
    assert Application.get(Application.project == p).status == "SUBMITTED"
    client.post(f"/inbox/{mail.id}/accept", data={"version": InboundMail.get_by_id(mail.id).version})
    assert Application.get(Application.project == p).status == "DEFICIENT"
    # The project's timeline links back to the mail.
    assert f"/inbox/{mail.id}" in client.get(f"/projects/{p.id}").get_data(as_text=True)


def test_upload_refuses_what_is_not_mail_and_keeps_the_rest(client, users):
    login(client, users["maria"])
    resp = upload(client, (b"", "empty.eml"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "pic.eml"),
                  (eml("Question about my system"), "ok.eml"))
    assert resp.status_code == 303
    flashes = client.get("/inbox").get_data(as_text=True)
    assert "empty.eml: the file is empty" in flashes and "pic.eml: not an email message" in flashes
    assert InboundMail.select().count() == 1 and InboundMail.get().state == "unmatched"


def test_list_tabs_search_sort_and_fragment(client, users):
    login(client, users["lead"])
    p = make_project()
    for i in range(3):
        upload(client, (eml(f"Question {i} {tokens.subject_tag(p.id)}", body=f"body q{i}"), f"{i}.eml"))
    upload(client, (eml("Lost mail", "stranger@example.org"), "x.eml"))
    page = client.get("/inbox").get_data(as_text=True)
    assert page.count("Question ") == 3 and "Lost mail" in page and "<html" in page
    unmatched = client.get("/inbox?state=unmatched", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in unmatched and "Lost mail" in unmatched and "Question 0" not in unmatched
    assert 'Unmatched <span class="count">1</span>' in unmatched and 'Processed <span class="count">3</span>' in unmatched
    found = client.get("/inbox?q=q2").get_data(as_text=True)  # words of the body are searched too
    assert "Question 2" in found and "Question 1" not in found
    oldest_first = client.get("/inbox?sort=received&dir=asc").get_data(as_text=True)
    assert oldest_first.index("Question 0") < oldest_first.index("Lost mail")
    assert p.external_id in client.get(f"/inbox?project={p.external_id}").get_data(as_text=True)
    assert client.get("/inbox?state=bogus&sort=nope&page=x").status_code == 200


def test_hostile_html_never_reaches_the_browser_active(client, users):
    login(client, users["maria"])
    upload(client, (eml("Look", html='<p onclick="steal()">Hi<script>alert(1)</script>'
                                     '<a href="javascript:alert(2)">x</a><img src="http://t.example/p.gif"></p>'),
                    "h.eml"))
    mail = InboundMail.get()
    assert "script" not in mail.body_html and "onclick" not in mail.body_html and "javascript:" not in mail.body_html
    assert "<img" not in mail.body_html
    page = client.get(f"/inbox/{mail.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and 'sandbox srcdoc="' in page


def test_rerun_after_the_project_appears_and_raw_download(client, users):
    login(client, users["maria"])
    raw = eml("Permit B24-00123", "permits@city.gov", "Your permit B24-00123 has been issued.")
    upload(client, (raw, "permit.eml"))
    mail = InboundMail.get()
    assert mail.state == "unmatched"
    p = make_project()
    Application.create(project=p, kind="ahj_permit", status="SUBMITTED", reference_number="B24-00123")
    assert client.post(f"/inbox/{mail.id}/rerun").status_code == 303
    mail = InboundMail.get_by_id(mail.id)
    # An upload stays suggest-only on every re-run: anyone can write an .eml file.
    assert (mail.state, mail.project_id, mail.notice) == ("needs_review", p.id, "permit_issued")
    assert "uploaded by a person" in mail.reason and mail.suggested_change["to"] == "APPROVED_TO_INSTALL"
    assert Application.get(Application.project == p).status == "SUBMITTED"
    got = client.get(f"/inbox/{mail.id}/raw")
    assert got.data == raw and got.mimetype == "message/rfc822"


def test_inbox_needs_a_login_and_unknown_mail_is_404(client, users):
    assert client.get("/inbox").status_code in (302, 303)
    login(client, users["maria"])
    assert client.get("/inbox/999999").status_code == 404


def test_pages_of_fifty_with_links_that_keep_the_filters(client, users):
    login(client, users["maria"])
    for i in range(55):
        upload(client, (eml(f"Lost {i}", f"s{i}@example.org"), f"{i}.eml"))
    first = client.get("/inbox?state=unmatched", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Showing 1–50 of 55 messages" in first and 'href="/inbox?state=unmatched&amp;page=2"' in first
    second = client.get("/inbox?state=unmatched&page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Showing 51–55 of 55 messages" in second and "Lost 0<" in second


def test_the_mail_page_shows_the_sender_verdict_and_files_a_kept_document(client, users):
    """A file from a sender the desk cannot vouch for waits on the mail's page; a person files it."""
    from inbox.intake import run_now
    from inbox.pipeline import Intake
    from inbox.store import store
    from models import ChecklistItem, Document, checklists
    from tests import files, mails
    login(client, users["maria"])
    p = make_project(coordinator=users["maria"])
    checklists.sync(p)
    raw = mails.message("someone@elsewhere.example", f"Bill {tokens.subject_tag(p.id)}", "here",
                        attachments=[("PGE_bill_march.pdf", files.pdf("PG&E bill"), "application/pdf")])
    mail = run_now(store(raw, "imap").mail, Intake(auth=mails.AUTH))
    page = client.get(f"/inbox/{mail.id}").get_data(as_text=True)
    assert "not authenticated" in page and "no Authentication-Results from our receiving server" in page
    assert "to review — perhaps" in page
    doc = Document.get(Document.project == p)
    show = client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert "File to a checklist item" in show and "(suggested)" in show
    bad = client.post(f"/documents/{doc.id}/file-to", data={"item_id": "999999"})
    assert bad.status_code == 422 and "choose a checklist item" in bad.get_data(as_text=True)
    resp = client.post(f"/documents/{doc.id}/file-to", data={"item_id": str(doc.proposed_item_id)})
    assert resp.status_code == 303
    assert Document.get_by_id(doc.id).checklist_item_id == doc.proposed_item_id
    assert ChecklistItem.get_by_id(doc.proposed_item_id).status == "received"
    other = make_project()
    checklists.sync(other)
    elsewhere = ChecklistItem.select().where(ChecklistItem.project == other).first()
    assert client.post(f"/documents/{doc.id}/file-to", data={"item_id": str(elsewhere.id)}).status_code == 422


def test_an_upload_naming_another_coordinators_project_files_nothing_there(app, users):
    """Anyone can write an .eml: an upload lands only on a project its uploader may change, like a direct upload."""
    james, maria = app.test_client(), app.test_client()
    login(james, users["james"])
    login(maria, users["maria"])
    p = make_project(coordinator=users["maria"])
    checklists.sync(p)
    events = Event.select().where(Event.project == p).count()
    raw = mails.message("someone@elsewhere.example", f"Bill {tokens.subject_tag(p.id)}", "here",
                        attachments=[("PGE_bill_march.pdf", files.pdf("PG&E bill"), "application/pdf")])
    assert upload(james, (raw, "bill.eml")).status_code == 303
    mail = InboundMail.get()
    assert (mail.state, mail.project_id, mail.documents) == ("unmatched", None, None)
    assert f"names {p.external_id}, which is assigned to another coordinator" in mail.reason
    assert mail.subject.startswith("Bill") and [s["external_id"] for s in mail.suggestions] == [p.external_id]
    assert Document.select().where(Document.project == p).count() == 0
    assert Event.select().where(Event.project == p).count() == events
    # Processing it again does not carry it there either; its coordinator links it, and then it is filed.
    assert james.post(f"/inbox/{mail.id}/rerun", data={}).status_code == 303
    assert InboundMail.get_by_id(mail.id).project_id is None
    assert Document.select().where(Document.project == p).count() == 0
    assert maria.post(f"/inbox/{mail.id}/link", data={"project": p.external_id}).status_code == 303
    assert InboundMail.get_by_id(mail.id).project_id == p.id
    assert Document.select().where(Document.project == p).count() == 1
