"""CSV import of projects, idempotent on external_id: validate every row, then create or update."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

from models import checklists
from models.applications import Application, file_application
from models.base import db, is_postgres, utcnow, today as desk_today
from models.catalog_ref import utility_states
from models.csv_safe import unguard
from models.events import Event
from models.places import Ahj, Utility
from models.project_fields import clean_project, clean_text, nul_errors
from models.projects import Project
from models.users import User

COLUMNS = ("external_id", "customer_name", "customer_email", "customer_phone", "street", "city",
           "state", "zip", "utility", "ahj", "product_type", "pv_kw_dc", "pv_kw_ac", "battery_kwh",
           "program", "utility_account", "utility_application_id", "permit_number", "coordinator_email")
PROJECT_FIELDS = ("external_id", "customer_name", "customer_email", "customer_phone", "street", "city",
                  "state", "zip", "utility", "product_type", "pv_kw_dc", "pv_kw_ac", "battery_kwh",
                  "program", "utility_account")
# Columns whose reference number lands on an application of this kind.
REFERENCE_COLUMNS = {"utility_application_id": "utility_part1", "permit_number": "ahj_permit"}
COUNTERS = {"create": "created", "update": "updated", "unchanged": "unchanged"}
MAX_ROWS = 200_000
CHUNK = 500


class CsvFileError(ValueError):
    """The file as a whole cannot be imported (bad encoding, missing columns)."""


@dataclass
class RowOutcome:
    line: int
    external_id: str
    action: str  # create | update | unchanged | error
    errors: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    dry_run: bool
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowOutcome] = field(default_factory=list)
    preview: list[RowOutcome] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def add(self, outcome: RowOutcome) -> None:
        self.total += 1
        if outcome.action == "error":
            self.errors.append(outcome)
        else:
            name = COUNTERS[outcome.action]
            setattr(self, name, getattr(self, name) + 1)
        if len(self.preview) < 50 and outcome.action != "error":
            self.preview.append(outcome)

    def to_dict(self) -> dict:
        return asdict(self)


def decode(data: bytes) -> str:
    """Text of an uploaded CSV: UTF-8 (with or without BOM), else Windows-1252 as Excel writes it."""
    if b"\x00" in data[:4096]:
        raise CsvFileError("this is not a CSV text file (it contains binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_rows(text: str) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """Check the header and yield (line number, row) for each record; returns ignored columns too."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise CsvFileError("the file is empty") from None
    except csv.Error as exc:
        raise CsvFileError(f"line 1 is not valid CSV ({exc})") from None
    missing = [c for c in ("external_id", "customer_name", "utility") if c not in header]
    if missing:
        raise CsvFileError(f"the header row lacks required column(s): {', '.join(missing)}; "
                           f"expected columns: {', '.join(COLUMNS)}")
    dupes = sorted({h for h in header if header.count(h) > 1 and h})
    if dupes:
        raise CsvFileError(f"the header row repeats column(s): {', '.join(dupes)}")
    ignored = [h for h in header if h not in COLUMNS]

    def rows():
        start = 2
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CsvFileError(f"line {start} is not valid CSV ({exc})") from None
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(header):
                yield line, {"__error__": f"has {len(record)} cells but the header has {len(header)}"}
                continue
            # The export guards formula-like cells with a ' (models.csv_safe); read them as the values they were.
            yield line, {h: (unguard(record[i]) if i < len(record) else "") for i, h in enumerate(header)
                         if h in COLUMNS}
    return ignored, rows()


def count_rows(text: str) -> int:
    return sum(1 for _ in read_rows(text)[1])


def clean_external_id(raw) -> str:
    """The external id exactly as it is stored (the project validator's text rules)."""
    return clean_text(raw)


