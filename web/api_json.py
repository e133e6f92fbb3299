"""The JSON API's shapes: rows to JSON, and JSON request bodies to the strings the shared validation reads."""
from __future__ import annotations

import datetime as dt
import json
import re

from models import Application, Event, Project, User


def iso(value) -> str | None:
    """Dates as YYYY-MM-DD; timestamps (stored naive UTC) with a Z."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds") + "Z"
    return value.isoformat()


def person(user: User | None) -> dict | None:
    return {"id": user.id, "email": user.email, "name": user.name} if user else None


def project(p: Project, applications: list[Application] | None = None) -> dict:
    out = {
        "id": p.id, "external_id": p.external_id,
        "customer_name": p.customer_name, "customer_email": p.customer_email, "customer_phone": p.customer_phone,
        "street": p.street, "city": p.city, "state": p.state, "zip": p.zip,
        "utility": p.utility.code, "utility_account": p.utility_account, "ahj": p.ahj.name if p.ahj_id else None,
        "product_type": p.product_type, "pv_kw_dc": p.pv_kw_dc, "pv_kw_ac": p.pv_kw_ac,
        "battery_kwh": p.battery_kwh, "program": p.program,
        "contract_signed_on": iso(p.contract_signed_on), "application_complete_on": iso(p.application_complete_on),
        "installed_on": iso(p.installed_on), "export_limited": p.export_limited, "new_home": p.new_home,
        "third_party_owned": p.third_party_owned, "main_panel_upgrade": p.main_panel_upgrade,
        "stage": p.stage, "ball_in_court": p.ball_in_court, "needs_attention": p.needs_attention,
        "coordinator": person(p.coordinator) if p.coordinator_id else None,
        "flagged_at": iso(p.flagged_at), "flagged_reason": p.flagged_reason,
        "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
    }
    if applications is not None:
        out["applications"] = [application(a, p) for a in applications]
    return out


def application(a: Application, p: Project | None = None) -> dict:
    return {
        "id": a.id, "project": (p or a.project).external_id, "kind": a.kind, "status": a.status,
        "status_label": a.status_label, "reference_number": a.reference_number,
        "ball_in_court": a.ball_in_court, "allowed_next": [s for s, _ in a.allowed_next],
        "submitted_on": iso(a.submitted_on), "decided_on": iso(a.decided_on),
        "status_changed_on": iso(a.status_changed_on), "last_contact_on": iso(a.last_contact_on),
        "due_on": iso(a.due_on), "due_step": a.due_step or None, "next_follow_up_on": iso(a.next_follow_up_on),
        "expires_on": iso(a.expires_on), "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
    }


def event(e: Event) -> dict:
    """A timeline event; the query is expected to have joined its project, and its actor when there is one."""
    return {
        "id": e.id, "project": e.project.external_id, "application_id": e.application_id, "kind": e.kind,
        "actor": person(e.actor) if e.actor_id else None, "actor_label": e.actor_label or None,
        "summary": e.summary, "body": e.body, "data": e.data, "created_at": iso(e.created_at),
    }


def note(e: Event) -> dict:
    return {"id": e.id, "body": e.body, "author": person(e.actor) if e.actor_id else None,
            "created_at": iso(e.created_at)}


def load(data: bytes):
    """The parsed JSON of a request body; ValueError with a message a client can act on."""
    try:
        return json.loads(data)
    except RecursionError:
        # The decoder recurses per level; no body of this API nests more than two.
        raise ValueError("the JSON nests too deeply") from None
    except ValueError as exc:
        raise ValueError(f"the body is not valid JSON ({exc})") from None


def text_error(value: str) -> str | None:
    """Why a JSON string cannot be stored as text, or None: NUL, or a surrogate escape left unpaired."""
    if "\x00" in value:
        return "contains a NUL character (\\0), which text cannot hold; remove it"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (an unpaired surrogate escape such as \\ud800)"
    return None


def form_values(body: dict) -> tuple[dict[str, str], dict[str, str]]:
    """A JSON object's values as the strings a posted form carries, plus errors for values no form could hold.

    null and "" clear a field; true/false answer yes/no questions; numbers become their decimal text.
    """
    form, errors = {}, {}
    for name, value in body.items():
        if value is None:
            form[name] = ""
        elif isinstance(value, bool):
            form[name] = "yes" if value else "no"
        elif isinstance(value, (int, float)):
            form[name] = repr(value) if isinstance(value, float) else str(value)
        elif isinstance(value, str):
            form[name] = value
            if text_error(value):
                errors[name] = text_error(value)
        else:
            errors[name] = "must be a string, number, true/false or null"
    return form, errors


def strings(body: dict, name: str) -> tuple[list[str], str | None]:
    """A value that is a list of strings (or one string, a line each), and the error when it is not."""
    value = body.get(name) or []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        return [], "must be a list of strings, one item each"
    return value, next(filter(None, map(text_error, value)), None)


def timestamp(raw: str) -> dt.datetime:
    """An ISO 8601 timestamp as naive UTC (a value without an offset is taken as UTC)."""
    raw = raw.strip()
    # A query string turns the + of an offset into a space: "2026-03-01T08:00:00 02:00".
    raw = re.sub(r"T(.+) (\d\d:?\d\d)$", r"T\1+\2", raw).replace("Z", "+00:00")
    value = dt.datetime.fromisoformat(raw)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value
