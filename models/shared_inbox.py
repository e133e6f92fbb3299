"""The shared inbox: every message in and out (email and texts) in one list, filters, counts and threads."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass

from peewee import SQL, Value, fn

from models import vocab
from models.base import day_start_utc
from models.inbound import KINDS, STATES, InboundMail
from models.messages import OutboundMessage
from models.projects import Project
from models.sms import SmsMessage
from models import pipeline
from models.pipeline import Page
from models.users import User
from models.vocab import is_id

CHANNELS = {"in": "Email in", "out": "Email out", "sms": "Texts"}
SORTS = {"at": "at", "subject": "subject", "party": "party", "state": "state"}
TRIAGE = ("needs_review", "unmatched")  # states that wait for a person


@dataclass
class InboxFilter:
    """Filters from query-string args; a bad value falls back to its default (never an error page)."""

    q: str = ""
    state: str = ""
    kind: str = ""
    channel: str = ""
    project: str = ""  # external id
    utility: str = ""
    coordinator: str = ""  # user id, or "none"
    open: str = ""  # "1": only mail nobody has handled yet
    date_from: str = ""
    date_to: str = ""
    sort: str = "at"
    dir: str = "desc"
    page: int = 1
    per_page: int = 50
    errors: tuple = ()

    @classmethod
    def from_args(cls, args) -> "InboxFilter":
        names = ("q", "state", "kind", "channel", "project", "utility", "coordinator", "open", "date_from", "date_to",
                 "sort", "dir")
        f = cls(**{k: (args.get(k) or "").strip()[:200] for k in names})
        errors = []
        f.state = f.state if f.state in STATES else ""
        f.kind = f.kind if f.kind in KINDS else ""
        f.channel = f.channel if f.channel in CHANNELS else ""
        f.coordinator = f.coordinator if is_id(f.coordinator) or f.coordinator == "none" else ""
        f.open = "1" if f.open in ("1", "on", "true") else ""
        f.sort = f.sort if f.sort in SORTS else "at"
        f.dir = "asc" if f.dir == "asc" else "desc"
        for name in ("date_from", "date_to"):
            value = getattr(f, name)
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    errors.append(f"{'From' if name == 'date_from' else 'To'} date {value!r} is not a date (YYYY-MM-DD)")
                    setattr(f, name, "")
        if f.date_from and f.date_to and f.date_from > f.date_to:
            errors.append("the From date is after the To date")
        f.errors = tuple(errors)
        try:
            f.page = max(1, min(10_000, int(args.get("page") or 1)))
        except ValueError:
            f.page = 1
        return f

    def args(self, **changes) -> dict:
        data = {**asdict(self), **changes}
        default = asdict(InboxFilter())
        return {k: v for k, v in data.items() if v != default[k] and k not in ("per_page", "errors")}

    @property
    def inbound_only(self) -> bool:
        """State, kind and triage filters only mean something for mail that came in."""
        return bool(self.state or self.kind or self.open) or self.channel == "in"

    def _projects(self):
        """Ids of projects the project/utility/coordinator filters allow (None: no such filter)."""
        if not (self.project or self.utility or self.coordinator):
            return None
        q = Project.select(Project.id)
        if self.project:
            q = q.where(Project.external_id == self.project)
        if self.utility:
            from models.places import Utility
            q = q.join(Utility).where(Utility.code == self.utility.upper())
        if self.coordinator == "none":
            q = q.where(Project.coordinator.is_null())
        elif self.coordinator:
            q = q.where(Project.coordinator == int(self.coordinator))
        return q

    def _search(self, query, subject, party, body, project_col):
        for word in self.q.split()[:5]:
            like = f"%{word}%"
            referenced = project_col.in_(_projects_matching(word))
            query = query.where(subject ** like | party ** like | body ** like | referenced)
        return query

    def _dates(self, query, column):
        if self.date_from:
            query = query.where(column >= day_start_utc(dt.date.fromisoformat(self.date_from)))
        if self.date_to:
            query = query.where(column < day_start_utc(dt.date.fromisoformat(self.date_to) + dt.timedelta(days=1)))
        return query

    def inbound(self, with_state: bool = True):
        m = InboundMail
        q = m.select(Value("in").alias("channel"), m.id.alias("rid"), m.received_at.alias("at"),
                     m.subject.alias("subject"), m.from_addr.alias("party"), m.state.alias("state"))
        if with_state and self.state:
            q = q.where(m.state == self.state)
        if self.kind:
            q = q.where(m.kind == self.kind)
        if self.open:
            q = q.where(m.handled_at.is_null(), m.state.in_(TRIAGE))
        projects = self._projects()
        if projects is not None:
            if self.coordinator and self.coordinator != "none":
                q = q.where(m.project.in_(projects) | (m.assigned_to == int(self.coordinator)))
            else:
                q = q.where(m.project.in_(projects))
        return self._dates(self._search(q, m.subject, m.from_addr, m.body_text, m.project), m.received_at)

    def outbound(self):
        o = OutboundMessage
        q = o.select(Value("out").alias("channel"), o.id.alias("rid"), o.created_at.alias("at"),
                     o.subject.alias("subject"), fn.SUBSTR(o.recipients.cast("text"), 1, 250).alias("party"),
                     o.state.alias("state"))
        projects = self._projects()
        if projects is not None:
            q = q.where(o.project.in_(projects))
        party = o.recipients.cast("text")
        return self._dates(self._search(q, o.subject, party, o.body, o.project), o.created_at)

    def texts(self):
        s = SmsMessage
        q = s.select(Value("sms").alias("channel"), s.id.alias("rid"), s.created_at.alias("at"),
                     fn.SUBSTR(s.body, 1, 120).alias("subject"), s.phone.alias("party"), s.state.alias("state"))
        projects = self._projects()
        if projects is not None:
            q = q.where(s.project.in_(projects))
        return self._dates(self._search(q, s.body, s.phone, s.body, s.project), s.created_at)

    def query(self):
        if self.inbound_only:
            return self.inbound()
        parts = {"out": [self.outbound()], "sms": [self.texts()]}.get(self.channel) or \
            [self.inbound(), self.outbound(), self.texts()]
        query = parts[0]
        for part in parts[1:]:
            query = query.union_all(part)
        return query


def _projects_matching(word: str):
    """Ids of projects whose search text contains the word; the pipeline's index where the word is plain text."""
    if "%" in word or "_" in word:  # typed as a LIKE pattern, and read as one, as it always was
        return Project.select(Project.id).where(Project.search_text ** f"%{word}%".lower())
    return Project.select(Project.id).where(*pipeline.matching([word.lower()]))


