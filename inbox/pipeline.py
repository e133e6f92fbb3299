"""The inbox pipeline: one stored mail through parse, classify, match, attach and apply, to an end state.

`process()` is idempotent: running it twice on the same mail changes nothing the first run did not.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from peewee import InterfaceError, OperationalError

import logs
from inbox import apply, attach, auth, authority, evidence, forward, notices
from inbox.auth import AuthSettings, Verdict
from inbox.authority import Authority
from inbox.classify import classify
from inbox.forward import Forward
from inbox.match import Match, candidates, held, identifiers as _identifiers, match, own_text
from inbox.parse import ParsedMail, ParseError, parse
from models import business_days, webhooks
from models.applications import Application
from models.base import db, today, utcnow
from models.checklists import ChecklistItem
from models.events import Event
from models.inbound import InboundMail
from models.leases import LEASE, Held, LeaseLost
from models.storage import StorageError
from models.lifecycle import TERMINAL
from models.messages import Contact, OutboundMessage, contacts_for

log = logging.getLogger(__name__)
MAX_MAIL_BYTES = 60 * 1048576
MAX_FAILURES = 3  # runs failing because of the mail itself before it is quarantined
MAX_ATTACHMENTS = 25  # files kept from one mail; the raw mail keeps every one
MAX_ATTACHMENT_BYTES_TOTAL = 50 * 1048576
STOP = True  # a step returns it to end the chain
REPLY_SUBJECT = re.compile(r"^\s*((re|aw|sv|antw|vs|ref)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Intake:
    """Settings the pipeline needs (from config), so the steps stay free of Flask and globals."""

    own_addresses: tuple[str, ...] = ()
    max_attachment_bytes: int | None = None
    parse_seconds: float = 30.0
    suggest_only: bool = False  # mail a person uploaded: anyone can write an .eml, so it only suggests
    auth: AuthSettings = AuthSettings(verify_dkim=False)
    desk_domains: tuple[str, ...] = ()  # the installer's own mail domains (coordinators forwarding notices)


class ParseTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """Interrupt a runaway parse in the main thread (the CLI); workers rely on Dramatiq's time limit."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(_sig, _frame):
        raise ParseTimeout()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Result:
    state: str = "processed"
    reason: str = ""
    kind: str = ""
    match: Match = field(default_factory=Match)
    notice: str | None = None
    status_change: dict | None = None
    suggested_change: dict | None = None
    documents: list[int] = field(default_factory=list)
    trace: list[dict] = field(default_factory=list)

    def step(self, name: str, verdict: str) -> None:
        self.trace.append({"step": name, "verdict": verdict})


@dataclass
class Context:
    """Everything one run knows about one mail, loaded once and passed along the chain."""

    mail: InboundMail
    intake: Intake
    result: Result
    raw: bytes = b""
    parsed: ParsedMail | None = None
    catalog: object = None
    verdict: Verdict | None = None
    kind: str = ""  # classify's verdict: human | bulk | auto_reply | bounce ...
    report: object = None
    forward: Forward | None = None
    match: Match | None = None
    project: object = None
    authorities: list[Authority] = field(default_factory=list)
    authority: Authority | None = None
    reading: notices.Reading | None = None
    reading_as: str = ""  # the authority whose wording the reading used
    customer: bool = False  # written by the project's customer
    plan: apply.Plan | None = None

    @property
    def subject(self) -> str:
        return self.forward.subject if self.forward else self.parsed.subject

    @property
    def text(self) -> str:
        return self.forward.text if self.forward else own_text(self.parsed.text)

    @property
    def sender_domain(self) -> str:
        return (self.forward.from_addr if self.forward else self.parsed.from_addr).rpartition("@")[2]

    @property
    def upload(self) -> bool:
        return self.intake.suggest_only or self.mail.source == "upload"

    def end(self, state: str, reason: str) -> bool:
        self.result.state, self.result.reason = state, reason
        return STOP


