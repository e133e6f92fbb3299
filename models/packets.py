"""Submission packets: an application's required documents as one PDF with a cover sheet, plus a ZIP."""
from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from dataclasses import dataclass
from typing import Callable

from models import documents, filetypes
from models.applications import Application
from models.base import db, utcnow
from models.checklists import ChecklistItem
from models.documents import Document
from models.events import Event
from models.users import User

log = logging.getLogger(__name__)
IMAGE_TYPES = ("image/jpeg", "image/png", "image/tiff", "image/heic")
MAX_SIDE = 2500  # pixels on the long side: sharp on paper, small in the packet
MAX_TEXT_BYTES = 200_000


class PacketIncomplete(Exception):
    """Required items have no usable document; build anyway only with an explicit override."""

    def __init__(self, missing: list[ChecklistItem]):
        super().__init__("missing: " + "; ".join(i.label for i in missing))
        self.missing = missing


@dataclass
class Entry:
    item: ChecklistItem
    doc: Document | None
    note: str = ""


def plan(application: Application) -> tuple[list[Entry], list[ChecklistItem]]:
    """The application's required items in checklist order with their current usable document; and what is missing."""
    items = list(ChecklistItem.select().where(
        ChecklistItem.project == application.project_id, ChecklistItem.application == application.kind,
        ChecklistItem.required == True, ChecklistItem.status != "waived").order_by(ChecklistItem.id))  # noqa: E712
    # Only the newest version counts: a rejected or damaged newest file means the item is still missing,
    # never a silent fall-back to the version it replaced.
    current = documents.current_for(items)
    entries = []
    for i in items:
        doc = current.get(i.id)
        usable = doc is not None and doc.review != "rejected" and not doc.problem
        entries.append(Entry(i, doc if usable else None))
    return entries, [e.item for e in entries if e.doc is None]


def build(application: Application, actor: User | None, allow_incomplete: bool = False,
          progress: Callable[[int, int, str], None] | None = None) -> tuple[Document, Document]:
    """Build and store the packet PDF and the ZIP of originals; raises PacketIncomplete unless overridden."""
    entries, missing = plan(application)
    if missing and not allow_incomplete:
        raise PacketIncomplete(missing)
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter()
    total = len(entries)
    spans: dict[int, tuple[int, int]] = {}
    for n, entry in enumerate(entries, start=1):
        if progress:
            progress(n - 1, total, f"adding {entry.item.label}")
        if entry.doc is None:
            entry.note = "MISSING"
            continue
        try:
            pdf = _as_pdf(entry.doc)
            if pdf is None:
                entry.note = "in the ZIP only (no PDF form of this file type)"
                continue
            start = len(writer.pages)
            writer.append(PdfReader(io.BytesIO(pdf), strict=False))
            spans[n] = (start + 1, len(writer.pages))
        except Exception as exc:  # a damaged file must not sink the packet; it is missing, and listed
            entry.note = f"could not be included ({type(exc).__name__}); see the ZIP"
            missing.append(entry.item)
    if missing and not allow_incomplete:
        raise PacketIncomplete(missing)
    # Page numbers on the cover count the cover itself, which may run to more than one page.
    cover_pages = 1
    for _ in range(2):
        for n, (first, last) in spans.items():
            entries[n - 1].note = f"pages {first + cover_pages}-{last + cover_pages}"
        cover = _cover(application, entries, missing)
        counted = len(PdfReader(io.BytesIO(cover)).pages)
        if counted == cover_pages:
            break
        cover_pages = counted
    final = PdfWriter()
    final.append(PdfReader(io.BytesIO(cover)))
    for page in writer.pages:
        final.add_page(page)
    buf = io.BytesIO()
    final.write(buf)
    project = application.project
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    base = filetypes.safe_name(f"{project.external_id} {application.kind_label} packet {stamp}")
    with db.atomic():
        pdf_doc, _ = documents.add(project, buf.getvalue(), base + ".pdf", source="generated", actor=actor,
                                   application=application, kind="packet_pdf")
        zip_doc, _ = documents.add(project, _zip(entries), base + ".zip", source="generated", actor=actor,
                                   application=application, kind="packet_zip", mime="application/zip")
        summary = f"Packet built for {application.kind_label}: {len(entries) - len(missing)} of {len(entries)} items"
        body = ""
        if missing:
            summary += " (INCOMPLETE, built anyway)"
            body = "Missing: " + "; ".join(i.label for i in missing)
        Event.record(project, "document", actor, application=application, summary=summary, body=body,
                     data={"document_id": pdf_doc.id, "zip_id": zip_doc.id, "incomplete": bool(missing),
                           "missing": [i.label for i in missing]})
    if progress:
        progress(total, total, "done")
    return pdf_doc, zip_doc


