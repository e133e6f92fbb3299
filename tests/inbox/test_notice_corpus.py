"""The labelled notice corpus (tests/inbox/notices/): what the desk does with real-looking utility, AHJ,
portal, program and forged mail, held to the goals. `bench/notices.py` prints the same figures in full."""
from __future__ import annotations

import pytest

from tests.inbox.notices import corpus


@pytest.fixture(scope="module")
def outcomes(database, catalog_data):
    from models import MODELS, Utility
    from models.base import db as proxy
    proxy.initialize(database)
    database.connect(reuse_if_open=True)
    for model in reversed(MODELS):
        model.delete().execute()
    Utility.sync(catalog_data)
    return corpus.run_all()


def test_the_corpus_is_big_and_varied_enough():
    cases = corpus.cases()
    assert len(cases) >= 300 and sum(c.forgery for c in cases) >= 40
    assert {c.shard for c in cases} == {"utilities", "permits"}
    assert len({c.notice for c in cases if c.notice}) >= 15, "every kind of notice is in it"


def test_no_forgery_changes_anything_by_itself(outcomes):
    applied = [f"{o.case.name}: {o.applied}" for o in outcomes if o.case.forgery and o.applied]
    assert applied == []


def test_no_wrong_automatic_change(outcomes):
    s = corpus.score(outcomes)
    assert s.wrong_autos == []


def test_notices_reach_a_change_or_a_correct_suggestion(outcomes):
    s = corpus.score(outcomes)
    assert s.recall >= 0.95, f"recall {s.recall:.1%}; missed: {s.missed}"
    assert s.precision >= 0.95, f"precision {s.precision:.1%}; read as notices: {s.false_notices}"


def test_proven_notices_apply_by_themselves(outcomes):
    """Sending everything to review is not the goal: authenticated, unambiguous notices with a held
    reference (or our token or thread) move the application without a person."""
    assert corpus.score(outcomes).auto_rate >= 0.90


def test_every_mail_ends_in_a_defined_state_with_a_reason_when_a_person_must_act(outcomes):
    for o in outcomes:
        assert o.state in ("processed", "needs_review", "unmatched", "quarantined"), o.case.name
        assert not o.reason.startswith("processing failed"), (o.case.name, o.reason)
        if o.state == "needs_review":
            assert o.reason, o.case.name
