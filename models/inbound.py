"""Mail that came in: the raw message first, then what the inbox pipeline made of it."""
from __future__ import annotations

import datetime as dt

from peewee import (BigIntegerField, CharField, DateTimeField, FloatField, ForeignKeyField, IntegerField, JSONField,
                    TextField)

from models import storage
from models.applications import Application
from models.base import BaseModel, db, utcnow
from models.events import Event
from models.projects import Project
from models.users import User

# pending: stored, waiting for the pipeline; processing: a worker has it (stale ones are taken again).
STATES = {
    "pending": "Waiting",
    "processing": "Processing",
    "processed": "Processed",
    "needs_review": "Needs review",
    "unmatched": "Unmatched",
    "duplicate": "Duplicate",
    "quarantined": "Quarantined",
}
FINAL = ("processed", "needs_review", "unmatched", "duplicate", "quarantined")
KINDS = {
    "human": "Person",
    "auto_reply": "Auto-reply",
    "bounce": "Bounce",
    "bulk": "Bulk / list",
    "receipt": "Read receipt",
    "complaint": "Complaint",
    "utility_notice": "Utility notice",
    "ahj_notice": "AHJ notice",
}


class InboundMail(BaseModel):
    # Normalised Message-ID ("<...>"), or "sha256:<hash>" when the mail has none.
    message_id = CharField(index=True, max_length=998)
    sha256 = CharField(index=True)  # of the raw bytes as received; the stored file's name
    dedupe_key = CharField(index=True)  # hash of the content with line endings normalised (IMAP gives CRLF)
    size = BigIntegerField()
    source = CharField()  # "imap", "maildir", "upload", "cli"
    mailbox = CharField(default="", index=True)  # the mailbox key (URL without password) or file path
    uid = BigIntegerField(null=True)
    uidvalidity = BigIntegerField(null=True)
    received_at = DateTimeField(default=utcnow, index=True)
    state = CharField(default="pending", index=True)
    reason = TextField(default="")  # why quarantined / what needs review
    duplicate_of = ForeignKeyField("self", null=True, backref="+", on_delete="SET NULL")
    attempts = IntegerField(default=0)
    failures = IntegerField(default=0)  # runs that failed because of the mail itself (inbox.pipeline.failed)
    processing_since = DateTimeField(null=True)
    # The worker that has it (models.leases): its lease runs out within seconds unless renewed.
    lease_holder = CharField(default="")
    lease_until = DateTimeField(null=True, index=True)
    woken_at = DateTimeField(null=True)  # when the sweeper last sent it to a worker again
    processed_at = DateTimeField(null=True)
    # What the parser saw (kept for lists, search and threading).
    subject = TextField(default="")
    from_addr = CharField(default="", index=True)
    from_name = CharField(default="")
    to_addrs = TextField(default="")
    sent_at = DateTimeField(null=True)
    in_reply_to = TextField(default="")
    references = TextField(default="")
    body_text = TextField(default="")
    body_html = TextField(default="")  # sanitised; safe to render
    # What the pipeline decided.
    kind = CharField(default="", index=True)
    project = ForeignKeyField(Project, null=True, backref="inbound", on_delete="SET NULL")
    matched_by = CharField(default="")
    confidence = FloatField(null=True)
    suggestions = JSONField(null=True)  # [{"project_id", "external_id", "why", "score"}], best first
    notice = CharField(null=True)
    application = ForeignKeyField(Application, null=True, backref="+", on_delete="SET NULL")
    status_change = JSONField(null=True)  # applied: {"application", "from", "to"}
    suggested_change = JSONField(null=True)  # for a person: {"application_id", "application", "from", "to", ...}
    documents = JSONField(null=True)  # ids of the Documents made from its attachments
    event = ForeignKeyField(Event, null=True, backref="+", on_delete="SET NULL")  # its timeline entry
    trace = JSONField(null=True)  # each step's verdict, in order: the "why" shown to people
    handled_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    handled_at = DateTimeField(null=True, index=True)
    assigned_to = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    # Bumped by every person's action: an action names the version it saw, so two people acting at
    # once are told about each other instead of silently overwriting.
    version = IntegerField(default=1)
    # What people decided that a re-run must respect: {"not_projects": [ids], "rejected": [{application, to}]}.
    decisions = JSONField(null=True)
    # The sender-authentication verdict, decided once at first ingest and reused by every re-run:
    # {"verdict": pass|fail|none|refused, "domain", "why", "method", "ignored": [...]}.
    auth = JSONField(null=True)
    last_action = CharField(default="")  # "Lee Lead linked it to 3758PATE 2026-11-28 11:30 UTC"

    class Meta:
        indexes = ((("mailbox", "uidvalidity", "uid"), False),)

    @property
    def state_label(self) -> str:
        return STATES.get(self.state, self.state)

    def decided(self, name: str) -> list:
        return list((self.decisions or {}).get(name, []))

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind or "—")

    def raw(self) -> bytes:
        return storage.get(self.sha256)

    def claim(self, holder: str | None = None) -> bool:
        """Take a pending mail, or one whose worker's lease ran out, for processing under a short lease;
        False when another live worker has it."""
        from models.leases import expiry, new_holder
        holder = holder or new_holder()
        now = utcnow()
        taken = (InboundMail.update(state="processing", processing_since=now, attempts=InboundMail.attempts + 1,
                                    lease_holder=holder, lease_until=expiry(now))
                 .where((InboundMail.id == self.id) &
                        ((InboundMail.state == "pending") |
                         ((InboundMail.state == "processing") &
                          (InboundMail.lease_until.is_null() | (InboundMail.lease_until < now))))).execute())
        if taken:
            self.state, self.lease_holder = "processing", holder
        return bool(taken)

    def keep_lease(self) -> None:
        """Before writing a result: the lease must still be ours (raises LeaseLost otherwise). Inside the
        result's transaction, this also locks the row until the result is committed."""
        from models.leases import LeaseLost
        if not self.lease_holder:
            return  # not claimed through a lease (a person's action on a row nobody processes)
        kept = (InboundMail.update(lease_holder="", lease_until=None)
                .where((InboundMail.id == self.id) & (InboundMail.lease_holder == self.lease_holder) &
                       (InboundMail.state == "processing")).execute())
        if not kept:
            raise LeaseLost(f"mail {self.id}: another worker took it over")
        self.lease_holder, self.lease_until = "", None

    def release(self, holder: str) -> bool:
        """Give a claimed mail back (pending) so the next worker takes it at once."""
        return bool(InboundMail.update(state="pending", processing_since=None, lease_holder="", lease_until=None)
                    .where((InboundMail.id == self.id) & (InboundMail.lease_holder == holder) &
                           (InboundMail.state == "processing")).execute())

    def requeue(self, seen_version: int | None = None) -> bool:
        """Back to pending so the pipeline runs again; False when it is being processed right now, or (with
        seen_version) when someone acted on it since. A re-run is an action: it bumps the version."""
        # A person's re-run starts the failure count afresh (the rules may have changed since).
        query = (InboundMail.update(state="pending", processing_since=None, version=InboundMail.version + 1,
                                    failures=0, lease_holder="", lease_until=None)
                 .where((InboundMail.id == self.id) & (InboundMail.state != "duplicate") &
                        (InboundMail.state.in_(FINAL) |
                         # a worker that died or lost the database: its lease has run out
                         ((InboundMail.state == "processing") &
                          (InboundMail.lease_until.is_null() | (InboundMail.lease_until < utcnow()))))))
        if seen_version is not None:
            query = query.where(InboundMail.version == seen_version)
        if not query.execute():
            return False
        self.state, self.version = "pending", self.version + 1
        return True


