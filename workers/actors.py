"""Actors: thin wrappers taking a row id and calling domain code. Each is safe to run twice."""
from __future__ import annotations

import logging
from pathlib import Path

import dramatiq

from workers.broker import broker  # noqa: F401  (the broker must exist before any actor)
from models import Job, User
from models.catalog_ref import find_utility_code
from models.project_import import CsvFileError, Importer, count_rows, decode
from models import storage
from models.storage import MissingFile, StorageError

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="jobs", max_retries=0, time_limit=30 * 60 * 1000)
def import_projects(job_id: int) -> None:
    """Run a queued CSV import job (dry run or apply), reporting progress on the job row."""
    job = Job.get_or_none(Job.id == job_id)
    if job is None or not job.claim():
        return  # removed, or another delivery took it: running twice must do nothing
    run_import_job(job)


def run_import_job(job: Job) -> None:
    params = job.params or {}
    try:
        # The file store; jobs queued before imports went there name a local path instead.
        text = decode(storage.get(params["sha256"]) if "sha256" in params else Path(params["path"]).read_bytes())
        total = count_rows(text)
        job.start(total)
        actor = User.get_or_none(User.id == job.created_by_id) if job.created_by_id else None
        importer = Importer(find_utility_code, actor, dry_run=bool(params.get("dry_run")))
        report = importer.run(text, progress=lambda done, n: job.progress(done, f"{done} of {n} rows"),
                              total=total)
        job.finish(report.to_dict(), message=f"{report.total} rows checked")
    except CsvFileError as exc:
        job.fail(str(exc))
    except BaseException as exc:  # time limits and shutdowns too: a job row must never stay "running"
        log.exception("import job %s failed", job.id)
        job.fail(f"stopped: {type(exc).__name__}: {exc}")
        raise


@dramatiq.actor(queue_name="schedule", max_retries=3, time_limit=10 * 60 * 1000)
def recompute_clocks() -> None:
    """Periodic: refresh SLA, follow-up and reminder dates (idempotent; safe to run any number of times)."""
    from models.applications import recompute_clocks_counted
    done = recompute_clocks_counted()
    log.info("clocks recomputed: %d applications looked at, %d changed, %d reminders changed (rules %s)",
             done.applications_checked, done.applications_changed, done.reminders_changed, done.rules)


@dramatiq.actor(queue_name="schedule", max_retries=0, time_limit=5 * 60 * 1000)
def prune_sign_ins() -> None:
    """Periodic: forget ended and expired sessions and failed sign-ins older than they are shown."""
    from models import login_limits
    from models.sessions import WebSession
    sessions, failures = WebSession.prune(), login_limits.prune()
    if sessions or failures:
        log.info("pruned %d sessions and %d failed sign-ins", sessions, failures)


@dramatiq.actor(queue_name="schedule", max_retries=0, time_limit=10 * 60 * 1000)
def send_digests() -> None:
    """Periodic: the morning digest for opted-in coordinators (each at most once a day)."""
    import config
    from outbox.digest import now_utc, send_due
    settings = config.load(web=False)
    sent = send_due(now_utc(), settings.digest_hour, settings.mail_from, settings.base_url, settings.smtp_url,
                    settings.outbox_dir)
    if sent:
        log.info("morning digests sent: %d", sent)


@dramatiq.actor(queue_name="jobs", max_retries=0, time_limit=15 * 60 * 1000)
def build_packet(job_id: int) -> None:
    """Build an application's submission packet (PDF + ZIP), reporting progress on the job row."""
    from models import Application
    from models.packets import PacketIncomplete, PacketRefused, build
    job = Job.get_or_none(Job.id == job_id)
    if job is None or not job.claim():
        return
    params = job.params or {}
    try:
        app = Application.get_by_id(params["application_id"])
        actor = User.get_or_none(User.id == job.created_by_id) if job.created_by_id else None
        job.start(1)

        def progress(done, total, message):
            Job.update(total=max(total, 1), done=done, message=message).where(Job.id == job.id).execute()
        pdf_doc, zip_doc = build(app, actor, allow_incomplete=bool(params.get("allow_incomplete")), progress=progress)
        job.total = max(job.total, 1)
        job.finish({"pdf": pdf_doc.id, "zip": zip_doc.id, "pages": pdf_doc.pages}, message="packet ready")
    except PacketIncomplete as exc:
        job.fail(exc.describe())
    except PacketRefused as exc:  # over a limit, or the build process stopped: the reason is for the coordinator
        job.fail(str(exc))
    except StorageError as exc:  # the file store is down or lost a file: the reason, not a traceback
        log.warning("packet job %s: %s", job.id, exc)
        job.fail(f"{exc}; build the packet again once the file store answers")
    except BaseException as exc:
        log.exception("packet job %s failed", job.id)
        job.fail(f"stopped: {type(exc).__name__}: {exc}")
        raise


MAX_SEND_ATTEMPTS = 6


@dramatiq.actor(queue_name="mail", max_retries=MAX_SEND_ATTEMPTS, min_backoff=2_000, max_backoff=15 * 60_000,
                time_limit=2 * 60 * 1000)
