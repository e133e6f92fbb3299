"""Writing email from a project: compose from a template or freely, preview the exact message, send."""
from __future__ import annotations

from flask import Blueprint, current_app, g, request

from models import Application, Document, OutboundMessage, Project
from models.messages import ROLES, add_contact, contacts_for
from models.vocab import is_id
from outbox import compose
from web import htmx
from web.access import editable_project

bp = Blueprint("messages", __name__)


def _project(project_id: int) -> Project:
    return editable_project(project_id)


def _panel(project: Project, status: int = 200, **extra):
    contacts = contacts_for(project)
    docs = list(Document.select().where(Document.project == project).order_by(Document.id.desc()).limit(100))
    apps = list(Application.select().where(Application.project == project).order_by(Application.id))
    recent = list(OutboundMessage.select().where(OutboundMessage.project == project)
                  .order_by(OutboundMessage.id.desc()).limit(10))
    from models.messages import DIRECTIONS, OUTCOMES
    from models.sms import SmsOptOut
    phones = [c.phone for c in contacts if c.phone]
    opted_out = {o.phone for o in SmsOptOut.select().where(SmsOptOut.phone.in_(phones))} if phones else set()
    form = extra.get("form") or {}
    known = {c.email for c in contacts}
    extra_to = [a for a in form.get("to", []) if a and a not in known]
    return htmx.render("projects/show.html", "messages/_compose.html", status=status, project=project, extra_to=extra_to,
                       contacts=contacts, docs=docs, applications_list=apps, templates=compose.TEMPLATES,
                       roles=ROLES, recent=recent, directions=DIRECTIONS, outcomes=OUTCOMES, opted_out=opted_out,
                       sms_backend=current_app.config["IXDESK"].sms_backend, **extra)


def _context_for(project: Project, application_id: str):
    app = Application.get_or_none((Application.id == int(application_id)) & (Application.project == project)) \
        if is_id((application_id or "")) else None
    return app, compose.context(project, app, g.user, current_app.config["IXDESK"].installer)


@bp.get("/projects/<int:project_id>/compose")
def panel(project_id: int):
    """The compose panel, filled from a template when one is chosen."""
    project = _project(project_id)
    code = request.args.get("template", "")
    form = {"template": code, "application": request.args.get("application", ""), "to": []}
    reply = _replied_mail(project, request.args.get("reply", ""))
    if reply is not None:
        subject = reply.subject if reply.subject.lower().startswith("re:") else f"Re: {reply.subject}"
        quoted = "\n".join("> " + line for line in (reply.body_text or "").strip().splitlines()[:60])
        form.update(reply_to=str(reply.id), to=[reply.from_addr] if reply.from_addr else [], subject=subject,
                    body=f"\n\nOn {reply.sent_at or reply.received_at:%Y-%m-%d %H:%M} UTC, "
                         f"{reply.from_name or reply.from_addr} wrote:\n{quoted}\n")
    elif code:
        app, ctx = _context_for(project, form["application"])
        try:
            form["subject"], form["body"] = compose.render(code, ctx)
        except compose.ComposeError as exc:  # a template code from an old link, or typed into the URL
            return _panel(project, 422, form=form, error=str(exc))
        default_role = "utility" if code in ("utility_follow_up", "deficiency_correction_sent") else "customer"
        form["to"] = [c.email for c in contacts_for(project) if c.role == default_role and c.email][:1]
    return _panel(project, form=form)


def _replied_mail(project: Project, raw: str):
    """The inbound mail of this project being answered (None when absent or someone else's)."""
    from models.inbound import InboundMail
    if not is_id((raw or "")):
        return None
    return InboundMail.get_or_none((InboundMail.id == int(raw)) & (InboundMail.project == project))


def _form() -> dict:
    return {"template": request.form.get("template", ""), "application": request.form.get("application", ""),
            "reply_to": request.form.get("reply_to", ""),
            "to": request.form.getlist("to"), "subject": request.form.get("subject", ""),
            "body": request.form.get("body", ""), "attach": [int(x) for x in request.form.getlist("attach")
                                                            if is_id(x)]}


