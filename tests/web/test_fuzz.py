"""Every form, query and API field takes hostile input without a 500 (and the API always answers JSON).

Each changing route of the app, and each GET whose view reads query args, is listed below with the fields its
view reads and a valid value for each. Hypothesis then sends, per field, wrong types, huge values, unicode edge
cases (RTL, combining marks, emoji, zero-width, unpaired surrogates), NUL and markup, the other fields kept
valid, plus one request with every field hostile at once: web as a lead (with and without the htmx header),
the API with a bearer token. A changing route missing from the table fails `test_every_changing_route_is_fuzzed`.

The desk is built once for the module; what a fuzzed request changes stays changed, which is fine: the only
claim here is "never a 500". derandomize keeps the examples the same on every run.
"""
from __future__ import annotations

import io
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

HX = {"HX-Request": "true"}
EXAMPLES = 3  # per route: each example sends every field once, so every field gets this many hostile values

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# The first is what every field gets in the first example (hypothesis starts from the simplest draw).
HOSTILE = [
    "a\x00b", "", " ", "\x00", "x" * 100_000, "9" * 5000, str(2**64), str(-2**63 - 1), "1e309", "-0", "NaN",
    "inf", "0x1F", "\u00b2", "\u0661\u0662\u0663", "\u202eevil\u202c", "\u05e9\u05dc\u05d5\u05dd",
    "\u0645\u0631\u062d\u0628\u0627", "e\u0301\u0301\u0301", "\u0300" * 40, "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1fa\U0001f1f8", "\u200b", "\u200d\u200c", "\ufeff", "\u2028\u2029", "\r\n\t", "\x1b[31m", "\u0130",
    "<script>alert(1)</script>", "<svg onload=alert(1)>", '"><img src=x onerror=alert(1)>',
    "<svg><script>alert(1)</script></svg>", "{{7*7}}", "{% raw %}", '=HYPERLINK("http://x","y")', "@SUM(A1)",
    "'; DROP TABLE project; --", "%00", "../../etc/passwd", "javascript:alert(1)", "2026-02-30", "9999-12-31",
    "-1", "0", "1", "yes", "all", "none", "a:b", "follow_up:x", "breach:99999999999999999999",
]
SURROGATES = ["\ud800", "a\udfffb", "\udbff\udc00\udbff", "\udc80"]
text = st.one_of(st.sampled_from(HOSTILE + SURROGATES), st.text(max_size=30),
                 st.integers(-2**70, 2**70).map(str))
# JSON: any type where a string is expected, and numbers no column holds; RAW values are spliced in as written.
RAW = ["1" + "0" * 5000, "1e999", "-1e999", "NaN", "Infinity", "[" * 5000 + "]" * 5000,
       '{"a":' * 3000 + "1" + "}" * 3000, '"\\ud800"', '"\\u0000x"', '"\\udfff\\ud800"']
json_value = st.one_of(text, st.none(), st.booleans(), st.integers(-10**30, 10**30),
                       st.sampled_from([2**63, -2**63 - 1, 10**4000]), st.floats(),
                       st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
                       st.sampled_from(RAW).map(lambda r: Raw(r)))
# Whole request bodies an API client could send instead of an object.
BODIES = [b"", b"{", b"[]", b'"text"', b"5", b"null", b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe{}",
          b'{"x": "' + b"y" * 3_000_000 + b'"}', b'{"\\u0000": 1, "\\ud800": 2}']


@dataclass(frozen=True)
class Raw:
    text: str


@dataclass(frozen=True)
class Target:
    """One route: its URL, the fields its view reads with a valid value each, and how it is called."""

    url: Callable[["World"], str]
    fields: dict[str, object] = field(default_factory=dict)
    method: str = "POST"
    actor: str = "lead"
    lists: tuple[str, ...] = ()  # fields the view reads with getlist: sent as several values
    files: tuple[str, ...] = ()  # file fields: sent as multipart, a hostile name and content
    mirror: dict[str, str] = field(default_factory=dict)  # field -> the field whose fuzzed value it copies
    path_fuzz: str = ""  # a string placeholder in the URL that is fuzzed too
    fresh: bool = False  # the call may end the caller's session: sign in anew for each request
    hx: bool = True  # also with the htmx header

    @property
    def changing(self) -> bool:
        return self.method != "GET"


