"""SLA due dates, follow-up dates and reminder dates for applications and requested documents (pure)."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import holidays

from models import business_days as bd

FOLLOW_UP_DEFAULT_BD = 5
REVIEW_DEFAULT_BD = 10  # when the catalog has no SLA for a step (NREL's median pre-install review is ~10 BD)
DEFICIENCY_RESPONSE_BD = 10  # our own target for answering a deficiency
REMINDER_STEPS_BD = (2, 5, 10)  # reminders to a customer after a document is requested
WAITING = frozenset({"SUBMITTED", "FEE_DUE", "COMPLETENESS_REVIEW", "RESUBMITTED", "TECHNICAL_REVIEW",
                     "SUPPLEMENTAL_STUDY", "COMPLETION_SUBMITTED", "INSPECTION_SCHEDULED", "METER_ORDERED",
                     "METER_INSTALLED", "AGREEMENT_SENT"})
# Catalog SLA steps that time each status, most specific first.
SLA_STEPS = {
    "SUBMITTED": ("completeness", "program_review", "pre_install_approval", "review", "pto_if_complete"),
    "COMPLETENESS_REVIEW": ("completeness", "program_review", "review"),
    "RESUBMITTED": ("deficiency_response_review", "completeness", "review"),
    "TECHNICAL_REVIEW": ("engineering", "technical"),
    "SUPPLEMENTAL_STUDY": ("supplemental", "interconnection_requirements_study"),
    "COMPLETION_SUBMITTED": ("pto_if_complete", "implementation", "review"),
    "METER_ORDERED": ("meter", "implementation"),
}
EXPIRY_STEPS = {"APPROVED_TO_INSTALL": "complete_after_conditional_approval",
                "AGREEMENT_SENT": "complete_after_conditional_approval",
                "AGREEMENT_EXECUTED": "complete_after_conditional_approval"}
# A submission or resubmission starts the review clock; these statuses keep running on it.
CLOCK_STARTS = frozenset({"SUBMITTED", "RESUBMITTED", "COMPLETION_SUBMITTED"})
SAME_CLOCK = frozenset({"SUBMITTED", "COMPLETENESS_REVIEW", "FEE_DUE", "RESUBMITTED", "COMPLETION_SUBMITTED"})


@dataclass(frozen=True)
class Clock:
    due_on: dt.date | None = None
    due_step: str = ""  # the catalog step (or "default"/"deficiency_response") the due date comes from
    next_follow_up_on: dt.date | None = None
    expires_on: dt.date | None = None


def _sla(utility, steps: tuple[str, ...]):
    for step in steps:
        sla = utility.sla_for(step) if utility is not None else None
        if sla is not None and (sla.business_days or sla.calendar_days):
            return sla
    return None


def _after(start: dt.date, sla, add) -> dt.date:
    if sla.business_days:
        return add(start, sla.business_days)
    return start + dt.timedelta(days=sla.calendar_days)


def compute(status: str, since: dt.date | None, last_contact: dt.date | None, utility,
            waiting_on_them: bool, approved_on: dt.date | None = None, *, add=None) -> Clock:
    """Clocks for an application in `status` since `since`; utility is the catalog Utility (or None).

    Nothing here reads today's date: the clocks change only when the facts, the catalog or the holidays do.
    `add` is business_days.add, or a memo of it for a batch.
    """
    if since is None:
        return Clock()
    add = add or bd.add
    due_on, step, expires_on, follow = None, "", None, None
    if status == "DEFICIENT":
        due_on, step = add(since, DEFICIENCY_RESPONSE_BD), "deficiency_response"
    elif status in SLA_STEPS:
        sla = _sla(utility, SLA_STEPS[status])
        if sla is not None:
            due_on, step = _after(since, sla, add), sla.step
        else:
            due_on, step = add(since, REVIEW_DEFAULT_BD), "default"
    if status in EXPIRY_STEPS:
        sla = _sla(utility, (EXPIRY_STEPS[status],))
        if sla is not None:
            expires_on = _after(approved_on or since, sla, add)  # the window runs from the approval
    if waiting_on_them:
        last = max(d for d in (since, last_contact) if d is not None)
        cadence = getattr(utility, "follow_up_business_days", None) or FOLLOW_UP_DEFAULT_BD
        follow = add(last, cadence)
    return Clock(due_on=due_on, due_step=step, next_follow_up_on=follow, expires_on=expires_on)


def clock_since(status: str, status_changed_on: dt.date | None, submitted_on: dt.date | None,
                clock_started_on: dt.date | None) -> dt.date | None:
    """The day an application's clock in `status` runs from: an acknowledgement keeps the review clock."""
    since = status_changed_on or submitted_on
    if status in SAME_CLOCK and clock_started_on:
        since = clock_started_on
    return since


def next_reminder(requested_on: dt.date | None, reminders_sent: int, *, add=None) -> dt.date | None:
    """When to remind the customer next about a requested document: 2, 5, then 10 business days after."""
    if requested_on is None or reminders_sent >= len(REMINDER_STEPS_BD):
        return None
    return (add or bd.add)(requested_on, REMINDER_STEPS_BD[reminders_sent])


def memo_add():
    """business_days.add memoised for one batch (a fresh one per batch: the holiday table may change)."""
    cache: dict[tuple[dt.date, int], dt.date] = {}

    def add(day: dt.date, n: int) -> dt.date:
        key = (day, n)
        found = cache.get(key)
        if found is None:
            found = cache[key] = bd.add(day, n)
        return found
    return add


# The calendar is checked day by day over this span (a holidays release outside it counts by its version).
CALENDAR_SPAN = (dt.date(2015, 1, 1), dt.date(2045, 12, 31))
_RULE_SOURCES = ("clocks.py", "business_days.py", "applications.py")


def rules_fingerprint(utilities: dict) -> str:
    """A digest of everything besides an application's own row that its clocks depend on.

    utilities maps a Utility row id to its catalog entry (or None): the SLAs and follow-up cadence per id,
    the holidays release and the weekday holidays it gives, and the source of the rules themselves. A change
    to any of these means every clock must be computed again; nothing else outside the row (today's date
    included) counts.
    """
    h = hashlib.sha1()
    for uid in sorted(utilities):
        u = utilities[uid]
        h.update(repr((uid, None if u is None else (u.code, u.sla, u.follow_up_business_days))).encode())
    h.update(getattr(holidays, "__version__", "").encode())
    day, end, one = CALENDAR_SPAN[0], CALENDAR_SPAN[1], dt.timedelta(days=1)
    while day <= end:
        if day.weekday() < 5 and not bd.is_business_day(day):
            h.update(day.isoformat().encode())
        day += one
    here = Path(__file__).resolve().parent
    for name in _RULE_SOURCES:
        try:
            h.update((here / name).read_bytes())
        except OSError:  # installed without sources: the calendar and catalog still count
            h.update(name.encode())
    return h.hexdigest()[:16]


def days_left(due: dt.date | None, today: dt.date) -> int | None:
    """Business days until due (negative when overdue)."""
    return None if due is None else bd.between(today, due)
