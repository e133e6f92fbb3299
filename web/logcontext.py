"""Request ids: a sane incoming X-Request-Id or one made here, on every log line of the request and its answer."""
from __future__ import annotations

import re
import secrets

from flask import Flask

import logs

HEADER = "X-Request-Id"
SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
ENVIRON_KEY = "ixdesk.request_id"


def request_id_of(header: str | None) -> str:
    """The proxy's id when it is a plain token (it ties our lines to its access log), else a new one."""
    if header and SANE.fullmatch(header):
        return header
    return secrets.token_hex(8)


class RequestIds:
    """WSGI middleware, so the id is set before anything of the app runs (the session lookup included)
    and reaches every answer, error pages too."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        request_id = request_id_of(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = request_id

        def start(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != HEADER.lower()] + [(HEADER, request_id)]
            return start_response(status, headers, exc_info)

        with logs.bound(request_id=request_id):
            return self.wsgi_app(environ, start)


def install(app: Flask) -> None:
    app.wsgi_app = RequestIds(app.wsgi_app)
