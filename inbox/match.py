"""Step 4, match: which project a mail is about, how we know, and how sure we are.

Signals are read from the mail by pure functions; `match()` looks them up, strongest first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from peewee import fn

from inbox.parse import ParsedMail
from models import tokens
from models.applications import Application
from models.projects import Project

# Words that introduce an identifier in portal and utility mail ("Application ID: SCE-INT-NST-396139").
LABELLED_ID = re.compile(
    r"\b(?:application|project|permit|reference|ref|case|account|service account|said|work order|reservation|"
    r"approval|meter|esi)\s*(?:id|no\.?|number|num|#)?\s*[:#]?\s*([A-Z0-9][A-Z0-9_-]{3,40}[A-Z0-9])\b", re.IGNORECASE)
STREET = re.compile(r"\b(\d{2,6})\s+((?:[NSEW]\.?\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\s+"
                    r"(St|Street|Ave|Avenue|Rd|Road|Dr|Drive|Ln|Lane|Ct|Court|Blvd|Way|Pl|Place|Cir|Circle|Ter|"
                    r"Terrace|Pkwy|Hwy|Loop|Trl|Trail)\b")
CANDIDATE_ID = re.compile(r"\b[A-Z0-9][A-Z0-9_-]{3,30}[A-Z0-9]\b")
QUOTE_START = re.compile(r"(?im)^(>|-{2,}\s*original message|_{5,}|on .{5,200}wrote:\s*$|from:\s.+\n(sent|date):)")
STRENGTH = {"token": 1.0, "plus_address": 1.0, "thread": 0.95, "reference": 0.9, "external_id": 0.85,
            "sender": 0.7}


@dataclass
class Match:
    project_id: int | None = None
    method: str = ""
    confidence: float = 0.0
    why: str = ""
    suggestions: list[dict] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # identifiers found in the mail, for the application step
    reference: str = ""  # the identifier that found the project, when one did

    @property
    def project(self) -> Project | None:
        return Project.get_or_none(Project.id == self.project_id) if self.project_id else None


def own_text(text: str) -> str:
    """The new part of a reply: what comes before the quoted message."""
    found = QUOTE_START.search(text or "")
    return text[:found.start()] if found else (text or "")


def token_ids(mail: ParsedMail) -> list[tuple[int, str]]:
    found = []
    subject_id = tokens.decode(mail.subject)
    if subject_id:
        found.append((subject_id, "subject"))
    body_id = tokens.decode(mail.text[:20000])
    if body_id and body_id != subject_id:
        found.append((body_id, "body"))
    return found


def plus_ids(mail: ParsedMail) -> list[int]:
    ids = []
    for addr in mail.recipients:
        local = addr.partition("@")[0]
        if "+" in local:
            pid = tokens.decode(local.split("+", 1)[1])
            if pid and pid not in ids:
                ids.append(pid)
    return ids


def identifiers(mail: ParsedMail, patterns) -> list[str]:
    """Reference-number-like strings: the catalog's patterns first, then labelled IDs ("Permit #B24-0012")."""
    text = f"{mail.subject}\n{own_text(mail.text)[:20000]}"
    spans: list[tuple[int, int]] = []
    for pattern in patterns:
        for m in pattern.finditer(text):
            # Whole tokens only: APS's 8-digit pattern must not pull 30012345 out of PGE-INT-300123456.
            before = text[m.start() - 1] if m.start() else " "
            after = text[m.end()] if m.end() < len(text) else " "
            if not (before.isalnum() or before in "-_") and not (after.isalnum() or after in "-_"):
                spans.append((m.start(), m.end()))
    spans += [m.span(1) for m in LABELLED_ID.finditer(text)]
    inside = {s for s in spans for o in spans if o != s and o[0] <= s[0] and s[1] <= o[1]}
    found = [text[a:b] for a, b in sorted(set(spans) - inside)]
    return list(dict.fromkeys(f.strip().upper() for f in found if any(c.isdigit() for c in f)))[:40]


def _suggest(ranked: dict[int, tuple[float, str]], limit: int = 5) -> list[dict]:
    if not ranked:
        return []
    rows = {p.id: p for p in Project.select(Project.id, Project.external_id, Project.customer_name)
            .where(Project.id.in_(list(ranked)))}
    best = sorted((pid for pid in ranked if pid in rows), key=lambda pid: -ranked[pid][0])[:limit]
    return [{"project_id": pid, "external_id": rows[pid].external_id, "customer": rows[pid].customer_name,
             "why": ranked[pid][1], "score": round(ranked[pid][0], 2)} for pid in best]


