"""What the desk's parts say about themselves: each check runs on its own under a short timeout and reports
its failure instead of raising, so one broken part never hides the others."""
from __future__ import annotations

import datetime as dt
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from peewee import fn

import logs
from models.base import db, is_postgres, utcnow

TIMEOUT = 2.0  # seconds, per check
BROKER_TIMEOUT = 1.0
MAIL_STATES = ("pending", "processing", "quarantined")
LISTED_STUCK = 20  # ids of stuck mail shown (the count is exact)


@dataclass
class Check:
    ok: bool
    took_ms: float
    error: str = ""
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "took_ms": self.took_ms, "error": self.error, **self.details}


def _problem(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return logs.redact(f"{type(exc).__name__}: {first}"[:300])


def run(check: Callable[[], dict], timeout: float = TIMEOUT, on_database: bool = True) -> Check:
    """Run one check; its failure (an exception, a timeout) becomes the Check's error."""
    started = time.perf_counter()
    try:
        if on_database:
            with _time_limit(timeout):
                details = check()
        else:
            details = check()
        return Check(True, _ms(started), details=details)
    except Exception as exc:  # noqa: BLE001 - a failing part is reported, never raised
        return Check(False, _ms(started), error=_problem(exc))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Queries in the block give up after `seconds`: PostgreSQL's statement_timeout for this transaction,
    SQLite's progress handler. No write lock is taken on SQLite (no transaction is opened)."""
    if is_postgres():
        with db.atomic():
            db.execute_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
            yield
        return
    connection = db.connection()
    if not isinstance(connection, sqlite3.Connection):
        yield
        return
    deadline = time.monotonic() + seconds
    connection.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        yield
    finally:
        connection.set_progress_handler(None, 0)


def database(timeout: float = TIMEOUT) -> Check:
    """Reachable: a SELECT 1 answers (its latency in took_ms)."""
    def select_one() -> dict:
        db.execute_sql("SELECT 1").fetchone()
        return {}
    return run(select_one, timeout)


def mail(now: dt.datetime | None = None) -> Check:
    """Counts of mail waiting, being processed and set aside; the oldest waiting one; mail whose worker's
    lease ran out while processing (stuck: the sweeper sends it again within seconds)."""
    from models.inbound import InboundMail

    def counts() -> dict:
        at = now or utcnow()
        rows = (InboundMail.select(InboundMail.state, fn.COUNT(InboundMail.id))
                .where(InboundMail.state.in_(MAIL_STATES)).group_by(InboundMail.state).tuples())
        by_state = {state: 0 for state in MAIL_STATES} | dict(rows)
        oldest = (InboundMail.select(fn.MIN(InboundMail.received_at))
                  .where(InboundMail.state == "pending").scalar())
        stuck = (InboundMail.select(InboundMail.id)
                 .where((InboundMail.state == "processing") &
                        (InboundMail.lease_until.is_null() | (InboundMail.lease_until < at)))
                 .order_by(InboundMail.id))
        return {"by_state": by_state, "oldest_pending_at": _iso(oldest),
                "oldest_pending_age_s": round((at - oldest).total_seconds()) if oldest else None,
                "stuck": stuck.count(), "stuck_ids": [m.id for m in stuck.limit(LISTED_STUCK)]}
    return run(counts)


def mailboxes(configured: Iterable[str] = (), now: dt.datetime | None = None) -> Check:
    """Each mailbox watched or configured (keys carry no password): last successful fetch, last error,
    who holds its lease and until when. failing: an error came after the last successful fetch."""
    from models.inbound import Mailbox

    def boxes() -> dict:
        at = now or utcnow()
        rows = {box.key: box for box in Mailbox.select().order_by(Mailbox.key)}
        wanted = list(dict.fromkeys(configured))
        listed = []
        for key in wanted + [k for k in rows if k not in wanted]:
            box = rows.get(key)
            if box is None:
                listed.append({"key": logs.redact(key), "configured": True, "seen": False, "last_poll_at": None,
                               "last_error": "", "last_error_at": None, "failing": False, "lease_holder": "",
                               "lease_until": None, "lease_live": False, "fetched": 0})
                continue
            failing = bool(box.last_error_at and (box.last_poll_at is None or box.last_error_at > box.last_poll_at))
            listed.append({"key": logs.redact(box.key), "configured": key in wanted, "seen": True,
                           "last_poll_at": _iso(box.last_poll_at), "last_error": logs.redact(box.last_error),
                           "last_error_at": _iso(box.last_error_at), "failing": failing,
                           "lease_holder": box.lease_holder, "lease_until": _iso(box.lease_until),
                           "lease_live": bool(box.lease_holder and box.lease_until and box.lease_until > at),
                           "fetched": box.fetched})
        return {"boxes": listed}
    return run(boxes)


def webhooks() -> Check:
    """Deliveries waiting to be sent (pending, retries included) and being sent now."""
    from models.webhooks import WebhookDelivery

    def counts() -> dict:
        rows = dict(WebhookDelivery.select(WebhookDelivery.state, fn.COUNT(WebhookDelivery.id))
                    .where(WebhookDelivery.state.in_(("pending", "sending"))).group_by(WebhookDelivery.state)
                    .tuples())
        return {"waiting": rows.get("pending", 0), "sending": rows.get("sending", 0)}
    return run(counts)


def jobs() -> Check:
    """Imports, packet builds and reconciles queued and running."""
    from models import Job

    def counts() -> dict:
        rows = dict(Job.select(Job.state, fn.COUNT(Job.id)).where(Job.state.in_(("queued", "running")))
                    .group_by(Job.state).tuples())
        return {"queued": rows.get("queued", 0), "running": rows.get("running", 0)}
    return run(counts)


def broker(url: str, namespace: str, queues: Iterable[str], stub=None, timeout: float = BROKER_TIMEOUT) -> Check:
    """Reachable, and per queue the messages waiting, delayed (retries) and dead-lettered where the broker
    can tell: Redis list lengths under the namespace, RabbitMQ's passive declare, the in-memory stub's queues."""
    names = sorted({q for q in queues if not q.endswith((".DQ", ".XQ"))})
    if url in ("", "embedded", "stub"):
        return run(lambda: {"kind": "embedded", "queues": _stub_depths(stub, names)}, on_database=False)
    if url.startswith(("redis://", "rediss://")):
        return run(lambda: {"kind": "redis", "queues": _redis_depths(url, namespace, names, timeout)},
                   on_database=False)
    if url.startswith(("amqp://", "amqps://")):
        return run(lambda: {"kind": "rabbitmq", "queues": _rabbitmq_depths(url, names, timeout)},
                   on_database=False)
    return Check(False, 0.0, error=f"unsupported broker URL {logs.redact(url)!r}")


def _stub_depths(stub, names: list[str]) -> dict:
    from dramatiq.common import dq_name
    if stub is None:
        raise RuntimeError("no in-memory broker in this process")
    queues = stub.queues
    return {name: {"waiting": queues[name].qsize() if name in queues else 0,
                   "delayed": queues[dq_name(name)].qsize() if dq_name(name) in queues else 0,
                   "dead": len(stub.dead_letters_by_queue.get(name, ()))} for name in names}


def _redis_depths(url: str, namespace: str, names: list[str], timeout: float) -> dict:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    from dramatiq.common import dq_name, xq_name
    # One try: a broker that is down is reported at once, not after the client's retries.
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                  retry=Retry(NoBackoff(), 0))
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.llen(f"{namespace}:{name}")
            pipe.llen(f"{namespace}:{dq_name(name)}")
            pipe.zcard(f"{namespace}:{xq_name(name)}")
        counts = pipe.execute() if names else (client.ping() and [])
    finally:
        client.close()
    return {name: dict(zip(("waiting", "delayed", "dead"), counts[i * 3:i * 3 + 3])) for i, name in enumerate(names)}


