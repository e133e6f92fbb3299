"""PostgreSQL connections are pooled per process and handed back after each request and each worker message."""
from __future__ import annotations

import threading

from models.base import POOL_SIZE, db as proxy, is_postgres, open_database
from playhouse.pool import PooledPostgresqlDatabase


def test_postgres_urls_open_a_pool_of_the_given_size_and_sqlite_urls_do_not(tmp_path):
    pooled = open_database("postgresql://u@127.0.0.1:5432/x", pool_size=4)
    assert isinstance(pooled, PooledPostgresqlDatabase) and pooled._max_connections == 4
    assert open_database("postgres://u@127.0.0.1:5432/x")._max_connections == POOL_SIZE
    assert not isinstance(open_database("postgresql://u@127.0.0.1:5432/x", pool_size=0), PooledPostgresqlDatabase)
    assert not isinstance(open_database(f"sqlite:///{tmp_path}/a.db"), PooledPostgresqlDatabase)


def test_worker_messages_hand_their_connection_back(db):
    from tests.conftest import TEST_DATABASE_URL
    from workers.broker import DatabaseConnection
    middleware = DatabaseConnection()
    if not db.is_closed():
        db.close()
    database = open_database(TEST_DATABASE_URL, pool_size=4)  # as production runs (the suite runs unpooled)
    proxy.initialize(database)

    def message():
        middleware.before_process_message(None, None)
        database.execute_sql("SELECT 1")
        middleware.after_process_message(None, None)
    for _ in range(50):
        thread = threading.Thread(target=message)  # a worker thread per message, as dramatiq's threads run them
        thread.start()
        thread.join()
    try:
        if is_postgres():
            assert database._in_use == {}
            assert 1 <= len(database._connections) <= 2  # reused, not one per message
    finally:
        if is_postgres():
            database.close_all()
        proxy.initialize(db)
        db.connect(reuse_if_open=True)
