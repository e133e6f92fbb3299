"""Inbound mail speed: raw MIME parsing vs the whole pipeline (store + run_now), and IMAP IDLE latency.

Usage: .venv/bin/python bench/ingest.py [--size big|small|both] [--projects 200] [--messages 300]
                                       [--database-url postgresql://...] [--imap/--no-imap] [--imap-messages 30]
Each profile gets a throwaway desk (SQLite in a temp dir, or a private PostgreSQL database created and
dropped on the server --database-url names), seeded like the demo desk. The same generated messages are
parsed raw with mail-parser, then stored and run through the pipeline synchronously, in one run.
With --imap, a private Dovecot is started, an ImapWatcher thread runs the pipeline in its on_stored
callback, and the time from APPEND to a final InboundMail state is measured.
Goals: pipeline/raw >= 0.5; IDLE p95 <= 2 s; peer (RECIPES.md §10) 24-32 msg/s, aim 3x big and 10x small.
"""
from __future__ import annotations

import argparse
import base64
import cProfile
import email.header
import email.utils
import io
import logging
import os
import platform
import pstats
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mailparser  # noqa: E402
from fpdf import FPDF  # noqa: E402
from PIL import Image  # noqa: E402

from inbox.intake import intake_from, run_now  # noqa: E402
from inbox.store import header_message_id, store  # noqa: E402
from models import Application, Document, Project, Utility, demo, schema, storage  # noqa: E402
from models.base import connect, db, is_postgres  # noqa: E402
from models.catalog_ref import current  # noqa: E402
from models.inbound import FINAL, InboundMail, Mailbox  # noqa: E402
from models.tokens import subject_tag  # noqa: E402

DESK = "desk@ixdesk.example"
PEER = (24, 32)  # FreeScout msg/s on this machine kind (RECIPES.md §10)
AIM = {"big": 3, "small": 10}  # how far past the peer's best ixdesk aims
FIRST = ("José", "Zoë", "Renée", "Ana", "Mark", "Priya", "Tom", "Lena", "Omar", "Grace")
DOCS = (("utility_bill.pdf", "Electric statement", "your latest utility bill"),
        ("Signed_Authorization.pdf", "Customer authorization", "the signed authorization form"),
        ("scan0001.pdf", "Electric statement - account summary", "a copy of the electric bill"),
        ("site_plan_rev2.pdf", "Site plan", "the revised site plan"))
DEFICIENCIES = ("Single-line diagram does not show the AC disconnect location.",
                "Customer signature missing on the interconnection agreement.",
                "Inverter model on the application does not match the spec sheet.",
                "Utility bill older than 90 days; provide a current statement.",
                "Site plan does not show the meter location.")


# ---------------------------------------------------------------- the desk

