"""A home project, from contract to permission to operate."""
from __future__ import annotations

from peewee import BooleanField, CharField, DateField, DateTimeField, FloatField, ForeignKeyField, TextField

from models import vocab
from models.base import BaseModel, db, utcnow
from models.places import Ahj, Utility
from models.users import User

STAGES = {
    "intake": "Intake",
    "design": "Design",
    "permitting": "Permitting",
    "ix_approval": "IX approval",
    "install": "Install",
    "inspection": "Inspection",
    "pto_requested": "PTO requested",
    "pto": "PTO granted",
    "on_hold": "On hold",
    "cancelled": "Cancelled",
}
BALL = {"us": "Us", "customer": "Customer", "utility": "Utility", "ahj": "AHJ", "none": "Nobody (done)"}
# Which party a project waits on, most urgent first: one application needing us outranks the rest.
BALL_PRIORITY = ("us", "customer", "utility", "ahj")

FIELD_LABELS = {
    "customer_name": "Customer", "customer_email": "Email", "customer_phone": "Phone", "street": "Street",
    "city": "City", "state": "State", "zip": "ZIP", "utility": "Utility", "utility_account": "Utility account",
    "ahj": "AHJ", "product_type": "Product", "pv_kw_dc": "PV kW DC", "pv_kw_ac": "PV kW AC",
    "battery_kwh": "Battery kWh", "program": "Program", "stage": "Stage", "coordinator": "Coordinator",
    "contract_signed_on": "Contract signed", "application_complete_on": "Application complete",
    "installed_on": "Installed", "export_limited": "Export limited", "new_home": "New home",
    "third_party_owned": "Third-party owned", "main_panel_upgrade": "Main panel upgrade",
}

# Typed or pasted text sometimes carries one; PostgreSQL cannot store it, so it is refused, not dropped.
NUL_REFUSED = "the text contains a NUL character (\\0), which text cannot hold; remove it"

EDITABLE = ("customer_name", "customer_email", "customer_phone", "street", "city", "state", "zip",
            "utility", "utility_account", "ahj", "product_type", "pv_kw_dc", "pv_kw_ac",
            "battery_kwh", "program", "stage", "coordinator")


