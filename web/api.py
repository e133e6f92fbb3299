"""The JSON API under /api/v1: projects, applications, notes and the event feed, for other systems.

Every request carries its own bearer token (no session, no CSRF), counts against the token's
per-minute limit, and follows the web's rules of who may change what. Errors are always
{"error": {"code", "message"}} (plus "fields" for invalid input).
"""
from __future__ import annotations

import datetime as dt
import math

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from peewee import JOIN
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from models import ApiToken, Application, Event, Project, User, checklists, lifecycle, pipeline
from models.applications import KINDS, file_application
from models.base import db, today as desk_today, utcnow
from models.lifecycle import TransitionError
from models.vocab import is_id
from web import api_json
from web.access import require_edit
from web.errors import NUL, nul_field
from web.projects import EDIT_KEYS, _clean_form as clean_form, _form_values as form_values

bp = Blueprint("api", __name__, url_prefix="/api/v1")

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited"}
CREATE_KEYS = EDIT_KEYS + ("external_id",)
# Filters whose unknown values the pipeline quietly drops; an API client is told instead.
CHECKED_FILTERS = ("stage", "utility", "ahj", "coordinator", "ball", "product", "sort", "dir")
# The feed holds back the newest events this long: ids are taken when a row is inserted, so a longer
# transaction may commit an earlier id after a later one was read; past a cursor it would never be seen.
SETTLE = dt.timedelta(seconds=3)


class ApiError(Exception):
    def __init__(self, http_status: int, code: str, message: str, /, fields: dict | None = None,
                 headers: dict | None = None, **details):
        super().__init__(message)
        self.http_status, self.code, self.message = http_status, code, message
        self.fields, self.headers, self.details = fields, headers or {}, details


def invalid(fields: dict[str, str]) -> ApiError:
    names = ", ".join(sorted(fields))
    return ApiError(422, "invalid", f"{len(fields)} field{'s' if len(fields) != 1 else ''} invalid: {names}",
                    fields=fields)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    error = {"code": exc.code, "message": exc.message, **exc.details}
    if exc.fields:
        error["fields"] = exc.fields
    resp = jsonify(error=error)
    resp.status_code = exc.http_status
    resp.headers.update(exc.headers)
    return resp


def _http_error(exc: HTTPException) -> Response:
    # abort() from shared helpers (web.access) and Werkzeug's own errors answer in JSON here too.
    code = exc.code or 500
    return _api_error(ApiError(code, CODES.get(code, "server_error" if code >= 500 else "error"),
                               exc.description or exc.name))


# By class, and by code too: an app-wide handler for a code (the HTML 413 page) outranks a class handler.
bp.register_error_handler(HTTPException, _http_error)
for _code in (*CODES, 500):
    bp.register_error_handler(_code, _http_error)


@bp.before_request
def _authenticate():
    g.user = None  # a session cookie never authenticates the API: only the request's own token does
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="ixdesk"'}
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "token_missing", "send an API token as 'Authorization: Bearer ixd_...'; "
                                             "create one under your name (/me)", headers=challenge)
    token = ApiToken.find(secret.strip())
    bad = {"WWW-Authenticate": 'Bearer realm="ixdesk", error="invalid_token"'}
    if token is None:
        raise ApiError(401, "token_invalid", "this API token is not valid", headers=bad)
    if token.revoked_at is not None:
        raise ApiError(401, "token_revoked", f"this API token was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC",
                       headers=bad)
    if not token.user.active:
        raise ApiError(401, "user_inactive", "the token's user is deactivated", headers=bad)
    settings = current_app.config["IXDESK"]
    g.rate = token.count_request(settings.api_rate_limit, user_limit=settings.api_user_rate_limit)
    if not g.rate.allowed:
        whose = "with this token" if g.rate.scope == "token" else "with your tokens together"
        raise ApiError(429, "rate_limited", f"more than {g.rate.limit} requests in a minute {whose}; "
                                            f"try again in {g.rate.reset_in} s",
                       headers={"Retry-After": str(g.rate.reset_in)})
    token.touch()
    g.user = token.user
    wrong = nul_field(request.view_args, request.args)
    if wrong is not None:
        raise invalid({wrong: api_json.text_error(NUL)})