@logs.binding(mail_id=lambda mail, *args, **kwargs: mail.id)  # every line of the run names its mail
def process(mail: InboundMail, intake: Intake = Intake()) -> InboundMail:
    """Run the pipeline on a stored mail and record its end state (never raises for a bad mail).

    A mail claimed under a lease (InboundMail.claim) keeps it renewed while it runs; its result is kept
    only while the lease is still ours (LeaseLost otherwise, with everything rolled back)."""
    holder = mail.lease_holder
    try:
        if holder:
            with Held(InboundMail, mail.id, holder):
                return _run(mail, intake)
        return _run(mail, intake)
    except (OperationalError, InterfaceError):
        # The database, not the mail: give the claim back on a new connection so a retry takes it at
        # once; when that fails too, the lease runs out within seconds and the sweeper sends it again.
        _release_after_outage(mail.id, holder)
        raise
    except StorageError as exc:
        # The file store, not the mail (and the database is fine): give the claim back; a retry or the
        # sweeper runs it again once the store answers.
        log.warning("mail %s: the file store failed (%s); it runs again later", mail.id, exc)
        if holder:
            InboundMail(id=mail.id).release(holder)
        raise


def _run(mail: InboundMail, intake: Intake) -> InboundMail:
    ctx, holder = Context(mail, intake, Result()), mail.lease_holder
    for step in READING:
        if step(ctx):
            with db.atomic():
                return _finish(mail, ctx.result)
    event_before = mail.event_id
    try:
        with db.atomic():
            for step in DECIDING:
                if step(ctx):
                    break
            return _finish(mail, ctx.result)
    except (OperationalError, InterfaceError, LeaseLost, StorageError):
        raise
    except Exception as exc:  # a bug must not lose the mail: it stays visible, re-runnable, with the reason
        mail.event_id = event_before  # whatever the failed run wrote was rolled back
        log.exception("inbox pipeline failed on mail %s", mail.id)
        return failed(mail.id, f"{type(exc).__name__}: {str(exc)[:300]}", ctx.result.trace, holder=holder)


def _release_after_outage(mail_id: int, holder: str) -> None:
    if not holder:
        return
    state = getattr(db.obj, "_state", None)
    if db.in_transaction() or getattr(state, "ctx", None):
        return  # someone around us holds this connection; the lease runs out instead
    try:
        db.close()
    except Exception:  # noqa: BLE001 - the connection is already broken
        pass
    try:
        db.connect(reuse_if_open=True)
        InboundMail(id=mail_id).release(holder)
    except (OperationalError, InterfaceError) as exc:
        log.warning("mail %s: the database is unreachable (%s); another worker takes it when its %d s lease "
                    "runs out", mail_id, type(exc).__name__, LEASE.total_seconds())


def failed(mail_id: int, why: str, trace: list | None = None, holder: str = "") -> InboundMail:
    """A run failed because of the mail itself (a step raised, the time limit struck): it runs again, up to
    MAX_FAILURES times in all, then is quarantined with the reason instead of being retried forever.
    Database outages and killed workers never come here: they leave the mail to be taken again."""
    with db.atomic():
        mail = InboundMail.get_by_id(mail_id)
        if holder and (mail.state != "processing" or mail.lease_holder != holder):
            return mail  # another worker took it over: this run's failure is not its to record
        InboundMail.update(failures=InboundMail.failures + 1).where(InboundMail.id == mail_id).execute()
        mail = InboundMail.get_by_id(mail_id)
        if mail.failures >= MAX_FAILURES:
            return _finish(mail, Result("quarantined", f"processing failed {mail.failures} times: {why}",
                                        trace=trace or []))
        InboundMail.update(state="pending", processing_since=None, lease_holder="", lease_until=None,
                           trace=trace or None,
                           reason=f"processing failed ({mail.failures} of {MAX_FAILURES}), it runs again: {why}"[:2000]
                           ).where(InboundMail.id == mail_id).execute()
        return InboundMail.get_by_id(mail_id)


def load(ctx: Context) -> bool | None:
    try:
        ctx.raw = ctx.mail.raw()
    except OSError as exc:
        return ctx.end("quarantined", f"the stored copy cannot be read: {exc}")
    if len(ctx.raw) > MAX_MAIL_BYTES:
        return ctx.end("quarantined", f"{len(ctx.raw) / 1048576:.0f} MB is over the "
                                      f"{MAX_MAIL_BYTES // 1048576} MB limit for one mail")