class Project(BaseModel):
    external_id = CharField(unique=True)
    customer_name = CharField(index=True)
    customer_email = CharField(null=True, index=True)  # lower-case (project_fields); mail is matched on it
    customer_phone = CharField(null=True)
    street = CharField(default="")
    city = CharField(default="", index=True)
    state = CharField(max_length=2, default="", index=True)
    zip = CharField(max_length=10, default="")
    utility = ForeignKeyField(Utility, backref="projects", index=True)
    utility_account = CharField(null=True, index=True)
    ahj = ForeignKeyField(Ahj, null=True, backref="projects", index=True, on_delete="SET NULL")
    product_type = CharField(default="pv", index=True)
    pv_kw_dc = FloatField(null=True)
    pv_kw_ac = FloatField(null=True)
    battery_kwh = FloatField(null=True)
    program = CharField(null=True)
    # Facts the requirements catalog reads (None = unknown).
    contract_signed_on = DateField(null=True)
    application_complete_on = DateField(null=True)
    installed_on = DateField(null=True)
    export_limited = BooleanField(null=True)
    new_home = BooleanField(null=True)
    third_party_owned = BooleanField(null=True)
    main_panel_upgrade = BooleanField(null=True)
    # Opt-in: ixdesk itself sends the due document reminders and utility follow-ups of this project.
    auto_reminders = BooleanField(default=False, index=True)
    stage = CharField(default="intake", index=True)
    ball_in_court = CharField(default="us", index=True)
    needs_attention = BooleanField(default=False, index=True)
    coordinator = ForeignKeyField(User, null=True, backref="projects", index=True, on_delete="SET NULL")
    flagged_at = DateTimeField(null=True, index=True)
    flagged_reason = TextField(null=True)
    flagged_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    # Lower-cased haystack for the pipeline search (names, contacts, address, reference numbers).
    search_text = TextField(default="")
    # Copies of the utility's, AHJ's and coordinator's names, so the pipeline sorts by them through an index
    # instead of joining and sorting every project. The database keeps them (SORT_NAME_TRIGGERS): a rename
    # of a utility, AHJ or person reaches every project, whichever code path wrote it.
    sort_utility = CharField(default="")
    sort_ahj = CharField(null=True)
    sort_coordinator = CharField(null=True)
    created_at = DateTimeField(default=utcnow, index=True)
    updated_at = DateTimeField(default=utcnow, index=True)

    @classmethod
    def create_table(cls, safe: bool = True, **options) -> None:
        # A table created from the models gets what migration 0019 adds beside it: the same database either way.
        super().create_table(safe=safe, **options)
        install_search_and_sort(cls._meta.database)

    def __str__(self) -> str:
        return f"{self.external_id} {self.customer_name}"

    @property
    def stage_label(self) -> str:
        return STAGES.get(self.stage, self.stage)

    @property
    def ball_label(self) -> str:
        return BALL.get(self.ball_in_court, self.ball_in_court)

    @property
    def product_label(self) -> str:
        return vocab.PRODUCT_TYPES.get(self.product_type, self.product_type)

    @property
    def phone_display(self) -> str:
        return vocab.phone_display(self.customer_phone)

    @property
    def address(self) -> str:
        tail = " ".join(p for p in (self.state, self.zip) if p)
        return ", ".join(p for p in (self.street, self.city, tail) if p)

    def can_edit(self, user: User) -> bool:
        """Leads and admins edit any project; a coordinator edits their own and unassigned ones."""
        return user.is_lead or self.coordinator_id in (None, user.id)

    def compose_search_text(self, references: list[str] | tuple[str, ...] = ()) -> str:
        parts = [self.external_id, self.customer_name, self.customer_email or "",
                 vocab.digits(self.customer_phone or "")[-10:], self.street, self.city, self.state,
                 self.zip, self.utility_account or "", *[r for r in references if r]]
        return " ".join(p for p in parts if p).lower()

    def references(self) -> list[str]:
        from models.applications import Application
        rows = (Application.select(Application.reference_number)
                .where(Application.project == self, Application.reference_number.is_null(False)))
        return [r.reference_number for r in rows]

    def refresh_rollups(self) -> None:
        """Recompute ball-in-court, attention and the search text from the project's applications."""
        from models.applications import ATTENTION, Application
        from models.checklists import ChecklistItem
        apps = list(Application.select().where(Application.project == self))
        # Once Part 2 is filed, Part 1's approval is history, not a task of ours.
        superseded = {"utility_part1"} if any(a.kind == "utility_part2" and a.status not in
                                              ("DRAFT", "AWAITING_COMPLETION_DOCS") for a in apps) else set()
        # An application we hold only because the customer owes a document is in the customer's court.
        waiting_on_customer = {i.application for i in ChecklistItem.select(ChecklistItem.application).where(
            ChecklistItem.project == self, ChecklistItem.status == "requested", ChecklistItem.required == True)}  # noqa: E712
        # ...and a Part 2 still in preparation waits on Part 1's approval, not on us.
        part1_open = any(a.kind == "utility_part1" and a.status not in APPROVED | {"PTO_GRANTED", "WITHDRAWN",
                                                                                  "CANCELLED", "EXPIRED"}
                         for a in apps)
        courts = set()
        for a in apps:
            if a.kind in superseded or a.ball_in_court is None:
                continue
            if part1_open and a.kind == "utility_part2" and a.status in ("DRAFT", "AWAITING_COMPLETION_DOCS"):
                continue
            courts.add("customer" if a.ball_in_court == "us" and a.kind in waiting_on_customer else a.ball_in_court)
        if apps:
            self.ball_in_court = next((b for b in BALL_PRIORITY if b in courts), "none")
        self.needs_attention = bool(self.flagged_at) or any(a.status in ATTENTION for a in apps)
        self.search_text = self.compose_search_text([a.reference_number for a in apps])

    def advance_stage(self) -> str | None:
        """Move the stage forward to what the applications show (never back; people move it back)."""
        from models.applications import Application
        states = {a.kind: a.status for a in Application.select().where(Application.project == self)}
        derived = derive_stage(states)
        if derived and (derived == "cancelled" or STAGE_ORDER.get(derived, 0) > STAGE_ORDER.get(self.stage, 0)):
            old, self.stage = self.stage, derived
            return old
        return None

    def apply_changes(self, values: dict, actor: User | None, why: str = "") -> dict:
        """Set the given values; records one timeline event listing what changed. Returns {field: (old, new)}."""
        from models.events import Event
        changes = {}
        for name, new in values.items():
            attr = name + "_id" if name in ("utility", "ahj", "coordinator") else name
            old = getattr(self, attr)
            new_id = getattr(new, "id", new)
            if old in ("", None) and new_id in ("", None):
                continue  # blank stays blank: an empty form field is no change (None vs "" is storage detail)
            if old != new_id:
                changes[name] = (_label(self, name), new)
                setattr(self, attr, new_id)
        if not changes:
            return {}
        with db.atomic():
            self.updated_at = utcnow()
            self.refresh_rollups()
            self.save()
            Event.record(self, "change", actor,
                         summary="Updated " + ", ".join(FIELD_LABELS.get(k, k).lower() for k in changes),
                         body=why, data={k: [_shown(k, o), _shown(k, n)] for k, (o, n) in changes.items()})
            from models import checklists
            if set(changes) & set(checklists.FACT_FIELDS):
                checklists.sync(self, actor)
        return changes

    def add_note(self, text: str, actor: User) -> "Event":
        from models.events import Event
        text = (text or "").strip()
        if not text:
            raise ValueError("a note cannot be empty")
        if "\x00" in text:
            raise ValueError(NUL_REFUSED)
        with db.atomic():
            Project.update(updated_at=utcnow()).where(Project.id == self.id).execute()
            return Event.record(self, "note", actor, summary="Note", body=text)

    def flag(self, reason: str, actor: User) -> "Event":
        """Raise the project to the leads' attention with a reason."""
        from models.events import Event
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("say why you are flagging this project")
        if "\x00" in reason:
            raise ValueError(NUL_REFUSED)
        with db.atomic():
            self.flagged_at, self.flagged_reason, self.flagged_by = utcnow(), reason, actor
            self.updated_at = utcnow()
            self.refresh_rollups()
            self.save()
            return Event.record(self, "flag", actor, summary="Flagged to lead", body=reason)

    def unflag(self, actor: User, note: str = "") -> "Event":
        from models.events import Event
        if not self.flagged_at:
            raise ValueError("this project is not flagged")
        with db.atomic():
            self.flagged_at = self.flagged_reason = self.flagged_by = None
            self.updated_at = utcnow()
            self.refresh_rollups()
            self.save()
            return Event.record(self, "unflag", actor, summary="Flag cleared", body=(note or "").strip())

    @classmethod
    def flagged(cls):
        return cls.select().where(cls.flagged_at.is_null(False)).order_by(cls.flagged_at)


