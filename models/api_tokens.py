"""Per-user API tokens (only a hash of the secret is stored) and the per-token rate-limit counter."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from models.base import BaseModel, db, utcnow
from models.users import User

PREFIX = "ixd_"
MAX_ACTIVE = 10  # per user: more tokens would only split one user's traffic past the rate limit
WINDOW = dt.timedelta(minutes=1)
# Recording every request's time would be a write per request for a column people read by the minute.
TOUCH_EVERY = dt.timedelta(minutes=1)


class TokenError(ValueError):
    """A token could not be issued; the message says why."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class RateCount:
    limit: int
    used: int
    reset_in: int  # seconds until the window ends
    scope: str = "token"  # "token", or "user" when the user's tokens together are the tighter limit

    @property
    def allowed(self) -> bool:
        return self.used <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class ApiToken(BaseModel):
    user = ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    name = CharField()
    # sha256 of the secret: a leaked database does not hand out working tokens.
    token_hash = CharField(unique=True)
    hint = CharField()  # "ixd_AbCd": the secret's first characters, to tell tokens apart in a list
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, user: User, name: str) -> tuple["ApiToken", str]:
        """A new token for user; returns it with its secret, which is never available again."""
        name = " ".join((name or "").split())[:100]
        if not name:
            raise TokenError("name the token after what will use it, e.g. “CRM sync”")
        if cls.select().where((cls.user == user) & cls.revoked_at.is_null()).count() >= MAX_ACTIVE:
            raise TokenError(f"you have {MAX_ACTIVE} active tokens, the most one person may hold; "
                             "revoke one you no longer use first")
        secret = PREFIX + secrets.token_urlsafe(32)
        token = cls.create(user=user, name=name, token_hash=digest(secret), hint=secret[:len(PREFIX) + 4])
        return token, secret

    @classmethod
    def find(cls, secret: str) -> "ApiToken | None":
        """The token with this secret, revoked or not, with its user loaded."""
        if not secret.startswith(PREFIX):
            return None
        return cls.select(cls, User).join(User).where(cls.token_hash == digest(secret)).first()

    @classmethod
    def of(cls, user: User):
        return cls.select().where(cls.user == user).order_by(cls.revoked_at.is_null(False), cls.id.desc())

    @classmethod
    def revoke_all(cls, user: User) -> int:
        """Revoke every active token of user (a password change offers it); returns how many."""
        return cls.update(revoked_at=utcnow()).where((cls.user == user) & cls.revoked_at.is_null()).execute()

    def revoke(self) -> bool:
        """Stop the token working at once; False when it was revoked already."""
        now = utcnow()
        done = ApiToken.update(revoked_at=now).where((ApiToken.id == self.id) & ApiToken.revoked_at.is_null()).execute()
        if done:
            self.revoked_at = now
        return bool(done)

    def touch(self) -> None:
        now = utcnow()
        if self.last_used_at is None or now - self.last_used_at >= TOUCH_EVERY:
            ApiToken.update(last_used_at=now).where(ApiToken.id == self.id).execute()
            self.last_used_at = now

    def count_request(self, limit: int, now: dt.datetime | None = None, user_limit: int | None = None) -> RateCount:
        """Count one request in this minute's window, for the token and for its user across all their tokens
        (shared by every process through the database); the tighter of the two is the answer."""
        now = now or utcnow()
        window = now.replace(second=0, microsecond=0)
        reset_in = max(1, int((window + WINDOW - now).total_seconds() + 0.999))
        with db.atomic():
            used = _count(ApiRequestCount, ApiRequestCount.token, self.id, window)
            answer = RateCount(limit=limit, used=used, reset_in=reset_in)
            if user_limit is not None:
                by_user = _count(ApiUserRequestCount, ApiUserRequestCount.user, self.user_id, window)
                if user_limit - by_user < limit - used:
                    answer = RateCount(limit=user_limit, used=by_user, reset_in=reset_in, scope="user")
        return answer


def _count(model, key, key_id: int, window: dt.datetime) -> int:
    # One upsert per request: concurrent requests of one key queue on the row, so none is lost.
    (model.insert({key: key_id, model.window_start: window, model.hits: 1})
     .on_conflict(conflict_target=[key, model.window_start], update={model.hits: model.hits + 1}).execute())
    used = model.select(model.hits).where((key == key_id) & (model.window_start == window)).scalar()
    if used == 1:  # a new window: the key's older ones are history
        model.delete().where((key == key_id) & (model.window_start < window)).execute()
    return used


class ApiRequestCount(BaseModel):
    """Requests of one token in one fixed one-minute window."""
    token = ForeignKeyField(ApiToken, backref="+", on_delete="CASCADE")
    window_start = DateTimeField()
    hits = IntegerField(default=0)

    class Meta:
        indexes = ((("token", "window_start"), True),)


class ApiUserRequestCount(BaseModel):
    """Requests of one user's tokens together in one fixed one-minute window."""
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    window_start = DateTimeField()
    hits = IntegerField(default=0)

    class Meta:
        indexes = ((("user", "window_start"), True),)
