"""Who may call what: every route of the app × every kind of caller, with the answer each must get.

A refused state-changing request (POST, PUT, PATCH, DELETE) must also change nothing: every table is hashed
before and after it. A route the matrix does not list fails `test_every_route_is_in_the_matrix`, so whoever
adds a route states here who may call it.

The people and their sessions are made once for the module; the desk they act on (projects, mail,
documents, jobs, webhooks, tokens) is put back only after a request that changed something: on SQLite
by copying back the database as first built, elsewhere by building it again.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from peewee import SqliteDatabase

from tests.factories import PASSWORD

ANON, OWN, OTHER, COORD, LEAD, ADMIN = ("anonymous", "coordinator-own", "coordinator-other", "coordinator", "lead",
                                        "admin")
SCOPED_ACTORS = (ANON, OWN, OTHER, LEAD, ADMIN)  # OWN acts on Maria's things, everyone else on James's
PLAIN_ACTORS = (ANON, COORD, LEAD, ADMIN)  # routes about no one project
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
HX = {"HX-Request": "true"}

# Answer classes.
ALLOW = "allow"  # the view did its work: 2xx, or a redirect that is not to the login page
LOGIN = "login"  # no session: sent to the login page (a 302, or HX-Redirect for htmx)
UNAUTH = "unauth"  # the API without a valid token: 401
DENY = "deny"  # 403, or 404 where the thing is only ever looked up among the caller's own
NOOP = "noop"  # a batch action answers 303 with what it refused, item by item; nothing may change
MISSING = "missing"  # 404 for everyone (the API's catch-all, the SMS webhook with no SMS backend)
KEPT_ONLY = "kept-only"  # allowed to keep what it was sent (an uploaded mail), but nothing else may change

# Cells where the matrix states the correct answer but the code gives another, with why; each fails loudly.
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}

# Columns a request may touch without being a change: session and token bookkeeping.
BOOKKEEPING = {"WebSession": {"data", "last_seen_at", "expires_at"}, "ApiToken": {"last_used_at"},
               "KnownDevice": {"last_used_at"}, "ApiRequestCount": "*", "ApiUserRequestCount": "*"}
# Rows that are bookkeeping as a whole: a session nobody signed in to (a visitor's flash messages).
SIGNED_IN_ONLY = {"WebSession"}
# Rows that live across the whole module: the people and how they are signed in.
KEPT_TABLES = {"User", "Utility", "WebSession", "LoginFailure", "KnownDevice"}


@dataclass(frozen=True)
class Route:
    """One (rule, method): the URL for a side ("own": Maria's things, "other": James's), what to send, who may."""

    url: Callable[["World", str], str]
    expect: dict[str, str]
    data: Callable[["World", str], dict] | None = None
    json: Callable[["World", str], dict] | None = None
    headers: dict = field(default_factory=dict)
    files: bool = False  # data holds files: send multipart
    allowed_codes: frozenset = frozenset()  # besides 2xx/3xx: what an allowed call may answer (422 for bad data)
    fresh_client: bool = False  # the call ends the caller's own session: make it from a new sign-in
    signed_out: bool = False  # the call signs in: make it from a new browser, whoever the caller is
    note: str = ""

    @property
    def scoped(self) -> bool:
        return OWN in self.expect


def _u(template: str) -> Callable[["World", str], str]:
    return lambda w, side: template.format(w=w, s=w.side(side))


def anyone(url, **kw) -> Route:
    """Any signed-in person; about no project."""
    return Route(_u(url) if isinstance(url, str) else url, {ANON: LOGIN, COORD: ALLOW, LEAD: ALLOW, ADMIN: ALLOW},
                 **kw)


def readers(url, **kw) -> Route:
    """Any signed-in person, whoever's the project is (reading, notes, flags)."""
    return Route(_u(url) if isinstance(url, str) else url,
                 {ANON: LOGIN, OWN: ALLOW, OTHER: ALLOW, LEAD: ALLOW, ADMIN: ALLOW}, **kw)


def editors(url, refused: str = DENY, **kw) -> Route:
    """Those who may change the project: its coordinator, leads and admins."""
    return Route(_u(url) if isinstance(url, str) else url,
                 {ANON: LOGIN, OWN: ALLOW, OTHER: refused, LEAD: ALLOW, ADMIN: ALLOW}, **kw)


def owners(url, **kw) -> Route:
    """Only the person the thing belongs to (their tokens, their sessions): anyone else is told it does not exist."""
    return Route(_u(url) if isinstance(url, str) else url,
                 {ANON: LOGIN, OWN: ALLOW, OTHER: DENY, LEAD: DENY, ADMIN: DENY}, **kw)