# The pipeline sorts these with an index: (name, id), the nullable ones NULLS LAST.
Project.add_index(Project.sort_utility, Project.id)
Project.add_index(Project.sort_ahj, Project.id)
Project.add_index(Project.sort_coordinator, Project.id)
Project.add_index(Project.pv_kw_dc, Project.id)


def rank_sql(column: str, order) -> str:
    """CASE column WHEN 'first' THEN 0 ... END, literally: an index on it serves the pipeline's sort by it."""
    whens = " ".join(f"WHEN '{key}' THEN {i}" for i, key in enumerate(order))
    return f"CASE {column} {whens} ELSE {len(order)} END"


# SQLite finds substrings through an FTS5 trigram index over search_text (external content: the text lives
# once, in project; triggers keep the index in step with every insert, update and delete).
SQLITE_SEARCH_INDEX = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS project_search USING fts5(search_text, content='project', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS project_search_insert AFTER INSERT ON project BEGIN "
    "INSERT INTO project_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS project_search_delete AFTER DELETE ON project BEGIN "
    "INSERT INTO project_search(project_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS project_search_update AFTER UPDATE OF search_text ON project BEGIN "
    "INSERT INTO project_search(project_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO project_search(rowid, search_text) VALUES (new.id, new.search_text); END",
)
SQLITE_SEARCH_TABLES = ("project_search", "project_search_config", "project_search_data", "project_search_docsize",
                        "project_search_idx")
_NAMES = ("sort_utility = (SELECT name FROM utility WHERE id = {r}.utility_id), "
          "sort_ahj = (SELECT name FROM ahj WHERE id = {r}.ahj_id), "
          'sort_coordinator = (SELECT name FROM "user" WHERE id = {r}.coordinator_id)')
