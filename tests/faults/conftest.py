"""Fault tests run the production processes (PostgreSQL, Redis, supervisord, dramatiq, the watcher): only
in the production-stack run of the suite (DATABASE_URL and BROKER_URL set), never against SQLite."""
from __future__ import annotations

import os

_production = (os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")) and
               os.environ.get("BROKER_URL", "").startswith("redis://"))
collect_ignore_glob = [] if _production else ["test_*.py"]
