"""Webhooks: URLs an admin registered, and each delivery of an event to one of them (the delivery log).

Deliveries are rows written in the same transaction as the change they report, and the worker is
woken only once that transaction commits: a rolled-back change sends nothing, and a committed one is
never announced before a worker can read it. This module knows no broker; the process's worker
module registers how to wake one (`set_sender`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
from typing import Callable
from urllib.parse import urlparse

from peewee import (BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, InterfaceError, JSONField,
                    OperationalError, TextField, fn)

from models import net_guard
from models.base import BaseModel, db, utcnow
from models.users import User

log = logging.getLogger(__name__)

EVENTS = {
    "status_changed": "An application's status changed",
    "mail_matched": "Incoming mail was matched to a project",
}
TEST_EVENT = "test"
STATES = {"pending": "Waiting", "sending": "Sending", "delivered": "Delivered", "failed": "Failed"}
# A worker holds a delivery this long at most (well over the actor's time limit); then another may take it.
LEASE = dt.timedelta(minutes=3)
SIGNATURE_HEADER = "X-Ixdesk-Signature"

_sender: Callable[[int], None] | None = None


class WebhookError(ValueError):
    """A webhook could not be registered or changed; the message says why."""


class AddressRefused(WebhookError):
    """A receiver's name points at an address webhooks may not reach (checked at registration and each delivery)."""


def set_sender(send: Callable[[int], None]) -> None:
    """How this process wakes a worker for a delivery id (registered by workers.webhook_actors)."""
    global _sender
    _sender = send


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: sha256=<hex HMAC of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def private_allowed() -> bool:
    """WEBHOOK_ALLOW_PRIVATE is on: receivers on the company's own network (loopback, private ranges) are allowed."""
    return os.environ.get("WEBHOOK_ALLOW_PRIVATE", "").strip().lower() in ("1", "true", "yes", "on")


def receiver_addresses(host: str, resolve: Callable[[str], list[str]] = net_guard.resolve) -> list[str]:
    """host's addresses from one lookup, every one allowed (AddressRefused names the first that is not).

    Webhooks would otherwise let an admin's URL (or a DNS record that changes later) reach services inside the
    network. The lookup's OSError (a name that does not resolve) is the caller's to report.
    """
    addresses = resolve(host)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "the name has no address")
    allow_private = private_allowed()
    for address in addresses:
        why = net_guard.refusal(address, allow_private)
        if why:
            opens = not allow_private and net_guard.refusal(address, allow_private=True) is None
            raise AddressRefused(f"{host} points at an internal address ({address}, {why}); webhooks go to outside "
                                 "receivers" + (" (WEBHOOK_ALLOW_PRIVATE=1 allows the company's own network)"
                                                if opens else ""))
    return addresses


def check_url(url: str) -> str:
    """url, trimmed, when a webhook may be registered for it: http(s), and a name resolving to allowed addresses."""
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise WebhookError("the URL must start with https:// (or http://) and name a host")
    if len(url) > 2000:
        raise WebhookError("the URL is longer than 2000 characters")
    if any(c.isspace() for c in url):
        raise WebhookError("the URL contains spaces")
    try:
        parsed.port
    except ValueError:
        raise WebhookError("the URL's port must be a number from 0 to 65535") from None
    try:
        receiver_addresses(parsed.hostname)
    except (OSError, UnicodeError) as exc:
        raise WebhookError(f"{parsed.hostname} does not resolve to any address ({exc}); check the name") from None
    return url


