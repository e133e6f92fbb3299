"""Webhooks against a real HTTP receiver on a private port: signatures, retries, give-up, the admin pages."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models import Application, InboundMail, Webhook, WebhookDelivery, webhooks
from models.base import db as proxy
from tests.conftest import login
from tests.factories import make_project, wait_for_state

HX = {"HX-Request": "true"}


class Receiver:
    """A webhook endpoint: records each POST and answers the next queued status (200 once the queue is empty)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[int] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    code = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "answered": code})
                    receiver.arrived.notify_all()
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"boom" if code >= 500 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/ixdesk"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 20.0) -> list[dict]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} webhook POSTs, got {len(self.requests)}")
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def local_receivers_allowed(monkeypatch):
    """The receivers here listen on 127.0.0.1, standing in for outside ones."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "1")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def dead_url() -> str:
    """A URL on a private port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


def verified(request: dict, secret: str) -> dict:
    """What a receiver does: check the HMAC of the raw body before trusting a byte of it."""
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, request["headers"]["X-Ixdesk-Signature"])
    return json.loads(request["body"])


def wait_state(row_id, states, timeout=20):
    return wait_for_state(WebhookDelivery, row_id, states, timeout)


def test_a_status_change_is_posted_signed(db, users, receiver, worker):
    hook, secret = Webhook.register(receiver.url, ["status_changed"], users["admin"])
    Webhook.register(receiver.url, ["mail_matched"], users["admin"])  # not subscribed: gets nothing
    gone, _ = Webhook.register(receiver.url, ["status_changed"], users["admin"])
    gone.deactivate()
    p = make_project(external_id="WH1", refs={"utility_part1": ("DRAFT", None)})
    app = Application.get(Application.project == p)
    app.transition("SUBMITTED", users["maria"], reference="PGE-INT-5", sent="Part 1")
    (request,) = receiver.wait(1)
    delivery = wait_state(WebhookDelivery.get(WebhookDelivery.webhook == hook).id, ("delivered",))
    assert (delivery.attempts, delivery.last_status_code, delivery.event) == (1, 200, "status_changed")
    assert request["headers"]["X-Ixdesk-Event"] == "status_changed"
    assert request["headers"]["X-Ixdesk-Delivery"] == str(delivery.id)
    assert request["headers"]["Content-Type"] == "application/json"
    payload = verified(request, secret)
    assert payload["id"] == delivery.id and payload["event"] == "status_changed"
    data = payload["data"]
    assert data["project"] == {"id": p.id, "external_id": "WH1"}
    assert data["application"] == {"id": app.id, "kind": "utility_part1", "reference_number": "PGE-INT-5"}
    assert (data["from"], data["to"], data["source"]) == ("DRAFT", "SUBMITTED", "person")
    assert data["actor"]["email"] == "maria@example.com" and data["cause"] is None
    time.sleep(0.3)
    assert len(receiver.requests) == 1 and WebhookDelivery.select().count() == 1


def test_a_refused_attempt_is_retried_then_delivered(db, users, receiver, worker):
    hook, secret = Webhook.register(receiver.url, ["status_changed"], users["admin"])
    receiver.answers = [500]
    p = make_project(refs={"ahj_permit": ("DRAFT", None)})
    Application.get(Application.project == p).transition("SUBMITTED", users["maria"])
    first, second = receiver.wait(2)
    delivery = wait_state(WebhookDelivery.get(WebhookDelivery.webhook == hook).id, ("delivered",))
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (2, 200, "")
    assert (first["answered"], second["answered"]) == (500, 200)
    # the same delivery, byte for byte: receivers dedupe on X-Ixdesk-Delivery
    assert first["body"] == second["body"] and verified(second, secret)["id"] == delivery.id
    assert first["headers"]["X-Ixdesk-Delivery"] == second["headers"]["X-Ixdesk-Delivery"]


def test_a_dead_receiver_fails_after_the_last_attempt_with_its_error_logged(client, users, worker):
    from workers.webhook_actors import deliver_webhook
    hook, _ = Webhook.register(dead_url(), ["status_changed"], users["admin"])
    delivery = WebhookDelivery.create(webhook=hook, event="status_changed", payload={"to": "SUBMITTED"})
    # Three attempts instead of the production schedule's hours; the actor's own code path otherwise.
    deliver_webhook.send_with_options(args=(delivery.id,), max_retries=2)
    failed = wait_state(delivery.id, ("failed",), timeout=30)
    assert failed.attempts == 3 and failed.last_status_code is None and failed.delivered_at is None
    assert "ConnectionRefusedError" in failed.last_error
    login(client, users["admin"])
    log = client.get(f"/admin/webhooks/{hook.id}", headers=HX).get_data(as_text=True)
    assert "<html" not in log and "Failed" in log and "ConnectionRefusedError" in log and "Send again" in log


def test_a_rolled_back_change_sends_nothing_and_a_nested_one_waits_for_the_commit(db, users, receiver, worker):
    Webhook.register(receiver.url, ["status_changed"], users["admin"])
    p = make_project(refs={"utility_part1": ("DRAFT", None)})
    app = Application.get(Application.project == p)
    with pytest.raises(RuntimeError):
        with proxy.atomic():
            app.transition("SUBMITTED", users["maria"])
            raise RuntimeError("something later in the same transaction failed")
    assert WebhookDelivery.select().count() == 0
    app = Application.get_by_id(app.id)
    assert app.status == "DRAFT"
    with proxy.atomic():  # the inbox pipeline's shape: the move happens inside a longer transaction
        app.transition("SUBMITTED", users["maria"])
        time.sleep(0.5)
        assert receiver.requests == []  # nobody is told before the commit
    (request,) = receiver.wait(1)
    assert json.loads(request["body"])["data"]["to"] == "SUBMITTED"


