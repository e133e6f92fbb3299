"""The inbox pipeline: one stored mail through parse, classify, match, attach and apply, to an end state.

`process()` is idempotent: running it twice on the same mail changes nothing the first run did not.
"""
from __future__ import annotations

import logging
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from peewee import InterfaceError, OperationalError

from inbox import apply, attach, notices
from inbox.classify import classify
from inbox.match import Match, identifiers as _identifiers, match, own_text
from inbox.parse import ParsedMail, ParseError, parse
from models import business_days, webhooks
from models.applications import Application
from models.base import db, today, utcnow
from models.checklists import ChecklistItem
from models.events import Event
from models.inbound import InboundMail
from models.lifecycle import TERMINAL
from models.messages import Contact, OutboundMessage, contacts_for

log = logging.getLogger(__name__)
AHJ_DOMAINS = (".gov", "solarapp.nrel.gov", "solarapp.org")
# City and county sites under .us ("ci.oakland.ca.us", "co.marin.ca.us"); a bare .us domain is anyone's.
AHJ_US = re.compile(r"(^|\.)(ci|co|city|cityof|county|town|twp|vil)\.[a-z0-9-]+(\.[a-z]{2})?\.us$")
MAX_MAIL_BYTES = 60 * 1048576


@dataclass(frozen=True)
class Intake:
    """Settings the pipeline needs (from config), so the steps stay free of Flask and globals."""

    own_addresses: tuple[str, ...] = ()
    max_attachment_bytes: int | None = None
    parse_seconds: float = 30.0
    suggest_only: bool = False  # mail a person uploaded: anyone can write an .eml, so it only suggests


@dataclass
class Authority:
    who: str  # utility | ahj
    utility_code: str = ""
    why: str = ""


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


def _domain_in(domain: str, domains) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in domains)


def authority_of(mail: ParsedMail, project, catalog) -> Authority | None:
    """Whether the sender speaks for the project's utility or its AHJ (domain or a contact's role)."""
    domain = mail.sender_domain
    if not domain:
        return None
    if project is not None:
        if mail.from_addr == (project.customer_email or ""):
            return None  # the customer, whatever their mail provider (pge.com staff and ssa.gov people buy solar too)
        contact = Contact.get_or_none((Contact.project == project) & (Contact.email == mail.from_addr))
        if contact is not None and contact.role not in ("utility", "ahj"):
            return None
        if contact is not None:
            code = project.utility.code if contact.role == "utility" else ""
            return Authority(contact.role, code, f"{mail.from_addr} is the project's {contact.role} contact")
        utility = catalog.utilities.get(project.utility.code)
        if utility and _domain_in(domain, utility.sender_domains):
            return Authority("utility", utility.code, f"{domain} is {utility.code}'s domain")
    else:
        for utility in catalog.utilities.values():
            if _domain_in(domain, utility.sender_domains):
                return Authority("utility", utility.code, f"{domain} is {utility.code}'s domain")
    if _domain_in(domain, AHJ_DOMAINS) or domain.endswith(AHJ_DOMAINS) or AHJ_US.search(domain):
        return Authority("ahj", "", f"{domain} is a government domain")
    return None


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


def process(mail: InboundMail, intake: Intake = Intake()) -> InboundMail:
    """Run the pipeline on a stored mail and record its end state (never raises for a bad mail)."""
    result = Result()
    try:
        raw = mail.raw()
    except OSError as exc:
        return _finish(mail, Result("quarantined", f"the stored copy cannot be read: {exc}"))
    if len(raw) > MAX_MAIL_BYTES:
        return _finish(mail, Result("quarantined", f"{len(raw) / 1048576:.0f} MB is over the "
                                                  f"{MAX_MAIL_BYTES // 1048576} MB limit for one mail"))
    try:
        with time_limit(intake.parse_seconds):
            parsed = parse(raw)
        _remember(mail, parsed)
    except ParseError as exc:
        return _finish(mail, Result("quarantined", str(exc)))
    except ParseTimeout:
        return _finish(mail, Result("quarantined", f"reading the mail took over {intake.parse_seconds:.0f} s"))
    except Exception as exc:  # a parser bug on a strange mail: set aside with the reason, never left hanging
        log.exception("parsing mail %s failed", mail.id)
        return _finish(mail, Result("quarantined", f"the mail cannot be read: {type(exc).__name__}: {str(exc)[:300]}"))
    event_before = mail.event_id
    try:
        with db.atomic():
            _run(mail, parsed, intake, result)
            return _finish(mail, result)
    except (OperationalError, InterfaceError):
        # The database, not the mail: back to pending so a retry (or the sweeper) runs it again.
        InboundMail.update(state="pending", processing_since=None).where(InboundMail.id == mail.id).execute()
        raise
    except Exception as exc:  # a bug must not lose the mail: it stays visible, re-runnable, with the reason
        mail.event_id = event_before  # whatever the failed run wrote was rolled back
        log.exception("inbox pipeline failed on mail %s", mail.id)
        return _finish(mail, Result("quarantined", f"processing failed: {type(exc).__name__}: {str(exc)[:300]}",
                                    trace=result.trace))


def _remember(mail: InboundMail, p: ParsedMail) -> None:
    mail.subject, mail.from_addr, mail.from_name = p.subject, p.from_addr[:255], p.from_name[:255]
    mail.to_addrs = ", ".join(p.to + p.cc)[:5000]
    mail.sent_at = p.date
    mail.in_reply_to, mail.references = " ".join(p.in_reply_to), " ".join(p.references)[:10000]
    mail.body_text, mail.body_html = p.text, p.html