@contextmanager
def desk(base_url: str, projects: int, label: str):
    """A throwaway database and storage dir, migrated, catalog synced and seeded; dropped afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=f"ixdesk-bench-{label}-"))
    drop = None
    if base_url.startswith(("postgres://", "postgresql://")):
        import psycopg
        name = f"ixdesk_bench_{uuid.uuid4().hex[:10]}"
        admin = psycopg.connect(base_url, autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunparse(urlparse(base_url)._replace(path="/" + name))

        def drop():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
    else:
        url = f"sqlite:///{tmp / 'ingest.db'}"
    storage.configure(tmp / "storage")
    database = connect(url)
    try:
        with db.connection_context():  # as app.py serve() does
            schema.upgrade()
            Utility.sync(current())
        t0 = time.perf_counter()
        demo.seed(projects, rng_seed=projects)
        if not is_postgres():
            db.execute_sql("ANALYZE")
        seeded = time.perf_counter() - t0
        yield SimpleNamespace(url=url, seeded=seeded)
    finally:
        if not database.is_closed():
            database.close()
        if drop:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)


def targets() -> tuple[list[Project], list[tuple[Application, Project]]]:
    """Projects to reply about, and open utility applications (with their project) for notices."""
    projects = list(Project.select().order_by(Project.id))
    by_id = {p.id: p for p in projects}
    apps = [(a, by_id[a.project_id]) for a in Application.select().where(
        Application.kind.in_(("utility_part1", "utility_part2")), Application.reference_number.is_null(False),
        Application.status.not_in(("WITHDRAWN", "CANCELLED"))).order_by(Application.id)]
    # The demo names some references after catalog codes with an underscore (DUKE_NC-INT-...), which no
    # utility prints and the matcher does not read as one identifier: notices use the others.
    return projects, [(a, p) for a, p in apps if "_" not in a.reference_number]


# ---------------------------------------------------------------- messages

def make_pdf(rng: random.Random, title: str, lines: list[str], target: int) -> bytes:
    """A real PDF: a text page, padded to about target bytes with a noise image (incompressible) on page 2."""
    pdf = FPDF()
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    for line in lines:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pad = target - 2600
    if pad > 1000:
        side = int(pad ** 0.5)
        pdf.add_page()
        pdf.image(Image.frombytes("L", (side, side), rng.randbytes(side * side)), x=10, y=10, w=190)
    return bytes(pdf.output())


def fold_b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


def envelope(rng: random.Random, i: int, sender: tuple[str, str], subject: str, message_id: str,
             extra: list[str], content_type: str) -> str:
    """Headers as real mail has them: three Received hops, a folded DKIM signature, RFC 2047 when needed."""
    name, addr = sender
    domain = addr.rpartition("@")[2]
    when = email.utils.format_datetime(email.utils.localtime()).replace("  ", " ")
    hops = []
    for hop in range(3):
        ip = f"203.0.113.{rng.randint(1, 254)}"
        hops.append(f"Received: from mx{hop}.{domain} (mx{hop}.{domain} [{ip}])\n"
                    f"\tby mx{hop + 1}.ixdesk.example with ESMTPS id {uuid.uuid4().hex[:16]}\n"
                    f"\tfor <{DESK}>; {when}")
    sig = base64.b64encode(rng.randbytes(256)).decode()
    dkim = (f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s{i % 3};\n"
            f"\th=from:to:subject:date:message-id:mime-version;\n"
            f"\tbh={base64.b64encode(rng.randbytes(32)).decode()};\n"
            + "".join(f"\t{'b=' if k == 0 else ''}{sig[k:k + 70]}\n" for k in range(0, len(sig), 70)).rstrip("\n"))
    try:
        subject.encode("ascii")
        subj = subject
    except UnicodeEncodeError:
        subj = email.header.Header(subject, "utf-8").encode()
    if addr.isascii():
        shown = email.utils.formataddr((name, addr))  # RFC 2047 for a name that is not ASCII
    else:  # an internationalised address (the demo has some) travels as raw UTF-8 (SMTPUTF8)
        shown = f"{email.header.Header(name, 'utf-8').encode()} <{addr}>"
    return "\n".join([f"Return-Path: <{addr}>", *hops, dkim, f"From: {shown}", f"To: Solar Desk <{DESK}>",
                      f"Subject: {subj}", f"Date: {when}", f"Message-ID: {message_id}", "MIME-Version: 1.0",
                      *extra, content_type])


def assemble(rng: random.Random, i: int, size: str, target: int, sender: tuple[str, str], subject: str,
             text: str, extra: list[str], pdf: tuple[str, str, list[str]] | None) -> bytes:
    message_id = f"<bench.{size}.{i}.{uuid.uuid4().hex[:12]}@{sender[1].rpartition('@')[2]}>"
    if size == "small":
        head = envelope(rng, i, sender, subject, message_id, extra,
                        'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 8bit')
        return (head + "\n\n" + text + "\n").encode("utf-8")
    outer, alt = f"=_mixed_{uuid.uuid4().hex}", f"=_alt_{uuid.uuid4().hex}"
    html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.split("\n") if line) + "</body></html>"
    body = (f"--{alt}\nContent-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: base64\n\n"
            f"{fold_b64(text.encode())}\n--{alt}\nContent-Type: text/html; charset=\"utf-8\"\n"
            f"Content-Transfer-Encoding: base64\n\n{fold_b64(html.encode())}\n--{alt}--\n")
    head = envelope(rng, i, sender, subject, message_id, extra, f'Content-Type: multipart/mixed; boundary="{outer}"')
    name, title, lines = pdf
    overhead = len(head) + len(body) + 400
    data = make_pdf(rng, title, lines, max(4000, (target - overhead) * 3 // 4))
    return (f"{head}\n\nThis is a multi-part message in MIME format.\n\n--{outer}\n"
            f"Content-Type: multipart/alternative; boundary=\"{alt}\"\n\n{body}\n--{outer}\n"
            f"Content-Type: application/pdf; name=\"{name}\"\nContent-Disposition: attachment; filename=\"{name}\"\n"
            f"Content-Transfer-Encoding: base64\n\n{fold_b64(data)}--{outer}--\n").encode("utf-8")


def quoted(first: str, doc: str, lines: int) -> str:
    body = [f"> Hi {first},", ">", f"> We still need {doc} for your interconnection application.",
            "> The utility will not review the application without it, so please reply with a copy.", ">"]
    body += [f"> Step {n + 1}: log in to your utility account and download the statement for period {n + 1}."
             for n in range(lines)]
    return (f"On Mon, Nov 23, 2026 at 9:14 AM Solar Desk <{DESK}> wrote:\n" + "\n".join(body) +
            "\n> Thanks,\n> Solar Desk")


def customer_reply(rng, i, size, target, project: Project) -> bytes:
    first = project.customer_name.split()[0]
    if rng.random() < 0.2:
        first = rng.choice(FIRST)  # an accented name: RFC 2047 From and Subject
    name, title, doc = rng.choice(DOCS)
    subject = rng.choice(("Re: Documents needed for your solar interconnection",
                          "RE: Your solar project — one more document", "Re: Utility bill request"))
    subject = f"{subject} {subject_tag(project.id)}"
    text = (f"Hi,\n\nAttached is {doc} you asked for. Let me know if you need anything else.\n\n"
            f"Thanks,\n{first}\n\n" + quoted(first, doc, 4 if size == "small" else 2))
    ref = f"<out.{project.id}.{rng.randint(1, 10**9)}@ixdesk.example>"
    extra = [f"In-Reply-To: {ref}", f"References: {ref}"]
    return assemble(rng, i, size, target, (f"{first} {project.customer_name.split()[-1]}", project.customer_email),
                    subject, text, extra, (name, title, [f"Account holder: {project.customer_name}",
                                                          f"Service address: {project.street}, {project.city}"]))


def utility_notice(rng, i, size, target, app: Application, project: Project, utility) -> bytes:
    ref, domain = app.reference_number, utility.sender_domains[0]
    wording = ("deficiency", "approval", "pto")
    if app.kind == "utility_part2":
        notice = rng.choices(wording, [1, 0, 4])[0]
    else:
        notice = rng.choices(wording, [3, 3, 1])[0]
    where = f"{project.street}, {project.city}, {project.state} {project.zip}"
    if notice == "deficiency":
        subject = f"Deficiency Notification - Application ID {ref}"
        items = rng.sample(DEFICIENCIES, 2)
        text = (f"Dear Applicant,\n\nApplication ID: {ref}\nService address: {where}\n\n"
                f"Your interconnection application has been reviewed. Deficiency notification: "
                f"the following corrections are needed.\n\n1. {items[0]}\n2. {items[1]}\n\n"
                f"Please resubmit through the portal within 30 days.\n\nInterconnection Services\n{utility.name}")
        pdf = (f"Deficiency_Notice_{ref}.pdf", "Deficiency notice", items)
    elif notice == "approval":
        subject = f"Approval to Install - Application ID {ref}"
        text = (f"Dear Applicant,\n\nApplication ID: {ref}\nService address: {where}\n\n"
                f"Your interconnection application has been approved. You have approval to install the "
                f"generating facility at this address.\n\nInterconnection Services\n{utility.name}")
        pdf = (f"Approval_Letter_{ref}.pdf", "Approval to install", [f"Application {ref}", where])
    else:
        subject = f"Permission to Operate - Application ID {ref}"
        text = (f"Dear Customer,\n\nApplication ID: {ref}\nService address: {where}\n\n"
                f"Permission to operate has been granted for the generating facility at this address. "
                f"Your PTO letter is attached. You may now energize the system.\n\n"
                f"Interconnection Services\n{utility.name}")
        pdf = (f"PTO_Letter_{ref}.pdf", "Permission to Operate", [f"Application {ref}", where])
    if size == "small":
        text += "\n\n" + ("This message was sent from an unmonitored mailbox. For questions about your "
                          "interconnection request, contact your interconnection representative through the "
                          "portal. " * 4).strip()
    return assemble(rng, i, size, target, ("Interconnection Services", f"interconnection@{domain}"), subject,
                    text, ["Auto-Submitted: auto-generated"], pdf)


def unmatched(rng, i, size, target) -> bytes:
    if rng.random() < 0.5:
        sender = (f"{rng.choice(FIRST)} Nguyen", f"person{i}@example.org")
        subject = rng.choice(("Question about going solar", "Quote request", "Can someone call me back?"))
        text = (f"Hello,\n\nI live at {rng.randint(100, 9899)} {rng.choice(demo.STREETS)} and I am thinking "
                f"about adding a battery. Could someone call me back this week?\n\nThanks")
        extra, pdf = [], ("brochure.pdf", "Brochure", ["A page the sender found on the web."])
    else:
        sender = ("Solar Industry Weekly", f"news@list{i % 7}.example.com")
        subject = f"This week in solar: issue {i}"
        text = "Top stories this week: module prices, NEM updates and storage incentives.\n\n" + \
            "Read more on our site. You are receiving this because you subscribed. " * 3
        extra = [f"List-Id: <weekly.list{i % 7}.example.com>",
                 f"List-Unsubscribe: <mailto:unsubscribe@list{i % 7}.example.com>", "Precedence: bulk"]
        pdf = ("newsletter.pdf", "Solar Industry Weekly", ["Module prices", "Storage incentives"])
    if size == "small":
        text += "\n\n" + "Sent from my phone. Please excuse typos and brevity in this message. " * 12
    return assemble(rng, i, size, target, sender, subject, text, extra, pdf)


def generate(size: str, count: int, seed: int) -> tuple[list[bytes], dict[str, int]]:
    """count messages: ~40% customer replies, ~40% utility notices, ~20% unmatched, shuffled."""
    rng = random.Random(seed)
    projects, apps = targets()
    utilities = current().utilities
    codes = {u.id: u.code for u in Utility.select()}
    rng.shuffle(apps)
    out, mix = [], {"customer": 0, "notice": 0, "unmatched": 0}
    for i in range(count):
        target = rng.randint(50_000, 300_000) if size == "big" else 2048
        roll = rng.random()
        if roll < 0.4 or (roll < 0.8 and not apps):
            out.append(customer_reply(rng, i, size, target, rng.choice(projects)))
            mix["customer"] += 1
        elif roll < 0.8:
            app, project = apps[mix["notice"] % len(apps)]  # each application once while there are enough
            out.append(utility_notice(rng, i, size, target, app, project, utilities[codes[project.utility_id]]))
            mix["notice"] += 1
        else:
            out.append(unmatched(rng, i, size, target))
            mix["unmatched"] += 1
    return out, mix


# ---------------------------------------------------------------- measuring

class Queries:
    """Counts statements peewee runs (and their time), through its query hooks."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, event):
        self.count += 1
        self.seconds += event.duration


