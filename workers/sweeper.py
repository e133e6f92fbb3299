"""Re-enqueue work whose wake-up was lost (an in-memory broker restarted, a worker died)."""
from __future__ import annotations

import logging

import datetime as dt

from models import Job
from models.base import utcnow

log = logging.getLogger(__name__)
ACTORS = {"import": "import_projects", "packet": "build_packet", "reconcile": "reconcile_mailbox"}


# A running job older than its actor's time limit died with its worker.
STALE_AFTER = dt.timedelta(minutes=35)
# Mail is claimed under a short lease (models.leases), so a dead worker's mail is free within seconds.
PENDING_AFTER = dt.timedelta(seconds=20)  # a wake-up this old that has not started was probably lost
WAKE_AGAIN_AFTER = dt.timedelta(seconds=20)  # one mail is sent again at most this often
SWEEP_BATCH = 500  # per sweep: a backlog is not flooded with second wake-ups


def requeue_stale() -> int:
    """Fail jobs abandoned mid-run, send every queued job again (actors ignore jobs already taken)."""
    from workers import actors
    died = (Job.update(state="failed", message="the worker running this job stopped; start it again",
                       finished_at=utcnow())
            .where((Job.state == "running") & (Job.started_at < utcnow() - STALE_AFTER)).execute())
    if died:
        log.warning("marked %d abandoned jobs failed", died)
    sent = 0
    for job in Job.select().where(Job.state == "queued"):
        name = ACTORS.get(job.kind)
        if name:
            getattr(actors, name).send(job.id)
            sent += 1
    from models import OutboundMessage
    for msg in OutboundMessage.select(OutboundMessage.id).where(OutboundMessage.state == "queued"):
        actors.send_email.send(msg.id)
        sent += 1
    from models.sms import SmsMessage
    for sms in SmsMessage.select(SmsMessage.id).where(SmsMessage.state == "queued"):
        actors.send_sms.send(sms.id)
        sent += 1
    sent += requeue_mail(older_than=dt.timedelta(0))
    from workers.webhook_actors import requeue_stalled
    sent += requeue_stalled()
    if sent:
        log.info("re-enqueued %d queued jobs, messages and mails", sent)
    return sent


def requeue_mail(older_than: dt.timedelta = PENDING_AFTER) -> int:
    """Send mail to the pipeline again when its wake-up may have been lost: pending for a while, or claimed
    by a worker whose lease ran out (it died, or lost the database). Workers ignore mail a live worker has."""
    from models.inbound import InboundMail
    from workers import actors
    now = utcnow()
    lost = (((InboundMail.state == "pending") & (InboundMail.received_at <= now - older_than)) |
            ((InboundMail.state == "processing") &
             (InboundMail.lease_until.is_null() | (InboundMail.lease_until < now))))
    rested = InboundMail.woken_at.is_null() | (InboundMail.woken_at < now - WAKE_AGAIN_AFTER)
    ids = [m.id for m in InboundMail.select(InboundMail.id).where(lost & rested)
           .order_by(InboundMail.id).limit(SWEEP_BATCH)]
    if ids:
        InboundMail.update(woken_at=now).where(InboundMail.id.in_(ids)).execute()
    for mail_id in ids:
        actors.ingest_mail.send(mail_id)
    return len(ids)