@dataclass
class World:
    project: int = 0
    external_id: str = ""
    app: int = 0
    item: int = 0
    doc: int = 0
    contact: int = 0
    mail: int = 0
    version: int = 0
    hook: int = 0
    delivery: int = 0
    import_job: int = 0
    victim: int = 0
    form_code: str = ""
    other_session: Callable[[], int] = None
    spare_token: Callable[[], int] = None


P = "/projects/{w.project}"
PIPELINE_ARGS = {"q": "oak", "stage": "intake", "utility": "PGE", "ahj": "1", "coordinator": "1", "ball": "us",
                 "product": "pv", "attention": "1", "flagged": "", "sort": "updated", "dir": "asc", "page": "1",
                 "per_page": "50"}
DASHBOARD_ARGS = {"from": "2026-01-01", "to": "2026-03-01", "utility": "PGE", "coordinator": "none", "preset": "90d"}
INBOX_ARGS = {"q": "rita", "state": "needs_review", "kind": "", "channel": "", "project": "P1", "utility": "PGE",
              "coordinator": "none", "open": "1", "date_from": "2026-01-01", "date_to": "2026-12-31", "sort": "at",
              "dir": "desc", "page": "1"}
DAY_ARGS = {"who": "all", "kind": "follow_up", "q": "cust", "sort": "urgency", "page": "1"}
PROJECT_FACTS = {"customer_name": "Ana Morris", "customer_email": "ana@example.net", "customer_phone": "(415) 555-0142",
                 "street": "1 Main St", "city": "Oakland", "state": "CA", "zip": "94610", "utility": "PGE",
                 "utility_account": "123", "ahj": "City of Oakland", "product_type": "pv", "pv_kw_dc": "7.2",
                 "pv_kw_ac": "6", "battery_kwh": "", "program": "NBT", "contract_signed_on": "2025-01-02",
                 "application_complete_on": "", "installed_on": "", "export_limited": "no", "new_home": "",
                 "third_party_owned": "", "main_panel_upgrade": "yes", "stage": "design", "coordinator": ""}
COMPOSE = {"template": "", "application": "", "reply_to": "", "to": "rita@pge.com", "subject": "Hello",
           "body": "Hi", "attach": ""}


def _filled(pattern: str, w: "World") -> str:
    return re.sub(r"\{w\.(\w+)\}", lambda m: str(getattr(w, m.group(1))), pattern)


def _u(pattern: str) -> Callable[[World], str]:
    return lambda w: _filled(pattern, w)


