"""Maildir source (the embedded default): files in new/, cur/ or *.eml in the folder itself are taken in.

Each file is stored first, then moved to the `.Processed` sub-folder; nothing is ever deleted.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable

from inbox.store import store
from models.base import db
from models.inbound import InboundMail

log = logging.getLogger(__name__)


def folder_of(url: str) -> Path:
    return Path(url.split(":", 1)[1]).expanduser().resolve()


def ensure(folder: Path) -> None:
    for part in ("new", "cur", "tmp", ".Processed/new", ".Processed/cur", ".Processed/tmp"):
        (folder / part).mkdir(parents=True, exist_ok=True)


def waiting(folder: Path) -> list[Path]:
    """Messages not yet taken, oldest first."""
    files = [p for part in ("new", "cur") for p in (folder / part).iterdir() if p.is_file()
             and not p.name.startswith(".")]
    files += [p for p in folder.glob("*.eml") if p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def poll_once(folder: Path, on_stored: Callable[[InboundMail], None]) -> int:
    """Take every waiting message: store it, hand it on, move the file to .Processed. Returns how many."""
    ensure(folder)
    key = f"maildir:{folder}"
    taken = 0
    for path in waiting(folder):
        try:
            raw = path.read_bytes()
        except OSError as exc:  # vanished or unreadable: the next pass tries again
            log.warning("cannot read %s: %s", path, exc)
            continue
        stored = store(raw, source="maildir", mailbox=key)
        if stored.created and stored.mail.state == "pending":
            on_stored(stored.mail)
        target = folder / ".Processed" / "cur" / path.name
        if target.exists():
            target = target.with_name(f"{path.stem}.{stored.mail.id}{path.suffix}")
        os.replace(path, target)
        taken += 1
    return taken


class MaildirWatcher:
    """Polls a Maildir every `interval` seconds until `stop` is set."""

    def __init__(self, url: str, on_stored: Callable[[InboundMail], None], stop: threading.Event,
                 interval: float = 1.0):
        self.folder, self.on_stored, self.stop, self.interval = folder_of(url), on_stored, stop, interval

    def run(self) -> None:
        log.info("watching maildir %s", self.folder)
        try:
            self._watch()
        finally:
            if not db.is_closed():
                db.close()  # this thread's connection (a pool would otherwise keep it checked out)

    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                poll_once(self.folder, self.on_stored)
            except Exception:  # a bad pass must not end the watcher; the files stay for the next one
                log.exception("maildir pass failed on %s", self.folder)
            self.stop.wait(self.interval)