class Webhook(BaseModel):
    url = CharField(max_length=2000)
    # Kept readable: every delivery is signed with it. Shown to the admin once, when registered.
    secret = CharField()
    events = JSONField()  # names from EVENTS this hook receives
    active = BooleanField(default=True, index=True)
    created_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    deactivated_at = DateTimeField(null=True)

    @classmethod
    def register(cls, url: str, events: list[str], actor: User | None) -> tuple["Webhook", str]:
        """A new active hook; returns it with its signing secret."""
        url = check_url(url)
        chosen = [e for e in EVENTS if e in set(events or ())]
        unknown = set(events or ()) - set(EVENTS)
        if unknown:
            raise WebhookError(f"unknown event {sorted(unknown)[0]!r}; choose from {', '.join(EVENTS)}")
        if not chosen:
            raise WebhookError("choose at least one event to send")
        secret = "whsec_" + secrets.token_urlsafe(32)
        return cls.create(url=url, secret=secret, events=chosen, created_by=actor), secret

    @classmethod
    def listening(cls, event: str) -> list["Webhook"]:
        """Active hooks subscribed to event (a desk has a handful; the filter runs here, not in SQL)."""
        return [h for h in cls.select().where(cls.active == True).order_by(cls.id)  # noqa: E712
                if event in (h.events or ())]

    def deactivate(self) -> None:
        """Stop sending to this hook; deliveries still waiting are not sent either."""
        with db.atomic():
            Webhook.update(active=False, deactivated_at=utcnow()).where(Webhook.id == self.id).execute()
            (WebhookDelivery.update(state="failed", last_error="the webhook was deactivated", next_attempt_at=None)
             .where((WebhookDelivery.webhook == self) & (WebhookDelivery.state == "pending")).execute())
        self.active = False

    def send_test(self, actor: User | None) -> "WebhookDelivery":
        """A `test` event to this hook alone, to check the receiver and its signature check."""
        if not self.active:
            raise WebhookError("this webhook is deactivated")
        delivery = WebhookDelivery.create(webhook=self, event=TEST_EVENT, payload={
            "message": "A test event from ixdesk: your endpoint is reachable and can check the signature.",
            "webhook_id": self.id, "sent_by": actor.email if actor else None})
        _wake_after_commit([delivery.id])
        return delivery


class WebhookDelivery(BaseModel):
    webhook = ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    event = CharField(index=True)
    payload = JSONField()
    # pending -> sending (a worker holds it) -> delivered, or back to pending to retry, or failed.
    state = CharField(default="pending", index=True)
    attempts = IntegerField(default=0)
    last_status_code = IntegerField(null=True)
    last_error = TextField(default="")
    # While pending after a failure: the retry's time. While sending: when the worker's hold lapses.
    next_attempt_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow, index=True)
    delivered_at = DateTimeField(null=True)

    @property
    def state_label(self) -> str:
        return STATES.get(self.state, self.state)

    def body(self) -> bytes:
        """The exact bytes POSTed, the same on every attempt (the signature covers them)."""
        envelope = {"id": self.id, "event": self.event, "created_at": _iso(self.created_at), "data": self.payload}
        return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "User-Agent": "ixdesk-webhooks/1",
                "X-Ixdesk-Event": self.event, "X-Ixdesk-Delivery": str(self.id),
                SIGNATURE_HEADER: sign(self.webhook.secret, self.body())}

    def claim(self) -> bool:
        """Take the delivery for one attempt; False when it is done, or another worker holds it."""
        now = utcnow()
        free = (WebhookDelivery.state == "pending") | ((WebhookDelivery.state == "sending") &
                                                       (WebhookDelivery.next_attempt_at < now))
        taken = (WebhookDelivery.update(state="sending", attempts=WebhookDelivery.attempts + 1,
                                        next_attempt_at=now + LEASE)
                 .where((WebhookDelivery.id == self.id) & free).execute())
        if taken:
            fresh = WebhookDelivery.get_by_id(self.id)
            self.state, self.attempts, self.next_attempt_at = fresh.state, fresh.attempts, fresh.next_attempt_at
        return bool(taken)

    def delivered(self, status_code: int) -> None:
        self._finish_attempt(state="delivered", last_status_code=status_code, last_error="", next_attempt_at=None,
                             delivered_at=utcnow())

    def attempt_failed(self, status_code: int | None, error: str, retry_in: dt.timedelta | None) -> None:
        """Record a failed attempt: pending again with the retry's time, or failed when none will come."""
        if retry_in is None:
            self._finish_attempt(state="failed", last_status_code=status_code, last_error=error[:2000],
                                 next_attempt_at=None)
        else:
            self._finish_attempt(state="pending", last_status_code=status_code, last_error=error[:2000],
                                 next_attempt_at=utcnow() + retry_in)

    def _finish_attempt(self, **values) -> None:
        # Only the attempt holding the delivery writes its outcome.
        WebhookDelivery.update(**values).where((WebhookDelivery.id == self.id) &
                                               (WebhookDelivery.state == "sending")).execute()
        for name, value in values.items():
            setattr(self, name, value)

    def give_up(self) -> bool:
        """Retries are exhausted: mark a delivery still waiting as failed."""
        return bool(WebhookDelivery.update(state="failed", next_attempt_at=None)
                    .where((WebhookDelivery.id == self.id) & (WebhookDelivery.state == "pending")).execute())

    def send_again(self) -> None:
        """A person asks to retry a failed delivery (its attempts keep counting)."""
        if self.state != "failed":
            raise WebhookError("only a failed delivery can be sent again")
        if not self.webhook.active:
            raise WebhookError("the webhook is deactivated")
        WebhookDelivery.update(state="pending", next_attempt_at=None).where(
            (WebhookDelivery.id == self.id) & (WebhookDelivery.state == "failed")).execute()
        self.state = "pending"
        _wake_after_commit([self.id])

    @classmethod
    def log_of(cls, hook: Webhook):
        return cls.select().where(cls.webhook == hook).order_by(cls.id.desc())


