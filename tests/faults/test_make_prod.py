"""`make prod`'s script starts the web, the workers and the scheduler under supervisord on a given database
and broker; a page answers and a mail handed to the broker is processed by the supervised workers."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from email.message import EmailMessage

from inbox.store import store
from models import InboundMail
from tests.conftest import TEST_DATABASE_URL, TMP
from tests.faults.redis_server import PrivateRedis, free_port
from tests.faults.stack import ROOT


def test_the_prod_script_serves_pages_and_processes_mail(db, tmp_path):
    redis = PrivateRedis().start()
    port = free_port()
    env = {"PATH": f"{ROOT / '.venv/bin'}:/usr/bin:/bin", "DATABASE_URL": TEST_DATABASE_URL, "BROKER_URL": redis.url,
           "SECRET_KEY": "test-secret-key-0123456789", "STORAGE_DIR": str(TMP / "storage"),
           "IXDESK_RUN": str(tmp_path / "run"), "WEB_BIND": f"127.0.0.1:{port}", "WORKER_PROCESSES": "1",
           "COOKIE_SECURE": "0",
           # the suite's own mail settings (offline DKIM lookups, the test receiving server, keys)
           **{k: os.environ[k] for k in ("TOKEN_KEYS", "MAIL_AUTHSERV_ID", "MAIL_RECEIVING_HOSTS", "MAIL_DNS",
                                         "OUTBOX_DIR", "BROKER_NAMESPACE")}}
    proc = subprocess.Popen([str(ROOT / "scripts/prod.sh")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).status
            except OSError:
                time.sleep(0.2)
        assert status == 200, (tmp_path / "run" / "web.log").read_text(errors="replace")[-3000:]
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "someone@example.org", "desk@example.com", "hello"
        msg["Message-ID"] = "<make-prod-1@example.org>"
        msg.set_content("hello")
        mail = store(msg.as_bytes(), "cli").mail
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker
        sender = RedisBroker(url=redis.url, namespace=os.environ["BROKER_NAMESPACE"])
        sender.enqueue(dramatiq.Message(queue_name="mail", actor_name="ingest_mail", args=(mail.id,), kwargs={},
                                        options={}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and InboundMail.get_by_id(mail.id).state in ("pending", "processing"):
            time.sleep(0.2)
        assert InboundMail.get_by_id(mail.id).state == "unmatched"
    finally:
        proc.send_signal(signal.SIGTERM)  # the script execs supervisord, which stops its programs
        out = proc.communicate(timeout=60)[0].decode(errors="replace")
        redis.stop()
    assert "ixdesk: web on" in out
