"""My-day speed: p50/p95 of /day and /day/count for a coordinator, at 1k and 100k projects on the desk.

Usage: .venv/bin/python bench/day.py [--sizes 1000,100000] [--runs 20]
Reuses the pipeline bench's seeding, gives every utility application a status date spread over
the last 40 days, computes the clocks, and times the coordinator's day pages.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import measure, seed, signed_in_client  # noqa: E402

from models import Application, Project, User, schema  # noqa: E402
from models.applications import recompute_clocks  # noqa: E402
from models.base import connect, db, utcnow  # noqa: E402


def run_size(n: int, runs: int) -> dict:
    url = f"sqlite:///{tempfile.mkdtemp(prefix='ixdesk-bench-')}/day.db"
    connect(url)
    schema.upgrade()
    rng = random.Random(n)
    seed(n, rng)
    today = utcnow().date()
    with db.atomic():
        for app in Application.select(Application.id):
            Application.update(status_changed_on=today - dt.timedelta(days=rng.randint(0, 40))).where(
                Application.id == app.id).execute()
    t0 = time.perf_counter()
    recompute_clocks()
    clocks_s = time.perf_counter() - t0
    user = User.get(User.email == "c0@example.com")
    mine = Project.select().where(Project.coordinator == user).count()
    client = signed_in_client(url)
    out = {"day": measure(client, "/day", runs), "count": measure(client, "/day/count", runs)}
    print(f"  {n:>7} projects ({mine} of them c0's); recompute_clocks {clocks_s:.1f}s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: run_size(n, args.runs) for n in sizes}
    print(f"\n{'page':8}" + "".join(f"{f'{n} p50':>12}{f'{n} p95':>12}" for n in sizes))
    for case in ("day", "count"):
        print(f"{case:8}" + "".join(f"{results[n][case][0]:>10.1f}ms{results[n][case][1]:>10.1f}ms" for n in sizes))


if __name__ == "__main__":
    main()