class Breakdown:
    """Wall time inside named pipeline functions, by wrapping them where the pipeline looks them up."""

    # (module, attribute, label, depth): depth 1 runs inside run_now, depth 2 inside the line above it.
    POINTS = (("inbox.store", "header_message_id", "Message-ID from the header", 1),
              ("inbox.store", "dedupe_key", "dedupe hash", 1),
              ("models.storage", "put", "storage.put (fsync; raw here, documents too)", 1),
              ("models.inbound.InboundMail", "claim", "claim (UPDATE ... state=processing)", 1),
              ("inbox.pipeline", "parse", "parse (mail-parser + walk + nh3)", 1),
              ("inbox.parse.mailparser", "parse_from_bytes", "mailparser.parse_from_bytes", 2),
              ("inbox.parse", "sanitise_html", "nh3 sanitise_html", 2),
              ("inbox.pipeline", "classify", "classify", 1),
              ("inbox.pipeline", "match", "match (token/thread/ref/sender lookups)", 1),
              ("inbox.match", "_similar", "_similar (address/name suggestions)", 2),
              ("inbox.match", "_suggest", "_suggest", 2),
              ("inbox.pipeline", "authority_of", "authority_of", 1),
              ("inbox.notices", "read", "notices.read", 1),
              ("inbox.apply", "plan", "apply.plan", 1),
              ("inbox.attach", "attach", "attach (documents)", 1),
              ("inbox.attach", "first_page_text", "pypdf first_page_text", 2),
              ("models.documents", "inspect_pdf", "pypdf inspect_pdf", 2),
              ("inbox.apply", "carry_out", "apply.carry_out (transition)", 1),
              ("inbox.pipeline", "_ball_moves", "_ball_moves", 1),
              ("inbox.pipeline", "_timeline", "_timeline (Event.record)", 1),
              ("inbox.pipeline", "_finish", "_finish (mail.save)", 1))

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.undo: list = []

    def __enter__(self):
        import importlib
        for module, attr, label, _ in self.POINTS:
            path = module.split(".")
            try:
                owner = importlib.import_module(module)
            except ModuleNotFoundError:
                owner = getattr(importlib.import_module(".".join(path[:-1])), path[-1])
            original = owner.__dict__[attr]
            func = original.__func__ if isinstance(original, (classmethod, staticmethod)) else original
            self.undo.append((owner, attr, original))
            setattr(owner, attr, self._timed(func, label))
        return self

    def __exit__(self, *exc):
        for owner, attr, original in reversed(self.undo):
            setattr(owner, attr, original)
        self.undo.clear()

    def _timed(self, func, label):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t
                self.calls[label] = self.calls.get(label, 0) + 1
        return timed

    def rows(self):
        for _, _, label, depth in self.POINTS:
            if label in self.seconds:
                yield label, depth, self.seconds[label], self.calls[label]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))] if values else float("nan")


