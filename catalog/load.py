"""Read the TOML data files into a `Catalog`, collecting every problem before failing."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from catalog.model import (
    APPLICATIONS, AUTHORITIES, SENDER_KINDS, AhjEntry, Sender, DATE_BASES, FACTS, GATES, NOTICE_FOR_STATUS, NOTICE_TYPES, STATUSES, Catalog, Condition, DocType, Fee, Form,
    NoticePhrase, PermitSet, Portal, ProductType, Program, ReferencePattern, Rule, Sla, Tier,
    Utility, UtilityProgram, lookup_keys,
)

DATA_DIR = Path(__file__).parent / "data"

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR".split()
)
CODE = re.compile(r"[A-Z][A-Z0-9_]*")
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
PROGRAM_KINDS = ("tariff", "incentive")


class CatalogError(Exception):
    """The catalog data is invalid; `errors` lists each problem as "file: entry: what is wrong"."""

    def __init__(self, errors: Iterable[str]):
        self.errors = list(errors)
        count = len(self.errors)
        head = f"{count} problem{'s' if count != 1 else ''} in the catalog"
        super().__init__(head + ":\n  " + "\n  ".join(self.errors))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the catalog under `path` (default: the bundled catalog/data)."""
    root = Path(path) if path is not None else DATA_DIR
    if not (root / "doc_types.toml").exists() and (root / "data").is_dir():
        root = root / "data"
    loader = _Loader(root)
    catalog = loader.load()
    if loader.errors:
        raise CatalogError(loader.errors)
    return catalog


