"""requirements(project): forms and documents per application, with the rule behind each, and warnings."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from catalog import FACTS, load_catalog, requirements

ON = date(2025, 6, 2)
STATE = {
    "PGE": "CA", "SCE": "CA", "SDGE": "CA", "LADWP": "CA", "APS": "AZ", "SRP": "AZ", "XCEL_CO": "CO",
    "DUKE_NC": "NC", "FPL": "FL", "HECO": "HI", "EVERSOURCE_MA": "MA", "NGRID_MA": "MA", "ONCOR": "TX",
}


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def project(utility: str, product: str, **facts):
    """A fully described project (every fact known) unless `facts` says otherwise."""
    battery = product in ("pv_battery", "battery")
    values = {name: None for name in FACTS}
    values.update(
        utility_code=utility, product_type=product, state=STATE[utility],
        pv_kw_dc=None if product == "battery" else 8.2, pv_kw_ac=None if product == "battery" else 7.6,
        battery_kwh=13.5 if battery else None, utility_account="4012345678",
        contract_signed_on=date(2025, 1, 10), application_complete_on=date(2025, 2, 3),
        export_limited=product == "battery", new_home=False, third_party_owned=False, main_panel_upgrade=False,
    )
    values.update(facts)
    return SimpleNamespace(**values)


def evaluate(cat, utility, product, on=ON, **facts):
    return requirements(project(utility, product, **facts), on=on, catalog=cat)


def forms(result, application):
    return {item.form.code for item in result.for_application(application) if item.form}


def missing(result):
    return {alert.fact: alert for alert in result.warnings_of("missing_fact")}


def test_pge_pv_battery_under_nbt(cat):
    result = evaluate(cat, "PGE", "pv_battery", program="NBT")
    assert result.program.code == "NBT"
    part1 = result.for_application("utility_part1")
    assert set(result.doc_types("utility_part1")) == {
        "CUSTOMER_AUTH", "INTERCONNECTION_APPLICATION", "UTILITY_BILL", "SLD", "SPEC_SHEETS",
        "BESS_DATASHEET", "OPERATING_MODE_DECL", "SALES_CONTRACT", "CSLB_DISCLOSURE", "CPUC_CONSUMER_GUIDE_SIG",
    }
    assert forms(result, "utility_part1") == {
        "PGE_AA", "PGE_SNEM_APP", "PGE_R21_APP", "CSLB_SOLAR_DISCLOSURE", "CPUC_GUIDE_2020",
    }
    by_doc = {(item.doc_type, item.form.code if item.form else None): item for item in part1}
    assert by_doc[("CUSTOMER_AUTH", "PGE_AA")].form.number == "79-1151A-02"
    assert by_doc[("CUSTOMER_AUTH", "PGE_AA")].verified is False  # DOMAIN says VERIFY the A&A number
    assert by_doc[("INTERCONNECTION_APPLICATION", "PGE_R21_APP")].form.number == "79-1174-02"
    assert by_doc[("BESS_DATASHEET", None)].rule_id == "PGE-PART1-NBT-MT-STORAGE"
    assert "multiple-tariff" in by_doc[("BESS_DATASHEET", None)].explanation
    assert by_doc[("UTILITY_BILL", None)].source == "https://www.pge.com/standardnem"
    assert result.doc_types("utility_part2") == ("AHJ_FINAL",)
    assert "BESS_DATASHEET" in result.doc_types("ahj_permit")
    assert result.eligible_incentives == ("SGIP",)
    assert result.for_application("incentive") == ()
    assert not missing(result)
    assert not result.warnings_of("gate")


def test_pge_pv_battery_defaults_to_nbt_mt_with_an_assumption_warning(cat):
    result = evaluate(cat, "PGE", "pv_battery")
    assert result.program.code == "NBT_MT"
    assert "NBT_MT" in result.warnings_of("assumed")[0].message


def test_sce_pv_only_is_one_post_install_package(cat):
    result = evaluate(cat, "SCE", "pv")
    assert result.for_application("utility_part1") == ()
    assert set(result.doc_types("utility_part2")) == {
        "INTERCONNECTION_APPLICATION", "SLD", "AHJ_FINAL", "INTERCONNECTION_AGREEMENT", "SALES_CONTRACT",
        "CSLB_DISCLOSURE", "CPUC_CONSUMER_GUIDE_SIG",
    }
    part2 = result.for_application("utility_part2")
    application = next(i for i in part2 if i.doc_type == "INTERCONNECTION_APPLICATION")
    assert (application.form.number, application.rule_id) == ("14-957", "SCE-PART2-APPLICATION")
    assert "PLOT_PLAN" not in result.doc_types("utility_part2")
    assert result.eligible_incentives == ()


def test_pge_battery_only_is_rule_21_non_export(cat):
    result = evaluate(cat, "PGE", "battery")
    assert result.program.code == "R21_NONEXPORT"
    assert forms(result, "utility_part1") == {"PGE_R21_APP"}
    assert set(result.doc_types("utility_part1")) == {
        "INTERCONNECTION_APPLICATION", "SLD", "BESS_DATASHEET", "OPERATING_MODE_DECL",
    }
    assert {i.rule_id for i in result.for_application("utility_part1")} == {"PGE-PART1-R21-NONEXPORT"}
    # Not a NEM/NBT application: no consumer-protection package and no NEM short form.
    assert "CPUC_CONSUMER_GUIDE_SIG" not in result.doc_types("utility_part1")
    assert "PGE-PART1-SHORT" not in result.applied
    assert not missing(result)  # battery-only needs no PV kW


def test_srp_installed_before_approval_warns_about_the_gate(cat):
    result = evaluate(cat, "SRP", "pv", installed_on=date(2025, 3, 1), part1_approved_on=date(2025, 3, 10))
    (gate,) = result.warnings_of("gate")
    assert "2025-03-01" in gate.message and "2025-03-10" in gate.message
    assert "Salt River Project requires approval before installation" in gate.message


@pytest.mark.parametrize(("utility", "installed", "approved", "warned"), [
    ("SRP", date(2025, 3, 1), None, True),
    ("SRP", date(2025, 3, 10), date(2025, 3, 10), False),
    ("SRP", None, None, False),
    ("FPL", date(2025, 3, 1), date(2025, 3, 2), True),
    ("XCEL_CO", date(2025, 3, 1), None, True),
    ("SCE", date(2025, 3, 1), None, False),
    ("PGE", date(2025, 3, 1), None, False),
])
def test_gate_by_utility(cat, utility, installed, approved, warned):
    result = evaluate(cat, utility, "pv", installed_on=installed, part1_approved_on=approved)
    assert bool(result.warnings_of("gate")) is warned


def test_xcel_gate_is_a_recommendation(cat):
    result = evaluate(cat, "XCEL_CO", "pv", installed_on=date(2025, 3, 1))
    assert "strongly recommends" in result.warnings_of("gate")[0].message


def test_missing_kw_ac_is_a_warning_naming_the_rules(cat):
    result = evaluate(cat, "PGE", "pv", pv_kw_ac=None)
    alert = missing(result)["pv_kw_ac"]
    assert {"PGE-PART1-SHORT", "PGE-PART1-R21-LARGE"} <= set(alert.rule_ids)
    assert "PV size (kW AC)" in alert.message
    # Neither tier's application can be chosen without the size.
    assert "INTERCONNECTION_APPLICATION" not in result.doc_types("utility_part1")


def test_missing_battery_kwh_and_account(cat):
    result = evaluate(cat, "PGE", "pv_battery", battery_kwh=None, utility_account=None)
    gaps = missing(result)
    assert gaps["battery_kwh"].rule_ids == ("PGE-PART1-NBT-MT-STORAGE",)
    assert "PGE-PART1-SHORT" in gaps["utility_account"].rule_ids


def test_nem2_closed_for_applications_complete_on_cutover(cat):
    result = evaluate(cat, "PGE", "pv", program="NEM2", application_complete_on=date(2023, 4, 15))
    (dated,) = [a for a in result.warnings_of("dated") if "NEM 2.0" in a.message]
    assert "2023-04-15" in dated.message and "NBT" in dated.message


def test_nem2_open_the_day_before_cutover(cat):
    result = evaluate(cat, "PGE", "pv", program="NEM2", application_complete_on=date(2023, 4, 14),
                      installed_on=date(2023, 8, 1), contract_signed_on=date(2023, 3, 1))
    assert not [a for a in result.warnings_of("dated") if "NEM 2.0" in a.message]
    assert "PGE-PART1-SHORT" in result.applied


def test_nem2_install_window_of_three_years(cat):
    result = evaluate(cat, "PGE", "pv", program="NEM2", application_complete_on=date(2023, 4, 1),
                      installed_on=date(2026, 4, 2), on=date(2026, 5, 1))
    assert any("within 3 years" in a.message and "2026-04-01" in a.message for a in result.warnings_of("dated"))


def test_nem2_without_complete_date_asks_for_it(cat):
    result = evaluate(cat, "PGE", "pv", program="NEM2", application_complete_on=None)
    assert "application_complete_on" in missing(result)
    assert any("NEM 2.0 is not open" in a.message for a in result.warnings_of("dated"))


def test_default_program_before_cutover_is_nem2(cat):
    result = evaluate(cat, "SCE", "pv", application_complete_on=date(2023, 1, 5), on=date(2023, 1, 5))
    assert result.program.code == "NEM2"


@pytest.mark.parametrize(("utility", "application"), [
    ("PGE", "utility_part1"), ("SCE", "utility_part2"), ("SDGE", "utility_part2"),
])
@pytest.mark.parametrize(("signed", "form", "other"), [
    (date(2020, 10, 29), "CPUC_GUIDE_2019", "CPUC_GUIDE_2020"),
    (date(2020, 10, 30), "CPUC_GUIDE_2020", "CPUC_GUIDE_2019"),
])
def test_ca_consumer_guide_version_by_contract_date(cat, utility, application, signed, form, other):
    result = evaluate(cat, utility, "pv", contract_signed_on=signed, application_complete_on=date(2020, 11, 20),
                      program="NEM2", on=date(2020, 11, 20))
    assert form in forms(result, application) and other not in forms(result, application)
    guide = next(i for i in result.for_application(application) if i.doc_type == "CPUC_CONSUMER_GUIDE_SIG")
    assert guide.form.version == form[-4:]
    assert any(a.kind == "dated" and "2020-10-30" in a.message for a in result.warnings)


def test_consumer_guide_without_contract_date_assumes_current_and_warns(cat):
    result = evaluate(cat, "PGE", "pv", contract_signed_on=None)
    assert "CPUC_GUIDE_2020" in forms(result, "utility_part1")
    assert "PGE-PART1-CPUC-GUIDE-2020" in missing(result)["contract_signed_on"].rule_ids


def test_object_without_attributes_means_unknown(cat):
    result = requirements(object(), on=ON, catalog=cat)
    assert result.utility is None and result.program is None
    assert {"utility_code", "product_type"} <= set(missing(result))
    assert "PERMIT_APPLICATION" in result.doc_types("ahj_permit")


def test_partial_object_is_read_with_getattr(cat):
    partial = SimpleNamespace(utility_code="pge", product_type="pv", pv_kw_ac=5.0, state="CA")
    result = requirements(partial, on=ON, catalog=cat)
    assert result.utility.code == "PGE" and "PGE-PART1-SHORT" in result.applied
    assert "utility_account" in missing(result)


def test_utility_found_by_alias(cat):
    assert evaluate(cat, "PGE", "pv", utility_code="PG&E").utility.code == "PGE"


def test_unknown_utility_keeps_ahj_rules(cat):
    result = evaluate(cat, "PGE", "pv", utility_code="Georgia Power")
    assert result.utility is None
    assert any("Georgia Power" in a.message for a in result.warnings_of("program"))
    assert result.for_application("utility_part1") == () and result.doc_types("ahj_permit")


def test_program_not_offered_is_a_warning(cat):
    result = evaluate(cat, "SRP", "pv", program="NBT")
    assert result.program is None
    assert "not offered by Salt River Project" in result.warnings_of("program")[0].message


def test_incentive_opt_in_lists_its_documents(cat):
    result = evaluate(cat, "PGE", "pv_battery", incentives=["SGIP"])
    assert forms(result, "incentive") == {"SGIP_RRF", "SGIP_ICF"}
    assert {"GAS_BILL", "UTILITY_BILL", "SPEC_SHEETS"} <= set(result.doc_types("incentive"))
    assert result.eligible_incentives == ()


def test_incentive_not_yet_open_or_not_offered(cat):
    result = evaluate(cat, "DUKE_NC", "pv_battery", incentives=["POWERPAIR", "SGIP"], on=date(2024, 3, 1))
    assert any("PowerPair is not open" in a.message and "2024-05-01" in a.message for a in result.warnings_of("dated"))
    assert any("'SGIP' is not offered by Duke Energy" in a.message for a in result.warnings_of("program"))
    assert evaluate(cat, "DUKE_NC", "pv_battery", on=date(2024, 3, 1)).eligible_incentives == ()
    assert evaluate(cat, "DUKE_NC", "pv_battery").eligible_incentives == ("POWERPAIR",)


def test_incentive_named_as_program_counts_as_opt_in(cat):
    result = evaluate(cat, "SDGE", "battery", program="SGIP")
    assert result.program.code == "R21_NONEXPORT"
    assert {"SGIP_RRF", "SDGE_CUSTOMER_INFO"} <= forms(result, "incentive")


def test_solar_roof_with_battery_kwh_counts_as_battery(cat):
    result = evaluate(cat, "PGE", "solar_roof", battery_kwh=13.5)
    assert {"ROOFING_SHEETS", "BESS_DATASHEET"} <= set(result.doc_types("ahj_permit"))


def test_items_keep_application_order(cat):
    result = evaluate(cat, "PGE", "pv_battery", incentives=["SGIP"])
    order = [item.application for item in result.items]
    assert order == sorted(order, key=["utility_part1", "utility_part2", "ahj_permit", "incentive"].index)


# Table: (utility, product, facts, rules that must apply, rules that must not).
CASES = [
    ("PGE", "pv", {}, {"PGE-PART1-SHORT", "PGE-PART1-CONTRACT", "PGE-PART2-FINAL"}, {"PGE-PART1-R21-LARGE"}),
    ("PGE", "pv", {"pv_kw_ac": 29.99}, {"PGE-PART1-SHORT"}, {"PGE-PART1-R21-LARGE"}),
    ("PGE", "pv", {"pv_kw_ac": 30.0}, {"PGE-PART1-SHORT"}, {"PGE-PART1-R21-LARGE"}),
    ("PGE", "pv", {"pv_kw_ac": 30.01}, {"PGE-PART1-R21-LARGE"}, {"PGE-PART1-SHORT"}),
    ("PGE", "solar_roof", {}, {"PGE-PART1-SHORT", "AHJ-GEN-SOLAR-ROOF"}, {"AHJ-GEN-BATTERY"}),
    ("PGE", "pv_battery", {}, {"PGE-PART1-NBT-MT-STORAGE", "AHJ-GEN-BATTERY"}, {"PGE-PART1-R21-NONEXPORT"}),
    ("PGE", "battery", {}, {"PGE-PART1-R21-NONEXPORT"}, {"PGE-PART1-CONTRACT", "AHJ-GEN-PV"}),
    ("PGE", "pv", {"third_party_owned": True}, {"PGE-PART1-TPO"}, set()),
    ("PGE", "pv", {"pv_kw_ac": 16, "application_complete_on": date(2024, 1, 1)},
     {"PGE-PART1-PREVAILING-WAGE"}, set()),
    ("PGE", "pv", {"pv_kw_ac": 16, "application_complete_on": date(2023, 12, 31)},
     set(), {"PGE-PART1-PREVAILING-WAGE"}),
    ("PGE", "pv", {"pv_kw_ac": 15, "application_complete_on": date(2024, 1, 1)},
     set(), {"PGE-PART1-PREVAILING-WAGE"}),
    ("SCE", "pv", {}, {"SCE-PART2-APPLICATION", "SCE-PART2-CPUC-GUIDE-2020"}, {"SCE-PART2-STORAGE-PLOT-PLAN"}),
    ("SCE", "pv_battery", {}, {"SCE-PART2-APPLICATION", "SCE-PART2-STORAGE-PLOT-PLAN"}, set()),
    ("SCE", "battery", {}, {"SCE-PART2-R21-NONEXPORT", "SCE-PART2-STORAGE-PLOT-PLAN"}, {"SCE-PART2-APPLICATION"}),
    ("SCE", "pv", {"export_limited": True}, {"SCE-PART2-NON-EXPORT"}, set()),
    ("SCE", "pv", {"third_party_owned": True}, {"SCE-PART2-TPO"}, set()),
    ("SCE", "solar_roof", {}, {"SCE-PART2-APPLICATION"}, set()),
    ("SDGE", "pv", {"pv_kw_ac": 30.0}, {"SDGE-PART2-APPLICATION"}, {"SDGE-PART2-LARGE"}),
    ("SDGE", "pv", {"pv_kw_ac": 30.5}, {"SDGE-PART2-LARGE"}, {"SDGE-PART2-APPLICATION"}),
    ("SDGE", "battery", {}, {"SDGE-PART2-R21-NONEXPORT"}, {"SDGE-PART2-NOTIFICATION-ONLY"}),
    ("SDGE", "battery", {"program": "NOTIFICATION_ONLY"}, {"SDGE-PART2-NOTIFICATION-ONLY"},
     {"SDGE-PART2-R21-NONEXPORT"}),
    ("SDGE", "battery", {"program": "NOTIFICATION_ONLY", "export_limited": False}, set(),
     {"SDGE-PART2-NOTIFICATION-ONLY"}),
    ("LADWP", "pv", {}, {"LADWP-PART1", "LADWP-PART1-PV-SIZE", "LADWP-PART2-FINAL"}, {"LADWP-PART1-BESS"}),
    ("LADWP", "pv_battery", {}, {"LADWP-PART1-BESS"}, set()),
    ("LADWP", "battery", {}, {"LADWP-PART1", "LADWP-PART1-BESS"}, {"LADWP-PART1-PV-SIZE"}),
    ("APS", "pv", {"pv_kw_ac": 11.99}, {"APS-PART1", "APS-PART2-GREEN-TAG"}, {"APS-PART2-TEST-METER-SIZE"}),
    ("APS", "pv", {"pv_kw_ac": 12.0}, {"APS-PART2-TEST-METER-SIZE"}, set()),
    ("APS", "battery", {}, {"APS-PART2-TEST-METER-BATTERY"}, {"APS-PART2-TEST-METER-SIZE"}),
    ("APS", "pv", {"new_home": True, "pv_kw_dc": 10.5}, {"APS-PART1-NEW-HOME-LOAD-CALC"}, set()),
    ("APS", "pv", {"new_home": True, "pv_kw_dc": 10.0}, set(), {"APS-PART1-NEW-HOME-LOAD-CALC"}),
    ("APS", "pv_battery", {"incentives": ["APS_BATTERY_PILOT"]}, {"APS-BATTERY-PILOT"}, set()),
    ("SRP", "pv", {}, {"SRP-PART1", "SRP-PART2-FINAL"}, set()),
    ("SRP", "battery", {}, {"SRP-PART1", "AHJ-GEN-BATTERY"}, {"AHJ-GEN-PV"}),
    ("XCEL_CO", "pv", {}, {"XCEL-CO-PART1", "XCEL-CO-PART2-FINAL"}, {"XCEL-CO-SOLAR-REWARDS"}),
    ("XCEL_CO", "pv", {"incentives": ["SOLAR_REWARDS"]}, {"XCEL-CO-SOLAR-REWARDS"}, set()),
    ("DUKE_NC", "pv", {"pv_kw_ac": 20.0}, {"DUKE-NC-PART1-INVERTER", "DUKE-NC-PART2-COMPLETION"},
     {"DUKE-NC-PART1-LARGE"}),
    ("DUKE_NC", "pv", {"pv_kw_ac": 20.01}, {"DUKE-NC-PART1-LARGE"}, {"DUKE-NC-PART1-INVERTER"}),
    ("DUKE_NC", "battery", {}, {"DUKE-NC-PART1-INVERTER"}, {"DUKE-NC-POWERPAIR"}),
    ("DUKE_NC", "pv_battery", {"incentives": ["POWERPAIR"]}, {"DUKE-NC-POWERPAIR"}, set()),
    ("DUKE_NC", "pv", {"incentives": ["POWERPAIR"]}, set(), {"DUKE-NC-POWERPAIR"}),
    ("FPL", "pv", {"pv_kw_ac": 10.0}, {"FPL-PART1", "FPL-PART1-AGREEMENT", "AHJ-GEN-FL-NOC"},
     {"FPL-PART1-TIER2-INSURANCE"}),
    ("FPL", "pv", {"pv_kw_ac": 10.01}, {"FPL-PART1-TIER2-INSURANCE"}, set()),
    ("FPL", "pv", {"pv_kw_ac": 100.0}, {"FPL-PART1-TIER2-INSURANCE"}, set()),
    ("FPL", "pv", {"pv_kw_ac": 100.01}, set(), {"FPL-PART1-TIER2-INSURANCE"}),
    ("FPL", "battery", {}, {"FPL-PART1", "FPL-PART2-PERMIT"}, {"FPL-PART1-TIER2-INSURANCE"}),
    ("FPL", "pv", {"third_party_owned": True}, {"FPL-TPO"}, set()),
    ("HECO", "pv", {"pv_kw_ac": 29.99}, {"HECO-PART1", "HECO-PART2-FINAL"}, {"HECO-PART1-THREE-LINE"}),
    ("HECO", "pv", {"pv_kw_ac": 30.0}, {"HECO-PART1-THREE-LINE"}, set()),
    ("HECO", "battery", {}, {"HECO-PART1", "HECO-PART1-NONEXPORT"}, {"HECO-PART1-THREE-LINE"}),
    ("HECO", "pv_battery", {"incentives": ["BYOD"]}, {"HECO-BYOD"}, {"HECO-PART1-NONEXPORT"}),
    ("EVERSOURCE_MA", "pv", {"pv_kw_ac": 15.0}, {"EVERSOURCE-MA-PART1", "EVERSOURCE-MA-PART2"},
     {"EVERSOURCE-MA-PART1-OVER-SIMPLIFIED"}),
    ("EVERSOURCE_MA", "pv", {"pv_kw_ac": 15.01}, {"EVERSOURCE-MA-PART1-OVER-SIMPLIFIED"}, set()),
    ("EVERSOURCE_MA", "pv_battery", {"incentives": ["CONNECTED_SOLUTIONS"]},
     {"EVERSOURCE-MA-CONNECTED-SOLUTIONS"}, set()),
    ("EVERSOURCE_MA", "pv", {"third_party_owned": True}, {"EVERSOURCE-MA-TPO"}, set()),
    ("NGRID_MA", "pv", {}, {"NGRID-MA-PART1", "NGRID-MA-PART1-ISA", "NGRID-MA-PART2-COMPLETION"},
     {"NGRID-MA-TPO"}),
    ("NGRID_MA", "pv", {"third_party_owned": True}, {"NGRID-MA-TPO"}, set()),
    ("NGRID_MA", "battery", {"incentives": ["CONNECTED_SOLUTIONS"]}, {"NGRID-MA-CONNECTED-SOLUTIONS"}, set()),
    ("ONCOR", "pv", {}, {"ONCOR-PART1", "ONCOR-PART2-AGREEMENT", "ONCOR-PART2-REP-BUYBACK"}, set()),
    ("ONCOR", "battery", {}, {"ONCOR-PART1"}, {"ONCOR-PART2-REP-BUYBACK"}),
    ("ONCOR", "pv", {"main_panel_upgrade": True}, {"AHJ-GEN-MPU"}, set()),
    ("SCE", "pv", {"permit_set": "SOLARAPP"}, {"SOLARAPP-APPROVAL"}, {"AHJ-GEN-BASE"}),
    ("SCE", "battery", {"permit_set": "SOLARAPP"}, {"SOLARAPP-INELIGIBLE"}, {"SOLARAPP-APPROVAL"}),
    ("SCE", "pv", {"permit_set": "SOLARAPP", "pv_kw_ac": 38.5}, {"SOLARAPP-CA-SB379-SIZE"}, set()),
    ("SCE", "pv", {"permit_set": "SOLARAPP", "pv_kw_ac": 38.4}, set(), {"SOLARAPP-CA-SB379-SIZE"}),
]


@pytest.mark.parametrize(("utility", "product", "facts", "present", "absent"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_rules_by_utility_product_and_size(cat, utility, product, facts, present, absent):
    result = evaluate(cat, utility, product, **facts)
    applied = set(result.applied)
    assert present <= applied, f"missing {present - applied}"
    assert not (absent & applied), f"unexpected {absent & applied}"


@pytest.mark.parametrize("utility", sorted(STATE))
@pytest.mark.parametrize("product", ["pv", "pv_battery", "battery", "solar_roof"])
def test_every_utility_and_product_has_utility_requirements(cat, utility, product):
    result = evaluate(cat, utility, product)
    assert result.for_application("utility_part1") or result.for_application("utility_part2")
    assert result.doc_types("ahj_permit")[0] == "PERMIT_APPLICATION"
    assert not missing(result), [a.message for a in result.warnings_of("missing_fact")]
    for item in result.items:
        assert item.rule_id and item.explanation and item.source.startswith("https://")
        assert item.doc_label == cat.doc_types[item.doc_type].label
