"""Documents: files on a project or a checklist item, with versions, review and where they came from."""
from __future__ import annotations

import io
import logging

from peewee import (JOIN, BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, IntegrityError,
                    TextField, fn)

from models import filetypes, storage
from models.applications import Application
from models.base import BaseModel, db, utcnow
from models.checklists import ChecklistItem
from models.events import Event
from models.projects import Project
from models.users import User

log = logging.getLogger(__name__)
SOURCES = ("upload", "email", "generated")
REVIEW = ("pending", "accepted", "rejected")


class DocumentError(ValueError):
    """A file was refused; the message says why in words a coordinator understands."""


class Document(BaseModel):
    project = ForeignKeyField(Project, backref="documents", on_delete="CASCADE")
    checklist_item = ForeignKeyField(ChecklistItem, null=True, backref="documents", on_delete="SET NULL")
    # Where a file from a sender we cannot trust seems to belong: a person files it there (or not).
    proposed_item = ForeignKeyField(ChecklistItem, null=True, backref="+", on_delete="SET NULL")
    application = ForeignKeyField(Application, null=True, backref="documents", on_delete="SET NULL")
    sha256 = CharField(index=True)
    size = BigIntegerField()
    mime = CharField()
    original_name = TextField()  # exactly as received, kept as data; never used as a path or shown unescaped
    name = CharField()  # sanitised, for display and downloads
    source = CharField(default="upload")
    kind = CharField(default="file")  # file | packet_pdf | packet_zip | prefilled_form
    version = IntegerField(default=1)
    problem = TextField(default="")  # e.g. a corrupt PDF: kept and flagged, not refused
    pages = IntegerField(null=True)
    review = CharField(default="pending", index=True)
    review_reason = TextField(default="")
    reviewed_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    reviewed_at = DateTimeField(null=True)
    added_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("project", "checklist_item", "created_at"), False),
                   # One version number per item and kind: two uploads at once cannot both be "v2".
                   (("checklist_item", "kind", "version"), True))

    @property
    def filetype(self) -> filetypes.FileType | None:
        return next((t for t in filetypes.ALLOWED + (filetypes.EML, filetypes.ZIP) if t.mime == self.mime), None)

    @property
    def previewable(self) -> bool:
        return bool(self.filetype and self.filetype.previewable) and not self.problem

    def data(self) -> bytes:
        return storage.get(self.sha256)

    def set_review(self, verdict: str, reason: str, actor: User) -> None:
        """Accept, or reject with a reason; rejecting asks the customer again (item back to requested)."""
        reason = (reason or "").strip()
        if verdict not in ("accepted", "rejected"):
            raise DocumentError("review is accept or reject")
        if self.kind != "file":
            raise DocumentError("generated documents (packets, prefilled forms) are not reviewed")
        if verdict == "rejected" and not reason:
            raise DocumentError("say why the document is rejected (the customer will need to know)")
        with db.atomic():
            self.review, self.review_reason = verdict, reason
            self.reviewed_by, self.reviewed_at = actor, utcnow()
            self.save()
            item = self.checklist_item
            newest = (Document.select(fn.MAX(Document.version)).where(
                Document.checklist_item == item, Document.kind == "file").scalar() if item else None)
            if item is not None and self.version == newest:  # an old version's verdict leaves the item alone
                if verdict == "accepted":
                    item.set_status("accepted", "", actor)
                else:
                    item.set_status("requested", f"{self.name} rejected: {reason}", actor)
            Event.record(self.project, "document", actor,
                         summary=f"{self.name} {verdict}" + (f" ({item.label}; asked again)" if item and
                                                             verdict == "rejected" else ""),
                         body=reason, data={"document_id": self.id})


