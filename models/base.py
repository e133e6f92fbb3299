"""The database handle every model binds to, and how it is opened."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from peewee import DatabaseProxy, Model, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect as url_connect
from playhouse.pool import PooledPostgresqlDatabase

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -64000,
}


def utcnow() -> dt.datetime:
    """Naive UTC timestamp: every datetime column stores UTC."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


_desk_zone = ZoneInfo("America/Los_Angeles")


def set_desk_timezone(name: str) -> None:
    """The desk's own time zone: it decides what "today" is for due dates, follow-ups and the day page."""
    global _desk_zone
    _desk_zone = ZoneInfo(name)


def today() -> dt.date:
    """Today's date where the desk works (not in UTC: after 5 pm in California, UTC is already tomorrow)."""
    return dt.datetime.now(_desk_zone).date()


def day_start_utc(day: dt.date) -> dt.datetime:
    """The naive-UTC instant a desk day begins (to compare with stored timestamps)."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=_desk_zone)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


# PostgreSQL connections kept open per process: a new one costs a fork on the server and several round
# trips, more than a pipeline page. close() hands the connection back (request teardown, worker middleware).
POOL_SIZE = 10
POOL_STALE_SECONDS = 300  # idle longer than this: closed instead of reused (proxies and servers drop idle ones)
POOL_WAIT_SECONDS = 10  # every connection busy: wait this long for one before failing


def open_database(url: str, pool_size: int | None = None):
    """A Database for a sqlite:/// or postgresql:// URL (not bound to the proxy).

    PostgreSQL connections are pooled, at most pool_size per process (POOL_SIZE by default; 0: no pool).
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif url.startswith("sqlite:///"):
            path = path[1:] if not path.startswith("//") else path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Transactions take the write lock when they begin: a deferred one that reads, then writes, fails at
        # once with "database is locked" if another connection wrote in between (WAL cannot upgrade a stale
        # snapshot); an immediate one waits its turn (busy_timeout).
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, lock_type="IMMEDIATE")
    if parsed.scheme in ("postgres", "postgresql"):
        size = POOL_SIZE if pool_size is None else pool_size
        if size <= 0:
            database = url_connect(url.replace(parsed.scheme + "://", "postgresql://", 1))
        else:
            database = url_connect(url.replace(parsed.scheme + "://", "postgresql+pool://", 1), max_connections=size,
                                   stale_timeout=POOL_STALE_SECONDS, timeout=POOL_WAIT_SECONDS)
            assert isinstance(database, PooledPostgresqlDatabase)
        assert isinstance(database, PostgresqlDatabase)
        return database
    return url_connect(url)


def connect(url: str, pool_size: int | None = None):
    """Bind the shared proxy to the database at url and return it."""
    database = open_database(url, pool_size)
    db.initialize(database)
    return database


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False
        # save() writes only the fields this instance changed, so a row loaded a while ago never
        # writes back stale values over someone else's change.
        only_save_dirty = True

    def save(self, *args, **kwargs):
        # PostgreSQL text cannot hold NUL; text typed or pasted by people sometimes does. Drop it.
        for name, value in self.__data__.items():
            if isinstance(value, str) and "\x00" in value:
                setattr(self, name, value.replace("\x00", ""))
        return super().save(*args, **kwargs)
