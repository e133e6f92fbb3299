"""Step 1, store first: raw bytes on disk and an InboundMail row committed before anything else happens."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from models import storage
from models.base import db
from models.inbound import InboundMail

HEADER_END = re.compile(rb"\r?\n\r?\n")
MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
ANGLE = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Stored:
    mail: InboundMail
    created: bool  # False: this very copy was stored before (same mailbox UID, or the same file again)


def normalise_message_id(value: str) -> str:
    """'<abc@x>' (angle brackets, no spaces), from whatever the header held; '' when it holds nothing usable."""
    value = (value or "").strip()
    found = ANGLE.search(value)
    if found:
        return found.group(0)[:998]
    value = "".join(value.split())
    return f"<{value}>"[:998] if value and "@" in value else ""


def header_message_id(raw: bytes) -> str:
    """The Message-ID of raw mail, read from its header block alone (no full parse needed to dedupe)."""
    end = HEADER_END.search(raw)
    head = raw[:end.start()] if end else raw[:65536]
    found = MESSAGE_ID.search(head)
    if not found:
        return ""
    return normalise_message_id(found.group(1).decode("utf-8", "replace"))


def dedupe_key(raw: bytes) -> str:
    """A hash that is the same for a message fetched over IMAP (CRLF) and read from a file (LF)."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n").rstrip(b"\n")).hexdigest()


def store(raw: bytes, source: str, mailbox: str = "", uid: int | None = None,
          uidvalidity: int | None = None) -> Stored:
    """Keep a message: file first, then the row (pending, or duplicate of an earlier one), committed."""
    if uid is not None:
        seen = InboundMail.get_or_none((InboundMail.mailbox == mailbox) & (InboundMail.uidvalidity == uidvalidity) &
                                       (InboundMail.uid == uid))
        if seen is not None:
            return Stored(seen, False)
    sha, _ = storage.put(raw)
    key = dedupe_key(raw)
    message_id = header_message_id(raw) or f"sha256:{key}"
    with db.atomic():
        # Looked up by the content hash alone (its own index), then narrowed: a mailbox holds many rows.
        same_id = next((i for i, box, src in InboundMail.select(InboundMail.id, InboundMail.mailbox, InboundMail.source)
                        .where(InboundMail.dedupe_key == key).tuples() if box == mailbox and src == source), None)
        if same_id is not None:
            same_copy = InboundMail.get_by_id(same_id)
            # The same file dropped in twice, or the same server copy under a new UIDVALIDITY: one row.
            if uid is not None:
                InboundMail.update(uid=uid, uidvalidity=uidvalidity).where(InboundMail.id == same_copy.id).execute()
            return Stored(same_copy, False)
        first = (InboundMail.select(InboundMail.id).where(InboundMail.message_id == message_id,
                                                          InboundMail.state != "duplicate")
                 .order_by(InboundMail.id).first())
        state = "duplicate" if first is not None else "pending"
        mail = InboundMail.create(message_id=message_id, sha256=sha, dedupe_key=key, size=len(raw), source=source,
                                  mailbox=mailbox, uid=uid, uidvalidity=uidvalidity, state=state,
                                  duplicate_of=first,
                                  reason=f"same Message-ID as mail #{first.id}" if first is not None else "")
    return Stored(mail, True)