@bp.post("/projects/<int:project_id>/compose/preview")
def preview(project_id: int):
    """The exact message as it would go out (headers and body), nothing sent."""
    project = _project(project_id)
    form = _form()
    try:
        recipients = compose.clean_recipients(form["to"])
        subject = compose.clean_subject(form["subject"])
    except compose.ComposeError as exc:
        return _panel(project, 422, form=form, error=str(exc))
    reply = _replied_mail(project, form["reply_to"])
    msg = OutboundMessage(project=project, recipients=recipients, body=form["body"], attachments=form["attach"],
                          in_reply_to=reply.message_id if reply else None,
                          references=f"{reply.references} {reply.message_id}".strip() if reply else "",
                          subject=subject if compose.tokens.subject_tag(project.id) in subject
                          else f"{subject} {compose.tokens.subject_tag(project.id)}",
                          message_id="<assigned-when-sent@preview>")
    settings = current_app.config["IXDESK"]
    email = compose.build(msg, settings.mail_from, settings.reply_to)
    headers = [(k, v) for k, v in email.items() if k.lower() not in ("content-type", "mime-version",
                                                                     "content-transfer-encoding")]
    return _panel(project, form=form, preview={"headers": headers, "body": form["body"],
                                               "attachments": [d.name for d in Document.select().where(
                                                   Document.id.in_(form["attach"] or [0]))]})


@bp.post("/projects/<int:project_id>/compose/send")
def send(project_id: int):
    """Queue the message (it is on the timeline at once) and wake the sender."""
    project = _project(project_id)
    form = _form()
    app = Application.get_or_none((Application.id == int(form["application"])) & (Application.project == project)) \
        if is_id(form["application"]) else None
    reply = _replied_mail(project, form["reply_to"])
    try:
        msg = compose.queue(project, form["to"], form["subject"], form["body"], actor=g.user, template=form["template"],
                            application=app, attachments=form["attach"],
                            in_reply_to=reply.message_id if reply else None,
                            references=f"{reply.references} {reply.message_id}".strip() if reply else "",
                            domain=(current_app.config["IXDESK"].reply_to or "ixdesk@localhost").split("@")[-1])
    except compose.ComposeError as exc:
        return _panel(project, 422, form=form, error=str(exc))
    from workers.actors import send_email
    send_email.send(msg.id)
    return htmx.trigger(_panel(project, form={"to": []}, sent=msg), "project-changed")


@bp.post("/projects/<int:project_id>/calls")
def call(project_id: int):
    """Log a phone call (who, direction, outcome, notes, follow-up date)."""
    import datetime as dt
    from models import Contact
    from models.messages import log_call
    project = _project(project_id)
    f = request.form
    raw = f.get("contact", "")
    contact = Contact.get_or_none(Contact.id == int(raw)) if is_id(raw) else None
    try:
        follow = dt.date.fromisoformat(f["follow_up_on"]) if f.get("follow_up_on") else None
        log_call(project, g.user, contact, f.get("direction", ""), f.get("outcome", ""), f.get("notes", ""), follow)
    except ValueError as exc:
        message = str(exc) if "Invalid isoformat" not in str(exc) else "give the follow-up date as YYYY-MM-DD"
        return _panel(project, 422, form={"to": []}, call_error=message, call_form=f.to_dict(), open_call=True)
    return htmx.trigger(_panel(project, form={"to": []}, call_logged=True, open_call=True), "project-changed")


@bp.post("/projects/<int:project_id>/contacts")
def add(project_id: int):
    """Add a contact (utility rep, AHJ inspector...) to write to."""
    project = _project(project_id)
    f = request.form
    try:
        add_contact(project, f.get("name", ""), f.get("role", "other"), f.get("email", ""), f.get("phone", ""))
    except ValueError as exc:
        return _panel(project, 422, form={"to": []}, contact_error=str(exc), contact_form=f.to_dict())
    return _panel(project, form={"to": []})


@bp.post("/projects/<int:project_id>/texts")
def text(project_id: int):
    """Queue a text to one of the project's numbers (refused for numbers that answered STOP)."""
    from models.sms import SmsError, queue
    project = _project(project_id)
    f = request.form
    try:
        sms = queue(project, f.get("phone", ""), f.get("body", ""), g.user)
    except SmsError as exc:
        return _panel(project, 422, form={"to": []}, sms_error=str(exc), sms_form=f.to_dict(), open_sms=True)
    from workers.actors import send_sms
    send_sms.send(sms.id)
    return htmx.trigger(_panel(project, form={"to": []}, sms_sent=sms, open_sms=True), "project-changed")


@bp.post("/projects/<int:project_id>/auto-reminders")
def reminders(project_id: int):
    """Turn this project's automatic reminders on or off (recorded on the timeline)."""
    from models import Event
    project = _project(project_id)
    on = request.form.get("on") == "1"
    if project.auto_reminders != on:
        project.auto_reminders = on
        project.save()
        Event.record(project, "change", g.user, summary=f"Automatic reminders turned {'on' if on else 'off'}")
    return htmx.trigger(_panel(project, form={"to": []}), "project-changed")