def leads(url, **kw) -> Route:
    return Route(_u(url) if isinstance(url, str) else url, {ANON: LOGIN, COORD: DENY, LEAD: ALLOW, ADMIN: ALLOW},
                 **kw)


def admins(url, **kw) -> Route:
    return Route(_u(url) if isinstance(url, str) else url, {ANON: LOGIN, COORD: DENY, LEAD: DENY, ADMIN: ALLOW},
                 **kw)


def public(url, answer: str = ALLOW, **kw) -> Route:
    """No sign-in needed (the route checks what it needs itself)."""
    return Route(_u(url) if isinstance(url, str) else url, {a: answer for a in PLAIN_ACTORS}, **kw)


def api(kind: Callable, url, **kw) -> Route:
    """The same rule through the JSON API: a bearer token instead of a session, 401 instead of the login page."""
    route = kind(url, **kw)
    return Route(**{**route.__dict__, "expect": {a: UNAUTH if c == LOGIN else c for a, c in route.expect.items()}})


def _mail_form(w, side, **extra) -> dict:
    return {"version": w.side(side).mail_version, **extra}


def _eml_upload(w, side) -> dict:
    from tests import files, mails
    from models import tokens
    raw = mails.message("someone@elsewhere.example", f"Papers {tokens.subject_tag(w.side(side).project)}",
                        f"for {side}", attachments=[("signed_agreement.pdf", files.pdf("Signed"), "application/pdf")])
    return {"files": [(io.BytesIO(raw), "papers.eml")]}


def _doc_upload(w, side) -> dict:
    from tests import files
    return {"files": [(io.BytesIO(files.pdf(f"site plan {side}")), "site_plan.pdf")]}


def _csv_upload(w, side) -> dict:
    return {"file": (io.BytesIO(b"external_id,customer_name,utility\nCSV1,Csv Customer,PGE\n"), "p.csv")}


def _new_project(w, side) -> dict:
    return {"external_id": f"NEW{w.serial}", "customer_name": "New Customer", "utility": "PGE", "stage": "intake",
            "street": "1 New St", "city": "Oakland", "state": "CA", "zip": "94610", "product_type": "pv"}


LATER = (dt.date.today() + dt.timedelta(days=7)).isoformat()

