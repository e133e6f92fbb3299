"""Automatic reminders (opt-in per project): due document reminders to the customer, follow-ups to the utility.

Never to an address marked bouncing, at most one automatic message per recipient per desk day, and each
carries Auto-Submitted: auto-generated (set by compose.build for automatic messages).
"""
from __future__ import annotations

import datetime as dt
import logging

from models.applications import Application
from models.base import day_start_utc, today as desk_today
from models.checklists import ChecklistItem
from models.lifecycle import TERMINAL
from models.messages import Contact, OutboundMessage
from models.projects import Project
from outbox import compose

log = logging.getLogger(__name__)


def _written_today(day: dt.date) -> set[str]:
    """Addresses that already got an automatic message this desk day."""
    since = day_start_utc(day)
    rows = OutboundMessage.select(OutboundMessage.recipients).where(OutboundMessage.automatic == True,  # noqa: E712
                                                                    OutboundMessage.created_at >= since)
    return {addr for row in rows for addr in (row.recipients or [])}


def _bouncing(project: Project) -> set[str]:
    return {c.email for c in Contact.select(Contact.email).where(Contact.project == project,
                                                                 Contact.bouncing_since.is_null(False))}


def send_due(day: dt.date | None = None, domain: str = "localhost") -> list[int]:
    """Queue every reminder due today on opted-in projects; returns the OutboundMessage ids to send."""
    day = day or desk_today()
    written = _written_today(day)
    queued: list[int] = []
    for project in Project.select().where(Project.auto_reminders == True):  # noqa: E712
        bouncing = _bouncing(project)
        queued += _documents(project, day, written, bouncing, domain)
        queued += _follow_ups(project, day, written, bouncing, domain)
    return queued


def _documents(project, day, written, bouncing, domain) -> list[int]:
    due = list(ChecklistItem.select().where(ChecklistItem.project == project, ChecklistItem.status == "requested",
                                            ChecklistItem.required == True,  # noqa: E712
                                            ChecklistItem.next_reminder_on <= day))
    to = (project.customer_email or "").lower()
    if not due or not to or to in bouncing or to in written:
        return []
    subject, body = compose.render("request_documents", compose.context(project, None, None, {}))
    msg = compose.queue(project, [to], subject, body, actor=None, template="request_documents", automatic=True,
                        domain=domain)
    written.add(to)
    for item in due:
        item.log_reminder(None, "email (automatic)")
    return [msg.id]


def _follow_ups(project, day, written, bouncing, domain) -> list[int]:
    ids = []
    apps = Application.select().where(Application.project == project, Application.next_follow_up_on <= day,
                                      Application.status.not_in(tuple(TERMINAL)))
    for app in apps:
        side = app.ball_in_court
        if side not in ("utility", "ahj"):
            continue
        contact = (Contact.select().where(Contact.project == project, Contact.role == side,
                                          Contact.email.is_null(False), Contact.bouncing_since.is_null(True))
                   .order_by(Contact.id).first())
        if contact is None or contact.email in written or contact.email in bouncing:
            continue
        subject, body = compose.render("utility_follow_up", compose.context(project, app, None, {}))
        msg = compose.queue(project, [contact.email], subject, body, actor=None, template="utility_follow_up",
                            application=app, automatic=True, domain=domain)
        written.add(contact.email)
        app.log_contact(None, "email", f"Automatic follow-up to {contact.email}")
        ids.append(msg.id)
    return ids