WEB: dict[str, Target] = {
    # Signing in and out, and one's own settings: throwaway people, so no real account is rate limited.
    "auth.login": Target(_u("/login?next=/projects"), {"email": "nobody@fuzz.example", "password": "wrong"},
                         actor="anonymous"),
    "auth.logout": Target(_u("/logout"), actor="tok", fresh=True),
    "auth.me": Target(_u("/me"), {"form": "password", "current": "correct-horse-battery", "new": "n3w-pass-phrase",
                                  "confirm": "", "revoke_tokens": "1", "digest": "1"},
                      actor="me", mirror={"confirm": "new"}, hx=False),
    "auth.end_session": Target(lambda w: f"/me/sessions/{w.other_session()}/end", actor="tok", fresh=True),
    "auth.end_other_sessions": Target(_u("/me/sessions/end-others"), actor="tok", fresh=True),
    "auth.create_token": Target(_u("/me/tokens"), {"name": "fuzz"}, actor="me"),
    "auth.revoke_token": Target(lambda w: f"/me/tokens/{w.spare_token()}/revoke", actor="tok"),
    # Admin.
    "admin.add_webhook": Target(_u("/admin/webhooks"), {"url": "https://203.0.113.7/hook", "events": "status_changed"},
                                actor="admin", lists=("events",)),
    "admin.deactivate": Target(_u("/admin/webhooks/{w.hook}/deactivate"), actor="admin"),
    "admin.send_test": Target(_u("/admin/webhooks/{w.hook}/test"), actor="admin"),
    "admin.retry": Target(_u("/admin/deliveries/{w.delivery}/retry"), actor="admin"),
    "admin.webhook": Target(_u("/admin/webhooks/{w.hook}"), {"page": "2"}, method="GET", actor="admin"),
    "admin.users": Target(_u("/admin/users"), {"q": "lee", "sort": "-email", "page": "1"}, method="GET", actor="admin"),
    "admin.deactivate_person": Target(_u("/admin/users/{w.victim}/deactivate"), actor="admin"),
    "admin.reactivate_person": Target(_u("/admin/users/{w.victim}/reactivate"), actor="admin"),
    "admin.end_sessions": Target(_u("/admin/users/{w.victim}/end-sessions"), actor="admin"),
    # Projects.
    "projects.index": Target(_u("/projects"), PIPELINE_ARGS, method="GET"),
    "projects.export": Target(_u("/projects/export.csv"), PIPELINE_ARGS, method="GET", hx=False),
    "projects.flagged": Target(_u("/flagged"), PIPELINE_ARGS, method="GET"),
    "projects.new": Target(_u("/projects/new"), {**PROJECT_FACTS, "external_id": "FUZZ-NEW"}),
    "projects.update": Target(_u(P), {**PROJECT_FACTS, **{"orig." + k: v for k, v in PROJECT_FACTS.items()}}),
    "projects.add_note": Target(_u(P + "/notes"), {"body": "called the utility"}),
    "projects.flag": Target(_u(P + "/flag"), {"reason": "stuck"}),
    "projects.unflag": Target(_u(P + "/unflag"), {"note": "ok", "back": "flagged"}),
    # Applications and checklists.
    "applications.transition": Target(_u("/applications/{w.app}/transition"), {
        "to": "SUBMITTED", "why": "sent", "notice": "1", "on": "2026-01-05", "reference": "PGE-1", "sent": "portal",
        "deficiencies": "one\ntwo", "attach_packet": "1"}),
    "applications.contact": Target(_u("/applications/{w.app}/contact"), {"channel": "call", "note": "rang"}),
    "applications.reopen": Target(_u("/applications/{w.app}/reopen"), {"why": "reopened"}),
    "applications.create": Target(_u(P + "/applications"), {"kind": "ahj_permit"}),
    "applications.packet": Target(_u("/applications/{w.app}/packet"), {"allow_incomplete": "1"}),
    "checklists.update": Target(_u("/checklist/{w.item}"), {"status": "waived", "reason": "not needed"}),
    "checklists.regenerate": Target(_u(P + "/checklist/regenerate")),
    "checklists.preview": Target(_u(P + "/checklist/preview"), {
        k: PROJECT_FACTS[k] for k in ("utility", "product_type", "battery_kwh", "pv_kw_dc", "pv_kw_ac",
                                      "export_limited", "new_home", "third_party_owned", "main_panel_upgrade",
                                      "state", "ahj", "program")}),
    # The day and the leads' page.
    "day.index": Target(_u("/day"), DAY_ARGS, method="GET"),
    "day.count": Target(_u("/day/count"), DAY_ARGS, method="GET"),
    "day.act": Target(_u("/day/act?who=all"), {"key": "follow_up:{w.app}", "action": "log", "note": "rang",
                                               "channel": "call", "until": "2026-12-01", "reason": "waiting"}),
    "day.bulk": Target(_u("/day/bulk"), {"keys": "follow_up:{w.app}", "action": "snooze", "until": "2026-12-01",
                                         "reason": "waiting", "coordinator": "", "who": "all"}, lists=("keys",)),
    "day.leads": Target(_u("/leads"), {"older": "5"}, method="GET"),
    "day.reassign": Target(_u("/leads/reassign"), {"projects": "{w.project}", "coordinator": "", "older": "5"},
                           lists=("projects",)),
    # Documents, forms, imports.
    "documents.upload": Target(_u(P + "/documents"), {"item_id": "{w.item}", "back": "checklist"}, files=("files",)),
    "documents.file_to": Target(_u("/documents/{w.doc}/file-to"), {"item_id": "{w.item}"}),
    "documents.review": Target(_u("/documents/{w.doc}/review"), {"verdict": "rejected", "reason": "blurry"}),
    "documents.file": Target(_u("/documents/{w.doc}/file"), {"inline": "1"}, method="GET", hx=False),
    "forms.upload": Target(_u("/forms"), {"name": "Form", "number": "1", "version": "2026", "doc_type": "other",
                                          "source": "utility", "code": "FUZZ_FORM"}, actor="admin", files=("pdf",)),
    "forms.save": Target(_u("/forms/{w.form_code}"), {"map.CustomerName": "__blank__", "blank.CustomerName": "n/a",
                                                      "map.AccountNumber": "utility_account"}, actor="admin"),
    "forms.generate": Target(_u(P + "/prefill"), {"code": "{w.form_code}"}),
    "forms.show": Target(_u("/forms/{code}"), method="GET", path_fuzz="code"),
    "imports.create": Target(_u("/imports"), files=("file",)),
    "imports.apply": Target(_u("/imports/{w.import_job}/apply")),
    # The catalog and dashboards.
    "catalog.index": Target(_u("/catalog"), {"q": "pge"}, method="GET"),
    "catalog.show": Target(_u("/catalog/{code}"), method="GET", path_fuzz="code"),
    "catalog.permit_set": Target(_u("/catalog/permits/{code}"), method="GET", path_fuzz="code"),
    "dashboards.index": Target(_u("/dashboard"), DASHBOARD_ARGS, method="GET"),
    "dashboards.drill": Target(_u("/dashboard/drill"), {**DASHBOARD_ARGS, "metric": "stage", "key": "intake",
                                                        "sort": "value", "dir": "asc", "page": "1"}, method="GET"),
    "dashboards.drill_csv": Target(_u("/dashboard/drill.csv"), {**DASHBOARD_ARGS, "metric": "stage", "key": "intake"},
                                   method="GET", hx=False),
    "dashboards.export": Target(_u("/dashboard/{code}.csv"), DASHBOARD_ARGS, method="GET", path_fuzz="code", hx=False),
    # The inbox.
    "inbox.index": Target(_u("/inbox"), INBOX_ARGS, method="GET"),
    "inbox.count": Target(_u("/inbox/count"), INBOX_ARGS, method="GET"),
    "inbox.new": Target(_u("/inbox/new"), {**INBOX_ARGS, "after": "1"}, method="GET"),
    "inbox.link": Target(_u("/inbox/{w.mail}/link"), {"project": "{w.external_id}", "version": "{w.version}"}),
    "inbox.unlink": Target(_u("/inbox/{w.mail}/unlink"), {"version": "{w.version}"}),
    "inbox.accept": Target(_u("/inbox/{w.mail}/accept"), {"version": "{w.version}"}),
    "inbox.reject": Target(_u("/inbox/{w.mail}/reject"), {"reason": "not ours", "version": "{w.version}"}),
    "inbox.assign": Target(_u("/inbox/{w.mail}/assign"), {"user": "", "version": "{w.version}"}),
    "inbox.handled": Target(_u("/inbox/{w.mail}/handled"), {"handled": "1", "version": "{w.version}"}),
    "inbox.bulk": Target(_u("/inbox/bulk"), {"ids": "{w.mail}", "action": "assign", "user": ""}, lists=("ids",)),
    "inbox.rerun": Target(_u("/inbox/{w.mail}/rerun"), {"version": "{w.version}"}),
    "inbox.upload": Target(_u("/inbox/upload"), files=("files",)),
    "inbox.reconcile": Target(_u("/inbox/mailboxes/0/reconcile")),
    # Messages.
    "messages.panel": Target(_u(P + "/compose"), {"template": "", "application": "{w.app}", "reply": "{w.mail}"},
                             method="GET"),
    "messages.preview": Target(_u(P + "/compose/preview"), COMPOSE, lists=("to", "attach")),
    "messages.send": Target(_u(P + "/compose/send"), COMPOSE, lists=("to", "attach")),
    "messages.call": Target(_u(P + "/calls"), {"contact": "{w.contact}", "direction": "outbound", "outcome": "reached",
                                               "notes": "talked", "follow_up_on": "2026-12-01"}),
    "messages.add": Target(_u(P + "/contacts"), {"name": "Rita", "role": "utility", "email": "r@pge.com",
                                                 "phone": "+14155550100"}),
    "messages.text": Target(_u(P + "/texts"), {"phone": "+14155550100", "body": "hello"}),
    "messages.reminders": Target(_u(P + "/auto-reminders"), {"on": "1"}),
    # The SMS webhook is public and signed; without the Twilio backend it is a 404.
    "sms_webhook.twilio_inbound": Target(_u("/sms/twilio"), {"From": "+14155550100", "Body": "STOP",
                                                             "MessageSid": "SM1"}, actor="anonymous"),
}

