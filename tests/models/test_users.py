"""Users: registration rules, hashed passwords, authentication."""
from __future__ import annotations

import pytest

from models import User
from models.users import UserError


def test_register_hashes_and_authenticates(db):
    user = User.register(" Maria@Example.com ", "Maria", "coordinator", "long-enough-pw")
    assert user.email == "maria@example.com" and "long-enough-pw" not in user.password_hash
    assert User.authenticate("MARIA@example.com", "long-enough-pw").id == user.id
    assert User.authenticate("maria@example.com", "wrong-password") is None
    User.update(active=False).execute()
    assert User.authenticate("maria@example.com", "long-enough-pw") is None


@pytest.mark.parametrize("email, name, role, pw, message", [
    ("bad", "N", "lead", "long-enough-pw", "not a valid email"),
    ("a@example.com", " ", "lead", "long-enough-pw", "name is required"),
    ("a@example.com", "N", "boss", "long-enough-pw", "role must be one of"),
    ("a@example.com", "N", "lead", "short", "at least 10 characters"),
])
def test_register_refuses_bad_input(db, email, name, role, pw, message):
    with pytest.raises(UserError, match=message):
        User.register(email, name, role, pw)


def test_duplicate_email_refused(db):
    User.register("a@example.com", "A", "lead", "long-enough-pw")
    with pytest.raises(UserError, match="already exists"):
        User.register("A@example.com", "B", "lead", "long-enough-pw")
