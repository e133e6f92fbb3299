"""The Dramatiq broker, built from BROKER_URL before any actor is defined."""
from __future__ import annotations

import logging
import os

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

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
    return broker


# Built at import, from the environment, so `dramatiq workers` and the web process agree.
broker = build_broker(os.environ.get("BROKER_URL", "").strip(),
                      os.environ.get("BROKER_NAMESPACE", "ixdesk").strip() or "ixdesk")
dramatiq.set_broker(broker)
