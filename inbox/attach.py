"""Step 5, attach: a mail's files become the project's Documents, linked to a checklist item when recognisable."""
from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

from inbox.parse import Attachment
from models import documents, filetypes
from models.applications import Application
from models.checklists import ChecklistItem
from models.projects import Project

log = logging.getLogger(__name__)
# File-name and content cues -> the document types they suggest, most specific first.
CUES = (
    (re.compile(r"\bpto\b|permission[\s_-]*to[\s_-]*operate", re.I), ("PTO_LETTER",)),
    (re.compile(r"single[\s_-]*line|one[\s_-]*line|\bsld\b|1[\s_-]*line", re.I), ("SLD",)),
    (re.compile(r"insurance|\bcoi\b", re.I), ("INSURANCE_COI",)),
    (re.compile(r"interconnection[\s_-]*agreement|executed[\s_-]*agreement|\bi?isa\b|\bnem[\s_-]*agreement", re.I),
     ("INTERCONNECTION_AGREEMENT",)),
    (re.compile(r"signed[\s_-]*(agreement|authori[sz]ation|a&a|form)|authori[sz]ation|\ba&a\b", re.I),
     ("CUSTOMER_AUTH", "CUSTOMER_INFO_AUTH", "INTERCONNECTION_AGREEMENT", "PROGRAM_AGREEMENT")),
    (re.compile(r"final[\s_-]*(inspection|permit|sign[\s_-]*off)|signed[\s_-]*off|job[\s_-]*card", re.I),
     ("AHJ_FINAL",)),
    (re.compile(r"approval[\s_-]*letter", re.I), ("AHJ_FINAL", "SOLARAPP_APPROVAL")),
    (re.compile(r"solarapp", re.I), ("SOLARAPP_APPROVAL",)),
    (re.compile(r"site[\s_-]*plan", re.I), ("SITE_PLAN",)),
    (re.compile(r"spec[\s_-]*sheet|data[\s_-]*sheet", re.I), ("SPEC_SHEETS", "BESS_DATASHEET")),
    (re.compile(r"contract|\bppa\b|\blease\b", re.I), ("SALES_CONTRACT",)),
    (re.compile(r"\bbill\b|utility[\s_-]*statement|electric[\s_-]*statement|_bill|bill_", re.I), ("UTILITY_BILL",)),
)
SKIP_INLINE_BELOW = 40_000  # logos and signature images in HTML mail


@dataclass
class Attached:
    document_id: int | None
    name: str
    item: str = ""  # the checklist item label it was linked to
    problem: str = ""  # why it was not kept (the raw mail still holds it)
    role: str = "to review"  # what it is when it is on no item: "to review", "the deficiency notice's letter"


# The letter a notice itself is: a PTO notice's PDF is the PTO letter; a deficiency letter is only a letter.
LETTERS = {"pto_granted": ("PTO_LETTER",), "inspection_passed": ("AHJ_FINAL",),
           "permit_issued": ("SOLARAPP_APPROVAL",)}


# What only one kind of sender issues: a utility's approval letter is not the city's final sign-off.
ISSUED_BY = {"AHJ_FINAL": "ahj", "SOLARAPP_APPROVAL": "ahj", "PTO_LETTER": "utility",
             "INTERCONNECTION_AGREEMENT": "utility"}


def doc_types_for(name: str, text: str = "", sender: str | None = None) -> tuple[str, ...]:
    """Document types a file name (or, failing that, its first page of text) suggests; pure.

    sender: "utility" or "ahj" when the mail came from one; types only the other one issues are dropped.
    """
    for source in (name.replace("_", " "), text[:4000]):
        for cue, types in CUES:
            if source and cue.search(source):
                kept = tuple(t for t in types if sender is None or ISSUED_BY.get(t, sender) == sender)
                if kept:
                    return kept
    return ()


def first_page_text(data: bytes) -> str:
    try:
        from pypdf import PdfReader
        reader = PdfReader(io.BytesIO(data), strict=False)
        return reader.pages[0].extract_text()[:4000] if reader.pages else ""
    except Exception:  # unreadable PDFs are flagged by documents.add; no cue from them
        return ""


def _item_for(project: Project, types: tuple[str, ...], application: Application | None) -> ChecklistItem | None:
    if not types:
        return None
    items = list(ChecklistItem.select().where(ChecklistItem.project == project, ChecklistItem.doc_type.in_(types),
                                              ChecklistItem.required == True))  # noqa: E712
    if not items:
        return None

    def order(i: ChecklistItem):
        return (i.status not in ("missing", "requested", "rejected"),
                application is not None and i.application != application.kind, types.index(i.doc_type), i.id)
    return sorted(items, key=order)[0]


def attach(project: Project, files: list[Attachment], application: Application | None = None,
           max_bytes: int | None = None, sender: str | None = None, notice: str | None = None,
           trusted: bool = True) -> list[Attached]:
    """Store each file on the project; link it to the checklist item its name or content points at.

    notice: the notice the mail is (from an authority): its files are that notice's letter, never a
    deliverable the letter mentions ("the SLD is missing"). trusted=False: files are kept to review, with
    the item they seem to be for proposed, not filled.
    """
    kept: list[Attached] = []
    for f in files:
        if f.inline and f.content_type.startswith("image/") and len(f.data) < SKIP_INLINE_BELOW:
            continue
        mime = filetypes.EML.mime if f.content_type == "message/rfc822" else None
        role = "to review"
        if notice:
            types = LETTERS.get(notice, ())
            role = f"the {notice.replace('_', ' ')} notice's letter"
        else:
            types = doc_types_for(f.name, sender=sender)
            if not types and f.data[:5] == b"%PDF-":
                types = doc_types_for("", first_page_text(f.data), sender)
        item = _item_for(project, types, application) if mime is None else None
        proposed = None
        if item is not None and not trusted:
            proposed, item = item, None
        try:
            doc, _created = documents.add(project, f.data, f.name, source="email", item=item,
                                          application=application, max_bytes=max_bytes, mime=mime,
                                          proposed_item=proposed)
        except documents.DocumentError as exc:
            kept.append(Attached(None, filetypes.safe_name(f.name), problem=str(exc)))
            continue
        if proposed is not None:
            role = f"to review, perhaps {proposed.label}"
        kept.append(Attached(doc.id, doc.name, item.label if item else "", role=role))
    return kept
