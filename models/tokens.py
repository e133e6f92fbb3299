"""Reply tokens: a code per project that routes replies back, keyed so nobody outside can make one.

A token is the project id in Crockford base32 with a check symbol, then 65 bits of an HMAC of that id
under the desk's token key: `IX-7K3QH-4Z8M1C0TQW7RA`. Only a token under the current key is strong
evidence; a token under an older key (after a rotation) and the old unkeyed form (`IX-7K3QH`, derived from
the sequential id, so guessable) still route mail to the project but count as weak.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

# Crockford's base32 (no I, L, O, U) and its check symbols (mod 37).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK = ALPHABET + "*~$=U"
MAC_CHARS = 13  # 13 base32 symbols = 65 bits
TOKEN_RE = re.compile(r"\bIX-([0-9A-HJKMNP-TV-Z]{1,12})([0-9A-HJKMNP-TV-Z*~$=U])"
                      r"(?:-([0-9A-HJKMNP-TV-Z]{13}))?(?![0-9A-Z])", re.IGNORECASE)
# Mistyped letters mapped as Crockford intends.
LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_keys: list[bytes] = []


class TokenKeyMissing(RuntimeError):
    """No token key is loaded: set TOKEN_KEYS or SECRET_KEY for every web and worker process."""


@dataclass(frozen=True)
class Found:
    project_id: int
    strength: str  # strong: current key | old_key: an earlier key | unkeyed: the old guessable form

    @property
    def strong(self) -> bool:
        return self.strength == "strong"


def configure(keys) -> None:
    """Load the token keys, current first (every process that mints or checks tokens calls this)."""
    global _keys
    _keys = [k.encode() if isinstance(k, str) else bytes(k) for k in keys if k]


def _current_keys() -> list[bytes]:
    if not _keys:
        import config
        configure(config.load(web=False).token_keys)
    if not _keys:
        raise TokenKeyMissing("no reply-token key: set TOKEN_KEYS (or SECRET_KEY) in this process's environment")
    return _keys


def _base32(n: int) -> str:
    digits = ""
    while n:
        n, r = divmod(n, 32)
        digits = ALPHABET[r] + digits
    return digits


def _mac(key: bytes, project_id: int) -> str:
    digest = hmac.new(key, f"ixdesk-reply-token:{project_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:9], "big") >> (72 - 5 * MAC_CHARS)
    return _base32(n).rjust(MAC_CHARS, "0")


def legacy(project_id: int) -> str:
    """The old unkeyed form, e.g. 'IX-7K3QH' (still recognised, as weak evidence)."""
    if project_id <= 0:
        raise ValueError("project ids are positive")
    return f"IX-{_base32(project_id)}{CHECK[project_id % 37]}"


def encode(project_id: int) -> str:
    """The keyed token for a project under the current key."""
    return f"{legacy(project_id)}-{_mac(_current_keys()[0], project_id)}"


def _value(body: str, check: str) -> int | None:
    value = 0
    for ch in body.upper().translate(LOOKALIKES):
        if ch not in ALPHABET:
            return None
        value = value * 32 + ALPHABET.index(ch)
    return value if value > 0 and CHECK[value % 37] == check.upper() else None


def find(text: str) -> list[Found]:
    """Every valid token in text, in order (a wrong check symbol or a MAC under no key of ours is no token)."""
    out: list[Found] = []
    for match in TOKEN_RE.finditer(text or ""):
        value = _value(match.group(1), match.group(2))
        if value is None:
            continue
        mac = (match.group(3) or "").upper().translate(LOOKALIKES)
        if not mac:
            out.append(Found(value, "unkeyed"))
            continue
        keys = _current_keys()
        for i, key in enumerate(keys):
            if hmac.compare_digest(_mac(key, value), mac):
                out.append(Found(value, "strong" if i == 0 else "old_key"))
                break
    return out


def decode(text: str) -> int | None:
    """The project id of the first token in text, whatever its strength, or None."""
    found = find(text)
    return found[0].project_id if found else None


def subject_tag(project_id: int) -> str:
    return f"[{encode(project_id)}]"


def plus_address(mailbox: str, project_id: int) -> str:
    """desk@example.com -> desk+ix-7k3qh-...@example.com, so replies route back even without the subject tag."""
    local, _, domain = mailbox.partition("@")
    return f"{local.split('+')[0]}+{encode(project_id).lower()}@{domain}"
