"""Packet limits: every page of an image is checked at upload and at build; builds run in a limited child process."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from inbox.attach import attach
from inbox.parse import Attachment
from models import ChecklistItem, Document, Event, documents, packets
from models.applications import file_application
from tests import files
from tests.factories import make_project
from tests.hostile_files import blank_png, blank_tiff

SMALL = (300, 200)
# Page 3 is 180 megapixels: the upload check used to look at page 1 only.
PLAN = [SMALL, SMALL, (10000, 18000)] + [SMALL] * 147


def packet_of(users, *named, labels=None):
    """A project whose Utility Part 1 application needs one item per file, each file attached to its item."""
    p = make_project()
    app = file_application(p, "utility_part1", "DRAFT")
    labels = labels or [f"Item {n + 1}" for n in range(len(named))]
    items = [ChecklistItem.create(project=p, application="utility_part1", doc_type=f"T{n}", label=label, rule_id="r")
             for n, label in enumerate(labels)]
    docs = [documents.add(p, data, name, actor=users["maria"], item=item)[0]
            for item, (name, data) in zip(items, named)]
    return p, app, items, docs


def test_every_page_of_a_tiff_is_checked_at_upload_and_by_mail(db, users):
    data = blank_tiff(PLAN)
    assert len(data) < 100_000
    p, app, items, (doc,) = packet_of(users, ("plan.tif", data), labels=["Plan set"])
    assert doc.problem == "plan.tif is too large: page 3 is 180 megapixels; the limit is 50"
    assert [i.label for i in packets.plan(app)[1]] == ["Plan set"]  # never decoded, never in a packet
    (mailed,) = attach(make_project(), [Attachment("plan.tif", data, "image/tiff")])
    assert Document.get_by_id(mailed.document_id).problem == doc.problem


def test_the_reported_150_page_tiff_is_refused_by_its_total_pixels(db, users):
    data = blank_tiff([(7000, 7000)] * 150)  # every page under 50 megapixels; 7,350 together
    started = time.monotonic()
    doc, _ = documents.add(make_project(), data, "scan.tif", actor=users["maria"])
    assert doc.problem == ("scan.tif is too large: its 150 pages add up to 7,350 megapixels; "
                           "a packet holds at most 3,000")
    assert time.monotonic() - started < 2  # read from the headers: no page was decoded


def test_a_single_image_over_50_megapixels_is_named_with_its_size(db, users):
    doc, _ = documents.add(make_project(), blank_png(10000, 18000), "huge.png", actor=users["maria"])
    assert doc.problem == "huge.png is too large: 180 megapixels; the limit is 50"
    doc, _ = documents.add(make_project(), blank_png(8000, 7000), "wide.png", actor=users["maria"])
    assert doc.problem == "wide.png is too large: 56 megapixels; the limit is 50"
    doc, _ = documents.add(make_project(), blank_png(7000, 7000), "fine.png", actor=users["maria"])
    assert doc.problem == ""


def test_a_file_with_more_pages_than_a_packet_holds_is_flagged(db, users):
    doc, _ = documents.add(make_project(), files.pdf("long", pages=501), "long.pdf", actor=users["maria"])
    assert doc.pages == 501 and doc.problem == "long.pdf is too large: 501 pages; a packet holds at most 500"
    doc, _ = documents.add(make_project(), blank_tiff([SMALL] * 600), "long.tif", actor=users["maria"])
    assert doc.problem == "long.tif is too large: more than 500 pages; a packet holds at most 500"


def test_files_stored_before_the_check_are_checked_again_at_build(db, users):
    p, app, items, (plan_doc, _) = packet_of(users, ("plan.tif", blank_tiff(PLAN)), ("bill.pdf", files.pdf("bill")),
                                            labels=["Plan set", "Utility bill"])
    Document.update(problem="").where(Document.id == plan_doc.id).execute()  # as a row from before the check
    reason = "plan.tif is too large: page 3 is 180 megapixels; the limit is 50"
    with pytest.raises(packets.PacketIncomplete) as err:
        packets.build(app, users["maria"])
    assert err.value.describe() == f"missing required items: Plan set ({reason})"
    pdf_doc, _ = packets.build(app, users["maria"], allow_incomplete=True)
    reader = PdfReader(io.BytesIO(pdf_doc.data()))
    cover = reader.pages[0].extract_text()
    assert len(reader.pages) == 2 and "INCOMPLETE" in cover  # the cover and the bill
    assert "plan.tif [could not be included (plan.tif is too large: page 3 is 180 megapixels" in cover


def test_a_packet_over_500_pages_is_refused_with_its_page_count(db, users):
    p, app, items, _ = packet_of(users, ("a.pdf", files.pdf("a", pages=204)), ("b.pdf", files.pdf("b", pages=204)),
                                 ("c.pdf", files.pdf("c", pages=203)))
    with pytest.raises(packets.PacketRefused, match=r"^the packet would have 612 pages; the limit is 500$"):
        packets.build(app, users["maria"])
    assert not Document.select().where(Document.kind == "packet_pdf").exists()
    event = Event.get(Event.summary.contains("Packet not built"))
    assert event.summary.endswith("the packet would have 612 pages; the limit is 500")


def test_images_adding_up_past_the_packet_total_are_refused_before_decoding(db, users):
    twenty = blank_tiff([(7000, 7000)] * 20)  # 980 megapixels each: under the limit alone, 3,920 together
    p, app, items, docs = packet_of(users, *[(f"scan{n}.tif", twenty) for n in range(4)])
    assert not any(d.problem for d in docs)
    started = time.monotonic()
    with pytest.raises(packets.PacketRefused) as err:
        packets.build(app, users["maria"])
    assert str(err.value) == "the images in the packet add up to 3,920 megapixels; the limit is 3,000"
    assert time.monotonic() - started < 10


def _children() -> list[int]:
    """Our own child processes still alive (a stopped build must leave none behind)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and stat.rsplit(")", 1)[1].split()[0] != "Z":
            out.append(int(pid))
    return out


