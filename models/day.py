"""The coordinator's day: what needs doing today, most urgent first, and what was snoozed or done."""
from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from functools import lru_cache

from peewee import (JOIN, SQL, Case, CharField, DateField, DateTimeField, Expression, ForeignKeyField, NodeList,
                    TextField, Value, fn)

from models import business_days as bd
from models.applications import Application, status_label
from models.base import BaseModel, db, is_postgres, utcnow, today as desk_today
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


# The day list is one SQL query: a UNION ALL of a branch per kind of work, each row carrying its key,
# so done and snoozed rows go in one anti-join and counts, sorts and pages are SQL's. Python only
# dresses the rows of the page being shown.
_APP_KINDS = ("breach", "deficiency", "follow_up", "expiring")
_FAR = dt.date.max  # undated rows sort last when sorting by due date


@dataclass(frozen=True)
class Scope:
    """Whose work: a coordinator (None: the whole desk), optionally one utility or only unassigned projects."""

    user: User | None = None
    utility_id: int | None = None
    unassigned: bool = False

    def conditions(self) -> list:
        out = []
        if self.user is not None:
            out.append(Project.coordinator == self.user)
        if self.unassigned:
            out.append(Project.coordinator.is_null())
        if self.utility_id is not None:
            out.append(Project.utility == self.utility_id)
        return out


def without_jit(func):
    """Run on PostgreSQL with its JIT off: it spends longer compiling these wide unions than running them
    (7x the query's time at 10k projects, seconds at 100k), and the cost estimate that triggers it grows
    with the desk."""
    @functools.wraps(func)
    def run(*args, **kwargs):
        if not is_postgres():
            return func(*args, **kwargs)
        with db.atomic():
            db.execute_sql("SET LOCAL jit = off")
            return func(*args, **kwargs)
    return run


def _lit(text: str):
    """A constant of our own as SQL text (constants in CASE and UNION need no type inference)."""
    text = text.replace("'", "''")
    return SQL("'" + (text.replace("%", "%%") if is_postgres() else text) + "'")


def _text(value):
    return value.cast("text")


def _cat(*parts):
    out = parts[0]
    for part in parts[1:]:
        out = out.concat(part)
    return out


def _date_text(column):
    """A date as YYYY-MM-DD, as str() writes it in the keys."""
    return fn.to_char(column, "YYYY-MM-DD") if is_postgres() else column


def _stamp(column, micro: bool):
    """A timestamp as %Y%m%d%H%M%S (and %f), as the keys write it."""
    if is_postgres():
        return fn.to_char(column, "YYYYMMDDHH24MISSUS" if micro else "YYYYMMDDHH24MISS")
    digits = fn.strftime("%Y%m%d%H%M%S", column)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS[.ffffff]"; the microseconds are the six characters after the dot.
    return _cat(digits, fn.substr(column.concat(".000000"), 21, 6)) if micro else digits


def _day(column):
    """The date part of a stored (UTC) timestamp."""
    return column.cast("date") if is_postgres() else fn.date(column)


def _key(kind: str, ident, stamp):
    return _cat(_lit(kind + ":"), _text(ident), _lit(":"), stamp)


def _labels(column, labels: dict):
    return Case(column, [(_lit(k), _lit(v)) for k, v in labels.items()], column)


def _status_label():
    from models.applications import KINDS as APP_KINDS, STATUSES
    plain = {status: status_label("", status) for status in STATUSES}
    special = {kind: {st: label for st in STATUSES if (label := status_label(kind, st)) != plain[st]}
               for kind in APP_KINDS}
    by_status = _labels(Application.status, plain)
    return Case(Application.kind, [(_lit(kind), _labels(Application.status, {**plain, **labels}))
                                   for kind, labels in special.items() if labels], by_status)


def _visible(key, today: dt.date):
    hidden = DayAction.select(SQL("1")).where(DayAction.key == key,
                                             (DayAction.action == "done") | (DayAction.until > today))
    return ~fn.EXISTS(hidden)


# What each use of the list reads: counting needs no text, a page its keys, a search the titles too.
COUNT_COLUMNS = ("kind", "due")
PAGE_COLUMNS = ("kind", "weight", "ref", "project_id", "due", "key")
SEARCH_COLUMNS = PAGE_COLUMNS + ("title", "external_id", "customer_name")
_PROJECT_COLUMNS = {"external_id", "customer_name", "coordinator_id"}


