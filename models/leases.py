"""Short leases on claimed rows, renewed by a heartbeat while the work runs.

A worker that claims a row (a mail to process, a job to run) holds it for LEASE, and a heartbeat
thread renews every held lease each BEAT seconds. A worker killed mid-work stops renewing, so its
claim expires within seconds whatever the actor's time limit, and the next delivery (or the sweeper)
takes the row over. Finishing checks the lease is still ours, so a worker that lost its lease (it
stalled past it, the database went away) can never write over the one that took over.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid

from models.base import db, utcnow

log = logging.getLogger(__name__)
LEASE = dt.timedelta(seconds=15)
BEAT = 5.0  # seconds between renewals: three beats fit in a lease


class LeaseLost(Exception):
    """The row's lease expired and another worker took it over: this worker's result must not be kept."""


def new_holder() -> str:
    """Who holds a claim: host, process and a random part (one per claim)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def expiry(now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) + LEASE


class Heartbeat:
    """Renews the leases this process holds, from one daemon thread with its own connection."""

    def __init__(self, every: float = BEAT):
        self.every = every
        self._held: dict[tuple[type, int], str] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self.failing = False  # the last renewal could not reach the database

    def hold(self, model, row_id: int, holder: str) -> None:
        with self._lock:
            self._held[(model, row_id)] = holder
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ixdesk-heartbeat", daemon=True)
                self._thread.start()

    def drop(self, model, row_id: int) -> None:
        with self._lock:
            self._held.pop((model, row_id), None)

    def held(self) -> dict[tuple[type, int], str]:
        with self._lock:
            return dict(self._held)

    def beat(self) -> int:
        """Renew every held lease once; returns how many are still ours."""
        held = self.held()
        if not held:
            return 0
        renewed = 0
        until = expiry()
        with db.connection_context():
            for (model, row_id), holder in held.items():
                renewed += model.update(lease_until=until).where(
                    (model.id == row_id) & (model.lease_holder == holder)).execute()
        return renewed

    def _run(self) -> None:
        while True:
            self._wake.wait(self.every)
            if db.obj is None:
                continue
            try:
                self.beat()
                if self.failing:
                    log.info("lease heartbeat reaches the database again")
                self.failing = False
            except Exception as exc:  # noqa: BLE001 - an outage must not kill the thread; leases expire meanwhile
                if not self.failing:
                    log.warning("lease heartbeat cannot reach the database (%s); held rows are taken over "
                                "by others if this lasts %d s", type(exc).__name__, LEASE.total_seconds())
                self.failing = True


HEARTBEAT = Heartbeat()


class Held:
    """`with Held(Model, row_id, holder):` keeps the row's lease renewed for the duration."""

    def __init__(self, model, row_id: int, holder: str):
        self.key = (model, row_id, holder)

    def __enter__(self):
        HEARTBEAT.hold(*self.key)
        return self

    def __exit__(self, *exc):
        HEARTBEAT.drop(self.key[0], self.key[1])
        return False
