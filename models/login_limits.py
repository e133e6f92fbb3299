"""Failed sign-ins slow down further tries, by account and by client address, for every web process alike.

After FREE failures for an account (ADDRESS_FREE from one client address) within WINDOW, each further
try waits an increasing delay after the last failure (BASE, doubled per failure, at most LONGEST),
answered as 429 with Retry-After. Nothing is permanent: failures older than WINDOW stop counting. So
that a stranger cannot keep someone out of their own account by failing on purpose, a browser that
signed in to the account before (it holds a device cookie) is limited by its own failures only.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, fn

from models.base import BaseModel, utcnow
from models.users import User

FREE = 5  # failures for one account before tries slow down
ADDRESS_FREE = 20  # for one client address: often a whole office behind one NAT
WINDOW = dt.timedelta(minutes=15)
BASE = dt.timedelta(seconds=30)
LONGEST = dt.timedelta(minutes=15)
KEPT = dt.timedelta(days=30)  # failures stay listed on the user's admin page this long
DEVICE_COOKIE = "ixdesk_device"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _email(email: str) -> str:
    return " ".join((email or "").replace("\x00", "").split()).lower()[:254]


class LoginFailure(BaseModel):
    email = CharField(index=True)  # as typed (normalised), whether or not such a user exists
    address = CharField(index=True)
    device_hash = CharField(default="")
    at = DateTimeField(default=utcnow, index=True)
    # A sign-in that followed from the same address or device: still listed, no longer counted.
    cleared = BooleanField(default=False)


class KnownDevice(BaseModel):
    """A browser that signed in to this account; its cookie keeps it clear of the account-wide limit."""
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    device_hash = CharField(unique=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(default=utcnow)


@dataclass(frozen=True)
class Attempt:
    """Who is trying to sign in: the account typed, the client address and the browser's device cookie."""
    email: str
    address: str
    device: str = ""

    @property
    def device_hash(self) -> str:
        return _digest(self.device) if self.device and len(self.device) <= 100 else ""


def delay_after(failures: int, free: int = FREE) -> dt.timedelta:
    """How long after the last failure the next try waits, given the failures counted in the window."""
    if failures < free:
        return dt.timedelta(0)
    return min(LONGEST, BASE * (2 ** min(failures - free, 20)))


def _wait(query, now: dt.datetime, free: int = FREE) -> int:
    count, last = query.select(fn.COUNT(LoginFailure.id), fn.MAX(LoginFailure.at)).tuples().first() or (0, None)
    if not count or last is None:
        return 0
    if isinstance(last, str):  # SQLite hands aggregates back as text
        last = dt.datetime.fromisoformat(last)
    left = (last + delay_after(count, free) - now).total_seconds()
    return max(0, int(left + 0.999))


def known_device(attempt: Attempt) -> bool:
    """The browser signed in to the account it names before."""
    if not attempt.device_hash:
        return False
    return (KnownDevice.select().join(User).where((KnownDevice.device_hash == attempt.device_hash) &
                                                  (User.email == _email(attempt.email))).exists())


def retry_after(attempt: Attempt, now: dt.datetime | None = None) -> int:
    """Seconds until this attempt may be tried; 0 when it may be tried now."""
    now = now or utcnow()
    since = now - WINDOW
    recent = LoginFailure.select().where((LoginFailure.at > since) & (LoginFailure.cleared == False))  # noqa: E712
    if known_device(attempt):
        # A browser that signed in to this account before: only its own failures count, so neither a
        # stranger guessing at the account nor colleagues' typos behind the same address hold it back.
        return _wait(recent.where(LoginFailure.device_hash == attempt.device_hash), now)
    by_address = recent.where(LoginFailure.address == attempt.address)
    by_account = recent.where(LoginFailure.email == _email(attempt.email))
    return max(_wait(by_address, now, ADDRESS_FREE), _wait(by_account, now))


def record_failure(attempt: Attempt, now: dt.datetime | None = None) -> None:
    LoginFailure.create(email=_email(attempt.email), address=attempt.address[:64], device_hash=attempt.device_hash,
                        at=now or utcnow())


def succeeded(attempt: Attempt) -> None:
    """The person knew the password: their own earlier slips (same address or browser) stop counting."""
    same = LoginFailure.address == attempt.address
    if attempt.device_hash:
        same |= LoginFailure.device_hash == attempt.device_hash
    LoginFailure.update(cleared=True).where((LoginFailure.email == _email(attempt.email)) & same &
                                            (LoginFailure.cleared == False)).execute()  # noqa: E712


def remember_device(user: User, attempt: Attempt) -> str | None:
    """After a sign-in: the device cookie to set (a new one), or None when the browser is known already."""
    if attempt.device_hash:
        updated = (KnownDevice.update(last_used_at=utcnow())
                   .where((KnownDevice.device_hash == attempt.device_hash) & (KnownDevice.user == user)).execute())
        if updated:
            return None
    device = secrets.token_urlsafe(32)
    KnownDevice.create(user=user, device_hash=_digest(device))
    return device


def recent_failures(user: User, limit: int = 50):
    """The account's failed sign-ins of the last KEPT days, newest first."""
    return (LoginFailure.select().where((LoginFailure.email == user.email) & (LoginFailure.at > utcnow() - KEPT))
            .order_by(LoginFailure.at.desc()).limit(limit))


def prune(now: dt.datetime | None = None) -> int:
    return LoginFailure.delete().where(LoginFailure.at < (now or utcnow()) - KEPT).execute()
