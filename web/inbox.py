"""The shared inbox: every message in and out, triage (link, accept, assign, handle, re-run), .eml uploads."""
from __future__ import annotations

import dataclasses

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for

from inbox import triage
from inbox.intake import enqueue, intake_from
from inbox.store import store
from inbox.watch import mailbox_key
from models.documents import Document
from models.inbound import KINDS, STATES, InboundMail
from models.places import Utility
from models.projects import Project
from models.shared_inbox import CHANNELS, InboxFilter, coordinators, newer_than, page, thread, triage_counts
from models.users import User
from models.vocab import is_id
from web import htmx

bp = Blueprint("inbox", __name__)
MAX_EML_MB = 60
LIST_STATES = {k: v for k, v in STATES.items() if k not in ("pending", "processing")}


def _mail(mail_id: int) -> InboundMail:
    mail = InboundMail.get_or_none(InboundMail.id == mail_id)
    if mail is None:
        abort(404, "no such mail")
    return mail


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if is_id(raw) else None


def _list_context(f: InboxFilter) -> dict:
    results, counts = page(f)
    newest = InboundMail.select(InboundMail.id).order_by(InboundMail.id.desc()).scalar() or 0
    return {"f": f, "page": results, "counts": counts, "kinds": KINDS, "states": LIST_STATES, "channels": CHANNELS,
            "utilities": list(Utility.select().order_by(Utility.name)), "people": coordinators(), "newest": newest}


@bp.get("/inbox")
def index():
    """Every message in and out, newest first: state tabs, filters, search, sortable and paged."""
    f = InboxFilter.from_args(request.args)
    return htmx.render("inbox/index.html", "inbox/_rows.html", **_list_context(f))


@bp.get("/inbox/count")
def count():
    """The navigation badge: mail waiting for a person (needs review + unmatched, not yet handled)."""
    counts = triage_counts()
    return render_template("inbox/_count.html", counts=counts, total=sum(counts.values()))


@bp.get("/inbox/new")
def new():
    """How many messages arrived after the newest one on the page (polled; the list itself is not reset)."""
    after = request.args.get("after", "")
    n = newer_than(int(after)) if is_id(after) else 0
    args = {k: v for k, v in request.args.items() if k != "after"}
    return render_template("inbox/_new.html", n=n, args=args)


@bp.get("/inbox/<int:mail_id>")
def show(mail_id: int):
    """One mail: what each pipeline step decided and why, triage actions, documents, conversation, body."""
    return htmx.render("inbox/show.html", "inbox/_triage.html", **_show_context(_mail(mail_id)))


def _show_context(mail: InboundMail, **extra) -> dict:
    docs = list(Document.select().where(Document.id.in_(mail.documents or [])).order_by(Document.id)) \
        if mail.documents else []
    project = _project_of(mail)
    return {"mail": mail, "docs": docs, "conversation": thread(mail), "people": coordinators(),
            "can_change": project is None or project.can_edit(g.user), **extra}


def _answer(mail: InboundMail, done: triage.Done | None = None, error: str = "", status: int = 200):
    """The triage panel again (htmx) or the mail page (plain form post), with what happened."""
    mail = InboundMail.get_by_id(mail.id)
    if htmx.is_fragment_request():
        resp = Response(render_template("inbox/_triage.html", **_show_context(
            mail, notice=done.message if done else "", error=error)), status=status)
        return htmx.trigger(resp, "mail-changed", "project-changed") if done else resp
    flash(done.message if done else error)
    return redirect(url_for("inbox.show", mail_id=mail.id), 303)


def _may_change(*projects) -> None:
    """Triage of a project's mail needs the right to edit that project; mail on no project is anyone's."""
    for project in projects:
        if project is not None and not project.can_edit(g.user):
            raise triage.Forbidden(f"{project.external_id} is assigned to another coordinator; ask them or a lead")


def _project_of(mail: InboundMail):
    return Project.get_or_none(Project.id == mail.project_id) if mail.project_id else None


def _act(mail_id: int, action):
    mail = _mail(mail_id)
    try:
        done = action(mail)
    except triage.Forbidden as exc:
        return _answer(mail, error=str(exc), status=403)
    except triage.Conflict as exc:
        return _answer(mail, error=str(exc), status=409)
    except triage.TriageError as exc:
        return _answer(mail, error=str(exc), status=422)
    return _answer(mail, done)


