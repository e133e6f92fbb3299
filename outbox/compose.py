"""Writing to people: templates with merge fields, the exact message, and the queue that sends it."""
from __future__ import annotations

import re
from email.message import EmailMessage
from types import SimpleNamespace
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from models import business_days as bd
from models import tokens, vocab
from models.applications import Application
from models.base import db, today
from models.catalog_ref import current
from models.checklists import ChecklistItem
from models.documents import Document
from models.events import Event
from models.messages import Contact, OutboundMessage
from models.projects import Project
from models.users import User

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email" / "outbound"
TEMPLATES = {
    "request_documents": "Request missing documents",
    "signature_needed": "Signature needed",
    "utility_follow_up": "Follow up with the utility",
    "deficiency_correction_sent": "Deficiency corrections sent",
    "customer_status_update": "Status update to the customer",
    "pto_congratulations": "PTO congratulations",
}
NEXT_STEPS = {
    "intake": "we are collecting your documents and preparing the design.",
    "design": "our engineers are finishing the design; then we apply for your permits.",
    "permitting": "the building department is reviewing your permit application.",
    "ix_approval": "your utility is reviewing the interconnection application.",
    "install": "we will schedule your installation.",
    "inspection": "the final inspection by the building department.",
    "pto_requested": "your utility will inspect or swap the meter and grant permission to operate.",
    "pto": "you can use your system; nothing else is needed.",
    "on_hold": "we are waiting on an item; we will contact you about it.",
    "cancelled": "nothing further; contact us if this is unexpected.",
}
_env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined, autoescape=False,
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class ComposeError(ValueError):
    """A message cannot be sent as written; the message says what to fix."""


def context(project: Project, application: Application | None, sender: User | None, installer: dict) -> dict:
    """Every merge field the templates may use."""
    missing = list(ChecklistItem.select().where(
        ChecklistItem.project == project, ChecklistItem.required == True,  # noqa: E712
        ChecklistItem.status.in_(("missing", "requested", "rejected"))).order_by(ChecklistItem.id))
    corrections = [i for i in missing if i.doc_type == "CORRECTION"]
    # What the customer can send: documents the catalog says come from them, or ones we asked for;
    # each with the document's own description rather than the (long, internal) rule text.
    doc_types = current().doc_types
    from_customer = [
        SimpleNamespace(label=i.label, explanation=getattr(doc_types.get(i.doc_type), "description", ""))
        for i in missing if i.status == "requested" or
        getattr(doc_types.get(i.doc_type), "requested_from", "") == "customer"]
    app = application
    waiting = bd.between(app.submitted_on, today()) if app and app.submitted_on else 0
    sla = None
    if app and app.due_on and app.clock_started_on:
        sla = bd.between(app.clock_started_on, app.due_on)
    form = next((i for i in missing if i.form_number), None)
    return {
        "project": project, "customer_first_name": (project.customer_name or "there").split()[0],
        "missing": from_customer, "corrections": corrections,
        "application": app, "application_label": app.kind_label if app else "application",
        "reference": app.reference_number if app else None, "submitted_on": app.submitted_on if app else None,
        "days_waiting": waiting, "sla_days": sla,
        "form_label": (f"{form.label} (form {form.form_number})" if form else "interconnection forms"),
        "attachments_note": "", "next_step": NEXT_STEPS.get(project.stage, ""),
        "sender_name": sender.name if sender else "The interconnection team",
        "installer_name": installer.get("name") or "",
    }


def render(code: str, ctx: dict) -> tuple[str, str]:
    """(subject, body) of a template; StrictUndefined makes an unknown merge field an error."""
    if code not in TEMPLATES:
        raise ComposeError(f"unknown template {code!r}")
    text = _env.get_template(f"{code}.txt").render(**ctx)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ComposeError(f"template {code} must start with a 'Subject: ' line")
    return first[len("Subject: "):].strip(), body.strip() + "\n"


def clean_subject(subject: str) -> str:
    subject = " ".join(HEADER_UNSAFE.sub(" ", subject or "").split())
    if not subject:
        raise ComposeError("the subject is empty")
    return subject[:250]


def clean_recipients(raw: list[str]) -> list[str]:
    out = []
    for address in raw:
        address = (address or "").strip().lower()
        if not address:
            continue
        if HEADER_UNSAFE.search(address) or not vocab.EMAIL_RE.match(address):
            raise ComposeError(f"{address!r} is not an email address")
        if address not in out:
            out.append(address)
    if not out:
        raise ComposeError("choose at least one recipient")
    return out


def queue(project: Project, recipients: list[str], subject: str, body: str, *, actor: User | None,
          template: str = "", application: Application | None = None, attachments: list[int] | None = None,
          in_reply_to: str | None = None, references: str = "", automatic: bool = False,
          domain: str = "localhost") -> OutboundMessage:
    """Record a message to send (the worker delivers it). Validates everything a header will carry."""
    recipients = clean_recipients(recipients)
    subject = clean_subject(subject)
    tag = tokens.subject_tag(project.id)
    if tag not in subject:
        subject = f"{subject} {tag}"
    if not (body or "").strip():
        raise ComposeError("the message is empty")
    docs = list(Document.select().where(Document.id.in_(attachments or []), Document.project == project))
    if len(docs) != len(set(attachments or [])):
        raise ComposeError("an attachment does not belong to this project")
    bouncing = {c.email for c in Contact.select().where(Contact.project == project, Contact.email.in_(recipients),
                                                        Contact.bouncing_since.is_null(False))}
    if automatic and bouncing:
        recipients = [r for r in recipients if r not in bouncing]
        if not recipients:
            raise ComposeError("every recipient's address bounces; automatic mail is not sent there")
    for header in (in_reply_to or "", references or ""):
        if HEADER_UNSAFE.search(header):
            raise ComposeError("reply headers contain control characters")
    with db.atomic():
        msg = OutboundMessage.create(
            project=project, application=application, template=template, recipients=recipients, subject=subject,
            body=body.replace("\r\n", "\n"), attachments=[d.id for d in docs] or None,
            message_id=make_msgid(idstring=tokens.legacy(project.id).lower(), domain=domain),
            in_reply_to=in_reply_to, references=references, automatic=automatic, created_by=actor)
        Event.record(project, "email", actor, actor_label="" if actor else "automatic",
                     summary=f"Email queued to {', '.join(recipients)}: {subject}", body=body[:2000],
                     data={"outbound_id": msg.id, "state": "queued"})
    return msg


def build(msg: OutboundMessage, mail_from: str, reply_mailbox: str) -> EmailMessage:
    """The exact message that goes out: our Message-ID, token in the subject, plus-address Reply-To."""
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = ", ".join(msg.recipients)
    email["Subject"] = msg.subject
    email["Message-ID"] = msg.message_id
    name, address = parseaddr(mail_from)
    email["Reply-To"] = formataddr((name, tokens.plus_address(reply_mailbox or address, msg.project_id)))
    if msg.in_reply_to:
        email["In-Reply-To"] = msg.in_reply_to
        email["References"] = " ".join(filter(None, [msg.references, msg.in_reply_to])).strip()
    if msg.automatic:
        email["Auto-Submitted"] = "auto-generated"
        email["X-Auto-Response-Suppress"] = "All"
    email.set_content(msg.body)
    for doc in Document.select().where(Document.id.in_(msg.attachments or [])):
        maintype, _, subtype = doc.mime.partition("/")
        email.add_attachment(doc.data(), maintype=maintype, subtype=subtype, filename=doc.name)
    return email
