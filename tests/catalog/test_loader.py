"""Loading and validating the catalog: lookups, shared tables, and errors that name file and entry."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import catalog
from catalog import CatalogError, load_catalog
from catalog.load import DATA_DIR

UTILITY_CODES = {
    "PGE", "SCE", "SDGE", "LADWP", "APS", "SRP", "XCEL_CO", "DUKE_NC", "FPL", "HECO",
    "EVERSOURCE_MA", "NGRID_MA", "ONCOR",
}


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.fixture
def data_copy(tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(DATA_DIR, root)
    return root


def test_bundled_catalog_loads_every_utility(cat):
    assert set(cat.utilities) == UTILITY_CODES
    for code, utility in cat.utilities.items():
        assert utility.code == code
        assert utility.states and all(len(s) == 2 and s.isupper() for s in utility.states)


def test_default_path_is_the_catalog_package(cat):
    assert load_catalog(Path(catalog.__file__).parent).utilities.keys() == cat.utilities.keys()


@pytest.mark.parametrize(("text", "code"), [
    ("PG&E", "PGE"),
    ("pge", "PGE"),
    ("Pacific Gas and Electric", "PGE"),
    ("  pacific gas AND electric  ", "PGE"),
    ("SCE", "SCE"),
    ("Southern California Edison", "SCE"),
    ("SDG&E", "SDGE"),
    ("LADWP", "LADWP"),
    ("APS", "APS"),
    ("SRP", "SRP"),
    ("Xcel Energy", "XCEL_CO"),
    ("Duke Energy", "DUKE_NC"),
    ("FPL", "FPL"),
    ("Florida Power & Light", "FPL"),
    ("Hawaiian Electric", "HECO"),
    ("HECO", "HECO"),
    ("Eversource", "EVERSOURCE_MA"),
    ("National Grid", "NGRID_MA"),
    ("Oncor", "ONCOR"),
    ("xcel_co", "XCEL_CO"),
])
def test_find_utility_by_code_name_or_alias(cat, text, code):
    assert cat.find_utility(text).code == code


@pytest.mark.parametrize("text", ["", "   ", "Pacific", "Georgia Power", None])
def test_find_utility_unknown_is_none(cat, text):
    assert cat.find_utility(text) is None


def test_product_types_are_the_four_codes(cat):
    assert list(cat.product_types) == ["pv", "pv_battery", "battery", "solar_roof"]
    assert cat.product_types["pv_battery"].label == "Solar PV + battery"
    assert not cat.product_types["battery"].has_pv and cat.product_types["battery"].has_battery


def test_shared_tables(cat):
    assert {"UTILITY_BILL", "SLD", "AHJ_FINAL", "CPUC_CONSUMER_GUIDE_SIG"} <= set(cat.doc_types)
    assert cat.programs["NEM2"].effective_to.isoformat() == "2023-04-15"
    assert cat.programs["SGIP"].kind == "incentive"
    assert set(cat.permit_sets) == {"GENERIC", "SOLARAPP"}
    assert cat.permit_sets["SOLARAPP"].fee_usd == 25


def test_utility_details(cat):
    pge = cat.utilities["PGE"]
    assert pge.eia_id == 14328 and pge.gate == "any_time"
    assert pge.sla_for("completeness").business_days == 10
    assert pge.forms["PGE_AA"].number == "79-1151A-02" and not pge.forms["PGE_AA"].verified
    sce = cat.utilities["SCE"]
    assert sce.portal.platform == "powerclerk"
    pattern = next(p for p in sce.reference_patterns if p.kind == "application_id")
    assert pattern.regex.search("Re: SCE-INT-500005417 deficiency").group() == "SCE-INT-500005417"
    assert cat.utilities["SRP"].gate == "pre_install_required"
    assert not cat.utilities["LADWP"].eia_id_verified


def test_every_rule_has_id_explanation_source(cat):
    rules = [r for u in cat.utilities.values() for r in u.rules]
    rules += [r for p in cat.permit_sets.values() for r in p.rules]
    assert len(rules) > 60
    for rule in rules:
        assert rule.id and rule.explanation and rule.source.startswith("https://")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _error(root: Path) -> str:
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    return str(caught.value)


def test_unknown_doc_type_names_file_and_rule(data_copy):
    _edit(data_copy / "utilities" / "srp.toml", 'docs = ["SITE_PLAN", "THREE_LINE"]',
          'docs = ["SITE_PLAN", "THREE_LINES"]')
    message = _error(data_copy)
    assert "srp.toml" in message
    assert "rule 'SRP-PART1'" in message
    assert "unknown doc type 'THREE_LINES'" in message


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("utilities/fpl.toml", 'gate = "pre_install_required"', 'gate = "pre_install_requird"',
     "utility 'FPL': gate must be one of"),
    ("utilities/aps.toml", 'id = "APS-PART2-GREEN-TAG"', 'id = "APS-PART2-GREEN-TAG"\ncolour = "red"',
     "rule 'APS-PART2-GREEN-TAG': unknown key 'colour'"),
    ("utilities/oncor.toml", 'regex = "10443720\\\\d{9}"', 'regex = "10443720\\\\d{9"',
     "reference pattern 'esi_id': regex"),
    ("utilities/sce.toml", 'example = "SCE-INT-NST-396139"', 'example = "SCE-396139"',
     "does not match its example 'SCE-396139'"),
    ("utilities/pge.toml", "effective_from = 2020-10-30", "effective_from = 2020-13-30",
     "not valid TOML"),
    ("utilities/pge.toml", "effective_from = 2020-10-30", 'effective_from = "2020-10-32"',
     "'effective_from' must be a date"),
    ("utilities/pge.toml", 'id = "PGE-PART2-FINAL"', 'id = "PGE-PART1-SHORT"',
     "duplicate rule id 'PGE-PART1-SHORT'"),
    ("utilities/duke_nc.toml", 'programs = ["POWERPAIR"]', 'programs = ["POWER_PAIR"]',
     "unknown program 'POWER_PAIR'"),
    ("utilities/heco.toml", 'products = ["pv", "pv_battery", "solar_roof"]',
     'products = ["pv", "pv_batt", "solar_roof"]', "unknown product type 'pv_batt'"),
    ("utilities/srp.toml", 'needs = ["utility_account"]', 'needs = ["account"]',
     "rule 'SRP-PART1': needs unknown fact 'account'"),
    ("utilities/pge.toml", 'include = ["ca_iou"]', 'include = ["ca_iou", "nv_iou"]',
     "includes unknown ruleset 'nv_iou'"),
    ("utilities/pge.toml", 'forms = ["PGE_AA", "PGE_SNEM_APP"]', 'forms = ["PGE_AA", "PGE_SNEM"]',
     "rule 'PGE-PART1-SHORT': unknown form 'PGE_SNEM'"),
    ("utilities/xcel_co.toml", 'programs = ["SOLAR_REWARDS"]\nwhen', 'programs = ["NET_METERING"]\nwhen',
     "program 'NET_METERING' is a tariff; it cannot drive a rule for incentive"),
    ("utilities/fpl.toml", 'states = ["FL"]', 'states = ["Florida"]', "'Florida' is not a 2-letter US state code"),
    ("utilities/heco.toml", 'status = "APPROVED_TO_INSTALL"', 'status = "APPROVED"',
     "notice phrase 'conditionally approved': status must be one of"),
    ("permits/solarapp.toml", 'application = "ahj_permit"', 'application = "utility_part1"',
     "rule 'SOLARAPP-APPROVAL': application must be one of ahj_permit"),
    ("utilities/srp.toml", 'docs = ["AHJ_FINAL"]', 'note = "x"',
     "rule 'SRP-PART2-FINAL': a rule must require docs or forms, or carry a warning"),
    ("utilities/sdge.toml", 'programs = ["NOTIFICATION_ONLY"]', 'programs = ["POWERPAIR"]',
     "program 'POWERPAIR' is not offered here"),
    ("rulesets/ca_iou.toml", 'doc_type = "CSLB_DISCLOSURE"', 'doc_type = "CSLB"',
     "form 'CSLB_SOLAR_DISCLOSURE': unknown doc type 'CSLB'"),
])
def test_broken_file_error_names_file_and_entry(data_copy, file, old, new, expected):
    _edit(data_copy / file, old, new)
    message = _error(data_copy)
    assert Path(file).name in message
    assert expected in message


def test_all_problems_are_collected(data_copy):
    _edit(data_copy / "utilities" / "srp.toml", 'docs = ["SITE_PLAN", "THREE_LINE"]', 'docs = ["NOPE"]')
    _edit(data_copy / "doc_types.toml", '[SLD]\nlabel = "Single-line diagram"', '[SLD]\nlabel = ""')
    with pytest.raises(CatalogError) as caught:
        load_catalog(data_copy)
    errors = caught.value.errors
    assert any("srp.toml" in e and "'NOPE'" in e for e in errors)
    assert any("doc_types.toml: entry 'SLD': 'label' must be a non-empty string" in e for e in errors)


def test_alias_colliding_across_utilities_is_an_error(data_copy):
    _edit(data_copy / "utilities" / "ngrid_ma.toml", '"Mass Electric"', '"Mass Electric", "Eversource"')
    assert "'Eversource' also matches utility" in _error(data_copy)


def test_rule_window_must_be_ordered(data_copy):
    _edit(data_copy / "programs.toml", "effective_to = 2023-04-15",
          "effective_from = 2024-01-01\neffective_to = 2023-04-15")
    message = _error(data_copy)
    assert "programs.toml: entry 'NEM2': effective_from 2024-01-01 must be before effective_to 2023-04-15" in message


def test_included_rules_must_use_programs_the_utility_offers(data_copy):
    _edit(data_copy / "utilities" / "sce.toml", '[[programs]]\ncode = "SGIP"\n', "")
    message = _error(data_copy)
    assert "sce.toml: utility 'SCE': included rule 'CA-SGIP-RESERVATION' names programs not offered here: SGIP" \
        in message


def test_missing_shared_file_is_an_error(data_copy):
    (data_copy / "programs.toml").unlink()
    message = _error(data_copy)
    assert "programs.toml: file is missing" in message


def test_follow_up_cadence_is_validated(tmp_path):
    import shutil
    from pathlib import Path
    import catalog
    root = tmp_path / "catalog"
    shutil.copytree(Path(catalog.__file__).parent / "data", root / "data")
    heco = root / "data" / "utilities" / "heco.toml"
    heco.write_text(heco.read_text().replace("follow_up_business_days = 10", "follow_up_business_days = 90"))
    with pytest.raises(catalog.CatalogError, match="heco.toml.*follow_up_business_days must be between 1 and 30"):
        catalog.load_catalog(root)