def _where(exc: BaseException) -> str:
    """file:line of the innermost project frame an exception came from."""
    import traceback
    root = str(Path(__file__).resolve().parent.parent)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(root)]
    f = frames[-1] if frames else traceback.extract_tb(exc.__traceback__)[-1]
    return f"{os.path.relpath(f.filename, root)}:{f.lineno}"


def intake():
    # No receiving server's results and no DKIM lookups: the bench measures the pipeline, not DNS.
    return intake_from(SimpleNamespace(mail_address=DESK, reply_to="", max_upload_mb=25, mail_authserv_ids=(),
                                       mail_receiving_hosts=(), arc_trusted_sealers=(), mail_dns="",
                                       mail_verify_dkim=False))


def end_state(ids: list[int] | None = None) -> dict:
    query = InboundMail.select()
    if ids is not None:
        query = query.where(InboundMail.id.in_(ids))
    rows = list(query)
    count = lambda key: {k: sum(1 for r in rows if key(r) == k) for k in sorted({key(r) for r in rows})}  # noqa: E731
    reasons = {}
    for r in rows:
        if r.state in ("quarantined", "needs_review"):
            reasons[f"{r.state}: {r.reason[:90]}"] = reasons.get(f"{r.state}: {r.reason[:90]}", 0) + 1
    return {"state": count(lambda r: r.state), "kind": count(lambda r: r.kind or "-"),
            "matched_by": count(lambda r: r.matched_by or "-"),
            "applied": sum(1 for r in rows if r.status_change), "suggested": sum(1 for r in rows if r.suggested_change),
            "documents": sum(len(r.documents or []) for r in rows), "reasons": reasons}


