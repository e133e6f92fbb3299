"""A throwaway database for a bench: SQLite in a temp dir, or a new PostgreSQL database on the server
`base` names (created now, dropped by the returned cleanup)."""
from __future__ import annotations

import tempfile
import uuid

from models.base import db


def scratch_database(base: str, label: str = "bench") -> tuple[str, callable]:
    """(url, cleanup): cleanup closes the connection and drops a PostgreSQL database (no-op for SQLite)."""
    if not base.startswith("postgres"):
        return f"sqlite:///{tempfile.mkdtemp(prefix='ixdesk-bench-')}/{label}.db", lambda: None
    import psycopg
    name = f"ixdesk_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(base, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')

    def cleanup():
        if db.obj is not None and not db.is_closed():
            db.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return base.rsplit("/", 1)[0] + "/" + name, cleanup
