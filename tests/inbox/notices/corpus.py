"""The labelled notice corpus: seed its desk, run each case on a fresh copy, score what the pipeline did.

Used by tests/inbox/test_notice_corpus.py (the goals in CI) and bench/notices.py (the figures).
"""
from __future__ import annotations

import re
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACEHOLDER = re.compile(rb"\{\{(token|plus|legacy):([A-Za-z0-9_-]+)\}\}")


def same(a: str | None, b: str | None) -> bool:
    """Two notice names for the same news (conditional approval and approval both mean approved to install)."""
    from catalog.model import NOTICE_TYPES
    return bool(a and b) and (a == b or (NOTICE_TYPES.get(a) == NOTICE_TYPES.get(b) and
                                         {a, b} <= {"conditional_approval", "approved_to_install"}))


@dataclass(frozen=True)
class Case:
    shard: str
    file: str
    project: str
    notice: str
    expect: str  # apply | suggest | none
    application: str = ""
    to: str = ""
    before: dict = field(default_factory=dict)
    forgery: bool = False
    why: str = ""

    @property
    def name(self) -> str:
        return f"{self.shard}/{self.file}"

    def raw(self) -> bytes:
        return (HERE / self.shard / self.file).read_bytes()


@dataclass
class Outcome:
    case: Case
    state: str
    notice: str | None
    applied: dict | None  # {"application", "to"} when the status moved by itself
    suggested: dict | None  # the suggested change, or {"notice"} for an unmatched notice
    project: str | None
    suggested_projects: list[str]
    reason: str

    @property
    def verdict(self) -> str:
        """auto | suggestion | missed | wrong_auto | false_notice | quiet (a correct none)."""
        c = self.case
        if self.applied:
            right = c.expect == "apply" and (not c.application or self.applied["application"] == c.application) \
                and (not c.to or self.applied["to"] == c.to) and self.project == (c.project or self.project)
            return "auto" if right else "wrong_auto"
        if c.expect == "none":
            return "false_notice" if self.notice else "quiet"
        if same(self.notice, c.notice) and self._right_suggestion():
            return "suggestion"
        return "missed"

    def _right_suggestion(self) -> bool:
        c, s = self.case, self.suggested or {}
        if c.to and s.get("to") and s["to"] != c.to:
            return False
        if c.application and s.get("application") and s["application"] != c.application:
            return False
        if c.project and self.project and self.project != c.project:
            return False
        if c.project and not self.project and c.project not in self.suggested_projects:
            return False
        return True


def load_desk() -> dict:
    return tomllib.loads((HERE / "desk.toml").read_text())


def cases(shards: list[str] | None = None) -> list[Case]:
    out = []
    for expected in sorted(HERE.glob("*/expected.toml")):
        shard = expected.parent.name
        if shards and shard not in shards:
            continue
        for entry in tomllib.loads(expected.read_text()).get("case", []):
            out.append(Case(shard=shard, file=entry["file"], project=entry.get("project", ""),
                            notice=entry.get("notice", ""), expect=entry["expect"],
                            application=entry.get("application", ""), to=entry.get("to", ""),
                            before=dict(entry.get("before", {})), forgery=bool(entry.get("forgery", False)),
                            why=entry.get("why", "")))
    return out


def seed(desk: dict) -> dict[str, int]:
    """Create the desk's projects, applications and mail history; returns external id -> project id."""
    from models.applications import Application
    from models.inbound import InboundMail
    from models.messages import OutboundMessage
    from models.places import Ahj, Utility
    from models.projects import Project
    ids = {}
    for p in desk["projects"]:
        project = Project.create(
            external_id=p["external_id"], customer_name=p["customer"], customer_email=p["email"].lower(),
            street=p["street"], city=p["city"], state=p["state"], utility=Utility.get(Utility.code == p["utility"]),
            ahj=Ahj.named(p["ahj"], p["state"]) if p.get("ahj") else None, product_type=p.get("product", "pv"),
            utility_account=p.get("account"))
        for a in p.get("applications", []):
            Application.create(project=project, kind=a["kind"], status=a["status"],
                               reference_number=a.get("reference"))
        project.refresh_rollups()
        project.save()
        ids[p["external_id"]] = project.id
    for s in desk.get("sent", []):
        OutboundMessage.create(project=ids[s["project"]], recipients=[s["to"]],
                               subject=s["subject"], body="", message_id=s["message_id"], state="sent")
    for r in desk.get("received", []):
        InboundMail.create(message_id=r["message_id"], sha256="0" * 64, dedupe_key=r["message_id"], size=0,
                           source="imap", state="processed", subject=r["subject"], from_addr=r["from"],
                           project=ids[r["project"]], matched_by="sender")
    return ids