class Mailbox(BaseModel):
    """One watched mailbox: its UID cursor and the lease that keeps a single watcher on it."""

    key = CharField(unique=True)  # URL without the password, e.g. imap://desk@mail.example.com/INBOX
    uidvalidity = BigIntegerField(null=True)
    last_uid = BigIntegerField(default=0)
    lease_holder = CharField(default="")
    lease_until = DateTimeField(null=True)
    last_poll_at = DateTimeField(null=True)
    last_error = TextField(default="")
    last_error_at = DateTimeField(null=True)
    fetched = IntegerField(default=0)

    def take_lease(self, holder: str, seconds: int = 60) -> bool:
        """Hold (or renew) the lease; False while another live watcher holds it."""
        now = utcnow()
        got = (Mailbox.update(lease_holder=holder, lease_until=now + dt.timedelta(seconds=seconds))
               .where((Mailbox.id == self.id) & ((Mailbox.lease_holder == holder) | (Mailbox.lease_until.is_null()) |
                                                 (Mailbox.lease_until < now))).execute())
        return bool(got)

    def release(self, holder: str) -> None:
        Mailbox.update(lease_holder="", lease_until=None).where(
            (Mailbox.id == self.id) & (Mailbox.lease_holder == holder)).execute()

    def advance(self, uidvalidity: int, uid: int) -> None:
        """Move the cursor forward (never back) after a message is stored."""
        with db.atomic():
            Mailbox.update(uidvalidity=uidvalidity, last_uid=uid, fetched=Mailbox.fetched + 1).where(
                (Mailbox.id == self.id) & (Mailbox.last_uid < uid)).execute()
        self.uidvalidity, self.last_uid = uidvalidity, max(self.last_uid, uid)

    def note_error(self, message: str) -> None:
        Mailbox.update(last_error=message[:2000], last_error_at=utcnow()).where(Mailbox.id == self.id).execute()

    @classmethod
    def named(cls, key: str) -> "Mailbox":
        row, _ = cls.get_or_create(key=key)
        return row

