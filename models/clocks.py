"""SLA due dates, follow-up dates and reminder dates for applications and requested documents (pure)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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


def _after(start: dt.date, sla) -> dt.date:
    if sla.business_days:
        return bd.add(start, sla.business_days)
    return start + dt.timedelta(days=sla.calendar_days)


def compute(status: str, since: dt.date | None, last_contact: dt.date | None, utility,
            waiting_on_them: bool, approved_on: dt.date | None = None) -> Clock:
    """Clocks for an application in `status` since `since`; utility is the catalog Utility (or None)."""
    if since is None:
        return Clock()
    due_on, step, expires_on, follow = None, "", None, None
    if status == "DEFICIENT":
        due_on, step = bd.add(since, DEFICIENCY_RESPONSE_BD), "deficiency_response"
    elif status in SLA_STEPS:
        sla = _sla(utility, SLA_STEPS[status])
        if sla is not None:
            due_on, step = _after(since, sla), sla.step
        else:
            due_on, step = bd.add(since, REVIEW_DEFAULT_BD), "default"
    if status in EXPIRY_STEPS:
        sla = _sla(utility, (EXPIRY_STEPS[status],))
        if sla is not None:
            expires_on = _after(approved_on or since, sla)  # the window runs from the approval
    if waiting_on_them:
        last = max(d for d in (since, last_contact) if d is not None)
        cadence = getattr(utility, "follow_up_business_days", None) or FOLLOW_UP_DEFAULT_BD
        follow = bd.add(last, cadence)
    return Clock(due_on=due_on, due_step=step, next_follow_up_on=follow, expires_on=expires_on)


def next_reminder(requested_on: dt.date | None, reminders_sent: int) -> dt.date | None:
    """When to remind the customer next about a requested document: 2, 5, then 10 business days after."""
    if requested_on is None or reminders_sent >= len(REMINDER_STEPS_BD):
        return None
    return bd.add(requested_on, REMINDER_STEPS_BD[reminders_sent])


def days_left(due: dt.date | None, today: dt.date) -> int | None:
    """Business days until due (negative when overdue)."""
    return None if due is None else bd.between(today, due)
