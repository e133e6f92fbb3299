"""Prefilled forms: the shipped sample template fills from project facts; gaps are listed, never silent."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

import catalog
from catalog import CatalogError
from models import ChecklistItem, Document, Event, prefill
from tests.factories import make_project

INSTALLER = {"name": "Sunrise Solar Inc.", "license": "C-10 123456"}


def test_the_sample_template_loads_with_its_fields():
    t = prefill.load_templates()["SAMPLE_IX_APP"]
    assert t.pdf_fields == ["CustomerName", "ServiceAddress", "AccountNumber", "SystemSizeAC", "BatteryKWh",
                            "InstallerName", "CustomerSignature"]
    assert t.fields["SystemSizeAC"] == "pv_kw_ac" and t.left_blank == {"CustomerSignature": "signed by the customer"}


def test_fill_uses_project_facts_and_lists_what_is_missing(db, users):
    p = make_project(customer_name="Olivia Morrison", street="3763 Maple Ave", city="Oakland", zip="94610",
                     utility_account="1234567890", pv_kw_ac=6.0, battery_kwh=None)
    item = ChecklistItem.create(project=p, application="utility_part1", doc_type="INTERCONNECTION_APPLICATION",
                                label="Interconnection application", rule_id="r")
    t = prefill.load_templates()["SAMPLE_IX_APP"]
    doc, filled = prefill.generate(t, p, users["maria"], INSTALLER)
    values = {k: v.get("/V") for k, v in PdfReader(io.BytesIO(doc.data())).get_fields().items()}
    assert values["CustomerName"] == "Olivia Morrison" and values["SystemSizeAC"] == "6"
    assert values["ServiceAddress"] == "3763 Maple Ave, Oakland, CA 94610"
    assert values["InstallerName"] == "Sunrise Solar Inc." and values["AccountNumber"] == "1234567890"
    assert filled.missing == [("BatteryKWh", "Battery (kWh)")] and filled.unmapped == []
    assert doc.checklist_item_id == item.id and doc.kind == "prefilled_form" and doc.source == "generated"
    event = Event.get(Event.summary.startswith("Prefilled"))
    assert "1 field(s) left blank" in event.summary and "BatteryKWh (Battery (kWh))" in event.body


def copy_catalog(tmp_path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(Path(catalog.__file__).parent / "data", root / "data")
    return root


def test_broken_templates_are_named_by_file_and_field(tmp_path):
    root = copy_catalog(tmp_path)
    toml = root / "data" / "forms" / "SAMPLE_IX_APP.toml"
    toml.write_text(toml.read_text().replace('AccountNumber = "utility_account"', 'AccountNumbr = "utility_acct"'))
    with pytest.raises(CatalogError) as err:
        prefill.load_templates(root)
    text = str(err.value)
    assert "SAMPLE_IX_APP.toml" in text and "field 'AccountNumbr' maps to unknown data 'utility_acct'" in text
    assert "field 'AccountNumbr' is not in the PDF" in text


def test_saving_a_template_round_trips_and_refuses_a_flat_pdf(tmp_path):
    from tests import files
    root = copy_catalog(tmp_path)
    pdf = (root / "data" / "forms" / "SAMPLE_IX_APP.pdf").read_bytes()
    t = prefill.save_template(root, "acme_app", pdf, {"name": "Acme \"quoted\" app", "number": "A-1"},
                              {"CustomerName": "customer_name"}, {"CustomerSignature": "customer signs"})
    assert t.code == "ACME_APP" and t.name == 'Acme "quoted" app' and t.fields == {"CustomerName": "customer_name"}
    assert set(prefill.load_templates(root)) == {"SAMPLE_IX_APP", "ACME_APP"}
    with pytest.raises(CatalogError, match="no fillable fields"):
        prefill.save_template(root, "FLAT", files.pdf(), {}, {}, {})


def test_control_characters_in_names_never_write_a_template_that_cannot_load(tmp_path):
    root = copy_catalog(tmp_path)
    pdf = (root / "data" / "forms" / "SAMPLE_IX_APP.pdf").read_bytes()
    t = prefill.save_template(root, "WEIRD", pdf, {"name": "Line\x0bbreak\r\nand \x7f"},
                              {"CustomerName": "customer_name"}, {"CustomerSignature": "by\x01hand"})
    assert t.name == "Line\x0bbreak\r\nand \x7f" and t.left_blank["CustomerSignature"] == "by\x01hand"
    assert "WEIRD" in prefill.load_templates(root)
    with pytest.raises(CatalogError):
        prefill.save_template(root, "BAD", pdf, {}, {"CustomerName": "no_such_fact"}, {})
    assert not (root / "data" / "forms" / "BAD.toml").exists()  # nothing half-written
