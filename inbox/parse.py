"""Step 2, parse: raw bytes -> ParsedMail (mail-parser for headers, our own walk for parts). Pure."""
from __future__ import annotations

import datetime as dt
import email.header
import email.utils
import html as html_lib
import logging
import re
from dataclasses import dataclass, field
from email.message import Message

import mailparser
import nh3

from inbox.store import normalise_message_id

log = logging.getLogger(__name__)
MAX_DEPTH = 40  # forwards of forwards nest two levels each; a parser bomb goes far deeper
MAX_TEXT = 200_000  # characters of body kept for display, search and rules
# Labels senders put on text that Python's codecs do not know, or know as a smaller charset than meant.
CHARSETS = {
    "ks_c_5601-1987": ("cp949",), "ks_c_5601": ("cp949",), "euc-kr": ("cp949",), "korean": ("cp949",),
    "gb2312": ("gb18030",), "gbk": ("gb18030",), "x-gbk": ("gb18030",), "cp936": ("gb18030",),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_3", "jis-cp932"),
    "iso-2022-jp-ms": ("iso2022_jp_ext", "jis-cp932"), "cp50220": ("jis-cp932",),
    "cp50221": ("jis-cp932",), "cp50222": ("jis-cp932",),
    "shift_jis": ("cp932",), "shift-jis": ("cp932",), "x-sjis": ("cp932",), "sjis": ("cp932",),
    "windows-874": ("cp874",), "tis-620": ("cp874",),
    "iso-8859-1": ("cp1252",), "latin1": ("cp1252",), "us-ascii": ("utf-8", "cp1252"), "ascii": ("utf-8", "cp1252"),
    "unknown-8bit": ("utf-8", "cp1252"), "x-unknown": ("utf-8", "cp1252"), "unknown": ("utf-8", "cp1252"),
    "8bit": ("utf-8", "cp1252"), "default": ("utf-8", "cp1252"),
}
ALLOWED_TAGS = {"a", "b", "blockquote", "br", "caption", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
                "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup", "table", "tbody",
                "td", "tfoot", "th", "thead", "tr", "u", "ul", "font", "center"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}


class ParseError(ValueError):
    """The mail cannot be read at all; it is quarantined with this reason (the raw copy stays)."""


@dataclass
class Attachment:
    name: str
    data: bytes
    content_type: str
    forwarded: bool = False  # inside a forwarded message
    inline: bool = False


@dataclass
class Report:
    """What a delivery report (bounce) says about the message it returns."""

    original_message_id: str = ""
    failed: list[str] = field(default_factory=list)
    status: str = ""
    diagnostic: str = ""
    action: str = ""  # failed | delayed | delivered | relayed | expanded


@dataclass
class ParsedMail:
    message_id: str = ""
    subject: str = ""
    from_addr: str = ""
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    date: dt.datetime | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case name -> first value, decoded
    header_list: list[tuple[str, str]] = field(default_factory=list)  # every header in order, as received
    content_type: str = ""
    report_type: str = ""
    return_path: str | None = None
    text: str = ""  # the message's own text (forwarded text included, as a reader sees it)
    html: str = ""  # sanitised: safe to render
    attachments: list[Attachment] = field(default_factory=list)
    forwards: list[bytes] = field(default_factory=list)
    report: Report | None = None
    defects: list[str] = field(default_factory=list)

    @property
    def recipients(self) -> list[str]:
        return self.to + self.cc + self.delivered_to

    @property
    def sender_domain(self) -> str:
        return self.from_addr.rpartition("@")[2]

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def jis_to_cp932(data: bytes) -> str:
    """ISO-2022-JP as Outlook writes it (Windows extensions such as ① and ㈱): JIS pairs -> Shift_JIS -> cp932."""
    out, i, double, kana = bytearray(), 0, False, False
    while i < len(data):
        if data[i] == 0x1B and i + 2 < len(data):
            seq = data[i + 1:i + 3]
            double, kana = seq in (b"$B", b"$@"), seq == b"(I"
            i += 3
            continue
        if double and i + 1 < len(data) and 0x21 <= data[i] <= 0x7E:
            j1, j2 = data[i], data[i + 1]
            s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + (0x1F if j1 % 2 else 0x7E)
            if j1 % 2 and s2 >= 0x7F:
                s2 += 1
            out += bytes((s1, s2))
            i += 2
            continue
        out.append(data[i] + 0x80 if kana and 0x21 <= data[i] <= 0x5F else data[i])
        i += 1
    return out.decode("cp932")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes labelled with a charset, forgiving the labels real senders use."""
    label = (charset or "").strip().strip('"').lower() or "default"
    for codec in CHARSETS.get(label, (label,)) + ("utf-8",):
        try:
            return jis_to_cp932(data) if codec == "jis-cp932" else data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def header_text(value) -> str:
    """A raw header value as text: the stdlib hands 8-bit headers back as Header objects or with surrogates."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        return decode_header(value)
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:
            return ""
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # raw UTF-8 (RFC 6532) read as surrogate escapes
        value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return value