@bp.after_request
def _headers(resp: Response) -> Response:
    rate = g.get("rate")
    if rate is not None:
        resp.headers["X-RateLimit-Limit"] = str(rate.limit)
        resp.headers["X-RateLimit-Remaining"] = str(rate.remaining)
        resp.headers["X-RateLimit-Reset"] = str(rate.reset_in)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _body() -> dict:
    wrong = "send a JSON object with Content-Type: application/json"
    if not request.is_json:
        raise ApiError(400, "bad_request", wrong)
    try:
        body = api_json.load(request.get_data(cache=True))
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"{exc}; {wrong}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", wrong)
    return body


def _int_arg(name: str, default: int, low: int, high: int, errors: dict | None = None) -> int:
    """A whole-number query arg; out of range is a 422 (collected into errors when given)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not is_id(raw) or not low <= int(raw) <= high:
        if errors is None:
            raise invalid({name: f"must be a whole number from {low} to {high}"})
        errors[name] = f"must be a whole number from {low} to {high}"
        return default
    return int(raw)


def _paging(errors: dict | None = None) -> tuple[int, int]:
    return _int_arg("page", 1, 1, 10**7, errors), _int_arg("per_page", 50, 1, 100, errors)


def _paged(query, page: int, per_page: int) -> tuple[list, dict]:
    total = query.count()
    rows = list(query.paginate(page, per_page))
    return rows, {"page": page, "per_page": per_page, "total": total, "pages": max(1, math.ceil(total / per_page))}


def _project(external_id: str) -> Project:
    project = Project.get_or_none(Project.external_id == external_id)
    if project is None:
        raise ApiError(404, "not_found", f"no project with external_id {external_id!r}")
    return project


def _application(app_id: int) -> Application:
    app = Application.get_or_none(Application.id == app_id)
    if app is None:
        raise ApiError(404, "not_found", f"no application {app_id}")
    return app


def _project_form(allowed: tuple[str, ...]) -> dict[str, str]:
    """The body as the strings the web's project form posts; 422 for fields that are unknown or not settable."""
    body = _body()
    form, errors = api_json.form_values(body)
    errors.update({k: "is not a field you can set" for k in body if k not in allowed})
    if "coordinator" in form and not errors:
        raw = form["coordinator"].strip()
        if raw and not is_id(raw):
            user = User.get_or_none((User.email == raw.lower()) & (User.active == True))  # noqa: E712
            if user is None:
                errors["coordinator"] = f"no active user with email {raw!r}"
            raw = str(user.id) if user else raw
        form["coordinator"] = raw
    if errors:
        raise invalid(errors)
    return form


def _may_assign(form: dict[str, str], current: int | None) -> None:
    """Assigning projects is for leads and admins, as on the web."""
    if "coordinator" in form and not g.user.is_lead:
        wanted = int(form["coordinator"]) if form["coordinator"] else None
        if wanted != current:
            raise ApiError(403, "forbidden", "only leads and admins assign projects to coordinators")


def _validated(form: dict[str, str], project: Project | None) -> dict:
    values, errors = clean_form(form, project)
    if errors:
        raise invalid(errors)
    return values


def _day(raw) -> dt.date | None:
    if raw in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(raw))
    except ValueError:
        raise invalid({"on": f"{raw!r} is not a date (YYYY-MM-DD)"}) from None
    if day > desk_today() + dt.timedelta(days=1):
        raise invalid({"on": f"{day} is in the future; record what has happened"})
    return day


