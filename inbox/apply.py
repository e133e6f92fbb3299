"""Step 6b, apply: turn a recognised notice into an application move, or a suggestion for a person."""
from __future__ import annotations

import re
from dataclasses import dataclass

from inbox import notices
from models import lifecycle
from models.applications import Application, file_application, status_label
from models.projects import Project

MATCH_NEEDED = 0.9  # only a project found by token, address, thread or reference number moves on its own
FILED = {"utility_part2": "COMPLETION_SUBMITTED"}  # where an application filed elsewhere starts here
BULLET = re.compile(r"^\s*(?:[-*•▪]|\d{1,2}[.)])\s+(.{6,300})$", re.MULTILINE)


@dataclass
class Plan:
    """What a notice would do: move `application` (or create one of `kind`) to `to`."""

    notice: str
    to: str | None
    kind: str | None = None
    application: Application | None = None
    frm: str | None = None
    create: bool = False
    blocked: str = ""  # why it cannot be applied automatically
    already: bool = False  # the application is already there: nothing to change

    def as_dict(self) -> dict:
        return {"notice": self.notice, "application": self.kind, "application_id": self.application.id
                if self.application else None, "from": self.frm, "to": self.to, "create": self.create,
                "why": self.blocked}


def plan(project: Project, authority: str, notice: str, references: list[str], status: str = "") -> Plan:
    """Which application the notice is about and where it goes; `blocked` says when a person must decide.

    status: what the utility's own phrase says the notice means there (FPL's "received your application" is
    SUBMITTED, not completeness review); used for every kind that has that status.
    """
    notice = in_context(project, authority, notice)
    targets = dict(notices.TARGETS.get(authority, {}).get(notice, {}))
    if status:
        targets = {kind: status if status in lifecycle.statuses(kind) else to for kind, to in targets.items()}
    if not targets:
        return Plan(notice, None, blocked=f"a {notice.replace('_', ' ')} notice moves no {authority} application")
    apps = list(Application.select().where(Application.project == project, Application.kind.in_(list(targets))))
    refs = {r.upper() for r in references}
    named = [a for a in apps if a.reference_number and a.reference_number.upper() in refs]
    pool = named or apps
    if not pool:
        kind = notices.CREATES[authority][notice]
        return Plan(notice, targets[kind], kind, create=True, frm=None)
    there = [a for a in pool if a.status == targets[a.kind]]
    if there:
        a = there[0]
        return Plan(notice, a.status, a.kind, a, a.status, already=True)
    movable, refused = [], []
    for a in pool:
        try:
            lifecycle.check(a.kind, a.status, targets[a.kind], by_notice=True)
            movable.append(a)
        except lifecycle.TransitionError as exc:
            refused.append((a, str(exc)))
    if len(movable) > 1 and authority == "utility":  # a utility's own notice is about interconnection first
        movable = [a for a in movable if a.kind != "incentive"] or movable
    if len(movable) > 1:  # e.g. a deficiency while Part 1 and Part 2 are both open: the one waiting on them
        waiting = [a for a in movable if a.ball_in_court in ("utility", "ahj")]
        movable = waiting if len(waiting) == 1 else movable
    if len(movable) == 1:
        a = movable[0]
        return Plan(notice, targets[a.kind], a.kind, a, a.status)
    if movable:
        names = ", ".join(f"{a.kind_label} ({a.status_label})" for a in movable)
        a = movable[0]
        return Plan(notice, targets[a.kind], a.kind, a, a.status, blocked=f"could be any of: {names}")
    a, why = refused[0]
    return Plan(notice, targets[a.kind], a.kind, a, a.status, blocked=why)


def in_context(project: Project, authority: str, notice: str) -> str:
    """What a notice means where the application stands: an AHJ's "correction notice" after the permit was
    issued comes from an inspector, so it is a failed inspection, not a plan-check deficiency."""
    if authority == "ahj" and notice == "deficiency":
        permit = Application.get_or_none((Application.project == project) & (Application.kind == "ahj_permit"))
        if permit is not None and lifecycle.rank("ahj_permit", permit.status) >= \
                lifecycle.rank("ahj_permit", "APPROVED_TO_INSTALL") and permit.status not in lifecycle.ENDINGS:
            return "inspection_failed"
    return notice


def deficiency_items(text: str) -> list[str]:
    """The listed corrections of a deficiency notice (bullets or numbered lines), at most ten."""
    return [m.group(1).strip() for m in BULLET.finditer(text or "")][:10]


def carry_out(p: Plan, project: Project, cause: dict, why: str, text: str = "", reference: str | None = None,
              actor=None) -> dict:
    """Apply a plan; returns the status change as recorded on the mail ({application, from, to})."""
    label = actor.name if actor else "mail"
    if p.create:
        filed = FILED.get(p.kind, "SUBMITTED")
        app = file_application(project, p.kind, filed, reference=reference)
        from models.events import Event
        Event.record(project, "status", actor, actor_label="" if actor else "mail", application=app,
                     summary=f"{app.kind_label} recorded from a notice (filed outside ixdesk)", body=why,
                     data={"from": None, "to": filed, "source": "notice", "cause": cause})
        p.application, p.frm = app, filed
        if p.to == filed:
            return {"application": p.kind, "from": None, "to": filed, "created": True}
    app = Application.get_by_id(p.application.id)
    items = deficiency_items(text) if p.to == "DEFICIENT" else None
    app.transition(p.to, actor, why, by_notice=actor is None, actor_label="" if actor else label,
                   reference=reference if reference and not app.reference_number else None,
                   deficiencies=items, cause=cause)
    return {"application": p.kind, "from": None if p.create else p.frm, "to": p.to,
            **({"created": True} if p.create else {})}


def describe(change: dict | None) -> str:
    if not change:
        return ""
    kind = change["application"]
    frm = status_label(kind, change["from"]) if change.get("from") else "new"
    return f"{kind.replace('_', ' ')}: {frm} -> {status_label(kind, change['to'])}"
