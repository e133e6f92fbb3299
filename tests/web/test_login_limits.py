"""Failed sign-ins slow further tries down, by account and by client address, shared by every web process;
nothing locks an account for good, and a stranger's failures do not keep its owner out."""
from __future__ import annotations

import datetime as dt
import re

from app import create_app
from models import LoginFailure
from models import login_limits
from models.base import utcnow
from tests.conftest import overrides

RIGHT = "correct-horse-battery"


def attempt(client, email, password, address=None, **headers):
    if address:
        headers["X-Forwarded-For"] = address
    return client.post("/login", data={"email": email, "password": password}, headers=headers)


def age_failures(seconds: float) -> None:
    """Move every recorded failure into the past, as time passing would."""
    for f in LoginFailure.select():
        LoginFailure.update(at=f.at - dt.timedelta(seconds=seconds)).where(LoginFailure.id == f.id).execute()


def test_the_delay_grows_and_is_bounded():
    assert [login_limits.delay_after(n).total_seconds() for n in (0, 4, 5, 6, 7, 8, 9, 10, 50)] == \
        [0, 0, 30, 60, 120, 240, 480, 900, 900]


def test_a_hundred_wrong_passwords_then_the_right_one_is_answered_429(client, users):
    email = users["maria"].email
    answers = [attempt(client, email, f"wrong-{i}").status_code for i in range(100)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    resp = attempt(client, email, RIGHT)
    assert resp.status_code == 429 and 1 <= int(resp.headers["Retry-After"]) <= 30
    assert re.search(r"Try again in [0-9]+ seconds", resp.get_data(as_text=True))
    # Refused tries are not even checked, so they do not count: the delay is that of the 5th failure.
    assert LoginFailure.select().count() == 5
    age_failures(31)
    assert attempt(client, email, "wrong-again").status_code == 401  # the 6th failure: now 60 s
    resp = attempt(client, email, RIGHT)
    assert resp.status_code == 429 and 31 <= int(resp.headers["Retry-After"]) <= 60
    age_failures(61)
    assert attempt(client, email, RIGHT).status_code == 303


def test_nothing_is_permanent_failures_leave_the_window(client, users):
    email = users["maria"].email
    for i in range(12):
        attempt(client, email, f"wrong-{i}")
    assert attempt(client, email, RIGHT).status_code == 429
    age_failures(15 * 60 + 1)
    assert attempt(client, email, RIGHT).status_code == 303


def test_limit_by_client_address_across_accounts(db, users):
    app = create_app(overrides(trusted_proxies=1))
    client = app.test_client()
    for i in range(login_limits.ADDRESS_FREE):  # one address tries twenty different accounts
        assert attempt(client, f"nobody{i}@example.com", "x", address="203.0.113.9").status_code == 401
    resp = attempt(client, users["james"].email, RIGHT, address="203.0.113.9")
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    # Another client address is not held back by that one.
    assert attempt(client, users["james"].email, RIGHT, address="198.51.100.7").status_code == 303


def test_forwarded_for_is_believed_only_through_the_configured_proxies(db, users):
    # No trusted proxy: the header is the client's own claim and is ignored; every try counts for 127.0.0.1.
    plain = create_app(overrides()).test_client()
    for i in range(5):
        attempt(plain, f"x{i}@example.com", "x", address=f"192.0.2.{i}")
    assert set(LoginFailure.select(LoginFailure.address).tuples()) == {("127.0.0.1",)}
    LoginFailure.delete().execute()
    # One trusted proxy: its entry (the rightmost) is the client; what the client put before it is not.
    proxied = create_app(overrides(trusted_proxies=1)).test_client()
    for i in range(5):
        attempt(proxied, f"y{i}@example.com", "x", address=f"10.9.9.{i}, 198.51.100.20")
    assert set(LoginFailure.select(LoginFailure.address).tuples()) == {("198.51.100.20",)}
    for i in range(5, login_limits.ADDRESS_FREE):
        attempt(proxied, f"y{i}@example.com", "x", address=f"10.9.9.{i}, 198.51.100.20")
    assert attempt(proxied, users["maria"].email, RIGHT, address="10.0.0.1, 198.51.100.20").status_code == 429


def test_a_strangers_failures_do_not_keep_the_owner_out_of_their_account(db, users):
    app = create_app(overrides(trusted_proxies=1))
    owner = app.test_client()
    email = users["maria"].email
    assert attempt(owner, email, RIGHT, address="198.51.100.1").status_code == 303  # the owner's browser, known now
    owner.post("/logout")
    stranger = app.test_client()
    for i in range(20):  # from many addresses, so the address limit never bites
        attempt(stranger, email, f"guess-{i}", address=f"203.0.113.{i}")
    assert attempt(app.test_client(), email, RIGHT, address="192.0.2.50").status_code == 429  # a new browser waits
    assert attempt(owner, email, RIGHT, address="198.51.100.1").status_code == 303  # the owner's does not


def test_the_limit_is_shared_by_every_web_process(db, users):
    one, two = create_app(overrides()).test_client(), create_app(overrides()).test_client()
    for i in range(5):
        attempt(one, users["maria"].email, f"wrong-{i}")
    assert attempt(two, users["maria"].email, RIGHT).status_code == 429


def test_a_sign_in_clears_the_persons_own_slips(client, users):
    email = users["maria"].email
    for i in range(4):
        attempt(client, email, f"typo-{i}")
    assert attempt(client, email, RIGHT).status_code == 303
    client.post("/logout")
    assert attempt(client, email, "one-more-typo").status_code == 401  # counts from zero again, not the 5th
    assert attempt(client, email, RIGHT).status_code == 303


def test_an_admin_sees_recent_failures_on_the_users_page(client, users):
    for i in range(3):
        attempt(client, users["james"].email, f"wrong-{i}")
    LoginFailure.create(email=users["james"].email, address="192.0.2.1", at=utcnow() - dt.timedelta(days=31))
    attempt(client, users["admin"].email, RIGHT)
    page = client.get(f"/admin/users/{users['james'].id}").get_data(as_text=True)
    assert "Failed sign-ins" in page and page.count("<td>127.0.0.1</td>") == 3 and "192.0.2.1" not in page
    listing = client.get("/admin/users?q=james").get_data(as_text=True)
    assert "James Chen" in listing and "Maria Ortiz" not in listing


def test_colleagues_typos_behind_one_address_do_not_hold_back_a_known_browser(db, users):
    app = create_app(overrides(trusted_proxies=1))
    office = "198.51.100.77"  # everyone behind the office's one address
    maria = app.test_client()
    assert attempt(maria, users["maria"].email, RIGHT, address=office).status_code == 303  # her browser, known
    maria.post("/logout")
    colleagues = app.test_client()
    for i in range(login_limits.ADDRESS_FREE + 5):
        attempt(colleagues, f"colleague{i % 4}@example.com", "typo", address=office)
    assert attempt(app.test_client(), users["james"].email, RIGHT, address=office).status_code == 429
    assert attempt(maria, users["maria"].email, RIGHT, address=office).status_code == 303
