"""/healthz answers for the database alone; /status shows every part, each on its own, to admins only."""
from __future__ import annotations

import datetime as dt
import uuid
from email.message import EmailMessage

import pytest

from inbox.store import store
from models import InboundMail, Job, Webhook, WebhookDelivery, WebSession
from models.base import utcnow
from models.inbound import Mailbox
from tests.conftest import TMP, login, overrides
from tests.faults.redis_server import PrivateRedis, free_port
from workers import health


def stored_mail(n: int, **fields) -> InboundMail:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "customer@example.net", "desk@example.com", f"mail {n}"
    msg["Message-ID"] = f"<status-{n}-{uuid.uuid4().hex}@example.net>"
    msg.set_content("Here is the bill.")
    mail = store(msg.as_bytes(), "cli").mail
    if fields:
        InboundMail.update(**fields).where(InboundMail.id == mail.id).execute()
    return InboundMail.get_by_id(mail.id)


@pytest.fixture
def rebind(db):
    """An app built on another database rebinds the shared handle: give it back to the run's database."""
    from models.base import db as proxy
    yield
    proxy.initialize(db)
    db.connect(reuse_if_open=True)


def test_healthz_answers_ok_without_a_session_or_a_write(client, db):
    sessions = WebSession.select().count()
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == "ok\n"
    assert resp.mimetype == "text/plain" and resp.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in resp.headers
    assert resp.headers["X-Request-Id"]
    assert WebSession.select().count() == sessions


@pytest.mark.parametrize("unreachable", ["postgresql", "sqlite"])
def test_healthz_is_503_with_a_reason_when_the_database_is_unreachable(db, rebind, unreachable):
    from app import create_app
    if unreachable == "postgresql":
        url = f"postgresql://postgres@127.0.0.1:{free_port()}/ixdesk"  # a closed port
    else:
        (TMP / "not-a-file.db").mkdir(exist_ok=True)
        url = f"sqlite:///{TMP / 'not-a-file.db'}"  # a folder: SQLite cannot open it
    broken = create_app(overrides(database_url=url)).test_client()
    resp = broken.get("/healthz")
    assert resp.status_code == 503
    body = resp.get_data(as_text=True)
    assert body.startswith("database unreachable: ") and body.count("\n") == 1, body
    assert "127.0.0.1" not in body and "postgres@" not in body  # the log has the detail, not a stranger


def test_healthz_stays_ok_when_the_broker_is_down(db, rebind):
    from app import create_app
    app = create_app(overrides(broker_url=f"redis://127.0.0.1:{free_port()}/0"))
    assert app.test_client().get("/healthz").status_code == 200


def test_status_is_for_admins_only(client, users):
    resp = client.get("/status?format=json")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    login(client, users["maria"])
    assert client.get("/status?format=json").status_code == 403
    assert client.get("/status").status_code == 403
    client.post("/logout")
    login(client, users["lead"])
    assert client.get("/status", headers={"Accept": "application/json"}).status_code == 403


def test_status_reports_mail_mailboxes_leases_jobs_and_webhooks(client, users):
    now = utcnow()
    stored_mail(1, received_at=now - dt.timedelta(hours=2))  # the oldest waiting
    stored_mail(2, received_at=now - dt.timedelta(minutes=5))
    stuck = stored_mail(3, state="processing", lease_holder="dead-host:1:abc",
                        lease_until=now - dt.timedelta(seconds=30))
    stored_mail(4, state="processing", lease_holder="live-host:2:def", lease_until=now + dt.timedelta(seconds=10))
    stored_mail(5, state="quarantined", reason="unreadable")
    box = Mailbox.create(key="imaps://desk@mail.example.com/INBOX", last_poll_at=now - dt.timedelta(minutes=10),
                         last_error="IMAP4.error: [AUTHENTICATIONFAILED] Invalid credentials",
                         last_error_at=now - dt.timedelta(minutes=1), lease_holder="web-1:42",
                         lease_until=now + dt.timedelta(seconds=12), fetched=7)
    Mailbox.create(key="imaps://other@mail.example.com/INBOX", last_poll_at=now - dt.timedelta(seconds=5),
                   lease_holder="web-2:7", lease_until=now - dt.timedelta(seconds=40))
    Job.create(kind="import", state="running")
    Job.create(kind="packet", state="queued")
    Job.create(kind="import", state="done")
    hook = Webhook.create(url="https://hooks.example.com/ixdesk", secret="s" * 32, events=["status_changed"])
    WebhookDelivery.create(webhook=hook, event="status_changed", payload={}, state="pending")
    WebhookDelivery.create(webhook=hook, event="status_changed", payload={}, state="delivered")
    login(client, users["admin"])

    resp = client.get("/status?format=json")
    assert resp.status_code == 200 and resp.is_json
    assert resp.headers["Cache-Control"] == "no-store"
    status = resp.get_json()
    assert set(status) >= {"ok", "checked_at", "database", "broker", "mailboxes", "mail", "webhooks", "jobs",
                           "portals"}
    assert status["portals"] == []
    assert status["database"]["ok"] and status["database"]["took_ms"] >= 0
    mail = status["mail"]
    assert mail["ok"] and mail["by_state"] == {"pending": 2, "processing": 2, "quarantined": 1}
    assert 2 * 3600 - 5 <= mail["oldest_pending_age_s"] <= 2 * 3600 + 60
    assert mail["stuck"] == 1 and mail["stuck_ids"] == [stuck.id]
    boxes = {b["key"]: b for b in status["mailboxes"]["boxes"]}
    failing = boxes[box.key]
    assert failing["failing"] and "AUTHENTICATIONFAILED" in failing["last_error"]
    assert failing["last_poll_at"] and failing["last_error_at"] > failing["last_poll_at"]
    assert failing["lease_live"] and failing["lease_holder"] == "web-1:42" and failing["fetched"] == 7
    idle = boxes["imaps://other@mail.example.com/INBOX"]
    assert not idle["failing"] and not idle["lease_live"] and idle["lease_holder"] == "web-2:7"
    assert status["jobs"] == {"ok": True, "took_ms": status["jobs"]["took_ms"], "error": "", "queued": 1,
                              "running": 1}
    assert status["webhooks"]["waiting"] == 1 and status["webhooks"]["sending"] == 0
    assert status["broker"]["ok"], status["broker"]
    assert {"mail", "jobs", "schedule"} <= set(status["broker"]["queues"])

    page = client.get("/status")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and page.mimetype == "text/html"
    assert "imaps://desk@mail.example.com/INBOX" in html and "AUTHENTICATIONFAILED" in html
    assert f"#{stuck.id}" in html


