"""Signed-in sessions kept on the server: the cookie holds only a random id, so a session can be ended.

A browser's cookie carries 32 random bytes; the database keeps their sha256 (a leaked table hands out no
working cookie), what the session holds (the CSRF token, flashed messages), whose it is, and when it ends.
Logging out ends that row; a password change ends the user's other rows; deactivation ends them all.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from peewee import JOIN, CharField, DateTimeField, ForeignKeyField, TextField

from models.base import BaseModel, utcnow
from models.users import User

# A session nobody uses for two weeks ends; none lasts longer than thirty days, used or not.
IDLE = dt.timedelta(days=14)
LONGEST = dt.timedelta(days=30)
# Sessions of people not signed in (the login page's CSRF token) are short.
ANONYMOUS = dt.timedelta(hours=2)
# Recording every request's time would be a write per request for a column people read by the minute.
TOUCH_EVERY = dt.timedelta(minutes=1)
KEPT_AFTER_END = dt.timedelta(days=30)  # ended rows stay this long for the user's own list and admins


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class WebSession(BaseModel):
    key_hash = CharField(unique=True)
    user = ForeignKeyField(User, backref="web_sessions", null=True, on_delete="CASCADE")
    data = TextField(default="{}")
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)
    ended_at = DateTimeField(null=True)
    ended_why = CharField(default="")
    user_agent = CharField(default="")
    address = CharField(default="")

    class Meta:
        indexes = ((("user", "ended_at"), False),)

    @property
    def active(self) -> bool:
        return self.ended_at is None and self.expires_at > utcnow()

    @property
    def device(self) -> str:
        """The browser and system a person recognises ("Chrome on Windows"), from the User-Agent."""
        return describe_agent(self.user_agent)

    @property
    def values(self) -> dict:
        try:
            data = json.loads(self.data or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @classmethod
    def open(cls, secret: str, now: dt.datetime | None = None) -> "WebSession | None":
        """The live session this cookie value names, with its user loaded; None when it ended or expired."""
        if not secret or len(secret) > 100:
            return None
        now = now or utcnow()
        row = (cls.select(cls, User).join(User, join_type=JOIN.LEFT_OUTER, on=(cls.user == User.id))
               .where((cls.key_hash == digest(secret)) & cls.ended_at.is_null() & (cls.expires_at > now)).first())
        return row

    @classmethod
    def why_ended(cls, secret: str) -> str | None:
        """Why the session this cookie named is over (for the sign-in page); None when it never existed."""
        if not secret or len(secret) > 100:
            return None
        row = cls.select(cls.ended_why, cls.ended_at, cls.user).where(cls.key_hash == digest(secret)).first()
        if row is None or row.user_id is None:
            return None
        return row.ended_why or "the session expired"

    @classmethod
    def begin(cls, user: User | None, data: dict, user_agent: str = "", address: str = "",
              now: dt.datetime | None = None) -> tuple["WebSession", str]:
        """A new session (and its cookie value, which is never stored)."""
        now = now or utcnow()
        secret = new_secret()
        row = cls.create(key_hash=digest(secret), user=user, data=json.dumps(data), created_at=now,
                         last_seen_at=now, expires_at=now + (IDLE if user else ANONYMOUS),
                         user_agent=(user_agent or "")[:200], address=(address or "")[:64])
        return row, secret

    def keep(self, data: dict | None, now: dt.datetime | None = None) -> None:
        """Record what the session holds (when changed) and that it was used (at most once a minute)."""
        now = now or utcnow()
        values = {}
        if data is not None:
            values["data"] = json.dumps(data)
        if now - self.last_seen_at >= TOUCH_EVERY:
            values["last_seen_at"] = now
            if self.user_id:
                values["expires_at"] = min(now + IDLE, self.created_at + LONGEST)
        if values:
            WebSession.update(**values).where((WebSession.id == self.id) & WebSession.ended_at.is_null()).execute()
            for name, value in values.items():
                setattr(self, name, value)

    def end(self, why: str, now: dt.datetime | None = None) -> bool:
        """End this session at once; False when it had ended already."""
        now = now or utcnow()
        done = (WebSession.update(ended_at=now, ended_why=why)
                .where((WebSession.id == self.id) & WebSession.ended_at.is_null()).execute())
        if done:
            self.ended_at, self.ended_why = now, why
        return bool(done)

    @classmethod
    def end_all(cls, user: User, why: str, keep: "WebSession | None" = None) -> int:
        """End every live session of user (but keep); returns how many ended."""
        query = cls.update(ended_at=utcnow(), ended_why=why).where((cls.user == user) & cls.ended_at.is_null())
        if keep is not None:
            query = query.where(cls.id != keep.id)
        return query.execute()

    @classmethod
    def live_of(cls, user: User):
        return (cls.select().where((cls.user == user) & cls.ended_at.is_null() & (cls.expires_at > utcnow()))
                .order_by(cls.last_seen_at.desc()))

    @classmethod
    def prune(cls, now: dt.datetime | None = None) -> int:
        """Forget sessions that ended or expired a while ago (anonymous ones as soon as they expire)."""
        now = now or utcnow()
        old = now - KEPT_AFTER_END
        return cls.delete().where(
            (cls.user.is_null() & (cls.expires_at < now)) | (cls.ended_at < old) | (cls.expires_at < old)).execute()


def deactivate(user: User) -> int:
    """Deactivate user: they can no longer sign in, every session of theirs ends now and their API tokens
    are revoked (a reactivation does not bring them back); their history stays. Returns how many sessions
    ended."""
    from models.api_tokens import ApiToken
    User.update(active=False).where(User.id == user.id).execute()
    user.active = False
    ApiToken.revoke_all(user)
    return WebSession.end_all(user, "account deactivated")


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Chromium/", "Chromium"), ("Safari/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def describe_agent(agent: str) -> str:
    """'Chrome on Windows' from a User-Agent header; the header itself (shortened) when nothing is known."""
    agent = agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (agent[:60] or "unknown browser")