def backlog(rows: int) -> None:
    """Mail already on the desk from the same mailbox, as after months of use (rows only; no files)."""
    import hashlib
    t0 = time.perf_counter()
    with db.atomic():
        for start in range(0, rows, 500):
            InboundMail.insert_many([dict(
                message_id=f"<old.{i}@example.org>", sha256=hashlib.sha256(b"%d" % i).hexdigest(),
                dedupe_key=hashlib.sha256(b"k%d" % i).hexdigest(), size=2048, source="cli", mailbox="bench",
                state="processed", kind="human", subject=f"Old mail {i}", body_text="Earlier mail. " * 40)
                for i in range(start, min(rows, start + 500))]).execute()
    print(f"  backlog: {rows} earlier InboundMail rows in the same mailbox, loaded in "
          f"{time.perf_counter() - t0:.1f}s", flush=True)


def run_profile(size: str, args) -> dict:
    with desk(args.database_url, args.projects, size) as d:
        t0 = time.perf_counter()
        raws, mix = generate(size, args.messages, seed=7)
        made = time.perf_counter() - t0
        total = sum(map(len, raws))
        print(f"  {size}: seeded {args.projects} projects in {d.seeded:.1f}s on {d.url.split(':')[0]}; generated "
              f"{len(raws)} messages ({mix['customer']} replies, {mix['notice']} notices, {mix['unmatched']} "
              f"unmatched), {min(map(len, raws)) / 1024:.0f}-{max(map(len, raws)) / 1024:.0f} KB, "
              f"{total / 1048576:.1f} MB in {made:.1f}s", flush=True)
        for raw in raws[:5]:  # warm-up: imports and caches, not the measurement
            mailparser.parse_from_bytes(raw)
        parse_ms = []
        t0 = time.perf_counter()
        for raw in raws:
            t = time.perf_counter()
            mailparser.parse_from_bytes(raw)
            parse_ms.append((time.perf_counter() - t) * 1000)
        raw_s = time.perf_counter() - t0

        if args.backlog:
            backlog(args.backlog)
        settings, queries = intake(), Queries()
        db.obj.query_hooks.append(queries)
        profiler = cProfile.Profile() if args.profile else None
        pipe_ms, ids, split = [], [], {"store()": 0.0, "run_now()": 0.0}
        raised: dict[str, int] = {}
        with Breakdown() if args.breakdown else nullcontext() as parts:
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            for raw in raws:
                t = time.perf_counter()
                stored = store(raw, source="cli", mailbox="bench")
                t_stored = time.perf_counter()
                try:
                    run_now(stored.mail, settings)
                except Exception as exc:  # noqa: BLE001 - process() should never raise; count it and go on
                    what = f"{type(exc).__name__}: {str(exc)[:80]} ({_where(exc)})"
                    raised[what] = raised.get(what, 0) + 1
                done = time.perf_counter()
                split["store()"] += t_stored - t
                split["run_now()"] += done - t_stored
                pipe_ms.append((done - t) * 1000)
                ids.append(stored.mail.id)
            if profiler:
                profiler.disable()
            pipe_s = time.perf_counter() - t0
        db.obj.query_hooks.remove(queries)
        state = end_state(ids)
        state["all_documents"] = Document.select().count()
        state["raised"] = raised
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs() if args.profile == "short" \
                else pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)
            print(f"\n--- cProfile of the {size} pipeline run ---\n{out.getvalue()}")
    n = len(raws)
    if parts is not None:
        print(f"\n  where the {size} pipeline time goes (ms per message, wall clock; indented = inside the line above)")
        for label, depth, seconds, calls in [("store()", 0, split["store()"], n)] + list(parts.rows())[:3] + \
                [("run_now()", 0, split["run_now()"], n)] + list(parts.rows())[3:]:
            print(f"    {'  ' * depth}{label:{46 - 2 * depth}}{seconds * 1000 / n:>8.2f}   ({calls} calls)")
        print(f"    {'SQL statements (cursor.execute time)':46}{queries.seconds * 1000 / n:>8.2f}   "
              f"({queries.count / n:.1f} per message)\n", flush=True)
    return {"n": n, "mb": total / 1048576, "raw_rate": n / raw_s, "pipe_rate": n / pipe_s,
            "raw_p50": pct(parse_ms, 0.5), "p50": pct(pipe_ms, 0.5), "p95": pct(pipe_ms, 0.95),
            "max": max(pipe_ms), "sql": queries.count / n, "sql_ms": queries.seconds * 1000 / n, "state": state}


