"""The coordinator's pipeline: filtering, searching, sorting and paging projects."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

from peewee import JOIN, OP, SQL, Case, Expression, FloatField, Tuple, Value, fn

from models import vocab
from models.base import is_postgres
from models.places import Ahj, Utility
from models.projects import BALL, STAGES, Project
from models.users import User
from models.vocab import is_id

PER_PAGE = (25, 50, 100)
Coordinator = User.alias("coordinator")
Flagger = User.alias("flagger")


def _rank(column, order) -> Case:
    # Literal values, not parameters: the query's expression must read exactly like the indexed one
    # (migration 0019, models.projects.rank_sql) for the index to serve the sort.
    return Case(column, [(SQL(f"'{key}'"), SQL(str(i))) for i, key in enumerate(order)], SQL(str(len(order))))


# Every sort has an index on (key, id); names are the project's own copies (models.projects sort_*).
SORTS = {
    "external_id": Project.external_id,
    "customer": Project.customer_name,
    "city": Project.city,
    "utility": Project.sort_utility,
    "ahj": Project.sort_ahj,
    "product": Project.product_type,
    "size": Project.pv_kw_dc,
    "stage": _rank(Project.stage, STAGES),
    "ball": _rank(Project.ball_in_court, BALL),
    "coordinator": Project.sort_coordinator,
    "updated": Project.updated_at,
    "created": Project.created_at,
    "flagged": Project.flagged_at,
}
EXPORT_CHUNK = 1000  # rows per export query
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


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def matching(terms: list[str]) -> list:
    """Conditions on Project for projects whose search text contains every term (case-insensitive).

    PostgreSQL answers LIKE through its trigram index (project_search_trgm). SQLite asks its FTS5 trigram
    index (project_search) once for all terms of 3 characters or more; a shorter term has no trigram, so it
    is looked for in the search text of the projects the others leave (all of them when it stands alone).
    """
    if not terms:
        return []
    if is_postgres():
        # LIKE, not ILIKE: both sides are lower-cased already, and ILIKE folds every row's text again (4x slower).
        return [Expression(Project.search_text, OP.LIKE, Project.search_text._escape_like_expr(t, "%%%s%%"))
                for t in terms]
    indexed = [t for t in terms if len(t) >= 3]
    if not indexed:
        # One pass over the table for the ids, not a walk of a sort or stage index fetching every row it passes.
        scan = Project.alias("scanned")
        return [Project.id.in_(scan.select(scan.id).where(*[scan.search_text.contains(t) for t in terms]))]
    match = " AND ".join(_fts_phrase(t) for t in indexed)
    short = [Project.search_text.contains(t) for t in terms if len(t) < 3]  # tested on the index's matches only
    return [Project.id.in_(SQL("(SELECT rowid FROM project_search WHERE project_search MATCH ?)", [match])), *short]


def _where(f: PipelineFilter, with_stage: bool = True) -> list:
    conds = matching(search_terms(f.q))
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


def _order(f: PipelineFilter) -> tuple:
    column = SORTS[f.sort]
    # NULLS LAST only where a column can be null: on a NOT NULL column it would stop the index serving the sort.
    nulls = {"nulls": "LAST"} if getattr(column, "null", False) else {}
    order = column.asc(**nulls) if f.dir == "asc" else column.desc(**nulls)
    return order, (Project.id.asc() if f.dir == "asc" else Project.id.desc())


def _joined(f: PipelineFilter):
    query = (Project.select(Project, Utility, Ahj, Coordinator)
             .join(Utility, on=(Project.utility == Utility.id))
             .switch(Project).join(Ahj, JOIN.LEFT_OUTER, on=(Project.ahj == Ahj.id))
             .switch(Project).join(Coordinator, JOIN.LEFT_OUTER, on=(Project.coordinator == Coordinator.id),
                                   attr="coordinator"))
    if f.flagged:
        query = query.select_extend(Flagger).switch(Project).join(
            Flagger, JOIN.LEFT_OUTER, on=(Project.flagged_by == Flagger.id), attr="flagger")
    return query


def rows_query(f: PipelineFilter):
    """Projects for the list with their utility, AHJ and coordinator in one query."""
    return _filtered(_joined(f), _where(f)).order_by(*_order(f))


def count(f: PipelineFilter) -> int:
    return _filtered(Project.select(fn.COUNT(SQL("*"))), _where(f)).scalar() or 0


def _per_stage(f: PipelineFilter) -> dict[str, int]:
    # COUNT(*), not COUNT(id): PostgreSQL then counts from the stage index alone (an index-only scan).
    query = _filtered(Project.select(Project.stage, fn.COUNT(SQL("*")).alias("n")), _where(f, with_stage=False))
    return {row.stage: row.n for row in query.group_by(Project.stage).objects()}


def stage_counts(f: PipelineFilter, found: dict[str, int] | None = None) -> dict[str, int]:
    """Projects per stage under every filter but the stage one, in stage order."""
    found = _per_stage(f) if found is None else found
    return {stage: found.get(stage, 0) for stage in STAGES}


def keyset(f: PipelineFilter, chunk: int | None = None):
    """Every row of rows_query(f), in its order, as lists of at most chunk rows.

    Each list is one query that starts after the last row of the one before (key, id) > (k, i), through the
    sort's index: the database never reads past what it sends, however far in the export is.
    """
    chunk = chunk or EXPORT_CHUNK
    column = SORTS[f.sort]
    nullable = getattr(column, "null", False)
    order = (column.asc() if f.dir == "asc" else column.desc(), _order(f)[1])
    conds = _where(f) + ([column.is_null(False)] if nullable else [])
    query = _joined(f).select_extend(column.alias("sort_key"))
    last = None
    while True:
        where = conds if last is None else conds + [_after(column, f.dir, last)]
        rows = list(_filtered(query, where).order_by(*order).limit(chunk))
        if rows:
            yield rows
        if len(rows) < chunk:
            break
        last = (rows[-1].sort_key, rows[-1].id)
    if not nullable:
        return
    # NULLS LAST: then the rows without a key, by id.
    last_id = None
    base = _where(f) + [column.is_null()]
    while True:
        where = base if last_id is None else base + [Project.id > last_id if f.dir == "asc" else Project.id < last_id]
        rows = list(_filtered(_joined(f), where).order_by(order[1]).limit(chunk))
        if rows:
            yield rows
        if len(rows) < chunk:
            break
        last_id = rows[-1].id


def _after(column, direction: str, last: tuple):
    key, row_id = last
    if isinstance(column, FloatField):
        # PostgreSQL stores a FloatField as REAL and sends it back rounded (7.2): compared as a double it is
        # not the stored 7.1999998 any more, so compare as the column's own type.
        key = Value(key).cast("real")
    pair, bound = Tuple(column, Project.id), Tuple(key, row_id)
    return pair > bound if direction == "asc" else pair < bound


@dataclass
class Page:
    rows: list
    total: int
    page: int
    per_page: int
    counts: dict | None = None  # per stage, under every filter but the stage one (the pipeline's tabs)

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
    """One page of rows, the total and the per-stage counts: one pass over the matches for both counts."""
    found = _per_stage(f)
    total = found.get(f.stage, 0) if f.stage else sum(found.values())
    last = max(1, math.ceil(total / f.per_page))
    f.page = min(f.page, last)
    # The page's ids first, from the sort's index alone (a deep page skips ids, not joined rows); then those rows.
    ids = [p.id for p in _filtered(Project.select(Project.id), _where(f)).order_by(*_order(f))
           .paginate(f.page, f.per_page)]
    rows = list(_joined(f).where(Project.id.in_(ids)).order_by(*_order(f))) if ids else []
    return Page(rows=rows, total=total, page=f.page, per_page=f.per_page, counts=stage_counts(f, found))


def _int(raw, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(raw)))
    except (TypeError, ValueError):
        return default