@bp.get("/projects")
def projects():
    """Projects filtered like the pipeline (q, stage, utility, ...) and by updated_since, paged."""
    f = pipeline.PipelineFilter.from_args(request.args)
    wrong = {n: "is not a known value" for n in CHECKED_FILTERS
             if request.args.get(n, "").strip() and request.args[n].strip().lower() != str(getattr(f, n)).lower()}
    page, per_page = _paging(wrong)
    query = pipeline.rows_query(f)
    if request.args.get("updated_since", "").strip():
        try:
            query = query.where(Project.updated_at >= api_json.timestamp(request.args["updated_since"]))
        except ValueError:
            wrong["updated_since"] = "is not an ISO 8601 timestamp such as 2026-03-01T08:00:00Z"
    if wrong:
        raise invalid(wrong)
    rows, paging = _paged(query, page, per_page)
    return jsonify(projects=[api_json.project(p) for p in rows], **paging)


@bp.get("/projects/<external_id>")
def project(external_id: str):
    """One project with its applications."""
    p = _project(external_id)
    apps = list(Application.select().where(Application.project == p).order_by(Application.id))
    return jsonify(project=api_json.project(p, apps))


@bp.post("/projects")
def create_project():
    """Create a project: the web's validation; a coordinator's own project unless a lead assigns it."""
    form = _project_form(CREATE_KEYS)
    _may_assign(form, g.user.id)
    values = _validated(form, None)
    values.setdefault("coordinator", g.user if not g.user.is_lead else None)
    with db.atomic():
        p = Project.create(**{k: v for k, v in values.items() if v is not None})
        p.refresh_rollups()
        p.save()
        Event.record(p, "create", g.user, summary="Project created")
        checklists.sync(p, g.user)
    resp = jsonify(project=api_json.project(Project.get_by_id(p.id), []))
    resp.status_code, resp.headers["Location"] = 201, url_for("api.project", external_id=p.external_id)
    return resp


@bp.patch("/projects/<external_id>")
def update_project(external_id: str):
    """Change the facts sent (others stay); every change lands on the timeline, checklists follow."""
    p = require_edit(_project(external_id))
    form = _project_form(EDIT_KEYS)
    _may_assign(form, p.coordinator_id)
    # Checked as the whole form the web posts (so cross-field checks apply); only the fields sent are written.
    values = _validated({**form_values(p), **form}, p)
    changed = p.apply_changes({k: v for k, v in values.items() if k in form}, g.user)
    return jsonify(project=api_json.project(Project.get_by_id(p.id)), changed=sorted(changed))


@bp.get("/projects/<external_id>/applications")
def applications(external_id: str):
    """A project's applications."""
    p = _project(external_id)
    apps = Application.select().where(Application.project == p).order_by(Application.id)
    return jsonify(applications=[api_json.application(a, p) for a in apps])


@bp.post("/projects/<external_id>/applications")
def open_application(external_id: str):
    """Open a new application of a kind, as a draft."""
    p = require_edit(_project(external_id))
    kind = api_json.form_values(_body())[0].get("kind")
    if kind not in KINDS:
        raise invalid({"kind": f"must be one of {', '.join(KINDS)}"})
    app = file_application(p, kind, "DRAFT")
    resp = jsonify(application=api_json.application(app, p))
    resp.status_code, resp.headers["Location"] = 201, url_for("api.application", app_id=app.id)
    return resp


@bp.get("/applications/<int:app_id>")
def application(app_id: int):
    """One application."""
    return jsonify(application=api_json.application(_application(app_id)))