MATRIX: dict[tuple[str, str], Route] = {
    # Public: the login page, files, and the Twilio webhook (it checks Twilio's signature; off without SMS).
    ("/login", "GET"): public("/login"),
    ("/login", "POST"): public("/login", data=lambda w, side: {"email": "james@example.com", "password": PASSWORD},
                               signed_out=True, note="the right password, from a browser of its own: failed "
                                                     "sign-ins are rate limited"),
    ("/static/<path:filename>", "GET"): public("/static/app.css"),
    ("/vendor/htmx.min.js", "GET"): public("/vendor/htmx.min.js", allowed_codes=frozenset({404})),
    ("/healthz", "GET"): public("/healthz", note="for load balancers: says only whether the database answers"),
    ("/sms/twilio", "POST"): public("/sms/twilio", MISSING, data=lambda w, side: {"From": "+14155550100",
                                                                                 "Body": "STOP"}),
    # Signed in, about no project.
    ("/", "GET"): anyone("/"),
    ("/projects", "GET"): anyone("/projects"),
    ("/projects/export.csv", "GET"): anyone("/projects/export.csv"),
    ("/projects/new", "GET"): anyone("/projects/new"),
    ("/projects/new", "POST"): anyone("/projects/new", data=_new_project),
    ("/flagged", "GET"): anyone("/flagged"),
    ("/catalog", "GET"): anyone("/catalog"),
    ("/catalog/<code>", "GET"): anyone("/catalog/PGE"),
    ("/catalog/permits/<code>", "GET"): anyone("/catalog/permits/generic"),
    ("/day", "GET"): anyone("/day"),
    ("/day/count", "GET"): anyone("/day/count"),
    ("/forms", "GET"): anyone("/forms"),
    ("/forms/<code>", "GET"): anyone("/forms/SAMPLE_IX_APP"),
    ("/imports", "GET"): anyone("/imports"),
    ("/inbox", "GET"): anyone("/inbox"),
    ("/inbox/count", "GET"): anyone("/inbox/count"),
    ("/inbox/new", "GET"): anyone("/inbox/new?after=1"),
    ("/inbox/mailboxes", "GET"): anyone("/inbox/mailboxes"),
    ("/inbox/mailboxes/<int:index>/reconcile", "POST"): anyone("/inbox/mailboxes/0/reconcile"),
    ("/inbox/reconcile/<int:job_id>", "GET"): anyone("/inbox/reconcile/{w.reconcile_job}"),
    ("/packets/<int:job_id>", "GET"): anyone("/packets/{w.packet_job}"),
    ("/me", "GET"): anyone("/me"),
    ("/me", "POST"): anyone("/me", data=lambda w, side: {"form": "digest", "digest": "1"}),
    ("/me/tokens", "POST"): anyone("/me/tokens", data=lambda w, side: {"name": "matrix"}),
    ("/me/sessions/end-others", "POST"): anyone("/me/sessions/end-others"),
    ("/logout", "POST"): anyone("/logout", fresh_client=True),
    # Only one's own tokens and sessions; for anyone else they do not exist.
    ("/me/tokens/<int:token_id>/revoke", "POST"): owners("/me/tokens/{s.spare_token}/revoke"),
    ("/me/sessions/<int:session_id>/end", "POST"): owners(lambda w, side: f"/me/sessions/{w.session_of(side)}/end"),
    # Leads and admins.
    ("/dashboard", "GET"): leads("/dashboard"),
    ("/dashboard/drill", "GET"): leads("/dashboard/drill?metric=funnel&key=intake"),
    ("/dashboard/drill.csv", "GET"): leads("/dashboard/drill.csv?metric=funnel&key=intake"),
    ("/dashboard/<table>.csv", "GET"): leads("/dashboard/funnel.csv"),
    ("/leads", "GET"): leads("/leads"),
    ("/leads/reassign", "POST"): leads("/leads/reassign", data=lambda w, side: {
        "projects": [w.other.project], "coordinator": w.lead_id}),
    ("/imports/new", "GET"): leads("/imports/new"),
    ("/imports", "POST"): leads("/imports", data=_csv_upload, files=True),
    ("/imports/<int:job_id>", "GET"): leads("/imports/{w.import_job}"),
    ("/imports/<int:job_id>/apply", "POST"): leads("/imports/{w.import_job}/apply"),
    ("/projects/<int:project_id>/unflag", "POST"): Route(
        _u("/projects/{s.project}/unflag"), {ANON: LOGIN, OWN: DENY, OTHER: DENY, LEAD: ALLOW, ADMIN: ALLOW},
        data=lambda w, side: {"note": "seen"}),
    # Admins.
    ("/status", "GET"): admins("/status", allowed_codes=frozenset({503}), note="503 when a part of the desk is down"),
    ("/admin/webhooks", "GET"): admins("/admin/webhooks"),
    ("/admin/webhooks", "POST"): admins("/admin/webhooks", data=lambda w, side: {
        "url": w.hook_url + "/other", "events": ["status_changed"]}),
    ("/admin/webhooks/<int:hook_id>", "GET"): admins("/admin/webhooks/{w.hook}"),
    ("/admin/webhooks/<int:hook_id>/deactivate", "POST"): admins("/admin/webhooks/{w.hook}/deactivate"),
    ("/admin/webhooks/<int:hook_id>/test", "POST"): admins("/admin/webhooks/{w.hook}/test"),
    ("/admin/deliveries/<int:delivery_id>/retry", "POST"): admins("/admin/deliveries/{w.delivery}/retry"),
    ("/admin/users", "GET"): admins("/admin/users"),
    ("/admin/users/<int:user_id>", "GET"): admins("/admin/users/{w.james_id}"),
    ("/admin/users/<int:user_id>/deactivate", "POST"): admins("/admin/users/{w.spare_user}/deactivate"),
    ("/admin/users/<int:user_id>/reactivate", "POST"): admins("/admin/users/{w.inactive_user}/reactivate"),
    ("/admin/users/<int:user_id>/end-sessions", "POST"): admins("/admin/users/{w.james_id}/end-sessions"),
    ("/forms", "POST"): admins("/forms", data=lambda w, side: {"code": "X"}, files=True,
                               allowed_codes=frozenset({422}), note="no PDF: the admin's answer is the form again"),
    ("/forms/<code>", "POST"): admins("/forms/SAMPLE_IX_APP", data=lambda w, side: {}),
    # A project's pages: anyone reads them, writes notes and flags it.
    ("/projects/<int:project_id>", "GET"): readers("/projects/{s.project}"),
    ("/projects/<int:project_id>/facts", "GET"): readers("/projects/{s.project}/facts"),
    ("/projects/<int:project_id>/keyline", "GET"): readers("/projects/{s.project}/keyline"),
    ("/projects/<int:project_id>/timeline", "GET"): readers("/projects/{s.project}/timeline"),
    ("/projects/<int:project_id>/notes", "POST"): readers("/projects/{s.project}/notes",
                                                          data=lambda w, side: {"body": "a note"}),
    ("/projects/<int:project_id>/flag", "POST"): readers("/projects/{s.project}/flag",
                                                         data=lambda w, side: {"reason": "stuck"}),
    ("/projects/<int:project_id>/checklist", "GET"): readers("/projects/{s.project}/checklist"),
    ("/projects/<int:project_id>/checklist/preview", "POST"): readers(
        "/projects/{s.project}/checklist/preview", data=lambda w, side: {"battery_kwh": "10"},
        note="shows what an edit would change; saves nothing"),
    ("/projects/<int:project_id>/documents", "GET"): readers("/projects/{s.project}/documents"),
    ("/documents/<int:doc_id>", "GET"): readers("/documents/{s.doc}"),
    ("/documents/<int:doc_id>/file", "GET"): readers("/documents/{s.doc}/file"),
    ("/inbox/<int:mail_id>", "GET"): readers("/inbox/{s.mail}"),
    ("/inbox/<int:mail_id>/raw", "GET"): readers("/inbox/{s.mail}/raw"),
    # Changing a project: its coordinator, leads and admins.
    ("/projects/<int:project_id>/edit", "GET"): editors("/projects/{s.project}/edit"),
    ("/projects/<int:project_id>", "POST"): editors("/projects/{s.project}",
                                                    data=lambda w, side: {"customer_name": "Renamed"}),
    ("/projects/<int:project_id>/applications", "POST"): editors("/projects/{s.project}/applications",
                                                                 data=lambda w, side: {"kind": "ahj_permit"}),
    ("/applications/<int:app_id>/transition", "POST"): editors("/applications/{s.app}/transition",
                                                               data=lambda w, side: {"to": "TECHNICAL_REVIEW"}),
    ("/applications/<int:app_id>/contact", "POST"): editors("/applications/{s.app}/contact",
                                                            data=lambda w, side: {"channel": "call", "note": "x"}),
    ("/applications/<int:app_id>/reopen", "POST"): editors("/applications/{s.closed_app}/reopen",
                                                           data=lambda w, side: {"why": "signed again"}),
    ("/applications/<int:app_id>/packet", "POST"): editors("/applications/{s.app}/packet",
                                                           data=lambda w, side: {"allow_incomplete": "1"}),
    ("/projects/<int:project_id>/checklist/regenerate", "POST"): editors("/projects/{s.project}/checklist/regenerate"),
    ("/checklist/<int:item_id>", "POST"): editors("/checklist/{s.item}", data=lambda w, side: {"status": "requested"}),
    ("/projects/<int:project_id>/documents", "POST"): editors("/projects/{s.project}/documents", data=_doc_upload,
                                                              files=True),
    ("/documents/<int:doc_id>/file-to", "POST"): editors("/documents/{s.doc}/file-to",
                                                         data=lambda w, side: {"item_id": w.side(side).item}),
    ("/documents/<int:doc_id>/review", "POST"): editors("/documents/{s.doc}/review",
                                                        data=lambda w, side: {"verdict": "accepted"}),
    ("/projects/<int:project_id>/prefill", "POST"): editors("/projects/{s.project}/prefill",
                                                            data=lambda w, side: {"code": "SAMPLE_IX_APP"}),
    ("/projects/<int:project_id>/compose", "GET"): editors("/projects/{s.project}/compose"),
    ("/projects/<int:project_id>/compose/preview", "POST"): editors(
        "/projects/{s.project}/compose/preview", data=lambda w, side: {"to": ["c@example.net"], "subject": "Hi",
                                                                       "body": "Hello"}),
    ("/projects/<int:project_id>/compose/send", "POST"): editors(
        "/projects/{s.project}/compose/send", data=lambda w, side: {"to": ["c@example.net"], "subject": "Hi",
                                                                    "body": "Hello"}),
    ("/projects/<int:project_id>/calls", "POST"): editors("/projects/{s.project}/calls", data=lambda w, side: {
        "contact": w.side(side).contact, "direction": "outbound", "outcome": "reached", "notes": "spoke"}),
    ("/projects/<int:project_id>/contacts", "POST"): editors("/projects/{s.project}/contacts", data=lambda w, side: {
        "name": "Rep", "role": "utility", "email": "rep@example.org"}),
    ("/projects/<int:project_id>/texts", "POST"): editors("/projects/{s.project}/texts", data=lambda w, side: {
        "phone": "+14155550100", "body": "Hello"}),
    ("/projects/<int:project_id>/auto-reminders", "POST"): editors("/projects/{s.project}/auto-reminders",
                                                                   data=lambda w, side: {"on": "0"}),
    ("/day/act", "POST"): editors("/day/act", data=lambda w, side: {
        "key": f"flag:{w.side(side).project}:0", "action": "done", "note": "done"}),
    ("/day/bulk", "POST"): editors("/day/bulk", data=lambda w, side: {
        "keys": [f"flag:{w.side(side).project}:0"], "action": "snooze", "until": LATER, "reason": "holiday"}),
    # Inbox triage: mail on a project is for those who may change the project; mail on none is anyone's.
    ("/inbox/<int:mail_id>/link", "POST"): editors("/inbox/{w.stray}/link", headers=HX, data=lambda w, side: {
        "project": w.side(side).external_id, "version": w.stray_version}),
    ("/inbox/<int:mail_id>/unlink", "POST"): editors("/inbox/{s.mail}/unlink", headers=HX, data=_mail_form),
    ("/inbox/<int:mail_id>/accept", "POST"): editors("/inbox/{s.mail}/accept", headers=HX, data=_mail_form),
    ("/inbox/<int:mail_id>/reject", "POST"): editors("/inbox/{s.mail}/reject", headers=HX,
                                                     data=lambda w, side: _mail_form(w, side, reason="wrong")),
    ("/inbox/<int:mail_id>/assign", "POST"): editors("/inbox/{s.mail}/assign", headers=HX,
                                                     data=lambda w, side: _mail_form(w, side, user=w.maria_id)),
    ("/inbox/<int:mail_id>/handled", "POST"): editors("/inbox/{s.mail}/handled", headers=HX, data=_mail_form),
    ("/inbox/<int:mail_id>/rerun", "POST"): editors("/inbox/{s.mail}/rerun", headers=HX, data=_mail_form),
    ("/inbox/bulk", "POST"): editors("/inbox/bulk", NOOP, data=lambda w, side: {
        "ids": [w.side(side).mail], "action": "handled"}, note="each mail on its own: refused ones are listed"),
    ("/inbox/upload", "POST"): editors("/inbox/upload", KEPT_ONLY, data=_eml_upload, files=True,
                                       note="the mail is kept; nothing lands on a project its uploader may not change"),
    # The JSON API: the same rules, with a token.
    ("/api/v1/projects", "GET"): api(anyone, "/api/v1/projects"),
    ("/api/v1/projects", "POST"): api(anyone, "/api/v1/projects", json=lambda w, side: {
        "external_id": f"API{w.serial}", "customer_name": "Api Customer", "utility": "PGE", "street": "1 Api St",
        "city": "Oakland", "state": "CA", "zip": "94610"}),
    ("/api/v1/events", "GET"): api(anyone, "/api/v1/events"),
    ("/api/v1/projects/<external_id>", "GET"): api(readers, "/api/v1/projects/{s.external_id}"),
    ("/api/v1/projects/<external_id>", "PATCH"): api(editors, "/api/v1/projects/{s.external_id}",
                                                     json=lambda w, side: {"customer_name": "Renamed"}),
    ("/api/v1/projects/<external_id>/applications", "GET"): api(readers,
                                                                "/api/v1/projects/{s.external_id}/applications"),
    ("/api/v1/projects/<external_id>/applications", "POST"): api(
        editors, "/api/v1/projects/{s.external_id}/applications", json=lambda w, side: {"kind": "ahj_permit"}),
    ("/api/v1/projects/<external_id>/notes", "GET"): api(readers, "/api/v1/projects/{s.external_id}/notes"),
    ("/api/v1/projects/<external_id>/notes", "POST"): api(readers, "/api/v1/projects/{s.external_id}/notes",
                                                          json=lambda w, side: {"body": "a note"}),
    ("/api/v1/applications/<int:app_id>", "GET"): api(readers, "/api/v1/applications/{s.app}"),
    ("/api/v1/applications/<int:app_id>/transition", "POST"): api(editors, "/api/v1/applications/{s.app}/transition",
                                                                  json=lambda w, side: {"to": "TECHNICAL_REVIEW"}),
    ("/api/v1/applications/<int:app_id>/reopen", "POST"): api(editors, "/api/v1/applications/{s.closed_app}/reopen",
                                                              json=lambda w, side: {"why": "signed again"}),
}
for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    MATRIX[("/api/v1/", _method)] = api(public, "/api/v1/", answer=MISSING)
    MATRIX[("/api/v1/<path:rest>", _method)] = api(public, "/api/v1/nothing/here", answer=MISSING)
