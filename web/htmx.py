"""Every htmx header ixdesk reads or writes is named here and nowhere else."""
from __future__ import annotations

import json

from flask import Response, render_template
from flask_htmx import HTMX

htmx = HTMX()
# What an htmx request sends; for scripts (bench/) that ask for fragments the way the browser does.
FRAGMENT_REQUEST = {"HX-Request": "true"}


def is_fragment_request() -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return bool(htmx) and not htmx.history_restore_request


def current_page() -> str | None:
    """The URL of the page that made this htmx request."""
    return htmx.current_url


def render(full_template: str, fragment_template: str, status: int = 200, **context) -> Response:
    """The full page for a plain request, only the fragment for htmx; both vary on HX-Request."""
    template = fragment_template if is_fragment_request() else full_template
    resp = Response(render_template(template, **context), status=status)
    resp.headers["Vary"] = "HX-Request, HX-History-Restore-Request"
    return resp


def trigger(resp: Response, *events: str, **detailed) -> Response:
    """Fire client events after the swap (other regions listen for them)."""
    payload = {e: True for e in events} | detailed
    resp.headers["HX-Trigger"] = json.dumps(payload)
    return resp


def redirect(url: str) -> Response:
    """A client-side redirect for htmx requests."""
    resp = Response(status=204)
    resp.headers["HX-Redirect"] = url
    return resp