def intake():
    from inbox.auth import AuthSettings
    from inbox.pipeline import Intake
    desk = load_desk()
    return Intake(own_addresses=(desk["desk_address"],),
                  auth=AuthSettings(authserv_ids=(desk["authserv_id"],),
                                    receiving_hosts=tuple(desk["receiving_hosts"]), verify_dkim=False),
                  desk_domains=(desk["coordinator_email"].rpartition("@")[2],))


def _fill(raw: bytes, ids: dict[str, int]) -> bytes:
    from models import tokens

    def sub(m: re.Match) -> bytes:
        kind, ext = m.group(1).decode(), m.group(2).decode()
        pid = ids[ext]
        token = tokens.legacy(pid) if kind == "legacy" else tokens.encode(pid)
        return (token.lower() if kind == "plus" else token).encode()
    return PLACEHOLDER.sub(sub, raw)


def run_case(case: Case, ids: dict[str, int], settings) -> Outcome:
    """Run one case on the seeded desk and roll everything it changed back."""
    from inbox.intake import run_now
    from inbox.store import store
    from models.applications import Application
    from models.base import db
    from models.projects import Project
    with db.atomic() as txn:
        if case.before and case.project:
            for kind, status in case.before.items():
                moved = Application.update(status=status).where(
                    (Application.project == ids[case.project]) & (Application.kind == kind)).execute()
                if not moved:
                    Application.create(project=ids[case.project], kind=kind, status=status)
        mail = run_now(store(_fill(case.raw(), ids), "imap", mailbox=f"corpus:{case.name}").mail, settings)
        project = Project.get_by_id(mail.project_id).external_id if mail.project_id else None
        change = mail.status_change
        suggested = mail.suggested_change or ({"notice": mail.notice} if mail.notice else None)
        outcome = Outcome(case, mail.state, mail.notice,
                          {"application": change["application"], "to": change["to"]} if change else None,
                          suggested if not change else None, project,
                          [s["external_id"] for s in (mail.suggestions or [])], mail.reason)
        txn.rollback()
    return outcome


def run_all(shards: list[str] | None = None) -> list[Outcome]:
    """Seed the desk in the connected database and run every case (each on a fresh copy)."""
    from models.base import db
    settings = intake()
    with db.atomic() as txn:
        ids = seed(load_desk())
        outcomes = [run_case(c, ids, settings) for c in cases(shards)]
        txn.rollback()
    return outcomes


@dataclass
class Score:
    by_type: dict[str, dict]
    forgery_autos: list[str]
    wrong_autos: list[str]
    missed: list[str]
    false_notices: list[str]
    auto_rate: float  # of cases labelled apply, the share that applied by itself
    recall: float
    precision: float
    total: int
    forgeries: int


def score(outcomes: list[Outcome]) -> Score:
    by_type: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        c, v = o.case, o.verdict
        if c.notice and c.expect != "none":
            by_type[c.notice]["cases"] += 1
            by_type[c.notice]["found"] += v in ("auto", "suggestion")
            by_type[c.notice]["auto"] += v == "auto"
        if o.notice:
            by_type[o.notice]["read"] += 1
            by_type[o.notice]["read_right"] += same(o.notice, c.notice) and c.expect != "none"
    table = {}
    for notice, n in sorted(by_type.items()):
        table[notice] = {"cases": n["cases"], "recall": n["found"] / n["cases"] if n["cases"] else None,
                         "auto": n["auto"], "precision": n["read_right"] / n["read"] if n["read"] else None,
                         "read": n["read"]}
    applies = [o for o in outcomes if o.case.expect == "apply"]
    notices = [o for o in outcomes if o.case.notice and o.case.expect != "none"]
    read = [o for o in outcomes if o.notice]
    return Score(
        by_type=table,
        forgery_autos=[o.case.name for o in outcomes if o.case.forgery and o.applied],
        wrong_autos=[o.case.name for o in outcomes if o.verdict == "wrong_auto"],
        missed=[o.case.name for o in outcomes if o.verdict == "missed"],
        false_notices=[o.case.name for o in outcomes if o.verdict == "false_notice"],
        auto_rate=sum(o.verdict == "auto" for o in applies) / len(applies) if applies else 0.0,
        recall=sum(o.verdict in ("auto", "suggestion") for o in notices) / len(notices) if notices else 0.0,
        precision=sum(same(o.notice, o.case.notice) and o.case.expect != "none" for o in read) / len(read)
        if read else 0.0,
        total=len(outcomes), forgeries=sum(o.case.forgery for o in outcomes))
