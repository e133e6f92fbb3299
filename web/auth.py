"""Logging in and out, the current user, and role guards."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlparse

from flask import (Blueprint, Flask, abort, flash, g, make_response, redirect, render_template, request, session,
                   url_for)

from models import ApiToken, User
from models.api_tokens import TokenError
from models.users import UserError
from web import htmx

bp = Blueprint("auth", __name__)
PUBLIC = {"auth.login", "static", "htmx_js", "sms_webhook.twilio_inbound"}  # the webhook checks its signature
# Blueprints that authenticate every request themselves: the JSON API takes a bearer token, never the session.
SELF_AUTHENTICATED = {"api"}


def install(app: Flask) -> None:
    @app.before_request
    def _require_login():
        g.user = None
        user_id = session.get("user_id")
        if user_id:
            user = User.get_or_none(User.id == user_id)
            if user and user.active and session.get("pw") == user.password_hash[-16:]:
                g.user = user
            else:
                session.clear()
        if g.user is None and request.endpoint not in PUBLIC and request.blueprint not in SELF_AUTHENTICATED:
            if request.path.startswith("/vendor/") or request.endpoint is None:
                return None
            target = url_for("auth.login", next=request.full_path.rstrip("?"))
            if htmx.is_fragment_request():
                # Following a 302 would swap the whole login page into a fragment; send the browser
                # to log in, and back to the page it was on.
                here = urlparse(htmx.current_page() or "")
                back = (here.path + ("?" + here.query if here.query else "")) if here.path else ""
                return htmx.redirect(url_for("auth.login", next=back) if back else url_for("auth.login"))
            return redirect(target)
        return None

    @app.context_processor
    def _user():
        return {"current_user": g.get("user")}


def lead_required(view):
    """Only leads and admins may use this view."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not g.user.is_lead:
            abort(403, "only leads and admins can do this")
        return view(*args, **kwargs)
    return wrapped


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would hand a phisher our login page.
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return url_for("projects.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    email = request.form.get("email", "")
    if request.method == "POST":
        user = User.authenticate(email, request.form.get("password", ""))
        if user is None:
            return render_template("auth/login.html", email=email,
                                   error="Email or password is wrong, or the account is inactive."), 401
        session.clear()
        session["user_id"] = user.id
        # Changing the password ends every other session of the user.
        session["pw"] = user.password_hash[-16:]
        session.permanent = True
        return redirect(_safe_next(request.args.get("next")), 303)
    return render_template("auth/login.html", email=email, error=None)


@bp.post("/logout")
def logout():
    """Sign out."""
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"), 303)


@bp.route("/me", methods=["GET", "POST"])
def me():
    """Your preferences: the morning digest, your password and your API tokens."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        user = g.user
        if request.form.get("form") == "password":
            if not user.check_password(request.form.get("current", "")):
                errors["current"] = "that is not your current password"
            elif request.form.get("new", "") != request.form.get("confirm", ""):
                errors["confirm"] = "the two new passwords differ"
            else:
                try:
                    user.set_password(request.form.get("new", ""))
                    user.save()
                    session["pw"] = user.password_hash[-16:]  # keep this session, end the others
                    flash("Password changed; your other sessions are signed out.")
                except UserError as exc:
                    errors["new"] = str(exc)
        else:
            user.digest_opt_in = request.form.get("digest") == "1"
            user.save()
            flash("Morning digest " + ("on." if user.digest_opt_in else "off."))
        if not errors:
            return redirect(url_for("auth.me"), 303)
    return _me_page(errors=errors), (422 if errors else 200)


def _me_page(**context) -> str:
    return render_template("auth/me.html", **{"errors": {}, "tokens": list(ApiToken.of(g.user)), **context})


@bp.post("/me/tokens")
def create_token():
    """Issue an API token; its secret is on this one answer and nowhere else, ever."""
    name = request.form.get("name", "")
    try:
        token, secret = ApiToken.issue(g.user, name)
    except TokenError as exc:
        return _me_page(errors={"token_name": str(exc)}, token_name=name), 422
    resp = make_response(_me_page(new_token=token, new_secret=secret))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/me/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    """Revoke one of your API tokens; it stops working at once."""
    token = ApiToken.get_or_none((ApiToken.id == token_id) & (ApiToken.user == g.user))
    if token is None:
        abort(404, "you have no such token")
    if token.revoke():
        flash(f"Token “{token.name}” revoked.")
    return redirect(url_for("auth.me") + "#api-tokens", 303)
