"""Desk-wide views at 1k, 10k and 100k projects: p50/p95 of the everyone's day list, leads, dashboard, drills.

Usage: .venv/bin/python bench/desk_views.py [--sizes 1000,10000,100000] [--runs 20] [--database-url postgresql://...]
Seeds a private database per size (SQLite in a temp dir, or a scratch PostgreSQL database created and
dropped under --database-url) with the pipeline bench's projects plus a status history, a Part 2 on a
fifth of the projects, flags, requested and received documents, call-backs, snoozes and 10k inbound
mails, then times full requests through the Flask app as a lead (and My day as a coordinator who owns
about 300 projects), the pages of one size requested interleaved, and prints the p50(largest)/p50(smallest)
ratio. A page slower than --slow-ms at a size is timed only --slow-runs times there.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import seed as seed_projects  # noqa: E402

from models import (Application, CallLog, ChecklistItem, DayAction, Event, InboundMail, Project, User,  # noqa: E402
                    Utility, schema)
from models import clocks  # noqa: E402
from models.base import connect, db, today as desk_today, utcnow  # noqa: E402
from models.catalog_ref import current  # noqa: E402
from web.htmx import FRAGMENT_REQUEST  # noqa: E402

PART1_FLOW = ("DRAFT", "SUBMITTED", "COMPLETENESS_REVIEW", "DEFICIENT", "RESUBMITTED", "TECHNICAL_REVIEW",
              "APPROVED_TO_INSTALL")
PART1_NOW = ("SUBMITTED", "SUBMITTED", "COMPLETENESS_REVIEW", "TECHNICAL_REVIEW", "DEFICIENT", "RESUBMITTED",
             "APPROVED_TO_INSTALL", "AGREEMENT_EXECUTED", "WITHDRAWN")
PART2_NOW = ("DRAFT", "COMPLETION_SUBMITTED", "COMPLETION_SUBMITTED", "METER_ORDERED", "PTO_GRANTED")
MAILS = 10_000
BATCH = 2000


def _insert(model, rows: list[dict]) -> None:
    with db.atomic():
        for start in range(0, len(rows), BATCH):
            model.insert_many(rows[start:start + BATCH]).execute()


def _clock(status: str, since: dt.date, utility) -> clocks.Clock:
    return clocks.compute(status, since, None, utility, status in clocks.WAITING, approved_on=since)


def seed(n: int, rng: random.Random) -> dict:
    """The desk: projects with applications in many statuses and the work the day list is made of."""
    seed_projects(n, rng)
    User.register("lead@example.com", "Lead", "lead", "bench-password")
    today = desk_today()
    catalog = current().utilities
    utilities = {u.id: catalog.get(u.code) for u in Utility.select()}
    Application.delete().execute()
    projects = list(Project.select(Project.id, Project.utility, Project.coordinator).tuples())
    apps, part2_of = [], set()
    for pid, utility_id, _ in projects:
        status = rng.choice(PART1_NOW)
        since = today - dt.timedelta(days=rng.randint(0, 60))
        c = _clock(status, since, utilities[utility_id])
        apps.append(dict(project=pid, kind="utility_part1", status=status, submitted_on=since - dt.timedelta(days=20),
                         status_changed_on=since, decided_on=since if status.startswith(("APPROVED", "AGREE")) else None,
                         due_on=c.due_on, due_step=c.due_step, next_follow_up_on=c.next_follow_up_on,
                         expires_on=c.expires_on, reference_number=f"REF-{pid}",
                         created_at=dt.datetime.combine(since - dt.timedelta(days=25), dt.time(17)),
                         updated_at=dt.datetime.combine(since, dt.time(18))))
        if rng.random() < 0.2:
            part2_of.add(pid)
            status2 = rng.choice(PART2_NOW)
            c2 = _clock(status2, since, utilities[utility_id])
            apps.append(dict(project=pid, kind="utility_part2", status=status2, status_changed_on=since,
                             submitted_on=since, decided_on=since if status2 == "PTO_GRANTED" else None,
                             due_on=c2.due_on, due_step=c2.due_step, next_follow_up_on=c2.next_follow_up_on,
                             created_at=dt.datetime.combine(since - dt.timedelta(days=5), dt.time(17)),
                             updated_at=dt.datetime.combine(since, dt.time(18))))
    _insert(Application, apps)
    events = []
    for app_id, pid, kind, status, since in Application.select(
            Application.id, Application.project, Application.kind, Application.status,
            Application.status_changed_on).tuples():
        flow = PART1_FLOW[:PART1_FLOW.index(status) + 1] if status in PART1_FLOW else PART1_FLOW[:3] + (status,)
        steps = list(zip(flow, flow[1:]))[-3:]
        for i, (frm, to) in enumerate(steps):
            when = dt.datetime.combine(since - dt.timedelta(days=7 * (len(steps) - 1 - i)), dt.time(19))
            events.append(dict(project=pid, application=app_id, kind="status", summary=f"{frm} -> {to}",
                               data={"from": frm, "to": to}, created_at=when,
                               actor=None if i % 2 else rng.choice(projects)[2]))
    _insert(Event, events)
    flagged = [pid for pid, _, _ in projects if rng.random() < 0.02]
    with db.atomic():
        for start in range(0, len(flagged), BATCH):
            Project.update(flagged_at=utcnow() - dt.timedelta(days=3), flagged_reason="stuck").where(
                Project.id.in_(flagged[start:start + BATCH])).execute()
    items = []
    for pid, _, _ in projects:
        if rng.random() < 0.2:
            requested = today - dt.timedelta(days=rng.randint(1, 20))
            status = rng.choice(("requested", "requested", "received", "accepted"))
            items.append(dict(project=pid, application="utility_part1", doc_type="utility_bill", label="Utility bill",
                              rule_id="bench", status=status, requested_on=requested,
                              next_reminder_on=clocks.next_reminder(requested, 0) if status == "requested" else None))
    _insert(ChecklistItem, items)
    calls = [dict(project=pid, notes="left a voicemail", follow_up_on=today - dt.timedelta(days=rng.randint(0, 5)))
             for pid, _, _ in projects if rng.random() < 0.03]
    _insert(CallLog, calls)
    mails = []
    for i in range(MAILS):
        pid = rng.choice(projects)[0]
        review = rng.random() < 0.3
        mails.append(dict(message_id=f"<bench-{i}@example.net>", sha256=f"{i:064x}", dedupe_key=f"{i:064x}", size=2048,
                          source="imap", state="needs_review" if review else "applied", project=pid,
                          subject=f"Re: Interconnection REF-{pid}", reason="low confidence match" if review else "",
                          received_at=utcnow() - dt.timedelta(hours=rng.randint(1, 24 * 30))))
    _insert(InboundMail, mails)
    # A few people already snoozed or finished some of today's breaches.
    lead = User.get(User.email == "lead@example.com")
    actions = [dict(key=f"breach:{a}:{due}", project=pid, user=lead, action=rng.choice(("done", "snooze")),
                    until=today + dt.timedelta(days=3), reason="bench")
               for a, pid, due in Application.select(Application.id, Application.project, Application.due_on)
               .where(Application.due_on < today).tuples() if rng.random() < 0.05]
    _insert(DayAction, actions)
    if hasattr(db.obj, "execute_sql"):
        db.execute_sql("ANALYZE")
    mine = Project.select().where(Project.coordinator == User.get(User.email == "c0@example.com")).count()
    return {"applications": len(apps), "events": len(events), "flags": len(flagged), "mails": MAILS, "mine": mine}


def client_for(url: str, email: str):
    from app import create_app
    app = create_app({"database_url": url, "secret_key": "bench-secret-key-0123456789", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": "bench-password"})
    assert resp.status_code in (302, 303), resp.status_code
    return client


def cases() -> dict[str, tuple[str, str]]:
    """Page name: (who asks, path)."""
    c0 = User.get(User.email == "c0@example.com").id
    return {
        "/day?who=all": ("lead", "/day?who=all"),
        "/day?who=all&page=20": ("lead", "/day?who=all&page=20"),
        "/leads": ("lead", "/leads"),
        "/dashboard": ("lead", "/dashboard"),
        "drill overdue": ("lead", f"/dashboard/drill?metric=overdue&key={c0}"),
        "drill aging": ("lead", "/dashboard/drill?metric=aging&key=utility"),
        "drill breaches": ("lead", "/dashboard/drill?metric=breaches_utility&key=PGE"),
        "My day (c0)": ("c0", "/day"),
        "/day/count (c0)": ("c0", "/day/count"),
    }


def measure(clients: dict, pages: dict, runs: int, slow_ms: float, slow_runs: int) -> dict[str, tuple[float, float]]:
    """Each page once per round, round after round (interleaved); the first round only warms caches."""
    times: dict[str, list[float]] = {name: [] for name in pages}
    for round_no in range(runs + 1):
        for name, (who, path) in pages.items():
            if round_no > slow_runs and times[name] and statistics.median(times[name]) > slow_ms:
                continue
            t0 = time.perf_counter()
            resp = clients[who].get(path, headers=FRAGMENT_REQUEST)
            elapsed = (time.perf_counter() - t0) * 1000
            if resp.status_code != 200:
                print(f"    {name}: HTTP {resp.status_code}", flush=True)
                times[name] = [float("nan")]
                continue
            if round_no:
                times[name].append(elapsed)
    out = {}
    for name, values in times.items():
        values = sorted(values)
        out[name] = (statistics.median(values), values[max(0, int(len(values) * 0.95 + 0.5) - 1)], len(values))
    return out


def run_size(n: int, runs: int, base: str, slow_ms: float, slow_runs: int) -> dict:
    cleanup = None
    if base.startswith("postgres"):
        import psycopg
        name = f"ixdesk_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect(base, autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + "/" + name

        def cleanup():
            db.close()
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='ixdesk-bench-')}/desk.db"
    connect(url)
    schema.upgrade()
    t0 = time.perf_counter()
    facts = seed(n, random.Random(n))
    seeded = time.perf_counter() - t0
    pages = cases()
    clients = {"lead": client_for(url, "lead@example.com"), "c0": client_for(url, "c0@example.com")}
    print(f"  {n:>7} projects on {url.split(':')[0]} seeded in {seeded:.0f}s: {facts}", flush=True)
    try:
        return measure(clients, pages, runs, slow_ms, slow_runs)
    finally:
        if cleanup:
            cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default="", help="postgresql://... (scratch databases are made there)")
    parser.add_argument("--slow-ms", type=float, default=3000)
    parser.add_argument("--slow-runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: run_size(n, args.runs, args.database_url, args.slow_ms, args.slow_runs) for n in sizes}
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{engine}; p50 / p95 in ms (runs)")
    print(f"{'page':24}" + "".join(f"{n:>22}" for n in sizes) + (f"{'p50 ratio':>11}" if len(sizes) > 1 else ""))
    for page in results[sizes[0]]:
        cells = "".join(f"{results[n][page][0]:>9.0f} /{results[n][page][1]:>7.0f} ({results[n][page][2]:>2})"
                        for n in sizes)
        ratio = f"{results[sizes[-1]][page][0] / results[sizes[0]][page][0]:>10.1f}x" if len(sizes) > 1 else ""
        print(f"{page:24}{cells}{ratio}", flush=True)


if __name__ == "__main__":
    main()