def read_mail(ctx: Context) -> bool | None:
    try:
        with time_limit(ctx.intake.parse_seconds):
            ctx.parsed = parse(ctx.raw)
        _remember(ctx.mail, ctx.parsed)
    except ParseError as exc:
        return ctx.end("quarantined", str(exc))
    except ParseTimeout:
        return ctx.end("quarantined", f"reading the mail took over {ctx.intake.parse_seconds:.0f} s")
    except Exception as exc:  # a parser bug on a strange mail: set aside with the reason, never left hanging
        log.exception("parsing mail %s failed", ctx.mail.id)
        return ctx.end("quarantined", f"the mail cannot be read: {type(exc).__name__}: {str(exc)[:300]}")


def authenticate(ctx: Context) -> None:
    """Decided once, at first ingest, and kept: a re-run months later must not depend on rotated keys."""
    stored = Verdict.from_dict(ctx.mail.auth)
    if stored is None:
        if ctx.upload:
            stored = Verdict("none", ctx.parsed.sender_domain, "uploaded by a person: its headers never passed "
                             "through our receiving server", "upload")
        else:
            stored = auth.authenticate(ctx.parsed.header_list, ctx.raw, ctx.intake.auth)
        ctx.mail.auth = stored.as_dict()
    ctx.verdict = stored
    ignored = f" (ignored: {'; '.join(stored.ignored[:3])})" if stored.ignored else ""
    ctx.result.step("authenticate", f"{stored.verdict}: {stored.why}{ignored}")


def loop_check(ctx: Context) -> bool | None:
    if ctx.parsed.from_addr and ctx.parsed.from_addr in ctx.intake.own_addresses:
        ctx.result.kind = "auto_reply"
        return ctx.end("quarantined", "mail loop: sent from our own address")


def classify_mail(ctx: Context) -> bool | None:
    verdict = classify(ctx.parsed)
    ctx.kind = ctx.result.kind = verdict.kind
    ctx.report = verdict.report
    ctx.result.step("classify", f"{verdict.kind}: {verdict.rule}")
    if verdict.kind == "bounce":
        _bounce(ctx.mail, ctx.parsed, verdict.report, ctx.result)
        return STOP


def unwrap_forward(ctx: Context) -> None:
    """A forwarded notice is read from the original: its sender, its subject, its text."""
    if ctx.kind not in ("human", "bulk"):
        return
    ctx.forward = forward.original(ctx.parsed)
    if ctx.forward is not None:
        f = ctx.forward
        ctx.result.step("forward", f"forwarded by {ctx.parsed.from_addr}: original from {f.from_addr or 'unknown'}"
                        f" ({'attached' if f.attached else 'inline'}, {f.depth} level{'s' if f.depth > 1 else ''})")


def match_project(ctx: Context) -> None:
    from models.catalog_ref import current
    ctx.catalog = current()
    patterns = [p.regex for u in ctx.catalog.utilities.values() for p in u.reference_patterns]
    parsed = ctx.parsed
    if ctx.forward is not None:  # the forward's own tokens and thread, and the original's identifiers
        parsed = dataclasses.replace(ctx.parsed, subject=f"{ctx.parsed.subject}\n{ctx.forward.subject}",
                                     text=f"{own_text(ctx.parsed.text)}\n{ctx.forward.text}")
    mail = ctx.mail
    if mail.matched_by == "person" and mail.project_id:  # a person linked it: that decides, on every re-run
        refs = _identifiers(parsed, patterns)
        m = Match(mail.project_id, "person", 1.0, "linked by a person", [], refs, strong=True)
        m.held = held(mail.project_id, candidates(parsed, refs))
    else:
        m = match(parsed, patterns)
        refused = set(mail.decided("not_projects"))
        if m.project_id in refused:  # a person unlinked it from there: a re-run must not link it back
            m = Match(None, "", 0.0, "a person unlinked it from the project it names",
                      [s for s in m.suggestions if s["project_id"] not in refused], m.references)
    ctx.match = ctx.result.match = m
    ctx.project = m.project
    ctx.result.step("match", f"{m.method} ({m.confidence:.2f}, {'strong' if m.strong else 'weak'}): {m.why}"
                    + (f"; names {', '.join(m.held)}" if m.held else "") if m.project_id else m.why)


