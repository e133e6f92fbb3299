"""A small clock that sends the periodic actors (one per deployment: embedded thread or `flask schedule`)."""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)
EVERY_SECONDS = {"recompute_clocks": 15 * 60, "send_digests": 10 * 60, "sweep_mail": 15,
                 "send_reminders": 30 * 60, "prune_sign_ins": 60 * 60}


def tick(now: float, last: dict[str, float]) -> list[str]:
    """Names of the periodic actors due at `now`; updates `last`."""
    due = [name for name, every in EVERY_SECONDS.items() if now - last.get(name, float("-inf")) >= every]
    for name in due:
        last[name] = now
    return due


def run(stop: threading.Event, poll: float = 5.0) -> None:
    """Send each periodic actor when due (at start, then every period) until stop is set."""
    from workers import actors
    last: dict[str, float] = {}
    while not stop.is_set():
        for name in tick(time.monotonic(), last):
            try:
                getattr(actors, name).send()
            except Exception:  # a broker hiccup must not kill the clock
                log.exception("could not enqueue %s", name)
        stop.wait(poll)


def start_thread() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run, args=(stop,), name="ixdesk-schedule", daemon=True).start()
    return stop
