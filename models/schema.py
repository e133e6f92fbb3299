"""Versioned schema migrations (playhouse.migrations), applied by `flask db upgrade` and at start."""
from __future__ import annotations

import logging
from pathlib import Path

from playhouse.migrations import Runner, template
from playhouse.schema_diff import diff_models

from models import MODELS
from models.base import db

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Indexes a migration adds that peewee models cannot declare (one engine's only, or on an expression); not drift.
ENGINE_INDEXES = frozenset({"project_search_trgm", "project_stage_rank", "project_ball_rank",
                            "project_sort_ahj_id_desc", "project_sort_coordinator_id_desc", "project_pv_kw_dc_id_desc"})


def runner(database=None) -> Runner:
    return Runner(database or db.obj, directory=str(MIGRATIONS_DIR))


def pending(database=None) -> list[str]:
    """Names of migrations not yet applied."""
    r = runner(database)
    applied = r.applied()
    return [m.name for m in r.migrations() if m.name not in applied]


def upgrade(database=None) -> list[str]:
    """Apply every pending migration in order; returns the names applied."""
    todo = pending(database)
    if todo:
        runner(database).up()
        log.info("applied migrations: %s", ", ".join(todo))
    return todo


def drift(database=None):
    """How the database differs from the models (falsy when they match)."""
    diff = diff_models(database or db.obj, MODELS)
    return diff._replace(drop_indexes=[i for i in diff.drop_indexes if i.name not in ENGINE_INDEXES])


def draft_migration(name: str, database=None) -> Path | None:
    """Write the next migration file from the models' drift against an upgraded database."""
    diff = drift(database)
    if not diff:
        return None
    r = runner(database)
    number = max((m.idx for m in r.migrations()), default=0) + 1
    slug = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_") or "change"
    path = MIGRATIONS_DIR / f"{number:04d}_{slug}.py"
    path.write_text(template(diff))
    return path
