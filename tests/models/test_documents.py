"""Documents: types from content, refusals with reasons, damaged PDFs flagged, names made safe, dedupe, versions."""
from __future__ import annotations

import pytest

from models import ChecklistItem, Document, Event, documents, filetypes, storage
from models.documents import DocumentError
from tests import files
from tests.factories import make_project

EXPECTED_MIME = {
    "pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png", "tiff": "image/tiff", "heic": "image/heic",
    "docx": filetypes.DOCX.mime, "xlsx": filetypes.XLSX.mime, "txt": "text/plain",
}


@pytest.mark.parametrize("kind", sorted(files.ALL))
def test_every_allowed_type_is_recognised_from_its_bytes(db, users, kind):
    p = make_project()
    doc, created = documents.add(p, files.ALL[kind](), f"upload.{kind}", actor=users["maria"])
    assert created and doc.mime == EXPECTED_MIME[kind] and not doc.problem
    assert storage.get(doc.sha256)[:4] == files.ALL[kind]()[:4]


def test_wrong_extension_follows_the_content(db, users):
    doc, _ = documents.add(make_project(), files.pdf(), "scan.jpg", actor=users["maria"])
    assert doc.mime == "application/pdf" and doc.name == "scan.pdf" and doc.original_name == "scan.jpg"


def test_an_executable_named_pdf_is_refused(db, users):
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(range(256)) * 4
    with pytest.raises(DocumentError, match="invoice.pdf is not a file type we accept"):
        documents.add(make_project(), exe, "invoice.pdf", actor=users["maria"])
    assert Document.select().count() == 0


def test_a_truncated_pdf_is_kept_and_flagged(db, users):
    whole = files.pdf(pages=3)
    doc, _ = documents.add(make_project(), whole[: len(whole) // 2], "bill.pdf", actor=users["maria"])
    assert "damaged" in doc.problem or "cannot be read" in doc.problem
    assert not doc.previewable
    assert "bill.pdf added" in Event.get(Event.kind == "document").summary


def test_oversized_and_empty_files_are_refused_with_the_limit(db, users):
    with pytest.raises(DocumentError, match=r"big.pdf is 2.0 MB; the limit is 1 MB"):
        documents.add(make_project(), files.pdf() + b" " * 2_100_000, "big.pdf", max_bytes=1024 * 1024)
    with pytest.raises(DocumentError, match="is empty"):
        documents.add(make_project(), b"", "nothing.pdf")


@pytest.mark.parametrize("name, shown", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("<script>alert(1)</script>.pdf", "script.pdf"),
    ("C:\\Users\\ana\\Bill\x00\x1b.PDF", "Bill.pdf"),
    ("...", "document.pdf"),
])
def test_names_are_made_safe_but_the_original_is_kept(db, users, name, shown):
    doc, _ = documents.add(make_project(), files.pdf(name), name, actor=users["maria"])
    assert doc.name == shown and doc.original_name == name.replace("\x00", "\\x00")
    assert "/" not in doc.name and "<" not in doc.name and storage.location(doc.sha256).endswith("/" + doc.sha256)


def test_the_same_file_twice_is_stored_once(db, users):
    p = make_project()
    data = files.pdf("same")
    first, created = documents.add(p, data, "a.pdf", actor=users["maria"])
    again, created_again = documents.add(p, data, "copy of a.pdf", actor=users["maria"])
    other, _ = documents.add(make_project(), data, "a.pdf", actor=users["maria"])
    assert created and not created_again and again.id == first.id
    assert other.sha256 == first.sha256 and storage.put(data) == (first.sha256, False)  # one stored copy


def test_versions_on_a_checklist_item_and_review(db, users):
    p = make_project()
    item = ChecklistItem.create(project=p, application="utility_part1", doc_type="UTILITY_BILL", label="Utility bill",
                                rule_id="x", status="requested")
    v1, _ = documents.add(p, files.pdf("bill v1"), "bill.pdf", actor=users["maria"], item=item)
    assert ChecklistItem.get_by_id(item.id).status == "received"
    with pytest.raises(DocumentError, match="say why the document is rejected"):
        v1.set_review("rejected", "", users["maria"])
    v1.set_review("rejected", "name on the bill does not match", users["maria"])
    item = ChecklistItem.get_by_id(item.id)
    assert item.status == "requested" and "does not match" in item.reason
    v2, _ = documents.add(p, files.pdf("bill v2"), "bill-new.pdf", actor=users["maria"], item=item)
    assert v2.version == 2 and documents.current_for([item])[item.id].id == v2.id
    v2.set_review("accepted", "", users["maria"])
    assert ChecklistItem.get_by_id(item.id).status == "accepted"
    assert Document.get_by_id(v1.id).review == "rejected"  # the old version stays, with its verdict


def test_damaged_and_oversized_images_are_flagged_at_upload(db, users):
    jpeg = files.image("JPEG", size=(200, 200))
    doc, _ = documents.add(make_project(), jpeg[:200], "cut.jpg", actor=users["maria"])
    assert doc.problem.startswith("image cannot be read")
    from PIL import Image
    import io
    buf = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buf, format="PNG")  # 81 megapixels in a few kilobytes
    doc, _ = documents.add(make_project(), buf.getvalue(), "bomb.png", actor=users["maria"])
    assert "too large" in doc.problem or "cannot be read" in doc.problem


