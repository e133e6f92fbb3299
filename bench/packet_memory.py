"""Peak memory and time of a packet build: the 150-page TIFF that used to take 4 GB, and a normal 20-page packet.

Usage: .venv/bin/python bench/packet_memory.py
Each case runs in a fresh process on a throwaway desk (SQLite and storage in a temp dir), so its peak RSS is
its own: "parent" is the process that uploads and builds (a web process or worker), "child" the build process.
"""
from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CASES = ("tiff150", "tiff150-built-anyway", "normal20")


def desk(tmp: Path):
    from models import Utility, schema, storage
    from models.base import connect
    from models.catalog_ref import current
    storage.configure(tmp / "storage")
    database = connect(f"sqlite:///{tmp / 'bench.db'}")
    schema.upgrade(database)
    Utility.sync(current())
    return database


def application(labels: list[str]):
    from models import ChecklistItem
    from models.applications import file_application
    from tests.factories import make_project
    p = make_project()
    app = file_application(p, "utility_part1", "DRAFT")
    items = [ChecklistItem.create(project=p, application="utility_part1", doc_type=f"T{n}", label=label, rule_id="r")
             for n, label in enumerate(labels)]
    return p, app, items


def normal_files() -> list[tuple[str, bytes]]:
    """20 pages: a 6-page and a 4-page PDF, five 12-megapixel phone photos, a 4-page TIFF scan, a 1-page text."""
    from PIL import Image
    from tests import files
    photos = []
    for n in range(5):
        buf = io.BytesIO()
        Image.effect_noise((4000, 3000), 40 + n).convert("RGB").save(buf, format="JPEG", quality=85)
        photos.append((f"photo{n}.jpg", buf.getvalue()))
    scan = io.BytesIO()
    pages = [Image.effect_noise((2550, 3300), 60).point(lambda v: 255 if v > 128 else 0).convert("1")
             for _ in range(4)]
    pages[0].save(scan, format="TIFF", save_all=True, append_images=pages[1:], compression="group4")
    return ([("agreement.pdf", files.pdf("agreement", pages=6)), ("sld.pdf", files.pdf("sld", pages=4))] + photos
            + [("scan.tif", scan.getvalue()), ("notes.txt", b"Meter 10-998877\n" * 50)])


def run_case(case: str) -> dict:
    from models import Document, documents, packets
    from tests.hostile_files import blank_tiff
    with tempfile.TemporaryDirectory(prefix="ixdesk-bench-") as tmp:
        database = desk(Path(tmp))
        out = {"case": case}
        if case.startswith("tiff150"):
            data = blank_tiff([(7000, 7000)] * 150)
            p, app, (item,) = application(["Plan set"])
            started = time.perf_counter()
            doc, _ = documents.add(p, data, "scan.tif", item=item)
            out["upload_s"] = time.perf_counter() - started
            out["upload_says"] = doc.problem
            # As a row stored before the upload check: the build must refuse it on its own.
            Document.update(problem="").where(Document.id == doc.id).execute()
            out["parent_before_build_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.perf_counter()
            try:
                packets.build(app, None, allow_incomplete=case.endswith("built-anyway"))
                out["build_says"] = "built (incomplete: the TIFF is listed as not included)"
            except (packets.PacketIncomplete, packets.PacketRefused) as exc:
                out["build_says"] = exc.describe() if isinstance(exc, packets.PacketIncomplete) else str(exc)
            out["build_s"] = time.perf_counter() - started
            out["file_kb"] = len(data) / 1024
        else:
            named = normal_files()
            p, app, items = application([name for name, _ in named])
            for item, (name, data) in zip(items, named):
                documents.add(p, data, name, item=item)
            out["parent_before_build_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.perf_counter()
            pdf_doc, _ = packets.build(app, None)
            out["build_s"] = time.perf_counter() - started
            out["build_says"] = f"built: {pdf_doc.pages} pages ({pdf_doc.size / 1048576:.1f} MB) with the cover"
        database.close()
    out["parent_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["child_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2])))
        return 0
    from models import filetypes, packet_build
    print(f"limits: {filetypes.MAX_PAGE_PIXELS // 1_000_000} MP a page, {filetypes.MAX_PACKET_PAGES} pages and "
          f"{filetypes.MAX_PACKET_PIXELS // 1_000_000:,} MP a packet; the build child gets "
          f"{packet_build.MAX_BUILD_MEMORY_MB} MB and {packet_build.MAX_BUILD_SECONDS} s")
    for case in CASES:
        started = time.perf_counter()
        r = json.loads(subprocess.run([sys.executable, __file__, "--case", case], check=True, capture_output=True,
                                      text=True).stdout.splitlines()[-1])
        print(f"\n{case}  ({time.perf_counter() - started:.1f} s with desk setup)")
        if "upload_s" in r:
            print(f"  file: {r['file_kb']:.0f} KB; upload check {r['upload_s']:.2f} s: {r['upload_says']}")
        print(f"  build {r['build_s']:.2f} s: {r['build_says']}")
        print(f"  peak RSS: parent {r['parent_peak_mb']:.0f} MB ({r['parent_before_build_mb']:.0f} MB before the build: "
              f"making and uploading the files), child {r['child_peak_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
