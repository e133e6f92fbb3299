"""CSV import: per-row errors with line numbers, idempotent re-import, dry runs that change nothing."""
from __future__ import annotations

import pytest

from models import Ahj, Application, Event, Project
from models.catalog_ref import find_utility_code
from models.project_import import COLUMNS, CsvFileError, Importer, decode

HEADER = ",".join(COLUMNS)


def csv_text(*rows: str) -> str:
    return HEADER + "\n" + "\n".join(rows) + "\n"


GOOD_1 = ("3763MORR,Olivia Morrison,olivia@example.net,(415) 555-0142,3763 Maple Ave,Oakland,CA,94610,PG&E,"
          "City of Oakland,pv_battery,7.6,6.0,13.5,NBT,1234567890,PGE-INT-1000001,B26-10001,maria@example.com")
GOOD_2 = "2633REGA,Noah Regan,,,,Phoenix,AZ,85048,aps,,pv,5,4.2,,,,,,"
BAD_UTILITY = "9999NOPE,Bad Row,,,,,,,Acme Power,,pv,,,,,,,,"
BAD_EMAIL = "1111SMIT,Ann Smith,not-an-email,,,,,,SCE,,pv,x,,,,,,,"


def run(text, dry_run=False, actor=None):
    return Importer(find_utility_code, actor, dry_run).run(text)


def test_import_creates_projects_and_reports_bad_rows_by_line(db, users):
    report = run(csv_text(GOOD_1, BAD_UTILITY, GOOD_2, BAD_EMAIL))
    assert (report.total, report.created, report.updated, len(report.errors)) == (4, 2, 0, 2)
    assert [(e.line, e.external_id) for e in report.errors] == [(3, "9999NOPE"), (5, "1111SMIT")]
    assert report.errors[0].errors == [
        "utility: unknown utility 'Acme Power'; use a catalog code or name such as PG&E, SCE, APS"]
    assert report.errors[1].errors == ["customer_email: 'not-an-email' is not a valid email address",
                                       "pv_kw_dc: 'x' is not a number"]
    p = Project.get(Project.external_id == "3763MORR")
    assert (p.utility.code, p.customer_phone, p.product_type, p.battery_kwh) == ("PGE", "+14155550142", "pv_battery", 13.5)
    assert p.coordinator_id == users["maria"].id and p.ahj.name == "City of Oakland" and p.ahj.state == "CA"
    apps = {a.kind: a for a in Application.select().where(Application.project == p)}
    assert apps["utility_part1"].status == "SUBMITTED" and apps["utility_part1"].reference_number == "PGE-INT-1000001"
    assert apps["ahj_permit"].reference_number == "B26-10001"
    assert p.ball_in_court == "utility" and p.stage == "ix_approval"
    assert Project.get(Project.external_id == "2633REGA").utility.code == "APS"
    assert Project.select().count() == 2


def test_reimport_updates_without_duplicates_and_empty_cells_keep_values(db, users):
    run(csv_text(GOOD_1))
    again = run(csv_text(GOOD_1))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    changed = GOOD_1.replace("Oakland,CA", "Berkeley,CA").replace(",13.5,", ",,")
    report = run(csv_text(changed), actor=users["lead"])
    assert (report.created, report.updated) == (0, 1)
    p = Project.get(Project.external_id == "3763MORR")
    assert p.city == "Berkeley" and p.battery_kwh == 13.5  # an empty cell never erases data
    assert Project.select().count() == 1 and Application.select().count() == 2
    change = Event.get(Event.project == p, Event.kind == "change")
    assert change.data == {"city": ["Oakland", "Berkeley"]} and "line 2" in change.body


def test_new_reference_number_on_reimport_updates_the_application(db, users):
    run(csv_text(GOOD_2))
    report = run(csv_text(GOOD_2.replace(",,,,,,", ",,,,APS-RES-77,,", 1)))
    p = Project.get(Project.external_id == "2633REGA")
    assert report.updated == 1
    app = Application.get(Application.project == p)
    assert (app.kind, app.status, app.reference_number) == ("utility_part1", "SUBMITTED", "APS-RES-77")


def test_dry_run_changes_nothing(db, users):
    report = run(csv_text(GOOD_1, GOOD_2, BAD_UTILITY), dry_run=True)
    assert (report.created, len(report.errors)) == (2, 1)
    assert Project.select().count() == 0 and Ahj.select().count() == 0 and Event.select().count() == 0


