"""Flask's session kept in the database (models.sessions): the cookie carries only a random id.

`session` works as before for what it holds (the CSRF token, flashed messages); signing in and out
goes through sign_in() and sign_out(), which start and end rows.
"""
from __future__ import annotations

import hashlib
import os

from flask import Flask, Request, Response, current_app
from flask.sessions import SessionInterface, SessionMixin
from peewee import InterfaceError, OperationalError
from werkzeug.datastructures import CallbackDict

from models.sessions import LONGEST, WebSession
from models.users import User

# Requests that never need a session: no lookup, no cookie written.
NO_SESSION_PREFIXES = ("/static/", "/vendor/", "/api/", "/healthz")
KEPT_AT_SIGN_IN = ("_flashes",)  # what an anonymous session hands to the signed-in one (a new CSRF token)


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, row: WebSession | None = None, skipped: bool = False):
        def changed(_):
            self.modified = True
        super().__init__(row.values if row else {}, changed)
        self.row = row
        self.skipped = skipped
        self.new_secret: str | None = None
        self.ended = False
        self.ended_why: str | None = None  # the cookie named a session that is over, and this is why
        self.modified = False

    @property
    def user(self) -> User | None:
        return self.row.user if self.row is not None and self.row.user_id else None


class DatabaseSessions(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> ServerSession:
        if request.path.startswith(NO_SESSION_PREFIXES):
            return ServerSession(skipped=True)
        secret = request.cookies.get(self.get_cookie_name(app), "")
        try:
            found = ServerSession(WebSession.open(secret) if secret else None)
            if secret and found.row is None:
                found.ended_why = WebSession.why_ended(secret)  # the sign-in page says why
            return found
        except (OperationalError, InterfaceError):
            # The database is down: no session this time; the request's own database use then answers
            # with the desk's 503 page (an error here would bypass the error handlers).
            return ServerSession(skipped=True)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:
        if session.skipped:
            return
        name = self.get_cookie_name(app)
        response.vary.add("Cookie")
        if session.row is None:
            if not session:
                if session.ended:
                    response.delete_cookie(name, path=self.get_cookie_path(app), domain=self.get_cookie_domain(app))
                return
            session.row, session.new_secret = WebSession.begin(None, dict(session))
        else:
            session.row.keep(dict(session) if session.modified else None)
        if session.new_secret:
            row = session.row
            response.set_cookie(
                name, session.new_secret, expires=(row.created_at + LONGEST) if row.user_id else None,
                httponly=self.get_cookie_httponly(app), secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app), path=self.get_cookie_path(app),
                domain=self.get_cookie_domain(app))


def install(app: Flask) -> None:
    app.session_interface = DatabaseSessions()


def sign_in(session: ServerSession, user: User, user_agent: str, address: str) -> WebSession:
    """A new session for user (a new id: one a stranger planted before sign-in is worth nothing after)."""
    if session.row is not None:
        session.row.end("signed in again")
    carried = {k: session[k] for k in KEPT_AT_SIGN_IN if k in session}
    # A CSRF token of its own from the start (Flask-WTF keeps it under this key and makes one on first
    # use otherwise, which would write the session again on the first page).
    carried[current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")] = hashlib.sha1(os.urandom(64)).hexdigest()
    session.clear()
    session.update(carried)
    session.row, session.new_secret = WebSession.begin(user, carried, user_agent=user_agent, address=address)
    session.modified = False
    return session.row


def sign_out(session: ServerSession, why: str = "signed out") -> None:
    """End this device's session; what is flashed afterwards goes into a new anonymous one."""
    if session.row is not None:
        session.row.end(why)
    session.row = None
    session.clear()
    session.ended = True