def _branch(query, project, kind: str, ident, due, key, title, today: dt.date, scope: Scope,
            names: tuple[str, ...], *project_conditions):
    """One kind's rows; the project row is read only when a column or condition needs it (most of a count's
    time at 100k projects was reading project rows)."""
    if project is not Project.id and (scope.conditions() or project_conditions or _PROJECT_COLUMNS & set(names)):
        query = query.join(Project, on=(project == Project.id)).switch(query.model)
    columns = {"kind": SQL(f"'{kind}'"), "weight": SQL(str(KIND_WEIGHT[kind])), "ref": ident,
               "project_id": project, "due": due, "key": key, "title": title,
               "external_id": Project.external_id, "customer_name": Project.customer_name,
               "coordinator_id": Project.coordinator, "late": Case(None, [(due < today, 1)], 0),
               "n": fn.COUNT(SQL("*"))}
    query = query.select(*(columns[n].alias(n) for n in names)).where(
        _visible(key, today), *scope.conditions(), *project_conditions)
    if "n" in names:  # counted per kind here: one aggregate per branch is cheaper than one over the union
        # By position: PostgreSQL cannot match an expression holding a parameter to the same one in SELECT.
        grouped = [SQL(str(i)) for i, n in enumerate(names, 1) if n not in ("n", "kind", "weight")]
        query = query.group_by(*grouped) if grouped else query
    return query


def _branches(today: dt.date, scope: Scope, names: tuple[str, ...]) -> list:
    from models.applications import KINDS as APP_KINDS
    from models.inbound import InboundMail
    from models.messages import ROLES, CallLog, Contact
    part2 = Application.alias("part2")
    filed = part2.select(SQL("1")).where(part2.project == Application.project, part2.kind == "utility_part2",
                                         part2.status.not_in(("DRAFT", "AWAITING_COMPLETION_DOCS")))
    # Once Part 2 is filed, Part 1 is history: no follow-ups, breaches or expiry warnings from it.
    current = ~((Application.kind == "utility_part1") & fn.EXISTS(filed))
    kind_label = _labels(Application.kind, APP_KINDS)
    label = _cat(kind_label, _lit(" ("), _status_label(), _lit(")"))
    ref = Case(None, [(fn.COALESCE(Application.reference_number, "") != "",
                       _cat(_lit(" "), Application.reference_number))], _lit(""))

    def apps(*conds):
        return Application.select().where(Application.status.not_in(tuple(TERMINAL)), current, *conds)

    a = Application
    out = [
        _branch(apps(a.status == "DEFICIENT"), a.project, "deficiency", a.id, a.due_on,
                _key("deficiency", a.id, _stamp(a.updated_at, True)),
                _cat(_lit("Correct and resubmit "), kind_label, ref), today, scope, names),
        _branch(apps(a.status != "DEFICIENT", a.due_on < today), a.project, "breach", a.id, a.due_on,
                _key("breach", a.id, _date_text(a.due_on)), _cat(label, ref, _lit(" is past its SLA")), today, scope, names),
        _branch(apps(a.status != "DEFICIENT", a.next_follow_up_on <= today), a.project, "follow_up", a.id, a.next_follow_up_on,
                _key("follow_up", a.id, _date_text(a.next_follow_up_on)), _cat(_lit("Follow up on "), label, ref),
                today, scope, names),
        _branch(apps(a.expires_on <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS)), a.project,
                "expiring", a.id, a.expires_on, _key("expiring", a.id, _date_text(a.expires_on)),
                _cat(label, _lit(" expires "), _date_text(a.expires_on)), today, scope, names,
                Project.installed_on.is_null()),
    ]
    c = ChecklistItem
    docs = c.select().where(c.required == True)  # noqa: E712
    out.append(_branch(docs.where(c.status == "requested", c.next_reminder_on <= today), c.project, "reminder", c.id,
                       c.next_reminder_on, _key("reminder", c.id, _date_text(c.next_reminder_on)),
                       _lit("Remind the customer: ").concat(c.label), today, scope, names))
    out.append(_branch(docs.where(c.status == "received"), c.project, "review", c.id, _day(c.updated_at),
                       _key("review", c.id, _stamp(c.updated_at, False)), _lit("Review ").concat(c.label),
                       today, scope, names))
    who = _cat(fn.COALESCE(fn.NULLIF(Contact.name, ""), fn.NULLIF(Contact.email, ""), fn.NULLIF(Contact.phone, ""),
                           _lit("?")), _lit(" ("), _labels(Contact.role, ROLES), _lit(")"))
    calls = CallLog.select().where(CallLog.follow_up_on <= today)
    if "title" in names:
        calls = calls.join(Contact, JOIN.LEFT_OUTER, on=(CallLog.contact == Contact.id)).switch(CallLog)
    out.append(_branch(calls, CallLog.project, "call_back", CallLog.id, CallLog.follow_up_on,
                       _key("call_back", CallLog.id, _date_text(CallLog.follow_up_on)),
                       _lit("Call back ").concat(Case(None, [(Contact.id.is_null(), _lit("the contact"))], who)),
                       today, scope, names))
    m = InboundMail
    mail = m.select().where(m.state == "needs_review", m.handled_at.is_null(), m.project.is_null(False))
    out.append(_branch(mail, m.project, "mail", m.id, _day(m.received_at), _key("mail", m.id, _text(m.version)),
                       _lit("Review mail: ").concat(fn.substr(m.subject, 1, 120)), today, scope, names))
    flagged = Project.select().where(Project.flagged_at.is_null(False))
    out.append(_branch(flagged, Project.id, "flag", Project.id, _day(Project.flagged_at),
                       _key("flag", Project.id, _stamp(Project.flagged_at, False)), _lit("Flagged to a lead"),
                       today, scope, names))
    return out


