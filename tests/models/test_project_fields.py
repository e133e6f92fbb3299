"""The project validation shared by the edit form and the CSV import."""
from __future__ import annotations

from models.project_fields import clean_project

KNOWN = {"pg&e": "PGE", "pge": "PGE", "sce": "SCE"}


def find(text):
    return KNOWN.get(text.strip().lower())


def test_valid_values_are_normalised():
    out = clean_project({"external_id": " 3763MORR ", "customer_name": "Ana  Morris", "utility": "PG&E",
                         "customer_email": "Ana@Example.NET", "customer_phone": "(415) 555-0123",
                         "state": "ca", "zip": "94610", "product_type": "PV+Battery", "pv_kw_dc": "7.6",
                         "pv_kw_ac": "6.0", "battery_kwh": "13.5"}, find)
    assert out.ok, out.errors
    v = out.values
    assert v["external_id"] == "3763MORR" and v["customer_name"] == "Ana Morris"
    assert v["utility"] == "PGE" and v["customer_email"] == "ana@example.net"
    assert v["customer_phone"] == "+14155550123" and v["state"] == "CA"
    assert v["product_type"] == "pv_battery" and v["pv_kw_dc"] == 7.6 and v["battery_kwh"] == 13.5


def test_each_bad_field_gets_its_own_message():
    out = clean_project({"external_id": "", "customer_name": "X", "utility": "Acme Power", "customer_email": "nope",
                         "customer_phone": "12", "state": "ZZ", "zip": "9461", "product_type": "wind",
                         "pv_kw_dc": "seven", "battery_kwh": "-1"}, find)
    assert out.errors == {
        "external_id": "is required",
        "utility": "unknown utility 'Acme Power'; use a catalog code or name such as PG&E, SCE, APS",
        "customer_email": "'nope' is not a valid email address",
        "customer_phone": "'12' is not a valid phone number",
        "state": "'ZZ' is not a US state code (e.g. CA, AZ)",
        "zip": "'9461' is not a ZIP code (12345 or 12345-6789)",
        "product_type": "unknown product type 'wind'; use one of pv, pv_battery, battery, solar_roof",
        "pv_kw_dc": "'seven' is not a number",
        "battery_kwh": "must be zero or more",
    }


def test_cross_checks_and_limits():
    out = clean_project({"pv_kw_dc": "5", "pv_kw_ac": "9"}, find)
    assert "far above DC size" in out.errors["pv_kw_ac"]
    out = clean_project({"pv_kw_dc": "20000"}, find)
    assert out.errors["pv_kw_dc"] == "20000 is more than 2000; check the unit"
    out = clean_project({"customer_name": "x" * 201}, find)
    assert out.errors["customer_name"].startswith("is too long (201 characters")


def test_control_characters_are_removed_and_empty_optional_is_none():
    out = clean_project({"customer_name": "Bob\x1b Smith", "customer_email": "", "pv_kw_dc": ""}, find)
    assert out.values == {"customer_name": "Bob Smith", "customer_email": None, "pv_kw_dc": None}


def test_a_nul_is_refused_not_dropped_and_a_product_type_cannot_be_cleared():
    # PostgreSQL cannot store a NUL and SQLite can: refusing it makes both answer the same.
    out = clean_project({"customer_name": "Bob\x00 Smith", "product_type": ""}, find)
    assert out.errors == {"customer_name": "contains a NUL character (\\0), which text cannot hold; remove it",
                          "product_type": "is required; use one of pv, pv_battery, battery, solar_roof"}
    # The import's blank cell leaves the stored value alone, so it is no error there.
    assert clean_project({"product_type": ""}, find, blank_keeps=True).values == {"product_type": None}


def test_utility_must_serve_the_site_state_and_pv_sizes_must_be_positive():
    served = {"PGE": ("CA",)}.get
    out = clean_project({"utility": "pge", "state": "FL"}, find, states_of=lambda c: served(c) or ())
    assert out.errors == {"utility": "serves CA, not FL; check the utility or the state"}
    out = clean_project({"product_type": "pv", "pv_kw_dc": "0", "pv_kw_ac": "12.8"}, find)
    assert out.errors["pv_kw_dc"].startswith("must be more than 0")
    assert clean_project({"product_type": "battery", "pv_kw_dc": "0"}, find).ok


def test_dates_record_the_past():
    import datetime as dt
    soon = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    out = clean_project({"contract_signed_on": soon, "installed_on": "1999-01-01"}, find)
    assert out.errors["contract_signed_on"].endswith("is in the future; record it once it has happened")
    assert out.errors["installed_on"] == "1999-01-01 is out of range; check the year"
    out = clean_project({"contract_signed_on": "2026-03-01", "installed_on": "2026-02-01"}, find)
    assert out.errors["installed_on"].startswith("installation (2026-02-01) is before the contract")
