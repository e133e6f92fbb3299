"""Applications a project files: utility Part 1/Part 2, AHJ permit, incentive."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, TextField

from models import clocks, lifecycle, webhooks
from models.base import BaseModel, db, is_postgres, utcnow, today as desk_today
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
    # The facts and clocks as of the last recompute (see _basis_sql): the periodic job skips rows it matches.
    clock_basis = TextField(null=True)
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
        since = clocks.clock_since(self.status, self.status_changed_on, self.submitted_on, self.clock_started_on)
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


@dataclass(frozen=True)
class Recomputed:
    applications_checked: int = 0  # open applications whose facts or clocks changed since they were computed
    applications_changed: int = 0
    reminders_changed: int = 0
    rules: str = ""  # the fingerprint of catalog, calendar and rules the clocks were computed under

    @property
    def changed(self) -> int:
        return self.applications_changed + self.reminders_changed


CHUNK = 2000  # rows per batched UPDATE (6 parameters each: well inside SQLite's and PostgreSQL's limits)
_CLOCK_INPUTS = ("kind", "status", "status_changed_on", "submitted_on", "clock_started_on", "last_contact_on",
                 "decided_on")
_CLOCKS = ("due_on", "due_step", "next_follow_up_on", "expires_on")


def _basis_sql(rules: str, clocks_from: str = "a") -> str:
    """SQL for the text of everything an application's clocks are a function of, and the clocks themselves.

    A row whose stored clock_basis equals this is up to date; any writer that changes a fact, the project's
    utility or a clock (or the rules fingerprint changing) makes them differ, with no writer needing to know.
    clocks_from="v" reads the clocks from the batch's new values instead of the row.
    """
    assert all(c in "0123456789abcdef" for c in rules)
    parts = [f"a.{c}" for c in _CLOCK_INPUTS] + ["p.utility_id"]
    parts += [f"a.{c}" for c in _CLOCKS] if clocks_from == "a" else \
        [_as_date("v.due_on"), "v.due_step", _as_date("v.next_follow_up_on"), _as_date("v.expires_on")]
    return f"'{rules}' || " + " || '|' || ".join(f"COALESCE(CAST({x} AS TEXT), '')" for x in parts)


def _as_date(sql: str) -> str:
    # A VALUES column holding only NULLs is text to PostgreSQL; SQLite keeps dates as text (and a CAST to
    # DATE there would make one a number).
    return f"CAST({sql} AS DATE)" if is_postgres() else sql


def _date(value) -> dt.date | None:
    """A date column as read by a raw query (SQLite hands back its text)."""
    return value if value is None or isinstance(value, dt.date) else dt.date.fromisoformat(value[:10])


def _bulk(sql: str, columns: tuple[str, ...], rows: list[tuple]) -> int:
    """Run sql, whose {v} is these rows as a table v(columns), in chunks; the number of rows it updated."""
    # Both engines name a VALUES list's columns column1, column2...; the statement must start with UPDATE
    # for the SQLite driver to report its row count.
    names = ", ".join(f"column{n} AS {c}" for n, c in enumerate(columns, start=1))
    one = "(" + ", ".join(["%s" if is_postgres() else "?"] * len(columns)) + ")"
    done = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        v = f"(SELECT {names} FROM (VALUES {', '.join([one] * len(chunk))}) AS t) AS v"
        done += db.execute_sql(sql.format(v=v), [x for row in chunk for x in row]).rowcount
    return done


def recompute_clocks(today: dt.date | None = None) -> int:
    """Bring every open application's clocks and every requested document's next reminder up to date.

    Idempotent: the dates are a function of stored facts, so running it twice changes nothing the second time.
    The result equals computing every row from scratch; only rows whose facts changed are computed.
    today is accepted for callers that pass it: no clock depends on the date the job runs.
    """
    return recompute_clocks_counted().changed


def recompute_clocks_counted() -> Recomputed:
    """recompute_clocks() with what it looked at and what it wrote, in one transaction."""
    from models.catalog_ref import current
    from models.places import Utility
    catalog = current()
    utilities = {u.id: catalog.utilities.get(u.code) for u in Utility.select(Utility.id, Utility.code)}
    rules = clocks.rules_fingerprint(utilities)
    add = clocks.memo_add()
    stale = db.execute_sql(
        f"SELECT a.id, {', '.join('a.' + c for c in _CLOCK_INPUTS + _CLOCKS)}, p.utility_id, {_basis_sql(rules)} "
        f"FROM application a JOIN project p ON p.id = a.project_id "
        f"WHERE a.status NOT IN ({', '.join(repr(s) for s in sorted(lifecycle.TERMINAL))}) "
        f"AND (a.clock_basis IS NULL OR a.clock_basis <> {_basis_sql(rules)})").fetchall()
    pg = is_postgres()
    out = (lambda d: d) if pg else (lambda d: d and d.isoformat())
    moved, settled, memo = [], [], {}
    for (app_id, kind, status, changed_on, submitted_on, started_on, contact_on, decided_on,
         due_on, due_step, follow_on, expires_on, utility_id, basis) in stale:
        key = (kind, status, changed_on, submitted_on, started_on, contact_on, decided_on, utility_id)
        clock = memo.get(key)
        if clock is None:
            since = clocks.clock_since(status, _date(changed_on), _date(submitted_on), _date(started_on))
            clock = memo[key] = clocks.compute(
                status, since, _date(contact_on), utilities.get(utility_id),
                waiting_on_them=ball_in_court(kind, status) in ("utility", "ahj"),
                approved_on=_date(decided_on), add=add)
        if (clock.due_on, clock.due_step, clock.next_follow_up_on, clock.expires_on) == (
                _date(due_on), due_step, _date(follow_on), _date(expires_on)):
            settled.append((app_id, basis))
        else:
            moved.append((app_id, out(clock.due_on), clock.due_step, out(clock.next_follow_up_on),
                          out(clock.expires_on), basis))
    # Each row is written only if its facts and clocks are still the ones read (a transition may have won).
    guard = f"a.id = v.id AND p.id = a.project_id AND {_basis_sql(rules)} = v.basis"
    reminders = _stale_reminders(add, out)
    if not (moved or settled or reminders):
        return Recomputed(0, 0, 0, rules)
    with db.atomic():
        applications_changed = _bulk(
            f"UPDATE application AS a SET due_on = {_as_date('v.due_on')}, due_step = v.due_step, "
            f"next_follow_up_on = {_as_date('v.next_follow_up_on')}, expires_on = {_as_date('v.expires_on')}, "
            f"clock_basis = {_basis_sql(rules, clocks_from='v')} FROM {{v}}, project p WHERE {guard}",
            ("id", "due_on", "due_step", "next_follow_up_on", "expires_on", "basis"), moved)
        _bulk(f"UPDATE application AS a SET clock_basis = v.basis FROM {{v}}, project p WHERE {guard}",
              ("id", "basis"), settled)
        # Guarded like the applications: only if the item's facts and date are still the ones read.
        reminders_changed = _bulk(
            f"UPDATE checklist_item SET next_reminder_on = {_as_date('v.due')} FROM {{v}} "
            f"WHERE checklist_item.id = v.id AND checklist_item.status = 'requested' AND {_REMINDER_KEY} = v.key",
            ("id", "key", "due"), reminders)
    return Recomputed(len(stale), applications_changed, reminders_changed, rules)


_REMINDER_KEY = ("COALESCE(CAST(requested_on AS TEXT), '') || '|' || CAST(reminders_sent AS TEXT) || '|' || "
                 "COALESCE(CAST(next_reminder_on AS TEXT), '')")


def _stale_reminders(add, out) -> list[tuple]:
    """(id, facts key, right date) for each requested item whose next reminder is wrong.

    The rule reads only (requested on, reminders sent), so it runs once per distinct pair and stored date;
    only when a group is wrong are its rows looked up.
    """
    groups = db.execute_sql(f"SELECT {_REMINDER_KEY}, requested_on, reminders_sent, next_reminder_on "
                            "FROM checklist_item WHERE status = 'requested' "
                            "GROUP BY requested_on, reminders_sent, next_reminder_on").fetchall()
    due = {}
    for key, requested_on, sent, stored in groups:
        right = clocks.next_reminder(_date(requested_on), sent, add=add)
        if right != _date(stored):
            due[key] = out(right)
    keys, wrong = list(due), []
    mark = "%s" if is_postgres() else "?"
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        wrong += [(item_id, key, due[key]) for item_id, key in db.execute_sql(
            f"SELECT id, {_REMINDER_KEY} FROM checklist_item WHERE status = 'requested' "
            f"AND {_REMINDER_KEY} IN ({', '.join([mark] * len(chunk))})", chunk).fetchall()]
    return wrong


def status_label(kind: str, status: str) -> str:
    return lifecycle.KIND_LABELS.get(kind, {}).get(status) or STATUSES.get(status, status)