def emit(event: str, data: dict | Callable[[], dict]) -> list[int]:
    """Queue event for every active hook subscribed to it; workers are woken when the transaction commits.

    data may be a function, so a payload costs nothing to build when no hook listens.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    try:
        # A savepoint: a failure announcing a change must not undo the change (a status move stands).
        with db.atomic():
            hooks = Webhook.listening(event)
            if not hooks:
                return []
            payload = data() if callable(data) else data
            ids = [WebhookDelivery.create(webhook=h, event=event, payload=payload).id for h in hooks]
    except (OperationalError, InterfaceError):
        raise  # the database itself failed: the change around us fails with it, so nothing is announced
    except Exception:
        log.exception("could not queue the %s webhook deliveries; the change goes on without them", event)
        return []
    _wake_after_commit(ids)
    return ids


def status_changed(application, event) -> list[int]:
    """Announce the status move recorded by `event` (a timeline Event of kind status)."""
    def payload() -> dict:
        data = event.data or {}
        project = application.project
        return {
            "project": {"id": project.id, "external_id": project.external_id},
            "application": {"id": application.id, "kind": application.kind,
                            "reference_number": application.reference_number},
            "from": data.get("from"), "to": data.get("to"),
            "source": data.get("source"),  # "person" or "notice" (a utility/AHJ mail)
            "skipped": data.get("skipped", []), "reopened": bool(data.get("reopened")),
            "why": event.body, "cause": data.get("cause"),
            "actor": ({"id": event.actor.id, "email": event.actor.email, "name": event.actor.name}
                      if event.actor_id else None),
            "actor_label": event.actor_label or None,  # "mail", "import"... when no person acted
            "event_id": event.id, "at": _iso(event.created_at),
        }
    return emit("status_changed", payload)


def mail_matched(mail) -> list[int]:
    """Announce an inbound mail the pipeline matched to a project (processed or waiting for review)."""
    if mail.state not in ("processed", "needs_review") or not mail.project_id:
        return []

    def payload() -> dict:
        from models.projects import Project
        project = Project.get_by_id(mail.project_id)
        return {
            "project": {"id": project.id, "external_id": project.external_id},
            "mail": {"id": mail.id, "message_id": mail.message_id, "subject": mail.subject,
                     "from": mail.from_addr, "received_at": _iso(mail.received_at)},
            "state": mail.state, "kind": mail.kind, "matched_by": mail.matched_by, "confidence": mail.confidence,
            "notice": mail.notice, "status_change": mail.status_change, "suggested_change": mail.suggested_change,
            "documents": mail.documents or [],
        }
    return emit("mail_matched", payload)


def stalled(now: dt.datetime | None = None, grace: dt.timedelta = dt.timedelta(minutes=2)):
    """Deliveries whose wake-up was lost (broker restart, a process without a worker module, a dead worker)."""
    now = now or utcnow()
    due = fn.COALESCE(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
    waiting = (WebhookDelivery.state == "pending") & (due < now - grace)
    abandoned = (WebhookDelivery.state == "sending") & (WebhookDelivery.next_attempt_at < now)
    return (WebhookDelivery.select().join(Webhook)
            .where((Webhook.active == True) & (waiting | abandoned))  # noqa: E712
            .order_by(WebhookDelivery.id))


def _wake_after_commit(ids: list[int]) -> None:
    def wake():
        if _sender is None:
            log.warning("webhook deliveries %s wait for the sweep: no worker module is loaded in this process", ids)
            return
        for delivery_id in ids:
            try:
                _sender(delivery_id)
            except Exception:  # the change is committed; the delivery row waits for the sweep
                log.exception("could not enqueue webhook delivery %s; it stays pending", delivery_id)
    db.after_commit(wake)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") + "Z" if value else None