def find_authority(ctx: Context) -> None:
    domain = ctx.sender_domain
    p = ctx.project
    if p is not None:
        sender = ctx.forward.from_addr if ctx.forward else ctx.parsed.from_addr
        if sender and sender == (p.customer_email or "") and ctx.forward is None:
            ctx.customer = True
            ctx.result.step("authority", f"{sender} is the project's customer")
            return  # the customer, whatever their mail provider (pge.com staff buy solar too)
        ahj = p.ahj if p.ahj_id else None
        ctx.authorities = authority.for_project(domain, p.utility.code, ahj.name if ahj else None,
                                                ahj.state if ahj else None, ctx.catalog)
        if not ctx.authorities:
            contact = Contact.get_or_none((Contact.project == p) & (Contact.email == sender))
            if contact is not None and contact.role in ("utility", "ahj"):
                ctx.authorities = [Authority(contact.role, p.utility.code if contact.role == "utility" else "",
                                             domain, f"{sender} is the project's {contact.role} contact "
                                             "(the catalog does not list the domain)", listed=False)]
    else:
        ctx.authorities = authority.anywhere(domain, ctx.catalog)
    ctx.result.step("authority", "; ".join(a.why for a in ctx.authorities) or
                    f"{domain or 'the sender'} is listed for no utility, AHJ, portal or program"
                    + (" of this project" if p is not None else ""))


def read_notice(ctx: Context) -> None:
    """Every mail is read for notice wording, whoever sent it: a notice nobody sees blocks a project."""
    if ctx.kind not in ("human", "bulk"):
        return  # auto-replies, bounces and receipts announce nothing
    phrases = list(ctx.catalog.notice_phrases)
    if ctx.project is not None:
        utility = ctx.catalog.utilities.get(ctx.project.utility.code)
        phrases += list(utility.notice_phrases if utility else ())
    else:
        codes = {a.code for a in ctx.authorities if a.who == "utility"}
        phrases += [ph for code in sorted(codes & set(ctx.catalog.utilities))
                    for ph in ctx.catalog.utilities[code].notice_phrases]
    # Whose wording to read it as: the project's authorities this domain speaks for; else whoever the
    # catalog lists the domain for anywhere (a platform, another city); else every kind of authority.
    hints = [a for a in ctx.authorities if not a.general] or \
        ([] if ctx.customer else authority.anywhere(ctx.sender_domain, ctx.catalog))
    whos = tuple(dict.fromkeys(a.who for a in hints)) or authority.AUTHORITY_ORDER
    kinds = frozenset(a.kind for a in ctx.project.applications) if ctx.project is not None else frozenset()
    # A reply's subject is the old mail's subject: "RE: Witness test scheduled" is not today's news.
    subject = "" if REPLY_SUBJECT.match(ctx.subject) else ctx.subject
    ctx.reading_as, ctx.reading = notices.read_any(subject, ctx.text, phrases, whos, kinds)
    if ctx.reading.notice and ctx.reading.confidence < notices.NEWS_AT:
        # Only conditional wording ("once it is approved you'll get..."): an explanation, not news.
        ctx.result.step("notice", f"{ctx.reading.why}: no notice")
        ctx.reading = notices.Reading(why=ctx.reading.why)
        return
    if ctx.reading.notice:
        ctx.authority = next((a for a in ctx.authorities if a.who == ctx.reading_as), None)
        ctx.result.notice = ctx.reading.notice
        if ctx.authority is not None:
            ctx.result.kind = f"{'utility' if ctx.reading_as == 'program' else ctx.reading_as}_notice"
    ctx.result.step("notice", ctx.reading.why + (f" (as {ctx.reading_as} wording)" if ctx.reading.notice else ""))


def unmatched(ctx: Context) -> bool | None:
    m = ctx.match
    if ctx.project is not None:
        return None
    # About no project: list mail without a reference number is a newsletter ("approved", "permission to
    # operate" are its everyday words); from a sender the catalog does not list, only subject wording or a
    # reference-shaped number makes it a notice to show.
    if ctx.reading and ctx.reading.notice and (
            ctx.kind == "bulk" and not m.references or
            not ctx.authorities and not (ctx.reading.confidence >= 0.95 or m.references)):
        ctx.result.notice = None
    if ctx.reading and ctx.result.notice:
        name = notices.NAMES.get(ctx.reading.notice, ctx.reading.notice.replace("_", " "))
        best = m.suggestions[0]["external_id"] if m.suggestions else ""
        for s in m.suggestions:
            s["notice"] = ctx.reading.notice
        who = f" from {ctx.authorities[0].code}" if ctx.authorities else ""
        return ctx.end("unmatched", f"reads like a {name}{who}" + (f", probably {best}" if best else
                                                                  ", about no project the desk knows")
                       + f" ({ctx.reading.why}); link it to a project to apply it")
    if ctx.kind not in ("human", "bulk"):
        return ctx.end("processed", f"{ctx.kind.replace('_', ' ')}: nothing to do")
    return ctx.end("unmatched", "no project found" + (f"; {len(m.suggestions)} suggestions" if m.suggestions else ""))