def _rabbitmq_depths(url: str, names: list[str], timeout: float) -> dict:
    import pika
    from pika.exceptions import ChannelClosedByBroker
    from dramatiq.common import dq_name, xq_name
    params = pika.URLParameters(url)
    params.socket_timeout = params.stack_timeout = params.blocked_connection_timeout = timeout
    params.connection_attempts, params.retry_delay = 1, 0
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        depths = {}
        for name in names:
            depth = {}
            for label, queue in (("waiting", name), ("delayed", dq_name(name)), ("dead", xq_name(name))):
                try:
                    depth[label] = channel.queue_declare(queue=queue, passive=True).method.message_count
                except ChannelClosedByBroker:  # not declared yet: nothing in it; the channel must be reopened
                    depth[label] = 0
                    channel = connection.channel()
            depths[name] = depth
        return depths
    finally:
        connection.close()


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def collect(settings, broker_obj=None, queues: Iterable[str] = (), now: dt.datetime | None = None) -> dict:
    """Every part of the desk, each checked on its own: ok is true only when all are."""
    from inbox.watch import mailbox_key
    at = now or utcnow()
    keys = []
    for url in settings.inbox_urls:
        if url.startswith("maildir:"):
            continue  # a local folder keeps no Mailbox row (no cursor, no lease): nothing to report
        try:
            keys.append(mailbox_key(url))
        except ValueError:
            continue  # config.load refuses a bad URL at start; nothing to show for one here
    parts = {"database": database(), "broker": broker(settings.broker_url, settings.broker_namespace, queues,
                                                       stub=broker_obj),
             "mailboxes": mailboxes(keys, at), "mail": mail(at), "webhooks": webhooks(), "jobs": jobs()}
    return {"ok": all(part.ok for part in parts.values()), "checked_at": _iso(at),
            **{name: part.to_dict() for name, part in parts.items()},
            "portals": []}  # portal connectors report here once there are any

