"""Proof that nothing was lost: the messages a mailbox holds, against the messages ixdesk stored from it."""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Callable

from inbox.store import dedupe_key, header_message_id
from models.inbound import InboundMail

LIMIT = 20_000  # messages read per folder; beyond it the report says it is partial


@dataclass
class Gap:
    folder: str
    where: str  # UID or file name
    message_id: str
    subject: str = ""


@dataclass
class Report:
    mailbox: str
    folders: dict[str, int] = field(default_factory=dict)  # folder -> messages on the server
    stored: int = 0  # rows ixdesk holds from this mailbox (duplicates included)
    waiting: int = 0  # still in the watched folder (not yet taken: normal for a few seconds)
    missing: list[Gap] = field(default_factory=list)  # on the server, never stored: the gap to explain
    partial: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.missing and not self.error

    def to_dict(self) -> dict:
        return asdict(self) | {"ok": self.ok}


Progress = Callable[[int, int, str], None]  # (done, total, what is being read)


def _quiet(done: int, total: int, message: str) -> None:
    pass


def _known(key: str) -> tuple[set[str], int]:
    ids = {m for (m,) in InboundMail.select(InboundMail.message_id).where(InboundMail.mailbox == key).tuples()}
    return ids, InboundMail.select().where(InboundMail.mailbox == key).count()


def imap(url: str, progress: Progress = _quiet) -> Report:
    """Read Message-IDs of the watched and processed folders (read-only, nothing flagged) and compare."""
    from inbox.imap import ImapWatcher, parse_url
    settings = parse_url(url)
    report = Report(settings.key)
    known, report.stored = _known(settings.key)
    try:
        client = ImapWatcher(settings, lambda mail: None, "reconcile", threading.Event()).connect()
    except Exception as exc:  # the page reports it; nothing to retry here
        report.error = f"cannot reach the mailbox: {type(exc).__name__}: {exc}"
        return report
    try:
        listed = {}
        for folder in (settings.folder, settings.processed):
            if not client.folder_exists(folder):
                report.folders[folder] = 0
                continue
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            report.folders[folder] = len(uids)
            if len(uids) > LIMIT:
                uids, report.partial = uids[-LIMIT:], True
            listed[folder] = uids
        total, done = sum(len(u) for u in listed.values()), 0
        progress(0, total, "listing messages")
        for folder, uids in listed.items():
            client.select_folder(folder, readonly=True)
            for start in range(0, len(uids), 500):
                chunk = uids[start:start + 500]
                fetched = client.fetch(chunk, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)]"])
                for uid, data in fetched.items():
                    head = data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]", b"")
                    mid = header_message_id(head + b"\r\n\r\n")
                    if folder == settings.folder:
                        report.waiting += 1
                    elif mid and mid not in known:
                        report.missing.append(Gap(folder, f"UID {uid}", mid, _subject(head)))
                    elif not mid:
                        # No Message-ID: stored under its content hash, which needs the body to check.
                        body = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
                        if f"sha256:{dedupe_key(body)}" not in known:
                            report.missing.append(Gap(folder, f"UID {uid}", "(none)", _subject(head)))
                done += len(chunk)
                progress(done, total, f"{folder}: {done} of {total} messages read")
    finally:
        client.logout()
    return report


def maildir(url: str, progress: Progress = _quiet) -> Report:
    from inbox.maildir import folder_of
    folder = folder_of(url)
    key = f"maildir:{folder}"
    report = Report(key)
    known, report.stored = _known(key)
    waiting = [p for part in ("new", "cur") for p in (folder / part).glob("*") if p.is_file()]
    report.waiting = len(waiting)
    processed = [p for p in (folder / ".Processed" / "cur").glob("*") if p.is_file()]
    report.folders = {"new + cur": len(waiting), ".Processed": len(processed)}
    for i, path in enumerate(processed[:LIMIT]):
        if i % 200 == 0:
            progress(i, min(len(processed), LIMIT), f"{i} of {len(processed)} files read")
        raw = path.read_bytes()
        mid = header_message_id(raw) or f"sha256:{dedupe_key(raw)}"
        if mid not in known:
            report.missing.append(Gap(".Processed", path.name, mid, _subject(raw[:8192])))
    report.partial = len(processed) > LIMIT
    return report


def _subject(head: bytes) -> str:
    from inbox.parse import decode_header
    for line in head.decode("utf-8", "replace").splitlines():
        if line.lower().startswith("subject:"):
            return decode_header(line[8:].strip())[:200]
    return ""


def run(url: str, progress: Progress = _quiet) -> Report:
    return maildir(url, progress) if url.startswith("maildir:") else imap(url, progress)