def automatic_mail(ctx: Context) -> bool | None:
    if ctx.kind not in ("human", "bulk") and ctx.result.notice is None:
        ctx.result.reason = f"{ctx.kind.replace('_', ' ')}: recorded on the project, nothing changed"
        _timeline(ctx.mail, ctx.parsed, ctx.project, ctx.result)
        return STOP


def plan_change(ctx: Context) -> None:
    if not ctx.result.notice:
        return
    who = ctx.authority.who if ctx.authority else ctx.reading_as
    ctx.plan = apply.plan(ctx.project, who, ctx.result.notice, ctx.match.references + ctx.match.held,
                          ctx.reading.status)
    ctx.result.notice = ctx.plan.notice  # what it means where the application stands


def decide(ctx: Context) -> None:
    """Apply the change when the evidence is proven; otherwise a person decides, told why."""
    if ctx.plan is None:
        return
    r, plan, mail, reading = ctx.result, ctx.plan, ctx.mail, ctx.reading
    if {"application": plan.kind, "to": plan.to} in mail.decided("rejected"):
        r.step("apply", f"a person rejected {plan.kind} -> {plan.to} for this mail before: nothing suggested")
        return
    if plan.already:
        r.step("apply", f"{plan.application.kind_label} is already {plan.application.status_label}")
        plan.application.log_contact(None, "email", f"{plan.notice.replace('_', ' ')} notice again: {ctx.subject}")
        return
    doubts = evidence.doubts(ctx.verdict, ctx.authority, ctx.match, plan, reading, upload=ctx.upload,
                             forward=ctx.forward, forward_verdict=_forward_verdict(ctx))
    if doubts:
        r.state, r.reason = "needs_review", "; ".join(doubts)
        r.suggested_change = plan.as_dict() | {"why": r.reason, "confidence": reading.confidence,
                                               "provenance": _provenance(ctx)}
        r.step("apply", f"suggested, not applied: {r.reason}")
        return
    m = ctx.match
    cause = {"inbound_id": mail.id, "message_id": mail.message_id, "notice": plan.notice, "rule": reading.why,
             "confidence": reading.confidence, "matched_by": m.method, "auth": ctx.verdict.why,
             "authority": ctx.authority.why}
    reference = m.reference or _application_reference(ctx.project, m.references)
    r.status_change = apply.carry_out(plan, ctx.project, cause, f"{reading.why} — {ctx.subject}"[:500], ctx.text,
                                      reference)
    r.step("apply", apply.describe(r.status_change))


FORWARD_MAX_AGE_DAYS = 60


def _forward_verdict(ctx: Context) -> Verdict | None:
    """An attached original counts as the original mail only when all hold: a desk user (authenticated for
    one of the desk's own domains) forwarded it, its own DKIM signature still verifies, it is recent, and
    the reference that identifies the project is in its signed body, not in the forward's own words."""
    f, m = ctx.forward, ctx.match
    if f is None or not f.attached or f.parsed is None or not ctx.intake.auth.verify_dkim:
        return None
    outer = ctx.verdict
    if outer is None or not outer.authenticated or not authority.covers(outer.domain, ctx.intake.desk_domains):
        return None
    if f.parsed.date and ctx.mail.received_at and \
            abs((ctx.mail.received_at - f.parsed.date).days) > FORWARD_MAX_AGE_DAYS:
        return None
    signed_body = own_text(f.parsed.text).upper()
    if not m.held or not all(h.upper() in signed_body for h in m.held[:1]):
        return None
    if ctx.plan is not None and ctx.plan.application is not None and ctx.plan.application.reference_number and \
            ctx.plan.application.reference_number.upper() not in signed_body:
        return None
    inner = dataclasses.replace(ctx.intake.auth, authserv_ids=(), receiving_hosts=())
    return auth.authenticate(f.parsed.header_list, f.raw, inner)


