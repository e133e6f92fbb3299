"""Documents: upload (many at once, or onto a checklist item), preview, download, review."""
from __future__ import annotations

from urllib.parse import quote

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request,
                   url_for)

from models import ChecklistItem, Document, Project, checklists, documents, prefill
from models.documents import DocumentError
from models.vocab import is_id
from web import htmx
from web.access import project_or_404, require_edit

bp = Blueprint("documents", __name__)


def _project(project_id: int) -> Project:
    return project_or_404(project_id)


def _document(doc_id: int) -> Document:
    doc = Document.get_or_none(Document.id == doc_id)
    if doc is None:
        abort(404, "no such document")
    return doc


def _context(project: Project, **extra) -> dict:
    items = [i for group in checklists.items_for(project).values() for i in group]
    docs = list(documents.for_project(project))
    by_item: dict[int, list[Document]] = {}
    for d in docs:
        if d.checklist_item_id:
            by_item.setdefault(d.checklist_item_id, []).append(d)
    return {"project": project, "items": items, "by_item": by_item, "tab": "documents",
            "loose": [d for d in docs if not d.checklist_item_id and d.kind == "file"],
            "packets": [d for d in docs if d.kind in ("packet_pdf", "packet_zip")],
            "can_edit": project.can_edit(g.user), "limit_mb": current_app.config["IXDESK"].max_upload_mb,
            "form_templates": list(prefill.usable_templates(current_app.config["IXDESK"].catalog_dir).values()),
            **extra}


@bp.get("/projects/<int:project_id>/documents")
def index(project_id: int):
    """Documents tab: drop files, see each checklist item's versions, packets and loose files."""
    return htmx.render("documents/index.html", "documents/_list.html", **_context(_project(project_id)))


@bp.post("/projects/<int:project_id>/documents")
def upload(project_id: int):
    """Store uploaded files (each checked on its own: a refused file never stops the others)."""
    project = _project(project_id)
    require_edit(project)
    item = None
    raw_item = request.form.get("item_id", "")
    if raw_item:
        item = ChecklistItem.get_or_none((ChecklistItem.id == int(raw_item)) & (ChecklistItem.project == project)) \
            if is_id(raw_item) else None
        if item is None:
            abort(404, "no such checklist item on this project")
    files = [f for f in request.files.getlist("files") if f and f.filename]
    limit = current_app.config["IXDESK"].max_upload_mb * 1024 * 1024
    added, refused = [], []
    for f in files:
        try:
            doc, created = documents.add(project, f.read(), f.filename, actor=g.user, item=item, max_bytes=limit)
            added.append(doc.name + ("" if created else " (already here; not stored twice)"))
        except DocumentError as exc:
            refused.append(str(exc))
    if not files:
        refused.append("choose at least one file")
    status = 422 if refused and not added else 200
    if not htmx.is_fragment_request():
        for msg in [f"Added {a}" for a in added] + [f"Refused: {r}" for r in refused]:
            flash(msg)
        target = url_for("checklists.show", project_id=project.id) if item else url_for("documents.index",
                                                                                       project_id=project.id)
        return redirect(target, 303)
    on_checklist = item is not None and request.form.get("back") == "checklist"
    template = "checklists/_item.html" if on_checklist else "documents/_list.html"
    extra = {}
    if on_checklist:
        from web.checklists import _context as checklist_context
        extra = checklist_context(project, item=ChecklistItem.get_by_id(item.id))
        extra["item_error"] = "; ".join(refused)
    resp = htmx.render("documents/index.html", template, status=status,
                       **{**_context(project, added=added, refused=refused), **extra,
                          "upload_added": added, "upload_refused": refused})
    return htmx.trigger(resp, "project-changed", "documents-changed") if added else resp


@bp.get("/documents/<int:doc_id>")
def show(doc_id: int):
    """One document: preview, versions of its checklist item, review."""
    doc = _document(doc_id)
    versions = list(Document.select().where(Document.checklist_item == doc.checklist_item_id)
                    .order_by(Document.version.desc())) if doc.checklist_item_id else [doc]
    return render_template("documents/show.html", doc=doc, versions=versions, project=doc.project,
                           can_edit=doc.project.can_edit(g.user), tab="documents", items=_items(doc))


def _items(doc: Document) -> list[ChecklistItem]:
    """The checklist items a file on no item may be filed to (the one it seems to be for first)."""
    if doc.checklist_item_id or doc.kind != "file":
        return []
    items = [i for group in checklists.items_for(doc.project).values() for i in group]
    return sorted(items, key=lambda i: i.id != doc.proposed_item_id)


@bp.post("/documents/<int:doc_id>/file-to")
def file_to(doc_id: int):
    """File a document that is on no checklist item (kept to review, dropped on the tab) to one."""
    doc = _document(doc_id)
    require_edit(doc.project)
    raw = request.form.get("item_id", "")
    item = ChecklistItem.get_or_none((ChecklistItem.id == int(raw)) & (ChecklistItem.project == doc.project_id)) \
        if is_id(raw) else None
    try:
        if item is None:
            raise DocumentError("choose a checklist item of this project")
        doc = documents.file_to(doc, item, g.user)
    except DocumentError as exc:
        return render_template("documents/show.html", doc=doc, versions=[doc], project=doc.project, can_edit=True,
                               tab="documents", items=_items(doc), file_error=str(exc)), 422
    flash(f"{doc.name} filed to {item.label}.")
    return redirect(url_for("documents.show", doc_id=doc.id), 303)


@bp.get("/documents/<int:doc_id>/file")
def file(doc_id: int):
    """The stored bytes, inline only for previewable types, always with safe headers."""
    doc = _document(doc_id)
    inline = request.args.get("inline") == "1" and doc.previewable
    resp = Response(doc.data(), mimetype=doc.mime)
    disposition = "inline" if inline else "attachment"
    ascii_name = doc.name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    resp.headers["Content-Disposition"] = f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(doc.name)}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, max-age=3600"
    if inline:
        # Framed by our own preview page only; nothing in the file may run or reach out.
        resp.headers["X-Frame-Options"] = "SAMEORIGIN"
        resp.headers["Content-Security-Policy"] = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
                                                  "object-src 'self'; frame-ancestors 'self'")
    return resp


@bp.post("/documents/<int:doc_id>/review")
def review(doc_id: int):
    """Accept, or reject with a reason (the checklist item goes back to requested)."""
    doc = _document(doc_id)
    require_edit(doc.project)
    if doc.kind != "file":
        abort(409, "generated documents (packets, prefilled forms) are not reviewed")
    try:
        doc.set_review(request.form.get("verdict", ""), request.form.get("reason", ""), g.user)
    except DocumentError as exc:
        versions = list(Document.select().where(Document.checklist_item == doc.checklist_item_id)
                        .order_by(Document.version.desc())) if doc.checklist_item_id else [doc]
        return render_template("documents/show.html", doc=doc, versions=versions, project=doc.project,
                               can_edit=True, tab="documents", review_error=str(exc),
                               typed_reason=request.form.get("reason", "")), 422
    flash(f"{doc.name} {doc.review}.")
    return redirect(url_for("documents.show", doc_id=doc.id), 303)
