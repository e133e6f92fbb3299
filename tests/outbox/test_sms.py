"""Texts: the console and Twilio backends (a local HTTP server stands in for Twilio's API), the signed
inbound webhook, STOP/START, and validation."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from models import Event
from models.sms import SmsMessage, SmsOptOut, SmsError, queue
from tests.conftest import login, overrides
from tests.factories import make_project, wait_for_state

SID, TOKEN, OUR_NUMBER = "AC" + "1" * 32, "test-auth-token", "+14155550199"


class FakeTwilio:
    """Twilio's Messages endpoint on a private port: records requests, answers as told."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                outer.requests.append({"path": self.path, "form": form, "auth": self.headers.get("Authorization")})
                status, body = outer.answers.pop(0) if outer.answers else (
                    201, {"sid": f"SM{len(outer.requests):032d}", "status": "queued"})
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def twilio(monkeypatch):
    fake = FakeTwilio()
    env = {"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
           "TWILIO_FROM": OUR_NUMBER, "TWILIO_API_URL": fake.url}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    yield fake
    fake.stop()


def wait_state(row_id, states, timeout=20):
    return wait_for_state(SmsMessage, row_id, states, timeout)


def test_console_backend_records_and_the_timeline_shows_it(client, users, worker):
    login(client, users["maria"])
    p = make_project(customer_phone="+14155550123")
    resp = client.post(f"/projects/{p.id}/texts", data={"phone": "+14155550123", "body": "Your permit is issued."},
                       headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "Text queued" in resp.get_data(as_text=True)
    sms = wait_state(SmsMessage.get().id, ("recorded",))
    assert sms.provider_id is None and sms.created_by_id == users["maria"].id
    assert Event.select().where(Event.project == p, Event.kind == "sms",
                                Event.summary.contains("recorded (not sent")).exists()


def test_twilio_backend_sends_through_the_rest_api(db, users, worker, twilio):
    from workers.actors import send_sms
    p = make_project(customer_phone="+14155550123")
    sms = queue(p, "(415) 555-0123", "Please sign the agreement.", users["maria"])
    send_sms.send(sms.id)
    sent = wait_state(sms.id, ("sent",))
    assert sent.provider_id.startswith("SM") and sent.phone == "+14155550123"
    req = twilio.requests[0]
    assert req["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert req["form"] == {"To": "+14155550123", "From": OUR_NUMBER, "Body": "Please sign the agreement."}
    assert req["auth"].startswith("Basic ")


def test_twilio_outage_is_retried_and_a_refusal_surfaces(db, users, worker, twilio):
    from workers.actors import send_sms
    p = make_project(customer_phone="+14155550123")
    twilio.answers = [(503, {"code": 20500, "message": "Service unavailable", "status": 503})]
    sms = queue(p, "+14155550123", "First", users["maria"])
    send_sms.send(sms.id)
    assert wait_state(sms.id, ("sent",)).attempts == 2
    twilio.answers = [(400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400})]
    refused = queue(p, "+14155550123", "Second", users["maria"])
    send_sms.send(refused.id)
    failed = wait_state(refused.id, ("failed",))
    assert "21211" in failed.last_error or "not a valid phone number" in failed.last_error
    assert failed.attempts == 1
    assert Event.select().where(Event.project == p, Event.summary.contains("FAILED")).exists()


def signed_post(client, params: dict, token: str = TOKEN, url: str = "http://127.0.0.1:5000/sms/twilio"):
    from twilio.request_validator import RequestValidator
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature})


@pytest.fixture
def webhook_client(db, twilio):
    from app import create_app
    app = create_app(overrides(sms_backend="twilio", twilio_auth_token=TOKEN, base_url="http://127.0.0.1:5000"))
    return app.test_client()


def test_inbound_text_with_a_valid_signature_lands_on_the_project(webhook_client):
    p = make_project(customer_phone="+14155550123")
    params = {"From": "+14155550123", "To": OUR_NUMBER, "Body": "Meter guy came today", "MessageSid": "SM" + "a" * 32}
    resp = signed_post(webhook_client, params)
    assert resp.status_code == 200 and resp.mimetype == "text/xml" and b"<Response/>" in resp.data
    sms = SmsMessage.get()
    assert (sms.project_id, sms.direction, sms.state, sms.body) == (p.id, "inbound", "received", "Meter guy came today")
    assert Event.select().where(Event.project == p, Event.kind == "sms", Event.summary.startswith("Text from")).exists()
    # Twilio retries a webhook it thinks failed: the same MessageSid is one row.
    assert signed_post(webhook_client, params).status_code == 200 and SmsMessage.select().count() == 1


def test_forged_or_missing_signatures_are_refused(webhook_client):
    make_project(customer_phone="+14155550123")
    params = {"From": "+14155550123", "To": OUR_NUMBER, "Body": "STOP", "MessageSid": "SM" + "b" * 32}
    assert signed_post(webhook_client, params, token="someone-elses-token").status_code == 403
    assert webhook_client.post("/sms/twilio", data=params).status_code == 403
    tampered = dict(params, Body="START")
    from twilio.request_validator import RequestValidator
    good_for_other_body = RequestValidator(TOKEN).compute_signature("http://127.0.0.1:5000/sms/twilio", params)
    resp = webhook_client.post("/sms/twilio", data=tampered, headers={"X-Twilio-Signature": good_for_other_body})
    assert resp.status_code == 403
    assert SmsMessage.select().count() == 0 and SmsOptOut.select().count() == 0


def test_stop_and_start_are_honoured(webhook_client, users):
    p = make_project(customer_phone="+14155550123")
    signed_post(webhook_client, {"From": "+14155550123", "Body": " Stop ", "MessageSid": "SM" + "c" * 32})
    assert SmsOptOut.select().where(SmsOptOut.phone == "+14155550123").exists()
    with pytest.raises(SmsError, match="answered STOP"):
        queue(p, "+14155550123", "Hello", users["maria"])
    signed_post(webhook_client, {"From": "+14155550123", "Body": "START", "MessageSid": "SM" + "d" * 32})
    assert queue(p, "+14155550123", "Hello again", users["maria"]).state == "queued"
    summaries = [e.summary for e in Event.select().where(Event.project == p, Event.kind == "sms").order_by(Event.id)]
    assert any("opted out" in s for s in summaries) and any("opted back in" in s for s in summaries)


def test_text_validation_keeps_the_input(client, users):
    login(client, users["maria"])
    p = make_project(customer_phone="+14155550123")
    for phone, body, message in (("12", "hi", "not a phone number"), ("+14155550123", "  ", "the text is empty"),
                                 ("+14155550123", "x" * 1601, "the limit is 1600")):
        resp = client.post(f"/projects/{p.id}/texts", data={"phone": phone, "body": body},
                           headers={"HX-Request": "true"})
        assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert SmsMessage.select().count() == 0


def test_webhook_is_off_unless_twilio_is_the_backend(client):
    assert client.post("/sms/twilio", data={"From": "+14155550123", "Body": "hi"}).status_code == 404


def test_only_the_projects_own_numbers_can_be_texted(db, users):
    p = make_project(customer_phone="+14155550123")
    with pytest.raises(SmsError, match="not a number of this project"):
        queue(p, "+14155550999", "Hello", users["maria"])
    from models.messages import add_contact
    add_contact(p, "Rita", "utility", "rita@pge.com", "+14155550999")
    assert queue(p, "+14155550999", "Hello", users["maria"]).contact.name == "Rita"
