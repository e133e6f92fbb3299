"""The pipeline (list, search, filters, export) and the project page (facts, timeline, flag)."""
from __future__ import annotations

import io

from flask import Blueprint, Response, flash, g, redirect, render_template, request, stream_with_context, url_for

from models import Ahj, Application, Event, Project, User, Utility, checklists, pipeline
from models import csv_safe, lifecycle
from models.applications import KINDS, status_label
from models.base import db, today as desk_today
from models.catalog_ref import find_utility_code, utility_states
from models.project_fields import DATE_FIELDS, FLAG_FIELDS, clean_project, nul_errors
from models.project_import import COLUMNS
from models.projects import BALL, STAGES
from models.vocab import PRODUCT_TYPES
from models.vocab import is_id
from web import htmx
from web.access import project_or_404, require_edit
from web.auth import lead_required
from web.errors import validates_text

bp = Blueprint("projects", __name__)
FORM_FIELDS = ("customer_name", "customer_email", "customer_phone", "street", "city", "state", "zip",
               "utility", "utility_account", "product_type", "pv_kw_dc", "pv_kw_ac", "battery_kwh", "program",
               "contract_signed_on", "application_complete_on", "installed_on",
               "export_limited", "new_home", "third_party_owned", "main_panel_upgrade")


def _choices() -> dict:
    utilities = list(Utility.select().order_by(Utility.name))
    coordinators = list(User.assignable())
    return {
        "stages": STAGES, "balls": BALL, "products": PRODUCT_TYPES,
        "utilities": utilities, "utility_options": [(u.code, u.name) for u in utilities],
        "ahjs": list(Ahj.select().order_by(Ahj.name, Ahj.state)),
        "coordinators": coordinators, "coordinator_options": [(u.id, u.name) for u in coordinators],
    }


@bp.get("/")
def home():
    """The pipeline is the coordinator's home."""
    return redirect(url_for("projects.index"))


@bp.get("/projects")
def index():
    """The pipeline: counts per stage, filters, active search, sortable and paged rows."""
    f = pipeline.PipelineFilter.from_args(request.args)
    found = pipeline.page(f)
    # The results fragment (active search, paging, sorting) shows no filter menus: no need to load them.
    choices = {"stages": STAGES} if htmx.is_fragment_request() else _choices()
    context = {"f": f, "page": found, "counts": found.counts, **choices}
    return htmx.render("projects/index.html", "projects/_results.html", **context)


@bp.get("/projects/export.csv")
def export():
    """The current filtered pipeline as CSV, in the import's column layout (round-trips, formulas guarded)."""
    f = pipeline.PipelineFilter.from_args(request.args)

    def rows():
        buf = io.StringIO()
        writer = csv_safe.writer(buf)
        writer.writerow(COLUMNS + ("stage", "ball_in_court", "updated_at"))
        yield buf.getvalue()  # the header at once: the download starts before the first query
        for chunk in pipeline.keyset(f):
            buf.seek(0)
            buf.truncate()
            refs = _references([p.id for p in chunk])
            for p in chunk:
                writer.writerow(_export_row(p, refs.get(p.id, {})))
            yield buf.getvalue()

    resp = Response(stream_with_context(rows()), mimetype="text/csv")
    resp.headers["Content-Disposition"] = 'attachment; filename="ixdesk-pipeline.csv"'
    return resp


