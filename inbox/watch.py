"""Run one watcher per configured mailbox (threads in the embedded app, `flask inbox watch` in production)."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
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


class Wakeups:
    """Hands each stored mail to on_stored (the broker) from a thread of its own, so a broker that is down
    or slow never holds up reading the mailbox. What the broker refuses is kept and sent again until it is
    back (the outage is logged once, not per mail); the sweeper covers anything beyond MOST."""

    MOST = 10_000
    RETRY_FIRST, RETRY_MAX = 0.2, 2.0  # seconds between tries while the broker refuses

    def __init__(self, on_stored: Callable[[InboundMail], None], key: str = ""):
        self.on_stored, self.key = on_stored, key
        self.unsent: deque[InboundMail] = deque()
        self.failing = False
        self._more = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, mail: InboundMail) -> None:
        with self._lock:
            if len(self.unsent) < self.MOST:
                self.unsent.append(mail)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ixdesk-wakeups", daemon=True)
                self._thread.start()
        self._more.set()

    def _run(self) -> None:
        wait = self.RETRY_FIRST
        while True:
            self._more.wait()
            self._more.clear()
            while not self.send_waiting():
                time.sleep(wait)
                wait = min(wait * 2, self.RETRY_MAX)
            wait = self.RETRY_FIRST

    def send_waiting(self) -> bool:
        """Send what is waiting, oldest first; False while the broker still refuses."""
        sent = 0
        while self.unsent:
            try:
                self.on_stored(self.unsent[0])
            except Exception as exc:  # noqa: BLE001 - any broker error: the mail is stored, keep trying
                if not self.failing:
                    log.warning("%s: cannot wake a worker for mail #%s (%s: %s); stored mail waits and is "
                                "sent again until the broker is back", self.key, self.unsent[0].id,
                                type(exc).__name__, exc)
                self.failing = True
                return False
            self.unsent.popleft()
            sent += 1
        if self.failing:
            log.info("%s: the broker is back; %d waiting mail(s) sent to the workers", self.key, sent)
            self.failing = False
        return True


def watcher_for(url: str, on_stored: Callable[[InboundMail], None], stop: threading.Event):
    wakeups = on_stored if isinstance(on_stored, Wakeups) else Wakeups(on_stored, mailbox_key(url))
    if url.startswith("maildir:"):
        from inbox.maildir import MaildirWatcher
        return MaildirWatcher(url, wakeups, stop)
    from inbox.imap import ImapWatcher, parse_url
    return ImapWatcher(parse_url(url), wakeups, holder_name(), stop)


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
    # Not db.connection_context(): a watcher closes a broken connection to get a new one, which would
    # leave the context nothing to pop. The thread's own connection is closed when it ends.
    from models.base import db
    try:
        watcher.run()
    finally:
        try:
            if not db.is_closed():
                db.close()
        except Exception:  # noqa: BLE001 - a connection that broke is gone either way
            pass
