"""People we write to, and the messages we send them (recorded first, delivered by a worker)."""
from __future__ import annotations

from peewee import (BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, JSONField,
                    TextField)

from models import vocab
from models.applications import Application
from models.base import BaseModel, db, utcnow
from models.events import Event
from models.projects import Project
from models.users import User

ROLES = {"customer": "Customer", "utility": "Utility", "ahj": "AHJ", "installer": "Installer", "other": "Other"}
STATES = ("queued", "sending", "sent", "failed")


class Contact(BaseModel):
    project = ForeignKeyField(Project, backref="contacts", on_delete="CASCADE")
    name = CharField(default="")
    role = CharField(default="customer")
    email = CharField(null=True, index=True)
    phone = CharField(null=True, index=True)  # E.164
    # Set when mail to this address bounced: automatic mail never goes there, people are warned.
    bouncing_since = DateTimeField(null=True)
    bounce_reason = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "email"), True),)

    @property
    def label(self) -> str:
        who = self.name or self.email or self.phone or "?"
        return f"{who} ({ROLES.get(self.role, self.role)})"

    def mark_bouncing(self, reason: str) -> None:
        self.bouncing_since, self.bounce_reason = utcnow(), (reason or "")[:500]
        self.save()
        Event.record(self.project, "email", None, actor_label="mail",
                     summary=f"Mail to {self.email} bounces", body=self.bounce_reason)


def contacts_for(project: Project) -> list[Contact]:
    """The project's contacts, the customer (from the project's own fields) always first."""
    if project.customer_email:
        existing = Contact.get_or_none((Contact.project == project) & (Contact.email == project.customer_email))
        if existing is None:
            Contact.create(project=project, name=project.customer_name, role="customer",
                           email=project.customer_email, phone=project.customer_phone)
    rows = list(Contact.select().where(Contact.project == project).order_by(Contact.id))
    return sorted(rows, key=lambda c: (c.email != project.customer_email, c.id))


def add_contact(project: Project, name: str, role: str, email: str, phone: str = "") -> Contact:
    """A new contact on a project (utility rep, AHJ inspector...); raises ValueError on bad input."""
    email = (email or "").strip().lower()
    if not vocab.EMAIL_RE.match(email):
        raise ValueError(f"{email!r} is not a valid email address")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    e164 = vocab.phone_e164(phone) if phone.strip() else None
    if phone.strip() and e164 is None:
        raise ValueError(f"{phone!r} is not a valid phone number")
    if Contact.select().where(Contact.project == project, Contact.email == email).exists():
        raise ValueError(f"{email} is already a contact of this project")
    return Contact.create(project=project, name=" ".join(name.split())[:120], role=role, email=email, phone=e164)


class OutboundMessage(BaseModel):
    project = ForeignKeyField(Project, backref="outbound", on_delete="CASCADE")
    application = ForeignKeyField(Application, null=True, backref="+", on_delete="SET NULL")
    template = CharField(default="")
    recipients = JSONField()  # list of addresses, validated
    subject = CharField(max_length=300)
    body = TextField()
    attachments = JSONField(null=True)  # document ids
    message_id = CharField(unique=True)
    in_reply_to = CharField(null=True)
    references = TextField(default="")
    automatic = BooleanField(default=False)
    state = CharField(default="queued", index=True)
    attempts = IntegerField(default=0)
    last_error = TextField(default="")
    delivered_to = CharField(default="")  # smtp://host or the .eml path
    created_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow, index=True)
    sent_at = DateTimeField(null=True)

    @property
    def state_label(self) -> str:
        return {"queued": "Queued", "sending": "Sending", "sent": "Sent", "failed": "Failed"}[self.state]

    def record_result(self, ok: bool, detail: str, permanent: bool = False) -> None:
        with db.atomic():
            if ok:
                self.state, self.sent_at, self.delivered_to, self.last_error = "sent", utcnow(), detail, ""
            else:
                self.state, self.last_error = ("failed" if permanent else "queued"), detail[:2000]
            self.save()
            if ok or permanent:
                Event.record(self.project, "email", self.created_by,
                             actor_label="" if self.created_by_id else "automatic",
                             summary=f"Email {'sent' if ok else 'FAILED'}: {self.subject}",
                             body="" if ok else detail, data={"outbound_id": self.id, "state": self.state})


DIRECTIONS = {"outbound": "We called", "inbound": "They called"}
OUTCOMES = {"reached": "Reached", "voicemail": "Left voicemail", "no_answer": "No answer", "wrong_number": "Wrong number",
            "callback_requested": "Asked us to call back"}


class CallLog(BaseModel):
    """A phone call about a project; a follow-up date brings it back to the coordinator's day."""

    project = ForeignKeyField(Project, backref="calls", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, backref="calls", on_delete="SET NULL")
    direction = CharField(default="outbound")
    outcome = CharField(default="reached")
    notes = TextField(default="")
    follow_up_on = DateField(null=True, index=True)
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)


def log_call(project: Project, actor: User, contact: Contact | None, direction: str, outcome: str, notes: str,
             follow_up_on=None) -> CallLog:
    """Record a call on the timeline; with a follow-up date it returns on that day's list."""
    from models.base import today
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    if contact is not None and contact.project_id != project.id:
        raise ValueError("that contact belongs to another project")
    if follow_up_on is not None and follow_up_on <= today():
        raise ValueError("the follow-up date must be after today")
    with db.atomic():
        call = CallLog.create(project=project, contact=contact, direction=direction, outcome=outcome,
                              notes=(notes or "").strip(), follow_up_on=follow_up_on, user=actor)
        who = contact.label if contact else "unknown contact"
        Event.record(project, "call", actor, summary=f"{DIRECTIONS[direction]}: {who} — {OUTCOMES[outcome]}",
                     body=call.notes, data={"call_id": call.id, "follow_up_on": str(follow_up_on or "")})
    return call
