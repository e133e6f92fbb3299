"""Application actions on the project page: file, move status, log contact, reopen."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, g, redirect, request, url_for

from models import Application, Project
from models.applications import KINDS, file_application
from models.base import today as desk_today
from models.lifecycle import TransitionError
from web import htmx
from web.access import editable_project, require_edit

bp = Blueprint("applications", __name__)
CHANNELS = ("call", "email", "portal", "sms", "note")


def _app(app_id: int) -> Application:
    app = Application.get_or_none(Application.id == app_id)
    if app is None:
        abort(404, "no such application")
    require_edit(app.project)
    return app


def _answer(project: Project, error: str = "", form: dict | None = None, app_id: int | None = None):
    """The applications card (htmx) or the project page (plain post)."""
    from web.projects import _page_context
    if not htmx.is_fragment_request():
        if error:
            return htmx.render("projects/show.html", "projects/_applications.html", status=422,
                               **_page_context(project, app_error=error, app_form=form or {}, error_app=app_id))
        return redirect(url_for("projects.show", project_id=project.id) + "#applications", 303)
    project = Project.get_by_id(project.id)
    resp = htmx.render("projects/show.html", "projects/_applications.html", status=422 if error else 200,
                       **_page_context(project, app_error=error, app_form=form or {}, error_app=app_id))
    return resp if error else htmx.trigger(resp, "project-changed")


def _day(raw: str) -> dt.date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    day = dt.date.fromisoformat(raw)
    if day > desk_today() + dt.timedelta(days=1):
        raise TransitionError(f"{day} is in the future; record what has happened")
    return day


@bp.post("/applications/<int:app_id>/transition")
def transition(app_id: int):
    """Move an application to a new status (submit, deficiency, approval, PTO...)."""
    app = _app(app_id)
    form = request.form
    sent, cause = form.get("sent", ""), None
    if form.get("attach_packet") == "1" and form.get("to") in ("SUBMITTED", "COMPLETION_SUBMITTED", "RESUBMITTED"):
        from models import Document
        packet = (Document.select().where(Document.application == app, Document.kind == "packet_pdf")
                  .order_by(Document.id.desc()).first())
        if packet is not None:
            sent = f"{sent}; packet {packet.name}".strip("; ")
            cause = {"document_id": packet.id}
    try:
        app.transition(form.get("to", ""), g.user, form.get("why", ""), by_notice=form.get("notice") == "1",
                       on=_day(form.get("on", "")), reference=form.get("reference") or None,
                       sent=sent, deficiencies=form.get("deficiencies", "").splitlines(), cause=cause)
    except (TransitionError, ValueError) as exc:
        message = str(exc) if isinstance(exc, TransitionError) else f"date: {exc}"
        return _answer(app.project, message, form.to_dict(), app.id)
    return _answer(app.project)


@bp.post("/applications/<int:app_id>/contact")
def contact(app_id: int):
    """Log a call, email or portal check; the follow-up clock restarts."""
    app = _app(app_id)
    channel = request.form.get("channel", "call")
    if channel not in CHANNELS:
        return _answer(app.project, f"channel must be one of {', '.join(CHANNELS)}", request.form.to_dict(), app.id)
    app.log_contact(g.user, channel, request.form.get("note", ""))
    return _answer(app.project)


@bp.post("/applications/<int:app_id>/reopen")
def reopen(app_id: int):
    """Reopen a closed application (with a reason)."""
    app = _app(app_id)
    try:
        app.reopen(g.user, request.form.get("why", ""))
    except TransitionError as exc:
        return _answer(app.project, str(exc), request.form.to_dict(), app.id)
    return _answer(app.project)


@bp.post("/projects/<int:project_id>/applications")
def create(project_id: int):
    """Open a new application of a kind, as a draft."""
    project = editable_project(project_id)
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        return _answer(project, f"choose an application kind: {', '.join(KINDS.values())}")
    file_application(project, kind, "DRAFT")
    return _answer(project)


@bp.post("/applications/<int:app_id>/packet")
def packet(app_id: int):
    """Build the submission packet as a job; missing items block it unless the user overrides."""
    from models import Job
    from models.packets import PacketIncomplete, plan, why_missing
    app = _app(app_id)
    allow = request.form.get("allow_incomplete") == "1"
    _, missing = plan(app)
    if missing and not allow:  # each item with why its file cannot go in (too large, damaged, rejected)
        return _answer(app.project, PacketIncomplete(missing, why_missing(missing)).describe() +
                       ". Attach them, waive them, or tick 'build anyway'.", request.form.to_dict(), app.id)
    job = Job.create(kind="packet", created_by=g.user, params={"application_id": app.id, "allow_incomplete": allow,
                                                                 "project_id": app.project_id})
    from workers.actors import build_packet
    build_packet.send(job.id)
    return htmx.redirect(url_for("applications.packet_job", job_id=job.id)) if htmx.is_fragment_request() \
        else redirect(url_for("applications.packet_job", job_id=job.id), 303)


@bp.get("/packets/<int:job_id>")
def packet_job(job_id: int):
    """The packet job's progress, then links to the PDF and the ZIP."""
    from models import Job
    job = Job.get_or_none((Job.id == job_id) & (Job.kind == "packet"))
    if job is None:
        abort(404, "no such packet build")
    project = Project.get_by_id(job.params["project_id"])
    return htmx.render("documents/packet.html", "documents/_packet_progress.html", job=job, project=project,
                       tab="documents", can_edit=project.can_edit(g.user))
