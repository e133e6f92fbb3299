"""The coordinator's pipeline: filtering, searching, sorting and paging projects."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

from peewee import JOIN, Case, fn

from models import vocab
from models.places import Ahj, Utility
from models.projects import BALL, STAGES, Project
from models.users import User
from models.vocab import is_id

PER_PAGE = (25, 50, 100)
Coordinator = User.alias("coordinator")
Flagger = User.alias("flagger")
SORTS = {
    "external_id": Project.external_id,
    "customer": Project.customer_name,
    "city": Project.city,
    "utility": Utility.name,
    "ahj": Ahj.name,
    "product": Project.product_type,
    "size": Project.pv_kw_dc,
    "stage": Case(Project.stage, [(s, i) for i, s in enumerate(STAGES)], len(STAGES)),
    "ball": Case(Project.ball_in_court, [(b, i) for i, b in enumerate(BALL)], len(BALL)),
    "coordinator": Coordinator.name,
    "updated": Project.updated_at,
    "created": Project.created_at,
    "flagged": Project.flagged_at,
}
PHONEISH = re.compile(r"^[\d().+\-]+$")


@dataclass
class PipelineFilter:
    q: str = ""
    stage: str = ""
    utility: str = ""
    ahj: str = ""
    coordinator: str = ""  # a user id, or "none" for unassigned
    ball: str = ""
    product: str = ""
    attention: str = ""  # "1" for only projects needing attention
    flagged: str = ""  # "1" for only projects flagged to a lead
    sort: str = "updated"
    dir: str = "desc"
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(cls, args) -> "PipelineFilter":
        """Build from query-string args; unknown or malformed values fall back to defaults."""
        f = cls()
        for name in ("q", "stage", "utility", "ahj", "coordinator", "ball", "product", "attention", "flagged",
                     "sort", "dir"):
            setattr(f, name, (args.get(name) or "").strip()[:200])
        f.stage = f.stage if f.stage in STAGES else ""
        f.ball = f.ball if f.ball in BALL else ""
        f.product = f.product if f.product in vocab.PRODUCT_TYPES else ""
        f.attention = "1" if f.attention in ("1", "on", "true") else ""
        f.flagged = "1" if f.flagged in ("1", "on", "true") else ""
        f.sort = f.sort if f.sort in SORTS else "updated"
        f.dir = "asc" if f.dir == "asc" else "desc"
        f.ahj = f.ahj if is_id(f.ahj) else ""
        f.utility = f.utility.upper() if f.utility and Utility.select().where(
            Utility.code == f.utility.upper()).exists() else ""
        f.coordinator = f.coordinator if is_id(f.coordinator) or f.coordinator == "none" else ""
        f.page = _int(args.get("page"), 1, 1, 10**7)
        per_page = _int(args.get("per_page"), 50, 1, 100)
        f.per_page = per_page if per_page in PER_PAGE and str(args.get("per_page")) == str(per_page) else 50
        return f

    def args(self, **changes) -> dict:
        """Query-string args for this filter with changes, omitting defaults (short shareable URLs)."""
        data = {**asdict(self), **changes}
        default = asdict(PipelineFilter())
        return {k: v for k, v in data.items() if v != default[k]}

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self)
                   if f.name in ("q", "stage", "utility", "ahj", "coordinator", "ball", "product", "attention",
                                 "flagged"))


def search_terms(q: str) -> list[str]:
    """Lower-cased words; a phone number typed in any format becomes the digits we index."""
    q = q.strip()
    whole = vocab.digits(q)
    if PHONEISH.match(q.replace(" ", "")) and len(whole) >= 10 and not q.isdigit():
        return [whole[-10:]]  # "+1 415 555 0123", "(415) 555-0123": the last ten digits are stored
    terms = []
    for token in q.lower().split()[:8]:
        if PHONEISH.match(token) and len(vocab.digits(token)) >= 3 and not token.isdigit():
            token = vocab.digits(token)
            token = token[-10:] if len(token) == 11 and token.startswith("1") else token
        terms.append(token)
    return terms


def _where(f: PipelineFilter, with_stage: bool = True) -> list:
    conds = []
    for term in search_terms(f.q):
        conds.append(Project.search_text.contains(term))
    if with_stage and f.stage:
        conds.append(Project.stage == f.stage)
    if f.utility:
        conds.append(Project.utility == Utility.select(Utility.id).where(Utility.code == f.utility))
    if f.ahj:
        conds.append(Project.ahj == int(f.ahj))
    if f.coordinator == "none":
        conds.append(Project.coordinator.is_null())
    elif f.coordinator:
        conds.append(Project.coordinator == int(f.coordinator))
    if f.ball:
        conds.append(Project.ball_in_court == f.ball)
    if f.product:
        conds.append(Project.product_type == f.product)
    if f.attention:
        conds.append(Project.needs_attention == True)  # noqa: E712
    if f.flagged:
        conds.append(Project.flagged_at.is_null(False))
    return conds


def _filtered(query, conds):
    return query.where(*conds) if conds else query


def rows_query(f: PipelineFilter):
    """Projects for the list with their utility, AHJ and coordinator in one query."""
    column = SORTS[f.sort]
    # NULLS LAST only where a column can be null: on a NOT NULL column it would stop the index serving the sort.
    nullable = getattr(column, "null", False) or (hasattr(column, "model") and column.model is not Project)
    nulls = {"nulls": "LAST"} if nullable else {}
    order = column.asc(**nulls) if f.dir == "asc" else column.desc(**nulls)
    tiebreak = Project.id.asc() if f.dir == "asc" else Project.id.desc()
    query = (Project.select(Project, Utility, Ahj, Coordinator)
             .join(Utility, on=(Project.utility == Utility.id))
             .switch(Project).join(Ahj, JOIN.LEFT_OUTER, on=(Project.ahj == Ahj.id))
             .switch(Project).join(Coordinator, JOIN.LEFT_OUTER, on=(Project.coordinator == Coordinator.id),
                                   attr="coordinator"))
    if f.flagged:
        query = query.select_extend(Flagger).switch(Project).join(
            Flagger, JOIN.LEFT_OUTER, on=(Project.flagged_by == Flagger.id), attr="flagger")
    return _filtered(query, _where(f)).order_by(order, tiebreak)


def count(f: PipelineFilter) -> int:
    return _filtered(Project.select(fn.COUNT(Project.id)), _where(f)).scalar() or 0


def stage_counts(f: PipelineFilter) -> dict[str, int]:
    """Projects per stage under every filter but the stage one, in stage order."""
    query = _filtered(Project.select(Project.stage, fn.COUNT(Project.id).alias("n")), _where(f, with_stage=False))
    found = {row.stage: row.n for row in query.group_by(Project.stage).objects()}
    return {stage: found.get(stage, 0) for stage in STAGES}


@dataclass
class Page:
    rows: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)

    def window(self, size: int = 2) -> list[int | None]:
        """Page numbers to show, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
        keep = {1, self.pages, *range(self.page - size, self.page + size + 1)}
        out, prev = [], 0
        for n in sorted(p for p in keep if 1 <= p <= self.pages):
            if n - prev > 1:
                out.append(None)
            out.append(n)
            prev = n
        return out


def page(f: PipelineFilter) -> Page:
    total = count(f)
    last = max(1, math.ceil(total / f.per_page))
    f.page = min(f.page, last)
    rows = list(rows_query(f).paginate(f.page, f.per_page))
    return Page(rows=rows, total=total, page=f.page, per_page=f.per_page)


def _int(raw, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(raw)))
    except (TypeError, ValueError):
        return default