def test_a_payload_that_cannot_be_built_never_undoes_the_change(db, users, caplog):
    Webhook.register("https://crm.example.com/hook", ["status_changed"], users["admin"])
    p = make_project()
    with proxy.atomic():
        p.add_note("kept", users["maria"])
        assert webhooks.emit("status_changed", lambda: {"broken": 1 / 0}) == []
    assert p.events.count() == 1 and WebhookDelivery.select().count() == 0
    assert "could not queue the status_changed webhook deliveries" in caplog.text


def test_a_matched_mail_is_announced(db, users, receiver, worker):
    hook, secret = Webhook.register(receiver.url, ["mail_matched"], users["admin"])
    p = make_project(external_id="MM1")
    mail = InboundMail.create(message_id="<n1@sce.com>", sha256="0" * 64, dedupe_key="k1", size=10, source="cli",
                              state="processed", project=p, matched_by="reference", confidence=0.9,
                              subject="Interconnection request received", from_addr="noreply@sce.com",
                              kind="utility_notice", notice="acknowledged")
    assert webhooks.mail_matched(InboundMail.get_by_id(mail.id)) != []
    unmatched = InboundMail.create(message_id="<n2@x>", sha256="1" * 64, dedupe_key="k2", size=1, source="cli",
                                   state="unmatched")
    assert webhooks.mail_matched(unmatched) == []
    data = verified(receiver.wait(1)[0], secret)["data"]
    assert data["project"]["external_id"] == "MM1" and data["mail"]["message_id"] == "<n1@sce.com>"
    assert (data["state"], data["matched_by"], data["notice"]) == ("processed", "reference", "acknowledged")


def test_admin_registers_tests_and_deactivates_a_webhook(client, users, receiver, worker):
    login(client, users["admin"])
    assert 'href="/admin/webhooks"' in client.get("/projects").get_data(as_text=True)
    bad = client.post("/admin/webhooks", data={"url": "ftp://example.com/x", "events": ["status_changed"]})
    assert bad.status_code == 422 and "must start with https://" in bad.get_data(as_text=True)
    none = client.post("/admin/webhooks", data={"url": receiver.url})
    assert none.status_code == 422 and "choose at least one event" in none.get_data(as_text=True)
    page = client.post("/admin/webhooks", data={"url": receiver.url, "events": ["status_changed", "mail_matched"]})
    hook = Webhook.get()
    assert page.status_code == 200 and hook.secret in page.get_data(as_text=True)
    assert hook.events == ["status_changed", "mail_matched"] and hook.created_by_id == users["admin"].id
    listing = client.get("/admin/webhooks").get_data(as_text=True)
    assert receiver.url in listing and hook.secret not in listing  # the secret was shown once
    assert client.post(f"/admin/webhooks/{hook.id}/test").status_code == 303
    body = verified(receiver.wait(1)[0], hook.secret)
    assert body["event"] == "test" and body["data"]["sent_by"] == "admin@example.com"
    delivered = wait_state(WebhookDelivery.get().id, ("delivered",))
    show = client.get(f"/admin/webhooks/{hook.id}").get_data(as_text=True)
    assert "<html" in show and "Delivered" in show and f">{delivered.id}<" in show
    client.post(f"/admin/webhooks/{hook.id}/deactivate")
    assert not Webhook.get_by_id(hook.id).active
    assert webhooks.emit("status_changed", {"x": 1}) == []


def test_failed_delivery_can_be_sent_again(client, users, receiver, worker):
    hook, _ = Webhook.register(receiver.url, ["status_changed"], users["admin"])
    delivery = WebhookDelivery.create(webhook=hook, event="status_changed", payload={}, state="failed", attempts=16,
                                      last_error="HTTP 503 Service Unavailable")
    login(client, users["admin"])
    assert client.post(f"/admin/deliveries/{delivery.id}/retry").status_code == 303
    again = wait_state(delivery.id, ("delivered",))
    assert again.attempts == 17 and again.last_error == "" and len(receiver.wait(1)) == 1


@pytest.mark.parametrize("who", ["maria", "lead"])
def test_only_admins_reach_the_webhook_pages(client, users, who):
    hook, _ = Webhook.register("https://crm.example.com/hook", ["status_changed"], users["admin"])
    login(client, users[who])
    assert 'href="/admin/webhooks"' not in client.get("/projects").get_data(as_text=True)
    assert client.get("/admin/webhooks").status_code == 403
    assert client.get(f"/admin/webhooks/{hook.id}").status_code == 403
    assert client.post("/admin/webhooks", data={"url": "https://x.example", "events": ["status_changed"]}).status_code \
        == 403
    assert client.post(f"/admin/webhooks/{hook.id}/deactivate").status_code == 403
    assert client.post(f"/admin/webhooks/{hook.id}/test").status_code == 403
    assert Webhook.select().count() == 1 and Webhook.get().active
    client.post("/logout")
    assert client.get("/admin/webhooks").status_code == 302  # not signed in: the login page


def test_internal_addresses_are_refused_unless_allowed(db, users, monkeypatch):
    from models.webhooks import Webhook, WebhookError
    from workers.webhook_actors import post
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE")
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://169.254.169.254/latest/meta-data/",
                "http://[::1]/x", "http://10.1.2.3/x"):
        with pytest.raises(WebhookError, match="internal address"):
            Webhook.register(url, ["status_changed"], users["admin"])
    status, error = post("http://127.0.0.1:9/x", b"{}", {})
    assert status is None and "internal address" in error  # checked again when sending (DNS can change)
