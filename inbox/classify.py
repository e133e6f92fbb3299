"""Step 3, classify: what kind of mail this is. Only a person's mail or a recognised notice may change anything.

Rules run in order; the first that fires names the kind and says why. Pure.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from inbox.parse import ParsedMail, Report

AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto:|automatic reply|auto(matic)?[- ]?(reply|response|antwort)|out of (the )?office|ooo\b|away from|"
    r"on vacation|vacation reply|abwesenheit|r[ée]ponse automatique|absence|respuesta autom[áa]tica|"
    r"fuera de la oficina|autosvar|risposta automatica|automatisch antwoord|afwezig)", re.IGNORECASE)
BOUNCE_SUBJECT = re.compile(
    r"(undeliver(able|ed)|delivery (status notification|has failed|failure)|mail delivery (failed|failure|system)|"
    r"returned mail|failure notice|delivery notification|could not be delivered|non[- ]?delivery|"
    r"unzustellbar|message not delivered|rejected:)", re.IGNORECASE)
RECEIPT_SUBJECT = re.compile(r"^\s*(read|gelesen|lu|le[ií]do|return receipt|read receipt)\s*:", re.IGNORECASE)
DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounces?|mail\.delivery\.subsystem)@",
                    re.IGNORECASE)
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
MESSAGE_ID_LINE = re.compile(r"(?im)^\s*message-id:\s*(<[^>\s]+>)")


@dataclass(frozen=True)
class Verdict:
    kind: str  # human | auto_reply | bounce | bulk | receipt | complaint
    rule: str  # which rule decided, shown to people
    report: Report | None = None


def _auto_submitted(mail: ParsedMail) -> str:
    """The keyword of Auto-Submitted, without comments: "auto-replied (zimbra; vacation)" -> "auto-replied"."""
    found = re.match(r"\s*([a-z-]+)", mail.header("auto-submitted").lower())
    return found.group(1) if found else ""


def _bounce(mail: ParsedMail) -> Verdict | None:
    if mail.report_type == "delivery-status" or mail.report is not None and mail.report.failed:
        report = mail.report or Report()
        if report.action in ("delayed", "delivered", "relayed", "expanded"):
            return Verdict("auto_reply", f"delivery report: {report.action}, not a failure", report)
        return Verdict("bounce", "delivery status report (RFC 3464)", _complete(report, mail))
    daemon = bool(DAEMON.match(mail.from_addr)) or mail.return_path == ""
    if daemon and (BOUNCE_SUBJECT.search(mail.subject) or not mail.subject):
        return Verdict("bounce", "returned by a mail server (no standard report)", _complete(Report(), mail))
    if BOUNCE_SUBJECT.search(mail.subject) and mail.header("x-failed-recipients"):
        return Verdict("bounce", "X-Failed-Recipients", _complete(Report(), mail))
    return None


def _complete(report: Report, mail: ParsedMail) -> Report:
    """Fill in what a non-standard bounce leaves out: the original Message-ID and who failed."""
    if not report.original_message_id:
        found = MESSAGE_ID_LINE.search(mail.text)
        if found:
            report.original_message_id = found.group(1)
        elif mail.in_reply_to:
            report.original_message_id = mail.in_reply_to[0]
    for addr in re.split(r"[,\s]+", mail.header("x-failed-recipients")):
        if "@" in addr and addr.lower() not in report.failed:
            report.failed.append(addr.lower())
    if not report.failed:
        own = {mail.from_addr, *mail.recipients}
        report.failed = [a.lower() for a in dict.fromkeys(ADDRESS.findall(mail.text[:20000]))
                         if a.lower() not in own and not DAEMON.match(a)][:5]
    if not report.diagnostic:
        line = re.search(r"(?im)^.*\b(5\.\d\.\d+|550|551|552|553|554)\b.*$", mail.text)
        report.diagnostic = line.group(0).strip()[:500] if line else ""
    return report


RULES = (
    ("bounce", _bounce),
    ("complaint", lambda m: Verdict("complaint", "abuse feedback report (ARF)")
     if m.report_type == "feedback-report" else None),
    ("receipt", lambda m: Verdict("receipt", "read receipt (RFC 8098)")
     if m.report_type == "disposition-notification" or (RECEIPT_SUBJECT.match(m.subject) and
                                                         m.header("x-ms-exchange-organization-messagesubtype")
                                                         ) else None),
    ("auto_submitted", lambda m: Verdict("auto_reply", f"Auto-Submitted: {_auto_submitted(m)}")
     if _auto_submitted(m) in ("auto-replied", "auto-notified") else None),
    ("x_autoreply", lambda m: Verdict("auto_reply", "X-Autoreply / X-Autorespond header")
     if m.header("x-autoreply") or m.header("x-autorespond") or m.header("x-autoresponder") else None),
    ("precedence_auto", lambda m: Verdict("auto_reply", "Precedence: auto_reply")
     if m.header("precedence").lower().strip() == "auto_reply" else None),
    ("subject_ooo", lambda m: Verdict("auto_reply", "out-of-office subject")
     if AUTO_REPLY_SUBJECT.match(m.subject) else None),
    ("exchange_ooo", lambda m: Verdict("auto_reply", "Exchange automatic reply")
     if m.header("x-auto-response-suppress") and RECEIPT_SUBJECT.match(m.subject) is None and
     re.search(r"\b(out of (the )?office|automatic reply|away)\b", m.subject, re.IGNORECASE) else None),
    ("bulk", lambda m: Verdict("bulk", "mailing list or bulk mail (List-Id, List-Unsubscribe, Precedence)")
     if m.header("list-id") or m.header("list-unsubscribe") or
     m.header("precedence").lower().strip() in ("bulk", "list", "junk") else None),
)


def classify(mail: ParsedMail) -> Verdict:
    """The kind of mail, by the first rule that fires; a person's mail when none does."""
    for _name, rule in RULES:
        verdict = rule(mail)
        if verdict is not None:
            return verdict
    return Verdict("human", "no automatic-mail marker")