# Without a token the catch-all is refused like any API call.
for _key, _route in list(MATRIX.items()):
    if _key[0].startswith("/api/v1/") and _route.expect.get(ANON) == MISSING:
        MATRIX[_key] = Route(**{**_route.__dict__, "expect": {**_route.expect, ANON: UNAUTH}})


@dataclass
class Side:
    """The things of one coordinator's project (Maria's: own; James's: other)."""

    project: int = 0
    external_id: str = ""
    app: int = 0
    closed_app: int = 0
    item: int = 0
    doc: int = 0
    mail: int = 0
    mail_version: int = 0
    contact: int = 0
    spare_token: int = 0


@dataclass
class World:
    own: Side
    other: Side
    maria_id: int
    james_id: int
    lead_id: int
    stray: int = 0
    stray_version: int = 0
    hook: int = 0
    delivery: int = 0
    reconcile_job: int = 0
    packet_job: int = 0
    import_job: int = 0
    spare_user: int = 0
    inactive_user: int = 0
    serial: int = 0
    hook_url: str = ""
    session_of: Callable[[str], int] = None

    def side(self, side: str) -> Side:
        return self.own if side == "own" else self.other


def _digest() -> dict[str, str]:
    """A hash of every row of every table, leaving out session and token bookkeeping."""
    from models import MODELS
    out = {}
    for model in MODELS:
        skip = BOOKKEEPING.get(model.__name__, set())
        if skip == "*":
            continue
        fields = [f for f in model._meta.sorted_fields if f.name not in skip]
        rows = model.select(*fields).order_by(model._meta.primary_key)
        if model.__name__ in SIGNED_IN_ONLY:
            rows = rows.where(model.user.is_null(False))
        rows = rows.tuples()
        out[model.__name__] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return out


