"""Pipeline and inbox search through the index (SQLite FTS5 trigrams, PostgreSQL pg_trgm) find what a scan finds."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from models import Project, pipeline
from models.base import db as proxy, is_postgres
from tests.factories import make_project

PEOPLE = [
    dict(external_id="A1", customer_name="Olivia Morrison", customer_email="liv@example.net",
         customer_phone="+16025550142", street="12 Canyon Rd", city="Phoenix", state="AZ", zip="85001",
         refs={"utility_part1": ("SUBMITTED", "SCE-INT-500005417")}),
    dict(external_id="B2", customer_name="Noah Patel", customer_phone="(415) 555-0123", city="Oakland",
         refs={"ahj_permit": ("SUBMITTED", "B26-77123")}),
    dict(external_id="C3", customer_name="Zoë Müller-Łukasiewicz", customer_email="zoe@example.de", city="Fresno"),
    dict(external_id="D4", customer_name="José Ñúñez", customer_phone="+1 209 555 0199", city="Modesto",
         utility_account="AC-0042-77"),
    dict(external_id="E5", customer_name="李 小龍", city="San José", customer_email=None, customer_phone=None),
    dict(external_id="GA7", customer_name="Gabriel Garcia", city="Sacramento"),
    dict(external_id="X9", customer_name='Quote "Mark" 100%_off', city="Davis"),
]
TERMS = ["a", "z", "ë", "李", "ga", "ñú", "55", "42", "mor", "rison", "liv@example", "canyon rd", "phoenix az",
         "sce-int-5000", "b26-77123", "77123", "(415) 555-0123", "415-555-0123", "4155550123", "+1 209 555 0199",
         "2095550199", "0142", "ac-0042", "müller", "łukas", "ñúñez", "san josé", "小龍", "Zoë", "GA7", "ga7 gabriel",
         "noah morrison", "100%", "%_", '"mark"', "mark\"", "''", "nothing-like-this"]


def F(**args):
    return pipeline.PipelineFilter.from_args(MultiDict(args))


def scanned(q: str) -> set[str]:
    """What the search found before the index: every term a substring of the project's search text."""
    terms = pipeline.search_terms(q)
    return {p.external_id for p in Project.select() if all(t in p.search_text for t in terms)}


def found(q: str) -> set[str]:
    return {p.external_id for p in pipeline.rows_query(F(q=q))}


@pytest.fixture
def desk(db, users):
    return {p["external_id"]: make_project(**p) for p in PEOPLE}


def test_search_finds_what_a_scan_finds_for_terms_of_every_length(desk):
    for q in TERMS:
        assert found(q) == scanned(q), q
    assert found("ga") >= {"GA7"} and found("liv@example") == {"A1"} and found("(415) 555-0123") == {"B2"}
    assert found("小龍") == {"E5"} and found("müller") == {"C3"} and found("100%") == {"X9"}
    page = pipeline.page(F(q="ga"))
    assert page.total == len(scanned("ga")) == sum(page.counts.values())
    if is_postgres():
        assert "project_search_trgm" in {i.name for i in proxy.obj.get_indexes("project")}




def _indexed(term: str) -> set[int]:
    """Ids the SQLite index itself answers for a term (no fallback scan)."""
    rows = proxy.obj.execute_sql("SELECT rowid FROM project_search WHERE project_search MATCH ?",
                                 (pipeline._fts_phrase(term),))
    return {r[0] for r in rows}


def test_the_index_follows_inserts_updates_and_deletes(desk, users):
    p = make_project(external_id="N1", customer_name="Wanda Quillfeather")
    assert found("quillfeather") == {"N1"}
    p.apply_changes({"customer_name": "Wanda Brightwater"}, users["lead"])
    assert found("quillfeather") == set() and found("brightwater") == {"N1"}
    Project.update(search_text="raw sql wrote this").where(Project.id == p.id).execute()
    assert found("brightwater") == set() and found("wrote this") == {"N1"}
    if not is_postgres():
        assert _indexed("brightwater") == set() and _indexed("wrote") == {p.id}
    Project.delete().where(Project.id == p.id).execute()
    assert found("wrote this") == set()
    if not is_postgres():
        assert _indexed("wrote") == set()
        # the index holds exactly the projects' texts: a rebuild from them changes nothing
        check = proxy.obj.execute_sql("INSERT INTO project_search(project_search, rank) VALUES ('integrity-check', 1)")
        assert check is not None
    for q in TERMS:
        assert found(q) == scanned(q), q


def test_search_is_one_query_per_part_of_the_page(desk):
    from tests.web.test_projects import QueryCounter
    with QueryCounter(proxy.obj) as counter:
        page = pipeline.page(F(q="morrison"))
    assert [p.external_id for p in page.rows] == ["A1"] and page.total == 1 and page.counts["intake"] == 1
    assert counter.count == 3  # counts per stage (total among them), the page's ids, its rows


def test_inbox_search_finds_mail_of_projects_the_pipeline_search_finds(desk, users):
    from models import shared_inbox
    from models.messages import OutboundMessage
    a1, c3 = desk["A1"], desk["C3"]
    for p in (a1, c3):
        OutboundMessage.create(project=p, recipients=["x@example.org"], subject="Hello", body="Text",
                               message_id=f"<{p.id}@search.test>",
                               state="sent", created_by=users["maria"])

    def subjects(q):
        f = shared_inbox.InboxFilter.from_args(MultiDict({"q": q, "channel": "out"}))
        return {r.item.project_id for r in shared_inbox.page(f)[0].rows}
    assert subjects("sce-int-5000") == {a1.id}
    assert subjects("müller") == {c3.id}
    assert subjects("mo") == {a1.id}  # short words still look in the search text ("morrison")
    assert subjects("liv@ex%") == {a1.id}  # a LIKE pattern is read as one, as before
    assert subjects("hello") == {a1.id, c3.id}
    assert subjects("nothing-like-this") == set()
