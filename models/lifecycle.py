"""The application state machine: which status may follow which, per application kind (pure)."""
from __future__ import annotations

from dataclasses import dataclass

TERMINAL = frozenset({"PTO_GRANTED", "WITHDRAWN", "CANCELLED", "EXPIRED"})
# The utility or AHJ puts an application into these from wherever it is: never a step back by us.
INTERRUPTIONS = frozenset({"DEFICIENT", "FEE_DUE", "INSPECTION_FAILED", "EXPIRED"})
ENDINGS = ("WITHDRAWN", "CANCELLED")  # a person may end any open application, with a reason

# The main road of each kind, in order; a utility notice may jump forward along it.
PATHS = {
    "utility_part1": ("DRAFT", "SUBMITTED", "COMPLETENESS_REVIEW", "TECHNICAL_REVIEW", "APPROVED_TO_INSTALL",
                      "AGREEMENT_SENT", "AGREEMENT_EXECUTED"),
    "utility_part2": ("DRAFT", "AWAITING_COMPLETION_DOCS", "COMPLETION_SUBMITTED", "AGREEMENT_SENT",
                      "AGREEMENT_EXECUTED", "INSPECTION_SCHEDULED", "METER_ORDERED", "METER_INSTALLED",
                      "PTO_GRANTED"),
    "ahj_permit": ("DRAFT", "SUBMITTED", "TECHNICAL_REVIEW", "APPROVED_TO_INSTALL", "INSPECTION_SCHEDULED",
                   "PTO_GRANTED"),
    "incentive": ("DRAFT", "SUBMITTED", "COMPLETENESS_REVIEW", "APPROVED_TO_INSTALL", "COMPLETION_SUBMITTED",
                  "PTO_GRANTED"),
}
# Side states and the road step they hang off (their place in the order).
SIDE = {
    "utility_part1": {"FEE_DUE": "SUBMITTED", "DEFICIENT": "SUBMITTED", "RESUBMITTED": "SUBMITTED",
                      "SUPPLEMENTAL_STUDY": "TECHNICAL_REVIEW", "EXPIRED": "AGREEMENT_EXECUTED"},
    "utility_part2": {"SUBMITTED": "COMPLETION_SUBMITTED", "FEE_DUE": "COMPLETION_SUBMITTED",
                      "DEFICIENT": "COMPLETION_SUBMITTED", "RESUBMITTED": "COMPLETION_SUBMITTED",
                      "INSPECTION_FAILED": "INSPECTION_SCHEDULED"},
    "ahj_permit": {"FEE_DUE": "SUBMITTED", "DEFICIENT": "SUBMITTED", "RESUBMITTED": "SUBMITTED",
                   "INSPECTION_FAILED": "INSPECTION_SCHEDULED", "EXPIRED": "APPROVED_TO_INSTALL"},
    "incentive": {"DEFICIENT": "SUBMITTED", "RESUBMITTED": "SUBMITTED", "EXPIRED": "APPROVED_TO_INSTALL"},
}
# Moves a person may make (before filtering to the kind's statuses). Endings are added to every open status.
MOVES = {
    "DRAFT": ("SUBMITTED", "AWAITING_COMPLETION_DOCS", "COMPLETION_SUBMITTED"),
    "AWAITING_COMPLETION_DOCS": ("COMPLETION_SUBMITTED",),
    "SUBMITTED": ("FEE_DUE", "COMPLETENESS_REVIEW", "TECHNICAL_REVIEW", "DEFICIENT", "APPROVED_TO_INSTALL",
                  "AGREEMENT_SENT", "INSPECTION_SCHEDULED", "METER_ORDERED", "PTO_GRANTED"),
    "FEE_DUE": ("SUBMITTED", "COMPLETENESS_REVIEW", "TECHNICAL_REVIEW", "DEFICIENT", "COMPLETION_SUBMITTED"),
    "COMPLETENESS_REVIEW": ("FEE_DUE", "TECHNICAL_REVIEW", "DEFICIENT", "APPROVED_TO_INSTALL"),
    "TECHNICAL_REVIEW": ("SUPPLEMENTAL_STUDY", "DEFICIENT", "APPROVED_TO_INSTALL", "AGREEMENT_SENT"),
    "SUPPLEMENTAL_STUDY": ("DEFICIENT", "APPROVED_TO_INSTALL", "AGREEMENT_SENT"),
    "DEFICIENT": ("RESUBMITTED",),
    "RESUBMITTED": ("COMPLETENESS_REVIEW", "TECHNICAL_REVIEW", "DEFICIENT", "APPROVED_TO_INSTALL",
                    "AGREEMENT_SENT", "INSPECTION_SCHEDULED", "METER_ORDERED", "PTO_GRANTED"),
    "APPROVED_TO_INSTALL": ("AGREEMENT_SENT", "INSPECTION_SCHEDULED", "COMPLETION_SUBMITTED", "PTO_GRANTED",
                            "EXPIRED"),
    "AGREEMENT_SENT": ("AGREEMENT_EXECUTED", "DEFICIENT"),
    "AGREEMENT_EXECUTED": ("INSPECTION_SCHEDULED", "METER_ORDERED", "PTO_GRANTED", "EXPIRED"),
    "COMPLETION_SUBMITTED": ("FEE_DUE", "DEFICIENT", "AGREEMENT_SENT", "INSPECTION_SCHEDULED", "METER_ORDERED",
                             "PTO_GRANTED"),
    "INSPECTION_SCHEDULED": ("INSPECTION_FAILED", "METER_ORDERED", "PTO_GRANTED"),
    "INSPECTION_FAILED": ("INSPECTION_SCHEDULED", "RESUBMITTED"),
    "METER_ORDERED": ("METER_INSTALLED", "PTO_GRANTED"),
    "METER_INSTALLED": ("PTO_GRANTED",),
}
# Where a kind's road is shorter than the shared moves allow (a permit is issued before it is finaled).
KIND_MOVES = {
    "ahj_permit": {"SUBMITTED": ("FEE_DUE", "TECHNICAL_REVIEW", "DEFICIENT", "APPROVED_TO_INSTALL")},
    "incentive": {"SUBMITTED": ("COMPLETENESS_REVIEW", "DEFICIENT", "APPROVED_TO_INSTALL")},
}
# Verbs of the application page, and the status each leads to for a kind.
ACTIONS = {
    "submit": {"utility_part2": "COMPLETION_SUBMITTED", "*": "SUBMITTED"},
    "deficiency": {"*": "DEFICIENT"},
    "resubmit": {"*": "RESUBMITTED"},
    "approve": {"utility_part2": None, "*": "APPROVED_TO_INSTALL"},
    "pto": {"utility_part2": "PTO_GRANTED", "ahj_permit": "PTO_GRANTED", "incentive": "PTO_GRANTED", "*": None},
    "withdraw": {"*": "WITHDRAWN"},
    "cancel": {"*": "CANCELLED"},
}
# Status names as each kind's counterpart says them.
KIND_LABELS = {
    "ahj_permit": {"APPROVED_TO_INSTALL": "Permit issued", "PTO_GRANTED": "Final passed",
                   "TECHNICAL_REVIEW": "Plan review"},
    "incentive": {"APPROVED_TO_INSTALL": "Reservation confirmed", "COMPLETION_SUBMITTED": "Claim submitted",
                  "PTO_GRANTED": "Paid"},
}


