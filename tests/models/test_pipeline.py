"""Pipeline filtering, search, sorting, counts and paging, straight on the models."""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

from models import pipeline
from tests.factories import make_project


def F(**args):
    return pipeline.PipelineFilter.from_args(MultiDict(args))


def ids(f):
    return [p.external_id for p in pipeline.page(f).rows]


def test_search_matches_name_email_phone_address_id_and_references(db, users):
    make_project(external_id="A1", customer_name="Olivia Morrison", customer_email="liv@example.net",
                 customer_phone="+16025550142", street="12 Canyon Rd", refs={"utility_part1": ("SUBMITTED", "SCE-INT-500005417")})
    make_project(external_id="B2", customer_name="Noah Patel", refs={"ahj_permit": ("SUBMITTED", "B26-77123")})
    assert ids(F(q="morrison")) == ["A1"]
    assert ids(F(q="LIV@EXAMPLE")) == ["A1"]
    assert ids(F(q="(602) 555-0142")) == ["A1"]
    assert ids(F(q="canyon")) == ["A1"]
    assert ids(F(q="sce-int-5000")) == ["A1"]
    assert ids(F(q="b26-77123")) == ["B2"]
    assert ids(F(q="noah patel")) == ["B2"]
    assert ids(F(q="noah morrison")) == []


def test_filters_combine_and_counts_ignore_only_the_stage_filter(db, users):
    maria = users["maria"]
    make_project(external_id="A", stage="permitting", coordinator=maria, utility="SCE", product_type="pv_battery")
    make_project(external_id="B", stage="permitting", utility="PGE")
    make_project(external_id="C", stage="pto", coordinator=maria, utility="SCE")
    make_project(external_id="D", stage="install", refs={"utility_part1": ("DEFICIENT", "X-1")})
    assert ids(F(utility="SCE", sort="external_id", dir="asc")) == ["A", "C"]
    assert ids(F(coordinator=str(maria.id), stage="permitting")) == ["A"]
    assert ids(F(coordinator="none", sort="external_id", dir="asc")) == ["B", "D"]
    assert ids(F(product="pv_battery")) == ["A"]
    assert ids(F(attention="1")) == ["D"]
    assert ids(F(ball="us", attention="1")) == ["D"]
    counts = pipeline.stage_counts(F(utility="SCE", stage="pto"))
    assert counts["permitting"] == 1 and counts["pto"] == 1 and sum(counts.values()) == 2


def test_sorting_by_each_column_and_bad_input_falls_back(db, users):
    make_project(external_id="Z9", customer_name="Aaron", pv_kw_dc=3.0)
    make_project(external_id="A1", customer_name="Zoe", pv_kw_dc=9.0)
    assert ids(F(sort="customer", dir="asc")) == ["Z9", "A1"]
    assert ids(F(sort="size", dir="desc")) == ["A1", "Z9"]
    for key in pipeline.SORTS:
        assert len(ids(F(sort=key))) == 2
    f = F(sort="drop table", dir="sideways", page="-4", per_page="9999", stage="nope", ahj="1 or 1=1")
    assert (f.sort, f.dir, f.page, f.per_page, f.stage, f.ahj) == ("updated", "desc", 1, 50, "", "")


def test_paging_clamps_to_the_last_page_and_windows(db, users):
    for n in range(30):
        make_project(external_id=f"P{n:03d}")
    page = pipeline.page(F(per_page="25", page="7", sort="external_id", dir="asc"))
    assert page.page == 2 and page.pages == 2 and page.first == 26 and page.last == 30
    assert [p.external_id for p in page.rows][0] == "P025"
    big = pipeline.Page(rows=[], total=1000, page=10, per_page=25)
    assert big.window() == [1, None, 8, 9, 10, 11, 12, None, 40]


def test_args_omit_defaults_for_short_urls():
    f = F(q="smith", stage="pto")
    assert f.args() == {"q": "smith", "stage": "pto"}
    assert f.args(page=3) == {"q": "smith", "stage": "pto", "page": 3}


def test_phone_search_in_any_format(db, users):
    make_project(external_id="PH", customer_phone="+14155550123")
    for q in ("(415) 555-0123", "415-555-0123", "+14155550123", "+1 415 555 0123", "1-415-555-0123", "5550123"):
        assert ids(F(q=q)) == ["PH"], q


def test_stage_and_ball_sort_in_pipeline_order_and_unknown_utility_is_ignored(db, users):
    make_project(external_id="P", stage="pto")
    make_project(external_id="I", stage="intake")
    make_project(external_id="X", stage="inspection")
    assert ids(F(sort="stage", dir="asc")) == ["I", "X", "P"]
    f = F(utility="nope")
    assert f.utility == "" and len(ids(f)) == 3
    assert F(utility="sce").utility == "SCE"