API_PROJECT = {"customer_name": "Ana Morris", "customer_email": "ana@example.net", "customer_phone": "+14155550142",
               "street": "1 Main St", "city": "Oakland", "state": "CA", "zip": "94610", "utility": "PGE",
               "utility_account": "123", "ahj": "City of Oakland", "product_type": "pv", "pv_kw_dc": 7.2,
               "pv_kw_ac": 6, "battery_kwh": None, "program": "NBT", "contract_signed_on": "2025-01-02",
               "application_complete_on": None, "installed_on": None, "export_limited": False, "new_home": None,
               "third_party_owned": None, "main_panel_upgrade": True, "stage": "design", "coordinator": None}
API: dict[str, Target] = {
    "api.projects": Target(_u("/api/v1/projects"), {**PIPELINE_ARGS, "updated_since": "2026-01-01T00:00:00Z"},
                           method="GET"),
    "api.project": Target(_u("/api/v1/projects/{code}"), method="GET", path_fuzz="code"),
    "api.create_project": Target(_u("/api/v1/projects"), {**API_PROJECT, "external_id": "FUZZ-API"}),
    "api.update_project": Target(_u("/api/v1/projects/{w.external_id}"), API_PROJECT, method="PATCH"),
    "api.applications": Target(_u("/api/v1/projects/{code}/applications"), method="GET", path_fuzz="code"),
    "api.open_application": Target(_u("/api/v1/projects/{w.external_id}/applications"), {"kind": "ahj_permit"}),
    "api.application": Target(_u("/api/v1/applications/{w.app}"), method="GET"),
    "api.transition": Target(_u("/api/v1/applications/{w.app}/transition"), {
        "to": "SUBMITTED", "from": "DRAFT", "why": "sent", "by_notice": "no", "on": "2026-01-05",
        "reference": "PGE-1", "sent": "portal", "deficiencies": ["one", "two"]}),
    "api.reopen": Target(_u("/api/v1/applications/{w.app}/reopen"), {"why": "reopened"}),
    "api.notes": Target(_u("/api/v1/projects/{w.external_id}/notes"), {"page": "1", "per_page": "10"}, method="GET"),
    "api.add_note": Target(_u("/api/v1/projects/{w.external_id}/notes"), {"body": "called"}),
    "api.events": Target(_u("/api/v1/events"), {"since": "0", "limit": "10"}, method="GET"),
    "api.unknown": Target(_u("/api/v1/{code}"), {"anything": "x"}, method="PUT", path_fuzz="code"),
}


