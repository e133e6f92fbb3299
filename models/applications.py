"""Applications a project files: utility Part 1/Part 2, AHJ permit, incentive."""
from __future__ import annotations

from peewee import CharField, DateField, DateTimeField, ForeignKeyField

from models.base import BaseModel, utcnow
from models.projects import Project

KINDS = {
    "utility_part1": "Utility Part 1",
    "utility_part2": "Utility Part 2 / PTO",
    "ahj_permit": "AHJ permit",
    "incentive": "Incentive",
}

# Canonical statuses (DOMAIN §3); every portal's own wording maps onto these.
STATUSES = {
    "DRAFT": "Draft",
    "SUBMITTED": "Submitted",
    "FEE_DUE": "Fee due",
    "COMPLETENESS_REVIEW": "Completeness review",
    "DEFICIENT": "Deficient",
    "RESUBMITTED": "Resubmitted",
    "TECHNICAL_REVIEW": "Technical review",
    "SUPPLEMENTAL_STUDY": "Supplemental study",
    "APPROVED_TO_INSTALL": "Approved to install",
    "AGREEMENT_SENT": "Agreement sent",
    "AGREEMENT_EXECUTED": "Agreement executed",
    "AWAITING_COMPLETION_DOCS": "Awaiting completion docs",
    "COMPLETION_SUBMITTED": "Completion submitted",
    "INSPECTION_SCHEDULED": "Inspection scheduled",
    "INSPECTION_FAILED": "Inspection failed",
    "METER_ORDERED": "Meter ordered",
    "METER_INSTALLED": "Meter installed",
    "PTO_GRANTED": "PTO granted",
    "WITHDRAWN": "Withdrawn",
    "CANCELLED": "Cancelled",
    "EXPIRED": "Expired",
}

CLOSED = frozenset({"PTO_GRANTED", "WITHDRAWN", "CANCELLED", "EXPIRED"})
NEEDS_US = frozenset({"DRAFT", "FEE_DUE", "DEFICIENT", "APPROVED_TO_INSTALL",
                      "AWAITING_COMPLETION_DOCS", "INSPECTION_FAILED", "METER_INSTALLED"})
NEEDS_CUSTOMER = frozenset({"AGREEMENT_SENT"})
ATTENTION = frozenset({"DEFICIENT", "INSPECTION_FAILED", "FEE_DUE"})


def ball_in_court(kind: str, status: str) -> str | None:
    """Who must act next on an application in this status; None once it is closed."""
    if status in CLOSED:
        return None
    if status in NEEDS_US:
        return "us"
    if status in NEEDS_CUSTOMER:
        return "customer"
    return "ahj" if kind == "ahj_permit" else "utility"


class Application(BaseModel):
    project = ForeignKeyField(Project, backref="applications", on_delete="CASCADE")
    kind = CharField(index=True)
    status = CharField(index=True, default="DRAFT")
    reference_number = CharField(null=True, index=True)
    submitted_on = DateField(null=True)
    decided_on = DateField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "kind"), False),)

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def ball_in_court(self) -> str | None:
        return ball_in_court(self.kind, self.status)
