"""Error pages: the same layout, a message that says what to do; input no text column can hold is refused."""
from __future__ import annotations

from typing import Callable

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

NUL = "\x00"


def validates_text(view: Callable) -> Callable:
    """Mark a view that refuses a NUL itself, in its own form, instead of on the generic error page."""
    view.validates_text = True
    return view


def nul_field(*sources: MultiDict | dict | None) -> str | None:
    """The name of the first field (query arg, form field, URL part, or a field's name) that holds a NUL."""
    for source in sources:
        pairs = source.items(multi=True) if isinstance(source, MultiDict) else (source or {}).items()
        for name, value in pairs:
            if NUL in name or NUL in str(value):
                return name.replace(NUL, "\\0")
    return None


def install(app: Flask) -> None:
    @app.before_request
    def _refuse_nul():
        # PostgreSQL refuses NUL in text (the query fails), SQLite stores it: refused here, both answer alike.
        # The API checks its own input after the token (web.api), answering in JSON.
        view = current_app.view_functions.get(request.endpoint)
        if request.blueprint == "api" or getattr(view, "validates_text", False):
            return None
        name = nul_field(request.view_args, request.args, request.form)
        if name is None:
            return None
        return render_template("errors.html", code=422, title="Text with a NUL character",
                               message=f"The field “{name}” contains a NUL character (\\0), which text cannot "
                                       f"hold. Go back, remove it (it often comes with pasted text) and "
                                       f"send again."), 422

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_template("errors.html", code=400, title="Form expired",
                               message="The form was open too long or came from elsewhere. Reload the page and try again; "
                                       "what you typed is still in the previous page if you go back."), 400

    @app.errorhandler(413)
    def _too_large(exc):
        limit = app.config["IXDESK"].max_upload_mb
        return render_template("errors.html", code=413, title="File too large",
                               message=f"The upload is larger than the {limit} MB limit per file. "
                                       f"Send large files one at a time, or ask an admin to raise MAX_UPLOAD_MB."), 413

    @app.errorhandler(OverflowError)
    def _too_big_a_number(exc):
        # An id beyond 64 bits in a URL (/inbox/99999999999999999999999) names nothing that can exist.
        from flask import jsonify, request
        message = "no such record (the number is out of range)"
        if request.path.startswith("/api/"):
            return jsonify({"error": {"code": "not_found", "message": message}}), 404
        return render_template("errors.html", code=404, title="404 Not Found", message=message), 404

    @app.errorhandler(HTTPException)
    def _http(exc):
        return render_template("errors.html", code=exc.code, title=f"{exc.code} {exc.name}",
                               message=exc.description), exc.code

    from models.storage import MissingFile, StorageError

    @app.errorhandler(StorageError)
    def _store_failed(exc):
        # The file store is down or refused (never a half-kept file): a clear answer instead of a 500.
        # A file it does not have is no outage: retrying will not bring it back.
        from flask import jsonify, request
        missing = isinstance(exc, MissingFile)
        status = 500 if missing else 503
        app.logger.warning("%s %s: %s", request.method, request.path, exc)
        message = str(exc)
        if request.path.startswith("/api/"):
            return jsonify({"error": {"code": "file_missing" if missing else "storage_unavailable",
                                      "message": message}}), status, {} if missing else {"Retry-After": "60"}
        if missing:
            message += ". Tell an admin: the record is here, its file is not."
        elif request.method == "POST":
            message += (". Go back (the form still holds what you typed) and send it again: whatever was "
                        "already stored is recognised, not kept twice.")
        title = "File missing" if missing else "File store unavailable"
        return render_template("errors.html", code=status, title=title, message=message), status, \
            {} if missing else {"Retry-After": "60"}

    from peewee import InterfaceError, OperationalError

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unreachable(exc):
        # The database went away (or refuses connections): a clear 503, never a stack trace page. A
        # constraint or data error is not one of these and stays a bug (500).
        from flask import jsonify, request
        app.logger.warning("%s %s: database unreachable (%s)", request.method, request.path, type(exc).__name__)
        message = "The database cannot be reached right now; try again in a minute."
        if request.method == "POST":
            message += " Nothing you sent was saved: go back and send it again."
        if request.path.startswith("/api/"):
            return jsonify({"error": {"code": "database_unavailable", "message": message}}), 503, \
                {"Retry-After": "30"}
        return render_template("errors.html", code=503, title="Database unavailable", message=message), 503, \
            {"Retry-After": "30"}
