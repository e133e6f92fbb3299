"""The JSON API through the test client: tokens, permissions, CRUD with their timeline, errors, the feed, the limit."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from models import ApiToken, Application, Event, Project
from models.base import utcnow
from tests.conftest import login, overrides
from tests.factories import make_project


@pytest.fixture
def secrets(users):
    """One API token per demo user: name -> secret."""
    return {name: ApiToken.issue(user, "tests")[1] for name, user in users.items()}


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def error_of(resp) -> dict:
    assert resp.is_json, resp.get_data(as_text=True)[:300]
    return resp.get_json()["error"]


def test_requests_without_a_valid_token_are_refused_in_json(client, users, secrets):
    resp = client.get("/api/v1/projects")
    assert resp.status_code == 401 and error_of(resp)["code"] == "token_missing"
    assert "Bearer" in error_of(resp)["message"] and resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = client.get("/api/v1/projects", headers=bearer("ixd_not-a-real-token"))
    assert resp.status_code == 401 and error_of(resp) == {"code": "token_invalid",
                                                          "message": "this API token is not valid"}
    assert client.get("/api/v1/projects", headers={"Authorization": "Basic bWFyaWE6eA=="}).status_code == 401
    ApiToken.find(secrets["maria"]).revoke()
    resp = client.get("/api/v1/projects", headers=bearer(secrets["maria"]))
    assert resp.status_code == 401 and error_of(resp)["code"] == "token_revoked"
    users["james"].active = False
    users["james"].save()
    resp = client.get("/api/v1/projects", headers=bearer(secrets["james"]))
    assert resp.status_code == 401 and error_of(resp)["code"] == "user_inactive"
    # A browser session is no API credential, and the API never redirects to the login page.
    login(client, users["lead"])
    resp = client.get("/api/v1/projects")
    assert resp.status_code == 401 and error_of(resp)["code"] == "token_missing"


def test_unknown_endpoints_and_methods_answer_json(client, secrets):
    resp = client.get("/api/v1/nothing/here", headers=bearer(secrets["maria"]))
    assert resp.status_code == 404 and error_of(resp)["code"] == "not_found"
    resp = client.delete("/api/v1/projects", headers=bearer(secrets["maria"]))
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, POST"
    resp = client.get("/api/v1/projects/NOPE", headers=bearer(secrets["maria"]))
    assert resp.status_code == 404 and error_of(resp)["message"] == "no project with external_id 'NOPE'"
    resp = client.post("/api/v1/projects", data="customer_name=x", headers=bearer(secrets["lead"]),
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and "JSON object" in error_of(resp)["message"]


def test_token_from_the_preferences_page_is_shown_once_then_revoked(client, users):
    login(client, users["maria"])
    assert client.post("/me/tokens", data={"name": "  "}).status_code == 422
    page = client.post("/me/tokens", data={"name": "CRM sync"})
    body = page.get_data(as_text=True)
    secret = body.split('aria-label="New API token"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert page.status_code == 200 and secret.startswith("ixd_") and page.headers["Cache-Control"] == "no-store"
    token = ApiToken.get(ApiToken.user == users["maria"])
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in token.hint
    assert secret not in client.get("/me").get_data(as_text=True)  # shown once
    assert client.get("/api/v1/projects", headers=bearer(secret)).status_code == 200
    assert ApiToken.get_by_id(token.id).last_used_at is not None
    assert "never" not in client.get("/me").get_data(as_text=True)
    resp = client.post(f"/me/tokens/{token.id}/revoke")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/me#api-tokens")
    assert client.get("/api/v1/projects", headers=bearer(secret)).status_code == 401
    client.post("/logout")
    login(client, users["james"])
    assert client.post(f"/me/tokens/{token.id}/revoke").status_code == 404  # not his to revoke


def test_cli_issues_a_token(app, users):
    result = app.test_cli_runner().invoke(args=["users", "token", "lead@example.com", "--name", "nightly export"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert ApiToken.find(secret).user_id == users["lead"].id and ApiToken.find(secret).name == "nightly export"
    missing = app.test_cli_runner().invoke(args=["users", "token", "ghost@example.com", "--name", "x"])
    assert missing.exit_code == 1 and "no active user" in missing.output


def test_list_filters_and_pages_like_the_pipeline(client, users, secrets):
    for n in range(5):
        make_project(external_id=f"L{n}", customer_name=f"Lane {n}", stage="permitting" if n < 3 else "design",
                     utility="SCE" if n == 4 else "PGE")
    make_project(external_id="M1", customer_name="Mona Morrison")
    h = bearer(secrets["maria"])
    page = client.get("/api/v1/projects?stage=permitting&per_page=2&page=2&sort=external_id&dir=asc",
                      headers=h).get_json()
    assert [p["external_id"] for p in page["projects"]] == ["L2"]
    assert (page["total"], page["pages"], page["page"], page["per_page"]) == (3, 2, 2, 2)
    assert [p["external_id"] for p in client.get("/api/v1/projects?utility=sce", headers=h).get_json()["projects"]] \
        == ["L4"]
    found = client.get("/api/v1/projects?q=morrison", headers=h).get_json()["projects"]
    assert [p["external_id"] for p in found] == ["M1"] and found[0]["utility"] == "PGE"
    Project.update(updated_at=utcnow() - dt.timedelta(days=3)).where(Project.external_id != "L0").execute()
    since = (utcnow() - dt.timedelta(days=1)).isoformat() + "Z"
    recent = client.get("/api/v1/projects", query_string={"updated_since": since}, headers=h).get_json()
    assert [p["external_id"] for p in recent["projects"]] == ["L0"]
    resp = client.get("/api/v1/projects?stage=nowhere&per_page=500&updated_since=yesterday", headers=h)
    assert resp.status_code == 422 and set(error_of(resp)["fields"]) == {"stage", "per_page", "updated_since"}


def test_get_a_project_with_its_applications(client, users, secrets):
    p = make_project(external_id="G1", coordinator=users["james"], refs={"utility_part1": ("SUBMITTED", "PGE-77")})
    got = client.get("/api/v1/projects/G1", headers=bearer(secrets["maria"])).get_json()["project"]
    assert got["id"] == p.id and got["coordinator"]["email"] == "james@example.com"
    assert got["applications"][0]["reference_number"] == "PGE-77" and got["applications"][0]["status"] == "SUBMITTED"
    assert "DEFICIENT" in got["applications"][0]["allowed_next"]


def test_create_project_validates_assigns_and_records(client, users, secrets):
    new = {"external_id": "API-1", "customer_name": "Ana Api", "customer_email": "Ana@Example.net",
           "utility": "pg&e", "state": "CA", "product_type": "pv", "pv_kw_dc": 7.6, "pv_kw_ac": 6,
           "export_limited": False, "coordinator": "james@example.com"}
    resp = client.post("/api/v1/projects", json=new, headers=bearer(secrets["lead"]))
    assert resp.status_code == 201, resp.get_json()
    assert resp.headers["Location"].endswith("/api/v1/projects/API-1")
    body = resp.get_json()["project"]
    assert (body["utility"], body["customer_email"], body["pv_kw_dc"], body["export_limited"]) == \
        ("PGE", "ana@example.net", 7.6, False)
    project = Project.get(Project.external_id == "API-1")
    assert project.coordinator_id == users["james"].id
    assert Event.get(Event.project == project, Event.kind == "create").actor_id == users["lead"].id
    # a coordinator creates as on the web: the project is theirs; assigning it elsewhere is a lead's job
    own = client.post("/api/v1/projects", json={"external_id": "API-2", "customer_name": "Bo", "utility": "SCE"},
                      headers=bearer(secrets["maria"]))
    assert own.status_code == 201 and own.get_json()["project"]["coordinator"]["email"] == "maria@example.com"
    resp = client.post("/api/v1/projects", json={**new, "external_id": "API-3"}, headers=bearer(secrets["maria"]))
    assert resp.status_code == 403 and error_of(resp) == {
        "code": "forbidden", "message": "only leads and admins assign projects to coordinators"}
    assert not Project.select().where(Project.external_id == "API-3").exists()


def test_create_project_422_names_each_field(client, users, secrets):
    resp = client.post("/api/v1/projects", json={
        "external_id": "API-1", "customer_name": "", "utility": "Nowhere Power", "customer_email": "not-an-email",
        "pv_kw_dc": "7,6", "colour": "blue", "state": ["CA"]}, headers=bearer(secrets["lead"]))
    error = error_of(resp)
    assert resp.status_code == 422 and error["code"] == "invalid"
    assert error["fields"] == {"colour": "is not a field you can set",
                               "state": "must be a string, number, true/false or null"}
    resp = client.post("/api/v1/projects", json={
        "external_id": "API-1", "customer_name": "", "utility": "Nowhere Power", "customer_email": "not-an-email",
        "pv_kw_dc": "7,6"}, headers=bearer(secrets["lead"]))
    fields = error_of(resp)["fields"]
    assert fields["customer_name"] == "is required"
    assert fields["customer_email"] == "'not-an-email' is not a valid email address"
    assert fields["utility"].startswith("unknown utility 'Nowhere Power'")
    assert fields["pv_kw_dc"] == "'7,6' is not a number; use a point for decimals (7.6)"
    make_project(external_id="DUP")
    resp = client.post("/api/v1/projects", json={"external_id": "DUP", "customer_name": "X", "utility": "PGE"},
                       headers=bearer(secrets["lead"]))
    assert resp.status_code == 422 and error_of(resp)["fields"] == {"external_id": "project DUP already exists"}
    assert Project.select().count() == 1


def test_update_touches_only_what_was_sent_and_follows_edit_rights(client, users, secrets):
    mine = make_project(external_id="U1", coordinator=users["maria"], city="Oakland", customer_name="Ana")
    resp = client.patch("/api/v1/projects/U1", json={"city": "Berkeley", "zip": "94704", "pv_kw_dc": 8},
                        headers=bearer(secrets["maria"]))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["changed"] == ["city", "pv_kw_dc", "zip"]
    saved = Project.get_by_id(mine.id)
    assert (saved.city, saved.zip, saved.pv_kw_dc, saved.customer_name) == ("Berkeley", "94704", 8.0, "Ana")
    change = Event.get(Event.project == mine, Event.kind == "change")
    assert change.actor_id == users["maria"].id and change.data["city"] == ["Oakland", "Berkeley"]
    # the web's cross-field checks hold on a partial update too
    resp = client.patch("/api/v1/projects/U1", json={"state": "AZ"}, headers=bearer(secrets["maria"]))
    assert resp.status_code == 422 and "serves CA" in error_of(resp)["fields"]["utility"]
    theirs = make_project(external_id="U2", coordinator=users["james"])
    resp = client.patch("/api/v1/projects/U2", json={"city": "Fresno"}, headers=bearer(secrets["maria"]))
    assert resp.status_code == 403 and error_of(resp)["code"] == "forbidden"
    assert "assigned to another coordinator" in error_of(resp)["message"]
    resp = client.patch("/api/v1/projects/U1", json={"coordinator": "james@example.com"},
                        headers=bearer(secrets["maria"]))
    assert resp.status_code == 403 and Project.get_by_id(mine.id).coordinator_id == users["maria"].id
    resp = client.patch("/api/v1/projects/U2", json={"coordinator": users["maria"].id, "stage": "design"},
                        headers=bearer(secrets["lead"]))
    assert resp.status_code == 200 and resp.get_json()["changed"] == ["coordinator", "stage"]
    assert Project.get_by_id(theirs.id).coordinator_id == users["maria"].id
    resp = client.patch("/api/v1/projects/U2", json={"external_id": "U3"}, headers=bearer(secrets["lead"]))
    assert resp.status_code == 422 and error_of(resp)["fields"] == {"external_id": "is not a field you can set"}


def test_applications_filed_and_moved_with_conflicts_as_409(client, users, secrets):
    make_project(external_id="A1", coordinator=users["maria"])
    h = bearer(secrets["maria"])
    resp = client.post("/api/v1/projects/A1/applications", json={"kind": "utility_part1"}, headers=h)
    assert resp.status_code == 201 and resp.get_json()["application"]["status"] == "DRAFT"
    app_id = resp.get_json()["application"]["id"]
    assert client.post("/api/v1/projects/A1/applications", json={"kind": "rocket"}, headers=h).status_code == 422
    resp = client.post(f"/api/v1/applications/{app_id}/transition",
                       json={"to": "SUBMITTED", "from": "DRAFT", "reference": "PGE-INT-9", "sent": "Part 1 form"},
                       headers=h)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["application"]["status"] == "SUBMITTED" and resp.get_json()["move"]["from"] == "DRAFT"
    app = Application.get_by_id(app_id)
    assert (app.status, app.reference_number) == ("SUBMITTED", "PGE-INT-9")
    event = Event.get(Event.application == app, Event.kind == "status")
    assert event.actor_id == users["maria"].id and event.data["to"] == "SUBMITTED"
    # a client acting on what it read before someone else moved the application loses, loudly
    resp = client.post(f"/api/v1/applications/{app_id}/transition", json={"to": "SUBMITTED", "from": "DRAFT"},
                       headers=h)
    assert resp.status_code == 409 and error_of(resp)["code"] == "stale_status" and error_of(resp)["status"] == \
        "SUBMITTED"
    resp = client.post(f"/api/v1/applications/{app_id}/transition", json={"to": "AGREEMENT_EXECUTED"}, headers=h)
    assert resp.status_code == 409 and error_of(resp)["code"] == "transition_refused"
    assert "DEFICIENT" in error_of(resp)["allowed_next"]
    resp = client.post(f"/api/v1/applications/{app_id}/transition", json={"to": "WITHDRAWN"}, headers=h)
    assert resp.status_code == 409 and "say why" in error_of(resp)["message"]
    resp = client.post(f"/api/v1/applications/{app_id}/transition", json={"to": "SOMEWHERE"}, headers=h)
    assert resp.status_code == 422 and "to" in error_of(resp)["fields"]
    resp = client.post(f"/api/v1/applications/{app_id}/transition",
                       json={"to": "DEFICIENT", "deficiencies": ["Single-line diagram unsigned"]}, headers=h)
    assert resp.status_code == 200 and Application.get_by_id(app_id).status == "DEFICIENT"
    listed = client.get("/api/v1/projects/A1/applications", headers=h).get_json()["applications"]
    assert [(a["kind"], a["status"]) for a in listed] == [("utility_part1", "DEFICIENT")]
    # someone else's project: reading is fine, moving is not
    make_project(external_id="A2", coordinator=users["james"], refs={"ahj_permit": ("DRAFT", None)})
    other = Application.get(Application.kind == "ahj_permit")
    assert client.get(f"/api/v1/applications/{other.id}", headers=h).status_code == 200
    resp = client.post(f"/api/v1/applications/{other.id}/transition", json={"to": "SUBMITTED"}, headers=h)
    assert resp.status_code == 403 and Application.get_by_id(other.id).status == "DRAFT"
    assert client.post("/api/v1/projects/A2/applications", json={"kind": "incentive"}, headers=h).status_code == 403


def test_notes_anyone_may_write_listed_newest_first(client, users, secrets):
    make_project(external_id="N1", coordinator=users["james"])
    h = bearer(secrets["maria"])
    resp = client.post("/api/v1/projects/N1/notes", json={"body": "Called PG&E, ticket 4411"}, headers=h)
    assert resp.status_code == 201 and resp.get_json()["note"]["author"]["email"] == "maria@example.com"
    client.post("/api/v1/projects/N1/notes", json={"body": "Second"}, headers=h)
    resp = client.post("/api/v1/projects/N1/notes", json={"body": "   "}, headers=h)
    assert resp.status_code == 422 and error_of(resp)["fields"] == {"body": "a note cannot be empty"}
    listed = client.get("/api/v1/projects/N1/notes?per_page=1", headers=h).get_json()
    assert [n["body"] for n in listed["notes"]] == ["Second"] and listed["total"] == 2
    assert Event.select().where(Event.kind == "note").count() == 2


def test_events_feed_pages_with_a_cursor_and_holds_back_the_newest(client, users, secrets):
    p = make_project(external_id="E1")
    for n in range(5):
        p.add_note(f"note {n}", users["maria"])
    Event.update(created_at=utcnow() - dt.timedelta(minutes=1)).execute()
    h = bearer(secrets["james"])
    first = client.get("/api/v1/events?limit=2", headers=h).get_json()
    assert [e["body"] for e in first["events"]] == ["note 0", "note 1"] and first["has_more"] is True
    assert first["events"][0]["project"] == "E1" and first["events"][0]["actor"]["name"] == "Maria Ortiz"
    rest = client.get(f"/api/v1/events?since={first['next_cursor']}&limit=10", headers=h).get_json()
    assert [e["body"] for e in rest["events"]] == ["note 2", "note 3", "note 4"] and rest["has_more"] is False
    p.add_note("just now", users["maria"])  # still settling: another transaction may hold an earlier id
    again = client.get(f"/api/v1/events?since={rest['next_cursor']}", headers=h).get_json()
    assert again == {"events": [], "next_cursor": rest["next_cursor"], "has_more": False}
    assert client.get("/api/v1/events?since=-1", headers=h).status_code == 422


def test_rate_limit_answers_429_with_retry_after(db, users, secrets):
    from app import create_app
    client = create_app(overrides(api_rate_limit=3)).test_client()
    h = bearer(secrets["maria"])
    seen = [client.get("/api/v1/events", headers=h) for _ in range(3)]
    assert [r.headers["X-RateLimit-Remaining"] for r in seen] == ["2", "1", "0"]
    resp = client.get("/api/v1/events", headers=h)
    assert resp.status_code == 429 and error_of(resp)["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert client.get("/api/v1/events", headers=bearer(secrets["james"])).status_code == 200  # per token


def test_the_count_starts_over_each_minute_and_keeps_no_history(db, users):
    token, _ = ApiToken.issue(users["maria"], "counter")
    minute = dt.datetime(2026, 3, 2, 17, 4, 0)
    assert [token.count_request(2, minute + dt.timedelta(seconds=s)).used for s in (1, 20, 59)] == [1, 2, 3]
    late = token.count_request(2, minute + dt.timedelta(seconds=59, microseconds=500))
    assert not late.allowed and late.remaining == 0 and late.reset_in == 1
    fresh = token.count_request(2, minute + dt.timedelta(minutes=1, seconds=5))
    assert (fresh.used, fresh.allowed, fresh.reset_in) == (1, True, 55)
    from models import ApiRequestCount
    assert ApiRequestCount.select().count() == 1  # the old window is gone
