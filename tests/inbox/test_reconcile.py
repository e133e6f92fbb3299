"""Reconciliation: the messages a mailbox holds against those stored, with any gap listed."""
from __future__ import annotations

import threading
from email.message import EmailMessage

from inbox import maildir, reconcile
from tests.conftest import login


def message(n: int, with_id: bool = True) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ana@example.net", "desk@example.com", f"message {n}"
    if with_id:
        msg["Message-ID"] = f"<rec-{n}@example.net>"
    msg.set_content(f"body {n}")
    return msg.as_bytes()


def test_imap_mailbox_with_nothing_lost_then_a_gap(db, dovecot):
    from inbox.imap import ImapWatcher, parse_url
    for n in range(3):
        dovecot.append(message(n))
    dovecot.append(message(9, with_id=False))
    ImapWatcher(parse_url(dovecot.url), lambda mail: None, "test", threading.Event()).poll_once()
    dovecot.append(message(4))  # arrived after the pass: waiting, not lost
    report = reconcile.run(dovecot.url)
    assert report.ok and report.folders == {"INBOX": 1, "Processed": 4} and report.waiting == 1
    assert report.stored == 4
    dovecot.append(message(5), folder="Processed")  # someone filed it by hand: ixdesk never saw it
    report = reconcile.run(dovecot.url)
    assert not report.ok and [(g.message_id, g.subject) for g in report.missing] == [("<rec-5@example.net>",
                                                                                       "message 5")]


def test_unreachable_mailbox_is_reported_not_raised(db):
    report = reconcile.run("imap://u:p@127.0.0.1:9/INBOX?tls=none")
    assert report.error.startswith("cannot reach the mailbox") and not report.ok


def test_maildir_page_and_gap(client, users, tmp_path, worker, monkeypatch):
    from app import create_app
    from tests.conftest import overrides
    folder = tmp_path / "mail"
    maildir.ensure(folder)
    (folder / "new" / "a").write_bytes(message(1))
    maildir.poll_once(folder, lambda mail: None)
    (folder / ".Processed" / "cur" / "by-hand").write_bytes(message(2))
    monkeypatch.setenv("INBOX_URL", f"maildir:{folder}")  # what the worker reads
    app = create_app(overrides(inbox_urls=(f"maildir:{folder}",)))
    c = app.test_client()
    login(c, users["lead"])
    page = c.get("/inbox/mailboxes").get_data(as_text=True)
    assert f"maildir:{folder}" in page and "Stored from it</dt><dd>1 message" in page
    started = c.post("/inbox/mailboxes/0/reconcile")
    assert started.status_code == 303  # a job: the page follows its progress
    job_url = started.headers["Location"]
    import time
    deadline = time.monotonic() + 20
    while "Checked" not in (result := c.get(job_url, headers={"HX-Request": "true"}).get_data(as_text=True)):
        assert time.monotonic() < deadline, result
        assert 'hx-trigger="load delay:500ms"' in result  # still running: the fragment polls itself
        time.sleep(0.1)
    assert "1 message on the server was never stored" in result and "rec-2@example.net" in result
    assert "Reconciliation of maildir:" in c.get(job_url).get_data(as_text=True)
    assert c.post("/inbox/mailboxes/5/reconcile").status_code == 404
