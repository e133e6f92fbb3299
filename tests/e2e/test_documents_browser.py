"""Upload by drag-and-drop (per-file progress), preview, and packet download, in a real browser."""
from __future__ import annotations

from playwright.sync_api import expect

from models import ChecklistItem, Document
from models.applications import file_application
from tests import files
from tests.e2e.conftest import sign_in
from tests.factories import make_project


def test_upload_preview_and_packet_download(page, users, tmp_path):
    p = make_project(external_id="DOC1", coordinator=users["maria"])
    app = file_application(p, "utility_part1", "DRAFT")
    item = ChecklistItem.create(project=p, application="utility_part1", doc_type="UTILITY_BILL",
                                label="Utility bill", rule_id="r")
    bill, photo, bad = tmp_path / "bill.pdf", tmp_path / "roof.png", tmp_path / "tool.pdf"
    bill.write_bytes(files.pdf("June bill"))
    photo.write_bytes(files.image("PNG", size=(120, 80)))
    bad.write_bytes(b"MZ" + bytes(500))
    sign_in(page, "maria@example.com")
    page.goto(f"/projects/{p.id}/documents")
    page.set_input_files("#dropzone input[type=file]", [str(bill), str(photo), str(bad)])
    expect(page.locator(".uploads li")).to_have_count(3)
    expect(page.locator(".uploads li.ok")).to_have_count(2)
    expect(page.locator(".uploads li.error")).to_contain_text("not a file type we accept")
    expect(page.locator("#documents")).to_contain_text("roof.png")  # the list refreshed itself

    # attach the bill to its checklist item from the Checklist tab
    page.click("nav.tabs >> text=Checklist")
    row = page.locator("tr", has_text="Utility bill").first
    row.locator("input[type=file]").set_input_files(str(bill))
    row.locator("button", has_text="Attach").click()
    expect(page.locator("tr", has_text="Utility bill").first.locator(".badge")).to_have_text("Received")

    doc = Document.get((Document.checklist_item == item.id))
    page.goto(f"/documents/{doc.id}")
    expect(page.locator("iframe.preview-pdf")).to_be_visible()
    png = Document.get(Document.mime == "image/png")
    page.goto(f"/documents/{png.id}")
    expect(page.locator("img.preview-img")).to_be_visible()
    assert page.evaluate("document.querySelector('img.preview-img').naturalWidth") == 120

    page.goto(f"/projects/{p.id}")
    page.locator(f"#application-{app.id} summary").click()
    page.locator(f"#application-{app.id}").get_by_text("Build submission packet").click()
    expect(page.locator("#packet-ready")).to_contain_text("Ready (2 pages)")
    with page.expect_download() as info:
        page.click("text=Download PDF")
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"
