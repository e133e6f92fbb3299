"""Flask blueprints, one per area, plus the request-wide guards."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, send_from_directory

ROOT = Path(__file__).resolve().parent.parent
HTMX_DIST = ROOT / "node_modules" / "htmx.org" / "dist"


def register(app: Flask) -> None:
    from web import (admin, api, applications, auth, catalog, checklists, day, documents, errors, filters, forms,
                     imports, inbox, messages, projects, sms_webhook)
    import workers.webhook_actors  # noqa: F401  (status changes made here wake webhook deliveries)
    app.register_blueprint(auth.bp)
    app.register_blueprint(projects.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(checklists.bp)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(applications.bp)
    app.register_blueprint(day.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(forms.bp)
    app.register_blueprint(messages.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(sms_webhook.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    from web import dashboards
    app.register_blueprint(dashboards.bp)
    from web import status
    app.register_blueprint(status.bp)
    auth.install(app)
    filters.install(app)
    errors.install(app)

    @app.get("/vendor/htmx.min.js")
    def htmx_js():
        """htmx as installed by npm (pinned 2.x in package.json), never committed."""
        if not (HTMX_DIST / "htmx.min.js").exists():
            abort(404, "htmx is not installed: run `npm ci` (make does this)")
        return send_from_directory(HTMX_DIST, "htmx.min.js", mimetype="application/javascript",
                                   max_age=86400)

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'")
        return resp
