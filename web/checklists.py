"""The project's checklist tab: items by application, why each is required, status changes, preview."""
from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from models import ChecklistItem, Project, checklists, documents
from models.catalog_ref import find_utility_code, utility_states
from models.project_fields import clean_project
from web import htmx
from web.access import project_or_404, require_edit

bp = Blueprint("checklists", __name__)
PREVIEW_FIELDS = tuple(f for f in checklists.FACT_FIELDS if f != "state") + ("state",)


def _project(project_id: int) -> Project:
    return project_or_404(project_id)


def _context(project: Project, **extra) -> dict:
    groups = checklists.items_for(project)
    return {"project": project, "groups": groups, "result": checklists.evaluate(project),
            "statuses": checklists.STATUSES, "can_edit": project.can_edit(g.user), "tab": "checklist",
            "current_docs": documents.current_for([i for items in groups.values() for i in items]), **extra}


@bp.get("/projects/<int:project_id>/checklist")
def show(project_id: int):
    """Checklist tab: warnings on top, then each application's forms and documents."""
    return render_template("checklists/show.html", **_context(_project(project_id)))


@bp.post("/projects/<int:project_id>/checklist/regenerate")
def regenerate(project_id: int):
    """Re-evaluate the catalog for this project now (e.g. after a catalog update)."""
    project = _project(project_id)
    require_edit(project)
    checklists.sync(project, g.user)
    return redirect(url_for("checklists.show", project_id=project.id), 303)


@bp.post("/checklist/<int:item_id>")
def update(item_id: int):
    """Set an item's status (waive and reject need a reason); htmx gets the item back."""
    item = ChecklistItem.get_or_none(ChecklistItem.id == item_id)
    if item is None:
        abort(404, "no such checklist item")
    require_edit(item.project)
    status, reason = request.form.get("status", ""), request.form.get("reason", "")
    try:
        item.set_status(status, reason, g.user)
    except ValueError as exc:
        return htmx.render("checklists/show.html", "checklists/_item.html", status=422,
                           **_context(item.project, item=item, error=str(exc), typed_reason=reason,
                                      typed_status=status))
    if not htmx.is_fragment_request():
        return redirect(url_for("checklists.show", project_id=item.project_id) + f"#item-{item.id}", 303)
    return htmx.trigger(htmx.render("checklists/show.html", "checklists/_item.html",
                                    **_context(item.project, item=item)), "project-changed")


@bp.post("/projects/<int:project_id>/checklist/preview")
def preview(project_id: int):
    """What the edit form's values would add to or drop from the checklist (nothing is saved)."""
    project = _project(project_id)
    fields = tuple(f for f in PREVIEW_FIELDS if f in request.form)
    cleaned = clean_project(request.form, find_utility_code, fields, states_of=utility_states)
    values = {k: v for k, v in cleaned.values.items() if k not in cleaned.errors}
    diff = checklists.preview(project, values)
    return render_template("checklists/_preview.html", diff=diff, invalid=sorted(cleaned.errors))
