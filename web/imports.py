"""CSV import: upload, a dry-run preview with per-row errors, then apply; both run as jobs with progress."""
from __future__ import annotations


from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from peewee import IntegrityError

from models import Job, storage
from models.base import db
from models.project_import import COLUMNS, CsvFileError, count_rows, decode
from web import htmx
from web.auth import lead_required

bp = Blueprint("imports", __name__, url_prefix="/imports")


def _enqueue(job: Job) -> None:
    from workers.actors import import_projects
    import_projects.send(job.id)


@bp.get("/new")
@lead_required
def new():
    """The upload form, with the expected columns."""
    recent = list(Job.select().where(Job.kind == "import").order_by(Job.id.desc()).limit(10))
    return render_template("imports/new.html", columns=COLUMNS, error=None, recent=recent)


@bp.get("")
def index():
    """The import page lives at /imports/new."""
    return redirect(url_for("imports.new"))


@bp.post("")
@lead_required
def create():
    """Store the uploaded file and start a dry run of it."""
    upload = request.files.get("file")
    data = upload.read() if upload else b""
    error = None
    if not data:
        error = "Choose a CSV file to upload."
    else:
        try:
            if count_rows(decode(data)) == 0:
                error = "The file has a header but no rows."
        except CsvFileError as exc:
            error = f"This file cannot be imported: {exc}."
    if error:
        recent = list(Job.select().where(Job.kind == "import").order_by(Job.id.desc()).limit(10))
        return render_template("imports/new.html", columns=COLUMNS, error=error, recent=recent), 422
    # In the shared file store, so a worker on another machine reads the same bytes.
    sha, _ = storage.put(data)
    job = Job.create(kind="import", created_by=g.user, params={
        "sha256": sha, "dry_run": True, "filename": (upload.filename or "upload.csv")[:200]})
    _enqueue(job)
    return redirect(url_for("imports.show", job_id=job.id), 303)


def _job(job_id: int) -> Job:
    job = Job.get_or_none((Job.id == job_id) & (Job.kind == "import"))
    if job is None:
        abort(404, "no such import")
    return job


@bp.get("/<int:job_id>")
@lead_required
def show(job_id: int):
    """The job page; its progress widget polls itself until the job finishes."""
    return htmx.render("imports/show.html", "imports/_progress.html", job=_job(job_id))


@bp.post("/<int:job_id>/apply")
@lead_required
def apply(job_id: int):
    """Apply a finished dry run's file for real (rows with errors are skipped and listed again)."""
    dry = _job(job_id)
    params = dry.params or {}
    if not params.get("dry_run") or dry.state != "done":
        abort(409, "only a finished dry run can be applied")
    key = f"apply:{dry.id}"
    try:
        with db.atomic():
            job = Job.create(kind="import", key=key, created_by=g.user,
                             params={**params, "dry_run": False, "from_dry_run": dry.id})
    except IntegrityError:  # a double click or a second tab: show the import already started
        return redirect(url_for("imports.show", job_id=Job.get(Job.key == key).id), 303)
    _enqueue(job)
    return redirect(url_for("imports.show", job_id=job.id), 303)
