"""How well the desk reads notices: recall and precision per notice type, automatic changes on forgeries.

Usage: .venv/bin/python bench/notices.py [--database-url postgresql://...] [--shard utilities] [--list]
Runs the labelled corpus in tests/inbox/notices/ on a throwaway desk (SQLite in a temp dir unless a
database URL is given, which gets a private database created and dropped) and prints the figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def desk(database_url: str | None, tmp: Path):
    from models import Utility, schema, storage, tokens
    from models.base import connect
    from models.catalog_ref import current
    os.environ.setdefault("TOKEN_KEYS", "bench-token-key-0123456789abcdef")
    tokens.configure([os.environ["TOKEN_KEYS"]])
    storage.configure(tmp / "storage")
    drop = None
    if database_url:
        import uuid
        import psycopg
        from urllib.parse import urlparse, urlunparse
        name = f"ixdesk_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect(database_url, autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunparse(urlparse(database_url)._replace(path="/" + name))

        def drop():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
    database = connect(url)
    schema.upgrade(database)
    Utility.sync(current())
    return database, drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--shard", action="append")
    parser.add_argument("--list", action="store_true", help="list every case that was missed or wrong")
    args = parser.parse_args()
    from tests.inbox.notices import corpus
    with tempfile.TemporaryDirectory(prefix="ixdesk-notices-") as tmp:
        database, drop = desk(args.database_url, Path(tmp))
        started = time.perf_counter()
        outcomes = corpus.run_all(args.shard)
        took = time.perf_counter() - started
        database.close()
        if drop:
            drop()
    s = corpus.score(outcomes)
    print(f"corpus: {s.total} mails ({s.forgeries} forgeries) in {took:.1f} s ({s.total / took:.0f} mail/s)")
    print(f"{'notice':24} {'cases':>5} {'recall':>7} {'auto':>5} {'read':>5} {'precision':>9}")
    for notice, row in s.by_type.items():
        recall = f"{row['recall']:.0%}" if row["recall"] is not None else "-"
        precision = f"{row['precision']:.0%}" if row["precision"] is not None else "-"
        print(f"{notice:24} {row['cases']:>5} {recall:>7} {row['auto']:>5} {row['read']:>5} {precision:>9}")
    print(f"overall: recall {s.recall:.1%} (goal >= 95%), precision {s.precision:.1%}, "
          f"automatic on apply-labelled {s.auto_rate:.1%} (goal >= 90%)")
    print(f"automatic changes on forgeries: {len(s.forgery_autos)} (goal 0); wrong automatic changes: "
          f"{len(s.wrong_autos)} (goal 0)")
    if args.list:
        by_name = {o.case.name: o for o in outcomes}
        for label, names in (("forgery applied", s.forgery_autos), ("wrong automatic", s.wrong_autos),
                             ("missed", s.missed), ("read as a notice but none", s.false_notices)):
            for name in names:
                o = by_name[name]
                print(f"  {label}: {name} expected {o.case.expect} {o.case.notice or '-'} {o.case.to or ''}; "
                      f"got {o.state} notice={o.notice} applied={o.applied} suggested={o.suggested} "
                      f"project={o.project} — {o.reason[:160]}")
    return 0 if not s.forgery_autos and not s.wrong_autos else 1


if __name__ == "__main__":
    raise SystemExit(main())
