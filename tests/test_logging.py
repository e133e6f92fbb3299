"""Log lines: one JSON object each with LOG_FORMAT=json, naming the request, mail and job they concern,
and never carrying a password, an API secret or a reply token's HMAC, in either format."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest

import logs

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def captured(fmt: str = "json", level: int = logging.DEBUG, logger: str = ""):
    """Lines as our handlers format them (formatter and redaction filter), from every thread."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logs.prepare(handler, fmt)
    if fmt == "text":
        handler.setFormatter(logging.Formatter(logs.TEXT_FORMAT))
    target = logging.getLogger(logger)
    before = target.level
    target.addHandler(handler)
    target.setLevel(level)
    lines: list = []
    try:
        yield lines
    finally:
        target.removeHandler(handler)
        target.setLevel(before)
        text = out.getvalue().splitlines()
        lines.extend(json.loads(line) for line in text) if fmt == "json" else lines.extend(text)


def test_a_json_line_has_time_level_logger_message_and_the_traceback():
    with captured() as lines:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("ixdesk.test").exception("it failed for %s", "mail 3")
    (line,) = lines
    assert line["level"] == "ERROR" and line["logger"] == "ixdesk.test" and line["message"] == "it failed for mail 3"
    assert line["time"].endswith("Z") and line["time"][10] == "T"
    assert "ValueError: boom" in line["exc"]
    assert "request_id" not in line and "mail_id" not in line


def test_a_web_request_logs_with_its_request_id_and_answers_with_it(db):
    from app import create_app
    from tests.conftest import overrides
    app = create_app(overrides(sms_backend="twilio", twilio_account_sid="AC" + "0" * 32,
                               twilio_auth_token="t" * 32, twilio_from="+14155550100"))
    client = app.test_client()
    with captured(logger="web") as lines:
        resp = client.post("/sms/twilio", data={"From": "+14155550100", "Body": "hi"},
                           headers={"X-Request-Id": "lb-7f3a.42_x"})
    assert resp.status_code == 403 and resp.headers["X-Request-Id"] == "lb-7f3a.42_x"
    (line,) = [entry for entry in lines if "bad signature" in entry["message"]]
    assert line["request_id"] == "lb-7f3a.42_x" and line["level"] == "WARNING"

    with captured(logger="web") as lines:
        resp = client.post("/sms/twilio", data={"Body": "hi"}, headers={"X-Request-Id": "no spaces or ;" + "x" * 70})
    made = resp.headers["X-Request-Id"]
    assert made and " " not in made and len(made) <= 64  # an unsafe id is replaced, not echoed
    assert [entry["request_id"] for entry in lines if "bad signature" in entry["message"]] == [made]
    assert logs.current() == {}  # nothing of the request stays behind on this thread

    assert client.get("/no/such/page").headers["X-Request-Id"]  # error answers carry it too
    assert client.get("/healthz", headers={"X-Request-Id": "a" * 64}).headers["X-Request-Id"] == "a" * 64
    assert client.get("/healthz", headers={"X-Request-Id": "a" * 65}).headers["X-Request-Id"] != "a" * 65


def mail(n: int):
    from inbox.store import store
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "customer@example.net", "desk@example.com", f"the bill {n}"
    msg["Message-ID"] = f"<logging-{n}@example.net>"
    msg.set_content("Here is the bill you asked for.")
    return store(msg.as_bytes(), "cli").mail


def test_lines_written_while_a_mail_runs_name_the_mail(db):
    from inbox.intake import intake_from
    from inbox.pipeline import process
    import config
    stored, intake = mail(1), intake_from(config.load(web=False))
    with captured(logger="peewee") as lines:  # every query the run makes is a line at DEBUG
        process(stored, intake)
        logging.getLogger("peewee").debug("after the run")
    during = [line for line in lines if line["message"] != "after the run"]
    assert during and all(line["mail_id"] == stored.id for line in during)
    (after,) = [line for line in lines if line["message"] == "after the run"]
    assert "mail_id" not in after


def test_lines_written_by_the_ingest_actor_name_the_mail_the_actor_and_the_message(db, worker):
    from workers import actors
    from workers.broker import broker
    stored = mail(2)
    with captured(logger="peewee") as lines:
        sent = actors.ingest_mail.send(stored.id)
        broker.join(actors.ingest_mail.queue_name)
        worker.join()
    from_worker = [line for line in lines if line.get("actor") == "ingest_mail"]
    assert from_worker, lines[:3]
    assert {line["mail_id"] for line in from_worker} == {stored.id}
    assert {line["message_id"] for line in from_worker} == {sent.message_id}


