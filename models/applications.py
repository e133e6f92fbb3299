"""Applications a project files: utility Part 1/Part 2, AHJ permit, incentive."""
from __future__ import annotations

import datetime as dt

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, TextField

from models import clocks, lifecycle, webhooks
from models.base import BaseModel, db, utcnow, today as desk_today
from models.projects import Project

KINDS = {
    "utility_part1": "Utility Part 1",
    "utility_part2": "Utility Part 2 / PTO",
    "ahj_permit": "AHJ permit",
    "incentive": "Incentive",
}

# Canonical statuses (DOMAIN §3); every portal's own wording maps onto these.
STATUSES = {
    "DRAFT": "Draft",
    "SUBMITTED": "Submitted",
    "FEE_DUE": "Fee due",
    "COMPLETENESS_REVIEW": "Completeness review",
    "DEFICIENT": "Deficient",
    "RESUBMITTED": "Resubmitted",
    "TECHNICAL_REVIEW": "Technical review",
    "SUPPLEMENTAL_STUDY": "Supplemental study",
    "APPROVED_TO_INSTALL": "Approved to install",
    "AGREEMENT_SENT": "Agreement sent",
    "AGREEMENT_EXECUTED": "Agreement executed",
    "AWAITING_COMPLETION_DOCS": "Awaiting completion docs",
    "COMPLETION_SUBMITTED": "Completion submitted",
    "INSPECTION_SCHEDULED": "Inspection scheduled",
    "INSPECTION_FAILED": "Inspection failed",
    "METER_ORDERED": "Meter ordered",
    "METER_INSTALLED": "Meter installed",
    "PTO_GRANTED": "PTO granted",
    "WITHDRAWN": "Withdrawn",
    "CANCELLED": "Cancelled",
    "EXPIRED": "Expired",
}

CLOSED = frozenset({"PTO_GRANTED", "WITHDRAWN", "CANCELLED", "EXPIRED"})
NEEDS_US = frozenset({"DRAFT", "FEE_DUE", "DEFICIENT", "APPROVED_TO_INSTALL",
                      "AWAITING_COMPLETION_DOCS", "INSPECTION_FAILED"})
NEEDS_CUSTOMER = frozenset({"AGREEMENT_SENT"})
ATTENTION = frozenset({"DEFICIENT", "INSPECTION_FAILED", "FEE_DUE"})


def ball_in_court(kind: str, status: str) -> str | None:
    """Who must act next on an application in this status; None once it is closed."""
    if status in CLOSED:
        return None
    if status in NEEDS_US:
        return "us"
    if kind == "utility_part1" and status == "AGREEMENT_EXECUTED":
        return "us"  # Part 1 is done: installing is ours; Part 2 takes it from here
    if status in NEEDS_CUSTOMER:
        return "customer"
    return "ahj" if kind == "ahj_permit" else "utility"