def match(mail: ParsedMail, patterns=(), extra_thread_ids: tuple[str, ...] = ()) -> Match:
    """The project, by the strongest signal present; weaker signals become ranked suggestions."""
    from models.inbound import InboundMail
    from models.messages import Contact, OutboundMessage
    ranked: dict[int, tuple[float, str]] = {}
    refs = identifiers(mail, patterns)

    def rank(pid: int, score: float, why: str) -> None:
        if pid not in ranked or ranked[pid][0] < score:
            ranked[pid] = (score, why)

    def found(pid: int, method: str, why: str, confidence: float | None = None) -> Match | None:
        if not Project.select().where(Project.id == pid).exists():
            return None
        return Match(pid, method, confidence or STRENGTH[method], why, [], refs)

    for pid, where in token_ids(mail):
        hit = found(pid, "token", f"reply token {tokens.encode(pid)} in the {where}", 1.0 if where == "subject" else 0.95)
        if hit:
            return hit
    for pid in plus_ids(mail):
        hit = found(pid, "plus_address", f"sent to our address for {tokens.encode(pid)}")
        if hit:
            return hit
    thread = list(dict.fromkeys(mail.in_reply_to + mail.references[::-1] + list(extra_thread_ids)))[:50]
    if thread:
        sent = OutboundMessage.select(OutboundMessage.project, OutboundMessage.message_id).where(
            OutboundMessage.message_id.in_(thread)).first()
        if sent is not None:
            return Match(sent.project_id, "thread", STRENGTH["thread"], f"answers our message {sent.message_id}",
                         [], refs)
        earlier = (InboundMail.select(InboundMail.project, InboundMail.message_id)
                   .where(InboundMail.message_id.in_(thread), InboundMail.project.is_null(False)).first())
        if earlier is not None:
            return Match(earlier.project_id, "thread", 0.9, f"same thread as {earlier.message_id}", [], refs)
    if refs:
        by_ref: dict[int, tuple[str, str]] = {}
        for app in Application.select(Application.project, Application.reference_number).where(
                Application.reference_number.in_(refs)):
            by_ref.setdefault(app.project_id, (f"application reference {app.reference_number}", app.reference_number))
        for p in Project.select(Project.id, Project.utility_account).where(Project.utility_account.in_(refs)):
            by_ref.setdefault(p.id, (f"utility account {p.utility_account}", ""))
        if len(by_ref) == 1:
            pid, (why, ref) = next(iter(by_ref.items()))
            return Match(pid, "reference", STRENGTH["reference"], why, [], refs, ref)
        for pid, (why, _ref) in by_ref.items():
            rank(pid, 0.6, why + " (several projects)")
    subject_ids = set(CANDIDATE_ID.findall(mail.subject.upper())) | set(refs)
    if subject_ids:
        hits = list(Project.select(Project.id, Project.external_id).where(
            Project.external_id.in_(list(subject_ids)[:60])))
        if len(hits) == 1:
            return Match(hits[0].id, "external_id", STRENGTH["external_id"], f"project id {hits[0].external_id}",
                         [], refs)
        for p in hits:
            rank(p.id, 0.55, f"project id {p.external_id}")
    if mail.from_addr:
        owners = {p.id for p in Project.select(Project.id).where(Project.customer_email == mail.from_addr)}
        owners |= {c.project_id for c in Contact.select(Contact.project).where(Contact.email == mail.from_addr)}
        if len(owners) == 1 and not ranked:
            pid = owners.pop()
            return Match(pid, "sender", STRENGTH["sender"], f"sender {mail.from_addr} belongs to one project", [], refs)
        for pid in list(owners)[:20]:
            rank(pid, 0.5, f"sender {mail.from_addr} is a contact")
    _similar(mail, rank)
    return Match(None, "", 0.0, "no reply token, thread, reference number or known sender",
                 _suggest(ranked), refs)


def _similar(mail: ParsedMail, rank) -> None:
    """Address and name likeness: suggestions only, never a match."""
    text = f"{mail.subject}\n{own_text(mail.text)[:5000]}"
    for number, street, _suffix in STREET.findall(text)[:3]:
        word = street.split()[-1]
        for p in Project.select(Project.id).where(Project.street.startswith(f"{number} "),
                                                 Project.street.contains(word)).limit(5):
            rank(p.id, 0.45, f"address {number} {street}")
    name = " ".join(mail.from_name.replace(",", " ").split())
    if len(name) >= 5 and "@" not in name:
        for p in Project.select(Project.id).where(fn.LOWER(Project.customer_name) == name.lower()).limit(5):
            rank(p.id, 0.4, f"sender name {name}")