def _wipe(keep: set[str]) -> None:
    from models import MODELS
    from models.base import db
    for model in reversed(MODELS):
        if model.__name__ not in keep:
            db.execute_sql(f'DELETE FROM "{model._meta.table_name}"')


def _settle_queues() -> None:
    """Background work the last requests started ends before the desk is rebuilt, and none is left behind."""
    from tests.conftest import _drain_queues
    from workers import embedded
    if embedded._worker is not None:
        _drain_queues()
    else:
        from workers.broker import broker
        broker.flush_all()


class Desk:
    """The app, a signed-in client per person, API tokens, and the world they act on."""

    def __init__(self, app, users, hook_url: str):
        from tests.conftest import login
        self.app, self.users, self.login, self.hook_url = app, users, login, hook_url
        self.clients = {ANON: app.test_client()}
        for actor, name in ((OWN, "maria"), (LEAD, "lead"), (ADMIN, "admin"), ("james", "james")):
            self.clients[actor] = login(app.test_client(), users[name])
        self.clients[OTHER] = self.clients[COORD] = self.clients[OWN]
        self.world: World | None = None
        self.tokens: dict[str, str] = {}
        self.serial = 0
        self.built: World | None = None
        self.copy = None  # SQLite: the database as first built, copied back instead of building again

    def fresh(self) -> World:
        if self.world is None:
            _settle_queues()
            if self.copy is not None:
                self._copy_back()
                self.world = self.built
            else:
                _wipe(KEPT_TABLES)
                self.world = self.built = self._build()
                self.copy = self._copy()
        return self.world

    @staticmethod
    def _path() -> str | None:
        from models.base import db
        return db.obj.database if isinstance(db.obj, SqliteDatabase) else None

    def _copy(self):
        if self._path() is None:
            return None
        copy = sqlite3.connect(":memory:")
        with sqlite3.connect(self._path()) as source:
            source.backup(copy)
        return copy

    def _copy_back(self) -> None:
        from models.base import db
        if not db.is_closed():
            db.close()
        target = sqlite3.connect(self._path())
        try:
            self.copy.backup(target)
        finally:
            target.close()

    def dirty(self) -> None:
        self.world = None

    def client_for(self, actor: str, route: Route):
        if route.signed_out:
            return self.app.test_client()
        if route.fresh_client and actor != ANON:
            name = {OWN: "maria", COORD: "maria", OTHER: "maria", LEAD: "lead", ADMIN: "admin"}[actor]
            return self.login(self.app.test_client(), self.users[name])
        return self.clients[actor]

    def _session_of(self, side: str) -> int:
        """A session of its own for the call to end: Maria's (own) or James's (other)."""
        from models import WebSession
        user = self.users["maria" if side == "own" else "james"]
        self.login(self.app.test_client(), user)
        return WebSession.select(WebSession.id).where(WebSession.user == user).order_by(WebSession.id.desc()).scalar()

    def _build(self) -> World:
        from inbox.intake import run_now
        from inbox.pipeline import Intake
        from inbox.store import store
        from models import ApiToken, Application, Job, User, Webhook, WebhookDelivery, checklists, documents
        from models.messages import add_contact
        from tests import files, mails
        from tests.factories import make_project
        self.serial += 1
        u = self.users
        w = World(Side(), Side(), u["maria"].id, u["james"].id, u["lead"].id, serial=self.serial,
                  session_of=self._session_of, hook_url=self.hook_url)
        for n, (side, owner) in enumerate(((w.own, u["maria"]), (w.other, u["james"]))):
            p = make_project(coordinator=owner, customer_email=f"cust{self.serial}-{n}@example.net")
            checklists.sync(p)
            side.project, side.external_id = p.id, p.external_id
            side.app = Application.create(project=p, kind="utility_part1", status="SUBMITTED",
                                          reference_number=f"PGE-INT-3001{self.serial:03d}{n}").id
            Application.create(project=p, kind="utility_part2", status="METER_INSTALLED")
            side.closed_app = Application.create(project=p, kind="incentive", status="CANCELLED").id
            side.item = checklists.items_for(p)[next(iter(checklists.items_for(p)))][0].id
            side.doc = documents.add(p, files.pdf(f"loose {n}"), "loose.pdf", actor=owner)[0].id
            side.contact = add_contact(p, "Rita", "utility", f"rita{n}@pge.com").id
            raw = mails.message(f"rita{n}@pge.com", "Permission to Operate granted",
                                f"You have permission to operate ({self.serial}-{n}).")
            mail = run_now(store(raw, "cli").mail, Intake(auth=mails.AUTH))
            assert mail.state == "needs_review" and mail.project_id == p.id, mail.reason
            side.mail, side.mail_version = mail.id, mail.version
            side.spare_token = ApiToken.issue(owner, f"spare {self.serial}")[0].id
            p.flag("matrix", owner)
        stray = run_now(store(mails.message("nobody@example.org", "Hello", f"about nothing {self.serial}"), "cli").mail,
                        Intake(auth=mails.AUTH))
        w.stray, w.stray_version = stray.id, stray.version
        hook, _ = Webhook.register(self.hook_url, ["status_changed"], u["admin"])
        w.hook = hook.id
        w.delivery = WebhookDelivery.create(webhook=hook, event="status_changed", payload={}, state="failed").id
        w.reconcile_job = Job.create(kind="reconcile", created_by=u["lead"], params={"index": 0}).id
        w.packet_job = Job.create(kind="packet", created_by=u["maria"],
                                  params={"application_id": w.own.app, "project_id": w.own.project}).id
        csv = Path(self.app.config["IXDESK"].storage_dir) / "matrix.csv"
        csv.write_bytes(b"external_id,customer_name,utility\nCSV1,Csv Customer,PGE\n")
        w.import_job = Job.create(kind="import", created_by=u["lead"], state="done",
                                  params={"path": str(csv), "dry_run": True, "filename": "p.csv"}).id
        # People an admin deactivates and reactivates (never the ones signed in here).
        hash_ = u["james"].password_hash
        w.spare_user = User.create(email=f"spare{self.serial}@example.com", name="Sam Spare",
                                   password_hash=hash_).id
        w.inactive_user = User.create(email=f"gone{self.serial}@example.com", name="Gil Gone", active=False,
                                      password_hash=hash_).id
        for actor, name in ((OWN, "maria"), (LEAD, "lead"), (ADMIN, "admin")):
            self.tokens[actor] = ApiToken.issue(u[name], f"matrix {self.serial}")[1]
        self.tokens[OTHER] = self.tokens[COORD] = self.tokens[OWN]
        return w