class Importer:
    """Runs one import; lookups are cached so a large file costs a few queries per chunk, not per row."""

    def __init__(self, find_utility: Callable[[str], str | None], actor: User | None, dry_run: bool):
        self.find_utility = find_utility
        self.actor = actor
        self.dry_run = dry_run
        self.utilities = {u.code: u for u in Utility.select()}
        self.users = {u.email: u for u in User.active_users()}
        self.ahjs: dict[tuple[str, str], Ahj] = {}
        self.seen: dict[str, int] = {}

    def run(self, text: str, progress: Callable[[int, int], None] | None = None,
            total: int | None = None) -> ImportReport:
        ignored, rows = read_rows(text)
        report = ImportReport(dry_run=self.dry_run, ignored_columns=ignored)
        total = count_rows(text) if total is None else total
        if total > MAX_ROWS:
            raise CsvFileError(f"the file has {total} rows; split it into files of at most {MAX_ROWS}")
        chunk: list[tuple[int, dict]] = []
        for item in rows:
            chunk.append(item)
            if len(chunk) >= CHUNK:
                self._chunk(chunk, report)
                chunk = []
                if progress:
                    progress(report.total, total)
        if chunk:
            self._chunk(chunk, report)
        if progress:
            progress(report.total, total)
        return report

    def _chunk(self, chunk: list[tuple[int, dict]], report: ImportReport) -> None:
        ids = [clean_external_id(r.get("external_id")) for _, r in chunk]
        with db.atomic() as txn:
            # Rows are read inside the transaction, so a change made meanwhile is not written back stale.
            query = Project.select().where(Project.external_id.in_(ids))
            if is_postgres():
                query = query.for_update()
            existing = {p.external_id: p for p in query}
            apps: dict[tuple[int, str], Application] = {}
            if existing:
                for a in Application.select().where(Application.project.in_([p.id for p in existing.values()])):
                    apps.setdefault((a.project_id, a.kind), a)
            for line, raw in chunk:
                report.add(self._row(line, raw, existing, apps))
            if self.dry_run:
                # A dry run walks the real code path, then throws its writes away.
                txn.rollback()
                self.ahjs.clear()

    def _row(self, line: int, raw: dict, existing: dict, apps: dict) -> RowOutcome:
        external_id = clean_external_id(raw.get("external_id"))
        out = RowOutcome(line=line, external_id=external_id, action="error")
        if "__error__" in raw:
            out.errors.append(raw["__error__"])
            return out
        present = tuple(f for f in PROJECT_FIELDS if f in raw)
        cleaned = clean_project(raw, self._utility_code, present, states_of=utility_states, blank_keeps=True)
        out.errors.extend(f"{name}: {msg}" for name, msg in cleaned.errors.items())
        others = nul_errors(raw, [c for c in COLUMNS if c not in PROJECT_FIELDS])
        out.errors.extend(f"{name}: {msg}" for name, msg in others.items())
        coordinator = None
        email = (raw.get("coordinator_email") or "").strip().lower()
        if email:
            coordinator = self.users.get(email)
            if coordinator is None or coordinator.role not in ("coordinator", "lead"):
                out.errors.append(f"coordinator_email: no active coordinator or lead {email!r}")
        if external_id in self.seen:
            out.errors.append(f"external_id: {external_id!r} already appears on line {self.seen[external_id]}")
        if out.errors:
            return out
        self.seen[external_id] = line
        values = {k: v for k, v in cleaned.values.items() if v not in (None, "")}
        values["utility"] = self.utilities[values["utility"]]
        ahj_name = " ".join((raw.get("ahj") or "").split())[:120]
        project = existing.get(external_id)
        if ahj_name:
            state = values.get("state") or (project.state if project else "")
            values["ahj"] = self._ahj(ahj_name, state)
        if coordinator:
            values["coordinator"] = coordinator
        refs = {kind: (raw.get(col) or "").strip()[:64] for col, kind in REFERENCE_COLUMNS.items()}
        if project is None:
            self._create(values, refs, out)
        else:
            self._update(project, values, refs, apps, out)
        return out

    def _utility_code(self, text: str) -> str | None:
        code = self.find_utility(text)
        return code if code in self.utilities else None

    def _ahj(self, name: str, state: str) -> Ahj:
        key = (name.lower(), state)
        if key not in self.ahjs:
            self.ahjs[key] = Ahj.named(name, state)
        return self.ahjs[key]

    def _create(self, values: dict, refs: dict, out: RowOutcome) -> None:
        out.action = "create"
        out.changes = sorted(k for k in values if k != "external_id")
        stage = "ix_approval" if refs["utility_part1"] else "permitting" if refs["ahj_permit"] else "intake"
        project = Project.create(stage=stage, **values)
        for kind, ref in refs.items():
            if ref:
                file_application(project, kind, "SUBMITTED", ref)
        project.refresh_rollups()
        project.save()
        Event.record(project, "import", self.actor, summary="Created by CSV import",
                     actor_label="import", data={"line": out.line})
        if not self.dry_run:
            checklists.sync(project, self.actor)

    def _update(self, project: Project, values: dict, refs: dict, apps: dict, out: RowOutcome) -> None:
        changes = project.apply_changes({k: v for k, v in values.items() if k != "external_id"},
                                        self.actor, why=f"CSV import, line {out.line}")
        out.changes = sorted(changes)
        for kind, ref in refs.items():
            app = apps.get((project.id, kind))
            if not ref or (app and app.reference_number == ref):
                continue
            if app is None:
                app = file_application(project, kind, "SUBMITTED", ref)
                apps[(project.id, kind)] = app
            else:
                old = app.reference_number
                app.reference_number, app.updated_at = ref, utcnow()
                if app.status == "DRAFT":
                    app.status, app.submitted_on = "SUBMITTED", app.submitted_on or desk_today()
                    app.status_changed_on = desk_today()
                    app.refresh_clocks()
                app.save()
                Event.record(project, "change", self.actor, application=app, actor_label="import",
                             summary=f"{app.kind_label} reference {old or '(none)'} -> {ref}")
            out.changes.append(f"{kind} reference")
        if out.changes and refs and any(refs.values()):
            project.refresh_rollups()
            project.save()
        out.action = "update" if out.changes else "unchanged"
