"""The embedded Maildir source and the worker path: store first, move to .Processed, a worker finishes it."""
from __future__ import annotations

import time
from email.message import EmailMessage

from inbox import maildir
from inbox.intake import enqueue
from models import InboundMail, tokens
from tests.factories import make_project


def message(subject: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ana@example.net", "desk@example.com", subject
    msg["Message-ID"] = f"<md-{n}@example.net>"
    msg.set_content(f"message {n}")
    return msg.as_bytes()


def wait_final(ids, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(InboundMail.select().where(InboundMail.id.in_(ids)))
        if all(r.state not in ("pending", "processing") for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError("mail still pending: " + ", ".join(f"#{r.id} {r.state}" for r in rows))


def test_files_are_stored_handed_on_and_moved_never_deleted(db, tmp_path):
    folder = tmp_path / "mail"
    maildir.ensure(folder)
    (folder / "new" / "a").write_bytes(message("one", 1))
    (folder / "cur" / "b:2,S").write_bytes(message("two", 2))
    (folder / "dropped.eml").write_bytes(message("three", 3))
    (folder / "tmp" / "partial").write_bytes(b"half a mess")  # still being written by a delivery agent
    handed = []
    assert maildir.poll_once(folder, handed.append) == 3
    assert [m.subject for m in handed] == ["", "", ""]  # handed on before parsing: only stored
    assert sorted(p.name for p in (folder / ".Processed" / "cur").iterdir()) == ["a", "b:2,S", "dropped.eml"]
    assert not list((folder / "new").iterdir()) and (folder / "tmp" / "partial").exists()
    assert {m.raw() for m in handed} == {message("one", 1), message("two", 2), message("three", 3)}
    # The same file dropped in again is recognised: no second row, still moved out of the way.
    (folder / "new" / "a-again").write_bytes(message("one", 1))
    again = []
    assert maildir.poll_once(folder, again.append) == 1 and again == []
    assert InboundMail.select().count() == 3


def test_watcher_thread_and_worker_take_mail_to_its_end_state(db, tmp_path, worker):
    import threading
    p = make_project(customer_email="ana@example.net")
    folder = tmp_path / "mail"
    maildir.ensure(folder)
    stop = threading.Event()
    watcher = maildir.MaildirWatcher(f"maildir:{folder}", enqueue, stop, interval=0.05)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        # Delivered as a delivery agent does: written in tmp/, then renamed into new/ (a file written
        # straight into new/ can be read half-written by the watcher's next poll).
        (folder / "tmp" / "m1").write_bytes(message(f"Bill {tokens.subject_tag(p.id)}", 10))
        (folder / "tmp" / "m1").rename(folder / "new" / "m1")
        deadline = time.monotonic() + 10
        while not InboundMail.select().exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        rows = wait_final([m.id for m in InboundMail.select()])
    finally:
        stop.set()
        thread.join(5)
    assert [(r.state, r.project_id, r.matched_by) for r in rows] == [("processed", p.id, "token")]


def test_sweeper_sends_pending_mail_again_and_frees_abandoned_work(db, worker):
    import datetime as dt
    from inbox.store import store
    from models.base import utcnow
    from workers.sweeper import requeue_mail
    lost = store(message("lost wake-up", 20), "cli").mail  # stored, but its wake-up never reached a worker
    died = store(message("worker died", 21), "cli").mail
    InboundMail.update(state="processing", processing_since=utcnow() - dt.timedelta(hours=1)).where(
        InboundMail.id == died.id).execute()
    assert requeue_mail(older_than=dt.timedelta(0)) == 2
    rows = wait_final([lost.id, died.id])
    assert {r.state for r in rows} == {"unmatched"}
