"""The Dramatiq broker, built from BROKER_URL before any actor is defined."""
from __future__ import annotations

import inspect
import logging
import os
import threading

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

import logs
from models.base import db

log = logging.getLogger(__name__)


class DatabaseConnection(Middleware):
    """Each message runs on an open connection that is closed afterwards (no leaks across threads)."""

    def before_process_message(self, broker, message):
        if db.obj is not None:
            db.connect(reuse_if_open=True)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if db.obj is not None and not db.is_closed():
            db.close()

    after_skip_message = after_process_message


class LogContext(Middleware):
    """Lines logged while a message runs name its actor and message id, and the row it works on: an actor's
    first argument named mail_id or job_id (ingest_mail, import and packet jobs) is that row's id."""

    ROW_FIELDS = ("mail_id", "job_id")

    def __init__(self):
        self._held = threading.local()  # a worker thread runs one message at a time
        self._row_field: dict[str, str | None] = {}

    def row_field(self, broker, actor_name: str) -> str | None:
        if actor_name not in self._row_field:
            try:
                first = next(iter(inspect.signature(broker.get_actor(actor_name).fn).parameters), None)
            except Exception:  # noqa: BLE001 - an unknown actor just gets no row id
                first = None
            self._row_field[actor_name] = first if first in self.ROW_FIELDS else None
        return self._row_field[actor_name]

    def before_process_message(self, broker, message):
        fields = {"actor": message.actor_name, "message_id": message.message_id}
        name = self.row_field(broker, message.actor_name)
        if name and message.args and isinstance(message.args[0], int):
            fields[name] = message.args[0]
        self._held.tokens = logs.bind(**fields)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        tokens, self._held.tokens = getattr(self._held, "tokens", None), None
        if tokens:
            logs.unbind(tokens)

    after_skip_message = after_process_message


def build_broker(url: str, namespace: str = "ixdesk") -> dramatiq.Broker:
    """StubBroker for the embedded mode, RedisBroker or RabbitmqBroker otherwise."""
    if url in ("", "embedded", "stub"):
        broker = StubBroker()
        broker.emit_after("process_boot")
    elif url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker
        broker = RedisBroker(url=url, namespace=namespace)
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker
        broker = RabbitmqBroker(url=url)
    else:
        raise ValueError(f"BROKER_URL: unsupported broker URL {url!r}")
    broker.add_middleware(DatabaseConnection())
    # First in, last out: the retry and failure lines other middleware log carry the context too.
    broker.add_middleware(LogContext(), before=type(broker.middleware[0]))
    return broker


# Built at import, from the environment, so `dramatiq workers` and the web process agree.
broker = build_broker(os.environ.get("BROKER_URL", "").strip(),
                      os.environ.get("BROKER_NAMESPACE", "ixdesk").strip() or "ixdesk")
dramatiq.set_broker(broker)