def _items(today: dt.date, scope: Scope, names: tuple[str, ...] = PAGE_COLUMNS):
    """Every open day item in scope, snoozes and done applied, as a subquery named items with these columns."""
    branches = _branches(today, scope, names)
    union = branches[0]
    for branch in branches[1:]:
        union = union.union_all(branch)
    return union.alias("items")


def _counts(today: dt.date, scope: Scope) -> dict[str, int]:
    """Open items per kind (snoozes and done applied), every kind present: one query."""
    found: dict[str, int] = {k: 0 for k in KINDS}
    for kind, n in _items(today, scope, ("kind", "n")).select_from(SQL("*")).tuples():
        found[kind] += n
    return found


@lru_cache(maxsize=8)
def _non_business(first_year: int, last_year: int) -> dict[int, list[int]]:
    """Day numbers (date ordinals) of the holidays' non-business days, by days back to a business day."""
    out: dict[int, list[int]] = {}
    for day, back in bd.days_back_to_business_day(range(first_year, last_year + 1)).items():
        if day.weekday() < 5 or back != day.weekday() - 4:  # a plain weekend is the formula's
            out.setdefault(back, []).append(day.toordinal())
    return out


def _day_number(column):
    if is_postgres():
        return (column - dt.date(1, 1, 1)) + 1
    return fn.julianday(column).cast("integer") - 1721424  # julianday of 0001-01-01 is 1721425.5


def _business_rank(column, today: dt.date):
    """The day number of the last business day on or before the date: dates with the same rank are equally
    late, and a lower rank is later (exact from 30 years before today to 30 after; weekends only outside)."""
    n = _day_number(column)
    cases = [(Expression(n, "IN", SQL("(" + ",".join(map(str, days)) + ")")), back)
             for back, days in sorted(_non_business(today.year - 30, today.year + 30).items())]
    # 0 is Monday; integer division on both engines (peewee's % operator is LIKE, not modulo)
    weekday = (n - 1) - ((n - 1) / 7) * 7
    cases += [(weekday == 5, 1), (weekday == 6, 2)]
    return n - Case(None, cases, 0)


def _urgency(items, today: dt.date) -> list:
    due = items.c.due
    return [_business_rank(fn.COALESCE(due, today), today), items.c.weight, fn.COALESCE(due, _FAR),
            items.c.project_id, items.c.ref]


SORTS = ("urgency", "due", "project")


def _order(items, sort: str, today: dt.date) -> list:
    urgency = _urgency(items, today)
    if sort == "due":
        return [fn.COALESCE(items.c.due, _FAR), items.c.project_id, *urgency]
    if sort == "project":
        return [fn.LOWER(items.c.customer_name), fn.COALESCE(items.c.due, _FAR), *urgency]
    return urgency


