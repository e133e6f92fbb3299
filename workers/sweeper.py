"""Re-enqueue work whose wake-up was lost (an in-memory broker restarted, a worker died)."""
from __future__ import annotations

import logging

from models import Job

log = logging.getLogger(__name__)
ACTORS = {"import": "import_projects"}


def requeue_stale() -> int:
    """Send every queued job's actor again; actors ignore jobs already taken, so this is safe."""
    from workers import actors
    sent = 0
    for job in Job.select().where(Job.state == "queued"):
        name = ACTORS.get(job.kind)
        if name:
            getattr(actors, name).send(job.id)
            sent += 1
    if sent:
        log.info("re-enqueued %d queued jobs", sent)
    return sent
