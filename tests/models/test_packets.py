"""Submission packets: every item present, one missing (blocked, then built anyway), images become pages."""
from __future__ import annotations

import io
import zipfile

import pytest
from pypdf import PdfReader

from models import ChecklistItem, Document, Event, documents, packets
from models.applications import file_application
from tests import files
from tests.factories import make_project


def setup_app(users):
    p = make_project(external_id="3763MORR", customer_name="Olivia Morrison")
    app = file_application(p, "utility_part1", "DRAFT")
    labels = ["Customer authorization", "Utility bill", "Single-line diagram", "Spec sheets"]
    items = [ChecklistItem.create(project=p, application="utility_part1", doc_type=f"T{n}", label=label, rule_id="r")
             for n, label in enumerate(labels)]
    ChecklistItem.create(project=p, application="utility_part2", doc_type="AHJ_FINAL", label="Final", rule_id="r")
    return p, app, items


def test_a_complete_packet_in_checklist_order_with_cover_and_zip(db, users):
    p, app, items = setup_app(users)
    documents.add(p, files.pdf("authorization", pages=2), "aa.pdf", actor=users["maria"], item=items[0])
    documents.add(p, files.image("JPEG"), "bill photo.jpg", actor=users["maria"], item=items[1])
    documents.add(p, files.image("HEIC"), "sld.heic", actor=users["maria"], item=items[2])
    documents.add(p, files.office("docx"), "specs.docx", actor=users["maria"], item=items[3])
    steps = []
    pdf_doc, zip_doc = packets.build(app, users["maria"], progress=lambda d, n, m: steps.append((d, n)))
    reader = PdfReader(io.BytesIO(pdf_doc.data()))
    assert len(reader.pages) == 1 + 2 + 1 + 1  # cover, 2-page PDF, JPEG page, HEIC page (DOCX: ZIP only)
    cover = reader.pages[0].extract_text()
    assert "Utility Part 1 submission packet" in cover and "3763MORR" in cover
    assert cover.index("Customer authorization") < cover.index("Utility bill") < cover.index("Spec sheets")
    assert "in the ZIP only" in cover and "INCOMPLETE" not in cover
    names = zipfile.ZipFile(io.BytesIO(zip_doc.data())).namelist()
    assert names == ["01 - Customer authorization - aa.pdf", "02 - Utility bill - bill photo.jpg",
                     "03 - Single-line diagram - sld.heic", "04 - Spec sheets - specs.docx"]
    assert pdf_doc.source == "generated" and pdf_doc.kind == "packet_pdf" and pdf_doc.application_id == app.id
    assert steps[-1] == (4, 4)
    assert "4 of 4 items" in Event.get(Event.summary.contains("Packet built")).summary


def test_a_missing_item_blocks_the_build_unless_overridden(db, users):
    p, app, items = setup_app(users)
    for item in items[:3]:
        documents.add(p, files.pdf(item.label), f"{item.label}.pdf", actor=users["maria"], item=item)
    with pytest.raises(packets.PacketIncomplete) as err:
        packets.build(app, users["maria"])
    assert [i.label for i in err.value.missing] == ["Spec sheets"]
    assert not Document.select().where(Document.kind == "packet_pdf").exists()
    pdf_doc, _ = packets.build(app, users["maria"], allow_incomplete=True)
    cover = PdfReader(io.BytesIO(pdf_doc.data())).pages[0].extract_text()
    assert "INCOMPLETE" in cover and "Spec sheets" in cover
    event = Event.get(Event.summary.contains("built anyway"))
    assert event.data["incomplete"] and event.data["missing"] == ["Spec sheets"]


def test_waived_items_are_not_missing_and_rejected_versions_are_not_used(db, users):
    p, app, items = setup_app(users)
    for item in items[:3]:
        documents.add(p, files.pdf(item.label), f"{item.label}.pdf", actor=users["maria"], item=item)
    items[3].set_status("waived", "utility has the spec sheets on file", users["maria"])
    entries, missing = packets.plan(app)
    assert missing == [] and len(entries) == 3
    bad = Document.get(Document.checklist_item == items[0])
    bad.set_review("rejected", "unsigned", users["maria"])
    assert [i.label for i in packets.plan(app)[1]] == ["Customer authorization"]


def test_a_rejected_or_damaged_newest_version_counts_as_missing(db, users):
    p, app, items = setup_app(users)
    for item in items:
        documents.add(p, files.pdf(item.label), f"{item.label}.pdf", actor=users["maria"], item=item)
    newer, _ = documents.add(p, files.pdf("bill v2"), "bill2.pdf", actor=users["maria"], item=items[1])
    newer.set_review("rejected", "wrong name", users["maria"])
    whole = files.pdf("sld", pages=3)
    documents.add(p, whole[: len(whole) // 2], "sld-cut.pdf", actor=users["maria"], item=items[2])
    assert [i.label for i in packets.plan(app)[1]] == ["Utility bill", "Single-line diagram"]


def test_multipage_tiff_keeps_every_page_and_long_covers_number_pages_right(db, users):
    from PIL import Image
    p = make_project()
    app = file_application(p, "utility_part1", "DRAFT")
    items = [ChecklistItem.create(project=p, application="utility_part1", doc_type=f"T{n}",
                                  label=f"Document number {n} with a long descriptive label", rule_id="r")
             for n in range(45)]
    frames = [Image.new("RGB", (50, 40), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    documents.add(p, buf.getvalue(), "scan.tif", actor=users["maria"], item=items[0])
    for item in items[1:]:
        documents.add(p, files.pdf(item.label), "d.pdf", actor=users["maria"], item=item)
    pdf_doc, _ = packets.build(app, users["maria"])
    reader = PdfReader(io.BytesIO(pdf_doc.data()))
    cover_text = reader.pages[0].extract_text() + reader.pages[1].extract_text()
    cover_pages = len(reader.pages) - 3 - 44
    assert cover_pages == 2
    assert f"pages {cover_pages + 1}-{cover_pages + 3}" in cover_text  # the TIFF's three pages, after the cover