def _get(msg: Message, name: str) -> str:
    return header_text(msg.get(name))


def _get_all(msg: Message, name: str) -> list[str]:
    return [header_text(v) for v in (msg.get_all(name) or [])]


def decode_header(value) -> str:
    """An RFC 2047 header as text (encoded words in any charset we know; raw 8-bit bytes as UTF-8)."""
    if value is None or value == "":
        return ""
    if not isinstance(value, (str, email.header.Header)):
        value = str(value)
    if isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value):
        value = header_text(value)
    try:
        pieces = email.header.decode_header(value)
    except Exception:  # malformed encoded words: show them as they are
        return " ".join(str(value).split())
    out = []
    for chunk, charset in pieces:
        out.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return " ".join("".join(out).split())


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    found = []
    for name, addr in email.utils.getaddresses([str(v) for v in values if v]):
        addr = addr.strip().strip("<>").lower()
        if "@" in addr and len(addr) <= 254:
            found.append((decode_header(name), addr))
    return found


def _ids(value: str) -> list[str]:
    return [normalise_message_id(m) for m in re.findall(r"<[^<>\s]+>", value or "")]


def sanitise_html(markup: str) -> str:
    """Mail HTML with everything active removed: no scripts, styles, images, forms or event handlers."""
    return nh3.clean(markup, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def html_to_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", markup)
    markup = re.sub(r"(?i)<li\b[^>]*>", "\n- ", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h\d)>", "\n", markup)
    text = html_lib.unescape(nh3.clean(markup, tags=set()))
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()


def parse(raw: bytes) -> ParsedMail:
    """Read a message; raises ParseError only when nothing usable can be read."""
    try:
        parsed = mailparser.parse_from_bytes(raw)
    except RecursionError as exc:  # MailParserRecursionError subclasses it
        raise ParseError("the message nests parts too deeply to read") from exc
    except Exception as exc:
        raise ParseError(f"the message cannot be parsed ({type(exc).__name__}: {str(exc)[:200]})") from exc
    msg: Message = parsed.message
    mail = ParsedMail()
    mail.headers = {}
    for name, value in msg.items():
        mail.headers.setdefault(name.lower(), decode_header(value))
    mail.header_list = [(str(name), header_text(value)) for name, value in msg.items()[:1000]]
    subject = msg.get("Subject")
    mail.message_id = normalise_message_id(_get(msg, "Message-ID"))
    mail.subject = decode_header(subject)[:1000]
    # Sender stands in only when there is no From at all: a From we cannot read is no cue to look elsewhere
    # (authentication judges From, so everything else must too).
    froms = _get_all(msg, "From")
    sender = _addresses(froms) if froms else _addresses(_get_all(msg, "Sender"))
    if sender:
        mail.from_name, mail.from_addr = sender[0]
    mail.to = [a for _, a in _addresses(_get_all(msg, "To"))]
    mail.cc = [a for _, a in _addresses(_get_all(msg, "Cc"))]
    mail.delivered_to = [a for _, a in _addresses((_get_all(msg, "Delivered-To")) +
                                                  (_get_all(msg, "X-Original-To")))]
    mail.reply_to = [a for _, a in _addresses(_get_all(msg, "Reply-To"))]
    try:
        mail.date = parsed.date.replace(tzinfo=None) if parsed.date else None  # mail-parser gives UTC
    except Exception:
        mail.date = None
    mail.in_reply_to = _ids(_get(msg, "In-Reply-To"))
    mail.references = _ids(_get(msg, "References"))
    mail.content_type = msg.get_content_type()
    mail.report_type = (msg.get_param("report-type") or "").lower() if mail.content_type == "multipart/report" else ""
    rp = msg.get("Return-Path")
    mail.return_path = None if rp is None else header_text(rp).strip().strip("<>").lower()
    mail.defects = [type(d).__name__ for d in getattr(msg, "defects", [])]
    texts, htmls = [], []
    _walk(msg, mail, texts, htmls, depth=0, forwarded=False)
    text = "\n\n".join(t for t in texts if t.strip())
    markup = "\n".join(htmls)
    if not text.strip() and markup:
        text = html_to_text(markup)
    mail.text = text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT]  # one line ending for every rule
    mail.html = sanitise_html(markup[:MAX_TEXT * 5])[:MAX_TEXT * 2] if markup else ""
    return mail


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    return data


