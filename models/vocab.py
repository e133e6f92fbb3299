"""Shared vocabularies: product types, US states, and how input is normalised."""
from __future__ import annotations

import re

import phonenumbers

PRODUCT_TYPES = {
    "pv": "PV",
    "pv_battery": "PV + battery",
    "battery": "Battery only",
    "solar_roof": "Solar roof",
}
# Spellings seen in CRM exports, mapped onto our codes.
PRODUCT_ALIASES = {
    "pv_only": "pv", "solar": "pv", "solar pv": "pv", "pv only": "pv",
    "pv+battery": "pv_battery", "pv + battery": "pv_battery", "solar+storage": "pv_battery",
    "pv+storage": "pv_battery", "solar pv, storage": "pv_battery",
    "battery_only": "battery", "storage": "battery", "battery only": "battery",
    "solar roof": "solar_roof", "solarroof": "solar_roof", "bipv": "solar_roof",
}

US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY"
).split()

ZIP_RE = re.compile(r"^\d{5}(-\d{4})?$")
EMAIL_RE = re.compile(r"^[^@\s<>,;\"()\[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def product_type(raw: str) -> str | None:
    key = " ".join((raw or "").strip().lower().split())
    if key in PRODUCT_TYPES:
        return key
    return PRODUCT_ALIASES.get(key)


def phone_e164(raw: str) -> str | None:
    """E.164 form of a US (or +international) number, or None when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(e164: str | None) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "US")
    except phonenumbers.NumberParseException:
        return e164
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 1 else \
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, fmt)


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


ID_RE = re.compile(r"[0-9]{1,18}")


def is_id(raw) -> bool:
    """A row id as typed in a URL or form: ASCII digits that fit a 64-bit column ("²".isdigit() is True)."""
    return isinstance(raw, str) and ID_RE.fullmatch(raw) is not None