def _run(mail: InboundMail, parsed: ParsedMail, intake: Intake, r: Result) -> None:
    from models.catalog_ref import current
    catalog = current()
    if parsed.from_addr and parsed.from_addr in intake.own_addresses:
        r.state, r.reason, r.kind = "quarantined", "mail loop: sent from our own address", "auto_reply"
        return
    verdict = classify(parsed)
    r.kind = verdict.kind
    r.step("classify", f"{verdict.kind}: {verdict.rule}")
    if verdict.kind == "bounce":
        _bounce(mail, parsed, verdict.report, r)
        return
    patterns = [p.regex for u in catalog.utilities.values() for p in u.reference_patterns]
    if mail.matched_by == "person" and mail.project_id:  # a person linked it: that decides, on every re-run
        r.match = Match(mail.project_id, "person", 1.0, "linked by a person", [], _identifiers(parsed, patterns))
    else:
        r.match = match(parsed, patterns)
        refused = set(mail.decided("not_projects"))
        if r.match.project_id in refused:  # a person unlinked it from there: a re-run must not link it back
            r.match = Match(None, "", 0.0, "a person unlinked it from the project it names",
                            [s for s in r.match.suggestions if s["project_id"] not in refused], r.match.references)
    m = r.match
    r.step("match", f"{m.method} ({m.confidence:.2f}): {m.why}" if m.project_id else m.why)
    project = m.project
    if project is None:
        r.state = "unmatched" if verdict.kind in ("human", "bulk") else "processed"
        r.reason = "no project found" + (f"; {len(m.suggestions)} suggestions" if m.suggestions else "")
        if verdict.kind not in ("human", "bulk"):
            r.reason = f"{verdict.kind.replace('_', ' ')}: nothing to do"
        return
    authority = authority_of(parsed, project, catalog) if verdict.kind in ("human", "bulk") else None
    reading = None
    if authority is not None:
        phrases = list(catalog.notice_phrases)
        utility = catalog.utilities.get(project.utility.code)
        if authority.who == "utility" and utility:
            phrases += list(utility.notice_phrases)
        reading = notices.read(parsed.subject, own_text(parsed.text), phrases, authority.who)
        r.step("notice", f"{authority.why}; {reading.why}")
        if reading.notice:
            r.kind, r.notice = f"{authority.who}_notice", reading.notice
    elif verdict.kind == "bulk":
        r.step("notice", "bulk mail from a sender who is not the utility or AHJ: no notice")
    if verdict.kind not in ("human", "bulk") and r.notice is None:
        r.reason = f"{verdict.kind.replace('_', ' ')}: recorded on the project, nothing changed"
        _timeline(mail, parsed, project, r)
        return
    plan = None
    if r.notice:
        plan = apply.plan(project, authority.who, r.notice, m.references, reading.status)
        _notice(mail, parsed, project, plan, reading, m, r, intake, authority)  # first: a created application
        # gets the letter
    if parsed.attachments:
        application = plan.application if plan is not None else None
        kept = attach.attach(project, parsed.attachments, application, intake.max_attachment_bytes,
                             authority.who if authority else None)
        r.documents = [k.document_id for k in kept if k.document_id]
        r.step("attach", "; ".join(f"{k.name} -> {k.item}" if k.item else
                                   (f"{k.name}: not kept ({k.problem})" if k.problem else f"{k.name} (to review)")
                                   for k in kept) or "nothing kept")
    if plan is None:
        _ball_moves(parsed, project, authority, r)
    _timeline(mail, parsed, project, r)

def _notice(mail, parsed, project, plan, reading, m, r: Result, intake: Intake, authority: Authority) -> None:
    cause = {"inbound_id": mail.id, "message_id": mail.message_id, "notice": plan.notice, "rule": reading.why,
             "confidence": reading.confidence, "matched_by": m.method}
    if {"application": plan.kind, "to": plan.to} in mail.decided("rejected"):
        r.step("apply", f"a person rejected {plan.kind} -> {plan.to} for this mail before: nothing suggested")
        return
    if plan.already:
        r.step("apply", f"{plan.application.kind_label} is already {plan.application.status_label}")
        plan.application.log_contact(None, "email", f"{plan.notice.replace('_', ' ')} notice again: {parsed.subject}")
        return
    doubts = []
    if plan.blocked:
        doubts.append(plan.blocked)
    if reading.confidence < notices.APPLY_AT:
        doubts.append(f"wording not certain ({reading.why})")
    if m.confidence < apply.MATCH_NEEDED:
        doubts.append(f"project found only by {m.method.replace('_', ' ')}")
    elif not _corroborated(authority, m, plan):
        # A From header is easy to forge and reply tokens are seen by customers: a notice acts on its own only
        # when it also names the application's reference number, answers our mail, or comes from a known contact.
        doubts.append("sender not corroborated (no reference number of the application, no thread, not a known "
                      "contact)")
    if intake.suggest_only:
        doubts.append("uploaded by a person: someone must confirm the change")
    if doubts:
        r.state, r.reason = "needs_review", "; ".join(doubts)
        r.suggested_change = plan.as_dict() | {"why": r.reason, "confidence": reading.confidence}
        r.step("apply", f"suggested, not applied: {r.reason}")
        return
    reference = m.reference or _application_reference(project, m.references)
    r.status_change = apply.carry_out(plan, project, cause, f"{reading.why} — {parsed.subject}"[:500],
                                      own_text(parsed.text), reference)
    r.step("apply", apply.describe(r.status_change))


def _corroborated(authority: Authority, m: Match, plan) -> bool:
    if authority.why.endswith("contact") or m.method in ("thread", "person"):
        return True
    if m.method == "reference" and m.reference:
        return True
    if plan.application is not None and plan.application.reference_number:
        return plan.application.reference_number.upper() in {r.upper() for r in m.references}
    return plan.create and any(m.references)


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