def _walk(part: Message, mail: ParsedMail, texts: list, htmls: list, depth: int, forwarded: bool) -> None:
    if depth > MAX_DEPTH:
        raise ParseError("the message nests parts too deeply to read")
    ctype = part.get_content_type()
    if ctype == "message/rfc822" or (ctype == "message/global"):
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message):
            data = inner.as_bytes()
            mail.forwards.append(data)
            subject = decode_header(_get(inner, "Subject")) or "forwarded message"
            if mail.report_type not in ("delivery-status", "feedback-report", "disposition-notification"):
                mail.attachments.append(Attachment(f"{subject[:80]}.eml", data, "message/rfc822", forwarded))
            elif not (mail.report or Report()).original_message_id:
                mail.report = mail.report or Report()
                mail.report.original_message_id = normalise_message_id(_get(inner, "Message-ID"))
            if mail.report_type in ("delivery-status", "feedback-report", "disposition-notification"):
                return  # the returned original: its text is not this message's text
            _walk(inner, mail, texts, htmls, depth + 1, forwarded=True)
        return
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        # The stdlib parses each block of fields as a header-only sub-message.
        blocks = part.get_payload()
        text = "\n\n".join(b.as_string() for b in blocks if isinstance(b, Message)) if isinstance(blocks, list) \
            else _payload(part).decode("utf-8", "replace")
        mail.report = _delivery_status(text, mail.report)
        return
    if part.is_multipart():
        for sub in part.get_payload() or []:
            if isinstance(sub, Message):
                _walk(sub, mail, texts, htmls, depth + 1, forwarded)
        return
    if ctype in ("text/rfc822-headers", "message/rfc822-headers", "text/rfc822-header"):
        found = re.search(r"(?im)^message-id:\s*(<[^>\s]+>)", _payload(part).decode("utf-8", "replace"))
        mail.report = mail.report or Report()
        if found and not mail.report.original_message_id:
            mail.report.original_message_id = normalise_message_id(found.group(1))
        return
    filename = part.get_filename()
    disposition = part.get_content_disposition()
    if ctype in TNEF_TYPES or (filename or "").lower() == "winmail.dat":
        _unpack_tnef(_payload(part), mail, texts, forwarded)
        return
    if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
        body = decode_bytes(_payload(part), part.get_content_charset())
        (texts if ctype == "text/plain" else htmls).append(body)
        return
    data = _payload(part)
    if not data:
        return
    name = decode_header(filename) if filename else f"attachment{len(mail.attachments) + 1}"
    mail.attachments.append(Attachment(name, data, ctype, forwarded, inline=disposition == "inline"))


def _unpack_tnef(data: bytes, mail: ParsedMail, texts: list, forwarded: bool) -> None:
    """winmail.dat: Outlook's wrapper around the real attachments (and sometimes the body)."""
    import tnefparse
    try:
        tnef = tnefparse.TNEF(data)
        _ = [a.data for a in tnef.attachments]
    except Exception as exc:  # a broken wrapper is kept whole for a person to look at
        log.info("TNEF unpack failed: %s", exc)
        mail.attachments.append(Attachment("winmail.dat", data, "application/ms-tnef", forwarded))
        return
    found = 0
    for item in tnef.attachments:
        if item.data:
            name = _tnef_name(item, tnef) or f"attachment{len(mail.attachments) + 1}"
            mail.attachments.append(Attachment(name, bytes(item.data), "application/octet-stream", forwarded))
            found += 1
    body = getattr(tnef, "body", None) or getattr(tnef, "htmlbody", None)
    if body and not texts:
        texts.append(decode_bytes(body, "cp1252") if isinstance(body, bytes) else str(body))
        found += 1
    if not found:  # nothing readable inside: keep the wrapper itself for a person
        mail.attachments.append(Attachment("winmail.dat", data, "application/ms-tnef", forwarded))


def _tnef_name(item, tnef) -> str:
    """An attachment's name from its TNEF wrapper, in the wrapper's code page (tnefparse assumes UTF-8)."""
    from tnefparse import properties
    cp = getattr(tnef, "codepage", None)
    codepage = cp.codepage() if hasattr(cp, "codepage") else "cp1252"
    for attr in getattr(item, "mapi_attrs", []):
        if attr.name == properties.MAPI_ATTACH_LONG_FILENAME and attr.data:
            value = attr.data
            return (decode_bytes(value, codepage) if isinstance(value, bytes) else str(value)).strip("\x00")
    raw = getattr(item, "_name", b"") or b""
    return (decode_bytes(raw, codepage) if isinstance(raw, bytes) else str(raw)).strip("\x00")


def _delivery_status(text: str, report: Report | None) -> Report:
    report = report or Report()
    for line in re.split(r"\r?\n", text):
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name in ("final-recipient", "original-recipient") and value:
            addr = value.split(";", 1)[-1].strip().strip("<>").lower()
            if "@" in addr and addr not in report.failed:
                report.failed.append(addr)
        elif name == "action" and value and report.action != "failed":
            report.action = value.split()[0].lower()
        elif name == "status" and value and not report.status:
            report.status = value.split()[0]
        elif name == "diagnostic-code" and value and not report.diagnostic:
            report.diagnostic = value.split(";", 1)[-1].strip()[:500]
    return report
