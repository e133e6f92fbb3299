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


@dataclass
class Signals:
    """What the rules share for one mail: its identifiers, the weak match held back, the suggestions."""

    mail: ParsedMail
    refs: list[str]
    lookup: list[str]
    thread: list[str]
    ranked: dict[int, tuple[float, str]] = field(default_factory=dict)
    weak: Match | None = None  # found, but by something anyone could write: kept while stronger rules look
    _held: dict | None = None

    def rank(self, pid: int, score: float, why: str) -> None:
        if pid not in self.ranked or self.ranked[pid][0] < score:
            self.ranked[pid] = (score, why)

    def hit(self, pid: int, method: str, why: str, confidence: float | None = None, ref: str = "") -> Match:
        return Match(pid, method, confidence or STRENGTH.get(method, 0.8), why, [], self.refs, ref)

    @property
    def held_refs(self) -> dict[int, tuple[str, str]]:
        """project id -> (why, reference) for every reference in the mail an application holds."""
        if self._held is None:
            self._held = {}
            if self.lookup:
                for app in Application.select(Application.project, Application.reference_number).where(
                        Application.reference_number.in_(self.lookup)):
                    self._held.setdefault(app.project_id, (f"application reference {app.reference_number}",
                                                           app.reference_number))
        return self._held


def _exists(pid: int) -> bool:
    return Project.select().where(Project.id == pid).exists()


def rule_token(s: Signals) -> Match | None:
    for t, where in token_ids(s.mail):
        if not _exists(t.project_id):
            continue
        label = {"strong": "reply token", "old_key": "reply token under an earlier key",
                 "unkeyed": "old unkeyed reply token"}[t.strength]
        hit = s.hit(t.project_id, "token", f"{label} in the {where}", 1.0 if where == "subject" else 0.95)
        if t.strong:
            return hit
        s.weak = s.weak or _demote(hit, 0.8)
    return None


def rule_plus_address(s: Signals) -> Match | None:
    for t in plus_ids(s.mail):
        if not _exists(t.project_id):
            continue
        hit = s.hit(t.project_id, "plus_address", "sent to our address for the project"
                    + ("" if t.strong else f" ({t.strength.replace('_', ' ')} token)"))
        if t.strong:
            return hit
        s.weak = s.weak or _demote(hit, 0.8)
    return None


def rule_thread(s: Signals) -> Match | None:
    from models.inbound import InboundMail
    from models.messages import OutboundMessage
    if not s.thread:
        return None
    sent = OutboundMessage.select(OutboundMessage.project, OutboundMessage.message_id).where(
        OutboundMessage.message_id.in_(s.thread)).first()
    if sent is not None:
        return s.hit(sent.project_id, "thread", f"answers our message {sent.message_id}")
    earlier = (InboundMail.select(InboundMail.project, InboundMail.message_id)
               .where(InboundMail.message_id.in_(s.thread), InboundMail.project.is_null(False)).first())
    if earlier is not None and s.weak is None:
        # Anyone can reply to their own earlier mail: the thread finds the project, it proves nothing.
        s.weak = s.hit(earlier.project_id, "inbound_thread", f"same thread as {earlier.message_id}, which came "
                       "from outside", 0.8)
    return None


def rule_weak(s: Signals) -> Match | None:
    """A weak signal decides the project unless a held reference agrees with it (then the reference does)."""
    if s.weak is None:
        return None
    if s.weak.project_id in s.held_refs:
        why, ref = s.held_refs[s.weak.project_id]
        return s.hit(s.weak.project_id, "reference", why, ref=ref)
    return s.weak


def rule_reference(s: Signals) -> Match | None:
    if len(s.held_refs) == 1:
        pid, (why, ref) = next(iter(s.held_refs.items()))
        return s.hit(pid, "reference", why, ref=ref)
    for pid, (why, _ref) in s.held_refs.items():
        s.rank(pid, 0.6, why + " (several projects)")
    return None


def rule_account(s: Signals) -> Match | None:
    if not s.refs and not s.held_refs:
        return None
    accounts = {p.id: f"utility account {p.utility_account}" for p in Project.select(
        Project.id, Project.utility_account).where(Project.utility_account.in_(s.lookup))}
    if not s.held_refs and len(accounts) == 1:
        # An account number is printed on every bill: it finds the project, it proves no notice.
        pid, why = next(iter(accounts.items()))
        return s.hit(pid, "account", why, 0.85)
    for pid, why in accounts.items():
        s.rank(pid, 0.55, why)
    return None


def rule_external_id(s: Signals) -> Match | None:
    subject_ids = set(CANDIDATE_ID.findall(s.mail.subject.upper())) | set(s.refs)
    if not subject_ids:
        return None
    hits = list(Project.select(Project.id, Project.external_id).where(
        Project.external_id.in_(list(subject_ids)[:60])))
    if len(hits) == 1:
        return s.hit(hits[0].id, "external_id", f"project id {hits[0].external_id}")
    for p in hits:
        s.rank(p.id, 0.55, f"project id {p.external_id}")
    return None


def rule_sender(s: Signals) -> Match | None:
    from models.messages import Contact
    addr = s.mail.from_addr
    if not addr:
        return None
    owners = {p.id for p in Project.select(Project.id).where(Project.customer_email == addr)}
    owners |= {c.project_id for c in Contact.select(Contact.project).where(Contact.email == addr)}
    if len(owners) == 1 and not s.ranked:
        return s.hit(owners.pop(), "sender", f"sender {addr} belongs to one project")
    for pid in list(owners)[:20]:
        s.rank(pid, 0.5, f"sender {addr} is a contact")
    return None


# Strongest first; the first rule that returns a match decides. Which matches are strong is STRONG's say.
RULES = (
    ("token", rule_token),
    ("plus_address", rule_plus_address),
    ("thread", rule_thread),
    ("weak", rule_weak),
    ("reference", rule_reference),
    ("account", rule_account),
    ("external_id", rule_external_id),
    ("sender", rule_sender),
)


def match(mail: ParsedMail, patterns=(), extra_thread_ids: tuple[str, ...] = ()) -> Match:
    """The project, by the first rule that finds it; weaker signals become ranked suggestions."""
    refs = identifiers(mail, patterns)
    s = Signals(mail, refs, candidates(mail, refs),
                list(dict.fromkeys(mail.in_reply_to + mail.references[::-1] + list(extra_thread_ids)))[:50])
    for _name, rule in RULES:
        found = rule(s)
        if found is not None:
            # A keyed token, our own thread, a held reference: strong. A weak one was demoted to its method.
            strong = found.method in STRONG and not (found is s.weak)
            return _with_held(found, s.lookup, strong=strong)
    _similar(mail, s.rank)
    return Match(None, "", 0.0, "no reply token, thread, reference number or known sender",
                 _suggest(s.ranked), refs)


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
