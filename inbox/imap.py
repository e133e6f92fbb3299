"""The IMAP source: watch one folder, store each message first, then move it out of the way."""
from __future__ import annotations

import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.imapclient import SocketTimeout
from peewee import PeeweeException

from inbox.store import store
from models.base import db, utcnow
from models.inbound import InboundMail, Mailbox
from models.leases import HEARTBEAT
from models.storage import StorageError

log = logging.getLogger(__name__)

MARK = b"$Ixdesk"  # a keyword, so a person looking at Processed can tell what the desk took
# One FETCH per batch: few round trips, yet memory stays bounded when mail carries big attachments.
FETCH_BATCH, FETCH_BYTES = 50, 32 * 1024 * 1024
IDLE_CHECK = 1.0  # seconds per idle_check: how long a stop or a lease renewal can wait
IDLE_RENEW = 25 * 60  # RFC 2177: servers may drop an IDLE after 29 minutes, so re-issue it before that
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 60.0
# What a lost or refused connection (to the mail server or the database) looks like: logged in one line.
EXPECTED = (OSError, imaplib.IMAP4.error, PeeweeException, StorageError)
LEASE_SECONDS = 15  # renewed by the heartbeat every 5 s: a watcher that dies is replaced within 20 s


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    processed: str = "Processed"
    # "ssl" (implicit, imaps), "starttls" (imap:// default: required, so a man in the middle cannot strip it
    # and read the password), "auto" (only when offered), "none"
    tls: str = "ssl"
    idle: bool = True
    poll_seconds: float = 30.0
    key: str = ""  # the URL without the password: Mailbox.key and InboundMail.mailbox