def _matching(items, q: str):
    """The Python `q in "external_id customer title".lower()` as SQL (LIKE with % and _ taken literally)."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    text = fn.LOWER(_cat(items.c.external_id, _lit(" "), items.c.customer_name, _lit(" "), items.c.title))
    return NodeList((text, SQL("LIKE"), Value(pattern), SQL("ESCAPE '\\'")))


def _rows(items, where: list, order: list, limit: int | None = None, offset: int = 0) -> list[tuple]:
    query = (DayAction.select(items.c.key, items.c.kind, items.c.ref, items.c.project_id)
             .from_(items).order_by(*order))
    if where:
        query = query.where(*where)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(query.tuples())


def _dress(rows: list[tuple], today: dt.date) -> list[DayItem]:
    """The rows of a page as DayItems, with a query per kind of row (at most six, whatever the page size)."""
    from models.inbound import InboundMail
    from models.messages import CallLog, Contact
    wanted: dict[str, set[int]] = {}
    for _, kind, ref, _ in rows:
        wanted.setdefault("app" if kind in _APP_KINDS else kind, set()).add(ref)
    apps = _by_id(Application.select(Application, Project).join(Project), Application, wanted.get("app"))
    items = _by_id(ChecklistItem.select(ChecklistItem, Project).join(Project), ChecklistItem,
                   wanted.get("reminder", set()) | wanted.get("review", set()))
    calls = _by_id(CallLog.select(CallLog, Project).join(Project), CallLog, wanted.get("call_back"))
    contacts = _by_id(Contact.select(), Contact, {c.contact_id for c in calls.values() if c.contact_id})
    mails = _by_id(InboundMail.select(InboundMail, Project).join(Project, on=(InboundMail.project == Project.id)),
                   InboundMail, wanted.get("mail"))
    flagged = _by_id(Project.select(), Project, wanted.get("flag"))
    out = []
    for key, kind, ref, _ in rows:
        if kind in _APP_KINDS:
            out.append(_application_item(key, kind, apps[ref], today))
        elif kind in ("reminder", "review"):
            i = items[ref]
            if kind == "reminder":
                out.append(DayItem(key, kind, i.project, f"Remind the customer: {i.label}",
                                   f"Requested {i.requested_on}; reminder {i.reminders_sent + 1} of 3",
                                   i.next_reminder_on, item=i))
            else:
                out.append(DayItem(key, kind, i.project, f"Review {i.label}",
                                   "Received; accept it or reject it with a reason", i.updated_at.date(), item=i))
        elif kind == "call_back":
            c = calls[ref]
            who = contacts.get(c.contact_id)
            out.append(DayItem(key, kind, c.project, f"Call back {who.label if who else 'the contact'}",
                               f"Last call {c.created_at:%Y-%m-%d}: {c.notes[:120]}", c.follow_up_on))
        elif kind == "mail":
            m = mails[ref]
            out.append(DayItem(key, kind, m.project, f"Review mail: {m.subject[:120]}", m.reason[:200],
                               m.received_at.date(), url=f"/inbox/{m.id}"))
        else:
            p = flagged[ref]
            out.append(DayItem(key, kind, p, "Flagged to a lead", p.flagged_reason or "", p.flagged_at.date()))
    return out


def _by_id(query, model, ids) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in query.where(model.id.in_(sorted(ids)))}


def _application_item(key: str, kind: str, a: Application, today: dt.date) -> DayItem:
    label = f"{a.kind_label} ({status_label(a.kind, a.status)})"
    ref = f" {a.reference_number}" if a.reference_number else ""
    if kind == "deficiency":
        return DayItem(key, kind, a.project, f"Correct and resubmit {a.kind_label}{ref}",
                       f"Deficient since {a.status_changed_on}; respond by {a.due_on}", a.due_on, a)
    if kind == "breach":
        return DayItem(key, kind, a.project, f"{label}{ref} is past its SLA",
                       f"Due {a.due_on} ({a.due_step.replace('_', ' ')}); "
                       f"{bd.between(a.due_on, today)} business days late", a.due_on, a)
    if kind == "follow_up":
        return DayItem(key, kind, a.project, f"Follow up on {label}{ref}",
                       f"Last contact {a.last_contact_on or a.status_changed_on}", a.next_follow_up_on, a)
    return DayItem(key, kind, a.project, f"{label} expires {a.expires_on}",
                   "Finish installation or ask for an extension", a.expires_on, a)


def _scope(user: User | None) -> Scope:
    return Scope(user=user)


@without_jit
def today_for(user: User | None, today: dt.date | None = None) -> list[DayItem]:
    """The day page's rows: open items not snoozed or done, most urgent first (all of them; pages use listing)."""
    today = today or desk_today()
    items = _items(today, _scope(user))
    return _dress(_rows(items, [], _urgency(items, today)), today)