@bp.post("/inbox/<int:mail_id>/link")
def link(mail_id: int):
    """Link the mail to a project, chosen from the suggestions or typed as its project id."""
    def action(mail):
        ref = (request.form.get("project") or "").strip()
        project = Project.get_or_none(Project.external_id == ref) or (
            Project.get_or_none(Project.id == int(ref)) if is_id(ref) else None)
        if project is None:
            raise triage.TriageError(f"no project {ref!r}" if ref else "choose a project")
        _may_change(_project_of(mail), project)
        return triage.link(mail, project, g.user, _version(), intake_from(current_app.config["IXDESK"]))
    return _act(mail_id, action)


@bp.post("/inbox/<int:mail_id>/unlink")
def unlink(mail_id: int):
    """Take the mail off its project."""
    def action(mail):
        _may_change(_project_of(mail))
        return triage.unlink(mail, g.user, _version())
    return _act(mail_id, action)


@bp.post("/inbox/<int:mail_id>/accept")
def accept(mail_id: int):
    """Apply the suggested status change as this person."""
    def action(mail):
        _may_change(_project_of(mail))
        return triage.accept(mail, g.user, _version())
    return _act(mail_id, action)


@bp.post("/inbox/<int:mail_id>/reject")
def reject(mail_id: int):
    """Dismiss the suggested change, with a reason."""
    def action(mail):
        _may_change(_project_of(mail))
        return triage.reject(mail, g.user, request.form.get("reason", ""), _version())
    return _act(mail_id, action)


@bp.post("/inbox/<int:mail_id>/assign")
def assign(mail_id: int):
    """Give the mail to a coordinator (or to nobody)."""
    def action(mail):
        raw = request.form.get("user", "")
        user = User.get_or_none((User.id == int(raw)) & (User.active == True)) if is_id(raw) else None  # noqa: E712
        if raw and user is None:
            raise triage.TriageError("no such active user")
        _may_change(_project_of(mail))
        return triage.assign(mail, user, g.user, _version())
    return _act(mail_id, action)


@bp.post("/inbox/<int:mail_id>/handled")
def handled(mail_id: int):
    """Mark the mail handled (or open again)."""
    def action(mail):
        _may_change(_project_of(mail))
        return triage.mark_handled(mail, g.user, _version(), handled=request.form.get("handled", "1") == "1")
    return _act(mail_id, action)


@bp.post("/inbox/bulk")
def bulk():
    """One action on the chosen mail: mark handled, assign, or process again. Each mail on its own."""
    ids = [int(x) for x in request.form.getlist("ids") if is_id(x)][:200]
    what = request.form.get("action", "")
    if not ids:
        flash("Choose at least one message.")
        return redirect(request.referrer or url_for("inbox.index"), 303)
    user = None
    if what == "assign":
        raw = request.form.get("user", "")
        user = User.get_or_none((User.id == int(raw)) & (User.active == True)) if is_id(raw) else None  # noqa: E712
        if raw and user is None:
            flash("No such active user to assign to.")
            return redirect(request.referrer or url_for("inbox.index"), 303)
    done, refused = 0, []
    for mail in InboundMail.select().where(InboundMail.id.in_(ids)):
        try:
            _may_change(_project_of(mail))
            if what == "handled":
                triage.mark_handled(mail, g.user)
            elif what == "assign":
                triage.assign(mail, user, g.user)
            elif what == "rerun":
                if not mail.requeue():
                    raise triage.TriageError("duplicate, or being processed right now")
                enqueue(mail)  # a worker runs it (with its time limit), not this request
            else:
                raise triage.TriageError("not possible for this message")
            done += 1
        except triage.TriageError as exc:
            refused.append(f"#{mail.id}: {exc}")
    verb = "sent to be processed again" if what == "rerun" else "done"
    flash(f"{done} message(s) {verb}." + (f" Not done: {'; '.join(refused[:10])}" if refused else ""))
    return redirect(request.referrer or url_for("inbox.index"), 303)


