"""`requirements(project)`: which forms and documents a project needs, and what looks wrong."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

from catalog.load import load_catalog
from catalog.model import (
    APPLICATIONS, FACTS, Catalog, Condition, Form, PermitSet, ProductType, Program, Rule, Utility,
)

DEFAULT_PERMIT_SET = "GENERIC"


@dataclass(frozen=True)
class Requirement:
    """One form or document an application needs, and the rule that demands it."""

    application: str
    doc_type: str
    doc_label: str
    rule_id: str
    explanation: str
    source: str
    form: Form | None = None
    verified: bool = True
    note: str = ""


@dataclass(frozen=True)
class Alert:
    """A warning for the coordinator.

    kind: missing_fact (a rule needs a fact the project lacks), dated (a date decides a program or
    form version), gate (installed before a required approval), program (unknown or unavailable
    utility, program or product), assumed (a default the evaluator chose), notice (a rule's advisory).
    """

    kind: str
    message: str
    rule_ids: tuple[str, ...] = ()
    fact: str | None = None


@dataclass(frozen=True)
class Requirements:
    on: date
    utility: Utility | None
    program: Program | None
    permit_set: PermitSet | None
    items: tuple[Requirement, ...]
    warnings: tuple[Alert, ...]
    applied: tuple[str, ...] = ()  # ids of every rule that applied, including ones whose items were duplicates
    eligible_incentives: tuple[str, ...] = ()

    def for_application(self, application: str) -> tuple[Requirement, ...]:
        return tuple(item for item in self.items if item.application == application)

    def by_application(self) -> dict[str, tuple[Requirement, ...]]:
        """Every application (in canonical order) mapped to its items, empty ones included."""
        return {application: self.for_application(application) for application in APPLICATIONS}

    def doc_types(self, application: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.doc_type for item in self.for_application(application)))

    def warnings_of(self, kind: str) -> tuple[Alert, ...]:
        return tuple(alert for alert in self.warnings if alert.kind == kind)


@functools.cache
def default_catalog() -> Catalog:
    """The bundled catalog, loaded and validated once per process."""
    return load_catalog()


def requirements(project: Any, on: date | None = None, catalog: Catalog | None = None) -> Requirements:
    """Evaluate the catalog's rules for `project` (any object; missing attributes count as unknown)."""
    return _Evaluation(catalog or default_catalog(), _Facts(project), on or date.today()).run()


class _Facts:
    """The project's facts by name, with derived PV/battery flags from the product type."""

    def __init__(self, project: Any):
        self.values = {name: getattr(project, name, None) for name in FACTS}
        code = self.values["utility_code"]
        self.values["utility_code"] = code.strip() if isinstance(code, str) and code.strip() else None
        self.incentives = set(getattr(project, "incentives", None) or ())
        self.permit_set = getattr(project, "permit_set", None)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


class _Evaluation:
    def __init__(self, catalog: Catalog, facts: _Facts, on: date):
        self.catalog, self.facts, self.on = catalog, facts, on
        self.items: dict[tuple[str, str, str | None], Requirement] = {}
        self.alerts: list[Alert] = []
        self.missing: dict[str, list[str]] = {}  # fact -> rule ids (or "program X") that wanted it
        self.eligible: list[str] = []
        self.applied: list[str] = []
        self.product: ProductType | None = catalog.product_types.get(facts["product_type"] or "")

    def run(self) -> Requirements:
        utility = self._utility()
        program = self._program(utility) if utility else None
        permit_set = self._permit_set()
        if self.facts["product_type"] is None:
            self._want("product_type", "")
        elif self.product is None:
            self._alert("program", f"Unknown product type '{self.facts['product_type']}'.")
        if utility:
            offered = set(utility.program_codes)
            for code in sorted(self.facts.incentives):
                self._check_incentive(utility, code)
            for rule in utility.rules:
                self._apply(rule, program, offered)
            self._gate(utility)
        if permit_set:
            for rule in permit_set.rules:
                self._apply(rule, None, set())
        return Requirements(
            on=self.on,
            utility=utility,
            program=program,
            permit_set=permit_set,
            items=tuple(sorted(self.items.values(), key=lambda r: APPLICATIONS.index(r.application))),
            warnings=tuple(self._missing_alerts() + self.alerts),
            applied=tuple(self.applied),
            eligible_incentives=tuple(dict.fromkeys(self.eligible)),
        )

    def _utility(self) -> Utility | None:
        code = self.facts["utility_code"]
        if code is None:
            self._want("utility_code", "")
            return None
        utility = self.catalog.utilities.get(code.upper()) or self.catalog.find_utility(code)
        if utility is None:
            self._alert("program", f"Utility '{code}' is not in the catalog; only AHJ rules were applied.")
        return utility

    def _program(self, utility: Utility) -> Program | None:
        code = self.facts["program"]
        if code and getattr(self.catalog.programs.get(code), "kind", "") == "incentive":
            self.facts.incentives.add(code)  # an incentive named as the program still counts as opted in
            code = None
        if code:
            program = self.catalog.programs.get(code)
            if program is None or code not in utility.program_codes:
                self._alert("program", f"Program '{code}' is not offered by {utility.name}; "
                            f"offered: {', '.join(utility.program_codes) or 'none'}.")
                return None
            self._check_program_dates(program)
            return program
        return self._default_program(utility)

    def _default_program(self, utility: Utility) -> Program | None:
        if self.product is None:
            return None
        for offered in utility.programs:
            program = self.catalog.programs[offered.code]
            if self.product.code in offered.default_for and program.open_on(self._basis(program.date_basis)):
                self._alert("assumed", f"No program set: assuming {program.name} ({program.code}), "
                            f"the {utility.name} default for {self.product.label}.")
                if program.date_basis != "on" and self.facts[program.date_basis] is None:
                    self._want(program.date_basis, f"program {program.code}")
                return program
        return None

    def _check_program_dates(self, program: Program) -> None:
        day = self._basis(program.date_basis)
        known = program.date_basis == "on" or self.facts[program.date_basis] is not None
        if not known:
            self._want(program.date_basis, f"program {program.code}")
        if not program.open_on(day):
            if program.date_basis == "on":
                basis = str(day)
            elif known:
                basis = f"{FACTS[program.date_basis]} {day}"
            else:
                basis = f"{day} ({FACTS[program.date_basis]} unknown)"
            window = _window(program.effective_from, program.effective_to)
            self._alert("dated", f"{program.name} is not open for {basis}: it is open {window}. "
                        f"{program.closed_note}".strip())
        complete, installed = self.facts["application_complete_on"], self.facts["installed_on"]
        if program.install_within_years and complete:
            deadline = _add_years(complete, program.install_within_years)
            if (installed or self.on) > deadline:
                status = f"installed {installed}" if installed else "not installed yet"
                self._alert("dated", f"{program.name} requires installation within "
                            f"{program.install_within_years} years of a complete application "
                            f"(by {deadline}); {status}.")

    def _check_incentive(self, utility: Utility, code: str) -> None:
        program = self.catalog.programs.get(code)
        if program is None or code not in utility.program_codes:
            self._alert("program", f"Incentive '{code}' is not offered by {utility.name}.")
        else:
            self._check_program_dates(program)

    def _permit_set(self) -> PermitSet | None:
        code = self.facts.permit_set or DEFAULT_PERMIT_SET
        permit_set = self.catalog.permit_sets.get(code)
        if permit_set is None:
            self._alert("program", f"Unknown permit set '{code}'.")
        return permit_set

    def _apply(self, rule: Rule, program: Program | None, offered: set[str]) -> None:
        if rule.application == "incentive":
            opted = [code for code in rule.programs if code in self.facts.incentives]
            if not opted:
                if self._matches(rule, record_unknown=False) is True:
                    self.eligible.extend(code for code in rule.programs if code in offered
                                         and self.catalog.programs[code].open_on(self.on))
                return
        elif rule.programs and (program is None or program.code not in rule.programs):
            return
        basis = rule.date_basis
        if not rule.effective_on(self._basis(basis)):
            return
        verdict = self._matches(rule, record_unknown=True)
        if verdict is not True:
            return
        self.applied.append(rule.id)
        if basis != "on" and self.facts[basis] is None:
            self._want(basis, rule.id)
        for fact in rule.needs:
            value = self.pv_kw(fact) if fact in ("pv_kw_ac", "pv_kw_dc") else self.facts[fact]
            if value in (None, "", fact):
                self._want(fact, rule.id)
        if rule.warning:
            self._alert("dated" if basis != "on" else "notice", rule.warning, rule.id)
        for code in rule.forms:
            form = self.catalog.forms[code]
            self._add(rule, form.doc_type, form)
        for code in rule.docs:
            self._add(rule, code, None)

    def _add(self, rule: Rule, doc_type: str, form: Form | None) -> None:
        key = (rule.application, doc_type, form.code if form else None)
        if key in self.items:
            return
        bare = (rule.application, doc_type, None)
        if form is None and any(k[:2] == bare[:2] for k in self.items):
            return  # a specific form already covers this document type
        if form is not None:
            self.items.pop(bare, None)
        self.items[key] = Requirement(
            application=rule.application,
            doc_type=doc_type,
            doc_label=self.catalog.doc_types[doc_type].label,
            rule_id=rule.id,
            explanation=rule.explanation,
            source=rule.source,
            form=form,
            verified=rule.verified and (form.verified if form else True),
            note=rule.note,
        )

    def _matches(self, rule: Rule, record_unknown: bool) -> bool | None:
        """True, False, or None when a fact the condition needs is unknown (recorded as missing)."""
        if rule.products:
            if self.product is None:
                return None
            if self.product.code not in rule.products:
                return False
        unknown: list[str] = []
        for test in _tests(rule.when):
            outcome = test(self)
            if outcome is False:
                return False
            if isinstance(outcome, str):
                unknown.append(outcome)
        if unknown:
            if record_unknown:
                for fact in unknown:
                    self._want(fact, rule.id)
            return None
        return True

    def _gate(self, utility: Utility) -> None:
        if utility.gate not in ("pre_install_required", "pre_install_recommended"):
            return
        installed, approved = self.facts["installed_on"], self.facts["part1_approved_on"]
        if installed is None or (approved is not None and approved <= installed):
            return
        verb = "requires" if utility.gate == "pre_install_required" else "strongly recommends"
        when = f"before Part 1 approval on {approved}" if approved else "with no Part 1 approval recorded"
        note = f" {utility.gate_note}" if utility.gate_note else ""
        self._alert("gate", f"Installed on {installed} {when}: {utility.name} {verb} "
                    f"approval before installation.{note}")

    def _basis(self, basis: str) -> date:
        return self.on if basis == "on" else (self.facts[basis] or self.on)

    def _want(self, fact: str, rule_id: str) -> None:
        wanted = self.missing.setdefault(fact, [])
        if rule_id and rule_id not in wanted:
            wanted.append(rule_id)

    def _missing_alerts(self) -> list[Alert]:
        alerts = []
        for fact, wanted_by in self.missing.items():
            needed = f": needed by {', '.join(wanted_by)}" if wanted_by else ""
            rule_ids = tuple(w for w in wanted_by if not w.startswith("program "))
            alerts.append(Alert("missing_fact", f"Missing {FACTS[fact]}{needed}.", rule_ids, fact))
        return alerts

    def _alert(self, kind: str, message: str, rule_id: str | None = None) -> None:
        self.alerts.append(Alert(kind, message, (rule_id,) if rule_id else ()))

    def pv_kw(self, fact: str) -> float | str:
        """PV size; a product without PV has 0 kW, an unknown size returns the fact name."""
        if self.product is not None and not self.product.has_pv:
            return 0.0
        value = self.facts[fact]
        return fact if value is None else float(value)

    def has_battery(self) -> bool | None:
        """From the product type, or battery kWh on a product that may carry one (solar roof + battery)."""
        if self.product is None:
            return None
        kwh = self.facts["battery_kwh"]
        return self.product.has_battery or bool(kwh and kwh > 0)


def _tests(when: Condition) -> Iterable:
    """One callable per set condition field: returns True, False, or the name of an unknown fact."""

    def kw(fact: str, holds) -> Any:
        def test(ev: _Evaluation) -> bool | str:
            value = ev.pv_kw(fact)
            return value if isinstance(value, str) else holds(value)
        return test

    def flag(fact: str, wanted: bool) -> Any:
        def test(ev: _Evaluation) -> bool | str:
            value = ev.facts[fact]
            return fact if value is None else bool(value) == wanted
        return test

    if when.kw_ac_above is not None:
        yield kw("pv_kw_ac", lambda v, limit=when.kw_ac_above: v > limit)
    if when.kw_ac_at_least is not None:
        yield kw("pv_kw_ac", lambda v, limit=when.kw_ac_at_least: v >= limit)
    if when.kw_ac_at_most is not None:
        yield kw("pv_kw_ac", lambda v, limit=when.kw_ac_at_most: v <= limit)
    if when.kw_dc_above is not None:
        yield kw("pv_kw_dc", lambda v, limit=when.kw_dc_above: v > limit)
    if when.kw_dc_at_most is not None:
        yield kw("pv_kw_dc", lambda v, limit=when.kw_dc_at_most: v <= limit)
    if when.battery_kwh_above is not None:
        limit = when.battery_kwh_above
        yield lambda ev: "battery_kwh" if ev.facts["battery_kwh"] is None else ev.facts["battery_kwh"] > limit
    def product(wanted: bool, has) -> Any:
        def test(ev: _Evaluation) -> bool | str:
            value = has(ev)
            return "product_type" if value is None else value == wanted
        return test

    if when.has_pv is not None:
        yield product(when.has_pv, lambda ev: ev.product.has_pv if ev.product else None)
    if when.has_battery is not None:
        yield product(when.has_battery, _Evaluation.has_battery)
    for name in ("export_limited", "new_home", "third_party_owned", "main_panel_upgrade"):
        wanted = getattr(when, name)
        if wanted is not None:
            yield flag(name, wanted)
    if when.states:
        yield lambda ev: "state" if not ev.facts["state"] else ev.facts["state"].upper() in when.states


def _window(start: date | None, end: date | None) -> str:
    if start and end:
        return f"from {start} until {end} (exclusive)"
    if start:
        return f"from {start}"
    return f"before {end}" if end else "always"


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