# ---------------------------------------------------------------- IMAP IDLE

def idle_baseline(server, raws: list[bytes], gap: float) -> list[float]:
    """APPEND -> untagged EXISTS seen by a bare IMAPClient in IDLE: what the server itself takes to tell."""
    folder = "Baseline"
    listener, appender = server.client(), server.client()
    try:
        if not appender.folder_exists(folder):
            appender.create_folder(folder)
        listener.select_folder(folder)
        out = []
        for raw in raws:
            listener.idle()
            t = time.perf_counter()
            appender.append(folder, raw)
            while time.perf_counter() - t < 10:
                if any(len(r) > 1 and r[1] == b"EXISTS" for r in listener.idle_check(timeout=1)):
                    out.append((time.perf_counter() - t) * 1000)
                    break
            listener.idle_done()
            time.sleep(gap)
        return out
    finally:
        listener.logout()
        appender.logout()


def run_imap(args) -> dict | None:
    from inbox.imap import ImapWatcher, parse_url
    from tests.inbox.dovecot import Dovecot, binary  # the private server the IMAP tests use
    if binary() is None:
        print("IMAP: dovecot is not installed (apt-get install dovecot-imapd); skipped")
        return None
    server = Dovecot().start()
    stop = threading.Event()
    thread = None
    try:
        baseline = idle_baseline(server, [f"Subject: baseline {k}\nMessage-ID: <baseline.{k}@bench>\n\nhi\n"
                                          .encode() for k in range(10)], args.gap)
        with desk(args.database_url, args.projects, "imap") as d:
            raws, _ = generate(args.imap_size, args.imap_messages, seed=11)
            settings, raised, seen, done = intake(), [], {}, threading.Condition()

            def on_stored(mail: InboundMail) -> None:
                stored_at = time.perf_counter()
                try:
                    run_now(mail, settings)
                except Exception as exc:  # noqa: BLE001 - counted (the row stays in processing)
                    raised.append(f"{type(exc).__name__} ({_where(exc)})")
                with done:
                    seen[mail.message_id] = {"stored": stored_at, "final": time.perf_counter(), "id": mail.id}
                    done.notify_all()

            url = server.url
            watcher = ImapWatcher(parse_url(url), on_stored, f"bench:{os.getpid()}", stop)
            thread = threading.Thread(target=watcher.run, name="bench-imap-watcher", daemon=True)
            thread.start()
            key = parse_url(url).key
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:  # the first (empty) poll is over: the watcher is in IDLE
                box = Mailbox.get_or_none(Mailbox.key == key)
                if box is not None and box.last_poll_at is not None:
                    break
                time.sleep(0.02)
            time.sleep(0.2)
            mids = [header_message_id(r) for r in raws]
            sent, append_ms = {}, []
            client = server.client()
            t_start = time.perf_counter()
            for k, raw in enumerate(raws):
                # Open loop: one APPEND every --gap seconds, whatever the watcher is doing.
                wait = t_start + k * args.gap - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                t = time.perf_counter()
                client.append("INBOX", raw)
                sent[mids[k]] = t
                append_ms.append((time.perf_counter() - t) * 1000)
            client.logout()
            last = time.perf_counter()
            with done:
                done.wait_for(lambda: len(seen) >= len(raws), timeout=args.imap_timeout)
            waited = time.perf_counter() - last
            # Seen from another connection: every row the watcher finished is in a final state.
            rows = {m.message_id: m for m in InboundMail.select().where(InboundMail.message_id.in_(mids))}
            visible = sum(1 for m in rows.values() if m.state in FINAL)
            stop.set()
            thread.join(20)
            to_stored = [(seen[m]["stored"] - sent[m]) * 1000 for m in mids if m in seen]
            to_final = [(seen[m]["final"] - sent[m]) * 1000 for m in mids if m in seen]
            late = [m for m in mids if m not in seen]
            state = end_state([m.id for m in rows.values()])
            state["raised"] = {r: raised.count(r) for r in sorted(set(raised))}
            return {"baseline": baseline, "n": len(raws), "append": append_ms, "stored": to_stored,
                    "final": to_final, "late": late, "visible": visible, "waited": waited, "state": state,
                    "db": d.url.split(":")[0], "alive": thread.is_alive(), "mb": sum(map(len, raws)) / 1048576}
    finally:
        stop.set()
        if thread is not None:
            thread.join(20)
        server.close()


