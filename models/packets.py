"""Submission packets: an application's required documents as one PDF with a cover sheet, plus a ZIP.

The PDF and the ZIP are made in a child process with its own memory and time limits (models/packet_build.py);
this module decides what goes in, and stores what comes out.
"""
from __future__ import annotations

import datetime as dt
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from models import documents, filetypes, packet_build
from models.applications import Application
from models.base import db, utcnow
from models.checklists import ChecklistItem
from models.documents import Document
from models.events import Event
from models.packet_build import Limits, PacketRefused  # noqa: F401  (callers catch and configure them here)
from models.users import User

log = logging.getLogger(__name__)


class PacketIncomplete(Exception):
    """Required items have no usable document; build anyway only with an explicit override."""

    def __init__(self, missing: list[ChecklistItem], reasons: dict[int, str] | None = None):
        super().__init__("missing: " + "; ".join(i.label for i in missing))
        self.missing = missing
        self.reasons = reasons or {}  # checklist item id -> why its file could not be used

    def describe(self) -> str:
        """The refusal as a coordinator reads it: each missing item, and why its file could not go in."""
        return "missing required items: " + "; ".join(
            i.label + (f" ({self.reasons[i.id]})" if i.id in self.reasons else "") for i in self.missing)


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


def why_missing(items: list[ChecklistItem]) -> dict[int, str]:
    """Why each item's newest file cannot go in a packet (too large, damaged, rejected); absent when it has none."""
    reasons = {}
    for item_id, doc in documents.current_for(items).items():
        if doc.problem:
            reasons[item_id] = doc.problem if doc.name in doc.problem else f"{doc.name}: {doc.problem}"
        elif doc.review == "rejected":
            reasons[item_id] = f"{doc.name} was rejected: {doc.review_reason}"
    return reasons


def build(application: Application, actor: User | None, allow_incomplete: bool = False,
          progress: Callable[[int, int, str], None] | None = None,
          limits: Limits | None = None) -> tuple[Document, Document]:
    """Build and store the packet PDF and the ZIP of originals.

    Raises PacketIncomplete unless overridden, and PacketRefused when the packet is over a limit (pages,
    pixels, memory or time) or the build failed; nothing is stored then.
    """
    entries, missing = plan(application)
    if missing and not allow_incomplete:
        raise PacketIncomplete(missing, why_missing(missing))
    project = application.project
    with tempfile.TemporaryDirectory(prefix="ixdesk-packet-") as tmp:
        parts = [_part(n, e, Path(tmp)) for n, e in enumerate(entries, start=1)]
        try:
            built = packet_build.run(f"{application.kind_label} submission packet", _cover_lines(application), parts,
                                     Path(tmp), allow_incomplete=allow_incomplete, limits=limits, progress=progress)
        except PacketRefused as exc:
            Event.record(project, "document", actor, application=application,
                         summary=f"Packet not built for {application.kind_label}: {exc}", data={"refused": str(exc)})
            raise
        for entry, note in zip(entries, built.notes):
            entry.note = note
        failed = [entries[n].item for n in built.failed]
        missing += failed
        if failed and not allow_incomplete:
            raise PacketIncomplete(missing, {entries[n].item.id: why for n, why in built.reasons.items()})
        pdf, archive = built.pdf.read_bytes(), built.zip.read_bytes()
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    base = filetypes.safe_name(f"{project.external_id} {application.kind_label} packet {stamp}")
    with db.atomic():
        pdf_doc, _ = documents.add(project, pdf, base + ".pdf", source="generated", actor=actor,
                                   application=application, kind="packet_pdf")
        zip_doc, _ = documents.add(project, archive, base + ".zip", source="generated", actor=actor,
                                   application=application, kind="packet_zip", mime="application/zip")
        summary = f"Packet built for {application.kind_label}: {len(entries) - len(missing)} of {len(entries)} items"
        body = ""
        if missing:
            summary += " (INCOMPLETE, built anyway)"
            body = "Missing: " + "; ".join(i.label for i in missing)
        Event.record(project, "document", actor, application=application, summary=summary, body=body,
                     data={"document_id": pdf_doc.id, "zip_id": zip_doc.id, "incomplete": bool(missing),
                           "missing": [i.label for i in missing]})
    return pdf_doc, zip_doc


def _part(n: int, entry: Entry, tmp: Path) -> packet_build.Part:
    """The entry as the child reads it: its file copied out of the store (which may be another machine)."""
    item = entry.item
    if entry.doc is None:
        return packet_build.Part(label=item.label, form=item.form_number or "")
    path = tmp / f"{n:03d}"
    path.write_bytes(entry.doc.data())
    return packet_build.Part(label=item.label, form=item.form_number or "", name=entry.doc.name, mime=entry.doc.mime,
                             path=str(path), zip_name=filetypes.safe_name(f"{n:02d} - {item.label} - {entry.doc.name}",
                                                                          entry.doc.filetype))


def _cover_lines(application: Application) -> list[str]:
    project = application.project
    return [
        f"Project: {project.external_id} - {project.customer_name}",
        f"Site: {project.address}",
        f"Utility: {project.utility.name}   Account: {project.utility_account or '-'}",
        f"Application status: {application.status_label}   Reference: {application.reference_number or '-'}",
        f"System: {project.product_label}, {project.pv_kw_dc or '-'} kW DC / {project.pv_kw_ac or '-'} kW AC"
        + (f", battery {project.battery_kwh} kWh" if project.battery_kwh else ""),
        f"Built: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]