class Desk:
    """The app, a signed-in client per person, one API token, and the world they act on."""

    def __init__(self, app, users):
        from models import ApiToken
        from tests.conftest import login
        self.app, self.users, self.login = app, users, login
        anonymous = app.test_client()
        # Failed sign-ins slow an address down: the login fuzz comes from one no real test signs in from.
        anonymous.environ_base["REMOTE_ADDR"] = "198.51.100.7"
        self.clients = {"anonymous": anonymous}
        for name in ("lead", "admin", "me", "tok"):
            self.clients[name] = login(app.test_client(), users[name])
        self.token = ApiToken.issue(users["lead"], "fuzz")[1]
        self.world = self._build()

    def client(self, target: Target):
        if target.fresh:
            return self.login(self.app.test_client(), self.users[target.actor])
        return self.clients[target.actor]

    def _other_session(self) -> int:
        from models import WebSession
        self.login(self.app.test_client(), self.users["tok"])
        return WebSession.select(WebSession.id).where(WebSession.user == self.users["tok"]) \
            .order_by(WebSession.id.desc()).scalar()

    def _spare_token(self) -> int:
        from models import ApiToken
        return ApiToken.issue(self.users["tok"], "spare")[0].id

    def _build(self) -> World:
        from inbox.intake import run_now
        from inbox.pipeline import Intake
        from inbox.store import store
        from models import Application, Job, Webhook, WebhookDelivery, checklists, documents
        from models.messages import add_contact
        from tests import files, mails
        from tests.factories import make_project
        u = self.users
        p = make_project(coordinator=u["lead"], ahj="City of Oakland")
        checklists.sync(p)
        p.flag("fuzz", u["lead"])
        app = Application.create(project=p, kind="utility_part1", status="DRAFT")
        item = checklists.items_for(p)[next(iter(checklists.items_for(p)))][0]
        doc = documents.add(p, files.pdf("loose"), "loose.pdf", actor=u["lead"])[0]
        contact = add_contact(p, "Rita", "utility", "rita@pge.com")
        mail = run_now(store(mails.message("rita@pge.com", "Permission to Operate granted", "You may operate."),
                             "cli").mail, Intake(auth=mails.AUTH))
        # As stored, not registered: registering looks the receiver's name up, and the fuzz stays offline.
        hook = Webhook.create(url="https://hooks.example.com/ixdesk", secret="whsec_fuzz", events=["status_changed"],
                              created_by=u["admin"])
        delivery = WebhookDelivery.create(webhook=hook, event="status_changed", payload={}, state="failed")
        csv = Path(self.app.config["IXDESK"].storage_dir) / "fuzz.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_bytes(b"external_id,customer_name,utility\nCSV1,Csv Customer,PGE\n")
        return World(
            project=p.id, external_id=p.external_id, app=app.id, item=item.id, doc=doc.id, contact=contact.id,
            mail=mail.id, version=mail.version, hook=hook.id, delivery=delivery.id,
            import_job=Job.create(kind="import", created_by=u["lead"], state="done",
                                  params={"path": str(csv), "dry_run": True, "filename": "p.csv"}).id,
            victim=u["victim"].id, form_code="SAMPLE_IX_APP", other_session=self._other_session,
            spare_token=self._spare_token)