def _provenance(ctx: Context) -> str:
    if ctx.upload:
        return "upload"
    return "forward" if ctx.forward is not None else "mail"


def attach_files(ctx: Context) -> None:
    parsed, r = ctx.parsed, ctx.result
    if not parsed.attachments:
        return
    files, problems, total = [], [], 0
    for f in parsed.attachments:
        if len(files) >= MAX_ATTACHMENTS:
            problems.append(f"more than {MAX_ATTACHMENTS} attachments: the rest stay in the raw mail")
            break
        if total + len(f.data) > MAX_ATTACHMENT_BYTES_TOTAL:
            problems.append(f"attachments over {MAX_ATTACHMENT_BYTES_TOTAL // 1048576} MB in all: the rest stay "
                            "in the raw mail")
            break
        total += len(f.data)
        files.append(f)
    application = ctx.plan.application if ctx.plan is not None else None
    trusted, why = evidence.files_trusted(ctx.verdict, ctx.authority, ctx.parsed.from_addr, ctx.project,
                                          upload=ctx.upload, forward=ctx.forward is not None)
    kept = attach.attach(ctx.project, files, application, ctx.intake.max_attachment_bytes,
                         ctx.authority.who if ctx.authority else None,
                         notice=r.notice if ctx.authority is not None else None, trusted=trusted)
    r.documents = [k.document_id for k in kept if k.document_id]
    r.step("attach", ("" if trusted else f"kept to review ({why}): ") + ("; ".join(
        f"{k.name} -> {k.item}" if k.item else (f"{k.name}: not kept ({k.problem})" if k.problem else
                                                f"{k.name} ({k.role})") for k in kept) or "nothing kept"))
    if problems:
        r.step("attach", "; ".join(problems))
        if r.state == "processed":
            r.state, r.reason = "needs_review", "; ".join(problems)


def read_without_change(ctx: Context) -> None:
    """A mail that reads like a notice never ends quietly filed: no change means a person looks."""
    r = ctx.result
    if r.notice and not r.status_change and r.state == "processed" and ctx.plan is not None and \
            not ctx.plan.already and not r.suggested_change and \
            {"application": ctx.plan.kind, "to": ctx.plan.to} not in ctx.mail.decided("rejected"):
        name = notices.NAMES.get(r.notice, r.notice)
        r.state, r.reason = "needs_review", f"reads like a {name} but changed nothing"


def follow_up(ctx: Context) -> None:
    if ctx.plan is None:
        _ball_moves(ctx.parsed, ctx.project, ctx.authority if ctx.authority and ctx.verdict.authenticated
                    else None, ctx.result)


def record(ctx: Context) -> None:
    _timeline(ctx.mail, ctx.parsed, ctx.project, ctx.result)


# Outside the transaction: reading the mail. Inside it: what the desk decides and records.
READING = (load, read_mail, authenticate, loop_check)
DECIDING = (classify_mail, unwrap_forward, match_project, find_authority, read_notice, unmatched, automatic_mail,
            plan_change, decide, attach_files, read_without_change, follow_up, record)


def _remember(mail: InboundMail, p: ParsedMail) -> None:
    mail.subject, mail.from_addr, mail.from_name = p.subject, p.from_addr[:255], p.from_name[:255]
    mail.to_addrs = ", ".join(p.to + p.cc)[:5000]
    mail.sent_at = p.date
    mail.in_reply_to, mail.references = " ".join(p.in_reply_to), " ".join(p.references)[:10000]
    mail.body_text, mail.body_html = p.text, p.html


def _application_reference(project, refs: list[str]) -> str | None:
    """For an application created from a notice: the identifier shaped like this utility's application ids."""
    from models.catalog_ref import current
    utility = current().utilities.get(project.utility.code)
    patterns = [p.regex for p in (utility.reference_patterns if utility else ()) if "account" not in p.kind
                and "meter" not in p.kind and "said" not in p.kind.lower()]
    return next((r for r in refs for p in patterns if p.fullmatch(r)), None)