@pytest.fixture(scope="module")
def desk(database, catalog_data, tmp_path_factory):
    import catalog
    from app import create_app
    from models import Utility
    from tests.conftest import overrides
    from tests.factories import make_user
    from tests.workers.test_webhooks import Receiver
    env = pytest.MonkeyPatch()
    env.setenv("WEBHOOK_ALLOW_PRIVATE", "1")
    # Deliveries a worker makes (when one runs in this session) are answered at once, so none is retried.
    receiver = Receiver()
    root = tmp_path_factory.mktemp("catalog")
    shutil.copytree(Path(catalog.__file__).parent / "data", root / "data")  # admins save form mappings there
    app = create_app(overrides(catalog_dir=root, api_rate_limit=100_000))
    _settle_queues()
    _wipe(set())
    Utility.sync(catalog_data)
    users = {"admin": make_user("admin@example.com", "Ada Admin", "admin"),
             "lead": make_user("lead@example.com", "Lee Lead", "lead"),
             "maria": make_user("maria@example.com", "Maria Ortiz", "coordinator"),
             "james": make_user("james@example.com", "James Chen", "coordinator")}
    desk = Desk(app, users, receiver.url)
    yield desk
    _settle_queues()
    if desk.copy is not None:
        desk.copy.close()
    receiver.close()
    env.undo()


