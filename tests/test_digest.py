"""The morning digest: composed from the day list, sent once per business day over real SMTP (aiosmtpd)."""
from __future__ import annotations

import datetime as dt
import socket
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from models import User
from models.applications import file_application
from outbox.digest import send_due
from tests.conftest import login
from tests.factories import make_project


class Sink(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


def desk(users):
    users["maria"].digest_opt_in = True
    users["maria"].save()
    p = make_project(external_id="3763MORR", customer_name="Olivia <b>Morrison</b>", coordinator=users["maria"])
    file_application(p, "utility_part1", "SUBMITTED", on=dt.date(2026, 10, 1))


MONDAY_8AM = dt.datetime(2026, 11, 30, 13, 0)


def test_digest_goes_once_per_business_day_to_opted_in_users(db, users, smtp, tmp_path):
    sink, url = smtp
    desk(users)
    args = dict(digest_hour=12, mail_from="ixdesk <desk@example.com>", base_url="https://desk.example.com",
                smtp_url=url, outbox_dir=tmp_path)
    assert send_due(dt.datetime(2026, 11, 30, 11, 0), **args) == 0  # before the hour
    assert send_due(dt.datetime(2026, 11, 28, 13, 0), **args) == 0  # a Saturday
    assert send_due(MONDAY_8AM, **args) == 1
    assert send_due(MONDAY_8AM + dt.timedelta(minutes=10), **args) == 0  # once a day
    deadline = time.monotonic() + 5
    while not sink.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    msg = sink.messages[0]
    assert msg["To"] == "Maria Ortiz <maria@example.com>" and msg["Auto-Submitted"] == "auto-generated"
    assert msg["Subject"].startswith("Your day: 2 things to do")
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert "3763MORR" in text and "https://desk.example.com/projects/" in text
    assert "Olivia &lt;b&gt;Morrison&lt;/b&gt;" in html  # customer data is escaped in HTML mail
    assert User.get_by_id(users["maria"].id).last_digest_on == dt.date(2026, 11, 30)
    assert all(m["To"] != "James Chen <james@example.com>" for m in sink.messages)


def test_failed_delivery_is_retried_next_time(db, users, tmp_path):
    desk(users)
    dead = f"smtp://127.0.0.1:{free_port()}"
    args = dict(digest_hour=12, mail_from="ixdesk <desk@example.com>", base_url="https://d.example.com",
                outbox_dir=tmp_path)
    assert send_due(MONDAY_8AM, smtp_url=dead, **args) == 0
    assert User.get_by_id(users["maria"].id).last_digest_on is None
    assert send_due(MONDAY_8AM, smtp_url="", **args) == 1  # no SMTP configured: an .eml file
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_preferences_toggle_digest_and_change_password(client, users):
    login(client, users["maria"])
    client.post("/me", data={"form": "digest", "digest": "1"})
    assert User.get_by_id(users["maria"].id).digest_opt_in
    resp = client.post("/me", data={"form": "password", "current": "wrong", "new": "x", "confirm": "x"})
    assert resp.status_code == 422 and "not your current password" in resp.get_data(as_text=True)
    resp = client.post("/me", data={"form": "password", "current": "correct-horse-battery", "new": "short",
                                    "confirm": "short"})
    assert resp.status_code == 422 and "at least 10 characters" in resp.get_data(as_text=True)
    resp = client.post("/me", data={"form": "password", "current": "correct-horse-battery",
                                    "new": "a-new-long-password", "confirm": "a-new-long-password"})
    assert resp.status_code == 303 and client.get("/projects").status_code == 200  # this session stays
    assert User.authenticate("maria@example.com", "a-new-long-password")
