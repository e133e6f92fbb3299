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
STREET = re.compile(r"\b(\d{2,6})\s+((?:[NSEW]\.?\s+)?[A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z]+)?)\s+"
                    r"((?i:St|Street|Ave|Avenue|Rd|Road|Dr|Drive|Ln|Lane|Ct|Court|Blvd|Way|Pl|Place|Cir|Circle|Ter|"
                    r"Terrace|Pkwy|Hwy|Loop|Trl|Trail))\b")
# A person's name as mail writes it: "Dana Pate", "DANA PATE", "Host Customer: Dana Pate".
PERSON = re.compile(r"\b([A-Z][a-z]+|[A-Z]{2,})\s+((?:O'|Mc)?[A-Z][a-z'’-]+|[A-Z][A-Z'’-]+)\b")
CANDIDATE_ID = re.compile(r"(?<![A-Z0-9_-])[A-Z0-9][A-Z0-9_:-]{3,40}[A-Z0-9](?![A-Z0-9_-])")
QUOTE_START = re.compile(r"(?im)^(>|-{2,}\s*original message|_{5,}|on .{5,200}wrote:\s*$|from:\s.+\n(sent|date):)")
STRENGTH = {"token": 1.0, "plus_address": 1.0, "thread": 0.95, "reference": 0.9, "external_id": 0.85,
            "sender": 0.7}
# Signals an outsider cannot forge or guess: a keyed token under the current key, a reply to mail the desk
# sent, a reference number an application already holds, a person's link. Everything else only suggests.
STRONG = ("token", "plus_address", "thread", "reference", "person")
MAX_CANDIDATES = 200


@dataclass
class Match:
    project_id: int | None = None
    method: str = ""
    confidence: float = 0.0
    why: str = ""
    suggestions: list[dict] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # identifiers found in the mail, for the application step
    reference: str = ""  # the identifier that found the project, when one did
    strong: bool = False  # found by evidence an outsider cannot forge or guess (STRONG, keyed token)
    held: list[str] = field(default_factory=list)  # reference numbers of the project's applications in the mail
    others: list[str] = field(default_factory=list)  # numbers shaped like a held one that are not this project's

    @property
    def project(self) -> Project | None:
        return Project.get_or_none(Project.id == self.project_id) if self.project_id else None


def own_text(text: str) -> str:
    """The new part of a reply: what comes before the quoted message."""
    found = QUOTE_START.search(text or "")
    return text[:found.start()] if found else (text or "")


def token_ids(mail: ParsedMail) -> list[tuple[tokens.Found, str]]:
    """Tokens in the subject, then the body; keyed ones first within each."""
    found = []
    for where, text in (("subject", mail.subject), ("body", mail.text[:20000])):
        for t in sorted(tokens.find(text), key=lambda t: not t.strong):
            if all(t.project_id != f.project_id for f, _w in found):
                found.append((t, where))
    return found


def plus_ids(mail: ParsedMail) -> list[tokens.Found]:
    ids: list[tokens.Found] = []
    for addr in mail.recipients:
        local = addr.partition("@")[0]
        if "+" in local:
            for t in tokens.find(local.split("+", 1)[1]):
                if all(t.project_id != f.project_id for f in ids):
                    ids.append(t)
    return ids


