"""The in-process worker of the embedded mode (StubBroker + Worker threads)."""
from __future__ import annotations

import logging
import threading

from dramatiq import Worker

log = logging.getLogger(__name__)
_lock = threading.Lock()
_worker: Worker | None = None


def start(threads: int = 2) -> Worker:
    """Start the single in-process worker once per process; later calls return it."""
    global _worker
    with _lock:
        if _worker is None:
            from workers import broker as broker_module
            import workers.actors  # noqa: F401  (declares the actors on the broker)
            _worker = Worker(broker_module.broker, worker_threads=threads, worker_timeout=100)
            _worker.start()
            log.info("embedded worker started with %d threads", threads)
        return _worker


def stop() -> None:
    global _worker
    with _lock:
        if _worker is not None:
            _worker.stop()
            _worker = None