def _ball_moves(parsed: ParsedMail, project, authority: Authority | None, r: Result) -> None:
    """A person answered: reset the clocks that were waiting on them (never a utility status)."""
    if authority is not None:
        kinds = ("ahj_permit",) if authority.who == "ahj" else ("utility_part1", "utility_part2", "incentive")
        apps = list(Application.select().where(Application.project == project, Application.kind.in_(kinds),
                                               Application.status.not_in(tuple(TERMINAL))))
        for app in apps:
            app.log_contact(None, "email", f"Reply from {parsed.from_addr}: {parsed.subject}")
        r.step("follow-up", f"{authority.who} replied: follow-up clock restarted on {len(apps)} application(s)")
        return
    if parsed.from_addr and parsed.from_addr == (project.customer_email or ""):
        later = business_days.add(today(), 2)
        moved = (ChecklistItem.update(next_reminder_on=later)
                 .where((ChecklistItem.project == project) & (ChecklistItem.status == "requested") &
                        (ChecklistItem.next_reminder_on < later)).execute())
        r.step("follow-up", f"customer replied: {moved} document reminder(s) moved to {later}")


def _bounce(mail: InboundMail, parsed: ParsedMail, report, r: Result) -> None:
    original = None
    if report and report.original_message_id:
        original = OutboundMessage.get_or_none(OutboundMessage.message_id == report.original_message_id)
    if original is None:
        r.state, r.reason = "unmatched", "bounce of a message we did not send (or cannot identify)"
        r.step("bounce", r.reason)
        return
    r.match = Match(original.project_id, "thread", 0.95, f"bounce of our message {original.message_id}")
    failed = [a for a in (report.failed or []) if a in [x.lower() for x in original.recipients]] or \
        ([] if report.failed else [x.lower() for x in original.recipients][:1])
    reason = report.diagnostic or report.status or "delivery failed"
    contacts_for(original.project)  # the customer's own address becomes a contact row that can carry the mark
    for addr in failed:
        contact = Contact.get_or_none((Contact.project == original.project_id) & (Contact.email == addr))
        if contact is not None and contact.bouncing_since is None:
            contact.mark_bouncing(reason)
    if original.state != "failed":
        original.state, original.last_error = "failed", f"bounced: {reason}"[:2000]
        original.save()
    r.step("bounce", f"{', '.join(failed) or 'recipient unknown'} bounced: {reason}")
    _timeline(mail, parsed, original.project, r)


def _timeline(mail: InboundMail, parsed: ParsedMail, project, r: Result) -> None:
    """One timeline entry per mail, however often it is processed (it follows the mail if relinked)."""
    if mail.event_id:
        Event.update(project=project).where(Event.id == mail.event_id).execute()
        return
    who = parsed.from_name or parsed.from_addr or "unknown sender"
    label = {"bounce": "Bounce", "auto_reply": "Auto-reply", "utility_notice": "Utility notice",
             "ahj_notice": "AHJ notice"}.get(r.kind, "Email")
    mail.event = Event.record(project, "email", None, actor_label="mail",
                              summary=f"{label} from {who}: {parsed.subject}"[:250],
                              body=own_text(parsed.text)[:4000], data={"inbound_id": mail.id, "kind": r.kind})


def _finish(mail: InboundMail, r: Result) -> InboundMail:
    mail.keep_lease()  # raises LeaseLost when another worker took the mail over (the caller rolls back)
    mail.state, mail.reason, mail.kind = r.state, r.reason[:2000], r.kind or mail.kind
    mail.project = r.match.project_id
    mail.matched_by, mail.confidence = r.match.method, r.match.confidence if r.match.project_id else None
    mail.suggestions = r.match.suggestions or None
    mail.notice = r.notice
    if r.status_change or mail.status_change is None:
        mail.status_change = r.status_change
    mail.suggested_change = r.suggested_change
    if r.status_change and r.match.project_id:
        app = Application.select().where(Application.project == r.match.project_id,
                                          Application.kind == r.status_change["application"]).first()
        mail.application = app
    mail.documents = r.documents or None
    mail.trace = r.trace or None
    mail.processed_at, mail.processing_since = utcnow(), None
    mail.save()
    webhooks.mail_matched(mail)  # delivered after the commit; a no-op unless matched
    return mail