def test_duplicate_ids_in_one_file_and_ragged_rows(db, users):
    report = run(csv_text(GOOD_2, GOOD_2, GOOD_2 + ",extra,cells"))
    assert report.created == 1
    assert report.errors[0].errors == ["external_id: '2633REGA' already appears on line 2"]
    assert report.errors[1].errors == ["has 21 cells but the header has 19"]


def test_unknown_coordinator_is_a_row_error(db, users):
    report = run(csv_text(GOOD_2 + "nobody@example.com"))
    assert report.errors[0].errors == ["coordinator_email: no active coordinator or lead 'nobody@example.com'"]


def test_file_level_problems():
    with pytest.raises(CsvFileError, match="lacks required column"):
        Importer(lambda t: None, None, True).run("name,email\nx,y\n")
    with pytest.raises(CsvFileError, match="binary data"):
        decode(b"%PDF\x00\x01")
    assert decode("external_id,caf\xe9".encode("cp1252")).endswith("café")
    assert decode("\ufeffexternal_id".encode("utf-8")) == "external_id"


def test_quoted_multiline_cells_keep_line_numbers(db, users):
    row = '4444LINE,"Multi\nLine Name",,,,,,,SCE,,pv,,,,,,,,'
    report = run(csv_text(row, BAD_UTILITY))
    assert report.created == 1 and report.errors[0].line == 4


def test_external_ids_are_matched_as_stored(db, users):
    row = GOOD_2.replace("2633REGA", "AB  7", 1)
    assert run(csv_text(row)).created == 1
    again = run(csv_text(row))
    assert (again.created, again.unchanged, len(again.errors)) == (0, 1, 0)
    dupes = run(csv_text(row.replace("AB  7", "ZZ 9"), row.replace("AB  7", "ZZ  9"), GOOD_1))
    assert dupes.created == 2 and dupes.errors[0].errors == ["external_id: 'ZZ 9' already appears on line 2"]


def test_ahj_without_state_keeps_the_projects_state_and_case(db, users):
    run(csv_text(GOOD_1))
    run(csv_text(GOOD_1.replace("Oakland,CA,94610,PG&E,City of Oakland", "Oakland,,94610,PG&E,CITY OF OAKLAND")))
    p = Project.get(Project.external_id == "3763MORR")
    assert (p.ahj.name, p.ahj.state) == ("City of Oakland", "CA") and Ahj.select().count() == 1


def test_decimal_comma_is_refused_not_multiplied(db, users):
    report = run(csv_text(GOOD_2.replace(",5,4.2,", ',"7,6","1,250.5",')))
    assert report.errors[0].errors == ["pv_kw_dc: '7,6' is not a number; use a point for decimals (7.6)"]


def test_oversized_cell_is_a_file_error_not_a_crash(db):
    text = csv_text(GOOD_2.replace("Phoenix", "x" * 140_000))
    with pytest.raises(CsvFileError, match="line 2 is not valid CSV"):
        run(text)


def test_a_stale_copy_does_not_overwrite_a_newer_flag(db, users):
    run(csv_text(GOOD_1))
    stale = Project.get(Project.external_id == "3763MORR")
    fresh = Project.get_by_id(stale.id)
    fresh.flag("Utility silent", users["maria"])
    stale.apply_changes({"city": "Berkeley"}, users["lead"])
    p = Project.get_by_id(stale.id)
    assert p.city == "Berkeley" and p.flagged_reason == "Utility silent"


def test_a_nul_in_any_column_is_a_row_error(db, users):
    rows = ["NUL1,Ann\x00 Smith,,,,,,,SCE,,pv,,,,,,,,", "NUL2,Ann Smith,,,,,CA,,SCE,City\x00 of Irvine,pv,,,,,,,,",
            "NUL3,Ann Smith,,,,,CA,,SCE,,pv,,,,,,,B26\x00,"]
    report = run(csv_text(*rows))
    assert [e.errors for e in report.errors] == [
        ["customer_name: contains a NUL character (\\0), which text cannot hold; remove it"],
        ["ahj: contains a NUL character (\\0), which text cannot hold; remove it"],
        ["permit_number: contains a NUL character (\\0), which text cannot hold; remove it"]]
    assert not Project.select().exists() and not Ahj.select().exists()
