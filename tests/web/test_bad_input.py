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
