"""Webhooks against a real HTTP receiver on a private port: signatures, retries, give-up, the admin pages."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import ssl
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

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.answers: list[int] = []
        self.server_names: list[str | None] = []  # TLS server-name indication, as each client sent it
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

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that rejects our certificate ends its handshake; the test checks the client's side

        self.server = Server((host, port), Handler)
        self.port = self.server.server_port
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}/hooks/ixdesk"
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
    Webhook.register("https://127.0.0.1/hook", ["status_changed"], users["admin"])
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
    hook, _ = Webhook.register("https://127.0.0.1/hook", ["status_changed"], users["admin"])
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
    with pytest.raises(webhooks.AddressRefused, match="internal address"):  # checked again when sending
        post("http://127.0.0.1:9/x", b"{}", {})


@pytest.mark.parametrize("allow_private", ["", "1"])
def test_a_name_that_does_not_resolve_is_refused_at_registration(db, users, monkeypatch, allow_private):
    from models.webhooks import WebhookError
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", allow_private)
    with pytest.raises(WebhookError, match=r"hooks\.ixdesk\.invalid does not resolve"):
        Webhook.register("https://hooks.ixdesk.invalid/x", ["status_changed"], users["admin"])
    assert Webhook.select().count() == 0


def test_a_delivery_connects_to_the_address_it_checked(receiver):
    """DNS rebinding: the name answers a second time with another address; nothing is sent there."""
    from workers.webhook_actors import post
    elsewhere = Receiver("127.0.0.2", receiver.port)  # same port, another address: where a second lookup leads
    answers = [["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]]
    asked = []

    def resolve(host):
        asked.append(host)
        return answers.pop(0)
    try:
        url = f"http://hooks.rebind.test:{receiver.port}/hooks/ixdesk?via=dns"
        assert post(url, b'{"n":1}', {"Content-Type": "application/json"}, resolve=resolve) == (200, "")
        assert asked == ["hooks.rebind.test"]  # resolved once, and that answer was checked and used
        (request,) = receiver.wait(1)
        assert request["headers"]["Host"] == f"hooks.rebind.test:{receiver.port}" and request["body"] == b'{"n":1}'
        assert elsewhere.requests == []
    finally:
        elsewhere.close()


def test_every_address_of_the_name_is_checked_before_any_is_used(receiver, monkeypatch):
    from workers.webhook_actors import post
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE")
    url = f"http://hooks.ixdesk.test:{receiver.port}/hooks/ixdesk"
    for answer in (["8.8.8.8", "127.0.0.1"], ["127.0.0.1", "8.8.8.8"], ["2606:4700:4700::1111", "::ffff:127.0.0.1"]):
        with pytest.raises(webhooks.AddressRefused, match="hooks.ixdesk.test points at an internal address"):
            post(url, b"{}", {}, resolve=lambda host, answer=answer: answer)
    assert receiver.requests == []


def test_a_redirect_is_not_followed(receiver):
    from workers.webhook_actors import post
    receiver.answers = [307]
    assert post(receiver.url, b"{}", {}) == (307, "HTTP 307 Temporary Redirect")
    time.sleep(0.2)
    assert len(receiver.requests) == 1


def test_an_address_refused_when_sending_fails_the_delivery_with_the_reason(client, users, receiver, worker,
                                                                             monkeypatch):
    hook, _ = Webhook.register(receiver.url, ["status_changed"], users["admin"])  # the company's network, allowed
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE")  # ... until the setting is turned off
    with proxy.atomic():
        delivery = hook.send_test(users["admin"])
    failed = wait_state(delivery.id, ("failed",), timeout=10)
    assert failed.attempts == 1 and failed.last_status_code is None  # not retried: the next try is refused too
    assert failed.last_error.startswith("refused: 127.0.0.1 points at an internal address (127.0.0.1, loopback)")
    assert receiver.requests == []
    login(client, users["admin"])
    log = client.get(f"/admin/webhooks/{hook.id}", headers=HX).get_data(as_text=True)
    assert "Failed" in log and "points at an internal address" in log


def self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate for name signed by its own key: (certificate file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "receiver.pem", tmp_path / "receiver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_https_is_verified_against_the_hostname_not_the_address(tmp_path):
    from workers.webhook_actors import post
    cert, key = self_signed(tmp_path, "hooks.ixdesk.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    receiver = Receiver(tls=tls)
    trust = ssl.create_default_context(cafile=cert)
    local = lambda host: ["127.0.0.1"]  # noqa: E731
    try:
        url = f"https://hooks.ixdesk.test:{receiver.port}/hooks/ixdesk"
        assert post(url, b"{}", {}, resolve=local, context=trust) == (200, "")
        (request,) = receiver.wait(1)
        assert request["headers"]["Host"] == f"hooks.ixdesk.test:{receiver.port}"
        assert receiver.server_names == ["hooks.ixdesk.test"]
        # the same server under a name its certificate does not carry
        status, error = post(f"https://other.ixdesk.test:{receiver.port}/x", b"{}", {}, resolve=local, context=trust)
        assert status is None and "CERTIFICATE_VERIFY_FAILED" in error and "other.ixdesk.test" in error
        # the right name, but a certificate nobody trusts: the system's store does not hold it
        status, error = post(url, b"{}", {}, resolve=local)
        assert status is None and "CERTIFICATE_VERIFY_FAILED" in error
        assert len(receiver.requests) == 1
    finally:
        receiver.close()
