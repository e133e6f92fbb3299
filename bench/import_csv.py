"""CSV import speed: rows/s for a dry run and a real import (with checklist generation), then a re-import.

Usage: .venv/bin/python bench/import_csv.py [--rows 5000]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import ChecklistItem, Project, Utility, schema  # noqa: E402
from models.base import connect  # noqa: E402
from models.catalog_ref import current, find_utility_code  # noqa: E402
from models.demo import FIRST, LAST, STREETS, TERRITORY  # noqa: E402
from models.project_import import COLUMNS, Importer  # noqa: E402

NAMES = {"PGE": "PG&E", "SCE": "SCE", "SDGE": "SDG&E", "LADWP": "LADWP", "APS": "APS", "SRP": "SRP",
         "XCEL_CO": "Xcel Energy", "DUKE_NC": "Duke Energy", "FPL": "FPL", "HECO": "Hawaiian Electric",
         "EVERSOURCE_MA": "Eversource", "NGRID_MA": "National Grid", "ONCOR": "Oncor"}


def make_csv(n: int, rng: random.Random) -> str:
    lines = [",".join(COLUMNS)]
    for i in range(n):
        code = rng.choice(list(TERRITORY))
        city, state, zip_, ahj = rng.choice(TERRITORY[code])
        product = rng.choice(["pv", "pv_battery", "battery", "solar_roof"])
        dc = "" if product == "battery" else f"{rng.uniform(3, 15):.2f}"
        ac = "" if product == "battery" else f"{float(dc) * 0.85:.2f}"
        lines.append(",".join([
            f"IMP{i:07d}", f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"c{i}@example.net", "(415) 555-0142",
            f"{rng.randint(100, 9999)} {rng.choice(STREETS)}", city, state, zip_, NAMES[code], ahj, product, dc, ac,
            "13.5" if "battery" in product else "", "", str(rng.randint(10**9, 10**10 - 1)),
            f"{code}-INT-{i:07d}" if rng.random() < 0.5 else "", "", ""]))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    connect(f"sqlite:///{tempfile.mkdtemp(prefix='ixdesk-bench-')}/import.db")
    schema.upgrade()
    Utility.sync(current())
    text = make_csv(args.rows, random.Random(7))
    for label, dry in (("dry run", True), ("import", False), ("re-import (unchanged)", False)):
        t0 = time.perf_counter()
        report = Importer(find_utility_code, None, dry_run=dry).run(text)
        seconds = time.perf_counter() - t0
        print(f"{label:22} {report.total:>7} rows {seconds:7.2f}s {report.total / seconds:8.0f} rows/s "
              f"(created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
              f"errors {len(report.errors)})", flush=True)
    print(f"projects {Project.select().count()}, checklist items {ChecklistItem.select().count()}")


if __name__ == "__main__":
    main()