class TransitionError(ValueError):
    """A move the state machine refuses; the message says what is allowed instead."""


def statuses(kind: str) -> tuple[str, ...]:
    return PATHS[kind] + tuple(SIDE[kind]) + ENDINGS


def rank(kind: str, status: str) -> float:
    """Position along the kind's road; side states sit just after the step they hang off."""
    path = PATHS[kind]
    if status in path:
        return path.index(status)
    if status in SIDE[kind]:
        return path.index(SIDE[kind][status]) + 0.5
    return -1


def allowed(kind: str, status: str) -> tuple[str, ...]:
    """Statuses a person may move this application to next."""
    if status in TERMINAL:
        return ()
    valid = set(statuses(kind))
    moves = KIND_MOVES.get(kind, {}).get(status, MOVES.get(status, ()))
    return tuple(s for s in moves if s in valid and s != status) + ENDINGS


@dataclass(frozen=True)
class Move:
    frm: str
    to: str
    skipped: tuple[str, ...] = ()
    backwards: bool = False


def check(kind: str, frm: str, to: str, by_notice: bool = False, came_from: str | None = None) -> Move:
    """Validate a move. A notice may jump forward along the road (recording what it skipped), never back.

    came_from: the status before a side state (e.g. the review a deficiency interrupted), so a jump
    from it records only the steps really not seen.
    """
    if kind not in PATHS:
        raise TransitionError(f"unknown application kind {kind!r}")
    if to not in statuses(kind):
        raise TransitionError(f"{to} is not a status of a {kind.replace('_', ' ')} application")
    if to == frm:
        raise TransitionError(f"the application is already {to}")
    if to in allowed(kind, frm):
        backwards = rank(kind, to) < rank(kind, frm) and to not in ENDINGS and to not in INTERRUPTIONS
        return Move(frm, to, backwards=backwards)
    options = ", ".join(allowed(kind, frm)) or "nothing (reopen it first)"
    if by_notice:
        if frm in TERMINAL:
            raise TransitionError(f"a notice cannot move a {frm} application; a person must reopen it")
        if rank(kind, to) > rank(kind, frm) or (to in INTERRUPTIONS and frm not in INTERRUPTIONS):
            return Move(frm, to, skipped=_skipped(kind, frm, to, came_from))
        raise TransitionError(f"a notice cannot move an application backwards ({frm} -> {to}); a person must")
    raise TransitionError(f"cannot go from {frm} to {to}; allowed next: {options}")


def _skipped(kind: str, frm: str, to: str, came_from: str | None = None) -> tuple[str, ...]:
    path = PATHS[kind]
    anchor = came_from if frm in SIDE[kind] and came_from in path else SIDE[kind].get(frm, frm)
    start = path.index(anchor) if anchor in path else 0
    target = to if to in path else SIDE[kind].get(to)
    steps = list(path[start + 1:path.index(target)]) if target in path and path.index(target) > start else []
    if frm in ("DEFICIENT", "INSPECTION_FAILED") and to not in INTERRUPTIONS:
        steps.insert(0, "RESUBMITTED" if frm == "DEFICIENT" else "INSPECTION_SCHEDULED")
    return tuple(dict.fromkeys(s for s in steps if s != to))


def target(action: str, kind: str) -> str:
    """The status an action leads to for this kind, or TransitionError when it does not apply."""
    table = ACTIONS.get(action)
    if table is None:
        raise TransitionError(f"unknown action {action!r}")
    status = table.get(kind, table["*"])
    if status is None:
        raise TransitionError(f"'{action}' does not apply to a {kind.replace('_', ' ')} application")
    return status


def reopen_target(kind: str, previous: str | None) -> str:
    """Where reopening a closed application leads: its status before it closed, else DRAFT."""
    if previous and previous not in TERMINAL and previous in statuses(kind):
        return previous
    return "DRAFT"
