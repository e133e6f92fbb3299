"""Forwarded mail: the original message inside a forward (attached message/rfc822 or inline). Pure."""
from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass

from inbox.parse import ParsedMail, ParseError, parse

MAX_DEPTH = 10  # forwards of forwards: the innermost original within this many levels is read
FORWARD_SUBJECT = re.compile(r"^\s*((fwd?|fw|tr|wg|rv|enc|doorst)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
# "-----Original Message-----" opens a quoted reply, not a forward: it counts only under a forward's subject.
MARKER = re.compile(r"(?im)^[ \t>]*(?:-{4,}\s*(?:forwarded message|mensaje reenviado|message transféré|"
                    r"weitergeleitete nachricht)\s*-{4,}|begin forwarded message:)[ \t]*$")
REPLY_MARKER = re.compile(r"(?im)^[ \t>]*-{4,}\s*original message\s*-{4,}[ \t]*$")
# An Outlook-style header block: "From: ..." then Sent/Date/To/Subject lines.
OUTLOOK_BLOCK = re.compile(r"(?im)^[ \t>]*from:[ \t]*\S.*\n(?:[ \t>]*(?:sent|date|to|cc|subject):.*\n){2,5}")
FIELD = re.compile(r"^[ \t>]*(from|date|sent|to|cc|subject)[ \t]*:[ \t]*(.*)$", re.IGNORECASE)


@dataclass
class Forward:
    from_addr: str
    from_name: str
    subject: str
    text: str
    depth: int
    attached: bool  # the original came as a message/rfc822 part (its own headers, maybe verifiable)
    raw: bytes = b""
    parsed: ParsedMail | None = None


def original(mail: ParsedMail) -> Forward | None:
    """The forwarded original, innermost first within MAX_DEPTH levels; None when this is no forward."""
    found, current, depth = None, mail, 0
    while depth < MAX_DEPTH:
        inner = _attached(current) or _inline(current)
        if inner is None:
            break
        depth += 1
        inner.depth = depth
        found = inner
        # An inline forward's text may hold a forward of its own (a customer's forward, forwarded again).
        current = inner.parsed or ParsedMail(subject=inner.subject, text=inner.text, from_addr=inner.from_addr)
    return found


def _attached(mail: ParsedMail) -> Forward | None:
    if not mail.forwards or mail.report_type:
        return None
    if not (FORWARD_SUBJECT.match(mail.subject) or len(mail.text.strip()) < 2000):
        return None
    raw = mail.forwards[0]
    try:
        inner = parse(raw)
    except ParseError:
        return None
    return Forward(inner.from_addr, inner.from_name, inner.subject, inner.text, 0, True, raw, inner)


def _inline(mail: ParsedMail) -> Forward | None:
    text = mail.text or ""
    marker = MARKER.search(text)
    if marker is None and FORWARD_SUBJECT.match(mail.subject):
        marker = REPLY_MARKER.search(text)
    block = None
    if marker is None:
        if not FORWARD_SUBJECT.match(mail.subject):
            return None
        block = OUTLOOK_BLOCK.search(text)
        if block is None:
            return None
        start = block.start()
    else:
        start = marker.end()
    fields, body_at = {}, start
    lines = text[start:].split("\n")
    offset = start
    for i, line in enumerate(lines[:15]):
        offset += len(line) + 1
        found = FIELD.match(line)
        if found:
            fields.setdefault(found.group(1).lower(), found.group(2).strip())
            body_at = offset
        elif line.strip() in ("", ">") and fields:
            body_at = offset
            break
        elif fields:
            break
    if "from" not in fields:
        return None
    name, addr = email.utils.parseaddr(fields["from"].replace("[mailto:", "<").replace("]", ">"))
    if "@" not in addr:
        found = re.search(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", fields["from"])
        addr = found.group(0) if found else ""
    body = "\n".join(line[1:].lstrip() if line.startswith(">") else line for line in text[body_at:].split("\n"))
    return Forward(addr.lower(), name, fields.get("subject", ""), body, 0, False)
