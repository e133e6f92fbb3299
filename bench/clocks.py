"""Clock recompute cost at 100k projects: full, steady state, after 1 % changed, and when every clock changes.

Usage: .venv/bin/python bench/clocks.py [--projects 100000] [--database-url postgresql://...]
Seeds a private database (SQLite in a temp dir, or a scratch PostgreSQL database created and dropped
under --database-url) with the pipeline bench's projects, one application each in an open status with
dates spread over the last months, and requested checklist items; then times recompute_clocks() in
each scenario, in this one process: wall seconds, this process's CPU seconds and (PostgreSQL on this
machine) the server backend's CPU seconds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import seed  # noqa: E402

from models import Application, ChecklistItem, Project, business_days, lifecycle, schema  # noqa: E402
from models.applications import recompute_clocks  # noqa: E402
from models.base import connect, db, is_postgres, today as desk_today  # noqa: E402
from scratch import scratch_database  # noqa: E402  (bench/scratch.py)

DECIDED = ("APPROVED_TO_INSTALL", "AGREEMENT_SENT", "AGREEMENT_EXECUTED")


def seed_clock_inputs(rng: random.Random, today: dt.date) -> None:
    """Give every application a kind, an open status and dated facts; add requested checklist items."""
    kinds = list(lifecycle.PATHS)
    ids = [r[0] for r in Application.select(Application.id).order_by(Application.id).tuples()]
    projects = [r[0] for r in Application.select(Application.project).order_by(Application.id).tuples()]
    rows = []
    for app_id, project_id in zip(ids, projects):
        kind = rng.choice(kinds)
        status = rng.choice([s for s in lifecycle.statuses(kind) if s not in lifecycle.TERMINAL])
        changed = today - dt.timedelta(days=rng.randint(0, 120))
        submitted = None if status == "DRAFT" else changed - dt.timedelta(days=rng.randint(0, 60))
        started = submitted and submitted + dt.timedelta(days=rng.randint(0, (changed - submitted).days))
        contact = rng.choice([None, min(today, changed + dt.timedelta(days=rng.randint(0, 30)))])
        decided = changed - dt.timedelta(days=rng.randint(0, 30)) if status in DECIDED else None
        rows.append(dict(id=app_id, project=project_id, kind=kind, status=status, status_changed_on=changed,
                         submitted_on=submitted, clock_started_on=started, last_contact_on=contact,
                         decided_on=decided))
    items = []
    for project_id in projects[::2]:
        for doc in ("UTILITY_BILL", "SLD"):
            items.append(dict(project=project_id, application="utility_part1", doc_type=doc, label=doc, rule_id="x",
                              status="requested", requested_on=today - dt.timedelta(days=rng.randint(0, 30)),
                              reminders_sent=rng.randint(0, 3)))
    with db.atomic():
        Application.delete().execute()
        for start in range(0, len(rows), 2000):
            Application.insert_many(rows[start:start + 2000]).execute()
        for start in range(0, len(items), 2000):
            ChecklistItem.insert_many(items[start:start + 2000]).execute()
    db.execute_sql("ANALYZE")


def change_one_percent(rng: random.Random, today: dt.date) -> int:
    """A morning's work: contacts logged, status moves, reminders sent, on 1 % of the rows."""
    ids = [r[0] for r in Application.select(Application.id).tuples()]
    picked = rng.sample(ids, max(1, len(ids) // 100))
    half = len(picked) // 2
    with db.atomic():
        Application.update(last_contact_on=today).where(Application.id.in_(picked[:half])).execute()
        Application.update(status="TECHNICAL_REVIEW", status_changed_on=today).where(
            Application.id.in_(picked[half:])).execute()
        items = [r[0] for r in ChecklistItem.select(ChecklistItem.id).tuples()]
        chased = rng.sample(items, max(1, len(items) // 100))
        ChecklistItem.update(reminders_sent=ChecklistItem.reminders_sent + 1).where(
            ChecklistItem.id.in_(chased)).execute()
    return len(picked) + len(chased)


def shift_every_date() -> None:
    """Every application's dates move a day (a re-dated import): every clock's inputs change."""
    cols = ("status_changed_on", "submitted_on", "clock_started_on", "last_contact_on", "decided_on")
    plus = "{0} + 1" if is_postgres() else "date({0}, '+1 day')"
    db.execute_sql("UPDATE application SET " + ", ".join(f"{c} = {plus.format(c)}" for c in cols))
    db.execute_sql("UPDATE checklist_item SET requested_on = "
                   + ("requested_on + 1" if is_postgres() else "date(requested_on, '+1 day')"))


def add_a_holiday(today: dt.date) -> dt.date:
    """The holiday table gains a weekday (a new federal holiday) inside most clocks' windows."""
    closure = today - dt.timedelta(days=20)
    while closure.weekday() >= 5:
        closure -= dt.timedelta(days=1)
    original = business_days._year

    def year(y: int) -> frozenset[dt.date]:
        return original(y) | {closure} if y == closure.year else original(y)
    business_days._year = year
    for name in ("_year", "_weekday_holidays"):  # whichever per-year caches the calendar keeps
        getattr(getattr(business_days, name, None), "cache_clear", lambda: None)()
    return closure


def _backend_cpu() -> float | None:
    """CPU seconds of this connection's PostgreSQL backend, when the server runs on this machine."""
    if not is_postgres():
        return None
    pid = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label: str, **kwargs) -> None:
    w0, c0, b0 = time.perf_counter(), time.process_time(), _backend_cpu()
    changed = recompute_clocks(**kwargs)
    wall, cpu, b1 = time.perf_counter() - w0, time.process_time() - c0, _backend_cpu()
    server = f"  server cpu {b1 - b0:6.2f}s" if b0 is not None and b1 is not None else ""
    print(f"  {label:34} wall {wall:6.2f}s  cpu {cpu:6.2f}s{server}  rows changed {changed:>7}", flush=True)


def run(n: int, base: str) -> None:
    url, cleanup = scratch_database(base, "clocks")
    connect(url)
    try:
        schema.upgrade()
        rng = random.Random(n)
        t0 = time.perf_counter()
        seed(n, rng)
        today = desk_today()
        seed_clock_inputs(rng, today)
        items = ChecklistItem.select().count()
        print(f"{n} projects, {Application.select().count()} applications, {items} requested items on "
              f"{url.split(':')[0]} (seeded in {time.perf_counter() - t0:.0f}s)", flush=True)
        timed("full (first run, nothing computed)")
        timed("steady state (nothing changed)")
        timed("a day passes", today=today + dt.timedelta(days=1))
        touched = change_one_percent(rng, today)
        timed(f"after 1 % changed ({touched} rows)")
        timed("steady state again")
        shift_every_date()
        timed("every date shifted a day")
        closure = add_a_holiday(today)
        timed(f"holiday table gains {closure}")
        timed("steady state again")
        assert Project.select().count() == n
    finally:
        if cleanup:
            cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="postgresql://... (a scratch database is made there)")
    args = parser.parse_args()
    run(args.projects, args.database_url)


if __name__ == "__main__":
    main()
