"""Run one watcher per configured mailbox (threads in the embedded app, `flask inbox watch` in production)."""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable

from models.inbound import InboundMail

log = logging.getLogger(__name__)


def holder_name() -> str:
    """Who holds a mailbox lease: host and process, so a stale lease is easy to trace."""
    return f"{socket.gethostname()}:{os.getpid()}"


def mailbox_key(url: str) -> str:
    """A mailbox URL as stored and shown: no password (the key of Mailbox and InboundMail.mailbox)."""
    if url.startswith("maildir:"):
        from inbox.maildir import folder_of
        return f"maildir:{folder_of(url)}"
    from inbox.imap import parse_url
    return parse_url(url).key


def watcher_for(url: str, on_stored: Callable[[InboundMail], None], stop: threading.Event):
    if url.startswith("maildir:"):
        from inbox.maildir import MaildirWatcher
        return MaildirWatcher(url, on_stored, stop)
    from inbox.imap import ImapWatcher, parse_url
    return ImapWatcher(parse_url(url), on_stored, holder_name(), stop)


def start(urls: tuple[str, ...], on_stored: Callable[[InboundMail], None]) -> tuple[threading.Event, list]:
    """A daemon thread per mailbox; set the returned event to stop them all."""
    stop = threading.Event()
    threads = []
    for url in urls:
        watcher = watcher_for(url, on_stored, stop)
        name = "ixdesk-inbox-" + url.split("://")[-1].split("@")[-1][:40]
        thread = threading.Thread(target=_run, args=(watcher,), name=name, daemon=True)
        thread.start()
        threads.append(thread)
    return stop, threads


def _run(watcher) -> None:
    from models.base import db
    with db.connection_context():
        watcher.run()