SORT_NAME_TRIGGERS = {
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS project_sort_names_insert AFTER INSERT ON project BEGIN "
        f"UPDATE project SET {_NAMES.format(r='new')} WHERE id = new.id; END",
        "CREATE TRIGGER IF NOT EXISTS project_sort_names_update AFTER UPDATE OF utility_id, ahj_id, coordinator_id "
        f"ON project BEGIN UPDATE project SET {_NAMES.format(r='new')} WHERE id = new.id; END",
        "CREATE TRIGGER IF NOT EXISTS utility_sort_name AFTER UPDATE OF name ON utility BEGIN "
        "UPDATE project SET sort_utility = new.name WHERE utility_id = new.id; END",
        "CREATE TRIGGER IF NOT EXISTS ahj_sort_name AFTER UPDATE OF name ON ahj BEGIN "
        "UPDATE project SET sort_ahj = new.name WHERE ahj_id = new.id; END",
        'CREATE TRIGGER IF NOT EXISTS user_sort_name AFTER UPDATE OF name ON "user" BEGIN '
        "UPDATE project SET sort_coordinator = new.name WHERE coordinator_id = new.id; END",
    ),
    "postgres": (
        "CREATE OR REPLACE FUNCTION project_sort_names() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "NEW.sort_utility := (SELECT name FROM utility WHERE id = NEW.utility_id); "
        "NEW.sort_ahj := (SELECT name FROM ahj WHERE id = NEW.ahj_id); "
        'NEW.sort_coordinator := (SELECT name FROM "user" WHERE id = NEW.coordinator_id); RETURN NEW; END $$',
        "CREATE OR REPLACE TRIGGER project_sort_names BEFORE INSERT OR UPDATE OF utility_id, ahj_id, coordinator_id "
        "ON project FOR EACH ROW EXECUTE FUNCTION project_sort_names()",
        "CREATE OR REPLACE FUNCTION sort_name_renamed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.name IS DISTINCT FROM OLD.name THEN EXECUTE 'UPDATE project SET ' || quote_ident(TG_ARGV[0]) "
        "|| ' = $1 WHERE ' || quote_ident(TG_ARGV[1]) || ' = $2' USING NEW.name, NEW.id; END IF; "
        "RETURN NULL; END $$",
        "CREATE OR REPLACE TRIGGER utility_sort_name AFTER UPDATE OF name ON utility FOR EACH ROW "
        "EXECUTE FUNCTION sort_name_renamed('sort_utility', 'utility_id')",
        "CREATE OR REPLACE TRIGGER ahj_sort_name AFTER UPDATE OF name ON ahj FOR EACH ROW "
        "EXECUTE FUNCTION sort_name_renamed('sort_ahj', 'ahj_id')",
        'CREATE OR REPLACE TRIGGER user_sort_name AFTER UPDATE OF name ON "user" FOR EACH ROW '
        "EXECUTE FUNCTION sort_name_renamed('sort_coordinator', 'coordinator_id')",
    ),
}


def install_search_and_sort(database) -> None:
    """The engine's own parts of the project table: the sort-name triggers, and on SQLite the search index."""
    from peewee import PostgresqlDatabase
    if isinstance(database, PostgresqlDatabase):
        statements = SORT_NAME_TRIGGERS["postgres"]
    else:
        statements = SORT_NAME_TRIGGERS["sqlite"] + SQLITE_SEARCH_INDEX
    for sql in statements:
        database.execute_sql(sql)


STAGE_ORDER = {s: i for i, s in enumerate(("intake", "design", "permitting", "ix_approval", "install",
                                             "inspection", "pto_requested", "pto"))}
APPROVED = {"APPROVED_TO_INSTALL", "AGREEMENT_SENT", "AGREEMENT_EXECUTED"}


def derive_stage(states: dict[str, str]) -> str | None:
    """The pipeline stage the applications' statuses imply, or None when they say nothing."""
    if states and all(s in ("WITHDRAWN", "CANCELLED") for s in states.values()):
        return "cancelled"
    part1, part2, permit = states.get("utility_part1"), states.get("utility_part2"), states.get("ahj_permit")
    if part2 == "PTO_GRANTED":
        return "pto"
    if part2 and part2 not in ("DRAFT", "AWAITING_COMPLETION_DOCS", "WITHDRAWN", "CANCELLED"):
        return "pto_requested"
    if permit in ("INSPECTION_SCHEDULED", "INSPECTION_FAILED", "PTO_GRANTED"):
        return "inspection"
    if permit == "APPROVED_TO_INSTALL" and (part1 is None or part1 in APPROVED):
        return "install"
    if part1 and part1 not in ("DRAFT", "WITHDRAWN", "CANCELLED"):
        return "ix_approval"
    if permit and permit not in ("DRAFT", "WITHDRAWN", "CANCELLED"):
        return "permitting"
    return None


def _shown(name: str, value) -> str:
    """A value as a person reads it on the timeline (0 stays 0; a phone is formatted; codes get labels)."""
    if value is None or value == "":
        return ""
    if name == "customer_phone":
        return vocab.phone_display(value)
    if name == "stage":
        return STAGES.get(value, value)
    if name == "product_type":
        return vocab.PRODUCT_TYPES.get(value, value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _label(project: Project, name: str):
    if name in ("utility", "ahj", "coordinator"):
        return getattr(project, name) if getattr(project, name + "_id") else None
    return getattr(project, name)

