"""The shared inbox: every mail that came in, what the pipeline made of it, re-runs and .eml uploads."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, url_for

from inbox.intake import intake_from, run_now
from inbox.store import store
from models.documents import Document
from models.inbound import FINAL, KINDS, STATES, InboundMail, InboxFilter, inbox_page
from web import htmx

bp = Blueprint("inbox", __name__)
MAX_EML_MB = 60


def _mail(mail_id: int) -> InboundMail:
    mail = InboundMail.get_or_none(InboundMail.id == mail_id)
    if mail is None:
        abort(404, "no such mail")
    return mail


@bp.get("/inbox")
def index():
    """Every inbound mail, newest first: tabs per end state, kind filter, search, sortable and paged."""
    f = InboxFilter.from_args(request.args)
    page, counts = inbox_page(f)
    return htmx.render("inbox/index.html", "inbox/_rows.html", f=f, page=page, counts=counts, kinds=KINDS,
                       states={k: v for k, v in STATES.items() if k not in ("pending", "processing")})


@bp.get("/inbox/<int:mail_id>")
def show(mail_id: int):
    """One mail: who sent it, what each pipeline step decided and why, its documents and body."""
    mail = _mail(mail_id)
    docs = list(Document.select().where(Document.id.in_(mail.documents or [])).order_by(Document.id)) \
        if mail.documents else []
    return htmx.render("inbox/show.html", "inbox/show.html", mail=mail, docs=docs)


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
    mail = _mail(mail_id)
    if mail.state == "duplicate":
        flash("A duplicate is not processed; open the first copy instead.")
    elif mail.state not in FINAL:
        flash("This mail is still being processed; try again in a moment.")
    else:
        mail.requeue()
        mail = run_now(mail, intake_from(current_app.config["IXDESK"]))
        flash(f"Processed again: {mail.state_label}" + (f" — {mail.reason}" if mail.reason else ""))
    return redirect(url_for("inbox.show", mail_id=mail.id), 303)


@bp.post("/inbox/upload")
def upload():
    """Feed .eml files through the whole pipeline now (each on its own: a bad file never stops the rest)."""
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files:
        flash("Choose one or more .eml files to upload.")
        return redirect(url_for("inbox.index"), 303)
    intake, done, refused = intake_from(current_app.config["IXDESK"]), [], []
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
            done.append(run_now(stored.mail, intake) if stored.mail.state == "pending" else stored.mail)
    for message in refused:
        flash(message)
    if len(done) == 1 and not refused:
        return redirect(url_for("inbox.show", mail_id=done[0].id), 303)
    if done:
        flash(f"{len(done)} message(s) processed: " + ", ".join(f"#{m.id} {m.state_label}" for m in done[:10]))
    return redirect(url_for("inbox.index"), 303)
