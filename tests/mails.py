"""Raw RFC 5322 messages for inbox tests, made on the fly: plain mail, bounces, receipts, forwards, winmail.dat."""
from __future__ import annotations

import base64
import datetime as dt
import itertools
import struct
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr

from inbox.auth import AuthSettings

DESK = "desk@example.com"
# The desk's receiving server in tests (MAIL_AUTHSERV_ID, set by tests/conftest.py) and its internal relay.
AUTHSERV_ID, RELAY = "mx.ixdesk.test", "imap.ixdesk.test"
AUTH = AuthSettings(authserv_ids=(AUTHSERV_ID,), receiving_hosts=(RELAY,), verify_dkim=False)
DATE = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc)
_seq = itertools.count(1)


def msgid(domain: str = "sender.example") -> str:
    return make_msgid(f"t{next(_seq)}", domain=domain)


def message(frm: str, subject: str, body: str = "", *, to: str | list[str] = DESK, html: str | None = None,
            message_id: str | None = None, headers: dict | list[tuple[str, str]] | None = None,
            attachments: list[tuple[str, bytes, str]] = (), in_reply_to: str | None = None,
            references: str | None = None, cc: str | None = None, auth: str | None = None) -> bytes:
    """A mail as a mail client would send it; attachments are (file name, bytes, content type).

    auth: "pass" (or "fail", "none"): the DMARC result our receiving server records for the From domain,
    in the headers it adds on top; None: the mail carries no results of our server.
    """
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(DATE)
    msg["Message-ID"] = message_id or msgid(frm.rpartition("@")[2].strip(">") or "sender.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        msg[name] = value
    msg.set_content(body or "\n")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data, ctype in attachments:
        if ctype == "message/rfc822":
            msg.add_attachment(message_from_bytes(data, policy=policy.default), filename=name)
            continue
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    out = msg.as_bytes(policy=SMTP)
    return received(out, auth) if auth else out


def received(raw_mail: bytes, dmarc: str = "pass", domain: str | None = None, dkim: str | None = None) -> bytes:
    """The mail as the desk's receiving server delivers it: its Authentication-Results above the Received
    header from outside, and the internal relay's Received on top."""
    if domain is None:
        head = raw_mail.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        frm = next((line[5:] for line in head.split("\r\n") if line.lower().startswith("from:")), "")
        domain = parseaddr(frm)[1].rpartition("@")[2].lower()
    dkim = dkim or ("pass" if dmarc == "pass" else "fail")
    results = (f"{AUTHSERV_ID}; spf=pass smtp.mailfrom={domain}; dkim={dkim} header.d={domain} header.s=s1; "
               f"dmarc={dmarc} (p=REJECT) header.from={domain}")
    top = (f"Received: from {AUTHSERV_ID} (localhost [127.0.0.1]) by {RELAY} with LMTP; Mon, 2 Mar 2026 09:30:02 +0000\r\n"
           f"Authentication-Results: {results}\r\n"
           f"Received: from mail.{domain} (mail.{domain} [203.0.113.7]) by {AUTHSERV_ID} with ESMTPS; "
           f"Mon, 2 Mar 2026 09:30:01 +0000\r\n")
    return top.encode() + raw_mail


def raw(headers: list[tuple[str, str]], body: bytes) -> bytes:
    """A message written byte by byte: for charsets and shapes the email package would tidy away."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    return head + b"\r\n" + body


def encoded_word(text: str, charset: str, codec: str | None = None) -> str:
    """An RFC 2047 B-encoded word whose bytes are `codec` (default: the charset itself) under `charset`'s label."""
    data = text.encode(codec or charset)
    return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _report(report_type: str, frm: str, to: str, subject: str, parts: list[tuple[str, str]],
            extra: list[tuple[str, str]] = ()) -> bytes:
    """A multipart/report written out by hand (the email package cannot build delivery-status parts)."""
    boundary = f"report-{next(_seq)}"
    head = [("From", frm), ("To", to), ("Subject", subject), ("Date", format_datetime(DATE)),
            ("Message-ID", msgid("mx.example.net")), ("MIME-Version", "1.0"), *extra,
            ("Content-Type", f'multipart/report; report-type={report_type}; boundary="{boundary}"')]
    body = "".join(f"--{boundary}\r\nContent-Type: {ctype}\r\n\r\n{crlf(content)}\r\n" for ctype, content in parts)
    return raw(head, (body + f"--{boundary}--\r\n").encode("utf-8"))


def dsn(original: bytes, failed: str, *, returned: str = "message", frm: str = "MAILER-DAEMON@mx.example.net",
        to: str = DESK, status: str = "5.1.1", action: str = "failed",
        subject: str = "Undelivered Mail Returned to Sender") -> bytes:
    """An RFC 3464 delivery status notification returning `original` whole (message/rfc822), its headers
    (text/rfc822-headers) or nothing."""
    text = (f"This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you that your "
            f"message could not be delivered to one or more recipients.\n\n<{failed}>: host mx.example.net "
            f"said: 550 5.1.1 User unknown\n")
    status_text = (f"Reporting-MTA: dns; mx.example.net\nArrival-Date: {format_datetime(DATE)}\n\n"
                   f"Final-Recipient: rfc822; {failed}\nOriginal-Recipient: rfc822;{failed}\nAction: {action}\n"
                   f"Status: {status}\nDiagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected: "
                   f"User unknown\n")
    parts = [("text/plain; charset=us-ascii", text), ("message/delivery-status", status_text)]
    original_text = original.decode("utf-8", "replace")
    if returned == "message":
        parts.append(("message/rfc822", original_text))
    elif returned == "headers":
        parts.append(("text/rfc822-headers", original_text.replace("\r\n", "\n").split("\n\n", 1)[0] + "\n"))
    return _report("delivery-status", f"Mail Delivery System <{frm}>", to, subject, parts,
                   [("Auto-Submitted", "auto-replied")])


def daemon_bounce(original_message_id: str, failed: str, frm: str = "MAILER-DAEMON@mail.example.org") -> bytes:
    """A bounce as older servers write it: plain text, the original quoted, no delivery-status part."""
    body = (f"Hi. This is the qmail-send program at mail.example.org.\n"
            f"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            f"This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            f"<{failed}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
            f"--- Below this line is a copy of the message.\n\n"
            f"Return-Path: <{DESK}>\nMessage-ID: {original_message_id}\nFrom: Solar Desk <{DESK}>\n"
            f"To: {failed}\nSubject: Documents we still need\n\nHello, please send the signed form.\n")
    return message(frm, "failure notice", body, headers=[("Return-Path", "<>")])


def read_receipt(original_message_id: str, frm: str, to: str = DESK) -> bytes:
    """An RFC 8098 disposition notification (a read receipt) for a message we sent."""
    parts = [("text/plain; charset=us-ascii", "Your message was displayed on the recipient's screen.\n"),
             ("message/disposition-notification",
              f"Reporting-UA: client.example; Mail 1.0\nFinal-Recipient: rfc822;{frm}\n"
              f"Original-Message-ID: {original_message_id}\n"
              f"Disposition: manual-action/MDN-sent-manually; displayed\n")]
    return _report("disposition-notification", frm, to, "Read: Documents we still need", parts)


def forwarded(inner: bytes, frm: str, subject: str, note: str = "See the forwarded message below.",
              to: str = DESK, attachments: list[tuple[str, bytes, str]] = ()) -> bytes:
    """A mail that forwards `inner` as an attachment (message/rfc822), as most clients do."""
    return message(frm, subject, note, to=to, attachments=[("forwarded.eml", inner, "message/rfc822"),
                                                          *attachments])


def _tnef_attr(level: int, attr_id: int, data: bytes) -> bytes:
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", sum(data) % 65536)


ATT_TNEF_VERSION = 0x00089006
ATT_OEM_CODEPAGE = 0x00069007
ATT_ATTACH_REND_DATA = 0x00069002
ATT_ATTACH_TITLE = 0x00018010
ATT_ATTACH_DATA = 0x0006800F


def tnef(files: list[tuple[str, bytes]], key: int = 0x1234, codepage: int = 1252) -> bytes:
    """A minimal winmail.dat (TNEF) holding `files` [(name, bytes)], readable by tnefparse and Outlook.

    File names are written in the OEM code page, as Outlook writes attAttachTitle.
    """
    out = struct.pack("<IH", 0x223E9F78, key)
    out += _tnef_attr(1, ATT_TNEF_VERSION, struct.pack("<I", 0x00010000))
    out += _tnef_attr(1, ATT_OEM_CODEPAGE, struct.pack("<II", codepage, 0))
    for name, data in files:
        out += _tnef_attr(2, ATT_ATTACH_REND_DATA, struct.pack("<HIIIH", 1, 0xFFFFFFFF, 0, 0, 0) + b"\x00" * 2)
        out += _tnef_attr(2, ATT_ATTACH_TITLE, name.encode(f"cp{codepage}") + b"\x00")
        out += _tnef_attr(2, ATT_ATTACH_DATA, data)
    return out


def with_winmail(frm: str, subject: str, body: str, winmail: bytes, **kw) -> bytes:
    """A mail from Outlook that wrapped its attachments in winmail.dat."""
    return message(frm, subject, body, attachments=[("winmail.dat", winmail, "application/ms-tnef")], **kw)


def nested(depth: int, frm: str = "someone@example.org") -> bytes:
    """A message whose parts nest `depth` multiparts deep (a parser bomb in miniature)."""
    lines = [f"From: {frm}", f"To: {DESK}", "Subject: nested", f"Message-ID: {msgid('nest.example')}",
             "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b0"', ""]
    for n in range(depth):
        lines += [f"--b{n}", f'Content-Type: multipart/mixed; boundary="b{n + 1}"', ""]
    lines += [f"--b{depth}", "Content-Type: text/plain", "", "deep inside", f"--b{depth}--"]
    for n in reversed(range(depth)):
        lines += [f"--b{n}--"]
    return "\r\n".join(lines).encode() + b"\r\n"
