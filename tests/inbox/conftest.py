"""A private Dovecot per test: it starts in about 0.1 s, so no test sees another's mail."""
from __future__ import annotations

import pytest

from tests.inbox.dovecot import Dovecot, binary


@pytest.fixture
def dovecot():
    if binary() is None:
        pytest.skip("dovecot is not installed: apt-get install dovecot-imapd")
    server = Dovecot().start()
    yield server
    server.close()