def send_email(message_id: int) -> None:
    """Deliver a queued message; temporary failures retry with backoff, permanent ones show on the project."""
    import config
    from models import OutboundMessage
    from outbox.compose import build
    from outbox.mailer import DeliveryError, deliver
    msg = OutboundMessage.get_or_none(OutboundMessage.id == message_id)
    if msg is None or msg.state in ("sent", "failed"):
        return  # delivered already (a duplicate wake-up), or given up on
    claimed = (OutboundMessage.update(state="sending", attempts=OutboundMessage.attempts + 1)
               .where((OutboundMessage.id == msg.id) & (OutboundMessage.state == "queued")).execute())
    if not claimed:
        return
    msg = OutboundMessage.get_by_id(msg.id)
    settings = config.load(web=False)
    try:
        try:
            built = build(msg, settings.mail_from, settings.reply_to)
        except StorageError as exc:  # attachments unreadable for now: a temporary failure, retried
            raise DeliveryError(f"attachments cannot be read: {exc}", permanent=isinstance(exc, MissingFile)) from exc
        where = deliver(built, settings.smtp_url, settings.outbox_dir)
    except DeliveryError as exc:
        give_up = exc.permanent or msg.attempts >= MAX_SEND_ATTEMPTS
        msg.record_result(False, str(exc), permanent=give_up)
        if not give_up:
            raise  # Dramatiq retries with backoff; the row is queued again
        return
    msg.record_result(True, where)


@dramatiq.actor(queue_name="mail", max_retries=3, min_backoff=5_000, time_limit=5 * 60 * 1000)
def ingest_mail(mail_id: int) -> None:
    """Run the inbox pipeline on one stored mail; a second delivery finds it taken or done and returns."""
    import config
    from inbox.intake import intake_from
    from inbox.pipeline import process
    from models.inbound import InboundMail
    from inbox.pipeline import failed
    from dramatiq.middleware.time_limit import TimeLimitExceeded
    from models.leases import LeaseLost
    mail = InboundMail.get_or_none(InboundMail.id == mail_id)
    if mail is None or not mail.claim():
        return  # done, or a live worker holds it (an expired lease is taken over by claim)
    holder = mail.lease_holder
    try:
        mail = process(mail, intake_from(config.load(web=False)))
    except TimeLimitExceeded:  # the mail took too long: that counts against it, a shutdown does not
        mail = failed(mail_id, "the pipeline ran past its time limit", holder=holder)
    except LeaseLost:
        log.warning("mail %s: its lease ran out and another worker took it over; this run's result is dropped",
                    mail_id)
        return
    if mail.state == "pending":
        raise MailRunsAgain(f"mail {mail_id}: {mail.reason}")  # Dramatiq retries it with backoff


class MailRunsAgain(Exception):
    """A run failed because of the mail; it is pending again and the retry takes it."""


@dramatiq.actor(queue_name="schedule", max_retries=0, time_limit=5 * 60 * 1000)
def sweep_mail() -> None:
    """Periodic: mail and webhook deliveries whose wake-up was lost (broker restart, killed worker) go again."""
    from workers.sweeper import requeue_mail
    from workers.webhook_actors import requeue_stalled
    sent = requeue_mail()
    woken = requeue_stalled()
    if sent or woken:
        log.info("re-enqueued %d pending mails and %d webhook deliveries", sent, woken)


@dramatiq.actor(queue_name="mail", max_retries=MAX_SEND_ATTEMPTS, min_backoff=2_000, max_backoff=15 * 60_000,
                time_limit=60 * 1000)
def send_sms(sms_id: int) -> None:
    """Send a queued text through the configured backend; temporary failures retry, refusals show on the project."""
    import config
    from models.sms import SmsMessage, opted_out
    from outbox.sms import SmsDeliveryError, backend_from
    sms = SmsMessage.get_or_none(SmsMessage.id == sms_id)
    if sms is None or not sms.claim():
        return
    sms = SmsMessage.get_by_id(sms.id)
    if opted_out(sms.phone):  # STOP arrived after it was queued
        sms.record_result("failed", error="the number answered STOP before the text went out")
        return
    try:
        sent = backend_from(config.load(web=False)).send(sms.phone, sms.body)
    except SmsDeliveryError as exc:
        give_up = exc.permanent or sms.attempts >= MAX_SEND_ATTEMPTS
        if give_up:
            sms.record_result("failed", error=str(exc))
            return
        SmsMessage.update(state="queued", last_error=str(exc)[:2000]).where(SmsMessage.id == sms.id).execute()
        raise
    sms.record_result(sent.state, sent.provider_id)


@dramatiq.actor(queue_name="schedule", max_retries=0, time_limit=10 * 60 * 1000)
def send_reminders() -> None:
    """Periodic: automatic reminders for projects that opted in (at most one per recipient per day)."""
    import config
    from outbox.reminders import send_due
    settings = config.load(web=False)
    queued = send_due(domain=settings.mail_address.rpartition("@")[2] or "localhost")
    for message_id in queued:
        send_email.send(message_id)
    if queued:
        log.info("automatic reminders queued: %d", len(queued))


from workers.webhook_actors import deliver_webhook, webhook_retries_exhausted  # noqa: E402,F401


@dramatiq.actor(queue_name="jobs", max_retries=0, time_limit=30 * 60 * 1000)
def reconcile_mailbox(job_id: int) -> None:
    """Compare a mailbox with what was stored, reporting progress on the job row."""
    import config
    from inbox import reconcile
    job = Job.get_or_none(Job.id == job_id)
    if job is None or not job.claim():
        return
    try:
        from inbox.watch import mailbox_key
        wanted = (job.params or {}).get("mailbox", "")
        url = next((u for u in config.load(web=False).inbox_urls if mailbox_key(u) == wanted), None)
        if url is None:
            job.fail("that mailbox is no longer configured")
            return

        def progress(done, total, message):
            Job.update(total=max(total, 1), done=done, message=message).where(Job.id == job.id).execute()
        report = reconcile.run(url, progress)
        job.finish(report.to_dict(), message="reconciled")
    except BaseException as exc:  # a job row must never stay "running"
        log.exception("reconciliation job %s failed", job.id)
        job.fail(f"stopped: {type(exc).__name__}: {exc}")
        raise
