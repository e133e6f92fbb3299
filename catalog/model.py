"""Catalog types: plain frozen dataclasses built by `catalog.load` from the TOML data files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Mapping

APPLICATIONS = ("utility_part1", "utility_part2", "ahj_permit", "incentive")

# How a utility orders approval and installation (DOMAIN.md section 1).
GATES = {
    "pre_install_required": "Part 1 approval is required before installation",
    "pre_install_recommended": "Part 1 approval is strongly recommended before installation",
    "single_post_install": "one complete package after the AHJ final; no pre-install approval",
    "any_time": "apply any time; final sign-off documents before PTO",
    "ia_then_pto": "utility studies, sends the agreement to sign, then grants PTO",
}

# Canonical external statuses (DOMAIN.md section 3); notice phrases map onto these.
STATUSES = (
    "DRAFT", "SUBMITTED", "FEE_DUE", "COMPLETENESS_REVIEW", "DEFICIENT", "RESUBMITTED",
    "TECHNICAL_REVIEW", "SUPPLEMENTAL_STUDY", "APPROVED_TO_INSTALL", "AGREEMENT_SENT",
    "AGREEMENT_EXECUTED", "AWAITING_COMPLETION_DOCS", "COMPLETION_SUBMITTED",
    "INSPECTION_SCHEDULED", "INSPECTION_FAILED", "METER_ORDERED", "METER_INSTALLED",
    "PTO_GRANTED", "WITHDRAWN", "CANCELLED", "EXPIRED",
)
# What a utility or AHJ notice announces (the inbox recognises these), and the status each usually means.
NOTICE_TYPES = {
    "acknowledged": "COMPLETENESS_REVIEW",
    "deficiency": "DEFICIENT",
    "approved_to_install": "APPROVED_TO_INSTALL",
    "conditional_approval": "APPROVED_TO_INSTALL",
    "agreement_ready": "AGREEMENT_SENT",
    "agreement_executed": "AGREEMENT_EXECUTED",
    "meter_ordered": "METER_ORDERED",
    "meter_installed": "METER_INSTALLED",
    "inspection_scheduled": "INSPECTION_SCHEDULED",
    "inspection_passed": "PTO_GRANTED",
    "inspection_failed": "INSPECTION_FAILED",
    "permit_issued": "APPROVED_TO_INSTALL",
    "pto_granted": "PTO_GRANTED",
    "reservation_confirmed": "APPROVED_TO_INSTALL",
    "payment_issued": "PTO_GRANTED",
    "cured": "RESUBMITTED",
    "cancelled": "CANCELLED",
    "withdrawn": "WITHDRAWN",
}
# Who may send a notice: the utility, the AHJ, an incentive program's administrator.
AUTHORITIES = ("utility", "ahj", "program")
SENDER_KINDS = {
    "platform": "a service many organisations send through: its mail must name the application's reference",
    "program_admin": "an incentive program's administrator",
    "general": "a general-purpose service anyone can use (e-signature, file sharing): its mail only suggests",
}
# A utility's phrase names a status; the notice it stands for, when the status alone says it.
NOTICE_FOR_STATUS = {
    "SUBMITTED": "acknowledged", "COMPLETENESS_REVIEW": "acknowledged", "TECHNICAL_REVIEW": "acknowledged",
    "DEFICIENT": "deficiency", "APPROVED_TO_INSTALL": "approved_to_install", "AGREEMENT_SENT": "agreement_ready",
    "METER_ORDERED": "meter_ordered", "METER_INSTALLED": "meter_installed",
    "INSPECTION_SCHEDULED": "inspection_scheduled", "INSPECTION_FAILED": "inspection_failed",
    "PTO_GRANTED": "pto_granted",
}

# Project attributes the evaluator reads; rules may only name these as facts.
FACTS = {
    "utility_code": "utility",
    "product_type": "product type",
    "pv_kw_dc": "PV size (kW DC)",
    "pv_kw_ac": "PV size (kW AC)",
    "battery_kwh": "battery size (kWh)",
    "program": "program / tariff",
    "utility_account": "utility account number",
    "contract_signed_on": "contract signing date",
    "application_complete_on": "application complete date",
    "installed_on": "installation date",
    "part1_approved_on": "Part 1 approval date",
    "export_limited": "export limited / non-export",
    "new_home": "new home",
    "third_party_owned": "third-party owned (lease/PPA)",
    "main_panel_upgrade": "main panel upgrade",
    "state": "state",
}

# A rule's effective window is compared with one of these dates ("on" = the evaluation date).
DATE_BASES = ("on", "contract_signed_on", "application_complete_on", "installed_on")


@dataclass(frozen=True)
class ProductType:
    code: str
    label: str
    has_pv: bool
    has_battery: bool
    description: str = ""


@dataclass(frozen=True)
class DocType:
    code: str
    label: str
    description: str = ""
    signer: tuple[str, ...] = ()
    requested_from: str = ""
    max_age_days: int | None = None
    must_match: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Form:
    code: str
    name: str
    doc_type: str
    number: str | None = None
    version: str | None = None
    url: str | None = None
    verified: bool = True


@dataclass(frozen=True)
class Program:
    code: str
    name: str
    kind: str  # "tariff" or "incentive"
    description: str
    source: str
    aka: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    effective_from: date | None = None
    effective_to: date | None = None
    date_basis: str = "on"
    closed_note: str = ""
    install_within_years: int | None = None
    verified: bool = True

    def open_on(self, day: date) -> bool:
        return _within(day, self.effective_from, self.effective_to)


@dataclass(frozen=True)
class Condition:
    """Facts a rule applies to; every set field must hold (AND). kW limits use PV kW."""

    kw_ac_above: float | None = None
    kw_ac_at_least: float | None = None
    kw_ac_at_most: float | None = None
    kw_dc_above: float | None = None
    kw_dc_at_most: float | None = None
    battery_kwh_above: float | None = None
    has_pv: bool | None = None
    has_battery: bool | None = None
    export_limited: bool | None = None
    new_home: bool | None = None
    third_party_owned: bool | None = None
    main_panel_upgrade: bool | None = None
    states: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    application: str
    explanation: str
    source: str
    effective_from: date | None = None
    effective_to: date | None = None  # exclusive: the first day the rule no longer applies
    date_basis: str = "on"
    programs: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    when: Condition = field(default_factory=Condition)
    docs: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    warning: str = ""
    note: str = ""
    verified: bool = True

    def effective_on(self, day: date) -> bool:
        return _within(day, self.effective_from, self.effective_to)


@dataclass(frozen=True)
class Portal:
    name: str
    platform: str
    url: str | None = None
    verified: bool = True


@dataclass(frozen=True)
class UtilityProgram:
    """A program as offered by one utility; `default_for` lists product types it is assumed for."""

    code: str
    default_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tier:
    name: str
    kw_ac_above: float | None = None
    kw_ac_at_most: float | None = None
    fee_usd: float | None = None
    note: str = ""
    verified: bool = True


@dataclass(frozen=True)
class Fee:
    name: str
    usd: float
    application: str
    note: str = ""
    verified: bool = True


@dataclass(frozen=True)
class Sla:
    step: str
    business_days: int | None = None
    calendar_days: int | None = None
    note: str = ""
    verified: bool = True


@dataclass(frozen=True)
class ReferencePattern:
    kind: str
    regex: re.Pattern[str]
    example: str = ""
    note: str = ""
    verified: bool = True


@dataclass(frozen=True)
class NoticePhrase:
    """Wording that marks a utility or AHJ notice; `status` is set for a utility's own phrases."""

    phrase: str
    notice: str
    status: str = ""
    authority: str = "utility"  # utility | ahj | any