def parse_url(url: str) -> ImapSettings:
    """Settings from imaps://user:pass@host[:port]/Folder?processed=..&tls=none&idle=0&poll=30."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps"):
        raise ValueError(f"IMAP URL must start with imap:// or imaps://, not {parts.scheme or 'nothing'!r}")
    if not parts.hostname:
        raise ValueError("IMAP URL has no host")
    if not parts.username:
        raise ValueError("IMAP URL has no user name (imap://user:password@host/Folder)")
    if parts.password is None:
        raise ValueError("IMAP URL has no password (imap://user:password@host/Folder)")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise ValueError(f"IMAP URL has an invalid port in {parts.netloc.rpartition('@')[2]!r}") from None
    folder = unquote(parts.path.lstrip("/")) or "INBOX"

    options = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in ("processed", "tls", "idle", "poll"):
            raise ValueError(f"IMAP URL has an unknown option {name!r} (known: processed, tls, idle, poll)")
        options[name] = value
    processed = options.get("processed", "Processed")
    if not processed or processed == folder:
        raise ValueError(f"IMAP URL needs a processed folder other than the watched one, not {processed!r}")
    tls = options.get("tls", "")
    if tls not in ("", "none", "starttls", "auto"):
        raise ValueError(f"IMAP URL option tls must be 'starttls', 'auto' or 'none', not {tls!r}")
    if parts.scheme == "imaps" and tls:
        raise ValueError("IMAP URL option tls does not apply to imaps:// (it is always TLS)")
    idle = options.get("idle", "1")
    if idle not in ("0", "1"):
        raise ValueError(f"IMAP URL option idle must be 0 or 1, not {idle!r}")
    try:
        poll = float(options.get("poll", "30"))
    except ValueError:
        poll = 0.0
    if not 1 <= poll <= 3600:
        raise ValueError(f"IMAP URL option poll must be seconds between 1 and 3600, not {options['poll']!r}")

    username, host = unquote(parts.username), parts.hostname.lower()
    default_port = 993 if parts.scheme == "imaps" else 143
    netloc = f"{quote(username, safe='')}@{f'[{host}]' if ':' in host else host}"
    netloc += f":{port}" if port != default_port else ""
    return ImapSettings(
        host=host, port=port, username=username, password=unquote(parts.password), folder=folder,
        processed=processed, tls="ssl" if parts.scheme == "imaps" else (tls or "starttls"), idle=idle == "1",
        poll_seconds=poll, key=f"{parts.scheme}://{netloc}/{quote(folder, safe='/')}")


def batches(uids: list[int], sizes: dict[int, int], most: int = FETCH_BATCH, budget: int = FETCH_BYTES):
    """Consecutive runs of at most `most` UIDs and `budget` bytes (a message bigger than that goes alone)."""
    batch, total = [], 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= most or total + size > budget):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


class LeaseLost(Exception):
    """Another watcher took the mailbox while this one was busy."""


class ImapWatcher:
    """Keeps one folder drained into InboundMail rows; at most one watcher per mailbox holds the lease."""

    def __init__(self, settings: ImapSettings, on_stored: Callable[[InboundMail], None], holder: str,
                 stop: threading.Event, connect_timeout: float = 15.0, lease_seconds: int = LEASE_SECONDS):
        self.settings = settings
        self.on_stored = on_stored
        self.holder = holder
        self.stop = stop
        self.connect_timeout = connect_timeout
        self.lease_seconds = lease_seconds
        self.client: IMAPClient | None = None
        self._leased = False  # inside run(): the lease is renewed as work goes on
        self._renewed = 0.0

    def connect(self) -> IMAPClient:
        s = self.settings
        client = IMAPClient(s.host, s.port, ssl=s.tls == "ssl", ssl_context=ssl.create_default_context(),
                            timeout=SocketTimeout(connect=self.connect_timeout, read=max(60.0, self.connect_timeout)))
        try:
            if s.tls in ("starttls", "auto"):
                if client.has_capability("STARTTLS"):
                    client.starttls(ssl.create_default_context())
                elif s.tls == "starttls":
                    raise ConnectionError(f"{s.host} does not offer STARTTLS")
                else:
                    log.warning("%s does not offer STARTTLS: logging in without TLS", s.key)
            client.login(s.username, s.password)
        except BaseException:
            client.shutdown()
            raise
        self.client = client
        return client

    def disconnect(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception as exc:  # noqa: BLE001 - the connection is often dead already; close the socket anyway
            log.debug("%s: logout failed (%s); closing the socket", self.settings.key, exc)
            try:
                client.shutdown()
            except OSError:
                pass  # already closed

    def poll_once(self) -> int:
        """Take every message in the folder: store, then flag and move it. Returns how many rows were new."""
        client = self.client or self.connect()
        s = self.settings
        uidvalidity = client.select_folder(s.folder)[b"UIDVALIDITY"]
        # The SEARCH below covers what SELECT counted; only EXISTS sent after this point is news (see _idle).
        client._imap.untagged_responses.pop("EXISTS", None)
        box = Mailbox.named(s.key)
        if box.uidvalidity != uidvalidity:
            if box.uidvalidity is not None:
                # UIDs now mean other messages. store() recognises content it already has, so
                # restarting from UID 0 re-reads the folder without duplicating anything.
                log.warning("%s: UIDVALIDITY changed from %s to %s; re-reading the folder",
                            s.key, box.uidvalidity, uidvalidity)
            Mailbox.update(uidvalidity=uidvalidity, last_uid=0).where(Mailbox.id == box.id).execute()
            box.uidvalidity, box.last_uid = uidvalidity, 0

        mode = self._finish_mode(client)
        if mode == "leave":
            # Nothing leaves the folder, so the cursor alone says what is new (UID n:* always
            # returns the highest UID even when it is below n, hence the filter).
            uids = [u for u in client.search(["UID", f"{box.last_uid + 1}:*"]) if u > box.last_uid]
        else:
            # Everything still here is new, or stored by a pass that stopped before moving it.
            uids = client.search("ALL")
        if uids and mode != "leave" and not client.folder_exists(s.processed):
            client.create_folder(s.processed)

        created = 0
        sizes = client.fetch(uids, ["RFC822.SIZE"]) if uids else {}
        for batch in batches(sorted(uids), {uid: item[b"RFC822.SIZE"] for uid, item in sizes.items()}):
            if self.stop.is_set():  # what is left stays in the folder for the next pass
                break
            fetched = client.fetch(batch, ["BODY.PEEK[]"])  # PEEK: \Seen stays the user's, not our marker
            done = []
            for uid in batch:
                if uid not in fetched:  # expunged by someone else since the SEARCH
                    continue
                self._keep_lease(box)
                # Store first (committed) and only then touch the server copy: a crash in between
                # leaves the message in the folder, and the next pass finds the stored row.
                stored = store(fetched[uid][b"BODY[]"], source="imap", mailbox=s.key, uid=uid,
                               uidvalidity=uidvalidity)
                if stored.created:
                    created += 1
                    if stored.mail.state == "pending":
                        self._notify(stored.mail)
                box.advance(uidvalidity, uid)
                done.append(uid)
            if done:
                self._finish(client, done, mode)
        Mailbox.update(last_poll_at=utcnow()).where(Mailbox.id == box.id).execute()
        if created:
            log.info("%s: stored %d new message(s)", s.key, created)
        return created

    def run(self) -> None:
        """Watch until stop is set: hold the lease, poll, IDLE (or sleep), reconnect with backoff on errors."""
        s = self.settings
        box = Mailbox.named(s.key)
        opened = db.is_closed()  # a thread of its own gets its own connection; close only that one
        backoff = BACKOFF_FIRST
        try:
            while not self.stop.is_set():
                try:
                    if not box.take_lease(self.holder, self.lease_seconds):
                        self._let_go(box)
                        self.stop.wait(self.lease_seconds / 4)
                        continue
                    if not self._leased:
                        HEARTBEAT.hold(Mailbox, box.id, self.holder)  # renewed while this thread lives
                    self._leased, self._renewed = True, time.monotonic()
                    self.poll_once()
                    backoff = BACKOFF_FIRST
                    if s.idle and self.client.has_capability("IDLE"):
                        self._idle(box)
                    else:
                        self._sleep(box, s.poll_seconds)
                except LeaseLost:
                    log.warning("%s: lease lost to another watcher", s.key)
                    self._let_go(box)
                except Exception as exc:  # noqa: BLE001 - a watcher that died would leave mail unread unnoticed
                    self._recover(exc, box, backoff)
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
        finally:
            HEARTBEAT.drop(Mailbox, box.id)
            self.disconnect()
            try:
                if self._leased:
                    box.release(self.holder)
                if opened and not db.is_closed():
                    db.close()
            except PeeweeException as exc:
                log.warning("%s: could not release the lease (%s); it lapses within %d s", s.key,
                            type(exc).__name__, self.lease_seconds)
            self._leased = False

    def _let_go(self, box: Mailbox) -> None:
        HEARTBEAT.drop(Mailbox, box.id)
        self._leased = False
        self.disconnect()

    def _recover(self, exc: Exception, box: Mailbox, backoff: float) -> None:
        """Log and record what went wrong, and drop the connections it may have broken."""
        problem = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, EXPECTED):
            log.warning("%s: %s; reconnecting in %.1f s", self.settings.key, problem, backoff)
        else:
            log.exception("%s: %s; retrying in %.1f s", self.settings.key, problem, backoff)
        self.disconnect()
        try:
            if isinstance(exc, PeeweeException) and not db.is_closed():
                db.close()  # a broken database connection stays broken; the next query opens a new one
            box.note_error(problem)
        except PeeweeException as db_exc:
            log.warning("%s: could not record the error (%s: %s)", self.settings.key, type(db_exc).__name__, db_exc)

    def _finish_mode(self, client: IMAPClient) -> str:
        if client.has_capability("MOVE"):
            return "move"
        if client.has_capability("UIDPLUS"):
            return "copy"  # COPY, \Deleted, then UID EXPUNGE of exactly our UIDs (never a bare EXPUNGE)
        return "leave"

    def _finish(self, client: IMAPClient, uids: list[int], mode: str) -> None:
        client.add_flags(uids, [MARK])
        if mode == "move":
            client.move(uids, self.settings.processed)
        elif mode == "copy":
            client.copy(uids, self.settings.processed)
            client.add_flags(uids, [b"\\Deleted"])
            client.uid_expunge(uids)

    def _notify(self, mail: InboundMail) -> None:
        try:
            self.on_stored(mail)  # inbox.watch.Wakeups sends it from its own thread, again until the broker takes it
        except Exception:  # the row is committed and pending; the pipeline's sweep takes it
            log.exception("%s: on_stored failed for mail #%s", self.settings.key, mail.id)

    def _keep_lease(self, box: Mailbox) -> None:
        """Renew the lease once a third of it has gone by; LeaseLost when another watcher took it meanwhile."""
        if not self._leased or time.monotonic() - self._renewed < self.lease_seconds / 3:
            return
        if not box.take_lease(self.holder, self.lease_seconds):
            raise LeaseLost()
        self._renewed = time.monotonic()

    def _idle(self, box: Mailbox) -> None:
        """Wait in IDLE until the server reports new mail, stop is set, or it is time to re-issue IDLE."""
        client = self.client
        # Dovecot never announces in IDLE what arrived before IDLE began, only with the reply to an
        # earlier command, which imaplib files away where idle_check does not look. So ask once more
        # (NOOP) right before IDLE, leaving a gap of one round trip, and look at what imaplib kept.
        client.noop()
        untagged = client._imap.untagged_responses
        if untagged.pop("EXISTS", None):
            return
        client.idle()
        # On an error the connection is dropped as a whole, so only a normal return ends IDLE politely.
        if not untagged.pop("EXISTS", None):  # it may also come with the IDLE command's own reply
            self._wait_in_idle(client, box)
        client.idle_done()

    def _wait_in_idle(self, client: IMAPClient, box: Mailbox) -> None:
        started = time.monotonic()
        while not self.stop.is_set():
            asked = time.monotonic()
            responses = client.idle_check(timeout=IDLE_CHECK)
            if any(r and r[0] == b"BYE" for r in responses):
                raise ConnectionError("the server closed the connection (BYE)")
            if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                return
            # idle_check also returns [] at once when the socket hit EOF; idle_done() then raises.
            if not responses and time.monotonic() - asked < IDLE_CHECK / 2:
                return
            if time.monotonic() - started > IDLE_RENEW:
                return
            self._keep_lease(box)

    def _sleep(self, box: Mailbox, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self.stop.wait(min(left, self.lease_seconds / 3))
            self._keep_lease(box)