def test_text_in_other_encodings_and_tiny_binaries(db, users):
    assert filetypes.sniff("Café résumé\r\n".encode("cp1252")) is filetypes.TEXT
    assert filetypes.sniff("Meter 10-99\n".encode("utf-16")) is filetypes.TEXT
    assert filetypes.sniff(b"\x00\x01\x02") is None


def test_extensions_follow_the_real_type_with_only_its_own_aliases():
    assert filetypes.safe_name("scan.tiff", filetypes.PDF) == "scan.pdf"
    assert filetypes.safe_name("x.jpeg", filetypes.TEXT) == "x.txt"
    assert filetypes.safe_name("photo.jpeg", filetypes.JPEG) == "photo.jpeg"


def test_old_version_verdicts_leave_the_item_alone_and_a_rejected_file_cannot_come_back(db, users):
    p = make_project()
    item = ChecklistItem.create(project=p, application="utility_part1", doc_type="UTILITY_BILL", label="Bill",
                                rule_id="x", status="requested")
    v1, _ = documents.add(p, files.pdf("v1"), "bill.pdf", actor=users["maria"], item=item)
    v2, _ = documents.add(p, files.pdf("v2"), "bill2.pdf", actor=users["maria"], item=item)
    v1.set_review("rejected", "blurry", users["maria"])
    assert ChecklistItem.get_by_id(item.id).status == "received"  # v2 is current and waiting for review
    v2.set_review("rejected", "wrong account", users["maria"])
    with pytest.raises(DocumentError, match="same file that was rejected .*wrong account"):
        documents.add(p, files.pdf("v2"), "bill2 again.pdf", actor=users["maria"], item=item)


def test_generated_documents_are_not_reviewed(db, users):
    doc, _ = documents.add(make_project(), files.pdf(), "packet.pdf", source="generated", kind="packet_pdf")
    with pytest.raises(DocumentError, match="not reviewed"):
        doc.set_review("accepted", "", users["maria"])


def test_owner_locked_pdf_is_not_flagged():
    from pypdf import PdfReader, PdfWriter
    import io
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(files.pdf())))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    pages, problem = documents.inspect_pdf(out.getvalue())
    assert pages == 1 and problem == ""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(files.pdf())))
    writer.encrypt(user_password="open-sesame", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    assert documents.inspect_pdf(out.getvalue())[1].startswith("PDF is password-protected")