@pytest.fixture(scope="module")
def desk(database, catalog_data, tmp_path_factory):
    import catalog
    from app import create_app
    from models import MODELS, Utility
    from models.base import db
    from tests.conftest import _drain_queues, overrides
    from tests.factories import make_user
    db.initialize(database)
    root = tmp_path_factory.mktemp("catalog")
    shutil.copytree(Path(catalog.__file__).parent / "data", root / "data")  # admins save form mappings there
    app = create_app(overrides(catalog_dir=root, api_rate_limit=100_000, api_user_rate_limit=100_000))
    for model in reversed(MODELS):
        db.execute_sql(f'DELETE FROM "{model._meta.table_name}"')
    Utility.sync(catalog_data)
    users = {name: make_user(f"{name}@example.com", name.title(), role)
             for name, role in (("lead", "lead"), ("admin", "admin"), ("me", "coordinator"),
                                ("tok", "coordinator"), ("victim", "coordinator"))}
    yield Desk(app, users)
    _drain_queues()


def _fill(value, w: World):
    return _filled(value, w) if isinstance(value, str) and "{w." in value else value


def _form_body(fields: dict, lists: tuple[str, ...]) -> bytes:
    pairs = []
    for name, value in fields.items():
        values = [value, value] if name in lists else [value]
        pairs += [(name, v) for v in values]
    # surrogatepass: an unpaired surrogate goes out as the (invalid) UTF-8 bytes a broken client would send.
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()


def _multipart(fields: dict, files: tuple[str, ...], content: bytes, filename: str) -> dict:
    def plain(v):
        return str(v).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    data = {k: plain(v) for k, v in fields.items()}
    for name in files:
        data[name] = (io.BytesIO(content), plain(filename).replace("\x00", "") or "f")
    return data


def _check(resp, where: str, api: bool) -> None:
    body = resp.get_data()[:300].decode("utf-8", "replace")
    assert resp.status_code < 500, f"{where}: {resp.status_code} {body}"
    if api:
        assert resp.is_json, f"{where}: not JSON: {resp.status_code} {body}"


def _web(desk: Desk, target: Target, fields: dict, path_value: str | None, where: str,
         content: bytes = b"", filename: str = "f.csv") -> None:
    w = desk.world
    url = target.url(w) if not target.path_fuzz else \
        target.url(w).replace("{" + target.path_fuzz + "}", quote(path_value or "x", safe="", errors="surrogatepass"))
    filled = {k: _fill(v, w) for k, v in fields.items()}
    for modes in ((HX, {}) if target.hx else ({},)):
        client = desk.client(target)
        if target.method == "GET":
            query = _form_body(filled, target.lists).decode()
            resp = client.get(url + ("&" if "?" in url else "?") + query if query else url, headers=modes)
        elif target.files:
            resp = client.post(url, data=_multipart(filled, target.files, content, filename), headers=modes,
                               content_type="multipart/form-data")
        else:
            resp = client.open(url, method=target.method, data=_form_body(filled, target.lists), headers=modes,
                               content_type="application/x-www-form-urlencoded")
        _check(resp, f"{where} {'htmx' if modes else 'plain'}", api=False)


