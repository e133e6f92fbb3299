"""Text messages: what we send (recorded first, delivered by a worker), what comes back, and opt-outs."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models import vocab
from models.base import BaseModel, db, utcnow
from models.events import Event
from models.messages import Contact
from models.projects import Project
from models.users import User

MAX_BODY = 1600  # Twilio's limit (10 segments)
# Carrier-standard keywords (CTIA): the whole message, any case, is one of these.
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "opt-out", "revoke"}
START_WORDS = {"start", "yes", "unstop", "subscribe"}
STATES = {"queued": "Queued", "sending": "Sending", "sent": "Sent", "recorded": "Recorded (not sent)",
          "failed": "Failed", "received": "Received"}


class SmsError(ValueError):
    """A text cannot be sent as written; the message says why."""


class SmsOptOut(BaseModel):
    """A number that answered STOP: nothing is texted to it until it answers START."""

    phone = CharField(unique=True)  # E.164
    created_at = DateTimeField(default=utcnow)


class SmsMessage(BaseModel):
    project = ForeignKeyField(Project, null=True, backref="texts", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, backref="+", on_delete="SET NULL")
    direction = CharField(default="outbound")  # outbound | inbound
    phone = CharField(index=True)  # the other side, E.164
    body = TextField()
    state = CharField(default="queued", index=True)
    provider_id = CharField(null=True, unique=True)  # Twilio's MessageSid: a webhook delivered twice is one row
    attempts = IntegerField(default=0)
    last_error = TextField(default="")
    created_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow, index=True)
    sent_at = DateTimeField(null=True)

    @property
    def state_label(self) -> str:
        return STATES.get(self.state, self.state)

    def claim(self) -> bool:
        taken = (SmsMessage.update(state="sending", attempts=SmsMessage.attempts + 1)
                 .where((SmsMessage.id == self.id) & (SmsMessage.state == "queued")).execute())
        return bool(taken)

    def record_result(self, state: str, provider_id: str | None = None, error: str = "") -> None:
        with db.atomic():
            self.state, self.last_error = state, error[:2000]
            if provider_id:
                self.provider_id = provider_id
            if state in ("sent", "recorded"):
                self.sent_at = utcnow()
            self.save()
            if self.project_id and state in ("sent", "recorded", "failed"):
                verb = {"sent": "sent", "recorded": "recorded (not sent: console backend)", "failed": "FAILED"}[state]
                Event.record(self.project, "sms", self.created_by, actor_label="" if self.created_by_id else "automatic",
                             summary=f"Text {verb} to {vocab.phone_display(self.phone)}", body=error or self.body,
                             data={"sms_id": self.id, "state": state})


def opted_out(phone: str) -> bool:
    return SmsOptOut.select().where(SmsOptOut.phone == phone).exists()


def queue(project: Project, phone: str, body: str, actor: User | None) -> SmsMessage:
    """Record a text to send; refuses bad numbers, empty or over-long text and opted-out numbers."""
    e164 = vocab.phone_e164(phone or "")
    if e164 is None:
        raise SmsError(f"{phone!r} is not a phone number we can text")
    body = (body or "").strip()
    if not body:
        raise SmsError("the text is empty")
    if len(body) > MAX_BODY:
        raise SmsError(f"the text is {len(body)} characters; the limit is {MAX_BODY}")
    if opted_out(e164):
        raise SmsError(f"{vocab.phone_display(e164)} answered STOP; they must text START before we can text them")
    contact = Contact.get_or_none((Contact.project == project) & (Contact.phone == e164))
    if contact is None and e164 != project.customer_phone:
        # Only the project's own numbers: a tampered form must not turn the desk into a texting service.
        raise SmsError(f"{vocab.phone_display(e164)} is not a number of this project's customer or contacts; "
                       f"add the contact first")
    with db.atomic():
        sms = SmsMessage.create(project=project, contact=contact, phone=e164, body=body, created_by=actor)
        Event.record(project, "sms", actor, summary=f"Text queued to {vocab.phone_display(e164)}", body=body,
                     data={"sms_id": sms.id, "state": "queued"})
    return sms


def projects_for_phone(phone: str) -> list[int]:
    """Projects whose customer or a contact has this number, most recently active first."""
    ids = {p.id for p in Project.select(Project.id).where(Project.customer_phone == phone)}
    ids |= {c.project_id for c in Contact.select(Contact.project).where(Contact.phone == phone)}
    if not ids:
        return []
    return [p.id for p in Project.select(Project.id).where(Project.id.in_(list(ids)))
            .order_by(Project.updated_at.desc())]


def receive(sender: str, body: str, provider_id: str | None) -> SmsMessage:
    """A text that came in: STOP/START honoured, matched to the project by number, put on its timeline."""
    e164 = vocab.phone_e164(sender or "") or (sender or "")[:32]
    if provider_id:
        seen = SmsMessage.get_or_none(SmsMessage.provider_id == provider_id)
        if seen is not None:
            return seen  # the provider retried its webhook
    word = (body or "").strip().lower().rstrip(".!")
    projects = projects_for_phone(e164)
    project_id = projects[0] if len(projects) == 1 else None
    with db.atomic():
        if word in STOP_WORDS:
            SmsOptOut.get_or_create(phone=e164)
        elif word in START_WORDS:
            SmsOptOut.delete().where(SmsOptOut.phone == e164).execute()
        sms = SmsMessage.create(project=project_id, direction="inbound", phone=e164, body=(body or "")[:MAX_BODY],
                                state="received", provider_id=provider_id or None)
        if project_id:
            note = {True: " (opted out of texts)", False: ""}[word in STOP_WORDS]
            if word in START_WORDS:
                note = " (opted back in to texts)"
            Event.record(Project.get_by_id(project_id), "sms", None, actor_label="sms",
                         summary=f"Text from {vocab.phone_display(e164)}{note}", body=sms.body,
                         data={"sms_id": sms.id})
    return sms