@dataclass
class Row:
    channel: str
    at: dt.datetime
    subject: str
    party: str
    state: str
    item: object  # InboundMail | OutboundMessage | SmsMessage

    @property
    def state_label(self) -> str:
        return getattr(self.item, "state_label", self.state)


def page(f: InboxFilter) -> tuple[Page, dict[str, int]]:
    """One page (newest first by default) and the per-state counts for the tabs (same filters, any state)."""
    query = f.query()
    total = query.count()
    f.page = min(f.page, max(1, math.ceil(total / f.per_page)))
    direction = "ASC" if f.dir == "asc" else "DESC"
    ordered = query.order_by(SQL(f'"{SORTS[f.sort]}" {direction}'), SQL(f'"rid" {direction}'))
    found = list(ordered.paginate(f.page, f.per_page).dicts())
    rows = _load(found)
    counts = {state: n for state, n in f.inbound(with_state=False).select(InboundMail.state, fn.COUNT(InboundMail.id))
              .group_by(InboundMail.state).order_by().tuples()}
    return Page(rows, total, f.page, f.per_page), counts


def _load(found: list[dict]) -> list[Row]:
    """The objects behind a page of rows: one query per channel, projects joined."""
    ids = {ch: [r["rid"] for r in found if r["channel"] == ch] for ch in CHANNELS}
    objects = {}
    for ch, model in (("in", InboundMail), ("out", OutboundMessage), ("sms", SmsMessage)):
        if ids[ch]:
            from peewee import JOIN
            q = model.select(model, Project).join(Project, JOIN.LEFT_OUTER, on=(model.project == Project.id)) \
                .where(model.id.in_(ids[ch]))
            objects.update({(ch, o.id): o for o in q})
    rows = []
    for r in found:
        item = objects.get((r["channel"], r["rid"]))
        if item is None:
            continue
        at = r["at"] if isinstance(r["at"], dt.datetime) else getattr(item, "received_at", None) or item.created_at
        party = r["party"] or ""
        if r["channel"] == "out":
            party = ", ".join(item.recipients or [])
        elif r["channel"] == "sms":
            party = vocab.phone_display(item.phone)
        rows.append(Row(r["channel"], at, r["subject"] or "", party, r["state"], item))
    return rows


def triage_counts() -> dict[str, int]:
    """Mail waiting for a person, for the navigation badge."""
    rows = (InboundMail.select(InboundMail.state, fn.COUNT(InboundMail.id))
            .where(InboundMail.state.in_(TRIAGE), InboundMail.handled_at.is_null()).group_by(InboundMail.state).tuples())
    return {state: n for state, n in rows}


def newer_than(mail_id: int) -> int:
    return InboundMail.select().where(InboundMail.id > mail_id).count()


def coordinators() -> list[User]:
    return list(User.select().where(User.active == True).order_by(User.name))  # noqa: E712


def thread(mail: InboundMail) -> list[Row]:
    """The conversation this mail belongs to: what it answers, what answers it, and our mail in between."""
    ids = {mail.message_id, *mail.in_reply_to.split(), *mail.references.split()} - {""}
    inbound = list(InboundMail.select().where(
        (InboundMail.message_id.in_(list(ids))) | (InboundMail.in_reply_to.contains(mail.message_id)) |
        (InboundMail.references.contains(mail.message_id))).where(InboundMail.state != "duplicate").limit(50))
    for m in inbound:
        ids |= {*m.in_reply_to.split(), *m.references.split()}
    outbound = list(OutboundMessage.select().where(
        OutboundMessage.message_id.in_(list(ids) or [""]) | OutboundMessage.in_reply_to.in_(list(ids) or [""])).limit(50))
    rows = [Row("in", m.received_at, m.subject, m.from_addr, m.state, m) for m in inbound]
    rows += [Row("out", o.created_at, o.subject, ", ".join(o.recipients or []), o.state, o) for o in outbound]
    return sorted(rows, key=lambda r: r.at)
