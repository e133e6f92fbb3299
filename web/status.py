"""/healthz for load balancers (this process can serve) and /status for admins and monitors (every part)."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, g, jsonify, make_response, render_template, request
from peewee import PeeweeException

import logs
from workers import health

log = logging.getLogger(__name__)
bp = Blueprint("status", __name__)
_database_down = False  # so an outage is logged when it starts and ends, not on every probe


def _answer(text: str, code: int) -> Response:
    resp = make_response(text + "\n", code)
    resp.mimetype = "text/plain"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _unreachable(problem: str) -> Response:
    global _database_down
    if not _database_down:
        log.warning("health: the database is unreachable (%s)", problem)
    _database_down = True
    # Only the kind of failure: anyone may ask, and the log has the rest.
    return _answer(f"database unreachable: {problem.split(':', 1)[0]}", 503)


@bp.errorhandler(PeeweeException)
def _no_database(exc: PeeweeException):
    # The request's connection is opened before any view runs (app.connect_database): it failed.
    first = (str(exc).strip().splitlines() or [""])[0]
    return _unreachable(logs.redact(f"{type(exc).__name__}: {first}"[:300]))


@bp.get("/healthz")
def healthz():
    """200 "ok" while the database answers SELECT 1, else 503 with why; no login, session or write.
    Nothing else counts: a mailbox or broker outage must not take web nodes out of the load balancer."""
    global _database_down
    check = health.database()
    if not check.ok:
        return _unreachable(check.error)
    if _database_down:
        log.info("health: the database answers again")
        _database_down = False
    return _answer("ok", 200)


def _wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@bp.get("/status")
def status():
    """Every part of the desk, each checked on its own (admins): a page, or JSON with ?format=json."""
    if g.user.role != "admin":
        abort(403, "only admins see the desk's status")
    from workers import actors  # noqa: F401  (declares every queue, so each is counted)
    from workers.broker import broker
    report = health.collect(current_app.config["IXDESK"], broker, broker.get_declared_queues())
    resp = jsonify(report) if _wants_json() else make_response(render_template("status.html", status=report))
    resp.headers["Cache-Control"] = "no-store"
    resp.vary.add("Accept")
    return resp
