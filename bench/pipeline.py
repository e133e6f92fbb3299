"""Pipeline speed at 1k and 100k projects: p50/p95 of the list, a filtered list and a search.

Usage: .venv/bin/python bench/pipeline.py [--sizes 1000,100000] [--runs 30]
Seeds a private database (SQLite in a temp dir, or BENCH_DATABASE_URL=postgresql://... to
create and drop a scratch database there) and times full requests through the Flask app.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import Ahj, Application, Project, User, Utility, schema  # noqa: E402
from models.base import connect, db  # noqa: E402
from scratch import scratch_database  # noqa: E402  (bench/scratch.py)
from models.catalog_ref import current  # noqa: E402
from models.demo import FIRST, LAST, STREETS, TERRITORY  # noqa: E402
from models.projects import STAGES  # noqa: E402
from web.htmx import FRAGMENT_REQUEST  # noqa: E402

CASES = {
    "list": "/projects",
    "filtered": "/projects?utility=SCE&stage=permitting&ball=utility&sort=customer&dir=asc",
    "search": "/projects?q=morrison+maple",
}


def seed(n: int, rng: random.Random) -> None:
    # A coordinator carries a few hundred projects; a 100k desk has a few hundred coordinators.
    with db.atomic():
        Utility.sync(current())
        users = [User.register(f"c{i}@example.com", f"Coordinator {i}", "coordinator", "bench-password")
                 for i in range(max(12, n // 300))]
    utilities = {u.code: u.id for u in Utility.select()}
    ahjs = {}
    for code, places in TERRITORY.items():
        for city, state, _, name in places:
            ahjs[(code, city)] = Ahj.named(name, state).id
    stages, products = list(STAGES), ["pv", "pv_battery", "battery", "solar_roof"]
    rows, apps = [], []
    for i in range(n):
        code = rng.choice(list(TERRITORY))
        city, state, zip_, _ = rng.choice(TERRITORY[code])
        first, last, street = rng.choice(FIRST), rng.choice(LAST), f"{rng.randint(100, 9999)} {rng.choice(STREETS)}"
        ext, email, ref = f"B{i:07d}", f"{first}.{last}{i}@example.net".lower(), f"{code}-INT-{i:07d}"
        text = " ".join([ext, f"{first} {last}", email, street, city, state, zip_, ref]).lower()
        rows.append(dict(external_id=ext, customer_name=f"{first} {last}", customer_email=email, street=street,
                         city=city, state=state, zip=zip_, utility=utilities[code], ahj=ahjs[(code, city)],
                         product_type=rng.choice(products), pv_kw_dc=round(rng.uniform(3, 15), 2),
                         stage=rng.choice(stages), ball_in_court=rng.choice(["us", "utility", "ahj", "customer"]),
                         coordinator=rng.choice(users).id, search_text=text))
        apps.append((ext, ref))
    with db.atomic():
        for start in range(0, n, 2000):
            Project.insert_many(rows[start:start + 2000]).execute()
    ids = {p.external_id: p.id for p in Project.select(Project.id, Project.external_id)}
    with db.atomic():
        batch = [dict(project=ids[e], kind="utility_part1", status="SUBMITTED", reference_number=r) for e, r in apps]
        for start in range(0, n, 2000):
            Application.insert_many(batch[start:start + 2000]).execute()
    if hasattr(db.obj, "execute_sql"):
        db.execute_sql("ANALYZE")


def signed_in_client(url: str):
    """A test client of the app on the bench database, signed in as the first seeded coordinator."""
    from app import create_app
    app = create_app({"database_url": url, "secret_key": "bench-secret-key-0123456789", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"email": "c0@example.com", "password": "bench-password"})
    return client


def measure(client, url: str, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs + 2):
        t0 = time.perf_counter()
        resp = client.get(url, headers=FRAGMENT_REQUEST)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, resp.status_code
    times = sorted(times[2:])  # the first two warm caches
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def run_size(n: int, runs: int) -> dict:
    base = os.environ.get("BENCH_DATABASE_URL", "")
    url, cleanup = scratch_database(base, "bench")
    connect(url)
    schema.upgrade()
    t0 = time.perf_counter()
    seed(n, random.Random(n))
    seeded = time.perf_counter() - t0
    client = signed_in_client(url)
    out = {name: measure(client, path, runs) for name, path in CASES.items()}
    if cleanup:
        cleanup()
    print(f"  {n:>7} projects seeded in {seeded:.1f}s on {url.split(':')[0]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: run_size(n, args.runs) for n in sizes}
    print(f"\n{'case':10}" + "".join(f"{f'{n} p50':>12}{f'{n} p95':>12}" for n in sizes) +
          (f"{'p50 ratio':>11}" if len(sizes) > 1 else ""))
    for case in CASES:
        line = f"{case:10}" + "".join(f"{results[n][case][0]:>10.1f}ms{results[n][case][1]:>10.1f}ms" for n in sizes)
        if len(sizes) > 1:
            line += f"{results[sizes[-1]][case][0] / results[sizes[0]][case][0]:>10.1f}x"
        print(line)


if __name__ == "__main__":
    main()