def test_a_build_past_its_memory_limit_is_stopped_and_the_desk_goes_on(db, users):
    from models.packet_build import Limits
    # 49 megapixels: within the page limit, but its decoded pixels alone take 196 MB.
    p, app, items, (doc,) = packet_of(users, ("photo.png", blank_png(7000, 7000, color=True)))
    assert doc.problem == ""
    with pytest.raises(packets.PacketRefused) as err:
        before = set(_children())  # other tests' helpers (a browser driver) may run beside us
        packets.build(app, users["maria"], limits=Limits(memory_mb=250))
    assert str(err.value) == "building the packet needed more than 250 MB of memory and was stopped"
    assert not Document.select().where(Document.kind == "packet_pdf").exists() and set(_children()) <= before
    pdf_doc, _ = packets.build(app, users["maria"])  # the default limit is plenty for it
    assert len(PdfReader(io.BytesIO(pdf_doc.data())).pages) == 2


def test_a_build_past_its_time_limit_is_killed_and_reported(db, users):
    from models.packet_build import Limits
    p, app, items, (doc,) = packet_of(users, ("scans.tif", blank_tiff([(7000, 7000)] * 40)))
    assert doc.problem == ""
    before = set(_children())  # other tests' helpers (a browser driver) may run beside us
    started = time.monotonic()
    with pytest.raises(packets.PacketRefused) as err:
        packets.build(app, users["maria"], limits=Limits(seconds=2))
    assert str(err.value) == "building the packet took longer than 2 s and was stopped"
    assert time.monotonic() - started < 5 and set(_children()) <= before
    assert not Document.select().where(Document.kind == "packet_pdf").exists()


def test_a_normal_packet_builds_in_the_child_with_every_type(db, users):
    from PIL import Image
    frames = [Image.new("RGB", (60, 40), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    p, app, items, docs = packet_of(users, ("a.pdf", files.pdf("a", pages=3)), ("b.heic", files.image("HEIC")),
                                    ("c.jpg", files.image("JPEG", size=(4000, 3000))), ("d.tif", buf.getvalue()),
                                    ("e.txt", files.ALL["txt"]()), ("f.docx", files.office("docx")))
    steps = []
    pdf_doc, zip_doc = packets.build(app, users["maria"], progress=lambda d, n, m: steps.append((d, n, m)))
    reader = PdfReader(io.BytesIO(pdf_doc.data()))
    assert len(reader.pages) == 1 + 3 + 1 + 1 + 2 + 1 and pdf_doc.pages == 9
    assert max(reader.pages[5].mediabox.width, reader.pages[5].mediabox.height) <= 2500 * 72 / 150 + 1
    assert "pages 7-8" in reader.pages[0].extract_text() and "in the ZIP only" in reader.pages[0].extract_text()
    assert steps[-1][:2] == (6, 6) and any("adding Item 4" in m for _, _, m in steps)