@without_jit
def count(user: User | None, today: dt.date | None = None) -> int:
    """How many open items are on a day list."""
    today = today or desk_today()
    return sum(_counts(today, _scope(user)).values())


@dataclass
class DayPage:
    items: list[DayItem]
    total: int  # under the kind and search filters
    kinds: dict[str, int]  # every kind on the list, before the filters
    page: int
    pages: int


@without_jit
def listing(user: User | None, today: dt.date, kind: str = "", q: str = "", sort: str = "urgency", page: int = 1,
            per_page: int = 50) -> DayPage:
    """One page of a day list with its counts: three queries and the page's rows, whatever the desk's size."""
    kinds = _counts(today, _scope(user))
    items = _items(today, _scope(user), SEARCH_COLUMNS if q else (
                   PAGE_COLUMNS + ("customer_name",) if sort == "project" else PAGE_COLUMNS))
    where = []
    if kind in KINDS:
        where.append(items.c.kind == kind)
    if q:
        where.append(_matching(items, q))
        total = DayAction.select(fn.COUNT(SQL("*"))).from_(items).where(*where).scalar() or 0
    else:
        total = kinds[kind] if kind in KINDS else sum(kinds.values())
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = _rows(items, where, _order(items, sort if sort in SORTS else "urgency", today), per_page,
                 (page - 1) * per_page) if total else []
    return DayPage(_dress(rows, today), total, kinds, page, pages)


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


def late_cutoff(older_than_bd: int, today: dt.date) -> dt.date:
    """Items due before this day are late by more than older_than_bd business days today."""
    last = bd.latest_on_or_before(today)
    return bd.add(last, -older_than_bd) if older_than_bd > 0 else last


@without_jit
def tallies(today: dt.date, scope: Scope = Scope()) -> list[tuple[int | None, str, bool, int]]:
    """(coordinator id, kind, late, how many) over the open day items in scope: one GROUP BY."""
    query = _items(today, scope, ("coordinator_id", "kind", "late", "n")).select_from(SQL("*"))
    return [(user_id, kind, bool(is_late), n) for user_id, kind, is_late, n in query.tuples()]


@without_jit
def project_kinds(today: dt.date, scope: Scope, late: bool) -> list[tuple[int, str]]:
    """(project id, kind) of the open day items in scope that are late (or not), most urgent first."""
    items = _items(today, scope)
    cond = (items.c.due < today) if late else ((items.c.due >= today) | items.c.due.is_null())
    query = (DayAction.select(items.c.project_id, items.c.kind).from_(items).where(cond)
             .order_by(*_urgency(items, today)))
    return list(query.tuples())


@without_jit
def load(today: dt.date | None = None) -> list[dict]:
    """Each coordinator's open projects, items due today, breaches and flags (for leads); two GROUP BYs."""
    today = today or desk_today()
    open_projects = dict(Project.select(Project.coordinator, fn.COUNT(Project.id)).where(
        Project.stage.not_in(("pto", "cancelled"))).group_by(Project.coordinator).tuples())
    rows = {u.id: {"user": u, "open": open_projects.get(u.id, 0), "due": 0, "breaches": 0, "flagged": 0}
            for u in User.assignable()}
    for user_id, kind, _, n in tallies(today):
        row = rows.get(user_id)
        if row is not None:
            row["due"] += n
            row["breaches"] += n if kind == "breach" else 0
            row["flagged"] += n if kind == "flag" else 0
    return list(rows.values())


def _escalated(items, older_than_bd: int, today: dt.date):
    late = (items.c.kind == "breach") & (items.c.due < late_cutoff(older_than_bd, today))
    return (items.c.kind == "flag") | late


@without_jit
def escalations(older_than_bd: int, today: dt.date | None = None, limit: int | None = None) -> list[DayItem]:
    """Flagged projects and SLA breaches late by more than N business days across the desk, most urgent first."""
    today = today or desk_today()
    items = _items(today, Scope())
    return _dress(_rows(items, [_escalated(items, older_than_bd, today)], _urgency(items, today), limit), today)


@without_jit
def escalation_count(older_than_bd: int, today: dt.date | None = None) -> int:
    today = today or desk_today()
    items = _items(today, Scope(), COUNT_COLUMNS)
    return DayAction.select(fn.COUNT(SQL("*"))).from_(items).where(_escalated(items, older_than_bd, today)).scalar()
