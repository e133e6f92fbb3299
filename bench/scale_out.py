"""Ingest throughput of the production stack with 1, 2 and 4 worker processes, in one run.

Usage: .venv/bin/python bench/scale_out.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                           [--processes 1,2,4] [--threads 2] [--messages 600]
For each process count: a private PostgreSQL database (created and dropped), a private Redis and Dovecot,
the shipped supervisord config running the dramatiq workers, the watcher and the scheduler. All messages
(30 % with a 50-300 KB PDF, a third replying to a project with its token) are APPENDed at once; the
figure is messages per second from the first APPEND to the last final state, and its ratio to 1 process.
On a machine with C cores, more than C busy processes cannot help: the figures say where the limit is.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKEN_KEYS", "bench-token-key-0123456789abcdef")
os.environ.setdefault("MAIL_AUTHSERV_ID", "mx.ixdesk.bench")
_dns = Path(tempfile.mkdtemp(prefix="ixdesk-bench-dns-")) / "dns.json"
_dns.write_text("{}")
os.environ.setdefault("MAIL_DNS", f"file:{_dns}")  # no DKIM lookups leave the machine

from peewee import fn  # noqa: E402

from models import InboundMail, Project, Utility, demo, schema, storage, tokens  # noqa: E402
from models.base import connect, db  # noqa: E402
from models.catalog_ref import current  # noqa: E402
from tests.faults.redis_server import PrivateRedis  # noqa: E402
from tests.faults.stack import Supervised  # noqa: E402
from tests.faults.test_fault_recovery import noise_pdf  # noqa: E402
from tests.inbox.dovecot import Dovecot  # noqa: E402


def messages(projects: list[Project], n: int, rng: random.Random) -> list[bytes]:
    out = []
    for i in range(n):
        msg = EmailMessage()
        p = projects[i % len(projects)] if i % 3 == 0 else None
        msg["From"] = (p.customer_email or f"owner{i}@example.net") if p else f"someone{i}@example.org"
        msg["To"] = "desk@example.com"
        msg["Subject"] = f"Bench message {i}" + (f" {tokens.subject_tag(p.id)}" if p else "")
        msg["Message-ID"] = f"<scale-{i}-{uuid.uuid4().hex[:10]}@example.org>"
        msg.set_content(f"Message {i}: here is what you asked for.")
        if rng.random() < 0.3:
            msg.add_attachment(noise_pdf(rng, rng.randint(50_000, 300_000)), maintype="application",
                               subtype="pdf", filename=f"bill-{i}.pdf")
        out.append(msg.as_bytes())
    return out


def one_run(base_url: str, processes: int, threads: int, count: int) -> float:
    import psycopg
    name = f"ixdesk_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(base_url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunparse(urlparse(base_url)._replace(path="/" + name))
    tmp = Path(tempfile.mkdtemp(prefix=f"ixdesk-scale-{processes}-"))
    dovecot, redis, stack = Dovecot().start(), PrivateRedis().start(), None
    try:
        storage.configure(tmp / "storage")
        connect(url)
        with db.connection_context():
            schema.upgrade()
            Utility.sync(current())
            demo.seed(200, rng_seed=200)
            raws = messages(list(Project.select().order_by(Project.id)), count, random.Random(processes))
        env = {"DATABASE_URL": url, "BROKER_URL": redis.url, "INBOX_URL": dovecot.url,
               "STORAGE_DIR": str(tmp / "storage"), "SECRET_KEY": "bench-secret-key-0123456789", "LOG_LEVEL": "WARNING"}
        stack = Supervised(tmp / "run", env, worker_processes=processes, worker_threads=threads).start()
        for program in ("workers", "watcher", "scheduler"):
            stack.wait_running(program, timeout=60)
        time.sleep(2)  # let every worker process finish booting
        started = time.monotonic()
        for k in range(0, len(raws), 50):
            dovecot.append_all(raws[k:k + 50])
        with db.connection_context():
            while True:
                done = InboundMail.select().where(InboundMail.state.not_in(("pending", "processing"))).count()
                if done >= count:
                    break
                if time.monotonic() - started > 600:
                    raise RuntimeError(f"only {done} of {count} final after 600 s")
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            distinct = InboundMail.select(fn.COUNT(fn.DISTINCT(InboundMail.message_id))).scalar()
        assert distinct == count, f"{distinct} distinct of {count}"
        return count / elapsed
    finally:
        if stack is not None:
            stack.stop()
        redis.stop()
        dovecot.close()
        if not db.is_closed():
            db.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--messages", type=int, default=600)
    args = parser.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    print(f"scale-out bench: {args.messages} messages, {args.threads} threads per process, {os.cpu_count()} cores")
    rates = {}
    for n in counts:
        rates[n] = one_run(args.database_url, n, args.threads, args.messages)
        print(f"  {n} worker process(es): {rates[n]:.1f} msg/s  ({rates[n] / rates[counts[0]]:.2f}x of {counts[0]})",
              flush=True)


if __name__ == "__main__":
    main()