class Application(BaseModel):
    project = ForeignKeyField(Project, backref="applications", on_delete="CASCADE")
    kind = CharField(index=True)
    status = CharField(index=True, default="DRAFT")
    reference_number = CharField(null=True, index=True)
    submitted_on = DateField(null=True)
    decided_on = DateField(null=True)
    # What went in with the last submission (forms, packet, portal confirmation).
    sent_summary = TextField(default="")
    status_changed_on = DateField(null=True)
    # When the current review clock started (submission or resubmission): an acknowledgement such as
    # "in completeness review" does not restart the utility's SLA.
    clock_started_on = DateField(null=True)
    last_contact_on = DateField(null=True)
    # Clocks, recomputed by refresh_clocks() on every change and by the periodic job.
    due_on = DateField(null=True, index=True)
    due_step = CharField(default="")
    next_follow_up_on = DateField(null=True, index=True)
    expires_on = DateField(null=True, index=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "kind"), False),)

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return status_label(self.kind, self.status)

    @property
    def ball_in_court(self) -> str | None:
        return ball_in_court(self.kind, self.status)

    @property
    def allowed_next(self) -> list[tuple[str, str]]:
        return [(s, status_label(self.kind, s)) for s in lifecycle.allowed(self.kind, self.status)]

    def days_left(self, today: dt.date | None = None) -> int | None:
        return clocks.days_left(self.due_on, today or desk_today())

    def refresh_clocks(self, utility=None) -> None:
        """Recompute due, follow-up and expiry dates from status, dates and the catalog's SLAs."""
        if utility is None:
            from models.catalog_ref import current
            utility = current().utilities.get(self.project.utility.code)
        since = self.status_changed_on or self.submitted_on
        if self.status in clocks.SAME_CLOCK and self.clock_started_on:
            since = self.clock_started_on
        clock = clocks.compute(self.status, since, self.last_contact_on, utility,
                               waiting_on_them=self.ball_in_court in ("utility", "ahj"),
                               approved_on=self.decided_on)
        self.due_on, self.due_step = clock.due_on, clock.due_step
        self.next_follow_up_on, self.expires_on = clock.next_follow_up_on, clock.expires_on

    def transition(self, to: str, actor=None, why: str = "", *, by_notice: bool = False, actor_label: str = "",
                   on: dt.date | None = None, reference: str | None = None, sent: str = "",
                   deficiencies: list[str] | None = None, cause: dict | None = None) -> "lifecycle.Move":
        """Move to a new status (see models.lifecycle); writes the timeline event and recomputes clocks."""
        from models.events import Event
        came_from = None
        if self.status in lifecycle.SIDE.get(self.kind, {}):
            last = (Event.select().where(Event.application == self, Event.kind == "status")
                    .order_by(Event.id.desc()).first())
            came_from = (last.data or {}).get("from") if last else None
        move = lifecycle.check(self.kind, self.status, to, by_notice=by_notice, came_from=came_from)
        why = (why or "").strip()
        if (move.backwards or to in lifecycle.ENDINGS) and not why:
            raise lifecycle.TransitionError(f"say why the application goes {'back ' if move.backwards else ''}"
                                            f"to {status_label(self.kind, to)}")
        items = [d.strip() for d in (deficiencies or []) if d and d.strip()]
        if items and to != "DEFICIENT":
            raise lifecycle.TransitionError("deficiency items go with a move to Deficient; clear them for this move")
        if to == "DEFICIENT" and not items and not why:
            raise lifecycle.TransitionError("list what the utility found deficient (one item per line)")
        day = on or desk_today()
        with db.atomic():
            # Conditional on the status we checked: a second tab acting on an old page loses, loudly.
            claimed = (Application.update(status=to).where((Application.id == self.id) &
                                                         (Application.status == move.frm)).execute())
            if not claimed:
                now = Application.get_by_id(self.id).status
                raise lifecycle.TransitionError(f"someone else just moved this application to "
                                                f"{status_label(self.kind, now)}; reload and check")
            self.status, self.status_changed_on, self.updated_at = to, day, utcnow()
            if to in clocks.CLOCK_STARTS or self.clock_started_on is None:
                self.clock_started_on = day
            self.last_contact_on = max(d for d in (day, self.last_contact_on) if d is not None)
            if reference:
                self.reference_number = reference.strip()[:64]
            if to in ("SUBMITTED", "COMPLETION_SUBMITTED") and not move.backwards:
                self.submitted_on, self.sent_summary = day, (sent or "").strip()
            if to in ("APPROVED_TO_INSTALL", "PTO_GRANTED"):
                self.decided_on = day
            self.refresh_clocks()
            self.save()
            if items:
                from models.checklists import add_corrections
                add_corrections(self, items, actor)
            data = {"from": move.frm, "to": to, "source": "notice" if by_notice else "person"}
            if move.skipped:
                data["skipped"] = list(move.skipped)
            if reference:
                data["reference"] = self.reference_number
            if sent:
                data["sent"] = sent.strip()
            if items:
                data["deficiencies"] = items
            if cause:
                data["cause"] = cause
            summary = f"{self.kind_label}: {status_label(self.kind, move.frm)} -> {status_label(self.kind, to)}"
            if move.skipped:
                summary += f" (skipped, not seen here: {', '.join(status_label(self.kind, s) for s in move.skipped)})"
            event = Event.record(self.project, "status", actor, summary=summary, body=why, data=data,
                                 actor_label=actor_label, application=self)
            project = Project.get_by_id(self.project_id)
            project.refresh_rollups()
            project.advance_stage()
            project.updated_at = utcnow()
            project.save()
            webhooks.status_changed(self, event)  # rows now; sent once the outermost transaction commits
        return move

    def reopen(self, actor, why: str) -> "lifecycle.Move":
        """Reopen a closed application (a person only, with a reason): back to its status before closing."""
        from models.events import Event
        if self.status not in lifecycle.TERMINAL:
            raise lifecycle.TransitionError(f"only a closed application can be reopened; this one is {self.status}")
        if not (why or "").strip():
            raise lifecycle.TransitionError("say why the application is reopened")
        last = (Event.select().where(Event.application == self, Event.kind == "status")
                .order_by(Event.id.desc()).first())
        previous = (last.data or {}).get("from") if last else None
        to = lifecycle.reopen_target(self.kind, previous)
        frm = self.status
        with db.atomic():
            self.status, self.status_changed_on, self.updated_at = to, desk_today(), utcnow()
            self.refresh_clocks()
            self.save()
            event = Event.record(self.project, "status", actor, application=self, body=why.strip(),
                                 summary=f"{self.kind_label} reopened: {status_label(self.kind, frm)} -> "
                                         f"{status_label(self.kind, to)}",
                                 data={"from": frm, "to": to, "source": "person", "reopened": True})
            project = Project.get_by_id(self.project_id)
            project.refresh_rollups()
            project.advance_stage()
            project.save()
            webhooks.status_changed(self, event)
        return lifecycle.Move(frm, to, backwards=True)

    def log_contact(self, actor, channel: str, note: str, on: dt.date | None = None) -> None:
        """A call, email or portal check about this application: the follow-up clock restarts."""
        from models.events import Event
        day = on or desk_today()
        with db.atomic():
            self.last_contact_on = max(d for d in (day, self.last_contact_on) if d is not None)
            self.refresh_clocks()
            self.save()
            Event.record(self.project, "contact", actor, application=self, body=(note or "").strip(),
                         summary=f"{channel.capitalize()} about {self.kind_label}", data={"channel": channel})


