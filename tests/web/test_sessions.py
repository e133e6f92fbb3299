"""Sessions live on the server: the cookie is a random id, and signing out, a password change or a
deactivation ends them for every copy of the cookie."""
from __future__ import annotations

import re

from app import create_app
from models import ApiToken, User, WebSession
from models.sessions import digest
from tests.conftest import login, overrides

COOKIE = "ixdesk_session"


def cookie(client) -> str:
    found = client.get_cookie(COOKIE)
    return found.value if found else ""


def copy_of(app, value: str):
    """Another browser holding a copy of the cookie value."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def signed_in(client) -> bool:
    return client.get("/projects").status_code == 200


def test_the_cookie_carries_a_random_id_and_the_database_only_its_hash(app, client, users):
    maria = users["maria"]
    login(client, maria)
    value = cookie(client)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value  # 32 random bytes, nothing else
    assert maria.password_hash[-16:] not in value and str(maria.id) != value
    row = WebSession.get(WebSession.user == maria)
    assert row.key_hash == digest(value) and value not in row.data
    # A second sign-in is a different id: the cookie a browser had before signing in is worth nothing after.
    login(client, maria)
    assert cookie(client) != value and not signed_in(copy_of(app, value))


def test_sign_out_ends_the_session_for_a_copied_cookie_too(app, client, users):
    login(client, users["maria"])
    stolen = copy_of(app, cookie(client))
    assert signed_in(stolen)
    resp = client.post("/logout", follow_redirects=True)
    assert "You are signed out." in resp.get_data(as_text=True)
    assert not signed_in(stolen) and not signed_in(client)
    assert WebSession.get(WebSession.user == users["maria"]).ended_why == "signed out"


def test_a_password_change_ends_the_other_sessions_and_by_default_the_api_tokens(app, client, users):
    maria = users["maria"]
    laptop, phone = login(app.test_client(), maria), login(app.test_client(), maria)
    login(client, maria)
    ApiToken.issue(maria, "CRM sync")
    resp = client.post("/me", data={"form": "password", "current": "correct-horse-battery", "new": "a-new-password-2026",
                                    "confirm": "a-new-password-2026", "revoke_tokens": "1"}, follow_redirects=True)
    assert "2 other sessions signed out, 1 API token revoked." in resp.get_data(as_text=True)
    assert signed_in(client) and not signed_in(laptop) and not signed_in(phone)
    assert not ApiToken.get(ApiToken.user == maria).active


def test_unticking_keeps_the_api_tokens_on_a_password_change(client, users):
    maria = users["maria"]
    login(client, maria)
    assert 'name="revoke_tokens" value="1" checked' in client.get("/me").get_data(as_text=True)  # ticked by default
    ApiToken.issue(maria, "CRM sync")
    client.post("/me", data={"form": "password", "current": "correct-horse-battery", "new": "a-new-password-2026",
                             "confirm": "a-new-password-2026"})
    assert ApiToken.get(ApiToken.user == maria).active


def test_me_lists_sessions_and_signs_out_one(app, client, users):
    maria = users["maria"]
    other = app.test_client()
    other.post("/login", data={"email": maria.email, "password": "correct-horse-battery"},
               headers={"User-Agent": "PhoneBrowser/1.0"})
    login(client, maria)
    page = client.get("/me").get_data(as_text=True)
    assert "PhoneBrowser/1.0" in page and "this browser" in page and page.count('<button type="submit">Sign out</button>') == 2
    phone = WebSession.get(WebSession.user_agent == "PhoneBrowser/1.0")
    assert client.post(f"/me/sessions/{phone.id}/end").status_code == 303
    assert not signed_in(other) and signed_in(client)
    # Nobody ends another person's session by its number.
    james = login(app.test_client(), users["james"])
    mine = WebSession.get((WebSession.user == maria) & WebSession.ended_at.is_null())
    assert james.post(f"/me/sessions/{mine.id}/end").status_code == 404 and signed_in(client)


def test_sign_out_all_other_sessions(app, client, users):
    maria = users["maria"]
    others = [login(app.test_client(), maria) for _ in range(3)]
    login(client, maria)
    resp = client.post("/me/sessions/end-others", follow_redirects=True)
    assert "3 other sessions signed out." in resp.get_data(as_text=True)
    assert signed_in(client) and not any(signed_in(o) for o in others)


def test_deactivation_by_an_admin_ends_every_session(app, client, users):
    maria = users["maria"]
    sessions = [login(app.test_client(), maria) for _ in range(2)]
    login(client, users["admin"])
    resp = client.post(f"/admin/users/{maria.id}/deactivate", follow_redirects=True)
    assert "Maria Ortiz deactivated; 2 session(s) signed out." in resp.get_data(as_text=True)
    assert not any(signed_in(s) for s in sessions)
    assert not User.get_by_id(maria.id).active
    assert app.test_client().post("/login", data={"email": maria.email,
                                                  "password": "correct-horse-battery"}).status_code == 401
    # Only admins manage people.
    lead = login(app.test_client(), users["lead"])
    assert lead.post(f"/admin/users/{users['james'].id}/deactivate").status_code == 403
    assert User.get_by_id(users["james"].id).active


def test_deactivation_from_the_command_line_ends_every_session(app, users):
    maria = users["maria"]
    browser = login(app.test_client(), maria)
    result = app.test_cli_runner().invoke(args=["users", "deactivate", maria.email])
    assert result.exit_code == 0 and "1 session(s) signed out" in result.output
    assert not signed_in(browser)


def test_sessions_are_shared_by_every_web_process(db, users):
    """Two app instances (two gunicorn workers) see the same sessions: a sign-out in one holds in the other."""
    one, two = create_app(overrides()), create_app(overrides())
    a = login(one.test_client(), users["maria"])
    b = copy_of(two, cookie(a))
    assert signed_in(b)
    a.post("/logout")
    assert not signed_in(b)


def test_an_idle_or_too_old_session_ends(app, client, users):
    import datetime as dt
    from models.base import utcnow
    login(client, users["maria"])
    WebSession.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    assert not signed_in(client)


def test_old_sessions_and_failed_sign_ins_are_pruned(app, client, users, worker):
    import datetime as dt
    from models import LoginFailure
    from models.base import utcnow
    from workers import actors
    from workers.broker import broker
    login(client, users["maria"])
    long_ago = utcnow() - dt.timedelta(days=50)  # expired 36 days ago: past the 30 days ended rows are kept
    old, _ = WebSession.begin(users["james"], {}, now=long_ago)
    anonymous, _ = WebSession.begin(None, {"csrf_token": "x"}, now=utcnow() - dt.timedelta(hours=3))
    LoginFailure.create(email="x@example.com", address="192.0.2.1", at=long_ago)
    LoginFailure.create(email="y@example.com", address="192.0.2.1")
    actors.prune_sign_ins.send()
    broker.join(actors.prune_sign_ins.queue_name)
    worker.join()
    assert [r.user_id for r in WebSession.select()] == [users["maria"].id] and signed_in(client)
    assert [f.email for f in LoginFailure.select()] == ["y@example.com"]


def test_a_browser_signed_out_elsewhere_is_told_why(app, client, users):
    maria = users["maria"]
    phone = app.test_client()
    phone.post("/login", data={"email": maria.email, "password": "correct-horse-battery"},
               headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                                      "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"})
    login(client, maria)
    page = client.get("/me").get_data(as_text=True)
    assert "Safari on iPhone" in page  # a device a person recognises, the full header in its title
    client.post("/me/sessions/end-others")
    resp = phone.get("/projects", follow_redirects=True)
    assert "You were signed out: signed out from another session. Sign in again." in resp.get_data(as_text=True)
    # Said once: the browser now holds a new (anonymous) session.
    assert "You were signed out" not in phone.get("/login").get_data(as_text=True)


def test_browsers_are_named_as_people_know_them():
    from models.sessions import describe_agent
    assert describe_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                          "Chrome/131.0.0.0 Safari/537.36") == "Chrome on Windows"
    assert describe_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                          "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0") == "Edge on Windows"
    assert describe_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0") \
        == "Firefox on macOS"
    assert describe_agent("curl/8.4.0") == "curl/8.4.0" and describe_agent("") == "unknown browser"


def test_people_pages_page_in_place(client, users):
    from tests.factories import make_user
    for i in range(55):
        make_user(f"person{i:02}@example.com", f"Person {i:02}")
    login(client, users["admin"])
    page = client.get("/admin/users").get_data(as_text=True)
    assert 'id="users-list" hx-target="this" hx-push-url="true"' in page and "1–50 of 59" in page
    second = client.get("/admin/users?page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "51–59 of 59" in second and "<html" not in second  # the list alone, swapped into its box
