"""The coordinator's day: what needs doing today, most urgent first, and what was snoozed or done."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, TextField, fn

from models import business_days as bd
from models.applications import Application, status_label
from models.base import BaseModel, db, utcnow, today as desk_today
from models.checklists import ChecklistItem
from models.events import Event
from models.lifecycle import TERMINAL
from models.projects import Project
from models.users import User
from models.vocab import is_id

# Kinds of work, most urgent first when equally late.
KINDS = {
    "breach": "SLA breached", "deficiency": "Deficiency to correct", "follow_up": "Follow up",
    "reminder": "Remind customer", "review": "Review received document", "expiring": "Expiring",
    "flag": "Flagged", "call_back": "Call back", "mail": "Mail to review",
}
KIND_WEIGHT = {k: i for i, k in enumerate(KINDS)}
EXPIRY_WARNING_DAYS = 30


class DayAction(BaseModel):
    """A person snoozed (until a date) or finished one occurrence of a day item, identified by its key."""

    key = CharField(index=True)
    project = ForeignKeyField(Project, backref="+", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    action = CharField()  # snooze | done
    until = DateField(null=True)
    reason = TextField(default="")
    created_at = DateTimeField(default=utcnow)


@dataclass
class DayItem:
    key: str
    kind: str
    project: Project
    title: str
    detail: str
    due: dt.date | None
    application: Application | None = None
    item: ChecklistItem | None = None
    url: str = ""  # where the work is done, when it is not the project page

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    def late_by(self, today: dt.date) -> int:
        return bd.between(self.due, today) if self.due else 0

    def sort_key(self, today: dt.date):
        return (-self.late_by(today), KIND_WEIGHT[self.kind], self.due or dt.date.max, self.project.id)


def _mine(query, model, user: User | None):
    return query.where(Project.coordinator == user) if user is not None else query


def collect(user: User | None, today: dt.date) -> list[DayItem]:
    """Every open day item for a coordinator (None: everyone's), before snoozes are applied."""
    items: list[DayItem] = []
    apps = (Application.select(Application, Project).join(Project)
            .where(Application.status.not_in(tuple(TERMINAL))))
    apps = _mine(apps, Application, user)
    candidates = list(apps.where((Application.due_on < today) | (Application.next_follow_up_on <= today) |
                                 (Application.status == "DEFICIENT") |
                                 (Application.expires_on <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS))))
    # Once Part 2 is filed, Part 1 is history: no follow-ups, breaches or expiry warnings from it.
    filed = {a.project_id for a in Application.select(Application.project).where(
        Application.project.in_({a.project_id for a in candidates} or {0}), Application.kind == "utility_part2",
        Application.status.not_in(("DRAFT", "AWAITING_COMPLETION_DOCS")))}
    for a in candidates:
        if a.kind == "utility_part1" and a.project_id in filed:
            continue
        p, label = a.project, f"{a.kind_label} ({status_label(a.kind, a.status)})"
        ref = f" {a.reference_number}" if a.reference_number else ""
        if a.status == "DEFICIENT":
            items.append(DayItem(f"deficiency:{a.id}:{a.updated_at:%Y%m%d%H%M%S%f}", "deficiency", p,
                                 f"Correct and resubmit {a.kind_label}{ref}",
                                 f"Deficient since {a.status_changed_on}; respond by {a.due_on}", a.due_on, a))
        elif a.due_on and a.due_on < today:
            items.append(DayItem(f"breach:{a.id}:{a.due_on}", "breach", p, f"{label}{ref} is past its SLA",
                                 f"Due {a.due_on} ({a.due_step.replace('_', ' ')}); "
                                 f"{bd.between(a.due_on, today)} business days late", a.due_on, a))
        if a.next_follow_up_on and a.next_follow_up_on <= today and a.status != "DEFICIENT":
            items.append(DayItem(f"follow_up:{a.id}:{a.next_follow_up_on}", "follow_up", p,
                                 f"Follow up on {label}{ref}",
                                 f"Last contact {a.last_contact_on or a.status_changed_on}", a.next_follow_up_on, a))
        if a.expires_on and a.expires_on <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS) and not p.installed_on:
            items.append(DayItem(f"expiring:{a.id}:{a.expires_on}", "expiring", p, f"{label} expires {a.expires_on}",
                                 "Finish installation or ask for an extension", a.expires_on, a))
    docs = (ChecklistItem.select(ChecklistItem, Project).join(Project)
            .where(ChecklistItem.required == True,  # noqa: E712
                   ((ChecklistItem.status == "requested") & (ChecklistItem.next_reminder_on <= today)) |
                   (ChecklistItem.status == "received")))
    for i in _mine(docs, ChecklistItem, user):
        if i.status == "requested":
            items.append(DayItem(f"reminder:{i.id}:{i.next_reminder_on}", "reminder", i.project,
                                 f"Remind the customer: {i.label}",
                                 f"Requested {i.requested_on}; reminder {i.reminders_sent + 1} of 3",
                                 i.next_reminder_on, item=i))
        else:
            items.append(DayItem(f"review:{i.id}:{i.updated_at:%Y%m%d%H%M%S}", "review", i.project,
                                 f"Review {i.label}", "Received; accept it or reject it with a reason",
                                 i.updated_at.date(), item=i))
    from models.messages import CallLog, Contact
    calls = (CallLog.select(CallLog, Project).join(Project).where(CallLog.follow_up_on <= today))
    for c in _mine(calls, CallLog, user):
        who = Contact.get_or_none(Contact.id == c.contact_id) if c.contact_id else None
        items.append(DayItem(f"call_back:{c.id}:{c.follow_up_on}", "call_back", c.project,
                             f"Call back {who.label if who else 'the contact'}",
                             f"Last call {c.created_at:%Y-%m-%d}: {c.notes[:120]}", c.follow_up_on))
    from models.inbound import InboundMail
    mail = (InboundMail.select(InboundMail, Project).join(Project, on=(InboundMail.project == Project.id))
            .where(InboundMail.state == "needs_review", InboundMail.handled_at.is_null()))
    for m in _mine(mail, InboundMail, user):
        items.append(DayItem(f"mail:{m.id}:{m.version}", "mail", m.project, f"Review mail: {m.subject[:120]}",
                             m.reason[:200], m.received_at.date(), url=f"/inbox/{m.id}"))
    flagged = Project.select().where(Project.flagged_at.is_null(False))
    for p in _mine(flagged, Project, user):
        items.append(DayItem(f"flag:{p.id}:{p.flagged_at:%Y%m%d%H%M%S}", "flag", p, "Flagged to a lead",
                             p.flagged_reason or "", p.flagged_at.date()))
    return items


