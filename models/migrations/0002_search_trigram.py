"""PostgreSQL: a trigram index so the pipeline's substring search does not scan every project."""
import logging

from peewee import PostgresqlDatabase

log = logging.getLogger("models.migrations")


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return  # SQLite scans; see docs/architecture.md (Search)
    try:
        with db.atomic():
            db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # a database user without the right to create extensions
        log.warning("pg_trgm unavailable (%s); pipeline search will scan", exc)
        return
    db.execute_sql("CREATE INDEX IF NOT EXISTS project_search_trgm ON project USING gin (search_text gin_trgm_ops)")


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("DROP INDEX IF EXISTS project_search_trgm")
