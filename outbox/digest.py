"""The morning digest: a coordinator's day list by email, for those who start in their mail client."""
from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import formataddr

import logging
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models import business_days as bd
from models.base import utcnow
from models.day import DayItem, today_for
from models.users import User
from outbox.mailer import DeliveryError, deliver

log = logging.getLogger(__name__)
TEMPLATES = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parent.parent / "templates" / "email")),
                        autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                        trim_blocks=True, lstrip_blocks=True)


def compose(user: User, items: list[DayItem], today: dt.date, mail_from: str, base_url: str) -> EmailMessage:
    """Plain text and HTML versions of the day list; automatic, so no one should auto-reply to it."""
    context = {"user": user, "items": items, "today": today, "base_url": base_url.rstrip("/")}
    msg = EmailMessage()
    msg["Subject"] = f"Your day: {len(items)} thing{'s' if len(items) != 1 else ''} to do ({today:%a %b} {today.day})"
    msg["From"] = mail_from
    msg["To"] = formataddr((user.name, user.email))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(TEMPLATES.get_template("digest.txt").render(**context))
    msg.add_alternative(TEMPLATES.get_template("digest.html").render(**context), subtype="html")
    return msg


def send_due(now: dt.datetime, digest_hour: int, mail_from: str, base_url: str, smtp_url: str,
             outbox_dir: Path) -> int:
    """Send today's digest to each opted-in coordinator who has not had it (business days, after the hour).

    Safe to call every few minutes from any number of workers: each user's day is claimed first.
    """
    today = now.date()
    if now.hour < digest_hour or not bd.is_business_day(today):
        return 0
    sent = 0
    for user in User.select().where(User.digest_opt_in == True, User.active == True):  # noqa: E712
        previous = user.last_digest_on
        claimed = (User.update(last_digest_on=today)
                   .where((User.id == user.id) & ((User.last_digest_on.is_null()) | (User.last_digest_on < today)))
                   .execute())
        if not claimed:
            continue
        try:
            deliver(compose(user, today_for(user, today), today, mail_from, base_url), smtp_url, outbox_dir)
            sent += 1
        except DeliveryError as exc:
            log.warning("digest for %s not delivered: %s", user.email, exc)
            if not exc.permanent:  # a refused address will be refused again: no retry every 10 minutes
                User.update(last_digest_on=previous).where(User.id == user.id).execute()
        except Exception:
            log.exception("digest for %s failed", user.email)
            User.update(last_digest_on=previous).where(User.id == user.id).execute()
    return sent


def now_utc() -> dt.datetime:
    return utcnow()