def hidden_keys(keys: list[str], today: dt.date) -> set[str]:
    """Keys finished, or snoozed until a later day."""
    if not keys:
        return set()
    hidden = set()
    for chunk in range(0, len(keys), 500):
        part = keys[chunk:chunk + 500]
        query = DayAction.select(DayAction.key).where(
            DayAction.key.in_(part), (DayAction.action == "done") | (DayAction.until > today))
        hidden |= {a.key for a in query}
    return hidden


def today_for(user: User | None, today: dt.date | None = None) -> list[DayItem]:
    """The day page's rows: open items not snoozed or done, most urgent first."""
    today = today or desk_today()
    items = collect(user, today)
    gone = hidden_keys([i.key for i in items], today)
    return sorted((i for i in items if i.key not in gone), key=lambda i: i.sort_key(today))


def snooze(keys: list[str], until: dt.date, reason: str, user: User, today: dt.date | None = None) -> int:
    """Hide these items until a date, with a reason on each project's timeline."""
    today = today or desk_today()
    reason = (reason or "").strip()
    if until <= today:
        raise ValueError("snooze to a day after today")
    if until > bd.add(today, 60):
        raise ValueError("snooze at most 60 business days ahead; flag it to your lead instead")
    if not reason:
        raise ValueError("say why you are snoozing")
    return _act(keys, "snooze", user, reason, until)


def finish(keys: list[str], user: User, note: str = "") -> int:
    return _act(keys, "done", user, (note or "").strip(), None)


def _act(keys: list[str], action: str, user: User, reason: str, until: dt.date | None) -> int:
    projects = _projects_of(keys)
    with db.atomic():
        for key, project_id in projects.items():
            DayAction.create(key=key, project=project_id, user=user, action=action, until=until, reason=reason)
            what = f"Snoozed until {until}" if action == "snooze" else "Marked done"
            Event.record(Project.get_by_id(project_id), "snooze" if action == "snooze" else "note", user,
                         summary=f"{what}: {KINDS[key.split(':')[0]]}", body=reason, data={"key": key})
    return len(projects)


def _projects_of(keys: list[str]) -> dict[str, int]:
    """The project of each well-formed key; unknown keys are ignored."""
    out = {}
    for key in keys:
        parts = key.split(":")
        if len(parts) < 3 or parts[0] not in KINDS or not is_id(parts[1]):
            continue
        ident = int(parts[1])
        if parts[0] == "flag":
            pid = ident if Project.select().where(Project.id == ident).exists() else None
        elif parts[0] == "call_back":
            from models.messages import CallLog
            row = CallLog.get_or_none(CallLog.id == ident)
            pid = row.project_id if row else None
        elif parts[0] in ("reminder", "review"):
            row = ChecklistItem.get_or_none(ChecklistItem.id == ident)
            pid = row.project_id if row else None
        elif parts[0] == "mail":
            from models.inbound import InboundMail
            row = InboundMail.get_or_none(InboundMail.id == ident)
            pid = row.project_id if row else None
        else:
            row = Application.get_or_none(Application.id == ident)
            pid = row.project_id if row else None
        if pid:
            out[key] = pid
    return out


def project_of(key: str) -> int | None:
    return _projects_of([key]).get(key)


def load(today: dt.date | None = None, desk: list[DayItem] | None = None) -> list[dict]:
    """Each coordinator's open projects, items due today, breaches and flags (for leads); one pass."""
    today = today or desk_today()
    desk = today_for(None, today) if desk is None else desk
    open_projects = dict(Project.select(Project.coordinator, fn.COUNT(Project.id)).where(
        Project.stage.not_in(("pto", "cancelled"))).group_by(Project.coordinator).tuples())
    rows = {u.id: {"user": u, "open": open_projects.get(u.id, 0), "due": 0, "breaches": 0, "flagged": 0}
            for u in User.assignable()}
    for item in desk:
        row = rows.get(item.project.coordinator_id)
        if row is not None:
            row["due"] += 1
            row["breaches"] += item.kind == "breach"
            row["flagged"] += item.kind == "flag"
    return list(rows.values())


def escalations(older_than_bd: int, today: dt.date | None = None,
                desk: list[DayItem] | None = None) -> list[DayItem]:
    """Flagged projects and SLA breaches late by more than N business days, across the desk."""
    today = today or desk_today()
    desk = today_for(None, today) if desk is None else desk
    return [i for i in desk if i.kind == "flag" or (i.kind == "breach" and i.late_by(today) > older_than_bd)]