def _cells():
    for (rule, method), route in MATRIX.items():
        for actor in route.expect:
            yield pytest.param(rule, method, actor, id=f"{method} {rule} [{actor}]")


def _send(desk: Desk, route: Route, method: str, actor: str, w: World, url: str):
    side = "own" if actor == OWN else "other"
    headers = dict(route.headers)
    if url.startswith("/api/") and actor != ANON:
        headers["Authorization"] = f"Bearer {desk.tokens[actor]}"
    kwargs = {"headers": headers}
    if route.json is not None:
        kwargs["json"] = route.json(w, side)
    elif route.data is not None:
        kwargs["data"] = route.data(w, side)
        if route.files:
            kwargs["content_type"] = "multipart/form-data"
    return desk.client_for(actor, route).open(url, method=method, **kwargs)


def _answer_class(resp) -> str:
    code = resp.status_code
    to_login = "/login" in (resp.headers.get("Location", "") + resp.headers.get("HX-Redirect", ""))
    if to_login and code in (204, 302):  # the login guard's; a view's own 303 there (logout) is its answer
        return LOGIN
    return {401: UNAUTH, 403: DENY}.get(code, f"http {code}")


def _answered(expected: str, resp, route: Route) -> bool:
    code = resp.status_code
    if expected in (ALLOW, KEPT_ONLY):
        return _answer_class(resp) != LOGIN and (200 <= code < 400 or code in route.allowed_codes)
    if expected == DENY:
        return code in (403, 404)
    if expected == NOOP:
        return code == 303 and "/login" not in resp.headers.get("Location", "")
    if expected == MISSING:
        return code == 404
    return _answer_class(resp) == expected