def test_a_job_actor_logs_with_its_job_id():
    import dramatiq
    from dramatiq import Worker
    from workers.broker import build_broker
    stub = build_broker("stub")

    def rebuild(job_id: int) -> None:
        logging.getLogger("workers.test").info("rebuilding")

    def tidy(days: int) -> None:  # a first argument that names no row
        logging.getLogger("workers.test").info("tidying")

    rebuild_actor = dramatiq.actor(rebuild, broker=stub, queue_name="jobs")
    tidy_actor = dramatiq.actor(tidy, broker=stub, queue_name="jobs")
    worker = Worker(stub, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        with captured(logger="workers.test") as lines:
            message = rebuild_actor.send(41)
            tidy_actor.send(7)
            stub.join("jobs")
            worker.join()
    finally:
        worker.stop()
    rebuilt, tidied = lines
    assert rebuilt["job_id"] == 41 and rebuilt["actor"] == "rebuild" and rebuilt["message_id"] == message.message_id
    assert tidied["actor"] == "tidy" and "job_id" not in tidied and "mail_id" not in tidied


SECRET_LINES = [
    ("watching imaps://desk%40example.com:s3cr3t-Pw@mail.example.com/INBOX",
     "watching imaps://desk%40example.com:***@mail.example.com/INBOX", "s3cr3t-Pw"),
    ("database postgresql://ixdesk:pg-pass@db.internal:5432/ixdesk is down",
     "database postgresql://ixdesk:***@db.internal:5432/ixdesk is down", "pg-pass"),
    ("broker redis://:redis-pass@cache:6379/0 refused", "broker redis://:***@cache:6379/0 refused", "redis-pass"),
    ("token ixd_Q2hhbmdlTWVQbGVhc2UtMTIzNDU2Nzg5MA was used", "token ixd_*** was used", "Q2hhbmdlTWVQ"),
    ("sent Authorization: Bearer ixd_abcdEFGH1234_-xyz", "sent Authorization: Bearer ***", "abcdEFGH1234"),
    ("conninfo host=db user=ixdesk password=hunter22 dbname=x", "conninfo host=db user=ixdesk password=*** dbname=x",
     "hunter22"),
]


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("raw, clean, secret", SECRET_LINES)
def test_secrets_are_redacted_in_either_format(fmt, raw, clean, secret):
    with captured(fmt, logger="ixdesk.secrets") as lines:
        logging.getLogger("ixdesk.secrets").warning("%s", raw)
    (line,) = lines
    message = line["message"] if fmt == "json" else line
    assert secret not in message
    assert message.endswith(clean)


def test_a_reply_tokens_hmac_and_a_traceback_are_redacted(db):
    from models import tokens
    token = tokens.encode(1234)
    project_part, mac = token.rsplit("-", 1)
    with captured(logger="ixdesk.secrets") as lines:
        try:
            raise ConnectionError("cannot reach imap://desk:tb-secret@mail.example.com")
        except ConnectionError:
            logging.getLogger("ixdesk.secrets").exception("reply %s did not go out", token)
    (line,) = lines
    assert line["message"] == f"reply {project_part}-*** did not go out" and mac not in json.dumps(line)
    assert "tb-secret" not in line["exc"] and "imap://desk:***@mail.example.com" in line["exc"]


def test_configure_logging_writes_json_lines_and_keeps_one_handler():
    """As a process starts: LOG_FORMAT=json read by config.load, a handler that another tool put first kept."""
    script = (
        "import logging, sys, config\n"
        "settings = config.load(web=False)\n"
        "if sys.argv[1] == 'preset':\n"
        "    logging.basicConfig(format='[dramatiq-style] %(message)s')\n"
        "config.configure_logging(settings.log_level, settings.log_format)\n"
        "config.configure_logging(settings.log_level, settings.log_format)\n"
        "assert len(logging.getLogger().handlers) == 1, logging.getLogger().handlers\n"
        "logging.getLogger('peewee').debug('SELECT body FROM mail')\n"
        "logging.getLogger('inbox.imap').warning('login to imap://desk:pw-123@mail.example.com failed')\n")
    env = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG", "PYTHONPATH": str(ROOT)}
    for mode in ("fresh", "preset"):
        done = subprocess.run([sys.executable, "-c", script, mode], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        (line,) = [json.loads(text) for text in done.stderr.splitlines()]  # peewee's query line is not there
        assert line["logger"] == "inbox.imap" and line["level"] == "WARNING"
        assert line["message"] == "login to imap://desk:***@mail.example.com failed"