class _Table:
    """One TOML table being read: typed getters record errors and remember which keys were used."""

    def __init__(self, data: Any, file: str, entry: str, errors: list[str]):
        self.file, self.entry, self.errors = file, entry, errors
        self.seen: set[str] = set()
        if not isinstance(data, dict):
            self.error(f"expected a table, got {type(data).__name__}")
            data = {}
        self.data: dict[str, Any] = data

    def error(self, message: str) -> None:
        self.errors.append(f"{self.file}: {self.entry}: {message}")

    def child(self, data: Any, entry: str) -> _Table:
        return _Table(data, self.file, entry, self.errors)

    def raw(self, key: str, required: bool = False) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                self.error(f"missing required key '{key}'")
            return None
        return self.data[key]

    def text(self, key: str, required: bool = False, default: str = "") -> str:
        value = self.raw(key, required)
        if value is None:
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.error(f"'{key}' must be a non-empty string, got {value!r}")
            return default
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key) or None

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(f"'{key}' must be a list of strings, got {value!r}")
            return ()
        return tuple(value)

    def flag(self, key: str, default: bool | None = None) -> bool | None:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(f"'{key}' must be true or false, got {value!r}")
            return default
        return value

    def number(self, key: str) -> float | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.error(f"'{key}' must be a non-negative number, got {value!r}")
            return None
        return float(value)

    def integer(self, key: str) -> int | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.error(f"'{key}' must be a non-negative integer, got {value!r}")
            return None
        return value

    def day(self, key: str) -> date | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        elif isinstance(value, date) and not hasattr(value, "hour"):
            return value
        self.error(f"'{key}' must be a date (YYYY-MM-DD), got {value!r}")
        return None

    def tables(self, key: str) -> list[Any]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(f"'{key}' must be an array of tables ([[{key}]])")
            return []
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.raw(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(f"'{key}' must be a table")
            return {}
        return value

    def done(self) -> None:
        for key in sorted(set(self.data) - self.seen):
            allowed = ", ".join(sorted(self.seen))
            self.error(f"unknown key '{key}' (allowed: {allowed})")


class _Loader:
    """Reads files in dependency order so each entry is checked where its file and name are known."""

    def __init__(self, root: Path):
        self.root = root
        self.errors: list[str] = []
        self.forms: dict[str, Form] = {}
        self.form_files: dict[str, str] = {}
        self.rule_files: dict[str, str] = {}

    def load(self) -> Catalog:
        self.product_types = self._keyed_file("product_types.toml", self._product_type)
        self.doc_types = self._keyed_file("doc_types.toml", self._doc_type)
        self.programs = self._keyed_file("programs.toml", self._program)
        self.rulesets = {path.stem: self._ruleset(path) for path in self._files("rulesets")}
        permit_sets = self._unique(self._permit_set(p) for p in self._files("permits"))
        utilities = self._unique(self._utility(p) for p in self._files("utilities"))
        if not utilities:
            self.errors.append(f"{self.root / 'utilities'}: no utility files found")
        senders = self._senders()
        return Catalog(
            utilities=utilities,
            programs=self.programs,
            product_types=self.product_types,
            doc_types=self.doc_types,
            forms=self.forms,
            permit_sets=permit_sets,
            notice_phrases=self._generic_phrases(),
            senders=senders,
            ahjs=self._ahjs(senders),
            names=self._names(utilities.values()),
        )

    def _files(self, folder: str) -> list[Path]:
        return sorted((self.root / folder).glob("*.toml"))

    def _read(self, path: Path, entry: str = "top level") -> _Table:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            self.errors.append(f"{path}: file is missing")
            data = {}
        except tomllib.TOMLDecodeError as exc:
            self.errors.append(f"{path}: not valid TOML: {exc}")
            data = {}
        return _Table(data, str(path), entry, self.errors)

    def _unique(self, pairs: Iterable[tuple[Any, _Table]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for item, table in pairs:
            if item.code in result:
                table.error(f"duplicate code '{item.code}'")
            result[item.code] = item
        return result

    def _keyed_file(self, name: str, build) -> dict[str, Any]:
        table = self._read(self.root / name)
        result = {}
        for code in table.data:
            entry = table.child(table.raw(code), f"entry '{code}'")
            result[code] = build(code, entry)
            entry.done()
        return result

    def _product_type(self, code: str, t: _Table) -> ProductType:
        if not re.fullmatch(r"[a-z][a-z_]*", code):
            t.error("product type code must be lower_case")
        return ProductType(
            code=code,
            label=t.text("label", required=True),
            has_pv=bool(t.flag("has_pv", False)),
            has_battery=bool(t.flag("has_battery", False)),
            description=t.text("description"),
        )

    def _doc_type(self, code: str, t: _Table) -> DocType:
        _check_code(t, code)
        return DocType(
            code=code,
            label=t.text("label", required=True),
            description=t.text("description"),
            signer=t.texts("signer"),
            requested_from=t.text("requested_from"),
            max_age_days=t.integer("max_age_days"),
            must_match=t.texts("must_match"),
            aliases=t.texts("aliases"),
        )

    def _program(self, code: str, t: _Table) -> Program:
        _check_code(t, code)
        program = Program(
            code=code,
            name=t.text("name", required=True),
            kind=t.text("kind", required=True),
            description=t.text("description", required=True),
            source=t.text("source", required=True),
            aka=t.texts("aka"),
            states=t.texts("states"),
            effective_from=t.day("effective_from"),
            effective_to=t.day("effective_to"),
            date_basis=t.text("date_basis", default="on"),
            closed_note=t.text("closed_note"),
            install_within_years=t.integer("install_within_years"),
            verified=bool(t.flag("verified", True)),
        )
        _check_choice(t, "kind", program.kind, PROGRAM_KINDS)
        _check_choice(t, "date_basis", program.date_basis, DATE_BASES)
        _check_url(t, program.source)
        _check_window(t, program.effective_from, program.effective_to)
        _check_states(t, program.states)
        return program

    def _forms(self, t: _Table) -> dict[str, Form]:
        own = {}
        for code, data in t.mapping("forms").items():
            ft = t.child(data, f"form '{code}'")
            form = Form(
                code=code,
                name=ft.text("name", required=True),
                doc_type=ft.text("doc_type", required=True),
                number=ft.optional_text("number"),
                version=ft.optional_text("version"),
                url=ft.optional_text("url"),
                verified=bool(ft.flag("verified", True)),
            )
            ft.done()
            _check_code(ft, code)
            if form.doc_type and form.doc_type not in self.doc_types:
                ft.error(f"unknown doc type '{form.doc_type}'")
            if code in self.forms:
                ft.error(f"duplicate form code '{code}' (also in {self.form_files[code]})")
            self.forms[code] = own[code] = form
            self.form_files[code] = t.file
        return own

    def _rules(self, t: _Table, forms: dict[str, Form], offered: Iterable[str] | None,
               applications: tuple[str, ...]) -> tuple[Rule, ...]:
        """Parse and check `t`'s [[rules]]; `offered` limits program codes (None: any known program)."""
        offered = set(self.programs) if offered is None else set(offered)
        rules = []
        for index, data in enumerate(t.tables("rules")):
            rule_id = data.get("id") if isinstance(data, dict) else None
            rt = t.child(data, f"rule '{rule_id}'" if isinstance(rule_id, str) else f"rules[{index}]")
            rule = self._rule(rt)
            self._check_rule(rt, rule, forms, offered, applications)
            rules.append(rule)
        return tuple(rules)

    def _rule(self, t: _Table) -> Rule:
        when = t.child(t.mapping("when"), f"{t.entry} when")
        condition = Condition(
            kw_ac_above=when.number("kw_ac_above"),
            kw_ac_at_least=when.number("kw_ac_at_least"),
            kw_ac_at_most=when.number("kw_ac_at_most"),
            kw_dc_above=when.number("kw_dc_above"),
            kw_dc_at_most=when.number("kw_dc_at_most"),
            battery_kwh_above=when.number("battery_kwh_above"),
            has_pv=when.flag("has_pv"),
            has_battery=when.flag("has_battery"),
            export_limited=when.flag("export_limited"),
            new_home=when.flag("new_home"),
            third_party_owned=when.flag("third_party_owned"),
            main_panel_upgrade=when.flag("main_panel_upgrade"),
            states=when.texts("states"),
        )
        when.done()
        _check_states(when, condition.states)
        rule = Rule(
            id=t.text("id", required=True),
            application=t.text("application", required=True),
            explanation=t.text("explanation", required=True),
            source=t.text("source", required=True),
            effective_from=t.day("effective_from"),
            effective_to=t.day("effective_to"),
            date_basis=t.text("date_basis", default="on"),
            programs=t.texts("programs"),
            products=t.texts("products"),
            when=condition,
            docs=t.texts("docs"),
            forms=t.texts("forms"),
            needs=t.texts("needs"),
            warning=t.text("warning"),
            note=t.text("note"),
            verified=bool(t.flag("verified", True)),
        )
        t.done()
        return rule

    def _check_rule(self, t: _Table, rule: Rule, forms: dict[str, Form], offered: set[str],
                    applications: tuple[str, ...]) -> None:
        if rule.id:
            if not re.fullmatch(r"[A-Z0-9][A-Z0-9_.-]*", rule.id):
                t.error("id must be UPPER-CASE letters, digits, '-', '_' or '.'")
            if rule.id in self.rule_files:
                t.error(f"duplicate rule id '{rule.id}' (also in {self.rule_files[rule.id]})")
            self.rule_files[rule.id] = t.file
        _check_choice(t, "application", rule.application, applications)
        _check_choice(t, "date_basis", rule.date_basis, DATE_BASES)
        _check_url(t, rule.source)
        _check_window(t, rule.effective_from, rule.effective_to)
        for fact in rule.needs:
            if fact not in FACTS:
                t.error(f"needs unknown fact '{fact}' (known: {', '.join(FACTS)})")
        for code in rule.docs:
            if code not in self.doc_types:
                t.error(f"unknown doc type '{code}'")
        for code in rule.forms:
            if code not in forms:
                t.error(f"unknown form '{code}' (forms here: {', '.join(sorted(forms)) or 'none'})")
        for code in rule.products:
            if code not in self.product_types:
                t.error(f"unknown product type '{code}' (known: {', '.join(self.product_types)})")
        for code in rule.programs:
            program = self.programs.get(code)
            if program is None:
                t.error(f"unknown program '{code}'")
            elif code not in offered:
                t.error(f"program '{code}' is not offered here (offered: {', '.join(sorted(offered))})")
            elif (program.kind == "incentive") != (rule.application == "incentive"):
                t.error(f"program '{code}' is a {program.kind}; it cannot drive a rule for {rule.application}")
        if rule.application == "incentive" and not rule.programs:
            t.error("an incentive rule must name its incentive program(s)")
        if not (rule.docs or rule.forms or rule.warning):
            t.error("a rule must require docs or forms, or carry a warning")

    def _ruleset(self, path: Path) -> tuple[tuple[Rule, ...], dict[str, Form]]:
        t = self._read(path, "ruleset")
        t.text("name", required=True)
        t.text("description")
        forms = self._forms(t)
        rules = self._rules(t, forms, None, ("utility_part1", "utility_part2", "incentive"))
        t.done()
        return rules, forms

    def _permit_set(self, path: Path) -> tuple[PermitSet, _Table]:
        t = self._read(path, "permit set")
        forms = self._forms(t)
        permit_set = PermitSet(
            code=t.text("code", required=True),
            name=t.text("name", required=True),
            platform=t.text("platform", required=True),
            description=t.text("description", required=True),
            source=t.text("source", required=True),
            fee_usd=t.number("fee_usd"),
            rules=self._rules(t, forms, (), ("ahj_permit",)),
        )
        t.done()
        _check_code(t, permit_set.code)
        return permit_set, t

    def _utility(self, path: Path) -> tuple[Utility, _Table]:
        t = self._read(path)
        code = t.data.get("code")
        t.entry = f"utility '{code}'" if isinstance(code, str) else "utility"
        _check_code(t, code if isinstance(code, str) else "")
        portal_t = t.child(t.mapping("portal"), f"{t.entry} portal")
        portal = Portal(
            name=portal_t.text("name", required=True),
            platform=portal_t.text("platform", required=True),
            url=portal_t.optional_text("url"),
            verified=bool(portal_t.flag("verified", True)),
        )
        portal_t.done()
        programs = tuple(self._list(t, "programs", self._utility_program))
        offered = {p.code for p in programs}
        include = t.texts("include")
        shared_rules: tuple[Rule, ...] = ()
        forms: dict[str, Form] = {}
        for name in include:
            if name not in self.rulesets:
                t.error(f"includes unknown ruleset '{name}' (known: {', '.join(sorted(self.rulesets))})")
                continue
            rules, ruleset_forms = self.rulesets[name]
            shared_rules += rules
            forms.update(ruleset_forms)
            for rule in rules:
                missing = sorted(set(rule.programs) - offered)
                if missing:
                    t.error(f"included rule '{rule.id}' names programs not offered here: {', '.join(missing)}")
        forms.update(self._forms(t))
        utility = Utility(
            code=t.text("code", required=True),
            name=t.text("name", required=True),
            aliases=t.texts("aliases"),
            states=t.texts("states"),
            gate=t.text("gate", required=True),
            portal=portal,
            source=t.text("source", required=True),
            eia_id=t.integer("eia_id"),
            eia_id_verified=bool(t.flag("eia_id_verified", True)),
            gate_note=t.text("gate_note"),
            follow_up_business_days=t.integer("follow_up_business_days"),
            programs=programs,
            tiers=tuple(self._list(t, "tiers", self._tier)),
            fees=tuple(self._list(t, "fees", self._fee)),
            sla=tuple(self._list(t, "sla", self._sla)),
            reference_patterns=tuple(self._list(t, "reference_patterns", self._pattern)),
            notice_phrases=tuple(self._list(t, "notice_phrases", self._phrase)),
            sender_domains=t.texts("sender_domains"),
            notes=t.texts("notes"),
            forms=forms,
            # Included rules come first so shared CA rules read before a utility's own.
            rules=shared_rules + self._rules(t, forms, offered, ("utility_part1", "utility_part2", "incentive")),
        )
        t.done()
        _check_choice(t, "gate", utility.gate, tuple(GATES))
        if utility.follow_up_business_days is not None and not 1 <= utility.follow_up_business_days <= 30:
            t.error("follow_up_business_days must be between 1 and 30")
        _check_url(t, utility.source)
        if not utility.states:
            t.error("states must list at least one state")
        _check_states(t, utility.states)
        return utility, t

    def _list(self, t: _Table, key: str, build) -> list[Any]:
        items = []
        for index, data in enumerate(t.tables(key)):
            child = t.child(data, f"{key}[{index}]")
            items.append(build(child))
            child.done()
        return items

    def _utility_program(self, t: _Table) -> UtilityProgram:
        program = UtilityProgram(code=t.text("code", required=True), default_for=t.texts("default_for"))
        t.entry = f"program '{program.code}'"
        if program.code and program.code not in self.programs:
            t.error(f"unknown program '{program.code}'")
        for code in program.default_for:
            if code not in self.product_types:
                t.error(f"default_for names unknown product type '{code}'")
        return program

    def _tier(self, t: _Table) -> Tier:
        tier = Tier(
            name=t.text("name", required=True),
            kw_ac_above=t.number("kw_ac_above"),
            kw_ac_at_most=t.number("kw_ac_at_most"),
            fee_usd=t.number("fee_usd"),
            note=t.text("note"),
            verified=bool(t.flag("verified", True)),
        )
        t.entry = f"tier '{tier.name}'"
        low, high = tier.kw_ac_above, tier.kw_ac_at_most
        if low is not None and high is not None and low >= high:
            t.error("kw_ac_above must be below kw_ac_at_most")
        return tier

    def _fee(self, t: _Table) -> Fee:
        t.raw("usd", required=True)
        fee = Fee(
            name=t.text("name", required=True),
            usd=t.number("usd") or 0.0,
            application=t.text("application", required=True),
            note=t.text("note"),
            verified=bool(t.flag("verified", True)),
        )
        t.entry = f"fee '{fee.name}'"
        _check_choice(t, "application", fee.application, APPLICATIONS)
        return fee

    def _sla(self, t: _Table) -> Sla:
        sla = Sla(
            step=t.text("step", required=True),
            business_days=t.integer("business_days"),
            calendar_days=t.integer("calendar_days"),
            note=t.text("note"),
            verified=bool(t.flag("verified", True)),
        )
        t.entry = f"sla '{sla.step}'"
        if sla.business_days is None and sla.calendar_days is None:
            t.error("give business_days or calendar_days")
        return sla

    def _pattern(self, t: _Table) -> ReferencePattern:
        kind = t.text("kind", required=True)
        source = t.text("regex", required=True)
        example = t.text("example")
        t.entry = f"reference pattern '{kind}'"
        try:
            regex = re.compile(source)
        except re.error as exc:
            t.error(f"regex {source!r} does not compile: {exc}")
            regex = re.compile(re.escape(source))
        else:
            if example and not regex.fullmatch(example):
                t.error(f"regex {source!r} does not match its example {example!r}")
        return ReferencePattern(
            kind=kind, regex=regex, example=example, note=t.text("note"),
            verified=bool(t.flag("verified", True)),
        )

    def _phrase(self, t: _Table) -> NoticePhrase:
        status = t.text("status", required=True)
        text = t.text("phrase", required=True)
        t.entry = f"notice phrase '{text}'"
        notice = t.text("notice") or NOTICE_FOR_STATUS.get(status, "")
        _check_choice(t, "status", status, STATUSES)
        if status in STATUSES:
            _check_choice(t, "notice", notice, tuple(NOTICE_TYPES))
        return NoticePhrase(phrase=text.casefold(), notice=notice, status=status)

    def _generic_phrases(self) -> tuple[NoticePhrase, ...]:
        t = self._read(self.root / "notices.toml")
        phrases = []
        for entry in t.tables("phrases"):
            p = t.child(entry, "phrase")
            text, notice = p.text("phrase", required=True), p.text("notice", required=True)
            p.entry = f"phrase '{text}'"
            authority = p.text("authority", default="any")
            _check_choice(p, "notice", notice, tuple(NOTICE_TYPES))
            _check_choice(p, "authority", authority, (*AUTHORITIES, "any"))
            p.done()
            phrases.append(NoticePhrase(phrase=text.casefold(), notice=notice, authority=authority))
        t.done()
        return tuple(phrases)

    def _domains(self, t: _Table, key: str = "domains") -> tuple[str, ...]:
        domains = tuple(d.lower() for d in t.texts(key))
        for d in domains:
            if not DOMAIN.fullmatch(d):
                t.error(f"'{d}' is not a mail domain such as example.com (no wildcards or patterns)")
        return domains

    def _senders(self) -> dict[str, Sender]:
        path = self.root / "senders.toml"
        if not path.exists():
            return {}
        t = self._read(path)
        out: dict[str, Sender] = {}
        for entry in t.tables("senders"):
            s = t.child(entry, "sender")
            code = s.text("code", required=True)
            s.entry = f"sender '{code}'"
            _check_code(s, code)
            sender = Sender(code=code, name=s.text("name", required=True), kind=s.text("kind", required=True),
                            domains=self._domains(s), source=s.text("source", required=True),
                            authority=s.text("authority"), programs=s.texts("programs"),
                            utilities=s.texts("utilities"), note=s.text("note"),
                            verified=bool(s.flag("verified", True)))
            _check_choice(s, "kind", sender.kind, tuple(SENDER_KINDS))
            _check_choice(s, "authority", sender.authority, AUTHORITIES)
            if sender.kind != "general" and not sender.authority:
                s.error("a platform or program administrator must name the authority whose notices it carries")
            if not sender.domains:
                s.error("a sender needs at least one domain")
            for program in sender.programs:
                if program not in self.programs:
                    s.error(f"unknown program '{program}'")
            _check_url(s, sender.source)
            s.done()
            if code in out:
                s.error(f"duplicate code '{code}'")
            out[code] = sender
        t.done()
        return out

    def _ahjs(self, senders: dict[str, Sender]) -> dict[tuple[str, str], AhjEntry]:
        path = self.root / "ahjs.toml"
        if not path.exists():
            return {}
        t = self._read(path)
        out: dict[tuple[str, str], AhjEntry] = {}
        for entry in t.tables("ahjs"):
            a = t.child(entry, "ahj")
            name = " ".join(a.text("name", required=True).split())
            a.entry = f"ahj '{name}'"
            ahj = AhjEntry(name=name, state=a.text("state", required=True).upper(), domains=self._domains(a),
                           source=a.text("source", required=True), portals=a.texts("portals"),
                           note=a.text("note"), verified=bool(a.flag("verified", True)))
            _check_states(a, (ahj.state,))
            _check_url(a, ahj.source)
            for portal in ahj.portals:
                if portal not in senders:
                    a.error(f"unknown portal '{portal}' (not a sender in senders.toml)")
            a.done()
            key = (name.casefold(), ahj.state)
            if key in out:
                a.error("duplicate AHJ (same name and state)")
            out[key] = ahj
        t.done()
        return out

    def _names(self, utilities: Iterable[Utility]) -> dict[str, str]:
        names: dict[str, str] = {}
        for utility in utilities:
            for text in (utility.code, utility.name, *utility.aliases):
                for key in lookup_keys(text):
                    other = names.setdefault(key, utility.code)
                    if other != utility.code:
                        self.errors.append(
                            f"{self.root / 'utilities'}: utility '{utility.code}': "
                            f"name or alias {text!r} also matches utility '{other}'"
                        )
        return names


def _check_code(t: _Table, code: str) -> None:
    if code and not CODE.fullmatch(code):
        t.error(f"code '{code}' must be UPPER_CASE letters, digits and underscores")


def _check_choice(t: _Table, key: str, value: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value and value not in choices:
        t.error(f"{key} must be one of {', '.join(choices)}, got '{value}'")


def _check_url(t: _Table, url: str) -> None:
    if url and not url.startswith(("https://", "http://")):
        t.error(f"source must be a URL, got '{url}'")


def _check_window(t: _Table, start: date | None, end: date | None) -> None:
    if start and end and start >= end:
        t.error(f"effective_from {start} must be before effective_to {end}")


def _check_states(t: _Table, states: Iterable[str]) -> None:
    for state in states:
        if state not in US_STATES:
            t.error(f"'{state}' is not a 2-letter US state code")
