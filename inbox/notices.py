"""Step 6, notices: which utility/AHJ notice a mail is, how sure we are, and what status it means. Pure."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from catalog.model import NOTICE_TYPES, NoticePhrase

# Words that, earlier in the same sentence, turn "permission to operate" into a condition, not news.
HEDGES = re.compile(r"\b(never|until|unless|before|once|if|when|after|pending|awaiting|without|prior to|"
                    r"do not|don't|cannot|can't|required for|needed for|in order to|will|shall|would|should|could|"
                    r"might|expect|expected|upon|to request|may request|can request|apply for|eligible for|assuming|"
                    r"probably|likely|hope|hoping)\b", re.IGNORECASE)
# Negations hedge only close by: "no permission to operate yet", but not "no upgrade is needed and I have
# approved the application".
NEGATION = re.compile(r"\b(not|no|not yet)\b(?:\W+\w+){0,3}\W*$", re.IGNORECASE)
# Words right after the phrase that make it future or pending: "permission to operate is pending".
HEDGES_AFTER = re.compile(r"^[^.!?;\n]{0,12}\b(is |are |has |remains )?(pending|not yet|will|to be|required|expected|"
                          r"upcoming|requested|in progress|tomorrow|next week|soon|shortly|later)\b", re.IGNORECASE)
# A sentence ends at punctuation, a blank line or a list bullet: not at every line break (mail wraps lines).
SENTENCE_END = re.compile(r"[.!?;:]|\n\s*\n|\n\s*[-*•▪]\s")
# Notices that cannot both be news in one mail: their presence together needs a person.
OPPOSED = {
    frozenset({"deficiency", "approved_to_install"}), frozenset({"deficiency", "conditional_approval"}),
    frozenset({"deficiency", "pto_granted"}), frozenset({"inspection_failed", "inspection_passed"}),
    frozenset({"inspection_failed", "pto_granted"}), frozenset({"deficiency", "permit_issued"}),
    frozenset({"deficiency", "meter_installed"}), frozenset({"inspection_failed", "permit_issued"}),
    frozenset({"deficiency", "cured"}), frozenset({"cancelled", "pto_granted"}),
    frozenset({"cancelled", "approved_to_install"}), frozenset({"withdrawn", "approved_to_install"}),
    frozenset({"cancelled", "permit_issued"}), frozenset({"deficiency", "payment_issued"}),
}
# How far along the road each notice is: when several agree, the furthest is the news.
PROGRESS = ("acknowledged", "reservation_confirmed", "deficiency", "cured", "permit_issued", "conditional_approval",
            "approved_to_install", "agreement_ready", "agreement_executed", "inspection_scheduled", "inspection_failed",
            "inspection_passed", "meter_ordered", "meter_installed", "pto_granted", "payment_issued",
            "withdrawn", "cancelled")
# Which application a notice moves, and to what, by who sent it.
_ENDINGS = {"cancelled": "CANCELLED", "withdrawn": "WITHDRAWN"}
TARGETS = {
    "utility": {
        # Utilities administer some incentives themselves (SGIP at PG&E and SCE): those notices move it too.
        "acknowledged": {"utility_part1": "COMPLETENESS_REVIEW", "incentive": "COMPLETENESS_REVIEW"},
        "deficiency": {"utility_part1": "DEFICIENT", "utility_part2": "DEFICIENT", "incentive": "DEFICIENT"},
        "reservation_confirmed": {"incentive": "APPROVED_TO_INSTALL"},
        "cured": {"utility_part1": "RESUBMITTED", "utility_part2": "RESUBMITTED"},
        "approved_to_install": {"utility_part1": "APPROVED_TO_INSTALL"},
        "conditional_approval": {"utility_part1": "APPROVED_TO_INSTALL"},
        "agreement_ready": {"utility_part1": "AGREEMENT_SENT", "utility_part2": "AGREEMENT_SENT"},
        "agreement_executed": {"utility_part1": "AGREEMENT_EXECUTED", "utility_part2": "AGREEMENT_EXECUTED"},
        "meter_ordered": {"utility_part2": "METER_ORDERED"},
        "meter_installed": {"utility_part2": "METER_INSTALLED"},
        "inspection_scheduled": {"utility_part2": "INSPECTION_SCHEDULED"},
        "inspection_failed": {"utility_part2": "INSPECTION_FAILED"},
        "pto_granted": {"utility_part2": "PTO_GRANTED"},
        **{n: {"utility_part1": to, "utility_part2": to} for n, to in _ENDINGS.items()},
    },
    "ahj": {
        "acknowledged": {"ahj_permit": "TECHNICAL_REVIEW"},
        "deficiency": {"ahj_permit": "DEFICIENT"},
        "cured": {"ahj_permit": "RESUBMITTED"},
        "permit_issued": {"ahj_permit": "APPROVED_TO_INSTALL"},
        "approved_to_install": {"ahj_permit": "APPROVED_TO_INSTALL"},
        "inspection_scheduled": {"ahj_permit": "INSPECTION_SCHEDULED"},
        "inspection_passed": {"ahj_permit": "PTO_GRANTED"},
        "inspection_failed": {"ahj_permit": "INSPECTION_FAILED"},
        **{n: {"ahj_permit": to} for n, to in _ENDINGS.items()},
    },
    "program": {
        "acknowledged": {"incentive": "COMPLETENESS_REVIEW"},
        "deficiency": {"incentive": "DEFICIENT"},
        "cured": {"incentive": "RESUBMITTED"},
        "reservation_confirmed": {"incentive": "APPROVED_TO_INSTALL"},
        "approved_to_install": {"incentive": "APPROVED_TO_INSTALL"},
        "payment_issued": {"incentive": "PTO_GRANTED"},
        **{n: {"incentive": to} for n, to in _ENDINGS.items()},
    },
}
# When no application of the kind exists yet (filed in a portal, never recorded here), which kind to create.
CREATES = {
    "utility": {"acknowledged": "utility_part1", "deficiency": "utility_part1", "approved_to_install": "utility_part1",
                "conditional_approval": "utility_part1", "agreement_ready": "utility_part1",
                "meter_ordered": "utility_part2", "meter_installed": "utility_part2",
                "inspection_scheduled": "utility_part2", "inspection_failed": "utility_part2",
                "pto_granted": "utility_part2", "reservation_confirmed": "incentive"},
    "ahj": {n: "ahj_permit" for n in ("acknowledged", "deficiency", "permit_issued", "approved_to_install",
                                      "inspection_scheduled", "inspection_passed", "inspection_failed")},
    "program": {n: "incentive" for n in ("acknowledged", "deficiency", "reservation_confirmed",
                                         "approved_to_install", "payment_issued")},
}
# A notice creates an application by itself only at its first status: the desk never saw the steps before.
FIRST_STATUSES = frozenset({"SUBMITTED", "COMPLETENESS_REVIEW", "TECHNICAL_REVIEW", "COMPLETION_SUBMITTED"})
# What a notice is called on the inbox page ("PTO letter, probably 3758PATE-1").
NAMES = {"acknowledged": "acknowledgement", "deficiency": "deficiency notice", "cured": "deficiency cleared notice",
         "approved_to_install": "approval", "conditional_approval": "conditional approval",
         "agreement_ready": "agreement to sign", "agreement_executed": "executed agreement", "meter_ordered": "meter order notice",
         "meter_installed": "meter installed notice", "inspection_scheduled": "inspection scheduled notice",
         "inspection_passed": "inspection passed notice", "inspection_failed": "inspection failed notice",
         "permit_issued": "permit issued notice", "pto_granted": "PTO letter",
         "reservation_confirmed": "reservation confirmation", "payment_issued": "incentive payment notice",
         "cancelled": "cancellation notice", "withdrawn": "withdrawal notice"}
APPLY_AT = 0.8  # below this a notice is a suggestion for a person
NEWS_AT = 0.4  # below this (only conditional wording) a mail is no notice at all


@dataclass(frozen=True)
class Hit:
    notice: str
    phrase: str
    where: str  # subject | body
    hedged: bool
    status: str = ""  # a utility's own phrase may name the status directly
    span: tuple[int, int] = (0, 0)


@dataclass
class Reading:
    notice: str | None = None
    confidence: float = 0.0
    why: str = ""
    hits: list[Hit] = field(default_factory=list)
    conflict: bool = False

    @property
    def status(self) -> str:
        """The status a utility's own phrase names for this notice ("" when only generic wording matched)."""
        return next((h.status for h in self.hits if h.notice == self.notice and h.status and not h.hedged), "")