# ---------------------------------------------------------------- report

def versions(args) -> None:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {os.cpu_count()} CPUs ({usable} usable), {model}; {platform.platform()}")
    names = ("peewee", "mail-parser", "fpdf2", "pypdf", "nh3", "IMAPClient", "pillow", "psycopg")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    line = f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, " + ", ".join(found)
    try:
        from tests.inbox.dovecot import binary
        dove = binary()
        if dove:
            line += ", dovecot " + subprocess.run([dove, "--version"], capture_output=True, text=True).stdout.split()[0]
    except Exception:  # noqa: BLE001 - a version is only information
        pass
    print(line)
    if args.database_url.startswith(("postgres://", "postgresql://")):
        import psycopg
        with psycopg.connect(args.database_url) as c:
            print(f"PostgreSQL {c.execute('SHOW server_version').fetchone()[0]}")


def show_state(label: str, s: dict) -> None:
    kv = lambda d: " ".join(f"{k}={v}" for k, v in d.items())  # noqa: E731
    print(f"  {label}: {kv(s['state'])} | kind {kv(s['kind'])} | matched_by {kv(s['matched_by'])}")
    print(f"  {' ' * len(label)}  status changes applied {s['applied']}, suggested {s['suggested']}, "
          f"documents {s['documents']}" + (f" (desk total {s['all_documents']})" if "all_documents" in s else ""))
    for reason, n in sorted(s["reasons"].items(), key=lambda x: -x[1])[:4]:
        print(f"  {' ' * len(label)}  {n:>4} x {reason}")
    for what, n in s.get("raised", {}).items():
        print(f"  {' ' * len(label)}  {n:>4} x run_now RAISED {what} (row left in 'processing')")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("big", "small", "both"), default="both")
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--backlog", type=int, default=0,
                        help="earlier InboundMail rows in the same mailbox before the timed run (scaling)")
    parser.add_argument("--database-url", default="", help="postgresql://user@host:port/db: a private database "
                                                            "is created there and dropped after (default: SQLite)")
    parser.add_argument("--imap", action=argparse.BooleanOptionalAction, default=Path("/usr/sbin/dovecot").exists())
    parser.add_argument("--imap-messages", type=int, default=30)
    parser.add_argument("--imap-size", choices=("big", "small"), default="big")
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between APPENDs")
    parser.add_argument("--imap-timeout", type=float, default=30.0, help="seconds to wait after the last APPEND")
    parser.add_argument("--breakdown", action=argparse.BooleanOptionalAction, default=True,
                        help="time the pipeline's steps (wraps its functions; a perf_counter pair per call)")
    parser.add_argument("--profile", nargs="?", const="short", choices=("short", "full"),
                        help="cProfile the pipeline runs (full: with paths)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    versions(args)
    sizes = ("big", "small") if args.size == "both" else (args.size,)
    t_all = time.perf_counter()
    results = {size: run_profile(size, args) for size in sizes}

    print(f"\n{'profile':8}{'msgs':>6}{'MB':>7}{'raw msg/s':>11}{'pipe msg/s':>12}{'ratio':>7}{'raw p50':>9}"
          f"{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'SQL/msg':>9}{'SQL ms':>8}{'vs peer':>9}{'aim':>6}")
    for size, r in results.items():
        print(f"{size:8}{r['n']:>6}{r['mb']:>7.1f}{r['raw_rate']:>11.1f}{r['pipe_rate']:>12.1f}"
              f"{r['pipe_rate'] / r['raw_rate']:>7.2f}{r['raw_p50']:>9.2f}{r['p50']:>8.1f}{r['p95']:>8.1f}"
              f"{r['max']:>8.1f}{r['sql']:>9.1f}{r['sql_ms']:>8.2f}{r['pipe_rate'] / PEER[1]:>8.1f}x"
              f"{AIM[size]:>5}x")
    print(f"(ratio = pipeline/raw, goal >= 0.5; vs peer = pipeline / {PEER[1]} msg/s, FreeScout's best here)")
    print("\nend state")
    for size, r in results.items():
        show_state(size, r["state"])

    if args.imap:
        r = run_imap(args)
        if r:
            print(f"\nIMAP IDLE ({r['n']} {args.imap_size} messages, {r['mb']:.1f} MB, one APPEND every "
                  f"{args.gap:.2f}s, ImapWatcher + run_now in on_stored, {r['db']})")
            print(f"{'':24}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
            for label, key in (("server IDLE notify", "baseline"), ("APPEND round trip", "append"),
                               ("APPEND -> stored", "stored"),
                               ("APPEND -> final state", "final")):
                v = r[key]
                print(f"{label:24}{pct(v, 0.5):>9.1f}{pct(v, 0.95):>9.1f}{max(v) if v else float('nan'):>9.1f}")
            print(f"finished {len(r['final'])}/{r['n']}, {r['visible']} final as seen from another connection; "
                  f"waited {r['waited']:.1f}s after the last APPEND; not finished: {len(r['late'])}"
                  + (" (watcher thread still alive after stop)" if r["alive"] else ""))
            if r["late"]:
                print("  not finished: " + ", ".join(r["late"][:5]))
            print("(goal: APPEND -> final state p95 <= 2000 ms; server IDLE notify = APPEND -> EXISTS at a bare "
                  f"IMAPClient in IDLE on another folder, {len(r['baseline'])} messages)")
            show_state("imap", r["state"])
    print(f"\ntotal {time.perf_counter() - t_all:.1f}s")


if __name__ == "__main__":
    main()