def file_application(project: Project, kind: str, status: str, reference: str | None = None,
                     on: dt.date | None = None, decided_on: dt.date | None = None) -> Application:
    """Create an application already in a status (imports, demo data), with its clocks running."""
    day = on or desk_today()
    app = Application(project=project, kind=kind, status=status, reference_number=reference,
                      submitted_on=day if status != "DRAFT" else None, status_changed_on=day,
                      clock_started_on=day, decided_on=decided_on)
    app.refresh_clocks()
    app.save()
    return app


def recompute_clocks(today: dt.date | None = None) -> int:
    """Recompute every open application's clocks and every requested document's next reminder.

    Idempotent: the dates are a function of stored facts, so running it twice changes nothing the second time.
    """
    from models.catalog_ref import current
    from models.checklists import ChecklistItem
    from models.places import Utility
    utilities = {u.id: current().utilities.get(u.code) for u in Utility.select()}
    changed = 0
    query = (Application.select(Application, Project).join(Project)
             .where(Application.status.not_in(tuple(lifecycle.TERMINAL))).order_by(Application.id))
    for app in query.iterator():
        before = (app.due_on, app.due_step, app.next_follow_up_on, app.expires_on)
        app.refresh_clocks(utilities.get(app.project.utility_id))
        after = (app.due_on, app.due_step, app.next_follow_up_on, app.expires_on)
        if after != before:
            # Only if the status is still the one the dates were computed from (a transition may have won).
            changed += (Application.update(due_on=app.due_on, due_step=app.due_step,
                                           next_follow_up_on=app.next_follow_up_on, expires_on=app.expires_on)
                        .where((Application.id == app.id) & (Application.status == app.status)).execute())
    for item in ChecklistItem.select().where(ChecklistItem.status == "requested"):
        due = clocks.next_reminder(item.requested_on, item.reminders_sent)
        if due != item.next_reminder_on:
            item.next_reminder_on = due
            item.save()
            changed += 1
    return changed


def status_label(kind: str, status: str) -> str:
    return lifecycle.KIND_LABELS.get(kind, {}).get(status) or STATUSES.get(status, status)
