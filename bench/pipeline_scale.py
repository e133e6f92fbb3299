"""The pipeline at desk scale: p50/p95 of every sort, search and deep page, the CSV export, and req/s through gunicorn.

Usage: .venv/bin/python bench/pipeline_scale.py [--size 100000] [--runs 20] [--seconds 8]
SQLite in a temp dir, or BENCH_DATABASE_URL=postgresql://... for a scratch database there (dropped after).
Requests go through the Flask app (test client); the load part runs gunicorn (2 sync workers) against
the same database and counts answers of a search (the htmx fragment, as active search asks) and of
/healthz from 8 client threads. The machine is
shared: compare figures within one run.
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import measure, seed, signed_in_client  # noqa: E402
from models import schema  # noqa: E402
from models.base import connect, db  # noqa: E402
from scratch import scratch_database  # noqa: E402  (bench/scratch.py)
from web.htmx import FRAGMENT_REQUEST  # noqa: E402

SORTS = ("updated", "utility", "ahj", "size", "stage", "ball", "coordinator")
CASES = {
    "plain": "/projects",
    "filtered": "/projects?utility=SCE&stage=permitting&ball=utility&sort=customer&dir=asc",
    **{f"sort {s}": f"/projects?sort={s}&dir=asc" for s in SORTS},
    **{f"sort {s} desc": f"/projects?sort={s}&dir=desc" for s in SORTS if s != "updated"},
    "search 2ch": "/projects?q=ga",
    "search 6ch": "/projects?q=morris",
    "search 2 words": "/projects?q=morrison+maple",
    "deep page": "/projects?page=1500",
}
SEARCH = "/projects?q=morris"
TRIVIAL = "/healthz"


def export(client, trace: bool) -> dict:
    """Seconds to the first chunk and to the end, rows, and (trace=True) the peak Python memory in MB."""
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    resp = client.get("/projects/export.csv", buffered=False)
    first = first_row = None
    lines = 0
    for chunk in resp.response:
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        if first is None:
            first = time.perf_counter() - t0
        if first_row is None and lines > 1:
            first_row = time.perf_counter() - t0
    total = time.perf_counter() - t0
    resp.close()
    out = {"first": first, "first_row": first_row, "total": total, "rows": lines - 1}
    if trace:
        out["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(conn, path: str, cookie: str = "", method: str = "GET", body: str = "",
             fragment: bool = True) -> tuple[int, object, bytes]:
    headers = {"Cookie": cookie} if cookie else {}
    if fragment and cookie:
        headers.update(FRAGMENT_REQUEST)  # active search, paging and sorting ask for the results fragment
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.msg, resp.read()


def load(url: str, seconds: float) -> dict[str, float]:
    """req/s of the search and of /healthz through gunicorn on the bench database."""
    port, home = _free_port(), Path(tempfile.mkdtemp(prefix="ixdesk-bench-web-"))
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-0123456789",
           "BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
           "BROKER_NAMESPACE": f"ixdesk-bench-{uuid.uuid4().hex[:8]}", "COOKIE_SECURE": "0",
           "STORAGE_DIR": str(home / "storage"), "OUTBOX_DIR": str(home / "outbox"), "LOG_LEVEL": "WARNING",
           "TOKEN_KEYS": "bench-token-key-0123456789abcdef"}
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
                             "app:create_app()"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                if _request(conn, TRIVIAL)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        _, headers, page = _request(conn, "/login")
        cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [])
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        status, headers, _ = _request(conn, "/login", cookie, method="POST",
                                      body=f"csrf_token={token}&email=c0%40example.com&password=bench-password")
        cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []) or cookie
        assert status == 303, status
        out = {}
        for name, path, fragment in (("trivial", TRIVIAL, True), ("search", SEARCH, True),
                                     ("pipeline", "/projects", True), ("search full page", SEARCH, False),
                                     ("trivial again", TRIVIAL, True)):
            out[name] = _hammer(port, path, cookie, seconds, fragment)
        return out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _hammer(port: int, path: str, cookie: str, seconds: float, fragment: bool, threads: int = 8) -> float:
    done, stop = [0] * threads, time.perf_counter() + seconds

    def loop(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.perf_counter() < stop:
            status, _, _ = _request(conn, path, cookie, fragment=fragment)
            assert status == 200, (path, status)
            done[i] += 1
    t0 = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: cases,export,load")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    base = os.environ.get("BENCH_DATABASE_URL", "")
    url, cleanup = scratch_database(base, "bench")
    try:
        connect(url)
        schema.upgrade()
        t0 = time.perf_counter()
        seed(args.size, random.Random(args.size))
        print(f"{args.size} projects seeded in {time.perf_counter() - t0:.1f}s on {url.split(':')[0]}", flush=True)
        client = signed_in_client(url)
        if "cases" not in skip:
            print(f"{'case':22}{'p50':>10}{'p95':>10}", flush=True)
            for case, path in CASES.items():
                p50, p95 = measure(client, path, args.runs)
                print(f"{case:22}{p50:>8.1f}ms{p95:>8.1f}ms", flush=True)
        if "export" not in skip:
            timed, traced = export(client, trace=False), export(client, trace=True)
            print(f"export: {timed['rows']} rows, first byte {timed['first'] * 1000:.0f}ms, "
                  f"first row {timed['first_row'] * 1000:.0f}ms, "
                  f"total {timed['total']:.1f}s, peak Python memory {traced['peak_mb']:.1f} MB", flush=True)
        db.close()
        if "load" not in skip:
            rates = load(url, args.seconds)
            trivial = (rates["trivial"] + rates["trivial again"]) / 2
            print("gunicorn req/s: " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items()) +
                  f"; search/trivial {rates['search'] / trivial:.2f}, pipeline/trivial "
                  f"{rates['pipeline'] / trivial:.2f}, search full page/trivial {rates['search full page'] / trivial:.2f}",
                  flush=True)
    finally:
        if cleanup:
            cleanup()


if __name__ == "__main__":
    main()