def _json_body(fields: dict) -> bytes:
    raws = {}
    plain = {}
    for name, value in fields.items():
        if isinstance(value, Raw):
            raws[name] = value.text
            plain[name] = f"__raw_{len(raws)}__"
        else:
            plain[name] = value
    text = json.dumps(plain)  # ensure_ascii: an unpaired surrogate goes out as its \\ud800 escape
    for i, (name, raw) in enumerate(raws.items(), 1):
        text = text.replace(f'"__raw_{i}__"', raw)
    return text.encode()


def _api(desk: Desk, target: Target, fields: dict, path_value: str | None, where: str,
         body: bytes | None = None) -> None:
    w = desk.world
    url = target.url(w) if not target.path_fuzz else \
        target.url(w).replace("{" + target.path_fuzz + "}", quote(path_value or "x", safe="", errors="surrogatepass"))
    headers = {"Authorization": f"Bearer {desk.token}"}
    filled = {k: _fill(v, w) for k, v in fields.items()}
    client = desk.clients["anonymous"]
    if target.method == "GET":
        query = urlencode(filled, encoding="utf-8", errors="surrogatepass")
        resp = client.get(url + ("?" + query if query else ""), headers=headers)
    else:
        resp = client.open(url, method=target.method, headers=headers, content_type="application/json",
                           data=_json_body(filled) if body is None else body)
    _check(resp, where, api=True)


def _fuzz(desk: Desk, name: str, target: Target, data, api: bool) -> None:
    """Each field hostile on its own (the others valid), then all of them at once."""
    value = json_value if api and target.changing else text
    path_value = data.draw(text, label="path") if target.path_fuzz else None
    rounds = [(f, {**target.fields, f: data.draw(value, label=f)}) for f in target.fields
              if f not in target.mirror]
    rounds.append(("every field", {f: data.draw(value, label=f"all.{f}") for f in target.fields}))
    if not target.fields:
        rounds = [("no fields", {})]
    for label, fields in rounds:
        for copy, source in target.mirror.items():
            fields[copy] = fields.get(source)
        where = f"{target.method} {name} [{label}]"
        note(where)
        if api:
            _api(desk, target, fields, path_value, where)
        else:
            content = data.draw(st.sampled_from([b"", b"\x00" * 10, "é,ü\n\ud800".encode("utf-8", "surrogatepass"),
                                                 b"%PDF-1.4\n<script>", b"external_id,customer_name,utility\n"
                                                 b"=1+1,<svg onload=alert(1)>,\x00PGE\n"]), label="content") \
                if target.files else b""
            filename = data.draw(text, label="filename") if target.files else ""
            _web(desk, target, fields, path_value, where, content, filename)


@pytest.mark.parametrize("name", sorted(WEB))
@FUZZ
@given(data=st.data())
def test_web_fields_never_answer_500(desk, name, data):
    _fuzz(desk, name, WEB[name], data, api=False)


@pytest.mark.parametrize("name", sorted(API))
@FUZZ
@given(data=st.data())
def test_api_fields_never_answer_500_and_always_json(desk, name, data):
    _fuzz(desk, name, API[name], data, api=True)


@pytest.mark.parametrize("name", sorted(n for n, t in API.items() if t.changing))
def test_api_bodies_that_are_no_object_answer_json(desk, name):
    target = API[name]
    for body in BODIES:
        _api(desk, target, {}, "x", f"{target.method} {name} [body {body[:20]!r}]", body=body)


def test_every_changing_route_is_fuzzed(desk):
    """A new POST/PUT/PATCH/DELETE route fails here until the table above lists its fields."""
    tables = {**WEB, **API}
    missing = sorted(f"{m} {rule.rule} ({rule.endpoint})" for rule in desk.app.url_map.iter_rules()
                     for m in rule.methods & {"POST", "PUT", "PATCH", "DELETE"} if rule.endpoint not in tables)
    assert not missing, "changing routes the fuzz table does not list (add their fields): " + ", ".join(missing)
    stale = sorted(set(tables) - {rule.endpoint for rule in desk.app.url_map.iter_rules()})
    assert not stale, "fuzz table rows for endpoints that no longer exist: " + ", ".join(stale)
