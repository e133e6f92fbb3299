"""Each project's checklist of forms and documents, generated from the requirements catalog."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace

import catalog
from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models import clocks
from models.applications import Application
from models.base import BaseModel, db, utcnow, today as desk_today
from models.catalog_ref import current
from models.events import Event
from models.places import Utility
from models.projects import Project
from models.users import User

STATUSES = {
    "missing": "Missing", "requested": "Requested", "received": "Received",
    "accepted": "Accepted", "rejected": "Rejected", "waived": "Waived",
}
NEEDS_REASON = ("waived", "rejected")
APPLICATION_LABELS = {"utility_part1": "Part 1", "utility_part2": "Part 2", "ahj_permit": "Permit",
                      "incentive": "Incentive"}
# Project fields the catalog's rules read: a change to one of them regenerates the checklist.
FACT_FIELDS = ("utility", "product_type", "pv_kw_dc", "pv_kw_ac", "battery_kwh", "program", "utility_account",
               "contract_signed_on", "application_complete_on", "installed_on", "export_limited", "new_home",
               "third_party_owned", "main_panel_upgrade", "state")


class ChecklistItem(BaseModel):
    project = ForeignKeyField(Project, backref="checklist", on_delete="CASCADE")
    application = CharField()  # utility_part1 | utility_part2 | ahj_permit | incentive
    doc_type = CharField()
    form_code = CharField(default="")
    label = CharField()
    form_number = CharField(null=True)
    form_version = CharField(null=True)
    rule_id = CharField()
    explanation = TextField(default="")
    source = CharField(default="")
    verified = BooleanField(default=True)
    # False once the catalog no longer asks for it; kept (with its documents) rather than deleted.
    required = BooleanField(default=True)
    status = CharField(default="missing", index=True)
    reason = TextField(default="")
    requested_on = DateField(null=True)
    next_reminder_on = DateField(null=True, index=True)
    reminders_sent = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "application", "doc_type", "form_code"), True),)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.application, self.doc_type, self.form_code)

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def form_label(self) -> str:
        return " ".join(p for p in (self.form_number, f"({self.form_version})" if self.form_version else "") if p)

    def set_status(self, status: str, reason: str, actor: User) -> None:
        """Change the status; waiving or rejecting needs a reason. Recorded on the timeline."""
        reason = (reason or "").strip()
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if status in NEEDS_REASON and not reason:
            raise ValueError(f"say why the item is {STATUSES[status].lower()}")
        old = self.status
        with db.atomic():
            self.status, self.reason, self.updated_at = status, reason, utcnow()
            if status == "requested" and old != "requested":
                self.requested_on, self.reminders_sent = desk_today(), 0
            self.next_reminder_on = (clocks.next_reminder(self.requested_on, self.reminders_sent)
                                     if status == "requested" else None)
            self.save()
            Event.record(self.project, "checklist", actor,
                         summary=f"{self.label}: {STATUSES.get(old, old)} -> {STATUSES[status]}", body=reason)
            project = Project.get_by_id(self.project_id)
            project.refresh_rollups()
            project.save()

    def log_reminder(self, actor: User, channel: str, note: str = "") -> None:
        """A reminder went to the customer; the next one falls due at the following step (2, 5, 10 BD)."""
        with db.atomic():
            self.reminders_sent += 1
            # A late reminder (the schedule's step already passed) must not fall due again the same day.
            from models import business_days
            self.next_reminder_on = max(clocks.next_reminder(self.requested_on, self.reminders_sent),
                                        business_days.add(desk_today(), 1))
            self.save()
            Event.record(self.project, "contact", actor, summary=f"Reminded customer ({channel}): {self.label}",
                         body=(note or "").strip(), data={"channel": channel, "reminder": self.reminders_sent})


CORRECTION = "CORRECTION"
CORRECTION_RULE = "deficiency"


def add_corrections(application: Application, items: list[str], actor: User | None) -> list[ChecklistItem]:
    """Each deficiency the utility listed becomes a checklist item of that application to correct."""
    existing = ChecklistItem.select().where(ChecklistItem.project == application.project_id,
                                            ChecklistItem.doc_type == CORRECTION).count()
    made = []
    for n, text in enumerate(items, start=existing + 1):
        made.append(ChecklistItem.create(
            project=application.project_id, application=application.kind, doc_type=CORRECTION,
            form_code=f"c{n}", label=text[:250], rule_id=CORRECTION_RULE, status="missing",
            explanation=f"Deficiency noted on {desk_today()}: correct it, then resubmit."))
    return made


def facts(project: Project, values: dict | None = None) -> SimpleNamespace:
    """The attributes catalog.requirements() reads, from the project with proposed values on top."""
    data = {name: getattr(project, name, None) for name in catalog.FACTS if name not in ("utility_code",)}
    data["utility_code"] = Utility.get_by_id(project.utility_id).code if project.utility_id else None
    part1 = (Application.select(Application.decided_on)
             .where(Application.project == project, Application.kind == "utility_part1",
                    Application.status == "APPROVED_TO_INSTALL").first()) if project.id else None
    data["part1_approved_on"] = part1.decided_on if part1 else None
    for name, value in (values or {}).items():
        if name == "utility":
            data["utility_code"] = getattr(value, "code", value)
        elif name in data:
            data[name] = value
    data["state"] = data.get("state") or None
    return SimpleNamespace(**data)


def evaluate(project: Project, values: dict | None = None, on: dt.date | None = None) -> "catalog.Requirements":
    return catalog.requirements(facts(project, values), on=on or desk_today(), catalog=current())


def _wanted(result) -> dict[tuple[str, str, str], "catalog.Requirement"]:
    wanted = {}
    for item in result.items:
        key = (item.application, item.doc_type, item.form.code if item.form else "")
        wanted.setdefault(key, item)
    return wanted


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.dropped or self.restored)


def _label(req) -> str:
    form = f" ({req.form.number})" if req.form and req.form.number else ""
    return f"{req.doc_label}{form}"


def preview(project: Project, values: dict) -> Diff:
    """What saving these values would add to and drop from the checklist (nothing is written)."""
    wanted = _wanted(evaluate(project, values))
    have = {i.key: i for i in ChecklistItem.select().where(ChecklistItem.project == project)}
    diff = Diff()
    for key, req in wanted.items():
        if key not in have:
            diff.added.append(_where(key[0], _label(req)))
        elif not have[key].required:
            diff.restored.append(_where(key[0], _label(req)))
    diff.dropped = [_where(k[0], i.label) for k, i in have.items()
                    if i.required and k not in wanted and i.rule_id != CORRECTION_RULE]
    return diff


def _where(application: str, label: str) -> str:
    return f"{APPLICATION_LABELS.get(application, application)}: {label}"


def sync(project: Project, actor: User | None = None, actor_label: str = "catalog") -> Diff:
    """Bring the checklist in line with the catalog: add new items, mark dropped ones not required."""
    result = evaluate(project)
    wanted = _wanted(result)
    have = {i.key: i for i in ChecklistItem.select().where(ChecklistItem.project == project)}
    diff = Diff()
    now = utcnow()
    new_rows = []
    with db.atomic():
        for key, req in wanted.items():
            item = have.get(key)
            fields = dict(label=_label(req), form_number=req.form.number if req.form else None,
                          form_version=req.form.version if req.form else None, rule_id=req.rule_id,
                          explanation=req.explanation, source=req.source, verified=req.verified, required=True)
            if item is None:
                new_rows.append(dict(project=project.id, application=key[0], doc_type=key[1], form_code=key[2],
                                     created_at=now, updated_at=now, status="missing", reason="", **fields))
                diff.added.append(_where(key[0], fields["label"]))
            elif any(getattr(item, k) != v for k, v in fields.items()):
                if not item.required:
                    diff.restored.append(_where(key[0], fields["label"]))
                ChecklistItem.update(updated_at=now, **fields).where(ChecklistItem.id == item.id).execute()
        if new_rows:
            ChecklistItem.insert_many(new_rows).execute()
        for key, item in have.items():
            if item.rule_id == CORRECTION_RULE:
                continue  # corrections come from deficiencies, not from the catalog
            if item.required and key not in wanted:
                ChecklistItem.update(required=False, updated_at=now).where(ChecklistItem.id == item.id).execute()
                diff.dropped.append(_where(key[0], item.label))
        if diff and have:  # the first generation is not news; later differences are
            Event.record(project, "checklist", actor, actor_label=actor_label, summary=_summary(diff),
                         data={"added": diff.added, "dropped": diff.dropped, "restored": diff.restored})
    return diff


def _summary(diff: Diff) -> str:
    parts = [f"+{len(diff.added)} added" if diff.added else "", f"{len(diff.dropped)} no longer required"
             if diff.dropped else "", f"{len(diff.restored)} required again" if diff.restored else ""]
    return "Checklist regenerated: " + ", ".join(p for p in parts if p)


def items_for(project: Project) -> dict[str, list[ChecklistItem]]:
    """Items grouped by application in canonical order; not-required items last within each group."""
    groups: dict[str, list[ChecklistItem]] = {a: [] for a in catalog.APPLICATIONS}
    query = ChecklistItem.select().where(ChecklistItem.project == project).order_by(
        ChecklistItem.required.desc(), ChecklistItem.id)
    for item in query:
        groups.setdefault(item.application, []).append(item)
    return groups


def open_count(project: Project) -> int:
    return (ChecklistItem.select().where(ChecklistItem.project == project, ChecklistItem.required == True,  # noqa: E712
                                         ChecklistItem.status.in_(("missing", "requested", "rejected"))).count())


def report(project: Project) -> dict:
    """The checklist and warnings as plain data (for `flask projects checklist --json` and the API)."""
    doc_types = current().doc_types
    result = evaluate(project)
    items = []
    for application, group in items_for(project).items():
        for i in group:
            items.append({"application": application, "doc_type": i.doc_type,
                          "doc_label": doc_types[i.doc_type].label if i.doc_type in doc_types else i.label,
                          "form_number": i.form_number, "form_version": i.form_version, "status": i.status,
                          "required": i.required, "reason": i.reason, "rule_id": i.rule_id,
                          "explanation": i.explanation, "source": i.source, "verified": i.verified})
    return {"project": project.external_id, "evaluated_on": result.on.isoformat(),
            "program": result.program.code if result.program else None, "items": items,
            "warnings": [{"kind": w.kind, "message": w.message, "rule_ids": list(w.rule_ids), "fact": w.fact}
                         for w in result.warnings]}