@bp.get("/inbox/<int:mail_id>/raw")
def raw(mail_id: int):
    """The message exactly as received (.eml)."""
    mail = _mail(mail_id)
    resp = Response(mail.raw(), mimetype="message/rfc822")
    resp.headers["Content-Disposition"] = f'attachment; filename="mail-{mail.id}.eml"'
    return resp


@bp.post("/inbox/<int:mail_id>/rerun")
def rerun(mail_id: int):
    """Run the pipeline again on the stored copy (after a catalog change, or to retry a quarantined mail)."""
    def action(mail):
        _may_change(_project_of(mail))
        return triage.rerun(mail, g.user, intake_from(current_app.config["IXDESK"]), _version())
    return _act(mail_id, action)


@bp.post("/inbox/upload")
def upload():
    """Feed .eml files through the whole pipeline now (each on its own: a bad file never stops the rest)."""
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files:
        flash("Choose one or more .eml files to upload.")
        return redirect(url_for("inbox.index"), 303)
    # What a person uploads may suggest changes but never makes them on its own: anyone can write an .eml.
    intake = dataclasses.replace(intake_from(current_app.config["IXDESK"]), suggest_only=True)
    done, refused = [], []
    for f in files:
        data = f.read(MAX_EML_MB * 1048576 + 1)
        if not data.strip():
            refused.append(f"{f.filename}: the file is empty")
        elif len(data) > MAX_EML_MB * 1048576:
            refused.append(f"{f.filename}: over {MAX_EML_MB} MB")
        elif b":" not in data[:4096]:
            refused.append(f"{f.filename}: not an email message (no header lines)")
        else:
            stored = store(data, source="upload", mailbox="upload")
            if stored.created:
                InboundMail.update(last_action=f"uploaded by {g.user.name} {stored.mail.received_at:%Y-%m-%d %H:%M} UTC"
                                   ).where(InboundMail.id == stored.mail.id).execute()
            done.append(triage.run_as(stored.mail, g.user, intake) if stored.mail.state == "pending" else stored.mail)
    for message in refused:
        flash(message)
    if len(done) == 1 and not refused:
        return redirect(url_for("inbox.show", mail_id=done[0].id), 303)
    if done:
        flash(f"{len(done)} message(s) processed: " + ", ".join(f"#{m.id} {m.state_label}" for m in done[:10]))
    return redirect(url_for("inbox.index"), 303)


@bp.get("/inbox/mailboxes")
def mailboxes():
    """Each watched mailbox: its cursor, last poll and error, and a reconciliation on demand."""
    from models.inbound import Mailbox
    urls = current_app.config["IXDESK"].inbox_urls
    rows = []
    for i, url in enumerate(urls):
        key = mailbox_key(url)
        box = Mailbox.get_or_none(Mailbox.key == key)
        stored = InboundMail.select().where(InboundMail.mailbox == key).count()
        rows.append({"index": i, "key": key, "box": box, "stored": stored})
    return render_template("inbox/mailboxes.html", rows=rows)


@bp.post("/inbox/mailboxes/<int:index>/reconcile")
def reconcile(index: int):
    """Start a reconciliation job (it reads the whole mailbox); the page follows its progress."""
    from models import Job
    from workers.actors import reconcile_mailbox
    urls = current_app.config["IXDESK"].inbox_urls
    if not 0 <= index < len(urls):
        abort(404, "no such mailbox")
    job = Job.create(kind="reconcile", created_by=g.user, params={"index": index, "mailbox": mailbox_key(urls[index])})
    reconcile_mailbox.send(job.id)
    if htmx.is_fragment_request():
        return render_template("inbox/_reconcile.html", job=job)
    return redirect(url_for("inbox.reconcile_job", job_id=job.id), 303)


@bp.get("/inbox/reconcile/<int:job_id>")
def reconcile_job(job_id: int):
    """A reconciliation's progress, then its report (the fragment polls itself until the job ends)."""
    from models import Job
    job = Job.get_or_none((Job.id == job_id) & (Job.kind == "reconcile"))
    if job is None:
        abort(404, "no such reconciliation")
    if htmx.is_fragment_request():
        return render_template("inbox/_reconcile.html", job=job)
    return render_template("inbox/reconcile.html", job=job)
