"""Validation of a project's editable facts, shared by the edit form and the CSV import."""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Callable

from models import vocab
from models.base import today as desk_today

TEXT_LIMITS = {
    "external_id": 64, "customer_name": 200, "customer_email": 254, "street": 200,
    "city": 100, "utility_account": 64, "ahj": 120, "program": 64,
}
NUMBER_LIMITS = {"pv_kw_dc": 2000.0, "pv_kw_ac": 2000.0, "battery_kwh": 5000.0}
REQUIRED = ("external_id", "customer_name", "utility")
# Facts every project has: a form may change them but cannot clear them.
NEVER_BLANK = {"product_type": f"is required; use one of {', '.join(vocab.PRODUCT_TYPES)}"}
NUL = "\x00"
NUL_ERROR = "contains a NUL character (\\0), which text cannot hold; remove it"
THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")


@dataclass
class Cleaned:
    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def clean_text(raw) -> str:
    # Control characters never belong in a project fact; collapse whitespace.
    text = "".join(ch for ch in str(raw or "") if ch.isprintable() or ch == " ")
    return " ".join(text.split())


def nul_errors(raw: dict, names) -> dict[str, str]:
    """An error for each named value holding a NUL: refused, not dropped, so every database answers alike."""
    return {name: NUL_ERROR for name in names if NUL in str(raw.get(name) or "")}


def clean_project(raw: dict, find_utility: Callable[[str], str | None],
                  fields: tuple[str, ...] | None = None,
                  states_of: Callable[[str], tuple[str, ...]] | None = None,
                  blank_keeps: bool = False) -> Cleaned:
    """Validate the given fields of raw (strings from a form or CSV); only those present are checked.

    states_of(utility code) gives the states a utility serves, to catch a utility/state mismatch.
    blank_keeps: a blank value leaves the stored fact alone (the CSV import) instead of clearing it (forms),
    so a blank NEVER_BLANK field is an error only when it would clear.
    """
    out = Cleaned()
    names = fields if fields is not None else tuple(raw)
    out.errors.update(nul_errors(raw, names))
    for name in names:
        if name in out.errors:
            continue
        value = clean_text(raw.get(name, ""))
        limit = TEXT_LIMITS.get(name)
        if limit and len(value) > limit:
            out.errors[name] = f"is too long ({len(value)} characters, at most {limit})"
            continue
        if name in REQUIRED and not value:
            out.errors[name] = "is required"
            continue
        if name in NEVER_BLANK and not value and name in raw and not blank_keeps:
            out.errors[name] = NEVER_BLANK[name]
            continue
        checker = _CHECKS.get(name)
        if checker is None:
            out.values[name] = value
            continue
        try:
            out.values[name] = checker(value, find_utility) if value else None
        except ValueError as exc:
            out.errors[name] = str(exc)
    if not out.errors:
        _cross_checks(out, states_of)
    return out


def _email(value, _):
    value = value.lower()
    if not vocab.EMAIL_RE.match(value):
        raise ValueError(f"{value!r} is not a valid email address")
    return value


def _phone(value, _):
    e164 = vocab.phone_e164(value)
    if e164 is None:
        raise ValueError(f"{value!r} is not a valid phone number")
    return e164


def _state(value, _):
    code = value.upper()
    if code not in vocab.US_STATES:
        raise ValueError(f"{value!r} is not a US state code (e.g. CA, AZ)")
    return code


def _zip(value, _):
    if not vocab.ZIP_RE.match(value):
        raise ValueError(f"{value!r} is not a ZIP code (12345 or 12345-6789)")
    return value


def _utility(value, find_utility):
    code = find_utility(value)
    if code is None:
        raise ValueError(f"unknown utility {value!r}; use a catalog code or name such as PG&E, SCE, APS")
    return code


def _product(value, _):
    code = vocab.product_type(value)
    if code is None:
        raise ValueError(f"unknown product type {value!r}; use one of {', '.join(vocab.PRODUCT_TYPES)}")
    return code


def _number(limit):
    def check(value, _):
        # A comma is a thousands separator only ("1,250.5"); "7,6" is a decimal comma we refuse to guess at.
        if "," in value and not THOUSANDS.match(value):
            raise ValueError(f"{value!r} is not a number; use a point for decimals (7.6)")
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError("must be zero or more")
        if number > limit:
            raise ValueError(f"{number:g} is more than {limit:g}; check the unit")
        return round(number, 3)
    return check


def _date(value, _):
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    # These dates record what has happened (signed, complete, installed): never later than tomorrow.
    if day > desk_today() + dt.timedelta(days=1):
        raise ValueError(f"{day} is in the future; record it once it has happened")
    if day < dt.date(2000, 1, 1):
        raise ValueError(f"{day} is out of range; check the year")
    return day


def _tristate(value, _):
    key = value.strip().lower()
    if key in ("yes", "true", "1", "y"):
        return True
    if key in ("no", "false", "0", "n"):
        return False
    if key in ("unknown", ""):
        return None
    raise ValueError(f"{value!r}: answer yes, no or unknown")


DATE_FIELDS = ("contract_signed_on", "application_complete_on", "installed_on")
FLAG_FIELDS = ("export_limited", "new_home", "third_party_owned", "main_panel_upgrade")

_CHECKS = {
    "customer_email": _email,
    "customer_phone": _phone,
    "state": _state,
    "zip": _zip,
    "utility": _utility,
    "product_type": _product,
    **{name: _number(limit) for name, limit in NUMBER_LIMITS.items()},
    **{name: _date for name in DATE_FIELDS},
    **{name: _tristate for name in FLAG_FIELDS},
}


def _cross_checks(out: Cleaned, states_of) -> None:
    v = out.values
    dc, ac = v.get("pv_kw_dc"), v.get("pv_kw_ac")
    if dc == 0 and v.get("product_type") != "battery":
        out.errors["pv_kw_dc"] = "must be more than 0 for a PV project (leave it empty if unknown)"
    if ac == 0 and v.get("product_type") != "battery":
        out.errors["pv_kw_ac"] = "must be more than 0 for a PV project (leave it empty if unknown)"
    served = states_of(v["utility"]) if states_of and v.get("utility") else ()
    if served and v.get("state") and v["state"] not in served:
        out.errors["utility"] = f"serves {', '.join(served)}, not {v['state']}; check the utility or the state"
    if dc and ac and ac > dc * 1.5:
        out.errors["pv_kw_ac"] = f"AC size {ac:g} kW is far above DC size {dc:g} kW; check both"
    if v.get("product_type") == "battery" and dc:
        out.errors["pv_kw_dc"] = "a battery-only project has no PV size; change the product type or clear it"
    signed, installed = v.get("contract_signed_on"), v.get("installed_on")
    if signed and installed and installed < signed:
        out.errors["installed_on"] = f"installation ({installed}) is before the contract was signed ({signed})"