def _as_pdf(doc: Document) -> bytes | None:
    data = doc.data()
    if doc.mime == "application/pdf":
        return data
    if doc.mime in IMAGE_TYPES:
        from PIL import Image, ImageOps, ImageSequence
        if doc.mime == "image/heic":
            import pillow_heif
            pillow_heif.register_heif_opener()
        pages = []
        with Image.open(io.BytesIO(data)) as img:
            for frame in ImageSequence.Iterator(img):  # every page of a multi-page TIFF
                page = ImageOps.exif_transpose(frame.convert("RGB"))  # phone photos the right way up
                page.thumbnail((MAX_SIDE, MAX_SIDE))
                pages.append(page)
        out = io.BytesIO()
        pages[0].save(out, format="PDF", resolution=150, save_all=True, append_images=pages[1:])
        return out.getvalue()
    if doc.mime == "text/plain":
        if len(data) > MAX_TEXT_BYTES:
            return None  # a log dump does not belong in a utility packet; it stays in the ZIP
        from fpdf import FPDF
        page = FPDF()
        page.add_page()
        page.set_font("Courier", size=9)
        text = filetypes.decode_text(data) or data.decode("utf-8", "replace")
        page.multi_cell(0, 4, text=_latin(text))
        return bytes(page.output())
    return None


def _latin(text: str) -> str:
    # The core PDF fonts are Latin-1; anything else prints as "?" rather than failing the build.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _cover(application: Application, entries: list[Entry], missing: list[ChecklistItem]) -> bytes:
    from fpdf import FPDF
    project = application.project
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(f"{application.kind_label} submission packet"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    lines = [
        f"Project: {project.external_id} - {project.customer_name}",
        f"Site: {project.address}",
        f"Utility: {project.utility.name}   Account: {project.utility_account or '-'}",
        f"Application status: {application.status_label}   Reference: {application.reference_number or '-'}",
        f"System: {project.product_label}, {project.pv_kw_dc or '-'} kW DC / {project.pv_kw_ac or '-'} kW AC"
        + (f", battery {project.battery_kwh} kWh" if project.battery_kwh else ""),
        f"Built: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]
    for line in lines:
        pdf.cell(0, 6, _latin(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for n, e in enumerate(entries, start=1):
        form = f" (form {e.item.form_number})" if e.item.form_number else ""
        source = e.doc.name if e.doc else "-"
        pdf.multi_cell(0, 5, _latin(f"{n}. {e.item.label}{form}: {source} [{e.note}]"), new_x="LMARGIN", new_y="NEXT")
    if missing:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.set_text_color(180, 30, 20)
        pdf.cell(0, 8, "INCOMPLETE - missing items", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for item in missing:
            pdf.cell(0, 5, _latin(f"- {item.label}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _zip(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, e in enumerate(entries, start=1):
            if e.doc is None:
                continue
            name = filetypes.safe_name(f"{n:02d} - {e.item.label} - {e.doc.name}", e.doc.filetype)
            z.writestr(name, e.doc.data())
    return buf.getvalue()
