"""A private Dovecot per test: it starts in about 0.1 s, so no test sees another's mail."""
from __future__ import annotations

import pytest

from tests.inbox.dovecot import Dovecot, binary


@pytest.fixture
def make_dovecot():
    """Start servers on demand (e.g. Dovecot(capabilities=...) without MOVE); all are stopped afterwards."""
    if binary() is None:
        pytest.skip("dovecot is not installed: apt-get install dovecot-imapd")
    started: list[Dovecot] = []

    def make(**kw) -> Dovecot:
        started.append(Dovecot(**kw))  # before start(): a server that fails to start still gets removed
        return started[-1].start()
    yield make
    for server in started:
        server.close()


@pytest.fixture
def dovecot(make_dovecot):
    return make_dovecot()
