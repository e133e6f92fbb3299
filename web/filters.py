"""Jinja filters for dates, sizes and phone numbers."""
from __future__ import annotations

import datetime as dt

from flask import Flask

from models import vocab


def install(app: Flask) -> None:
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["kw"] = kw
    app.jinja_env.filters["phone"] = vocab.phone_display
    app.jinja_env.filters["ago"] = ago
    from models.projects import BALL, FIELD_LABELS
    app.jinja_env.globals["field_labels"] = FIELD_LABELS
    app.jinja_env.globals["ball_labels"] = BALL

    @app.context_processor
    def _programs():
        from models.catalog_ref import current
        return {"program_names": {code: p.name for code, p in current().programs.items()}}


def when(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") + " UTC"
    return value.isoformat()


def kw(value, unit: str = "kW") -> str:
    if value is None:
        return ""
    return f"{value:,.2f}".rstrip("0").rstrip(".") + f" {unit}"


def ago(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    seconds = (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - value).total_seconds()
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"