@pytest.mark.parametrize("rule,method,actor", list(_cells()))
def test_who_may_call_what(desk, rule, method, actor):
    route = MATRIX[(rule, method)]
    expected = route.expect[actor]
    w = desk.fresh()
    # A refused change must leave every table as it was.
    guarded = method in CHANGING and expected != ALLOW
    url = route.url(w, "own" if actor == OWN else "other")  # may sign someone in: before the snapshot
    before = _digest() if guarded else None
    resp = _send(desk, route, method, actor, w, url)
    problem = "" if _answered(expected, resp, route) else f"answered {resp.status_code} ({_answer_class(resp)})"
    if method in CHANGING and not guarded:
        desk.dirty()
    if guarded:
        after = _digest()
        if expected == KEPT_ONLY:
            before.pop("InboundMail"), after.pop("InboundMail")
        changed = sorted(t for t in before if before[t] != after[t])
        if changed:
            desk.dirty()
            problem += f"{'; ' if problem else ''}changed {', '.join(changed)}"
    gap = KNOWN_GAPS.get((rule, method, actor))
    if gap:
        pytest.fail(f"known gap, {method} {rule} as {actor}: {gap} ({problem or 'now answered as expected'})")
    assert not problem, f"{method} {rule} as {actor}: expected {expected}, {problem}: " \
                        f"{resp.get_data(as_text=True)[:300]}"


def test_every_route_is_in_the_matrix(desk):
    """A new route fails here until the matrix says who may call it."""
    served = {(rule.rule, m) for rule in desk.app.url_map.iter_rules() for m in rule.methods - {"HEAD", "OPTIONS"}}
    missing = sorted(served - set(MATRIX))
    stale = sorted(set(MATRIX) - served)
    assert not missing, "routes not in the authorization matrix (add who may call them): " + ", ".join(
        f"{m} {r}" for r, m in missing)
    assert not stale, "matrix rows for routes that no longer exist: " + ", ".join(f"{m} {r}" for r, m in stale)


def test_known_gaps_name_real_cells():
    for rule, method, actor in KNOWN_GAPS:
        assert actor in MATRIX[(rule, method)].expect, (rule, method, actor)