_PATTERNS: dict[str, re.Pattern] = {}


def _pattern(phrase: str) -> re.Pattern:
    """A phrase as a regex from a word start; " * " stands for a few words ("permit * has been issued")."""
    if phrase not in _PATTERNS:
        # Spaces in a phrase match any run of white space ("Result:     Approved" in a portal's table).
        body = r"(?:\s+\S+){0,4}?\s+".join(r"\s+".join(map(re.escape, part.split()))
                                           for part in phrase.split(" * "))
        _PATTERNS[phrase] = re.compile(r"(?<![a-z0-9])" + body)
    return _PATTERNS[phrase]


def _find(phrase: NoticePhrase, text: str, where: str) -> list[Hit]:
    hits = []
    for match in _pattern(phrase.phrase).finditer(text):
        start = max((m.end() for m in SENTENCE_END.finditer(text, max(0, match.start() - 160), match.start())),
                    default=max(0, match.start() - 160))
        # The words a " * " gap stands for can hedge too: "permit B26-01 will be issued" is no news.
        gap = " * " in phrase.phrase and (HEDGES.search(text, match.start(), match.end()) or
                                          re.search(r"\b(not|no)\b", text[match.start():match.end()]))
        end = re.search(r"[.!?\n]", text[match.end():match.end() + 200])
        question = bool(end and end.group(0) == "?")  # "Permission to operate next?" asks, it does not tell
        hedged = bool(HEDGES.search(text, start, match.start()) or gap or question or
                      NEGATION.search(text[start:match.start()]) or
                      HEDGES_AFTER.search(text[match.end():match.end() + 60]))
        hits.append(Hit(phrase.notice, phrase.phrase, where, hedged, phrase.status, match.span()))
    return hits


