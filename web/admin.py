"""Admin pages: people (sessions, failed sign-ins, deactivation), webhooks and their delivery log."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, session, url_for

from models import ApiToken, User, Webhook, WebhookDelivery, WebSession
from models import login_limits
from models.pipeline import Page
from models.sessions import deactivate as deactivate_user
from models.webhooks import EVENTS, STATES, WebhookError
from web import htmx

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50


@bp.before_request
def _admins_only():
    if g.user is not None and g.user.role != "admin":
        abort(403, "only admins manage people and webhooks")


def _hook(hook_id: int) -> Webhook:
    hook = Webhook.get_or_none(Webhook.id == hook_id)
    if hook is None:
        abort(404, "no such webhook")
    return hook


def _index(status: int = 200, **context):
    hooks = list(Webhook.select().order_by(Webhook.active.desc(), Webhook.id.desc()))
    context = {"form": {"url": "", "events": list(EVENTS)}, "errors": {}, **context}
    return render_template("admin/webhooks.html", hooks=hooks, events=EVENTS, **context), status


@bp.get("/webhooks")
def webhooks():
    """Registered webhooks and the form to add one."""
    return _index()


@bp.post("/webhooks")
def add_webhook():
    """Register a URL; its signing secret is shown on this answer only."""
    form = {"url": request.form.get("url", ""), "events": request.form.getlist("events")}
    try:
        hook, secret = Webhook.register(form["url"], form["events"], g.user)
    except WebhookError as exc:
        return _index(422, form=form, errors={"url": str(exc)})
    body, status = _index(new_hook=hook, new_secret=secret)
    resp = make_response(body, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/webhooks/<int:hook_id>")
def webhook(hook_id: int):
    """One webhook and its delivery log, newest first, paged (htmx swaps the log alone)."""
    hook = _hook(hook_id)
    query = WebhookDelivery.log_of(hook)
    total = query.count()
    page = max(1, min(request.args.get("page", 1, type=int) or 1, max(1, -(-total // PER_PAGE))))
    log = Page(rows=list(query.paginate(page, PER_PAGE)), total=total, page=page, per_page=PER_PAGE)
    return htmx.render("admin/webhook.html", "admin/_deliveries.html", hook=hook, log=log, events=EVENTS,
                       states=STATES)


@bp.post("/webhooks/<int:hook_id>/deactivate")
def deactivate(hook_id: int):
    """Stop sending to a webhook (its waiting deliveries are dropped; the log stays)."""
    hook = _hook(hook_id)
    hook.deactivate()
    flash(f"Webhook {hook.url} deactivated.")
    return redirect(url_for("admin.webhook", hook_id=hook.id), 303)


@bp.post("/webhooks/<int:hook_id>/test")
def send_test(hook_id: int):
    """Send a signed `test` event to this webhook now."""
    hook = _hook(hook_id)
    try:
        delivery = hook.send_test(g.user)
        flash(f"Test event queued as delivery {delivery.id}; its result shows below in a moment.")
    except WebhookError as exc:
        flash(str(exc))
    return redirect(url_for("admin.webhook", hook_id=hook.id), 303)


@bp.post("/deliveries/<int:delivery_id>/retry")
def retry(delivery_id: int):
    """Send a failed delivery again."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
    if delivery is None:
        abort(404, "no such delivery")
    try:
        delivery.send_again()
        flash(f"Delivery {delivery.id} queued again.")
    except WebhookError as exc:
        flash(str(exc))
    return redirect(url_for("admin.webhook", hook_id=delivery.webhook_id), 303)


USER_SORTS = {"name": User.name, "email": User.email, "role": User.role, "created": User.created_at}


def _user(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404, "no such user")
    return user


@bp.get("/users")
def users():
    """Everyone who can sign in: searchable by name or email, sortable, paged."""
    q = " ".join(request.args.get("q", "").replace("\x00", "").split())[:100]
    sort = request.args.get("sort", "name")
    if sort.lstrip("-") not in USER_SORTS:
        sort = "name"
    column = USER_SORTS[sort.lstrip("-")]
    query = User.select()
    if q:
        query = query.where(User.name.contains(q) | User.email.contains(q))
    query = query.order_by(User.active.desc(), column.desc() if sort.startswith("-") else column, User.id)
    total = query.count()
    page = max(1, min(request.args.get("page", 1, type=int) or 1, max(1, -(-total // PER_PAGE))))
    listing = Page(rows=list(query.paginate(page, PER_PAGE)), total=total, page=page, per_page=PER_PAGE)
    return htmx.render("admin/users.html", "admin/_users.html", listing=listing, q=q, sort=sort)


@bp.get("/users/<int:user_id>")
def user(user_id: int):
    """One person: their signed-in sessions and the failed sign-ins against their account."""
    person = _user(user_id)
    return render_template("admin/user.html", person=person, web_sessions=list(WebSession.live_of(person)),
                           failures=list(login_limits.recent_failures(person)),
                           tokens=ApiToken.select().where((ApiToken.user == person) &
                                                          ApiToken.revoked_at.is_null()).count())


@bp.post("/users/<int:user_id>/deactivate")
def deactivate_person(user_id: int):
    """Deactivate: no more sign-ins, every session ends now, API tokens stop answering; history stays."""
    person = _user(user_id)
    if person.id == g.user.id:
        abort(409, "you cannot deactivate yourself; ask another admin")
    ended = deactivate_user(person)
    flash(f"{person.name} deactivated; {ended} session(s) signed out.")
    return redirect(url_for("admin.user", user_id=person.id), 303)


@bp.post("/users/<int:user_id>/reactivate")
def reactivate_person(user_id: int):
    """Let a deactivated person sign in again (with their old password)."""
    person = _user(user_id)
    User.update(active=True).where(User.id == person.id).execute()
    flash(f"{person.name} can sign in again.")
    return redirect(url_for("admin.user", user_id=person.id), 303)


@bp.post("/users/<int:user_id>/end-sessions")
def end_sessions(user_id: int):
    """Sign a person out everywhere (a lost laptop); they can sign in again."""
    person = _user(user_id)
    ended = WebSession.end_all(person, "signed out by an admin",
                               keep=session.row if person.id == g.user.id else None)
    flash(f"{ended} session(s) of {person.name} signed out.")
    return redirect(url_for("admin.user", user_id=person.id), 303)