def _references(ids: list[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    query = Application.select(Application.project, Application.kind, Application.reference_number).where(
        Application.project.in_(ids), Application.reference_number.is_null(False))
    for a in query:
        out.setdefault(a.project_id, {}).setdefault(a.kind, a.reference_number)
    return out


def _export_row(p: Project, refs: dict) -> list:
    def num(v):
        return "" if v is None else f"{v:.3f}".rstrip("0").rstrip(".")
    return [p.external_id, p.customer_name, p.customer_email or "", p.customer_phone or "", p.street, p.city,
            p.state, p.zip, p.utility.code, p.ahj.name if p.ahj_id else "", p.product_type, num(p.pv_kw_dc),
            num(p.pv_kw_ac), num(p.battery_kwh), p.program or "", p.utility_account or "",
            refs.get("utility_part1", ""), refs.get("ahj_permit", ""),
            p.coordinator.email if p.coordinator_id else "", p.stage, p.ball_in_court,
            p.updated_at.isoformat(timespec="seconds")]


def _project(project_id: int) -> Project:
    return project_or_404(project_id)


def _editable(project: Project) -> Project:
    return require_edit(project)


def _page_context(project: Project, **extra) -> dict:
    applications = list(Application.select().where(Application.project == project).order_by(Application.id))
    return {"project": project, "applications": applications, "events": list(Event.timeline(project).limit(200)),
            "can_edit": project.can_edit(g.user), **_choices(), "errors": {}, "form": None,
            "today": desk_today(), "app_kinds": KINDS, "packets": _latest_packets(applications),
            "app_statuses": {k: [(s, status_label(k, s)) for s in lifecycle.statuses(k)] for k in KINDS}, **extra}


def _latest_packets(applications: list) -> dict:
    from models import Document
    out = {}
    if applications:
        for doc in Document.select().where(Document.application.in_([a.id for a in applications]),
                                           Document.kind == "packet_pdf").order_by(Document.id.desc()):
            out.setdefault(doc.application_id, doc)
    return out


@bp.get("/projects/<int:project_id>")
def show(project_id: int):
    """The project page: key facts, applications, timeline."""
    return render_template("projects/show.html", **_page_context(_project(project_id)))


@bp.get("/projects/<int:project_id>/edit")
def edit(project_id: int):
    """The facts as an edit form (htmx swaps it in place of the facts)."""
    project = _editable(_project(project_id))
    values = _form_values(project)
    return htmx.render("projects/show.html", "projects/_form.html",
                       **_page_context(project, editing=True, form=values, orig=values))


@bp.get("/projects/<int:project_id>/facts")
def facts(project_id: int):
    """The facts, read-only (cancel an edit)."""
    return htmx.render("projects/show.html", "projects/_facts.html", **_page_context(_project(project_id)))


def _form_values(project: Project) -> dict:
    """The project's facts as the edit form shows them (strings)."""
    values = {name: getattr(project, name) for name in FORM_FIELDS if name != "utility"}
    values.update(utility=project.utility.code, ahj=project.ahj.name if project.ahj_id else "",
                  stage=project.stage, coordinator=str(project.coordinator_id or ""),
                  customer_phone=project.phone_display)
    for name in FLAG_FIELDS:
        values[name] = {True: "yes", False: "no"}.get(getattr(project, name), "")
    return {k: ("" if v is None else str(v) if k in DATE_FIELDS else v) for k, v in values.items()}


def _clean_form(form, project: Project | None) -> tuple[dict, dict]:
    """Validated values and per-field errors from a posted project form."""
    # An update only touches the fields posted; a new project validates them all.
    fields = FORM_FIELDS + ("external_id",) if project is None else tuple(f for f in FORM_FIELDS if f in form)
    cleaned = clean_project(form, find_utility_code, fields, states_of=utility_states)
    values, errors = cleaned.values, dict(cleaned.errors)
    for name in ("street", "city", "state", "zip"):
        if name in values and values[name] is None:
            values[name] = ""
    if "utility" in values:
        values["utility"] = Utility.get_or_none(Utility.code == values["utility"])
        if values["utility"] is None:
            errors["utility"] = "is in the catalog but not yet in the database; run `flask db upgrade`"
    if "ahj" in form:
        errors.update(nul_errors(form, ("ahj",)))
        ahj = " ".join(form.get("ahj", "").split())[:120]
        state = values.get("state", project.state if project else "") or ""
        values["ahj"] = Ahj.named(ahj, state) if ahj and not errors else None
    if "stage" in form or project is None:
        stage = form.get("stage") or "intake"
        if stage not in STAGES:
            errors["stage"] = "choose a stage from the list"
        values["stage"] = stage
    if g.user.is_lead and "coordinator" in form:
        raw = form.get("coordinator", "")
        user = User.get_or_none((User.id == int(raw)) & (User.active == True)) if is_id(raw) else None  # noqa: E712
        if raw and user is None:
            errors["coordinator"] = "choose an active coordinator"
        values["coordinator"] = user
    if project is None and "external_id" in values and \
            Project.select().where(Project.external_id == values["external_id"]).exists():
        errors["external_id"] = f"project {values['external_id']} already exists"
    return values, errors


EDIT_KEYS = FORM_FIELDS + ("ahj", "stage", "coordinator")


def _same(a, b) -> bool:
    return " ".join(str(a or "").split()) == " ".join(str(b or "").split())


@bp.post("/projects/<int:project_id>")
@validates_text
def update(project_id: int):
    """Save edited facts: the facts fragment on success, the form with field errors (422) otherwise.

    The form carries the values it was opened with (orig.*): only fields the user changed are
    written, so a save from an old tab never reverts someone else's newer change, and a field both
    changed differently is a conflict (409) shown in the form, the user's input intact.
    """
    project = _editable(_project(project_id))
    posted = request.form
    form = {k: posted.get(k, "") for k in EDIT_KEYS}
    current = _form_values(project)
    if any(k.startswith("orig.") for k in posted):
        orig = {k: posted.get("orig." + k, "") for k in EDIT_KEYS}
        touched = {k for k in EDIT_KEYS if k in posted and not _same(posted[k], orig[k])}
        conflicts = {k: current.get(k, "") for k in touched
                     if not _same(current.get(k), orig[k]) and not _same(current.get(k), posted[k])}
        if conflicts:
            errors = {k: f"was changed by someone else to “{v or 'empty'}” since you opened this form; "
                         f"save again to keep yours" for k, v in conflicts.items()}
            return htmx.render("projects/show.html", "projects/_form.html", status=409,
                               **_page_context(project, editing=True, form=form, orig=current, errors=errors,
                                               conflict=True))
        submit = {**current, **{k: posted[k] for k in touched}}
    else:
        orig, submit = current, posted
    values, errors = _clean_form(submit, project)
    if errors:
        return htmx.render("projects/show.html", "projects/_form.html", status=422,
                           **_page_context(project, editing=True, form=form, orig=orig, errors=errors))
    changes = project.apply_changes(values, g.user)
    if not htmx.is_fragment_request():
        flash("Saved." if changes else "Nothing changed.")
        return redirect(url_for("projects.show", project_id=project.id), 303)
    resp = htmx.render("projects/show.html", "projects/_facts.html",
                       **_page_context(project, saved=bool(changes)))
    return htmx.trigger(resp, "project-changed")


@bp.route("/projects/new", methods=["GET", "POST"])
@validates_text
def new():
    """Create one project by hand."""
    if request.method == "GET":
        return render_template("projects/new.html", form={"product_type": "pv", "stage": "intake",
                                                          "coordinator": str(g.user.id)}, errors={}, **_choices())
    values, errors = _clean_form(request.form, None)
    if errors:
        form = {k: request.form.get(k, "") for k in FORM_FIELDS + ("external_id", "ahj", "stage", "coordinator")}
        return render_template("projects/new.html", form=form, errors=errors, **_choices()), 422
    values.setdefault("coordinator", g.user if not g.user.is_lead else None)
    with db.atomic():
        project = Project.create(**{k: v for k, v in values.items() if v is not None})
        project.refresh_rollups()
        project.save()
        Event.record(project, "create", g.user, summary="Project created")
        checklists.sync(project, g.user)
    return redirect(url_for("projects.show", project_id=project.id), 303)


@bp.post("/projects/<int:project_id>/notes")
@validates_text
def add_note(project_id: int):
    """Add a note to the timeline; htmx gets the refreshed timeline back."""
    project = _project(project_id)  # anyone may write on the timeline; only facts are guarded
    text = request.form.get("body", "")
    try:
        project.add_note(text, g.user)
    except ValueError as exc:
        return _part(project, "projects/_timeline.html", status=422, note_error=str(exc), note_text=text)
    if not htmx.is_fragment_request():
        return redirect(url_for("projects.show", project_id=project.id) + "#timeline", 303)
    return _part(project, "projects/_timeline.html")


def _part(project: Project, fragment: str, status: int = 200, **extra):
    """One region of the project page; htmx gets just what that region needs, a plain request the page."""
    if not htmx.is_fragment_request():
        return htmx.render("projects/show.html", fragment, status=status, **_page_context(project, **extra))
    context = {"project": project, "events": list(Event.timeline(project).limit(200)), **extra}
    return htmx.render("projects/show.html", fragment, status=status, **context)


@bp.get("/projects/<int:project_id>/keyline")
def keyline(project_id: int):
    """The name and status line of the project header (refreshed after inline edits)."""
    return _part(_project(project_id), "projects/_keyline.html")


@bp.get("/projects/<int:project_id>/timeline")
def timeline(project_id: int):
    """The timeline alone (refreshed when the project changes elsewhere on the page)."""
    return _part(_project(project_id), "projects/_timeline.html")


@bp.post("/projects/<int:project_id>/flag")
@validates_text
def flag(project_id: int):
    """Flag the project to a lead with a reason."""
    project = _project(project_id)
    try:
        project.flag(request.form.get("reason", ""), g.user)
    except ValueError as exc:
        return render_template("projects/show.html", **_page_context(project, flag_error=str(exc))), 422
    flash("Flagged to your lead.")
    return redirect(url_for("projects.show", project_id=project.id), 303)


@bp.post("/projects/<int:project_id>/unflag")
@lead_required
def unflag(project_id: int):
    """A lead clears a flag, optionally with a note."""
    project = _project(project_id)
    try:
        project.unflag(g.user, request.form.get("note", ""))
    except ValueError as exc:
        flash(str(exc))
    return redirect(request.form.get("back") == "flagged" and url_for("projects.flagged")
                    or url_for("projects.show", project_id=project.id), 303)


@bp.get("/flagged")
def flagged():
    """Projects flagged to a lead (oldest first by default), searchable, sortable and paged."""
    args = request.args.to_dict()
    args["flagged"] = "1"
    args.setdefault("sort", "flagged")
    args.setdefault("dir", "asc")
    f = pipeline.PipelineFilter.from_args(args)
    return htmx.render("projects/flagged.html", "projects/_flagged_rows.html", f=f, page=pipeline.page(f))
