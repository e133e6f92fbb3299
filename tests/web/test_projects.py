"""The pipeline and project pages through the test client: fragments, filters, edit, notes, flags."""
from __future__ import annotations

import csv
import io

import pytest

from models import Event, Project
from models.base import db as proxy
from tests.conftest import login, overrides
from tests.factories import make_project

HX = {"HX-Request": "true"}


@pytest.fixture
def maria(client, users):
    return login(client, users["maria"])


def test_pipeline_full_page_and_htmx_fragment(maria, users):
    make_project(external_id="3763MORR", customer_name="Olivia Morrison")
    make_project(external_id="2633REGA", customer_name="Noah Regan")
    page = maria.get("/projects")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body and 'id="q"' in body and "3763MORR" in body
    frag = maria.get("/projects?q=morrison", headers=HX)
    text = frag.get_data(as_text=True)
    assert "<html" not in text and "3763MORR" in text and "2633REGA" not in text
    assert "HX-Request" in frag.headers["Vary"]
    # a history restore asks for the whole page
    restore = maria.get("/projects?q=morrison", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_stage_counts_and_empty_state(maria, users):
    make_project(stage="permitting")
    make_project(stage="permitting")
    make_project(stage="pto")
    body = maria.get("/projects?stage=permitting", headers=HX).get_data(as_text=True)
    assert 'data-stage="permitting">Permitting <b>2</b>' in body and 'data-stage="pto">PTO granted <b>1</b>' in body
    assert "Showing 1–2 of 2 projects" in body
    assert "No projects match these filters" in maria.get("/projects?q=zzzz", headers=HX).get_data(as_text=True)


class QueryCounter:
    """Counts this thread's queries (the in-process worker's threads run their own)."""

    def __init__(self, database):
        self.database, self.count = database, 0

    def __enter__(self):
        import threading
        original = self.database.execute_sql
        me = threading.get_ident()

        def counting(sql, params=None, *args, **kwargs):
            if threading.get_ident() == me:
                self.count += 1
            return original(sql, params, *args, **kwargs)
        self.database.execute_sql = counting
        return self

    def __exit__(self, *exc):
        del self.database.execute_sql


def test_pipeline_query_count_does_not_grow_with_rows(maria, users):
    def queries():
        with QueryCounter(proxy.obj) as counter:
            assert maria.get("/projects?per_page=100", headers=HX).status_code == 200
        return counter.count
    for _ in range(3):
        make_project(coordinator=users["maria"], ahj="City of Oakland")
    few = queries()
    for _ in range(60):
        make_project(coordinator=users["james"], ahj="City of Fresno", utility="SCE")
    assert queries() == few <= 8


def test_edit_with_validation_error_keeps_input_then_saves(maria, users):
    p = make_project(coordinator=users["maria"], customer_name="Ana")
    form = {"customer_name": "Ana Morris", "customer_email": "not-an-email", "customer_phone": "(415) 555-0142",
            "street": "1 Main St", "city": "Oakland", "state": "CA", "zip": "94610", "utility": "PGE",
            "utility_account": "", "ahj": "City of Oakland", "product_type": "pv", "pv_kw_dc": "7.2",
            "pv_kw_ac": "6", "battery_kwh": "", "program": "NBT", "stage": "design"}
    resp = maria.post(f"/projects/{p.id}", data=form, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "<html" not in body
    assert "Customer email &#39;not-an-email&#39; is not a valid email address" in body
    assert 'value="Ana Morris"' in body and 'value="not-an-email"' in body
    assert Project.get_by_id(p.id).customer_name == "Ana"  # nothing saved
    form["customer_email"] = "ana@example.net"
    resp = maria.post(f"/projects/{p.id}", data=form, headers=HX)
    assert resp.status_code == 200 and "project-changed" in resp.headers["HX-Trigger"]
    saved = Project.get_by_id(p.id)
    assert (saved.customer_name, saved.customer_email, saved.stage, saved.ahj.name) == \
        ("Ana Morris", "ana@example.net", "design", "City of Oakland")
    change = Event.get(Event.project == saved, Event.kind == "change")
    assert change.actor_id == users["maria"].id and "customer_name" in change.data


def test_plain_post_without_htmx_redirects_303(maria, users):
    p = make_project(coordinator=users["maria"])
    resp = maria.post(f"/projects/{p.id}", data={"customer_name": "New Name", "utility": "SCE", "stage": "intake",
                                                 "product_type": "pv"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/projects/{p.id}"
    assert Project.get_by_id(p.id).utility.code == "SCE"


def test_coordinator_cannot_edit_anothers_project_but_can_note_and_flag(maria, users):
    p = make_project(coordinator=users["james"])
    assert maria.get(f"/projects/{p.id}/edit").status_code == 403
    assert maria.post(f"/projects/{p.id}", data={"customer_name": "X"}).status_code == 403
    assert maria.post(f"/projects/{p.id}/notes", data={"body": "FYI"}, headers=HX).status_code == 200
    assert maria.post(f"/projects/{p.id}/flag", data={"reason": "Stuck"}).status_code == 303


def test_notes_inline_and_empty_note_refused(maria, users):
    p = make_project()
    resp = maria.post(f"/projects/{p.id}/notes", data={"body": "  "}, headers=HX)
    assert resp.status_code == 422 and "a note cannot be empty" in resp.get_data(as_text=True)
    resp = maria.post(f"/projects/{p.id}/notes", data={"body": "Called <b>utility</b>"}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" not in body and "Called &lt;b&gt;utility&lt;/b&gt;" in body


def test_flag_shows_on_timeline_and_leads_list(client, users):
    login(client, users["maria"])
    p = make_project(external_id="FLAG1")
    resp = client.post(f"/projects/{p.id}/flag", data={"reason": ""})
    assert resp.status_code == 422 and "say why" in resp.get_data(as_text=True)
    client.post(f"/projects/{p.id}/flag", data={"reason": "SCE silent for 3 weeks"})
    show = client.get(f"/projects/{p.id}").get_data(as_text=True)
    assert "SCE silent for 3 weeks" in show and "Flagged to lead" in show
    client.post("/logout")
    login(client, users["lead"])
    flagged = client.get("/flagged").get_data(as_text=True)
    assert "FLAG1" in flagged and "Maria Ortiz" in flagged
    client.post(f"/projects/{p.id}/unflag", data={"note": "called SCE", "back": "flagged"})
    assert "FLAG1" not in client.get("/flagged").get_data(as_text=True)


def test_lead_reassigns_and_creates_projects(client, users):
    login(client, users["lead"])
    p = make_project(coordinator=users["maria"])
    client.post(f"/projects/{p.id}", data={"customer_name": p.customer_name, "utility": "PGE", "stage": "intake",
                                           "product_type": "pv", "coordinator": str(users["james"].id)})
    assert Project.get_by_id(p.id).coordinator_id == users["james"].id
    resp = client.post("/projects/new", data={"external_id": "NEW1", "customer_name": "", "utility": "PGE"})
    assert resp.status_code == 422 and "Customer name is required" in resp.get_data(as_text=True)
    resp = client.post("/projects/new", data={"external_id": "NEW1", "customer_name": "Zed", "utility": "PGE",
                                              "product_type": "pv", "stage": "intake"})
    assert resp.status_code == 303
    again = client.post("/projects/new", data={"external_id": "NEW1", "customer_name": "Zed", "utility": "PGE"})
    assert "project NEW1 already exists" in again.get_data(as_text=True)


def test_export_is_the_filtered_pipeline_in_import_layout(maria, users):
    make_project(external_id="E1", utility="SCE", refs={"utility_part1": ("SUBMITTED", "SCE-INT-1")})
    make_project(external_id="E2", utility="PGE")
    resp = maria.get("/projects/export.csv?utility=SCE")
    assert resp.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["external_id"] for r in rows] == ["E1"]
    assert rows[0]["utility"] == "SCE" and rows[0]["utility_application_id"] == "SCE-INT-1"


def test_unknown_project_is_404(maria):
    assert maria.get("/projects/999999").status_code == 404


def test_flagged_list_searches_sorts_and_pages(client, users):
    login(client, users["lead"])
    a = make_project(external_id="FA", customer_name="Alpha Person")
    b = make_project(external_id="FB", customer_name="Beta Person")
    make_project(external_id="FC", customer_name="Not Flagged")
    a.flag("first", users["maria"])
    b.flag("second", users["james"])
    body = client.get("/flagged").get_data(as_text=True)
    # link texts, not bare letters: a random CSRF token can contain "FC"
    assert body.index(">FA</a>") < body.index(">FB</a>") and ">FC</a>" not in body and "James Chen" in body
    newest = client.get("/flagged?sort=flagged&dir=desc", headers=HX).get_data(as_text=True)
    assert "<html" not in newest and newest.index(">FB</a>") < newest.index(">FA</a>")
    only = client.get("/flagged?q=beta", headers=HX).get_data(as_text=True)
    assert ">FB</a>" in only and ">FA</a>" not in only


def test_a_save_from_an_old_tab_keeps_newer_changes_and_flags_real_conflicts(maria, users):
    p = make_project(coordinator=users["maria"], customer_phone="+16025550157", city="Oakland")
    tab_a = maria.get(f"/projects/{p.id}/edit", headers=HX).get_data(as_text=True)
    tab_b = tab_a

    def fields(page, **changes):
        import re
        data = dict(re.findall(r'<input type="hidden" name="(orig\.[a-z_]+)" value="([^"]*)"', page))
        data.update({k[5:]: v for k, v in list(data.items())})
        data.update(changes)
        return data

    assert maria.post(f"/projects/{p.id}", data=fields(tab_a, customer_phone="(415) 555-1111"),
                      headers=HX).status_code == 200
    resp = maria.post(f"/projects/{p.id}", data=fields(tab_b, city="Berkeley"), headers=HX)
    assert resp.status_code == 200
    saved = Project.get_by_id(p.id)
    assert (saved.customer_phone, saved.city) == ("+14155551111", "Berkeley")  # neither edit lost
    resp = maria.post(f"/projects/{p.id}", data=fields(tab_b, customer_phone="(415) 555-2222"), headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "was changed by someone else to “(415) 555-1111”" in body
    assert 'value="(415) 555-2222"' in body  # the user's input is kept
    assert Project.get_by_id(p.id).customer_phone == "+14155551111"
    again = maria.post(f"/projects/{p.id}", data=fields(body, customer_phone="(415) 555-2222"), headers=HX)
    assert again.status_code == 200 and Project.get_by_id(p.id).customer_phone == "+14155552222"


def test_nul_characters_in_typed_text_are_refused_with_the_text_kept(maria, users):
    # Refused rather than dropped: PostgreSQL cannot store a NUL, and SQLite must answer the same.
    p = make_project(coordinator=users["maria"])
    resp = maria.post(f"/projects/{p.id}/notes", data={"body": "pasted\x00text"}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "NUL character" in body and "pasted\x00text" in body
    assert not Event.select().where(Event.kind == "note").exists()
    resp = maria.post(f"/projects/{p.id}/flag", data={"reason": "why\x00"})
    assert resp.status_code == 422 and "NUL character" in resp.get_data(as_text=True)
    resp = maria.get("/projects?q=a%00b")
    assert resp.status_code == 422 and "“q”" in resp.get_data(as_text=True)


def _old_export(f) -> str:
    """The export as it was written before it streamed by keyset: OFFSET pages of the sorted pipeline."""
    from models import csv_safe, pipeline
    from models.project_import import COLUMNS
    from web.projects import _export_row, _references
    buf = io.StringIO()
    writer = csv_safe.writer(buf)
    writer.writerow(COLUMNS + ("stage", "ball_in_court", "updated_at"))
    query = pipeline.rows_query(f)
    for n in range(1, 10**6):
        chunk = list(query.paginate(n, 7))
        if not chunk:
            break
        refs = _references([p.id for p in chunk])
        for p in chunk:
            writer.writerow(_export_row(p, refs.get(p.id, {})))
    return buf.getvalue()


@pytest.fixture
def seeded_desk(users):
    """Projects with ties and gaps in every sort key: shared names, sizes, stages, no AHJ, no coordinator."""
    import datetime as dt
    import itertools
    from models import Ahj
    ahjs = [Ahj.named(n, "CA") for n in ("City of Fresno", "County of Kern", "City of Alameda")]
    coordinators = [users["maria"], users["james"], None]
    stamp = dt.datetime(2026, 3, 1, 9, 0)
    for i, (ahj, who, size) in enumerate(itertools.islice(itertools.cycle(
            itertools.product(ahjs + [None], coordinators, (7.2, None, 3.0, 11.5))), 53)):
        p = make_project(external_id=f"S{i:03d}", customer_name=f"=HYPERLINK(\"x\") {i % 5}" if i % 9 == 0
                         else f"Customer {i % 6}", ahj=ahj, coordinator=who, pv_kw_dc=size,
                         utility=("PGE", "SCE", "SDGE")[i % 3], stage=("intake", "permitting", "pto", "design")[i % 4],
                         refs={"utility_part1": ("SUBMITTED", f"-{i}+1")} if i % 4 == 0 else {})
        Project.update(updated_at=stamp + dt.timedelta(minutes=i // 3),
                       ball_in_court=("us", "utility", "ahj", "customer", "none")[i % 5]).where(
            Project.id == p.id).execute()


SORTED_EXPORTS = [{}, {"dir": "asc"}, {"q": "customer"}, {"utility": "SCE"}, {"q": "hyperlink", "sort": "size"}] + [
    {"sort": s, "dir": d} for s in ("utility", "ahj", "size", "stage", "ball", "coordinator", "customer", "flagged")
    for d in ("asc", "desc")]


def test_export_rows_equal_the_offset_export_for_every_sort(maria, seeded_desk, monkeypatch):
    from werkzeug.datastructures import MultiDict
    from models import pipeline
    monkeypatch.setattr(pipeline, "EXPORT_CHUNK", 5)  # many chunks, boundaries inside runs of equal keys
    for args in SORTED_EXPORTS:
        resp = maria.get("/projects/export.csv", query_string=args)
        body = resp.get_data(as_text=True)
        assert body == _old_export(pipeline.PipelineFilter.from_args(MultiDict(args))), args
        assert body.count("\n") == 1 + pipeline.count(pipeline.PipelineFilter.from_args(MultiDict(args))), args
    assert "'=HYPERLINK" in body and "'-0+1" in maria.get("/projects/export.csv").get_data(as_text=True)


def test_export_streams_a_chunk_before_reading_the_next(maria, seeded_desk, monkeypatch):
    from models import pipeline
    monkeypatch.setattr(pipeline, "EXPORT_CHUNK", 10)
    with QueryCounter(proxy.obj) as counter:
        resp = maria.get("/projects/export.csv?sort=ahj&dir=desc", buffered=False)
        assert resp.is_streamed
        chunks = iter(resp.response)
        header = next(chunks)
        before_rows = counter.count
        first = next(chunks)
        after_first = counter.count
        rest = b"".join(chunks)
        resp.close()
    assert header.startswith(b"external_id") and header.count(b"\n") == 1
    assert first.count(b"\n") == 10  # one chunk of rows ...
    assert after_first - before_rows == 2  # ... from one query of projects and one of their references
    assert (first + rest).count(b"\n") == 53
    # 41 rows with an AHJ (4 more chunks, the last of one row), then 12 without (2 chunks), each with its references
    assert counter.count - after_first == 2 * (4 + 2)


def test_connections_go_back_after_every_request(db, users):
    from app import create_app
    from models.base import is_postgres
    make_project()
    pooled_app = create_app(overrides(database_pool_size=10))  # as production runs (the suite runs unpooled)
    database = proxy.obj
    try:
        maria = login(pooled_app.test_client(), users["maria"])
        for i in range(200):
            path = ("/projects", "/projects?q=customer", "/projects/export.csv", "/healthz")[i % 4]
            assert maria.get(path, headers=HX).status_code == 200
            assert database.is_closed()
        if is_postgres():
            assert database._in_use == {} and len(database._connections) <= 1
            database.connect()
            alive = database.execute_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                         ).fetchone()[0]
            database.close()
            assert alive <= 3  # this one, and at most the test run's in-process worker's
    finally:
        if is_postgres():
            database.close_all()
        proxy.initialize(db)
        db.connect(reuse_if_open=True)
