"""Migrations from empty yield exactly the models' schema (SQLite here, PostgreSQL when configured)."""
from __future__ import annotations

import os
import uuid

import pytest
from peewee import SqliteDatabase

from models import MODELS, schema
from models.base import open_database


def _shape(database) -> dict:
    """Tables -> (columns with type/nullability, indexes with columns/uniqueness, foreign keys)."""
    out = {}
    for table in sorted(database.get_tables()):
        if table == "schema_migration":
            continue
        cols = sorted((c.name, c.data_type.lower(), c.null, bool(c.primary_key)) for c in database.get_columns(table))
        idx = sorted((tuple(i.columns), bool(i.unique)) for i in database.get_indexes(table)
                     if i.name not in schema.ENGINE_INDEXES)
        fks = sorted((f.column, f.dest_table, f.dest_column) for f in database.get_foreign_keys(table))
        out[table] = (cols, idx, fks)
    return out


@pytest.fixture
def two_databases(tmp_path):
    """A pair of empty databases on the run's backend: one migrated, one created from the models."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield SqliteDatabase(str(tmp_path / "migrated.db")), SqliteDatabase(str(tmp_path / "created.db"))
        return
    import psycopg
    names = [f"ixdesk_schema_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = psycopg.connect(url, autocommit=True)
    for n in names:
        admin.execute(f'CREATE DATABASE "{n}"')
    base = url.rsplit("/", 1)[0]
    dbs = [open_database(f"{base}/{n}") for n in names]
    yield tuple(dbs)
    for d in dbs:
        d.close()
    for n in names:
        admin.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
    admin.close()


def test_upgrade_from_empty_matches_models_exactly(two_databases):
    migrated, created = two_databases
    applied = schema.upgrade(migrated)
    assert applied[:2] == ["0001_initial", "0002_search_trigram"]
    assert not schema.drift(migrated), str(schema.drift(migrated))
    with created.bind_ctx(MODELS):
        created.create_tables(MODELS)
    assert _shape(migrated) == _shape(created)
    assert schema.upgrade(migrated) == []  # idempotent
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        assert "project_search_trgm" in {i.name for i in migrated.get_indexes("project")}


def test_pending_lists_unapplied_migrations(tmp_path):
    fresh = SqliteDatabase(str(tmp_path / "fresh.db"))
    assert schema.pending(fresh) == [p.stem for p in sorted(schema.MIGRATIONS_DIR.glob("[0-9]*.py"))]
