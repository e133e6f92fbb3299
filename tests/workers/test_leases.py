"""Claimed mail is held under a short lease renewed by a heartbeat: a dead worker's mail is taken over
within seconds, a live worker's never, and a worker that lost its lease keeps nothing of its run."""
from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest

from inbox.intake import intake_from
from inbox.pipeline import process
from inbox.store import store
from models import Event, InboundMail, tokens
from models.base import utcnow
from models.leases import LEASE, Heartbeat, LeaseLost
from tests.factories import make_project


def mail_for(project, n: int) -> InboundMail:
    msg = EmailMessage()
    msg["From"], msg["To"] = project.customer_email, "desk@example.com"
    msg["Subject"] = f"Re: your bill {tokens.subject_tag(project.id)}"
    msg["Message-ID"] = f"<lease-{n}@example.net>"
    msg.set_content("Here is the utility bill you asked for.")
    return store(msg.as_bytes(), "cli").mail


def expire(mail: InboundMail) -> None:
    """As LEASE seconds passing without a heartbeat would (the worker died)."""
    InboundMail.update(lease_until=utcnow() - dt.timedelta(seconds=1)).where(InboundMail.id == mail.id).execute()


def run_actor(worker, mail_id: int) -> None:
    from workers import actors
    from workers.broker import broker
    actors.ingest_mail.send(mail_id)
    broker.join(actors.ingest_mail.queue_name)
    worker.join()


def settings():
    import config
    return intake_from(config.load(web=False))


def test_a_dead_workers_claim_is_taken_over_by_the_next_delivery(db, worker):
    p = make_project(customer_email="ana@example.net")
    mail = mail_for(p, 1)
    assert mail.claim(holder="dead-host:1:abc")  # a worker took it, then was killed: no heartbeat renews it
    row = InboundMail.get_by_id(mail.id)
    assert row.state == "processing" and row.lease_until <= utcnow() + LEASE
    run_actor(worker, mail.id)  # a redelivery within the lease does nothing: the claim may still be alive
    assert InboundMail.get_by_id(mail.id).state == "processing"
    expire(mail)
    run_actor(worker, mail.id)
    row = InboundMail.get_by_id(mail.id)
    assert (row.state, row.project_id, row.lease_holder, row.lease_until) == ("processed", p.id, "", None)


def test_a_live_claim_is_renewed_by_the_heartbeat_and_never_taken_over(db, worker):
    p = make_project(customer_email="ana@example.net")
    mail = mail_for(p, 2)
    assert mail.claim(holder="live:1:def")
    InboundMail.update(lease_until=utcnow() + dt.timedelta(seconds=1)).where(InboundMail.id == mail.id).execute()
    beat = Heartbeat(every=3600)  # beats by hand here
    beat.hold(InboundMail, mail.id, "live:1:def")
    assert beat.beat() == 1
    assert InboundMail.get_by_id(mail.id).lease_until > utcnow() + LEASE - dt.timedelta(seconds=2)
    run_actor(worker, mail.id)
    assert InboundMail.get_by_id(mail.id).state == "processing"  # nobody took it over
    # A heartbeat never renews a lease that is no longer its own.
    expire(mail)
    assert InboundMail.get_by_id(mail.id).claim(holder="other:2:ghi")
    assert beat.beat() == 0 and InboundMail.get_by_id(mail.id).lease_holder == "other:2:ghi"


def test_a_worker_that_lost_its_lease_keeps_nothing_of_its_run(db):
    p = make_project(customer_email="ana@example.net")
    mail = mail_for(p, 3)
    slow = InboundMail.get_by_id(mail.id)
    assert slow.claim(holder="slow:1:aaa")
    expire(slow)  # it stalled past its lease ...
    fast = InboundMail.get_by_id(mail.id)
    assert fast.claim(holder="fast:2:bbb")  # ... and another worker took the mail over and finished it
    assert process(fast, settings()).state == "processed"
    events = Event.select().count()
    with pytest.raises(LeaseLost):
        process(slow, settings())
    row = InboundMail.get_by_id(mail.id)
    assert (row.state, row.attempts, row.failures) == ("processed", 2, 0)
    assert Event.select().count() == events  # the slow run's writes were rolled back


def test_the_sweeper_sends_again_pending_mail_and_expired_claims_but_not_live_ones(db, worker):
    from workers.sweeper import requeue_mail
    p = make_project(customer_email="ana@example.net")
    lost, died, alive = mail_for(p, 4), mail_for(p, 5), mail_for(p, 6)
    InboundMail.update(received_at=utcnow() - dt.timedelta(minutes=1)).execute()  # stored a minute ago
    assert died.claim(holder="died:1:x") and alive.claim(holder="alive:1:y")
    expire(died)
    assert requeue_mail() == 2
    from workers import actors
    from workers.broker import broker
    broker.join(actors.ingest_mail.queue_name)
    worker.join()
    states = {m.id: m.state for m in InboundMail.select()}
    assert states == {lost.id: "processed", died.id: "processed", alive.id: "processing"}
    # The same mail is not sent again at every sweep: at most once per WAKE_AGAIN_AFTER.
    expire(alive)
    InboundMail.update(woken_at=utcnow()).where(InboundMail.id == alive.id).execute()
    assert requeue_mail() == 0


def test_rerun_takes_mail_whose_worker_died(app, db):
    p = make_project(customer_email="ana@example.net")
    mail = mail_for(p, 7)
    assert mail.claim(holder="gone:1:z")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["inbox", "rerun", str(mail.id)])
    assert "being processed" in result.output  # its worker may still be alive
    expire(mail)
    result = runner.invoke(args=["inbox", "rerun", str(mail.id)])
    assert result.exit_code == 0, result.output
    assert InboundMail.get_by_id(mail.id).state == "processed"