@bp.post("/applications/<int:app_id>/transition")
def transition(app_id: int):
    """Move an application's status; 409 when the move does not fit the status it has now."""
    app = _application(app_id)
    require_edit(app.project)
    body = _body()
    form, errors = api_json.form_values({k: v for k, v in body.items() if k != "deficiencies"})
    to = form.get("to", "")
    if to not in lifecycle.statuses(app.kind):
        errors["to"] = f"must be a status of a {app.kind} application: {', '.join(lifecycle.statuses(app.kind))}"
    items, wrong = api_json.strings(body, "deficiencies")
    if wrong:
        errors["deficiencies"] = wrong
    if errors:
        raise invalid(errors)
    expected = form.get("from")
    if expected and expected != app.status:
        raise ApiError(409, "stale_status", f"the application is {app.status} now, not {expected}; "
                                            f"read it again before moving it", status=app.status)
    try:
        move = app.transition(to, g.user, form.get("why", ""), by_notice=form.get("by_notice") == "yes",
                              on=_day(form.get("on")), reference=form.get("reference") or None,
                              sent=form.get("sent", ""), deficiencies=items)
    except TransitionError as exc:
        now = Application.get_by_id(app.id)
        raise ApiError(409, "transition_refused", str(exc), status=now.status,
                       allowed_next=list(lifecycle.allowed(now.kind, now.status))) from None
    return jsonify(application=api_json.application(Application.get_by_id(app.id)),
                   move={"from": move.frm, "to": move.to, "skipped": list(move.skipped)})


@bp.post("/applications/<int:app_id>/reopen")
def reopen(app_id: int):
    """Reopen a closed application, with a reason."""
    app = _application(app_id)
    require_edit(app.project)
    form, errors = api_json.form_values(_body())
    if "why" in errors:
        raise invalid({"why": errors["why"]})
    why = form.get("why", "")
    try:
        move = app.reopen(g.user, why)
    except TransitionError as exc:
        raise ApiError(409, "transition_refused", str(exc), status=app.status) from None
    return jsonify(application=api_json.application(Application.get_by_id(app.id)),
                   move={"from": move.frm, "to": move.to, "skipped": []})


@bp.get("/projects/<external_id>/notes")
def notes(external_id: str):
    """A project's notes, newest first, paged."""
    p = _project(external_id)
    query = (Event.select(Event, User).join(User, JOIN.LEFT_OUTER, on=(Event.actor == User.id), attr="actor")
             .where((Event.project == p) & (Event.kind == "note")).order_by(Event.id.desc()))
    rows, paging = _paged(query, *_paging())
    return jsonify(notes=[api_json.note(e) for e in rows], **paging)


@bp.post("/projects/<external_id>/notes")
def add_note(external_id: str):
    """Add a note to the timeline (anyone may, as on the web)."""
    p = _project(external_id)
    text = _body().get("body")
    wrong = "must be a string" if not isinstance(text, (str, type(None))) else api_json.text_error(text or "")
    if wrong:
        raise invalid({"body": wrong})
    try:
        event = p.add_note(text or "", g.user)
    except ValueError as exc:
        raise invalid({"body": str(exc)}) from None
    resp = jsonify(note=api_json.note(event))
    resp.status_code = 201
    return resp


@bp.get("/events")
def events():
    """Timeline events after the cursor `since`, oldest first; pass next_cursor back to read on."""
    since, limit = _int_arg("since", 0, 0, 2**62), _int_arg("limit", 100, 1, 500)
    rows = list(Event.select(Event, Project, User).join(Project)
                .switch(Event).join(User, JOIN.LEFT_OUTER, on=(Event.actor == User.id), attr="actor")
                .where((Event.id > since) & (Event.created_at <= utcnow() - SETTLE))
                .order_by(Event.id).limit(limit + 1))
    more, rows = len(rows) > limit, rows[:limit]
    return jsonify(events=[api_json.event(e) for e in rows], next_cursor=rows[-1].id if rows else since,
                   has_more=more)


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@bp.route("/", defaults={"rest": ""}, methods=METHODS)
@bp.route("/<path:rest>", methods=METHODS)
def unknown(rest: str):
    """Anything else under /api/v1: a JSON 404, or 405 naming the methods the path takes."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except (NotFound, MethodNotAllowed):
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    if allowed:
        raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here; use {', '.join(allowed)}",
                       headers={"Allow": ", ".join(allowed)})
    raise ApiError(404, "not_found", f"no endpoint {request.method} {request.path}; the README lists them")
