"""Documents through the web: upload many (one refused), attach to an item, safe downloads, preview, review."""
from __future__ import annotations

import io

import pytest

from models import ChecklistItem, Document
from tests import files
from tests.conftest import login
from tests.factories import make_project

HX = {"HX-Request": "true"}


@pytest.fixture
def maria(client, users):
    return login(client, users["maria"])


def post_files(client, project, *named, item=None, back="documents", headers=HX):
    data = {"files": [(io.BytesIO(content), name) for name, content in named], "back": back}
    if item:
        data["item_id"] = str(item.id)
    return client.post(f"/projects/{project.id}/documents", data=data, content_type="multipart/form-data",
                       headers=headers)


def test_upload_many_with_one_refused(maria, users):
    p = make_project(coordinator=users["maria"])
    resp = post_files(maria, p, ("bill.pdf", files.pdf()), ("photo.heic", files.image("HEIC")),
                      ("setup.exe.pdf", b"MZ" + bytes(300)))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "documents-changed" in resp.headers["HX-Trigger"]
    assert "Refused: setup.exe.pdf is not a file type we accept" in body
    assert sorted(d.name for d in Document.select()) == ["bill.pdf", "photo.heic"]


def test_plain_form_post_redirects_with_messages(maria, users):
    p = make_project(coordinator=users["maria"])
    resp = post_files(maria, p, ("a.txt", files.ALL["txt"]()), headers={})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/projects/{p.id}/documents"
    page = maria.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Added a.txt" in page


def test_attach_to_a_checklist_item_returns_its_row(maria, users):
    p = make_project(coordinator=users["maria"])
    item = ChecklistItem.create(project=p, application="utility_part1", doc_type="UTILITY_BILL", label="Utility bill",
                                rule_id="x")
    resp = post_files(maria, p, ("bill.pdf", files.pdf()), item=item, back="checklist")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and body.lstrip().startswith("<tr") and "bill.pdf" in body
    assert ChecklistItem.get_by_id(item.id).status == "received"
    other = make_project(coordinator=users["maria"])
    assert post_files(maria, other, ("x.pdf", files.pdf()), item=item).status_code == 404


def test_downloads_need_login_and_carry_safe_headers(client, users):
    p = make_project(coordinator=users["maria"])
    login(client, users["maria"])
    post_files(client, p, ("<img src=x onerror=alert(1)> é.pdf", files.pdf()), ("sheet.xlsx", files.office("xlsx")))
    pdf = Document.get(Document.mime == "application/pdf")
    xlsx = Document.get(Document.mime != "application/pdf")
    resp = client.get(f"/documents/{pdf.id}/file")
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert pdf.name == "img src=x onerror=alert(1)_ é.pdf"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="img src=x onerror=alert(1)_ _.pdf"')
    assert "filename*=UTF-8''img%20src%3Dx%20onerror%3Dalert%281%29_%20%C3%A9.pdf" in resp.headers["Content-Disposition"]
    assert resp.data[:5] == b"%PDF-"
    inline = client.get(f"/documents/{pdf.id}/file?inline=1")
    assert inline.headers["Content-Disposition"].startswith("inline")
    assert "default-src 'none'" in inline.headers["Content-Security-Policy"]
    # not previewable: always an attachment
    assert client.get(f"/documents/{xlsx.id}/file?inline=1").headers["Content-Disposition"].startswith("attachment")
    page = client.get(f"/documents/{pdf.id}").get_data(as_text=True)
    assert "<iframe" in page and "&lt;img src=x onerror=alert(1)&gt; é.pdf" in page  # the original, escaped
    assert "<img src=x" not in page
    client.post("/logout")
    assert client.get(f"/documents/{pdf.id}/file").status_code == 302


def test_review_through_the_page(maria, users):
    p = make_project(coordinator=users["maria"])
    item = ChecklistItem.create(project=p, application="utility_part1", doc_type="SLD", label="SLD", rule_id="x")
    post_files(maria, p, ("sld.png", files.image("PNG")), item=item)
    doc = Document.get()
    resp = maria.post(f"/documents/{doc.id}/review", data={"verdict": "rejected", "reason": ""})
    assert resp.status_code == 422 and "say why the document is rejected" in resp.get_data(as_text=True)
    maria.post(f"/documents/{doc.id}/review", data={"verdict": "rejected", "reason": "no AC disconnect shown"})
    assert ChecklistItem.get_by_id(item.id).status == "requested"


def test_oversized_request_gets_a_clear_refusal(db, users):
    from app import create_app
    from tests.conftest import overrides
    client = create_app(overrides(max_upload_mb=1)).test_client()
    login(client, users["maria"])
    p = make_project(coordinator=users["maria"])
    resp = post_files(client, p, ("huge.pdf", files.pdf() + b" " * (3 * 1024 * 1024)))
    assert resp.status_code == 413 and "larger than the 1 MB limit" in resp.get_data(as_text=True)
    resp = post_files(client, p, ("big.pdf", files.pdf() + b" " * (1024 * 1024 + 10)))
    assert "big.pdf is 1.0 MB; the limit is 1 MB" in resp.get_data(as_text=True)


def test_packet_blocked_then_built_as_a_job_and_attached_on_submit(client, users, worker):
    import time
    from models import Application, Event, Job
    from models.applications import file_application
    login(client, users["maria"])
    p = make_project(coordinator=users["maria"])
    app = file_application(p, "utility_part1", "DRAFT")
    a = ChecklistItem.create(project=p, application="utility_part1", doc_type="A", label="Customer authorization",
                             rule_id="r")
    b = ChecklistItem.create(project=p, application="utility_part1", doc_type="B", label="Utility bill", rule_id="r")
    post_files(client, p, ("aa.pdf", files.pdf()), item=a)
    resp = client.post(f"/applications/{app.id}/packet", headers=HX)
    assert resp.status_code == 422 and "missing required items: Utility bill" in resp.get_data(as_text=True)
    post_files(client, p, ("bill.png", files.image("PNG")), item=b)
    resp = client.post(f"/applications/{app.id}/packet", headers=HX)
    url = resp.headers["HX-Redirect"]
    job_id = int(url.rsplit("/", 1)[1])
    deadline = time.monotonic() + 20
    while not Job.get_by_id(job_id).finished and time.monotonic() < deadline:
        time.sleep(0.05)
    job = Job.get_by_id(job_id)
    assert job.state == "done", job.message
    page = client.get(url, headers=HX).get_data(as_text=True)
    assert "Download PDF" in page and "hx-trigger" not in page  # finished: the widget stops polling
    pdf = client.get(f"/documents/{job.result['pdf']}/file")
    assert pdf.data[:5] == b"%PDF-" and job.result["pages"] == 3
    client.post(f"/applications/{app.id}/transition", headers=HX,
                data={"to": "SUBMITTED", "reference": "PGE-1", "sent": "via portal", "attach_packet": "1"})
    app = Application.get_by_id(app.id)
    assert app.sent_summary.startswith("via portal; packet ") and app.sent_summary.endswith(".pdf")
    event = Event.select().where(Event.kind == "status").order_by(Event.id.desc()).get()
    assert event.data["cause"] == {"document_id": job.result["pdf"]}
