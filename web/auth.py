"""Logging in and out, the current user, and role guards."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlparse

from flask import (Blueprint, Flask, abort, current_app, flash, g, make_response, redirect, render_template, request,
                   session, url_for)

from models import ApiToken, User, WebSession
from models import login_limits
from models.api_tokens import TokenError
from models.users import UserError
from web import htmx, sessions

bp = Blueprint("auth", __name__)
PUBLIC = {"auth.login", "static", "htmx_js", "sms_webhook.twilio_inbound", "status.healthz"}  # the webhook is signed
# Blueprints that authenticate every request themselves: the JSON API takes a bearer token, never the session.
SELF_AUTHENTICATED = {"api"}


def install(app: Flask) -> None:
    sessions.install(app)

    @app.before_request
    def _require_login():
        g.user = None
        user = getattr(session, "user", None)
        if user is not None:
            if user.active:
                g.user = user
            else:
                sessions.sign_out(session, "account deactivated")
        if g.user is None and request.endpoint not in PUBLIC and request.blueprint not in SELF_AUTHENTICATED:
            if request.path.startswith("/vendor/") or request.endpoint is None:
                return None
            why = getattr(session, "ended_why", None)
            if why:
                flash(f"You were signed out: {why}. Sign in again.")
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


def _attempt(email: str) -> login_limits.Attempt:
    return login_limits.Attempt(email=email, address=request.remote_addr or "",
                                device=request.cookies.get(login_limits.DEVICE_COOKIE, ""))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password (failed tries slow further ones down, see models/login_limits)."""
    email = request.form.get("email", "")
    if request.method == "POST":
        attempt = _attempt(email)
        wait = login_limits.retry_after(attempt)
        if wait:
            minutes = f"{wait} seconds" if wait < 120 else f"{-(-wait // 60)} minutes"
            resp = make_response(render_template(
                "auth/login.html", email=email,
                error=f"Too many failed sign-ins for this account or from this address. Try again in {minutes}."), 429)
            resp.headers["Retry-After"] = str(wait)
            return resp
        user = User.authenticate(email, request.form.get("password", ""))
        if user is None:
            login_limits.record_failure(attempt)
            return render_template("auth/login.html", email=email,
                                   error="Email or password is wrong, or the account is inactive."), 401
        login_limits.succeeded(attempt)
        device = login_limits.remember_device(user, attempt)
        sessions.sign_in(session, user, request.headers.get("User-Agent", ""), request.remote_addr or "")
        resp = redirect(_safe_next(request.args.get("next")), 303)
        if device:
            resp.set_cookie(login_limits.DEVICE_COOKIE, device, max_age=365 * 86400, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"], path="/login")
        return resp
    return render_template("auth/login.html", email=email, error=None)


@bp.post("/logout")
def logout():
    """Sign out: this device's session ends on the server, so a copied cookie stops working too."""
    sessions.sign_out(session)
    flash("You are signed out.")
    return redirect(url_for("auth.login"), 303)


@bp.route("/me", methods=["GET", "POST"])
def me():
    """Your preferences: the morning digest, your password, your sessions and your API tokens."""
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
                    ended = WebSession.end_all(user, "password changed", keep=session.row)
                    revoked = ApiToken.revoke_all(user) if request.form.get("revoke_tokens") == "1" else 0
                    flash(f"Password changed; {_count(ended, 'other session')} signed out"
                          + (f", {_count(revoked, 'API token')} revoked." if revoked else "."))
                except UserError as exc:
                    errors["new"] = str(exc)
        else:
            user.digest_opt_in = request.form.get("digest") == "1"
            user.save()
            flash("Morning digest " + ("on." if user.digest_opt_in else "off."))
        if not errors:
            return redirect(url_for("auth.me"), 303)
    return _me_page(errors=errors), (422 if errors else 200)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@bp.post("/me/sessions/<int:session_id>/end")
def end_session(session_id: int):
    """Sign out one of your sessions (another browser, a lost phone); this one signs you out here."""
    row = WebSession.get_or_none((WebSession.id == session_id) & (WebSession.user == g.user))
    if row is None:
        abort(404, "you have no such session")
    if session.row is not None and row.id == session.row.id:
        return logout()
    if row.end("signed out from another session"):
        flash("That session is signed out.")
    return redirect(url_for("auth.me") + "#sessions", 303)


@bp.post("/me/sessions/end-others")
def end_other_sessions():
    """Sign out everywhere but here."""
    ended = WebSession.end_all(g.user, "signed out from another session", keep=session.row)
    flash(f"{_count(ended, 'other session')} signed out.")
    return redirect(url_for("auth.me") + "#sessions", 303)


def _me_page(**context) -> str:
    return render_template("auth/me.html", **{
        "errors": {}, "tokens": list(ApiToken.of(g.user)), "web_sessions": list(WebSession.live_of(g.user)),
        "this_session": session.row.id if session.row is not None else None, **context})


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