def test_a_mailbox_key_never_shows_a_password(db):
    Mailbox.create(key="imaps://desk:hunter2@mail.example.com/INBOX", last_error="login to imap://desk:hunter2@x")
    check = health.mailboxes()
    assert check.ok
    assert "hunter2" not in str(check.to_dict())


def test_status_answers_200_with_the_broker_error_when_the_broker_is_down(db, rebind, users):
    from app import create_app
    app = create_app(overrides(broker_url=f"redis://:secret@127.0.0.1:{free_port()}/0"))
    client = app.test_client()
    login(client, users["admin"])
    resp = client.get("/status", headers={"Accept": "application/json"})
    assert resp.status_code == 200
    status = resp.get_json()
    assert not status["ok"] and not status["broker"]["ok"]
    assert "ConnectionError" in status["broker"]["error"], status["broker"]
    assert "secret" not in resp.get_data(as_text=True)
    assert status["broker"]["took_ms"] < 1500  # one try under a short timeout, not the client's retries
    assert status["database"]["ok"] and status["mail"]["ok"]
    page = client.get("/status")
    assert page.status_code == 200 and "ConnectionError" in page.get_data(as_text=True)


def test_the_redis_queue_depth_is_read_under_the_namespace(db):
    from dramatiq import Message
    from dramatiq.brokers.redis import RedisBroker
    server = PrivateRedis().start()
    try:
        sender = RedisBroker(url=server.url, namespace="ixdesk-depth")
        sender.declare_queue("mail")
        for n in range(3):
            sender.enqueue(Message(queue_name="mail", actor_name="ingest_mail", args=(n,), kwargs={}, options={}))
        sender.enqueue(Message(queue_name="mail", actor_name="ingest_mail", args=(9,), kwargs={}, options={}),
                       delay=60_000)
        check = health.broker(server.url, "ixdesk-depth", ["mail", "jobs"])
        assert check.ok, check.error
        assert check.details["queues"] == {"mail": {"waiting": 3, "delayed": 1, "dead": 0},
                                           "jobs": {"waiting": 0, "delayed": 0, "dead": 0}}
        sender.close()
    finally:
        server.stop()
    down = health.broker(server.url, "ixdesk-depth", ["mail"])
    assert not down.ok and "ConnectionError" in down.error


def test_the_in_memory_queue_sizes_are_counted():
    from dramatiq import Message
    from dramatiq.brokers.stub import StubBroker
    stub = StubBroker()
    stub.declare_queue("jobs")
    stub.enqueue(Message(queue_name="jobs", actor_name="import_projects", args=(1,), kwargs={}, options={}))
    check = health.broker("embedded", "ixdesk", stub.get_declared_queues(), stub=stub)
    assert check.ok and check.details["queues"] == {"jobs": {"waiting": 1, "delayed": 0, "dead": 0}}


def test_a_rabbitmq_that_is_down_is_reported_not_raised():
    check = health.broker(f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", "ixdesk", ["mail"])
    assert not check.ok and check.error and "guest:guest" not in check.error


def test_the_admin_pages_link_to_the_status_page(client, users):
    login(client, users["admin"])
    for page in ("/admin/webhooks", "/admin/users"):
        assert 'href="/status"' in client.get(page).get_data(as_text=True)


def test_pages_answer_503_not_500_when_the_database_is_unreachable(db, rebind, users, client):
    """Signed in (a session cookie the desk must look up), then the database goes away."""
    from app import create_app
    login(client, users["admin"])
    cookie = client.get_cookie("ixdesk_session").value
    broken = create_app(overrides(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/ixdesk")).test_client()
    broken.set_cookie("ixdesk_session", cookie)
    for path in ("/projects", "/status", "/status?format=json"):
        resp = broken.get(path)
        assert resp.status_code == 503, (path, resp.status_code)
    resp = broken.get("/projects")
    assert "Database unavailable" in resp.get_data(as_text=True) and resp.headers["Retry-After"] == "30"
    resp = broken.get("/api/v1/projects", headers={"Authorization": "Bearer ixd_x"})
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "database_unavailable"
