"""Where every source hands mail over: store it, then process now (CLI, upload) or through a worker."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterator

from inbox import pipeline
from inbox.auth import AuthSettings
from inbox.store import store
from models.documents import Document
from models.inbound import InboundMail

log = logging.getLogger(__name__)
MAILDIR_PARTS = ("new", "cur")


def intake_from(settings) -> pipeline.Intake:
    """Pipeline settings from the app's configuration."""
    own = {a.lower() for a in (settings.mail_address, settings.reply_to) if a}
    auth = AuthSettings(authserv_ids=settings.mail_authserv_ids, receiving_hosts=settings.mail_receiving_hosts,
                        arc_trusted_sealers=settings.arc_trusted_sealers, dns=settings.mail_dns,
                        verify_dkim=settings.mail_verify_dkim)
    return pipeline.Intake(own_addresses=tuple(sorted(own)), max_attachment_bytes=settings.max_upload_mb * 1048576,
                           auth=auth, desk_domains=desk_domains(own))


def desk_domains(own_addresses) -> tuple[str, ...]:
    """The installer's own mail domains: the desk's addresses and its active users' (coordinators forward
    notices from their own mailboxes)."""
    from models.users import User
    domains = {a.rpartition("@")[2] for a in own_addresses if "@" in a}
    try:
        domains |= {u.email.rpartition("@")[2].lower() for u in User.select(User.email).where(User.active == True)  # noqa: E712
                    if u.email and "@" in u.email}
    except Exception:  # no database yet (a CLI before migrations): the desk's own addresses only
        pass
    generic = {"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "proton.me"}
    return tuple(sorted(domains - generic))


def enqueue(mail: InboundMail) -> None:
    """Wake a worker for a pending mail (the sweeper sends it again if this wake-up is lost)."""
    from workers.actors import ingest_mail
    ingest_mail.send(mail.id)


def run_now(mail: InboundMail, intake: pipeline.Intake) -> InboundMail:
    """Process a mail in this process (CLI, tests, re-runs a person asked for)."""
    if mail.state == "duplicate":
        return mail
    for _ in range(pipeline.MAX_FAILURES):
        if not mail.claim():
            return InboundMail.get_by_id(mail.id)
        mail = pipeline.process(mail, intake)
        if mail.state != "pending":  # back to pending only after a failure of the mail itself: try again
            break
    return mail


def eml_files(paths: list[str | Path]) -> Iterator[Path]:
    """Files named, every file in a folder, and the messages of a Maildir (new/ and cur/)."""
    for path in map(Path, paths):
        if path.is_file():
            yield path
        elif path.is_dir():
            parts = [path / p for p in MAILDIR_PARTS if (path / p).is_dir()]
            for folder in parts or [path]:
                yield from sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")


def ingest_paths(paths: list[str | Path], intake: pipeline.Intake, source: str = "cli",
                 on_result: Callable[[Path, InboundMail], None] | None = None) -> list[InboundMail]:
    """Store and process each file synchronously (the same pipeline the workers run)."""
    done = []
    for path in eml_files(paths):
        stored = store(path.read_bytes(), source=source, mailbox=str(path.resolve()))
        mail = run_now(stored.mail, intake) if stored.mail.state == "pending" else stored.mail
        done.append(mail)
        if on_result:
            on_result(path, mail)
    return done


def as_json(mail: InboundMail, file: str = "") -> dict:
    """The documented per-message result of `flask inbox ingest --json`."""
    change = mail.status_change
    names = [d.name for d in Document.select(Document.name).where(Document.id.in_(mail.documents or []))
             .order_by(Document.id)] if mail.documents else []
    return {
        "file": file,
        "id": mail.id,
        "message_id": mail.message_id,
        "state": mail.state,
        "reason": mail.reason,
        "kind": mail.kind or None,
        "project": mail.project.external_id if mail.project_id else None,
        "matched_by": mail.matched_by or None,
        "confidence": mail.confidence,
        "suggestions": [s["external_id"] for s in (mail.suggestions or [])],
        "notice": mail.notice,
        "status_change": {"application": change["application"], "from": change.get("from"), "to": change["to"]}
        if change else None,
        "suggested_change": mail.suggested_change,
        "documents": names,
        "auth": {k: v for k, v in (mail.auth or {}).items() if k in ("verdict", "domain", "why")} or None,
    }