def candidates(mail: ParsedMail, refs: list[str]) -> list[str]:
    """Every identifier-shaped word of the new text, for looking up reference numbers the desk holds: a
    reference the desk already holds matches wherever and however it appears ("Request 2025-117806")."""
    text = f"{mail.subject}\n{own_text(mail.text)[:20000]}"
    found = [w for w in CANDIDATE_ID.findall(text.upper()) if any(c.isdigit() for c in w)]
    return list(dict.fromkeys([*refs, *found]))[:MAX_CANDIDATES]


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
    lookup = candidates(mail, refs)
    held_lookup = lookup

    def rank(pid: int, score: float, why: str) -> None:
        if pid not in ranked or ranked[pid][0] < score:
            ranked[pid] = (score, why)

    def found(pid: int, method: str, why: str, confidence: float | None = None) -> Match | None:
        if not Project.select().where(Project.id == pid).exists():
            return None
        return Match(pid, method, confidence or STRENGTH[method], why, [], refs)

    weak: Match | None = None
    for t, where in token_ids(mail):
        label = {"strong": "reply token", "old_key": "reply token under an earlier key",
                 "unkeyed": "old unkeyed reply token"}[t.strength]
        hit = found(t.project_id, "token", f"{label} in the {where}", 1.0 if where == "subject" else 0.95)
        if hit and t.strong:
            return _with_held(hit, held_lookup, strong=True)
        weak = weak or (hit and _demote(hit, 0.8))
    for t in plus_ids(mail):
        hit = found(t.project_id, "plus_address", "sent to our address for the project"
                    + ("" if t.strong else f" ({t.strength.replace('_', ' ')} token)"))
        if hit and t.strong:
            return _with_held(hit, held_lookup, strong=True)
        weak = weak or (hit and _demote(hit, 0.8))
    thread = list(dict.fromkeys(mail.in_reply_to + mail.references[::-1] + list(extra_thread_ids)))[:50]
    if thread:
        sent = OutboundMessage.select(OutboundMessage.project, OutboundMessage.message_id).where(
            OutboundMessage.message_id.in_(thread)).first()
        if sent is not None:
            return _with_held(Match(sent.project_id, "thread", STRENGTH["thread"],
                                    f"answers our message {sent.message_id}", [], refs), held_lookup, strong=True)
        earlier = (InboundMail.select(InboundMail.project, InboundMail.message_id)
                   .where(InboundMail.message_id.in_(thread), InboundMail.project.is_null(False)).first())
        if earlier is not None and weak is None:
            # Anyone can reply to their own earlier mail: the thread finds the project, it proves nothing.
            weak = Match(earlier.project_id, "inbound_thread", 0.8, f"same thread as {earlier.message_id}, which "
                         "came from outside", [], refs)
    held_refs = {}
    if lookup:
        for app in Application.select(Application.project, Application.reference_number).where(
                Application.reference_number.in_(lookup)):
            held_refs.setdefault(app.project_id, (f"application reference {app.reference_number}",
                                                  app.reference_number))
    if weak is not None:
        if weak.project_id in held_refs:  # the weak signal agrees with a held reference: the reference decides
            why, ref = held_refs[weak.project_id]
            return _with_held(Match(weak.project_id, "reference", STRENGTH["reference"], why, [], refs, ref),
                              held_lookup, strong=True)
        return _with_held(weak, held_lookup, strong=False)
    if refs or held_refs:
        by_ref: dict[int, tuple[str, str]] = dict(held_refs)
        accounts = {}
        for p in Project.select(Project.id, Project.utility_account).where(Project.utility_account.in_(lookup)):
            accounts.setdefault(p.id, (f"utility account {p.utility_account}", ""))
        if len(by_ref) == 1:
            pid, (why, ref) = next(iter(by_ref.items()))
            return _with_held(Match(pid, "reference", STRENGTH["reference"], why, [], refs, ref), held_lookup,
                              strong=True)
        for pid, (why, _ref) in by_ref.items():
            rank(pid, 0.6, why + " (several projects)")
        if not by_ref and len(accounts) == 1:
            pid, (why, _ref) = next(iter(accounts.items()))
            # An account number is printed on every bill: it finds the project, it proves no notice.
            return _with_held(Match(pid, "account", 0.85, why, [], refs), held_lookup, strong=False)
        for pid, (why, _ref) in accounts.items():
            rank(pid, 0.55, why)
    subject_ids = set(CANDIDATE_ID.findall(mail.subject.upper())) | set(refs)
    if subject_ids:
        hits = list(Project.select(Project.id, Project.external_id).where(
            Project.external_id.in_(list(subject_ids)[:60])))
        if len(hits) == 1:
            return _with_held(Match(hits[0].id, "external_id", STRENGTH["external_id"],
                                    f"project id {hits[0].external_id}", [], refs), held_lookup, strong=False)
        for p in hits:
            rank(p.id, 0.55, f"project id {p.external_id}")
    if mail.from_addr:
        owners = {p.id for p in Project.select(Project.id).where(Project.customer_email == mail.from_addr)}
        owners |= {c.project_id for c in Contact.select(Contact.project).where(Contact.email == mail.from_addr)}
        if len(owners) == 1 and not ranked:
            pid = owners.pop()
            return _with_held(Match(pid, "sender", STRENGTH["sender"], f"sender {mail.from_addr} belongs to one "
                                    "project", [], refs), held_lookup, strong=False)
        for pid in list(owners)[:20]:
            rank(pid, 0.5, f"sender {mail.from_addr} is a contact")
    _similar(mail, rank)
    return Match(None, "", 0.0, "no reply token, thread, reference number or known sender",
                 _suggest(ranked), refs)


def _demote(hit: Match, confidence: float) -> Match:
    hit.confidence = min(hit.confidence, confidence)
    return hit


def held(project_id: int, lookup: list[str]) -> list[str]:
    """The reference numbers the project's applications hold that the mail names."""
    if not lookup:
        return []
    upper = {c.upper() for c in lookup}
    rows = Application.select(Application.reference_number).where(
        Application.project == project_id, Application.reference_number.is_null(False))
    return [a.reference_number for a in rows if a.reference_number.upper() in upper]


def shape(ref: str) -> str:
    """B26-01234 -> A99-99999: what kind of number it is, whatever its digits."""
    return re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", ref.upper()))


def _with_held(m: Match, lookup: list[str], strong: bool) -> Match:
    m.strong = strong
    m.held = held(m.project_id, lookup) if m.project_id else []
    shapes = {shape(h) for h in m.held}
    mine = {h.upper() for h in m.held}
    m.others = [c for c in lookup if shape(c) in shapes and c.upper() not in mine][:10]
    return m


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
    # Customer names in the text: exact, as stored (title case), so the name index serves the lookup.
    names = list(dict.fromkeys(f"{a} {b}".title() for a, b in PERSON.findall(text)))[:40]
    if names:
        for p in Project.select(Project.id, Project.customer_name).where(Project.customer_name.in_(names)).limit(5):
            rank(p.id, 0.4, f"customer name {p.customer_name} in the mail")
