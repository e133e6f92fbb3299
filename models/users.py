"""People who log in: coordinators, leads and admins."""
from __future__ import annotations



from peewee import BooleanField, CharField, DateField, DateTimeField
from werkzeug.security import check_password_hash, generate_password_hash

from models.base import BaseModel, utcnow
from models.vocab import EMAIL_RE

ROLES = ("coordinator", "lead", "admin")

MIN_PASSWORD = 10
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise UserError(f"{email!r} is not a valid email address")
    return email


class User(BaseModel):
    email = CharField(unique=True)
    name = CharField()
    role = CharField(index=True, default="coordinator")
    active = BooleanField(default=True)
    password_hash = CharField()
    digest_opt_in = BooleanField(default=False)
    last_digest_on = DateField(null=True)
    created_at = DateTimeField(default=utcnow)

    def __str__(self) -> str:
        return self.name

    @property
    def is_lead(self) -> bool:
        """Leads and admins see and edit everything."""
        return self.role in ("lead", "admin")

    def set_password(self, password: str) -> None:
        if len(password or "") < MIN_PASSWORD:
            raise UserError(f"password must be at least {MIN_PASSWORD} characters")
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password or "")

    @classmethod
    def register(cls, email: str, name: str, role: str, password: str) -> "User":
        email = normalise_email(email)
        name = (name or "").strip()
        if not name:
            raise UserError("name is required")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if cls.select().where(cls.email == email).exists():
            raise UserError(f"a user with email {email} already exists")
        user = cls(email=email, name=name, role=role)
        user.set_password(password)
        user.save()
        return user

    @classmethod
    def authenticate(cls, email: str, password: str) -> "User | None":
        user = cls.get_or_none(cls.email == (email or "").strip().lower())
        if user is None:
            # Hash anyway, so the answer takes as long for unknown emails as for wrong passwords.
            check_password_hash(_DUMMY_HASH, password or "")
            return None
        if not user.active or not user.check_password(password):
            return None
        return user

    @classmethod
    def active_users(cls):
        return cls.select().where(cls.active == True).order_by(cls.name)  # noqa: E712

    @classmethod
    def assignable(cls):
        """Users a project can be assigned to."""
        return cls.active_users().where(cls.role.in_(("coordinator", "lead")))