def _innermost(hits: list[Hit]) -> list[Hit]:
    """Where two notices' phrases overlap, one wins. Inside a phrase with gaps, the inner phrase wins:
    "permit ... a correction notice has been issued" is a correction notice, not an issued permit. Inside a
    literal phrase, the longer one wins: "approved to operate" is PTO, "deficiency has been cleared" is cured.
    """
    def contains(outer: Hit, inner: Hit) -> bool:
        return (outer.where == inner.where and outer.notice != inner.notice and outer.span != inner.span and
                outer.span[0] <= inner.span[0] and inner.span[1] <= outer.span[1])
    losers = set()
    for outer in hits:
        for inner in hits:
            if contains(outer, inner):
                losers.add(id(outer) if " * " in outer.phrase else id(inner))
    return [h for h in hits if id(h) not in losers]


def _agree(notices: set[str], hits: list[Hit]) -> set[str]:
    """Notices that mean the same move (conditional approval / approved to install) count as one."""
    by_status: dict[str, set[str]] = {}
    for n in notices:
        by_status.setdefault(NOTICE_TYPES.get(n, n), set()).add(n)
    out = set()
    for group in by_status.values():
        own = [h.notice for h in hits if h.notice in group and h.status and not h.hedged]
        out.add(own[0] if own else sorted(group)[0])
    return out


def read(subject: str, text: str, phrases: list[NoticePhrase], authority: str) -> Reading:
    """Which notice the wording announces. Subject wording counts most; hedged or opposed wording needs a person."""
    subject, text = (subject or "").casefold(), (text or "")[:50_000].casefold()
    hits: list[Hit] = []
    for phrase in phrases:
        if phrase.authority not in (authority, "any") or phrase.notice not in TARGETS.get(authority, {}):
            continue
        hits += _find(phrase, subject, "subject") + _find(phrase, text, "body")
    hits = _innermost(hits)
    reading = Reading(hits=hits)
    if not hits:
        reading.why = "no notice wording"
        return reading
    firm = [h for h in hits if not h.hedged]
    in_subject = _agree({h.notice for h in firm if h.where == "subject"}, firm)
    in_body = _agree({h.notice for h in firm if h.where == "body"}, firm)
    everything = in_subject | in_body
    opposed = [pair for pair in OPPOSED if pair <= everything]
    if opposed:
        pair = sorted(opposed[0])
        reading.notice = _furthest(in_subject) if len(in_subject) == 1 else _furthest(everything)
        reading.conflict, reading.confidence = True, 0.4
        reading.why = f"conflicting wording: both {pair[0]} and {pair[1]}"
    elif len(in_subject) == 1:
        reading.notice, reading.confidence = next(iter(in_subject)), 0.95
        reading.why = f"subject says {_phrase_of(firm, reading.notice, 'subject')!r}"
    elif in_subject or in_body:
        reading.notice = _furthest(in_subject or in_body)
        several = len(in_subject or in_body) > 1
        reading.confidence = 0.8 if not several else 0.75
        reading.why = (f"body says {_phrase_of(firm, reading.notice, 'body')!r}" if not in_subject else
                       f"subject says {_phrase_of(firm, reading.notice, 'subject')!r}")
        if several:
            reading.why += f" (also: {', '.join(sorted((in_subject or in_body) - {reading.notice}))})"
    else:
        reading.notice, reading.confidence = _furthest({h.notice for h in hits}), 0.3
        reading.why = f"only conditional wording, e.g. {hits[0].phrase!r}"
    return reading


def read_any(subject: str, text: str, phrases: list[NoticePhrase], authorities=("utility", "ahj", "program"),
             kinds: frozenset[str] = frozenset()) -> tuple[str, Reading]:
    """The reading of whichever authority's wording fits best; at equal certainty, the one whose notice moves
    an application the project has (kinds), then the first named."""
    best, key = ("", Reading(why="no notice wording")), None
    for order, who in enumerate(authorities):
        reading = read(subject, text, phrases, who)
        if not reading.notice:
            continue
        moves = set(TARGETS.get(who, {}).get(reading.notice, {}))
        rank = (reading.confidence, bool(moves & kinds), -order)
        if key is None or rank > key:
            best, key = (who, reading), rank
    return best


def _furthest(notices: set[str]) -> str:
    return max(notices, key=lambda n: PROGRESS.index(n) if n in PROGRESS else -1)


def _phrase_of(hits: list[Hit], notice: str, where: str) -> str:
    return next((h.phrase for h in hits if h.notice == notice and h.where == where), notice)


def target_status(authority: str, notice: str, kind: str) -> str | None:
    """The status this notice moves an application of `kind` to, or None when it does not move that kind."""
    return TARGETS.get(authority, {}).get(notice, {}).get(kind)
