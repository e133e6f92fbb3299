"""Dashboard numbers: funnel, aging, turnaround against the catalog SLA, breaches, coordinator load.

Every section is a few narrow queries aggregated in SQL or in one pass in Python, the same on SQLite
and PostgreSQL. Sections marked "now" describe the desk today; the others count what happened in the
period. Each number can be opened (`drill`) into the projects behind it.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from peewee import JOIN, Case, fn

from models import business_days as bd
from models.applications import KINDS, Application, ball_in_court, status_label
from models.base import day_start_utc, today as desk_today
from models.checklists import ChecklistItem
from models.events import Event
from models.lifecycle import TERMINAL
from models.pipeline import Coordinator, Page
from models.places import Utility
from models.projects import BALL, BALL_PRIORITY, STAGE_ORDER, STAGES, Project
from models.users import User
from models.vocab import is_id

CLOSED_STAGES = ("pto", "cancelled")
SIDES = BALL_PRIORITY  # us, customer, utility, ahj: who holds the ball on an open project
WITH = {"us": "us", "customer": "the customer", "utility": "the utility", "ahj": "the AHJ"}  # "the ball is with …"
# Aging buckets in business days: (key, label, highest age in the bucket; None = no limit).
BUCKETS = (("0-5", "0–5", 5), ("6-10", "6–10", 10), ("11-20", "11–20", 20), ("21-40", "21–40", 40),
           ("over-40", "over 40", None))
APPROVED = ("APPROVED_TO_INSTALL", "AGREEMENT_SENT", "AGREEMENT_EXECUTED")
# Part 1 stops being ours to chase once Part 2 is filed (the day page and the roll-ups agree).
PART2_NOT_FILED = ("DRAFT", "AWAITING_COMPLETION_DOCS")
MAX_DAYS = 3 * 366
EARLIEST = dt.date(2000, 1, 1)
PRESETS = {"30d": "Last 30 days", "90d": "Last 90 days", "quarter": "This quarter", "last-quarter": "Last quarter"}


def _without_jit(func):
    from models.day import without_jit
    return without_jit(func)


def preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day (inclusive) a preset names, as of today."""
    if preset == "30d":
        return today - dt.timedelta(days=29), today
    if preset == "90d":
        return today - dt.timedelta(days=89), today
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if preset == "quarter":
        return quarter_start, today
    if preset == "last-quarter":
        last_end = quarter_start - dt.timedelta(days=1)
        return dt.date(last_end.year, 3 * ((last_end.month - 1) // 3) + 1, 1), last_end
    raise ValueError(f"unknown preset {preset!r}")


@dataclass
class DashboardFilter:
    start: dt.date
    end: dt.date  # inclusive
    utility: str = ""  # a catalog code
    coordinator: str = ""  # a user id, or "none" for unassigned projects

    @classmethod
    def from_args(cls, args, today: dt.date | None = None) -> tuple["DashboardFilter", dict[str, str]]:
        """Parse query-string args; returns the filter and {field: message} for anything invalid.

        A preset wins over typed dates; missing dates default to the last 90 days. Unknown utilities
        and coordinators fall back to "all", as the pipeline's filters do.
        """
        today = today or desk_today()
        errors: dict[str, str] = {}
        default_start, default_end = preset_range("90d", today)
        preset = (args.get("preset") or "").strip()
        if preset in PRESETS:
            start, end = preset_range(preset, today)
        else:
            start = _date_arg(args.get("from"), default_start, "from", "start", errors)
            end = _date_arg(args.get("to"), default_end, "to", "end", errors)
            if not errors:
                if start < EARLIEST:
                    errors["from"] = f"Choose a start date from {EARLIEST.isoformat()} on."
                elif start > today:
                    errors["from"] = "The start date is after today: nothing has happened there yet."
                elif end < start:
                    errors["to"] = "The end date is before the start date."
                elif (end - start).days + 1 > MAX_DAYS:
                    errors["to"] = (f"Choose at most three years ({MAX_DAYS} days); this range has "
                                    f"{(end - start).days + 1}.")
        utility = (args.get("utility") or "").strip().upper()[:32]
        if utility and not Utility.select().where(Utility.code == utility).exists():
            utility = ""
        coordinator = (args.get("coordinator") or "").strip()[:12]
        if coordinator != "none" and not (is_id(coordinator) and
                                          User.select().where(User.id == int(coordinator)).exists()):
            coordinator = ""
        return cls(start, end, utility, coordinator), errors

    def args(self, **changes) -> dict:
        """Query-string args for this filter (with changes), without empty ones."""
        data = {"from": self.start.isoformat(), "to": self.end.isoformat(), "utility": self.utility,
                "coordinator": self.coordinator, **changes}
        return {k: v for k, v in data.items() if v not in ("", None)}

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_utc(self) -> dt.datetime:
        return day_start_utc(self.start)

    @property
    def end_utc(self) -> dt.datetime:
        """The instant the period ends (exclusive): the start of the day after `end` at the desk."""
        return day_start_utc(self.end + dt.timedelta(days=1))

    def contains(self, day: dt.date | None) -> bool:
        return day is not None and self.start <= day <= self.end


def _date_arg(raw, default: dt.date, name: str, word: str, errors: dict) -> dt.date:
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"Enter the {word} date as YYYY-MM-DD (got {raw[:20]!r})."
        return default


def _scope(query, f: DashboardFilter, coordinator: bool = True):
    """Restrict a query that has Project in it to the filter's utility and coordinator."""
    if f.utility:
        query = query.where(Project.utility == Utility.select(Utility.id).where(Utility.code == f.utility))
    if coordinator and f.coordinator == "none":
        query = query.where(Project.coordinator.is_null())
    elif coordinator and f.coordinator:
        query = query.where(Project.coordinator == int(f.coordinator))
    return query


def _open_project():
    return Project.stage.not_in(CLOSED_STAGES)


def _superseded_part1():
    """Part 1 applications whose project has filed Part 2: history, not work (as on the day page)."""
    filed = Application.select(Application.project).where(Application.kind == "utility_part2",
                                                          Application.status.not_in(PART2_NOT_FILED))
    return (Application.kind == "utility_part1") & Application.project.in_(filed)


def percentile(values: list[int], p: float) -> int | None:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it.

    The median is percentile(values, 50): with an even count, the lower of the two middle values,
    so every figure shown is a turnaround that really happened.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def business_days_between(start: dt.date, end: dt.date) -> int:
    """models.business_days.between (kept for the callers that know it by this name)."""
    return bd.between(start, end)


def _timestamp(value) -> dt.datetime:
    """An aggregate over a datetime column (SQLite answers with text)."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


_TO, _FROM = Event.data["to"].as_text(), Event.data["from"].as_text()  # read in SQL: no JSON parsing here


class _DeskDays:
    """Stored UTC timestamps as desk dates (cached per date: a pass converts thousands of events)."""

    def __init__(self):
        self._starts: dict[dt.date, dt.datetime] = {}

    def _start(self, day: dt.date) -> dt.datetime:
        if day not in self._starts:
            self._starts[day] = day_start_utc(day)
        return self._starts[day]

    def __call__(self, ts: dt.datetime) -> dt.date:
        day = ts.date()
        if ts < self._start(day):
            return day - dt.timedelta(days=1)
        if ts >= self._start(day + dt.timedelta(days=1)):
            return day + dt.timedelta(days=1)
        return day


@dataclass
class DrillItem:
    """One project behind a number, with the value it contributed (business days, a count...)."""

    project_id: int
    value: int | None = None
    note: str = ""


@dataclass
class StageCount:
    stage: str
    label: str
    count: int
    reached: int | None  # in this stage or further along the road; None for on hold / cancelled
    share: float | None  # reached / cohort


@dataclass
class Funnel:
    stages: list[StageCount]
    total: int


@dataclass
class AgingRow:
    ball: str
    label: str
    counts: list[int]
    items: list[list[DrillItem]] = field(repr=False)

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass
class Aging:
    rows: list[AgingRow]

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows)

    def column_totals(self) -> list[int]:
        return [sum(r.counts[i] for r in self.rows) for i in range(len(BUCKETS))]


@dataclass(frozen=True)
class SlaTarget:
    """The catalog's figure for a span: business days where it publishes them, else calendar days."""

    steps: tuple[tuple[str, int | None, int | None], ...]  # (step, business days, calendar days)
    verified: bool = True

    @property
    def business_days(self) -> int | None:
        if self.steps and all(b for _, b, _ in self.steps):
            return sum(b for _, b, _ in self.steps)
        return None

    @property
    def calendar_days(self) -> int | None:
        if self.steps and all(c and not b for _, b, c in self.steps):
            return sum(c for _, _, c in self.steps)
        return None

    @property
    def short(self) -> str:
        if self.business_days is not None:
            return f"{self.business_days} BD"
        if self.calendar_days is not None:
            return f"{self.calendar_days} cal. days"
        return "—"

    @property
    def explanation(self) -> str:
        parts = " + ".join(f"{s.replace('_', ' ')} {b or c}{' BD' if b else ' cal. days'}" for s, b, c in self.steps)
        return parts + ("" if self.verified else " (unverified)")

    def met(self, value: int | None) -> bool | None:
        """Within the SLA; None when there is nothing to compare (no value, or no business-day SLA)."""
        if value is None or self.business_days is None:
            return None
        return value <= self.business_days


@dataclass
class Span:
    items: list[DrillItem] = field(default_factory=list, repr=False)
    sla: SlaTarget | None = None

    @property
    def values(self) -> list[int]:
        return [i.value for i in self.items]

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def median(self) -> int | None:
        return percentile(self.values, 50)

    @property
    def p90(self) -> int | None:
        return percentile(self.values, 90)


@dataclass
class TurnaroundRow:
    code: str
    name: str
    part1: Span
    approved_to_pto: Span
    part2: Span
    submitted: list[DrillItem] = field(default_factory=list, repr=False)  # Part 1 submitted in the period

    @property
    def deficient(self) -> list[DrillItem]:
        return [i for i in self.submitted if i.value]

    @property
    def deficiency_rate(self) -> float | None:
        return len(self.deficient) / len(self.submitted) if self.submitted else None


@dataclass
class BreachRow:
    key: str  # utility code, or coordinator id / "none"
    label: str
    count: int
    worst: int  # business days the longest-late breach is late
    items: list[DrillItem] = field(default_factory=list, repr=False)  # filled for a drill-down only


@dataclass
class Breaches:
    by_utility: list[BreachRow]
    by_coordinator: list[BreachRow]

    @property
    def total(self) -> int:
        return sum(r.count for r in self.by_utility)


@dataclass
class CoordinatorRow:
    key: str  # user id, or "none" for unassigned projects
    name: str
    open_projects: int = 0
    open_applications: int = 0
    due_today: int = 0
    overdue: int = 0
    moves: int = 0
    ptos: int = 0


@dataclass
class Dashboard:
    filter: DashboardFilter
    today: dt.date
    funnel: Funnel
    aging: Aging
    turnaround: list[TurnaroundRow]
    breaches: Breaches
    coordinators: list[CoordinatorRow]


@_without_jit
def compute(f: DashboardFilter, today: dt.date | None = None) -> Dashboard:
    """Every section of the dashboard for a filter."""
    today = today or desk_today()
    return Dashboard(f, today, funnel(f), aging(f, today), turnaround(f), breaches(f, today), coordinators(f, today))


def _cohort(f: DashboardFilter):
    # The contract date when we know it; projects without one count from the day they entered ixdesk.
    return (Project.contract_signed_on.between(f.start, f.end) |
            (Project.contract_signed_on.is_null() & (Project.created_at >= f.start_utc) &
             (Project.created_at < f.end_utc)))


def funnel(f: DashboardFilter) -> Funnel:
    """Projects signed in the period, per current stage in stage order, with how many got this far."""
    query = _scope(Project.select(Project.stage, fn.COUNT(Project.id)).where(_cohort(f)), f)
    found = dict(query.group_by(Project.stage).tuples())
    total = sum(found.values())
    road = sorted(STAGE_ORDER, key=STAGE_ORDER.get)
    stages = []
    for stage, label in STAGES.items():
        count = found.get(stage, 0)
        if stage in STAGE_ORDER:
            reached = sum(found.get(s, 0) for s in road if STAGE_ORDER[s] >= STAGE_ORDER[stage])
            stages.append(StageCount(stage, label, count, reached, reached / total if total else None))
        else:
            stages.append(StageCount(stage, label, count, None, None))
    return Funnel(stages, total)


def _bucket(age: int) -> int:
    return next(i for i, (_, _, high) in enumerate(BUCKETS) if high is None or age <= high)


def _side(kind, status):
    """ball_in_court(kind, status) in SQL; NULL for a missing status or a closed one."""
    from models.applications import CLOSED, NEEDS_CUSTOMER, NEEDS_US
    return Case(None, [(status.is_null() | (status == ""), None), (status.in_(tuple(CLOSED)), None),
                       (status.in_(tuple(NEEDS_US)), "us"),
                       ((kind == "utility_part1") & (status == "AGREEMENT_EXECUTED"), "us"),
                       (status.in_(tuple(NEEDS_CUSTOMER)), "customer"), (kind == "ahj_permit", "ahj")], "utility")


def _side_moves(f: DashboardFilter, base) -> dict[int, tuple]:
    """Per open application, the status event that decides since when its ball has been on its side.

    That is the latest event that came from, or went to, another side (the wait starts with it or with
    the move after it), or the first event when every move stayed on this side. One row per application
    (window functions) instead of every status event walked in Python:
    {application: (created, went_to_this_side, next_created, is_latest, next_is_latest, unbroken)}.
    """
    cur = _side(Application.kind, Application.status)
    to_side = _side(Application.kind, _TO)
    stays = Case(None, [((to_side == cur) & (_side(Application.kind, _FROM) == cur), 1)], 0)
    by_app = {"partition_by": [Event.application]}
    inner = _scope(Event.select(
        Event.application.alias("app"), Event.id.alias("id"), Event.created_at.alias("created"),
        Case(None, [(to_side == cur, 1)], 0).alias("to_ok"),
        fn.MAX(Case(None, [(stays == 0, Event.id)], None)).over(**by_app).alias("brk"),
        fn.MIN(Event.id).over(**by_app).alias("first"), fn.MAX(Event.id).over(**by_app).alias("last"),
        fn.LEAD(Event.created_at).over(order_by=[Event.id], **by_app).alias("next_created"),
        fn.LEAD(Event.id).over(order_by=[Event.id], **by_app).alias("next_id"))
        .join(Application, on=(Event.application == Application.id))
        .join(Project, on=(Application.project == Project.id))
        .where(Event.kind == "status", Application.status.not_in(tuple(TERMINAL)), *base), f).alias("moves")
    c = inner.c
    query = (Event.select(c.app, c.created, c.to_ok, c.next_created, c.id == c.last, c.next_id == c.last,
                          c.brk.is_null())
             .from_(inner).where((c.id == c.brk) | (c.brk.is_null() & (c.id == c.first))))
    return {app: (_timestamp(created), bool(to_ok), _timestamp(nxt) if nxt else None, bool(latest),
                  bool(next_latest), bool(unbroken))
            for app, created, to_ok, nxt, latest, next_latest, unbroken in query.tuples()}


def _side_since(changed_on, filed_on, move, desk_day) -> dt.date | None:
    """When this application's ball moved to the side it is on now, from its deciding move (_side_moves).

    An acknowledgement on the same side (Submitted -> Completeness review) does not restart the wait.
    """
    if move is None:
        return changed_on or filed_on
    created, to_ok, next_created, latest, next_latest, unbroken = move
    # The latest move's day is the stored one (a move may be recorded for an earlier day).
    if unbroken:  # every recorded move stayed on this side: it has been there since the application was filed
        since = (changed_on or desk_day(created)) if latest else desk_day(created)
        return min(d for d in (since, filed_on) if d is not None)
    if not to_ok:  # that move left this side: the wait began with the move after it
        if latest:
            return changed_on  # the current status came without a recorded move
        return (changed_on or desk_day(next_created)) if next_latest else desk_day(next_created)
    return (changed_on or desk_day(created)) if latest else desk_day(created)  # it came from another side


def aging(f: DashboardFilter, today: dt.date | None = None) -> Aging:
    """Open projects per ball-in-court side, bucketed by business days on that side (now, not the period)."""
    today = today or desk_today()
    desk_day = _DeskDays()
    base = (_open_project(), Project.ball_in_court.in_(SIDES))
    projects = list(_scope(Project.select(Project.id, Project.ball_in_court, Project.created_at)
                           .where(*base), f).tuples())
    apps = list(_scope(Application.select(Application.id, Application.project, Application.kind, Application.status,
                                          Application.status_changed_on, Application.submitted_on,
                                          Application.created_at)
                       .join(Project).where(Application.status.not_in(tuple(TERMINAL)), *base), f).tuples())
    moves = _side_moves(f, base)
    requested = dict(_scope(ChecklistItem.select(ChecklistItem.project, fn.MIN(ChecklistItem.requested_on))
                            .join(Project).where(ChecklistItem.status == "requested",
                                                 ChecklistItem.required == True,  # noqa: E712
                                                 Project.ball_in_court == "customer", *base), f)
                     .group_by(ChecklistItem.project).tuples())
    part2_filed = {pid for _, pid, kind, status, *_ in apps
                   if kind == "utility_part2" and status not in PART2_NOT_FILED}
    starts: dict[int, dict[str, list]] = {}
    for app_id, pid, kind, status, changed_on, submitted_on, created_at in apps:
        if kind == "utility_part1" and pid in part2_filed:
            continue
        side = ball_in_court(kind, status)
        filed_on = min(d for d in (submitted_on, desk_day(created_at)) if d is not None)
        since = _side_since(changed_on, filed_on, moves.get(app_id), desk_day)
        starts.setdefault(pid, {}).setdefault(side, []).append((since, kind, status))
    rows = {side: AgingRow(side, BALL[side], [0] * len(BUCKETS), [[] for _ in BUCKETS]) for side in SIDES}
    for pid, side, created_at in projects:
        found = starts.get(pid, {}).get(side, [])
        if side == "customer" and requested.get(pid):
            found = found + [(requested[pid], "", "requested")]
        if found:
            since, kind, status = min(found, key=lambda s: s[0])
            why = (f"{KINDS.get(kind, kind)}: {status_label(kind, status)}" if kind
                   else "documents requested from the customer")
        else:  # nothing filed yet: the project has been ours since it came in
            since, why = desk_day(created_at), "no application filed yet"
        age = max(0, business_days_between(since, today))
        bucket = _bucket(age)
        rows[side].counts[bucket] += 1
        rows[side].items[bucket].append(DrillItem(pid, age, f"since {since}: {why}"))
    return Aging([rows[s] for s in SIDES])


# Steps a clean Part 1 passes on its way to approval (one of each tuple), else a published overall figure.
PART1_STEPS = (("program_review",), ("completeness",), ("engineering", "technical"))
PART1_OVERALL = ("pre_install_approval", "review")
# What the utility itself does after Part 2 is filed: the review/implementation step, then the meter.
PART2_STEPS = (("pto_if_complete", "implementation"), ("meter",))


def sla_target(utility, span: str) -> SlaTarget | None:
    """The catalog's SLA for "part1" (submitted -> approved) or "part2" (completion submitted -> PTO).

    Part 1 sums the steps a clean application passes in sequence (program review + completeness +
    engineering), because the utility's clocks run one after another; supplemental studies are left
    out, since only some applications need them. Approved -> PTO has no SLA: it includes our install
    and the AHJ's inspection.
    """
    if utility is None:
        return None
    chosen = []
    for options in PART1_STEPS if span == "part1" else PART2_STEPS:
        sla = next((utility.sla_for(s) for s in options if utility.sla_for(s) is not None), None)
        if sla is not None:
            chosen.append(sla)
    if not chosen and span == "part1":
        chosen = [s for s in (utility.sla_for(step) for step in PART1_OVERALL) if s is not None][:1]
    if not chosen:
        return None
    return SlaTarget(tuple((s.step, s.business_days, s.calendar_days) for s in chosen),
                     verified=all(s.verified for s in chosen))


def _part2_ptos(f: DashboardFilter):
    """Part 2 applications granted PTO in the period: (app, project, utility, coordinator, submitted, pto)."""
    pto_on = fn.COALESCE(Application.decided_on, Application.status_changed_on)
    return _scope(Application.select(Application.id, Application.project, Project.utility, Project.coordinator,
                                     Application.submitted_on, pto_on)
                  .join(Project)
                  .where(Application.kind == "utility_part2", Application.status == "PTO_GRANTED",
                         pto_on.between(f.start, f.end)), f)


def _part1_approvals(f: DashboardFilter, pto_projects) -> list[tuple]:
    """Part 1 approvals in the period or on a project with PTO in it: (app, project, utility, submitted, approved).

    The approval day is `decided_on`; an application approved by a jump straight to Agreement sent
    has none, so its first move into an approved status is read from its status events.
    """
    base = Application.select(Application.id, Application.project, Project.utility, Application.submitted_on,
                              Application.decided_on, Application.status, Application.status_changed_on)
    dated = _scope(base.join(Project).where(
        Application.kind == "utility_part1", Application.decided_on.is_null(False),
        Application.decided_on.between(f.start, f.end) | Application.project.in_(pto_projects)), f)
    out = [(a, p, u, s, d) for a, p, u, s, d, _, _ in dated.tuples()]
    undated_query = _scope(base.join(Project).where(
        Application.kind == "utility_part1", Application.decided_on.is_null(),
        Application.status.in_(APPROVED + ("EXPIRED",)),
        # one whose last move came before the period cannot have been approved in it
        (Application.status_changed_on >= f.start) | Application.project.in_(pto_projects)), f)
    undated = {row[0]: row for row in undated_query.tuples()}
    if undated:
        desk_day = _DeskDays()
        query = (Event.select(Event.application, fn.MIN(Event.created_at))
                 .where(Event.kind == "status", _TO.in_(APPROVED), Event.created_at < f.end_utc,
                        Event.application.in_(undated_query.select(Application.id)))
                 .group_by(Event.application))
        first = {app_id: desk_day(_timestamp(created)) for app_id, created in query.tuples()}
        for app_id, (a, p, u, s, _, status, changed_on) in undated.items():
            approved_on = first.get(app_id) or (changed_on if status == "APPROVED_TO_INSTALL" else None)
            if approved_on:
                out.append((a, p, u, s, approved_on))
    return out


def turnaround(f: DashboardFilter) -> list[TurnaroundRow]:
    """Per utility: business days submitted -> approved (Part 1), approved -> PTO, Part 2 submitted -> PTO,
    and the share of Part 1 applications submitted in the period that went deficient at least once."""
    from models.catalog_ref import current
    utilities = {u.id: u for u in Utility.select(Utility.id, Utility.code, Utility.name)}
    catalog = current().utilities
    rows: dict[int, TurnaroundRow] = {}

    def row(utility_id: int) -> TurnaroundRow:
        if utility_id not in rows:
            u = utilities[utility_id]
            info = catalog.get(u.code)
            rows[utility_id] = TurnaroundRow(u.code, u.name, Span(sla=sla_target(info, "part1")), Span(),
                                             Span(sla=sla_target(info, "part2")))
        return rows[utility_id]

    ptos = list(_part2_ptos(f).tuples())
    pto_projects = _part2_ptos(f).select(Application.project)
    approvals = _part1_approvals(f, pto_projects)
    latest: dict[int, list[dt.date]] = {}
    for app_id, pid, utility_id, submitted_on, approved_on in approvals:
        latest.setdefault(pid, []).append(approved_on)
        if f.contains(approved_on) and submitted_on and approved_on >= submitted_on:
            row(utility_id).part1.items.append(DrillItem(pid, business_days_between(submitted_on, approved_on),
                                                         f"submitted {submitted_on}, approved {approved_on}"))
    for app_id, pid, utility_id, coordinator_id, submitted_on, pto_on in ptos:
        before = [d for d in latest.get(pid, []) if d <= pto_on]
        if before:  # utilities without a Part 1 (single post-install filing) have no approval to count from
            approved_on = max(before)
            row(utility_id).approved_to_pto.items.append(DrillItem(
                pid, business_days_between(approved_on, pto_on), f"Part 1 approved {approved_on}, PTO {pto_on}"))
        if submitted_on and submitted_on <= pto_on:
            row(utility_id).part2.items.append(DrillItem(
                pid, business_days_between(submitted_on, pto_on), f"Part 2 submitted {submitted_on}, PTO {pto_on}"))
    submitted_query = _scope(Application.select(Application.id, Application.project, Project.utility,
                                                Application.status, Application.submitted_on)
                             .join(Project).where(Application.kind == "utility_part1",
                                                  Application.submitted_on.between(f.start, f.end)), f)
    submitted = list(submitted_query.tuples())
    times: dict[int, int] = {}
    if submitted:
        times = dict(Event.select(Event.application, fn.COUNT(Event.id))
                     .where(Event.kind == "status", _TO == "DEFICIENT",
                            Event.application.in_(submitted_query.select(Application.id)))
                     .group_by(Event.application).tuples())
    for app_id, pid, utility_id, status, submitted_on in submitted:
        n = times.get(app_id, 0) or int(status == "DEFICIENT")  # imported already deficient: no event
        row(utility_id).submitted.append(DrillItem(
            pid, n, f"submitted {submitted_on}; " + (f"deficient {n}×" if n else "never deficient")))
    return sorted(rows.values(), key=lambda r: r.name.lower())


def _breaching(f: DashboardFilter, today: dt.date, *columns):
    """Open applications past their SLA due date, as the day page counts them (a deficiency is not a breach:
    its date is our own response target), whether or not someone snoozed the day item."""
    return _scope(Application.select(*columns).join(Project)
                  .where(Application.status.not_in(tuple(TERMINAL)), Application.status != "DEFICIENT",
                         Application.due_on < today, ~_superseded_part1()), f)


def breaches(f: DashboardFilter, today: dt.date | None = None) -> Breaches:
    """SLA breaches open now, per utility and per coordinator, each with the longest business days late."""
    today = today or desk_today()
    names = _names()
    codes = {u.id: (u.code, u.name) for u in Utility.select(Utility.id, Utility.code, Utility.name)}
    found = _breaching(f, today, Project.utility, Project.coordinator, fn.COUNT(Application.id),
                       fn.MIN(Application.due_on)).group_by(Project.utility, Project.coordinator).tuples()
    by_utility: dict[str, BreachRow] = {}
    by_coordinator: dict[str, BreachRow] = {}
    for utility_id, coordinator_id, n, oldest in found:
        worst = bd.between(_as_date(oldest), today)
        code, name = codes[utility_id]
        key = str(coordinator_id) if coordinator_id else "none"
        for rows, k, label in ((by_utility, code, name),
                               (by_coordinator, key, names.get(coordinator_id, "Unassigned"))):
            row = rows.setdefault(k, BreachRow(k, label, 0, 0))
            row.count += n
            row.worst = max(row.worst, worst)
    order = lambda r: (-r.count, r.label.lower())  # noqa: E731
    return Breaches(sorted(by_utility.values(), key=order), sorted(by_coordinator.values(), key=order))


def _as_date(value) -> dt.date:
    """An aggregate over a date column (SQLite answers with text)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _breach_items(f: DashboardFilter, today: dt.date, where) -> list[DrillItem]:
    query = _breaching(f, today, Application.project, Application.kind, Application.status,
                       Application.due_on).where(where)
    return [DrillItem(pid, bd.between(due_on, today), f"{KINDS.get(kind, kind)}: {status_label(kind, status)}, "
                                                      f"due {due_on}") for pid, kind, status, due_on in query.tuples()]


def _names() -> dict[int | None, str]:
    return {u.id: u.name for u in User.select(User.id, User.name)}


def _day_scope(f: DashboardFilter, coordinator: int | None | str = ""):
    """The day lists' scope for the filter, narrowed to one coordinator (None: unassigned); None if they exclude
    each other."""
    from models import day
    if coordinator != "" and f.coordinator and not _matches(f, coordinator):
        return None
    utility_id = (Utility.get_or_none(Utility.code == f.utility).id if f.utility else None)
    if coordinator == "":
        user_id = int(f.coordinator) if f.coordinator not in ("", "none") else None
        return day.Scope(user=user_id, utility_id=utility_id, unassigned=f.coordinator == "none")
    return day.Scope(user=coordinator, utility_id=utility_id, unassigned=coordinator is None)


def _matches(f: DashboardFilter, coordinator_id: int | None) -> bool:
    if f.coordinator == "none":
        return coordinator_id is None
    return not f.coordinator or coordinator_id == int(f.coordinator)


def _moves(f: DashboardFilter):
    """Status moves people made in the period (notices applied by mail have no actor); with a coordinator
    filter, that person's moves."""
    query = (Event.select(Event.actor, Event.project).join(Project, on=(Event.project == Project.id))
             .where(Event.kind == "status", Event.actor.is_null(False), Event.created_at >= f.start_utc,
                    Event.created_at < f.end_utc))
    query = _scope(query, f, coordinator=False)
    if f.coordinator and f.coordinator != "none":
        query = query.where(Event.actor == int(f.coordinator))
    return query


def _open_applications(f: DashboardFilter):
    return _scope(Application.select(Application.project, Project.coordinator).join(Project)
                  .where(Application.status.not_in(tuple(TERMINAL)), _open_project(), ~_superseded_part1()), f)


def coordinators(f: DashboardFilter, today: dt.date | None = None) -> list[CoordinatorRow]:
    """Each coordinator's open projects and applications, day items due today and overdue (now), and the
    status moves they made and PTOs their projects reached (in the period)."""
    today = today or desk_today()
    names = _names()
    rows: dict[str, CoordinatorRow] = {}

    def row(user_id: int | None) -> CoordinatorRow:
        key = str(user_id) if user_id else "none"
        if key not in rows:
            rows[key] = CoordinatorRow(key, names.get(user_id, "Unassigned") if user_id else "Unassigned")
        return rows[key]

    for u in User.assignable():
        if _matches(f, u.id):
            row(u.id)
    query = _scope(Project.select(Project.coordinator, fn.COUNT(Project.id)).where(_open_project()), f)
    for user_id, n in query.group_by(Project.coordinator).tuples():
        row(user_id).open_projects = n
    apps = _open_applications(f).select(Project.coordinator, fn.COUNT(Application.id))
    for user_id, n in apps.group_by(Project.coordinator).tuples():
        row(user_id).open_applications = n
    from models import day
    for user_id, _, late, n in day.tallies(today, _day_scope(f)):
        r = row(user_id)
        if late:
            r.overdue += n
        else:
            r.due_today += n  # on today's list and not late yet (due today, undated, or an expiry warning)
    if f.coordinator != "none":  # moves are a person's; unassigned projects have nobody to count
        moves = _moves(f).select(Event.actor, fn.COUNT(Event.id)).group_by(Event.actor)
        for user_id, n in moves.tuples():
            row(user_id).moves = n
    ptos = _part2_ptos(f).select(Project.coordinator, fn.COUNT(Application.id)).group_by(Project.coordinator)
    for user_id, n in ptos.tuples():
        row(user_id).ptos = n
    return sorted(rows.values(), key=lambda r: (r.key == "none", r.name.lower()))


@dataclass
class Drill:
    title: str
    value_label: str
    items: list[DrillItem]


def _drill_funnel(key, f, today):
    if key not in STAGES:
        raise KeyError(key)
    ids = _scope(Project.select(Project.id).where(_cohort(f), Project.stage == key), f).tuples()
    return Drill(f"Signed {f.start} – {f.end}, now at {STAGES[key]}", "", [DrillItem(pid) for pid, in ids])


def _drill_aging(key, f, today):
    side, _, bucket = key.partition(":")
    index = next((i for i, b in enumerate(BUCKETS) if b[0] == bucket), None)
    if side not in SIDES or (bucket and index is None):
        raise KeyError(key)
    row = next(r for r in aging(f, today).rows if r.ball == side)
    items = row.items[index] if index is not None else [i for bucket_items in row.items for i in bucket_items]
    span = f", {BUCKETS[index][1]} business days" if index is not None else ""
    return Drill(f"Open projects with the ball with {WITH[side]}{span}", "Business days", items)


def _turnaround_drill(span: str, title: str, label: str):
    def drill(key, f, today):
        row = next((r for r in turnaround(f) if r.code == key), None)
        if row is None:
            raise KeyError(key)
        if span == "deficient":
            items = row.deficient
        elif span == "submitted":
            items = row.submitted
        else:
            items = getattr(row, span).items
        return Drill(f"{row.name}: {title}, {f.start} – {f.end}", label, items)
    return drill


def _breach_drill(by: str):
    def drill(key, f, today):
        if by == "by_utility":
            utility = Utility.get_or_none(Utility.code == key)
            if utility is None:
                raise KeyError(key)
            label, where = utility.name, Project.utility == utility.id
        else:
            user_id = _coordinator_key(key)
            label = _who(key)
            where = Project.coordinator.is_null() if user_id is None else Project.coordinator == user_id
        items = _breach_items(f, today, where)
        if not items:  # a valid key with no breaches is an empty list, not a missing page
            return Drill("SLA breaches open now", "Business days late", [])
        return Drill(f"SLA breaches open now: {label}", "Business days late", items)
    return drill


def _coordinator_key(key: str) -> int | None:
    if key == "none":
        return None
    if is_id(key):
        return int(key)
    raise KeyError(key)


def _for(query, key):
    user_id = _coordinator_key(key)
    return query.where(Project.coordinator.is_null() if user_id is None else Project.coordinator == user_id)


def _who(key: str) -> str:
    user_id = _coordinator_key(key)
    return _names().get(user_id, "Unassigned") if user_id else "Unassigned"


def _drill_open_projects(key, f, today):
    ids = _for(_scope(Project.select(Project.id, Project.stage).where(_open_project()), f), key).tuples()
    return Drill(f"{_who(key)}: open projects", "", [DrillItem(pid, None, STAGES.get(s, s)) for pid, s in ids])


def _drill_open_applications(key, f, today):
    query = _for(_open_applications(f).select(Application.project, fn.COUNT(Application.id)), key)
    return Drill(f"{_who(key)}: open applications", "Open applications",
                 [DrillItem(pid, n) for pid, n in query.group_by(Application.project).tuples()])


def _day_drill(which: str):
    def drill(key, f, today):
        from models import day
        scope = _day_scope(f, _coordinator_key(key))
        counts: dict[int, list[str]] = {}
        for pid, kind in (day.project_kinds(today, scope, which == "overdue") if scope else []):
            counts.setdefault(pid, []).append(day.KINDS[kind])
        title = "overdue on their day list" if which == "overdue" else "due today on their day list"
        return Drill(f"{_who(key)}: {title}", "Items",
                     [DrillItem(pid, len(kinds), ", ".join(kinds)) for pid, kinds in counts.items()])
    return drill


def _drill_moves(key, f, today):
    user_id = _coordinator_key(key)
    if user_id is None:
        return Drill("Status moves", "Moves", [])
    query = _moves(f).where(Event.actor == user_id).select(Event.project, fn.COUNT(Event.id)).group_by(Event.project)
    return Drill(f"{_who(key)}: status moves {f.start} – {f.end}", "Moves",
                 [DrillItem(pid, n) for pid, n in query.tuples()])


def _drill_ptos(key, f, today):
    rows = _for(_part2_ptos(f), key).tuples()
    return Drill(f"{_who(key)}: PTOs {f.start} – {f.end}", "",
                 [DrillItem(pid, None, f"PTO {pto_on}") for _, pid, _, _, _, pto_on in rows])


DRILLS = {
    "funnel": _drill_funnel,
    "aging": _drill_aging,
    "part1": _turnaround_drill("part1", "Part 1 submitted → approved", "Business days"),
    "approved_to_pto": _turnaround_drill("approved_to_pto", "Part 1 approved → PTO", "Business days"),
    "part2": _turnaround_drill("part2", "Part 2 submitted → PTO", "Business days"),
    "submitted": _turnaround_drill("submitted", "Part 1 applications submitted", "Times deficient"),
    "deficient": _turnaround_drill("deficient", "Part 1 applications that went deficient", "Times deficient"),
    "breaches_utility": _breach_drill("by_utility"),
    "breaches_coordinator": _breach_drill("by_coordinator"),
    "open_projects": _drill_open_projects,
    "open_applications": _drill_open_applications,
    "due_today": _day_drill("due_today"),
    "overdue": _day_drill("overdue"),
    "moves": _drill_moves,
    "ptos": _drill_ptos,
}


@_without_jit
def drill(metric: str, key: str, f: DashboardFilter, today: dt.date | None = None) -> Drill:
    """The projects behind one number; KeyError for an unknown metric or key."""
    return DRILLS[metric](key, f, today or desk_today())


@dataclass
class DrillRow:
    project_id: int
    external_id: str
    customer_name: str
    utility: str
    stage: str
    ball: str
    coordinator: str
    value: int | None
    note: str

    @property
    def stage_label(self) -> str:
        return STAGES.get(self.stage, self.stage)

    @property
    def ball_label(self) -> str:
        return BALL.get(self.ball, self.ball)


DRILL_SORTS = ("value", "external_id", "customer", "utility", "stage", "coordinator")
_CHUNK = 2000  # ids per IN list, well under SQLite's and PostgreSQL's parameter limits


def drill_rows(items: list[DrillItem]) -> list[DrillRow]:
    """The projects of drill items with their value (narrow selects, a query per 2,000 projects)."""
    by_id = {i.project_id: i for i in items}
    ids = list(by_id)
    out = []
    for start in range(0, len(ids), _CHUNK):
        query = (Project.select(Project.id, Project.external_id, Project.customer_name, Utility.name, Project.stage,
                                Project.ball_in_court, Coordinator.name)
                 .join(Utility, on=(Project.utility == Utility.id))
                 .switch(Project).join(Coordinator, JOIN.LEFT_OUTER, on=(Project.coordinator == Coordinator.id))
                 .where(Project.id.in_(ids[start:start + _CHUNK])))
        for pid, ext, customer, utility, stage, ball, coordinator in query.tuples():
            item = by_id[pid]
            out.append(DrillRow(pid, ext, customer, utility, stage, ball, coordinator or "Unassigned",
                                item.value, item.note))
    return out


def sort_rows(rows: list[DrillRow], sort: str, direction: str) -> list[DrillRow]:
    """Rows sorted by a column; rows without a value sort last either way."""
    keys = {
        "value": lambda r: r.value, "external_id": lambda r: r.external_id.lower(),
        "customer": lambda r: r.customer_name.lower(), "utility": lambda r: r.utility.lower(),
        "stage": lambda r: list(STAGES).index(r.stage) if r.stage in STAGES else len(STAGES),
        "coordinator": lambda r: r.coordinator.lower(),
    }
    key = keys.get(sort, keys["value"])
    present = [r for r in rows if key(r) is not None]
    missing = [r for r in rows if key(r) is None]
    present.sort(key=lambda r: (key(r), r.external_id), reverse=direction == "desc")
    return present + sorted(missing, key=lambda r: r.external_id)


def drill_page(items: list[DrillItem], sort: str = "value", direction: str = "desc", page: int = 1,
               per_page: int = 50) -> Page:
    rows = sort_rows(drill_rows(items), sort, direction)
    pages = max(1, math.ceil(len(rows) / per_page))
    page = min(max(1, page), pages)
    return Page(rows=rows[(page - 1) * per_page: page * per_page], total=len(rows), page=page, per_page=per_page)

