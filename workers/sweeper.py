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
MAIL_STALE_AFTER = dt.timedelta(minutes=10)  # twice the ingest actor's time limit


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


def requeue_mail(older_than: dt.timedelta = dt.timedelta(minutes=2)) -> int:
    """Send pending mail to the pipeline again; a mail a worker took but never finished goes back to pending."""
    from models.inbound import InboundMail
    from workers import actors
    now = utcnow()
    InboundMail.update(state="pending", processing_since=None).where(
        (InboundMail.state == "processing") & (InboundMail.processing_since < now - MAIL_STALE_AFTER)).execute()
    sent = 0
    for mail in InboundMail.select(InboundMail.id).where((InboundMail.state == "pending") &
                                                         (InboundMail.received_at <= now - older_than)):
        actors.ingest_mail.send(mail.id)
        sent += 1
    return sent
