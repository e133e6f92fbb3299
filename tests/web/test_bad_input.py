"""Malformed ids and numbers in URLs and forms answer with a clear status, never a 500."""
from __future__ import annotations

import pytest

from tests.conftest import login
from tests.factories import make_project

HX = {"HX-Request": "true"}
SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() is True for it, int() refuses it
HUGE = "99999999999999999999999"


@pytest.mark.parametrize("url", [
    f"/inbox?coordinator={SUPERSCRIPT_TWO}", f"/inbox?coordinator={HUGE}", f"/inbox/new?after={SUPERSCRIPT_TWO}",
    f"/dashboard?coordinator={SUPERSCRIPT_TWO}", f"/dashboard/drill?page={SUPERSCRIPT_TWO}",
    f"/inbox/{HUGE}", f"/projects/{HUGE}", f"/day?page={SUPERSCRIPT_TWO}", f"/projects?ahj={SUPERSCRIPT_TWO}",
])
def test_get_with_bad_numbers(client, users, url):
    login(client, users["lead"])
    assert client.get(url).status_code in (200, 404, 422)


def test_forms_with_bad_numbers(client, users):
    login(client, users["lead"])
    p = make_project()
    from inbox.intake import run_now
    from inbox.pipeline import Intake
    from inbox.store import store
    mail = run_now(store(b"From: a@b.example\r\nSubject: x\r\nMessage-ID: <bad-1@x>\r\n\r\nhi\r\n", "cli").mail, Intake())
    for path, data in ((f"/inbox/{mail.id}/assign", {"user": SUPERSCRIPT_TWO}),
                       (f"/inbox/{mail.id}/handled", {"version": SUPERSCRIPT_TWO}),
                       (f"/inbox/{mail.id}/link", {"project": SUPERSCRIPT_TWO}),
                       ("/inbox/bulk", {"ids": SUPERSCRIPT_TWO, "action": "handled"}),
                       (f"/projects/{p.id}/compose/send", {"reply_to": SUPERSCRIPT_TWO, "to": "a@b.example",
                                                          "subject": "s", "body": "b"})):
        assert client.post(path, data=data, headers=HX).status_code < 500, path
    assert client.get(f"/projects/{p.id}/compose?reply={SUPERSCRIPT_TWO}", headers=HX).status_code == 200


def test_api_answers_json_for_huge_ids(client, users):
    from models.api_tokens import ApiToken
    token = ApiToken.issue(users["lead"], "t")[1]
    resp = client.get(f"/api/v1/applications/{HUGE}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 404 and resp.is_json
    resp = client.get(f"/api/v1/events?since={SUPERSCRIPT_TWO}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 422 and resp.is_json


def _bearer(user) -> dict:
    from models.api_tokens import ApiToken
    return {"Authorization": f"Bearer {ApiToken.issue(user, 't')[1]}"}


def _facts_form(p, **changes) -> dict:
    form = {"customer_name": p.customer_name, "customer_email": p.customer_email, "customer_phone": "",
            "street": p.street, "city": p.city, "state": p.state, "zip": p.zip, "utility": "PGE",
            "utility_account": "", "ahj": "", "product_type": "pv", "pv_kw_dc": "7.2", "pv_kw_ac": "6",
            "battery_kwh": "", "program": "", "stage": "intake"}
    return {**form, **changes}


@pytest.mark.parametrize("headers", [HX, {}])
def test_an_empty_product_type_is_a_field_error_on_the_web(client, users, headers):
    login(client, users["lead"])
    p = make_project()
    resp = client.post(f"/projects/{p.id}", data=_facts_form(p, product_type="", city="Typed City"), headers=headers)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="err-product_type"' in body and 'value="Typed City"' in body
    resp = client.post("/projects/new", data={**_facts_form(p, product_type=""), "external_id": "NEW-1"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="err-product_type"' in body and 'value="NEW-1"' in body


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_null_or_empty_product_type_is_a_field_error_in_the_api(client, users, value):
    p = make_project(external_id="EXT-PT")
    resp = client.patch("/api/v1/projects/EXT-PT", json={"product_type": value}, headers=_bearer(users["lead"]))
    assert resp.status_code == 422 and resp.is_json and "product_type" in resp.get_json()["error"]["fields"]
    resp = client.post("/api/v1/projects", json={"external_id": "EXT-PT2", "customer_name": "A", "utility": "PGE",
                                                 "product_type": value}, headers=_bearer(users["lead"]))
    assert resp.status_code == 422 and "product_type" in resp.get_json()["error"]["fields"]
    assert p.product_type == "pv"


def test_an_ahj_name_with_a_nul_is_refused_every_time(client, users):
    login(client, users["lead"])
    p = make_project(external_id="EXT-NUL")
    for _ in range(2):
        resp = client.post(f"/projects/{p.id}", data=_facts_form(p, ahj="City of\x00 Oakland"), headers=HX)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 422 and 'id="err-ahj"' in body and "City of" in body
    for _ in range(2):
        resp = client.patch("/api/v1/projects/EXT-NUL", json={"ahj": "City of\x00 Oakland"},
                            headers=_bearer(users["lead"]))
        assert resp.status_code == 422 and "ahj" in resp.get_json()["error"]["fields"]
    from models import Ahj
    assert Ahj.select().count() == 0


@pytest.mark.parametrize("body", ["[" * 100_000, '{"customer_name": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                  '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_deeply_nested_json_is_a_400(client, users, body):
    make_project(external_id="EXT-DEEP")
    for method, path in (("post", "/api/v1/projects"), ("patch", "/api/v1/projects/EXT-DEEP"),
                         ("post", "/api/v1/projects/EXT-DEEP/notes")):
        resp = getattr(client, method)(path, data=body, content_type="application/json",
                                       headers=_bearer(users["lead"]))
        assert resp.status_code in (400, 422) and resp.is_json, (path, resp.status_code)


@pytest.mark.parametrize("value", [[], ["utility_part1"], {}, {"kind": "utility_part1"}])
def test_a_list_or_object_where_a_string_belongs_names_the_field(client, users, value):
    p = make_project(external_id="EXT-SHAPE")
    auth = _bearer(users["lead"])
    resp = client.post("/api/v1/projects/EXT-SHAPE/applications", json={"kind": value}, headers=auth)
    assert resp.status_code == 422 and "kind" in resp.get_json()["error"]["fields"]
    resp = client.post("/api/v1/projects/EXT-SHAPE/notes", json={"body": value}, headers=auth)
    assert resp.status_code == 422 and "body" in resp.get_json()["error"]["fields"]
    resp = client.patch("/api/v1/projects/EXT-SHAPE", json={"customer_name": value}, headers=auth)
    assert resp.status_code == 422 and "customer_name" in resp.get_json()["error"]["fields"]
    from models import Application
    app = Application.create(project=p, kind="utility_part1", status="DRAFT")
    for name in ("to", "why", "on", "reference", "by_notice"):
        resp = client.post(f"/api/v1/applications/{app.id}/transition", json={"to": "SUBMITTED", name: value},
                           headers=auth)
        assert resp.status_code == 422 and name in resp.get_json()["error"]["fields"], name
    resp = client.post(f"/api/v1/applications/{app.id}/reopen", json={"why": value}, headers=auth)
    assert resp.status_code == 422 and "why" in resp.get_json()["error"]["fields"]
