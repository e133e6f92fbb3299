"""The IMAP watcher against a real Dovecot: store first, move after, no loss and no duplicates."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from inbox import imap
from inbox.imap import ImapWatcher, parse_url
from inbox.store import store
from models.inbound import InboundMail, Mailbox


def mail(n: int, extra_header: str = "") -> bytes:
    """A small message with LF line endings, as a file would hold it (the server will hand back CRLF)."""
    return (f"From: Utility Desk <desk{n}@utility.example>\nTo: intake@ixdesk.example\n"
            f"Subject: Application {n} update\nMessage-ID: <msg-{n}@utility.example>\n{extra_header}"
            f"Date: Sat, 28 Nov 2026 10:00:00 +0000\n\nStatus update number {n}.\n").encode()


def lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Watchers:
    """Builds watchers that record what on_stored got, runs them on threads, and always stops them."""

    def __init__(self):
        self.made: list[tuple[ImapWatcher, threading.Thread | None]] = []

    def new(self, url: str, holder: str = "test", also=None, **kw) -> ImapWatcher:
        seen: list[int] = []

        def on_stored(m: InboundMail) -> None:
            seen.append(m.id)
            if also is not None:
                also(m)
        watcher = ImapWatcher(parse_url(url), on_stored, holder, threading.Event(), **kw)
        watcher.seen = seen
        self.made.append((watcher, None))
        return watcher

    def start(self, url: str, holder: str = "test", also=None, **kw) -> ImapWatcher:
        watcher = self.new(url, holder, also, **kw)
        thread = threading.Thread(target=watcher.run, name=f"watcher-{holder}", daemon=True)
        self.made[-1] = (watcher, thread)
        thread.start()
        return watcher

    def stop(self, watcher: ImapWatcher) -> None:
        watcher.stop.set()
        for w, thread in self.made:
            if w is watcher and thread is not None:
                thread.join(15)
                assert not thread.is_alive(), "the watcher did not stop"
        watcher.disconnect()

    def close(self) -> None:
        for watcher, _ in self.made:
            self.stop(watcher)


@pytest.fixture
def watchers(caplog):
    made = Watchers()
    yield made
    made.close()
    # run() survives anything; what it logs as an error (with a traceback) is a bug here.
    errors = [r.getMessage() for r in caplog.records if r.name == "inbox.imap" and r.levelno >= logging.ERROR]
    assert not errors, errors


def idle_after(watcher: ImapWatcher, since=None):
    """Wait for a pass that finished after `since`, then for the watcher to settle into IDLE.

    Mail landing in the one round trip between a watcher's last command and IDLE is only noticed with
    the next mail or IDLE's renewal (see ImapWatcher._idle); tests that are about something else
    deliver once the watcher is idle. Returns the pass's time, for the next call.
    """
    def polled():
        at = Mailbox.named(watcher.settings.key).last_poll_at
        return at if at is not None and (since is None or at > since) else None
    wait_for(polled, what="a pass of the watcher")
    time.sleep(0.3)
    return polled() or Mailbox.named(watcher.settings.key).last_poll_at


def rows() -> list[InboundMail]:
    return list(InboundMail.select().order_by(InboundMail.id))


def assert_no_duplicate_rows():
    contents = [row.dedupe_key for row in rows()]
    assert len(contents) == len(set(contents)), "the same message was stored twice"


# parse_url

def test_parse_url_reads_every_part():
    s = parse_url("imaps://desk%40acme.example:p%40ss%2Fw0rd@Mail.Example.com/Utility%20Mail?processed=Done&poll=45")
    assert (s.host, s.port, s.tls) == ("mail.example.com", 993, "ssl")
    assert (s.username, s.password) == ("desk@acme.example", "p@ss/w0rd")
    assert (s.folder, s.processed, s.idle, s.poll_seconds) == ("Utility Mail", "Done", True, 45.0)
    assert s.key == "imaps://desk%40acme.example@mail.example.com/Utility%20Mail"
    assert "p@ss" not in s.key and "p@ss" not in repr(s)


def test_parse_url_defaults_and_plain_options():
    s = parse_url("imap://desk:secret@127.0.0.1")
    assert (s.port, s.folder, s.processed, s.tls, s.idle, s.poll_seconds) == (143, "INBOX", "Processed",
                                                                              "starttls", True, 30.0)
    assert s.key == "imap://desk@127.0.0.1/INBOX"
    s = parse_url("imap://desk:secret@127.0.0.1:14143/Intake/Utilities?tls=none&idle=0&poll=5")
    assert (s.port, s.folder, s.tls, s.idle, s.poll_seconds) == (14143, "Intake/Utilities", "none", False, 5.0)
    assert s.key == "imap://desk@127.0.0.1:14143/Intake/Utilities"
    assert parse_url("imap://desk:secret@host/?tls=auto").tls == "auto"  # STARTTLS only when offered
    s = parse_url("imap://desk:secret@[::1]:1143")
    assert (s.host, s.port, s.key) == ("::1", 1143, "imap://desk@[::1]:1143/INBOX")


@pytest.mark.parametrize("url, problem", [
    ("pop3://desk:secret@host/INBOX", "imap:// or imaps://"),
    ("imap:///INBOX", "no host"),
    ("imap://host/INBOX", "no user name"),
    ("imap://desk@host/INBOX", "no password"),
    ("imap://desk:secret@host:99999/INBOX", "invalid port"),
    ("imap://desk:secret@host:abc/INBOX", "invalid port"),
    ("imap://desk:secret@host/INBOX?proccessed=Done", "unknown option 'proccessed'"),
    ("imap://desk:secret@host/INBOX?processed=INBOX", "processed folder"),
    ("imap://desk:secret@host/INBOX?processed=", "processed folder"),
    ("imap://desk:secret@host/INBOX?tls=maybe", "tls must be"),
    ("imaps://desk:secret@host/INBOX?tls=none", "does not apply to imaps"),
    ("imap://desk:secret@host/INBOX?idle=yes", "idle must be"),
    ("imap://desk:secret@host/INBOX?poll=0", "poll must be"),
    ("imap://desk:secret@host/INBOX?poll=nan", "poll must be"),
    ("imap://desk:secret@host/INBOX?poll=soon", "poll must be"),
])
def test_parse_url_names_what_is_wrong(url, problem):
    with pytest.raises(ValueError, match=problem):
        parse_url(url)


def test_batches_are_bounded_by_count_and_bytes():
    sizes = {1: 10, 2: 10, 3: 10, 4: 500, 5: 10}
    assert list(imap.batches([1, 2, 3, 4, 5], sizes, most=2, budget=100)) == [[1, 2], [3], [4], [5]]
    assert list(imap.batches([1, 2, 3], sizes, most=50, budget=100)) == [[1, 2, 3]]
    assert list(imap.batches([], sizes)) == []


# One pass, against the real server

def test_poll_stores_first_then_moves_everything_to_processed(db, dovecot, watchers):
    sent = [mail(n) for n in range(imap.FETCH_BATCH + 3)]  # more than one FETCH batch
    resent = mail(0, extra_header="Received: from relay.example by mx.example; Sat, 28 Nov 2026\n")
    uids = dovecot.append_all(sent + [resent])
    uidvalidity = dovecot.uidvalidity()
    watcher = watchers.new(dovecot.url)

    assert watcher.poll_once() == len(sent) + 1

    stored = rows()
    assert [(r.uid, r.uidvalidity) for r in stored] == [(u, uidvalidity) for u in uids]
    assert [lf(r.raw()) for r in stored] == sent + [resent]
    assert {r.mailbox for r in stored} == {watcher.settings.key} == {f"imap://test@127.0.0.1:{dovecot.port}/INBOX"}
    assert {r.source for r in stored} == {"imap"}
    # The resent copy (same Message-ID, other bytes) is kept as a duplicate and not handed on.
    assert stored[-1].state == "duplicate" and stored[-1].duplicate_of_id == stored[0].id
    assert watcher.seen == [r.id for r in stored[:-1]]

    assert dovecot.messages("INBOX") == {}
    processed = dovecot.messages("Processed")
    assert sorted(lf(m[b"BODY[]"]) for m in processed.values()) == sorted(sent + [resent])
    for m in processed.values():
        assert b"$Ixdesk" in m[b"FLAGS"]
        assert b"\\Seen" not in m[b"FLAGS"] and b"\\Deleted" not in m[b"FLAGS"]

    box = Mailbox.named(watcher.settings.key)
    assert (box.uidvalidity, box.last_uid) == (uidvalidity, max(uids))
    assert box.last_poll_at is not None

    assert watcher.poll_once() == 0  # an empty folder is a quiet pass
    assert len(rows()) == len(sent) + 1


def test_cursor_and_rows_survive_a_new_watcher_without_duplicates(db, dovecot, watchers):
    dovecot.append_all([mail(1), mail(2)])
    assert watchers.new(dovecot.url).poll_once() == 2

    # A pass that stored mail 3 and then died before moving it: the message is still in INBOX.
    uid3 = dovecot.append(mail(3))
    uidvalidity = dovecot.uidvalidity()
    watcher = watchers.new(dovecot.url)
    store(dovecot.messages()[uid3][b"BODY[]"], source="imap", mailbox=watcher.settings.key, uid=uid3,
          uidvalidity=uidvalidity)
    _, uid5 = dovecot.append_all([mail(4), mail(5)])

    box = Mailbox.named(watcher.settings.key)
    assert (box.uidvalidity, box.last_uid) == (uidvalidity, 2)
    assert watcher.poll_once() == 2
    assert len(watcher.seen) == 2  # mail 3 was handed on by the pass that stored it, not again

    assert [lf(r.raw()) for r in rows()] == [mail(n) for n in range(1, 6)]
    assert_no_duplicate_rows()
    assert dovecot.messages("INBOX") == {}
    assert len(dovecot.messages("Processed")) == 5
    assert Mailbox.named(watcher.settings.key).last_uid == uid5


def test_uidvalidity_change_loses_nothing_and_duplicates_nothing(db, dovecot, watchers, caplog):
    dovecot.append_all([mail(1), mail(2)])
    watcher = watchers.new(dovecot.url)
    assert watcher.poll_once() == 2
    watcher.disconnect()

    # Mail 3 was stored but not moved when the server's UIDVALIDITY changed (a restore or a rebuild).
    old = dovecot.uidvalidity()
    uid3 = dovecot.append(mail(3))
    store(dovecot.messages()[uid3][b"BODY[]"], source="imap", mailbox=watcher.settings.key, uid=uid3,
          uidvalidity=old)
    dovecot.append(mail(4))
    dovecot.doveadm("mailbox", "update", "-u", "test", "--uid-validity", str(old + 1000), "INBOX")
    assert dovecot.uidvalidity() == old + 1000

    with caplog.at_level(logging.WARNING, logger="inbox.imap"):
        assert watcher.poll_once() == 1  # only mail 4 is new
    assert "UIDVALIDITY changed" in caplog.text

    stored = rows()
    assert [lf(r.raw()) for r in stored] == [mail(n) for n in range(1, 5)]
    assert_no_duplicate_rows()
    assert {r.uidvalidity for r in stored[2:]} == {old + 1000}
    assert dovecot.messages("INBOX") == {}
    assert len(dovecot.messages("Processed")) == 4
    box = Mailbox.named(watcher.settings.key)
    assert box.uidvalidity == old + 1000


def test_without_move_copies_then_expunges_only_the_stored_uids(db, make_dovecot, watchers):
    dovecot = make_dovecot(capabilities="IMAP4rev1 IDLE UIDPLUS LITERAL+")
    sent = [mail(1), mail(2)]
    dovecot.append_all(sent)
    watcher = watchers.new(dovecot.url)
    assert watcher.poll_once() == 2
    assert dovecot.messages("INBOX") == {}
    processed = dovecot.messages("Processed").values()
    assert sorted(lf(m[b"BODY[]"]) for m in processed) == sent
    assert all(b"\\Deleted" not in m[b"FLAGS"] and b"$Ixdesk" in m[b"FLAGS"] for m in processed)


def test_without_move_or_uidplus_the_cursor_alone_says_what_is_new(db, make_dovecot, watchers):
    dovecot = make_dovecot(capabilities="IMAP4rev1 IDLE LITERAL+")
    dovecot.append_all([mail(1), mail(2)])
    watcher = watchers.new(dovecot.url)
    assert watcher.poll_once() == 2
    uid3 = dovecot.append(mail(3))
    assert watcher.poll_once() == 1
    assert watcher.poll_once() == 0

    assert [lf(r.raw()) for r in rows()] == [mail(1), mail(2), mail(3)]
    left = dovecot.messages("INBOX")  # nothing is moved or deleted; our keyword marks what was taken
    assert len(left) == 3 and all(b"$Ixdesk" in m[b"FLAGS"] for m in left.values())
    assert dovecot.messages("Processed") == {}
    assert Mailbox.named(watcher.settings.key).last_uid == uid3


# The running watcher

def test_idle_wakes_the_watcher_for_new_mail(db, dovecot, watchers):
    watcher = watchers.start(dovecot.url)
    idle_after(watcher)
    assert Mailbox.named(watcher.settings.key).lease_holder == "test"

    sent_at = time.monotonic()
    dovecot.append(mail(1))
    wait_for(lambda: len(rows()) == 1, timeout=10, what="the appended mail to be stored")
    assert time.monotonic() - sent_at < 10
    wait_for(lambda: not dovecot.messages("INBOX"), what="the mail to be moved")
    assert len(watcher.seen) == 1

    watchers.stop(watcher)
    assert Mailbox.named(watcher.settings.key).lease_holder == ""  # released on the way out


def test_with_idle_off_the_watcher_polls(db, dovecot, watchers):
    watcher = watchers.start(dovecot.url + "&idle=0&poll=1")
    idle_after(watcher)
    dovecot.append(mail(1))
    wait_for(lambda: len(rows()) == 1, timeout=10, what="the next poll")
    wait_for(lambda: not dovecot.messages("INBOX"), what="the mail to be moved")
    assert len(watcher.seen) == 1


def test_mail_arriving_during_a_pass_is_taken_without_waiting_for_more(db, dovecot, watchers):
    # Dovecot announces mail that came in between our last command and IDLE with that command's
    # reply, never inside the IDLE that follows: the watcher has to notice it before going idle.
    def deliver_another_once(stored: InboundMail) -> None:
        if len(rows()) == 1:
            dovecot.append(mail(2))
    watchers.start(dovecot.url, also=deliver_another_once)
    dovecot.append(mail(1))
    wait_for(lambda: len(rows()) == 2, timeout=10, what="the mail delivered during the pass")
    wait_for(lambda: not dovecot.messages("INBOX"), what="the INBOX to be emptied")


def test_watcher_reconnects_after_a_server_restart_or_crash(db, dovecot, watchers):
    watcher = watchers.start(dovecot.url)
    polled = idle_after(watcher)
    dovecot.append_all([mail(1), mail(2)])
    wait_for(lambda: len(rows()) == 2, what="the first two mails")

    dovecot.restart()  # clients are told BYE
    polled = idle_after(watcher, since=polled)
    dovecot.append_all([mail(3), mail(4)])
    wait_for(lambda: len(rows()) == 4, timeout=15, what="mail sent after the restart")
    assert Mailbox.named(watcher.settings.key).last_error  # the lost connection was recorded

    polled = idle_after(watcher, since=polled)
    dovecot.restart(graceful=False)  # connections just end
    idle_after(watcher, since=polled)
    dovecot.append(mail(5))
    wait_for(lambda: len(rows()) == 5, timeout=15, what="mail sent after the crash")
    wait_for(lambda: not dovecot.messages("INBOX"), what="the INBOX to be emptied")

    assert [lf(r.raw()) for r in rows()] == [mail(n) for n in range(1, 6)]
    assert_no_duplicate_rows()
    assert len(dovecot.messages("Processed")) == 5
    assert len(watcher.seen) == 5


def test_only_one_watcher_holds_a_mailbox(db, dovecot, watchers):
    first = watchers.start(dovecot.url, holder="first", lease_seconds=3)
    polled = idle_after(first)
    second = watchers.start(dovecot.url, holder="second", lease_seconds=3)

    dovecot.append_all([mail(1), mail(2), mail(3)])
    wait_for(lambda: len(rows()) == 3, what="the mail")
    time.sleep(1.5)  # long enough for the second watcher to have tried the lease
    assert len(first.seen) == 3 and second.seen == [] and second.client is None
    assert Mailbox.named(first.settings.key).lease_holder == "first"

    polled = Mailbox.named(first.settings.key).last_poll_at
    watchers.stop(first)  # releases the lease; the second takes over
    wait_for(lambda: Mailbox.named(second.settings.key).lease_holder == "second", what="the hand-over")
    idle_after(second, since=polled)
    dovecot.append(mail(4))
    wait_for(lambda: len(rows()) == 4, what="mail after the hand-over")
    assert len(second.seen) == 1
    assert_no_duplicate_rows()


def test_a_dead_watchers_mailbox_is_taken_over_when_its_short_lease_runs_out(db, dovecot, watchers):
    import datetime as dt
    from models.base import utcnow
    assert imap.LEASE_SECONDS <= 15  # with the retry every LEASE/4: a dead watcher is replaced within 20 s
    box = Mailbox.named(parse_url(dovecot.url).key)
    # A watcher on another machine renewed its lease and was then killed: nothing renews it any more.
    Mailbox.update(lease_holder="dead-host:4242", lease_until=utcnow() + dt.timedelta(seconds=1)).where(
        Mailbox.id == box.id).execute()
    dovecot.append(mail(1))
    started = time.monotonic()
    second = watchers.start(dovecot.url, holder="second")
    wait_for(lambda: len(rows()) == 1, timeout=10, what="the mail, once the dead lease ran out")
    assert time.monotonic() - started < 1 + imap.LEASE_SECONDS / 4 + 2
    assert Mailbox.named(second.settings.key).lease_holder == "second"


def test_the_watcher_wakes_workers_again_once_the_broker_is_back(db, dovecot, tmp_path, caplog):
    """The broker (a real Redis here) is down while mail arrives: the mail is stored, moved, and its
    wake-up is sent as soon as the broker answers again, without waiting for the sweep."""
    import socket
    import subprocess
    import redis
    from inbox.watch import Wakeups
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    wakeups = Wakeups(lambda m: client.rpush("wakeups", m.id), "test")
    watcher = ImapWatcher(parse_url(dovecot.url), wakeups, "test", threading.Event())
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    server = None
    try:
        dovecot.append_all([mail(1), mail(2)])
        wait_for(lambda: len(rows()) == 2 and len(wakeups.unsent) == 2, what="both mails stored, unsent")
        wait_for(lambda: not dovecot.messages("INBOX"), what="the mail moved all the same")
        wait_for(lambda: wakeups.failing, what="the broker's refusal")
        server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], stdout=subprocess.DEVNULL)
        wait_for(lambda: not wakeups.unsent, timeout=10, what="the wake-ups once the broker is back")
        assert [int(x) for x in client.lrange("wakeups", 0, -1)] == [r.id for r in rows()]
        warnings = [r for r in caplog.records if "cannot wake a worker" in r.getMessage()]
        assert len(warnings) == 1  # the outage is logged once, not once per mail or retry
    finally:
        watcher.stop.set()
        thread.join(15)
        if server is not None:
            server.terminate()
            server.wait(10)
