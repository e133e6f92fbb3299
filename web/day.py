"""My day (each coordinator's work for today) and the leads' escalations and load."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from models import Application, ChecklistItem, Project, User, day
from models.base import db, today as desk_today
from models.vocab import is_id
from web import htmx
from web.access import require_edit
from web.auth import lead_required

bp = Blueprint("day", __name__)
PER_PAGE = 50
CHANNELS = ("call", "email", "portal", "sms", "note")


def _who(raw: str | None) -> tuple[User | None, str]:
    """Whose day to show: one's own; leads may pick a coordinator or everyone ("all")."""
    if not raw or not g.user.is_lead:
        return g.user, str(g.user.id)
    if raw == "all":
        return None, "all"
    user = User.get_or_none(User.id == int(raw)) if is_id(raw) else None
    return (user, raw) if user else (g.user, str(g.user.id))


def _listing(args) -> dict:
    today = desk_today()
    user, who = _who(args.get("who"))
    kind = args.get("kind", "")
    q = (args.get("q") or "").strip().lower()[:100]
    sort = args.get("sort", "urgency")
    raw_page = str(args.get("page", "1"))
    found = day.listing(user, today, kind, q, sort, int(raw_page) if is_id(raw_page) else 1, PER_PAGE)
    return {"items": found.items, "total": found.total, "page": found.page, "pages": found.pages,
            "kinds": found.kinds, "kind": kind, "q": q, "sort": sort if sort in day.SORTS else "urgency",
            "who": who, "today": today, "channels": CHANNELS, "kind_labels": day.KINDS,
            "coordinators": list(User.assignable()), "snooze_default": today + dt.timedelta(days=3)}


@bp.get("/day")
def index():
    """Today's work, most urgent first: breaches, deficiencies, follow-ups, reminders, reviews, flags."""
    return htmx.render("day/index.html", "day/_rows.html", **_listing(request.args))


@bp.get("/day/count")
def count():
    """The number beside "My day" in the navigation."""
    n = day.count(g.user)
    return f'<span class="count" id="day-count">{n}</span>' if n else ""


def _after(message: str = "", status: int = 200):
    args = request.args if request.method == "GET" else request.form
    context = _listing(args)
    if not htmx.is_fragment_request():
        return redirect(url_for("day.index", who=context["who"]), 303) if not message else \
            (render_template("day/index.html", error=message, **context), status)
    resp = htmx.render("day/index.html", "day/_rows.html", status=status, error=message, **context)
    return htmx.trigger(resp, "project-changed") if not message else resp


def _own(project_id: int | None) -> Project:
    project = Project.get_or_none(Project.id == project_id) if project_id else None
    if project is None:
        abort(404, "that item no longer exists")
    require_edit(project)
    return project


@bp.post("/day/act")
def act():
    """One row's inline action: log a call or note, snooze to a date with a reason, or mark done."""
    key, action = request.form.get("key", ""), request.form.get("action", "")
    project = _own(day.project_of(key))
    note, channel = request.form.get("note", "").strip(), request.form.get("channel", "call")
    kind, ident = key.split(":")[0], int(key.split(":")[1])
    try:
        if action == "log":
            if channel not in CHANNELS:
                raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
            if kind in ("breach", "follow_up", "deficiency", "expiring"):
                Application.get_by_id(ident).log_contact(g.user, channel, note)
            elif kind == "reminder":
                ChecklistItem.get_by_id(ident).log_reminder(g.user, channel, note)
            elif kind == "call_back":
                from models.messages import CallLog, log_call
                previous = CallLog.get_by_id(ident)
                log_call(project, g.user, previous.contact, "outbound", "reached", note)
                day.finish([key], g.user, note)
            else:
                project.add_note(note or "", g.user)
        elif action == "snooze":
            day.snooze([key], _date(request.form.get("until", "")), request.form.get("reason", ""), g.user)
        elif action == "done":
            if kind == "follow_up":
                # A follow-up is done by following up: that restarts its clock, so it comes back in time.
                Application.get_by_id(ident).log_contact(g.user, channel, note or "Followed up")
            else:
                day.finish([key], g.user, note)
        else:
            raise ValueError("unknown action")
    except ValueError as exc:
        return _after(f"{project.external_id}: {exc}", 422)
    return _after()


@bp.post("/day/bulk")
def bulk():
    """Snooze or (leads) reassign the selected rows' projects."""
    keys = request.form.getlist("keys")
    if not keys:
        return _after("select at least one row", 422)
    action = request.form.get("action", "")
    projects = {day.project_of(k) for k in keys} - {None}
    for pid in projects:
        _own(pid)
    try:
        if action == "snooze":
            day.snooze(keys, _date(request.form.get("until", "")), request.form.get("reason", ""), g.user)
        elif action == "reassign":
            if not g.user.is_lead:
                abort(403, "only leads reassign projects")
            _reassign(projects, request.form.get("coordinator", ""))
        else:
            raise ValueError("choose snooze or reassign")
    except ValueError as exc:
        return _after(str(exc), 422)
    return _after()


def _reassign(project_ids: set[int], raw: str) -> None:
    user = User.get_or_none((User.id == int(raw)) & (User.active == True)) if is_id(raw) else None  # noqa: E712
    if user is None or user.role not in ("coordinator", "lead"):
        raise ValueError("choose the coordinator to hand the projects to")
    with db.atomic():
        for project in Project.select().where(Project.id.in_(list(project_ids))):
            project.apply_changes({"coordinator": user}, g.user, why="reassigned from the day list")


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        raise ValueError("give the date to snooze until (YYYY-MM-DD)") from None


@bp.get("/leads")
@lead_required
def leads():
    """Escalations (flags, breaches late by more than N business days) and each coordinator's load."""
    try:
        older = max(0, min(60, int(request.args.get("older", "5"))))
    except ValueError:
        older = 5
    return render_template("day/leads.html", **_leads_context(older))


LEADS_LIMIT = 200


def _leads_context(older: int, **extra) -> dict:
    today = desk_today()
    return {"escalations": day.escalations(older, today, LEADS_LIMIT),
            "escalations_total": day.escalation_count(older, today),
            "load": day.load(today), "older": older, "today": today,
            "coordinators": list(User.assignable()), "names": {u.id: u.name for u in User.select()}, **extra}


@bp.post("/leads/reassign")
@lead_required
def reassign():
    """Hand the selected escalated projects to another coordinator."""
    ids = {int(x) for x in request.form.getlist("projects") if is_id(x)}
    try:
        if not ids:
            raise ValueError("select at least one project")
        _reassign(ids, request.form.get("coordinator", ""))
    except ValueError as exc:
        return render_template("day/leads.html", **_leads_context(5, error=str(exc))), 422
    return redirect(url_for("day.leads"), 303)
