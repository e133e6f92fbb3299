"""API tokens: at most ten per person, one rate limit per person across their tokens, and a password change
that can revoke them."""
from __future__ import annotations

import pytest

from app import create_app
from models import ApiToken
from models.api_tokens import MAX_ACTIVE, TokenError
from tests.conftest import login, overrides


def test_a_person_holds_at_most_ten_active_tokens(client, users):
    maria = users["maria"]
    tokens = [ApiToken.issue(maria, f"script {i}")[0] for i in range(MAX_ACTIVE)]
    with pytest.raises(TokenError, match="10 active tokens"):
        ApiToken.issue(maria, "one more")
    login(client, maria)
    resp = client.post("/me/tokens", data={"name": "one more"})
    assert resp.status_code == 422 and "revoke one you no longer use first" in resp.get_data(as_text=True)
    tokens[0].revoke()
    assert ApiToken.issue(maria, "one more")[0].active  # a revoked one frees a place
    assert ApiToken.issue(users["james"], "his own")[0].active  # the cap is per person


def test_more_tokens_do_not_get_around_the_rate_limit(db, users):
    app = create_app(overrides(api_rate_limit=5, api_user_rate_limit=6))
    client = app.test_client()
    secrets = [ApiToken.issue(users["maria"], f"t{i}")[1] for i in range(3)]
    answers = [client.get("/api/v1/projects", headers={"Authorization": f"Bearer {s}"}).status_code
               for s in secrets for _ in range(3)]
    assert answers == [200] * 6 + [429] * 3
    resp = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {secrets[0]}"})
    assert resp.status_code == 429 and "your tokens together" in resp.get_json()["error"]["message"]
    assert int(resp.headers["Retry-After"]) >= 1 and resp.headers["X-RateLimit-Limit"] == "6"
    # Another person's tokens have their own allowance.
    other = ApiToken.issue(users["james"], "his")[1]
    assert client.get("/api/v1/projects", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_a_deactivated_persons_tokens_are_revoked_for_good(client, users):
    from models import User
    from models.sessions import deactivate
    secret = ApiToken.issue(users["maria"], "CRM")[1]
    deactivate(users["maria"])
    resp = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_revoked"
    User.update(active=True).where(User.id == users["maria"].id).execute()  # reactivated
    resp = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 401  # a reactivation does not bring the old tokens back