def inspect_image(data: bytes, mime: str, name: str = "the image") -> str:
    """A problem description when an image is damaged or too large for a packet (never raises).

    Every page is measured from its headers first; only a first page within the limits is then decoded, to
    find a damaged file.
    """
    from PIL import Image
    try:
        filetypes.image_page_sizes(data, mime, name)
    except filetypes.TooLarge as exc:
        return str(exc)
    except Exception as exc:  # truncated headers, unsupported variants: "damaged"
        return f"image cannot be read ({type(exc).__name__}); ask for a new copy"
    try:
        with filetypes.open_image_headers(data, mime) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (img.width // 8 or 1, img.height // 8 or 1))  # a JPEG decodes at 1/8 scale
            img.load()
    except Exception as exc:  # truncated, unsupported variants: all "damaged"
        return f"image cannot be read ({type(exc).__name__}); ask for a new copy"
    return ""


def inspect_pdf(data: bytes, name: str = "the PDF") -> tuple[int | None, str]:
    """Page count, and a problem description when the PDF is damaged (never raises)."""
    from pypdf import PdfReader
    problem = ""
    if b"%%EOF" not in data[-65536:]:
        problem = "PDF is truncated or damaged (no end-of-file marker)"
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # Many PDFs are locked only against editing: they open with an empty password.
        if reader.is_encrypted and not reader.decrypt(""):
            return None, "PDF is password-protected; ask for an unlocked copy"
        pages = len(reader.pages)  # the page tree only: nothing is rendered
        if pages > filetypes.MAX_PACKET_PAGES:
            return pages, (f"{name} is too large: {pages:,} pages; a packet holds at most "
                           f"{filetypes.MAX_PACKET_PAGES}")
        for page in reader.pages[:50]:
            page.get_contents()
        return pages, problem
    except Exception as exc:  # pypdf raises many kinds on broken files; all mean "damaged"
        return None, f"PDF cannot be read ({type(exc).__name__}); ask for a new copy"


def add(project: Project, data: bytes, original_name: str, *, source: str = "upload", actor: User | None = None,
        item: ChecklistItem | None = None, application: Application | None = None, kind: str = "file",
        max_bytes: int | None = None, mime: str | None = None,
        proposed_item: ChecklistItem | None = None) -> tuple[Document, bool]:
    """Store a file on a project (or a checklist item). Returns (document, created); raises DocumentError."""
    if not data:
        raise DocumentError(f"{filetypes.safe_name(original_name)} is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise DocumentError(f"{filetypes.safe_name(original_name)} is {len(data) / 1048576:.1f} MB; "
                            f"the limit is {max_bytes / 1048576:.0f} MB")
    filetype = next((t for t in filetypes.ALLOWED + (filetypes.EML, filetypes.ZIP) if t.mime == mime), None) \
        if mime else filetypes.sniff(data)
    if filetype is None:
        raise DocumentError(f"{filetypes.safe_name(original_name)} is not a file type we accept "
                            f"(its content is not {filetypes.ALLOWED_LABELS})")
    name = filetypes.safe_name(original_name, filetype)
    if item is not None and item.project_id != project.id:
        raise DocumentError("that checklist item belongs to another project")
    pages, problem = inspect_pdf(data, name) if filetype is filetypes.PDF else (None, "")
    if filetype.is_image:
        problem = inspect_image(data, filetype.mime, name)
    # A store that is down or full raises StorageError, passed up as it is: the file is fine, so it is no
    # refusal (DocumentError); the web answers 503 and mail is taken again later.
    sha, _ = storage.put(data)
    same = Document.select().where(Document.project == project, Document.sha256 == sha,
                                   Document.checklist_item == item if item else Document.checklist_item.is_null(),
                                   Document.kind == kind).first()
    if same is not None:
        if same.review == "rejected":
            raise DocumentError(f"{name} is the same file that was rejected on {same.reviewed_at:%Y-%m-%d}: "
                                f"{same.review_reason}")
        return same, False  # the same file again: nothing new to keep or review
    for attempt in range(3):
        try:
            doc = _create(project, item, application, sha, data, filetype, original_name, name, source, kind,
                          problem, pages, actor)
            if proposed_item is not None and proposed_item.project_id == project.id:
                Document.update(proposed_item=proposed_item).where(Document.id == doc.id).execute()
                doc.proposed_item = proposed_item
            return doc, True
        except IntegrityError:  # another upload took this version number at the same moment
            if attempt == 2:
                raise DocumentError(f"{name}: another upload to this item is in progress; try again") from None


def _create(project, item, application, sha, data, filetype, original_name, name, source, kind, problem, pages,
            actor) -> Document:
    with db.atomic():
        version = 1
        if item is not None:
            top = Document.select(fn.MAX(Document.version)).where(Document.checklist_item == item,
                                                                  Document.kind == kind).scalar()
            version = (top or 0) + 1
        # Kept as received, except NUL, which no database text column holds: it is written as \x00.
        original = (original_name or "").replace("\x00", "\\x00")
        doc = Document.create(project=project, checklist_item=item, application=application, sha256=sha,
                              size=len(data), mime=filetype.mime, original_name=original, name=name,
                              source=source, kind=kind, version=version, problem=problem, pages=pages,
                              added_by=actor, review="accepted" if source == "generated" else "pending")
        where = f" for {item.label}" + (f" (version {version})" if version > 1 else "") if item else ""
        Event.record(project, "document", actor, actor_label="" if actor else source,
                     summary=f"{name} added{where}" + (f" — {problem}" if problem else ""),
                     data={"document_id": doc.id})
        if item is not None and source != "generated" and item.status in ("missing", "requested", "rejected"):
            item.set_status("received", f"{name} ({source})", actor) if actor else _received(item, name, source)
    return doc


def file_to(doc: Document, item: ChecklistItem, actor: User) -> Document:
    """A person files a document to a checklist item: it becomes that item's newest version."""
    if item.project_id != doc.project_id:
        raise DocumentError("that checklist item belongs to another project")
    if doc.kind != "file":
        raise DocumentError("generated documents (packets, prefilled forms) are not filed to items")
    if doc.checklist_item_id == item.id:
        raise DocumentError(f"{doc.name} is already filed to {item.label}")
    with db.atomic():
        top = Document.select(fn.MAX(Document.version)).where(Document.checklist_item == item,
                                                              Document.kind == "file").scalar()
        Document.update(checklist_item=item, proposed_item=None, version=(top or 0) + 1).where(
            Document.id == doc.id).execute()
        Event.record(doc.project, "document", actor, summary=f"{doc.name} filed to {item.label}"[:250],
                     data={"document_id": doc.id})
        if item.status in ("missing", "requested", "rejected"):
            item.set_status("received", f"{doc.name} (filed by {actor.name})", actor)
    return Document.get_by_id(doc.id)


def _received(item: ChecklistItem, name: str, source: str) -> None:
    item.status, item.reason, item.next_reminder_on = "received", f"{name} ({source})", None
    item.save()


def for_project(project: Project):
    """Every document of the project with its checklist item, newest first."""
    return (Document.select(Document, ChecklistItem)
            .join(ChecklistItem, JOIN.LEFT_OUTER, on=(Document.checklist_item == ChecklistItem.id))
            .where(Document.project == project).order_by(Document.created_at.desc(), Document.id.desc()))


def current_for(items: list[ChecklistItem]) -> dict[int, Document]:
    """The current (latest) version per checklist item."""
    out: dict[int, Document] = {}
    if not items:
        return out
    query = Document.select().where(Document.checklist_item.in_([i.id for i in items]), Document.kind == "file") \
        .order_by(Document.version.desc())
    for doc in query:
        out.setdefault(doc.checklist_item_id, doc)
    return out
