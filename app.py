"""ixdesk application factory; `python app.py` runs the embedded all-in-one (web + worker)."""
from __future__ import annotations

import logging
import os
import sys

from flask import Flask

from flask_wtf.csrf import CSRFProtect

import config
from models import tokens
from catalog import CatalogError
from models.base import connect, db
from web import logcontext
from web.htmx import htmx

log = logging.getLogger(__name__)
csrf = CSRFProtect()


def create_app(overrides: dict | None = None) -> Flask:
    """Build the Flask app from the environment, with overrides (tests) on top."""
    settings = config.load(overrides=overrides)
    app = Flask(__name__)
    app.config.update(
        IXDESK=settings,
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        # Room for the form around one file of the largest allowed size; the file's own limit is checked per file.
        MAX_CONTENT_LENGTH=(settings.max_upload_mb + 1) * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_NAME="ixdesk_session",
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,
        **settings.extra,
    )
    if settings.trusted_proxies:
        # Only the configured number of proxies' X-Forwarded-For entries are believed, counted from the right.
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    configure_logging(settings)
    logcontext.install(app)  # X-Request-Id in and out, and on every log line of the request
    tokens.configure(settings.token_keys)
    connect_database(app, settings)
    check_catalog(settings)
    csrf.init_app(app)
    htmx.init_app(app)
    register_blueprints(app)
    csrf.exempt("web.sms_webhook.twilio_inbound")  # no session, no form token: Twilio's signature instead
    from web.api import bp as api
    csrf.exempt(api)  # the JSON API never reads the session cookie: each request carries its bearer token
    register_cli(app)
    return app


def configure_logging(settings: config.Config) -> None:
    if not logging.getLogger().handlers:
        config.configure_logging(settings.log_level, settings.log_format)
    logging.getLogger().setLevel(settings.log_level)


def connect_database(app: Flask, settings: config.Config) -> None:
    from models import base, storage
    connect(settings.database_url, pool_size=settings.database_pool_size)
    base.set_desk_timezone(settings.desk_timezone)
    storage.configure(settings.storage_dir, settings.storage_url)

    @app.before_request
    def _open():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()


def check_catalog(settings: config.Config) -> None:
    """Refuse to start on an invalid catalog: a wrong rule is worse than no rule."""
    from models import catalog_ref, prefill
    catalog_ref.load(settings.catalog_dir)
    prefill.load_templates(settings.catalog_dir)


def register_blueprints(app: Flask) -> None:
    from web import register
    register(app)


def register_cli(app: Flask) -> None:
    from web.cli import register
    register(app)


def serve(host: str = "127.0.0.1", port: int = 5000) -> None:
    """The embedded all-in-one: migrations, in-process worker, then the web server."""
    app = create_app()
    from models import schema
    from workers import embedded
    from models import Utility
    from models.catalog_ref import current
    with db.connection_context():
        schema.upgrade()
        Utility.sync(current())
    embedded.start()
    from workers import schedule
    from workers.sweeper import requeue_stale
    with db.connection_context():
        requeue_stale()
    schedule.start_thread()
    from inbox.intake import enqueue
    from inbox.watch import start as watch_mail
    settings = app.config["IXDESK"]
    watch_mail(settings.inbox_urls, enqueue)
    log.info("ixdesk on http://%s:%d (embedded worker running)", host, port)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    try:
        serve(port=int(os.environ.get("PORT", "5000")))
    except config.ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    except CatalogError as exc:
        sys.exit(f"refusing to start: {exc}")