@dataclass(frozen=True)
class Utility:
    code: str
    name: str
    aliases: tuple[str, ...]
    states: tuple[str, ...]
    gate: str
    portal: Portal
    source: str
    eia_id: int | None = None
    eia_id_verified: bool = True
    gate_note: str = ""
    # How often to chase an application waiting on this utility (ixdesk's default: 5 business days).
    follow_up_business_days: int | None = None
    programs: tuple[UtilityProgram, ...] = ()
    tiers: tuple[Tier, ...] = ()
    fees: tuple[Fee, ...] = ()
    sla: tuple[Sla, ...] = ()
    reference_patterns: tuple[ReferencePattern, ...] = ()
    notice_phrases: tuple[NoticePhrase, ...] = ()
    sender_domains: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    forms: Mapping[str, Form] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    @property
    def program_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.programs)

    def sla_for(self, step: str) -> Sla | None:
        return next((s for s in self.sla if s.step == step), None)


@dataclass(frozen=True)
class Sender:
    """An organisation that sends notices for (or instead of) utilities and AHJs (senders.toml)."""

    code: str
    name: str
    kind: str  # platform | program_admin | general
    domains: tuple[str, ...]
    source: str
    authority: str = ""  # utility | ahj | program (empty for general services)
    programs: tuple[str, ...] = ()
    utilities: tuple[str, ...] = ()
    note: str = ""
    verified: bool = True


@dataclass(frozen=True)
class AhjEntry:
    """A building department's mail domains and the permit portals it uses (ahjs.toml)."""

    name: str
    state: str
    domains: tuple[str, ...]
    source: str
    portals: tuple[str, ...] = ()
    note: str = ""
    verified: bool = True


@dataclass(frozen=True)
class PermitSet:
    """An AHJ permitting route: the generic package or SolarAPP+."""

    code: str
    name: str
    platform: str
    description: str
    source: str
    fee_usd: float | None = None
    rules: tuple[Rule, ...] = ()


def _within(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day < end)


@dataclass(frozen=True)
class Catalog:
    utilities: Mapping[str, Utility]
    programs: Mapping[str, Program]
    product_types: Mapping[str, ProductType]
    doc_types: Mapping[str, DocType]
    forms: Mapping[str, Form]
    permit_sets: Mapping[str, PermitSet]
    notice_phrases: tuple[NoticePhrase, ...] = ()  # wording every utility and AHJ uses (notices.toml)
    names: Mapping[str, str] = field(default_factory=dict, repr=False)  # lookup key -> utility code
    senders: Mapping[str, Sender] = field(default_factory=dict)  # platforms, program admins, general services
    ahjs: Mapping[tuple[str, str], AhjEntry] = field(default_factory=dict)  # (folded name, state) -> entry

    def ahj_entry(self, name: str | None, state: str | None) -> AhjEntry | None:
        return self.ahjs.get((" ".join((name or "").split()).casefold(), (state or "").upper()))

    def find_utility(self, text: str | None) -> Utility | None:
        """Utility whose code, name or alias matches `text` (case, spacing and punctuation ignored)."""
        if not text:
            return None
        for key in lookup_keys(text):
            code = self.names.get(key)
            if code:
                return self.utilities[code]
        return None


def lookup_keys(text: str) -> tuple[str, ...]:
    """Exact (case/space-folded) key first, then the alphanumerics-only key: "P.G.&E." finds PGE."""
    folded = " ".join(text.split()).casefold()
    loose = re.sub(r"[^0-9a-z]", "", folded)
    return (folded, loose) if loose and loose != folded else (folded,)
