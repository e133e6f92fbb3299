"""`flask inbox ingest|watch|rerun`: feed mail to the pipeline from the command line."""
from __future__ import annotations

import json
import signal

import click
from flask import current_app
from flask.cli import AppGroup

from models.base import db

inbox_cli = AppGroup("inbox", help="Inbound mail: ingest files, watch mailboxes, re-run the pipeline.")


def _intake():
    from inbox.intake import intake_from
    return intake_from(current_app.config["IXDESK"])


@inbox_cli.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message (see README).")
def ingest(paths, as_json):
    """Run the whole pipeline now on .eml files, folders or Maildirs (nothing is moved or deleted)."""
    from inbox.intake import as_json as result_json, ingest_paths

    def show(path, mail):
        if as_json:
            click.echo(json.dumps(result_json(mail, str(path)), ensure_ascii=False))
        else:
            where = mail.project.external_id if mail.project_id else "-"
            click.echo(f"{path}: {mail.state} ({mail.kind or '?'}) project={where} {mail.reason}".rstrip())
    with db.connection_context():
        done = ingest_paths(list(paths), _intake(), on_result=show)
    if not as_json:
        click.echo(f"{len(done)} message(s) ingested")


@inbox_cli.command("watch")
def watch():
    """Production: watch every INBOX_URL mailbox and hand new mail to the workers (one per mailbox; a lease
    keeps a second copy idle)."""
    from inbox.intake import enqueue
    from inbox.watch import start
    urls = current_app.config["IXDESK"].inbox_urls
    if not urls:
        raise click.ClickException("INBOX_URL is not set: name at least one mailbox (imaps://user:pass@host/INBOX)")
    stop, threads = start(urls, enqueue)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"watching {len(urls)} mailbox(es); Ctrl+C to stop")
    try:
        while any(t.is_alive() for t in threads):
            stop.wait(1.0)
            if stop.is_set():
                break
    except KeyboardInterrupt:
        stop.set()
    for t in threads:
        t.join(timeout=10)


@inbox_cli.command("rerun")
@click.argument("ids", nargs=-1, type=int)
@click.option("--state", help="Re-run every mail in this state (e.g. quarantined, unmatched).")
def rerun(ids, state):
    """Run the pipeline again on stored mail (after a catalog or rule change); the raw copy is never re-fetched."""
    from inbox.intake import run_now
    from models.inbound import InboundMail
    if not ids and not state:
        raise click.ClickException("name mail ids or --state")
    with db.connection_context():
        query = InboundMail.select().where(InboundMail.state != "duplicate")
        query = query.where(InboundMail.id.in_(ids)) if ids else query.where(InboundMail.state == state)
        count = 0
        for mail in query.order_by(InboundMail.id):
            if not mail.requeue():
                click.echo(f"#{mail.id}: being processed right now; skipped")
                continue
            mail = run_now(mail, _intake())
            click.echo(f"#{mail.id}: {mail.state} {mail.reason}".rstrip())
            count += 1
    click.echo(f"{count} message(s) re-run")
