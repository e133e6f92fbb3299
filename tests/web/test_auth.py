"""Login, logout, guarded pages, CSRF and security headers."""
from __future__ import annotations

from app import create_app
from tests.conftest import login, overrides


def test_every_page_but_login_requires_a_user(client, users):
    for path in ("/", "/projects", "/projects/export.csv", "/flagged", "/imports/new", "/projects/new"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"], path
    assert client.get("/login").status_code == 200


def test_login_wrong_password_keeps_email_and_says_why(client, users):
    resp = client.post("/login", data={"email": "maria@example.com", "password": "nope"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 401 and "Email or password is wrong" in body and 'value="maria@example.com"' in body


def test_login_redirects_to_next_but_never_off_site(client, users):
    resp = client.post("/login?next=/flagged", data={"email": "maria@example.com", "password": "correct-horse-battery"})
    assert resp.headers["Location"] == "/flagged"
    client.post("/logout")
    resp = client.post("/login?next=//evil.example/x", data={"email": "maria@example.com",
                                                             "password": "correct-horse-battery"})
    assert resp.headers["Location"] == "/projects"


def test_logout_ends_the_session(client, users):
    login(client, users["maria"])
    assert client.get("/projects").status_code == 200
    client.post("/logout")
    assert client.get("/projects").status_code == 302


def test_deactivated_user_is_signed_out(client, users):
    login(client, users["maria"])
    users["maria"].active = False
    users["maria"].save()
    assert client.get("/projects").status_code == 302


def test_coordinators_cannot_use_lead_pages(client, users):
    login(client, users["maria"])
    assert client.get("/imports/new").status_code == 403


def test_csrf_is_enforced_on_posts(db, users):
    app = create_app(overrides(WTF_CSRF_ENABLED=True))
    client = app.test_client()
    resp = client.post("/login", data={"email": "maria@example.com", "password": "correct-horse-battery"})
    assert resp.status_code == 400 and "Form expired" in resp.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    resp = client.post("/login", data={"email": "maria@example.com", "password": "correct-horse-battery",
                                       "csrf_token": token})
    assert resp.status_code == 303
    # htmx sends the token as a header (set on <body hx-headers>)
    body = client.get("/projects").get_data(as_text=True)
    assert '"X-CSRFToken": "' in body
    resp = client.post("/projects/1/notes", data={"body": "x"})
    assert resp.status_code == 400


def test_security_headers_and_cookie_flags(client, users):
    resp = client.post("/login", data={"email": "maria@example.com", "password": "correct-horse-battery"})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/projects")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_production_cookies_are_secure(db):
    app = create_app(overrides(cookie_secure=True))
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_htmx_request_after_logout_redirects_the_browser(client, users):
    resp = client.get("/projects?q=x", headers={"HX-Request": "true",
                                                "HX-Current-URL": "http://desk.example/projects/7?tab=1"})
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == "/login?next=/projects/7?tab%3D1"
    assert not resp.get_data()
