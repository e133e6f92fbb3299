"""Scale-out: two machines' worth of processes (each its own web, workers and watcher, its own empty local
folder, no shared disk) against one PostgreSQL, one Redis and one object store. A file uploaded through
one web downloads through the other; mail is read once (one watcher holds the mailbox lease) and
processed by the workers of either machine, none twice."""
from __future__ import annotations

import re
import time
from email.message import EmailMessage

import requests
from peewee import fn

from models import Document, Event, InboundMail, tokens
from tests import files
from tests.conftest import TEST_DATABASE_URL
from tests.faults.redis_server import PrivateRedis, free_port
from tests.faults.stack import Supervised
from tests.factories import make_project, make_user
from tests.inbox.dovecot import Dovecot
from tests.storage_server import BUCKET, environment

PASSWORD = "correct-horse-battery"


def signed_in(base: str, email: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    page = s.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = s.post(f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                  allow_redirects=False, timeout=10)
    assert resp.status_code == 303, resp.text[:300]
    token = re.search(r'"X-CSRFToken": "([^"]+)"', s.get(f"{base}/projects", timeout=10).text).group(1)
    return s, token


def wait_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/login", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{base} did not answer")


def test_two_machines_share_files_and_work_without_a_shared_disk(db, tmp_path, s3_server):
    maria = make_user("maria@example.com", "Maria Ortiz")
    project = make_project(coordinator=maria, customer_email="ana@example.net")
    redis, dovecot = PrivateRedis().start(), Dovecot().start()
    ports = [free_port(), free_port()]
    prefix = f"scale-{int(time.time())}"
    machines = []
    try:
        for n, port in enumerate(ports):
            env = {"DATABASE_URL": TEST_DATABASE_URL, "BROKER_URL": redis.url, "INBOX_URL": dovecot.url,
                   "STORAGE_DIR": str(tmp_path / f"machine{n}"), "STORAGE_URL": f"s3://{BUCKET}/{prefix}",
                   **environment(s3_server.endpoint), "SECRET_KEY": "test-secret-key-0123456789",
                   "COOKIE_SECURE": "0", "WEB_BIND": f"127.0.0.1:{port}"}
            machines.append(Supervised(tmp_path / f"run{n}", env, web=True, worker_processes=1).start())
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base in bases:
            wait_up(base)

        # A file uploaded on machine 0 downloads, byte for byte, from machine 1.
        pdf = files.pdf("Signed interconnection agreement, uploaded on machine 0")
        s0, token0 = signed_in(bases[0], maria.email)
        resp = s0.post(f"{bases[0]}/projects/{project.id}/documents", files={"files": ("agreement.pdf", pdf)},
                       headers={"HX-Request": "true", "X-CSRFToken": token0}, timeout=30)
        assert resp.status_code == 200, resp.text[:500]
        doc = Document.get()
        s1, _ = signed_in(bases[1], maria.email)
        got = s1.get(f"{bases[1]}/documents/{doc.id}/file", timeout=30)
        assert got.status_code == 200 and got.content == pdf
        assert not [p for p in tmp_path.glob("machine*/**/*") if p.is_file()]  # no machine kept it on disk

        # Mail: one watcher reads it, the workers of both machines process it, nothing twice.
        raws = []
        for i in range(40):
            msg = EmailMessage()
            msg["From"], msg["To"] = "ana@example.net", "desk@example.com"
            msg["Subject"] = f"Bill {i} {tokens.subject_tag(project.id)}"
            msg["Message-ID"] = f"<scale-{i}@example.net>"
            msg.set_content(f"Bill number {i}.")
            if i % 4 == 0:
                msg.add_attachment(files.pdf(f"bill {i}"), maintype="application", subtype="pdf",
                                   filename=f"bill-{i}.pdf")
            raws.append(msg.as_bytes())
        dovecot.append_all(raws)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if InboundMail.select().where(InboundMail.state == "processed").count() == len(raws):
                break
            time.sleep(0.2)
        assert InboundMail.select().where(InboundMail.state == "processed").count() == len(raws)
        assert InboundMail.select(fn.COUNT(fn.DISTINCT(InboundMail.message_id))).scalar() == len(raws)
        assert (InboundMail.select().where(InboundMail.attempts > 1).count() == 0), "a mail was processed twice"
        assert not dovecot.messages("INBOX")
        dup_events = (Event.select(Event.kind, Event.summary).where(Event.project == project)
                      .group_by(Event.kind, Event.summary).having(fn.COUNT(Event.id) > 1).count())
        assert dup_events == 0
        assert not InboundMail.select().where(InboundMail.lease_holder != "").exists()  # every claim given back
        # Exactly one of the two watchers holds the mailbox.
        from models.inbound import Mailbox
        assert len({b.lease_holder for b in Mailbox.select() if b.lease_holder}) == 1
    finally:
        for m in machines:
            m.stop()
        redis.stop()
        dovecot.close()
