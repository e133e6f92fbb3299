"""Prefill forms: admins upload a fillable PDF and map its fields; anyone generates it for a project."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from catalog import CatalogError
from models import prefill
from models.catalog_ref import current
from web.access import editable_project

bp = Blueprint("forms", __name__)


def _root():
    return current_app.config["IXDESK"].catalog_dir


def _admin():
    if g.user.role != "admin":
        abort(403, "only admins manage form templates")


def _template(code: str) -> prefill.Template:
    found = prefill.usable_templates(_root()).get(code.upper())
    if found is None:
        abort(404, f"no form template {code!r}")
    return found


@bp.get("/forms")
def index():
    """Form templates that can be prefilled, and (admins) the upload of a new one."""
    return render_template("forms/index.html", templates=list(prefill.usable_templates(_root()).values()),
                           doc_types=current().doc_types, error=None, form={})


@bp.post("/forms")
def upload():
    """Upload a fillable PDF; its fields are shown next for mapping."""
    _admin()
    f = request.files.get("pdf")
    meta = {k: request.form.get(k, "").strip()[:200] for k in ("name", "number", "version", "doc_type", "source")}
    code = request.form.get("code", "")
    try:
        if not f or not f.filename:
            raise CatalogError(["choose the fillable PDF"])
        if meta["doc_type"] and meta["doc_type"] not in current().doc_types:
            raise CatalogError([f"unknown document type {meta['doc_type']!r}"])
        # A new version of a known form keeps the mapping of the fields it still has.
        old = prefill.usable_templates(_root()).get(code.strip().upper())
        template = prefill.save_template(_root(), code, f.read(), meta, old.fields if old else {},
                                         old.left_blank if old else {})
    except CatalogError as exc:
        return render_template("forms/index.html", templates=list(prefill.usable_templates(_root()).values()),
                               doc_types=current().doc_types, error="; ".join(exc.errors),
                               form={**meta, "code": code}), 422
    flash(f"{template.name}: {len(template.pdf_fields)} fields found; map them below.")
    return redirect(url_for("forms.show", code=template.code), 303)


@bp.get("/forms/<code>")
def show(code: str):
    """A template's fields and what fills each one."""
    return render_template("forms/show.html", t=_template(code), data=prefill.DATA, error=None)


@bp.post("/forms/<code>")
def save(code: str):
    """Save the field mapping (a field is filled from a fact, or left blank with a reason)."""
    _admin()
    t = _template(code)
    mapping, blank, problems = {}, {}, []
    for pdf_field in t.pdf_fields:
        choice = request.form.get(f"map.{pdf_field}", "")
        reason = request.form.get(f"blank.{pdf_field}", "").strip()[:200]
        if choice in prefill.DATA:
            mapping[pdf_field] = choice
        elif choice == "__blank__":
            if not reason:
                problems.append(f"{pdf_field}: say why it is left blank")
            blank[pdf_field] = reason
    if problems:
        return render_template("forms/show.html", t=t, data=prefill.DATA, error="; ".join(problems)), 422
    meta = {"name": t.name, "number": t.number, "version": t.version, "doc_type": t.doc_type, "source": t.source}
    try:
        prefill.save_template(_root(), t.code, t.pdf_path.read_bytes(), meta, mapping, blank)
    except CatalogError as exc:
        return render_template("forms/show.html", t=t, data=prefill.DATA, error="; ".join(exc.errors)), 422
    flash("Mapping saved.")
    return redirect(url_for("forms.show", code=t.code), 303)


@bp.post("/projects/<int:project_id>/prefill")
def generate(project_id: int):
    """Fill a form for this project; missing values are listed, never silently left blank."""
    project = editable_project(project_id)
    t = _template(request.form.get("code", ""))
    doc, filled = prefill.generate(t, project, g.user, current_app.config["IXDESK"].installer)
    gaps = [f"{f} ({label})" for f, label in filled.missing] + [f"{f} (not mapped)" for f in filled.unmapped]
    flash(f"{doc.name} generated." + (f" Left blank, fill by hand: {'; '.join(gaps)}." if gaps else ""))
    return redirect(url_for("documents.show", doc_id=doc.id), 303)
