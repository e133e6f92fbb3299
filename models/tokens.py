"""Reply tokens: a short code per project, with a check symbol so a typo or a guess never lands elsewhere."""
from __future__ import annotations

import re

# Crockford's base32 (no I, L, O, U) and its check symbols (mod 37).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK = ALPHABET + "*~$=U"
TOKEN_RE = re.compile(r"\bIX-([0-9A-HJKMNP-TV-Z]{1,12})([0-9A-HJKMNP-TV-Z*~$=U])(?![0-9A-Z])", re.IGNORECASE)
# Mistyped letters mapped as Crockford intends.
LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def encode(project_id: int) -> str:
    """The token for a project, e.g. 'IX-7K3QH' (base32 id + one check symbol)."""
    if project_id <= 0:
        raise ValueError("project ids are positive")
    digits, n = "", project_id
    while n:
        n, r = divmod(n, 32)
        digits = ALPHABET[r] + digits
    return f"IX-{digits}{CHECK[project_id % 37]}"


def decode(text: str) -> int | None:
    """The project id of the first valid token in text, or None (a wrong check symbol is no token)."""
    for match in TOKEN_RE.finditer(text or ""):
        body, check = match.group(1).upper().translate(LOOKALIKES), match.group(2).upper()
        try:
            value = 0
            for ch in body:
                value = value * 32 + ALPHABET.index(ch)
        except ValueError:
            continue
        if value > 0 and CHECK[value % 37] == check:
            return value
    return None


def subject_tag(project_id: int) -> str:
    return f"[{encode(project_id)}]"


def plus_address(mailbox: str, project_id: int) -> str:
    """desk@example.com -> desk+ix-7k3qh@example.com, so replies route back even without the subject tag."""
    local, _, domain = mailbox.partition("@")
    return f"{local.split('+')[0]}+{encode(project_id).lower()}@{domain}"
