"""Prefilled forms: a utility's fillable PDF plus a mapping of its fields to project facts (catalog data)."""
from __future__ import annotations

import io
import logging
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from catalog import CatalogError
from models import documents
from models.applications import Application
from models.checklists import ChecklistItem
from models.documents import Document
from models.events import Event
from models.projects import Project
from models.users import User

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_]{1,40}$")
log = logging.getLogger(__name__)
_CACHE: dict[tuple, dict] = {}


def _num(value) -> str:
    return "" if value is None else f"{value:g}"


# Every fact a form field can be filled from: key -> (label, getter(project, installer)).
DATA: dict[str, tuple[str, Callable[[Project, dict], str]]] = {
    "external_id": ("Project ID", lambda p, i: p.external_id),
    "customer_name": ("Customer name", lambda p, i: p.customer_name),
    "customer_email": ("Customer email", lambda p, i: p.customer_email or ""),
    "customer_phone": ("Customer phone", lambda p, i: p.phone_display),
    "street": ("Street", lambda p, i: p.street),
    "city": ("City", lambda p, i: p.city),
    "state": ("State", lambda p, i: p.state),
    "zip": ("ZIP", lambda p, i: p.zip),
    "site_address": ("Full site address", lambda p, i: p.address),
    "utility_name": ("Utility", lambda p, i: p.utility.name),
    "utility_account": ("Utility account number", lambda p, i: p.utility_account or ""),
    "ahj": ("AHJ", lambda p, i: p.ahj.name if p.ahj_id else ""),
    "product": ("Product type", lambda p, i: p.product_label),
    "pv_kw_dc": ("PV size (kW DC)", lambda p, i: _num(p.pv_kw_dc)),
    "pv_kw_ac": ("PV size (kW AC)", lambda p, i: _num(p.pv_kw_ac)),
    "battery_kwh": ("Battery (kWh)", lambda p, i: _num(p.battery_kwh)),
    "program": ("Program", lambda p, i: p.program or ""),
    "installer_name": ("Installer name", lambda p, i: i.get("name", "")),
    "installer_license": ("Installer license", lambda p, i: i.get("license", "")),
    "installer_phone": ("Installer phone", lambda p, i: i.get("phone", "")),
    "installer_email": ("Installer email", lambda p, i: i.get("email", "")),
}


@dataclass
class Template:
    code: str
    name: str
    number: str
    version: str
    doc_type: str
    source: str
    verified: bool
    fields: dict[str, str]  # PDF field -> data key
    left_blank: dict[str, str]  # PDF field -> why it is left for a person (e.g. a signature)
    pdf_path: Path
    pdf_fields: list[str] = field(default_factory=list)


def forms_dir(catalog_root: Path | None = None) -> Path:
    import catalog
    root = Path(catalog_root) if catalog_root else Path(catalog.__file__).resolve().parent / "data"
    if (root / "data").is_dir() and not (root / "doc_types.toml").exists():
        root = root / "data"
    return root / "forms"


def pdf_fields(data: bytes) -> list[str]:
    """The fillable field names of a PDF form, in document order; CatalogError if it has none."""
    from pypdf import PdfReader
    try:
        found = PdfReader(io.BytesIO(data), strict=False).get_fields() or {}
    except Exception as exc:
        raise CatalogError([f"the PDF cannot be read ({type(exc).__name__})"]) from None
    names = [name for name, f in found.items() if f.get("/FT") in ("/Tx", "/Ch", "/Btn")]
    if not names:
        raise CatalogError(["the PDF has no fillable fields (AcroForm); ask the utility for the fillable version"])
    return names


def load_templates(catalog_root: Path | None = None) -> dict[str, Template]:
    """Every template under <catalog>/forms, validated: errors name the file and the field.

    Cached until a file in the folder changes (parsing PDFs on every page view adds up).
    """
    folder = forms_dir(catalog_root)
    paths = sorted(folder.glob("*.toml")) + sorted(folder.glob("*.pdf"))
    key = (str(folder),) + tuple((p.name, p.stat().st_mtime_ns) for p in paths)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _load_all(folder)
    return dict(_CACHE[key])


def usable_templates(catalog_root: Path | None = None) -> dict[str, Template]:
    """Templates for a page: a broken one is logged and left out instead of breaking the page."""
    try:
        return load_templates(catalog_root)
    except CatalogError as exc:
        log.error("prefill templates: %s", exc)
        return {}


def _load_all(folder: Path) -> dict[str, Template]:
    out, errors = {}, []
    for path in sorted(folder.glob("*.toml")):
        try:
            t = _load(path)
            out[t.code] = t
        except CatalogError as exc:
            errors.extend(exc.errors)
    if errors:
        raise CatalogError(errors)
    return out


def _load(path: Path) -> Template:
    where = f"{path}: form"
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError([f"{path}: not valid TOML ({exc})"]) from None
    errors = []
    code = raw.get("code", "")
    if not isinstance(code, str) or not CODE_RE.match(code) or code != path.stem:
        errors.append(f"{where}: code must be upper-case letters, digits and _ and match the file name ({path.stem})")
    pdf_path = path.with_suffix(".pdf")
    fields_in_pdf: list[str] = []
    if not pdf_path.exists():
        errors.append(f"{where} '{code}': the fillable PDF {pdf_path.name} is missing")
    else:
        try:
            fields_in_pdf = pdf_fields(pdf_path.read_bytes())
        except CatalogError as exc:
            errors.append(f"{where} '{code}': {exc.errors[0]}")
    mapping, blank = raw.get("fields", {}), raw.get("left_blank", {})
    for pdf_field, key in mapping.items():
        if key not in DATA:
            errors.append(f"{where} '{code}': field '{pdf_field}' maps to unknown data '{key}' "
                          f"(known: {', '.join(DATA)})")
        if fields_in_pdf and pdf_field not in fields_in_pdf:
            errors.append(f"{where} '{code}': field '{pdf_field}' is not in the PDF")
    known = set(raw) - {"code", "name", "number", "version", "doc_type", "source", "verified", "fields", "left_blank"}
    if known:
        errors.append(f"{where} '{code}': unknown keys {', '.join(sorted(known))}")
    if errors:
        raise CatalogError(errors)
    return Template(code=code, name=str(raw.get("name", code)), number=str(raw.get("number", "")),
                    version=str(raw.get("version", "")), doc_type=str(raw.get("doc_type", "")),
                    source=str(raw.get("source", "")), verified=bool(raw.get("verified", True)),
                    fields=dict(mapping), left_blank=dict(blank), pdf_path=pdf_path, pdf_fields=fields_in_pdf)


def save_template(catalog_root: Path | None, code: str, pdf: bytes, meta: dict, mapping: dict[str, str],
                  left_blank: dict[str, str]) -> Template:
    """Write (or replace) a template's PDF and mapping, then load it back through validation."""
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise CatalogError([f"form code {code!r}: use upper-case letters, digits and _ (e.g. PGE_79_1151A)"])
    fields_in_pdf = pdf_fields(pdf)
    bad = [k for k in mapping.values() if k not in DATA]
    if bad:
        raise CatalogError([f"unknown data: {', '.join(bad)}"])
    folder = forms_dir(catalog_root)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"code = {_q(code)}"] + [f"{k} = {_q(str(meta.get(k, '')))}" for k in
                                       ("name", "number", "version", "doc_type", "source")]
    lines += ["verified = false", "", "[fields]"]
    lines += [f"{_q(f)} = {_q(k)}" for f, k in mapping.items() if f in fields_in_pdf]
    lines += ["", "[left_blank]"] + [f"{_q(f)} = {_q(r)}" for f, r in left_blank.items() if f in fields_in_pdf]
    # Written beside the real files and checked there first: a template that would not load never
    # replaces a good one (a broken file would stop the app at its next start).
    stage = folder / f".{code}.new"
    stage.mkdir(exist_ok=True)
    try:
        (stage / f"{code}.pdf").write_bytes(pdf)
        (stage / f"{code}.toml").write_text("\n".join(lines) + "\n")
        _load(stage / f"{code}.toml")
        os.replace(stage / f"{code}.pdf", folder / f"{code}.pdf")
        os.replace(stage / f"{code}.toml", folder / f"{code}.toml")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _CACHE.clear()
    return _load(folder / f"{code}.toml")


def _q(text: str) -> str:
    """A TOML basic string: backslash, quote and every control character escaped."""
    out = []
    for ch in str(text):
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@dataclass
class Filled:
    pdf: bytes
    missing: list[tuple[str, str]]  # (PDF field, fact label) with no value on this project
    unmapped: list[str]  # PDF fields neither mapped nor deliberately left blank


def fill(template: Template, project: Project, installer: dict) -> Filled:
    from pypdf import PdfReader, PdfWriter
    values, missing = {}, []
    for pdf_field, key in template.fields.items():
        label, getter = DATA[key]
        value = (getter(project, installer) or "").strip()
        if value:
            values[pdf_field] = value
        else:
            missing.append((pdf_field, label))
    unmapped = [f for f in template.pdf_fields if f not in template.fields and f not in template.left_blank]
    writer = PdfWriter(clone_from=PdfReader(str(template.pdf_path)))
    for page in writer.pages:
        writer.update_page_form_field_values(page, values, auto_regenerate=False)
    writer.set_need_appearances_writer(True)
    out = io.BytesIO()
    writer.write(out)
    return Filled(out.getvalue(), missing, unmapped)


def generate(template: Template, project: Project, actor: User | None, installer: dict) -> tuple[Document, Filled]:
    """Fill the form for a project and store it on the matching checklist item (or the project)."""
    filled = fill(template, project, installer)
    item = (ChecklistItem.select().where(ChecklistItem.project == project, ChecklistItem.required == True,  # noqa: E712
                                         (ChecklistItem.form_code == template.code) |
                                         (ChecklistItem.doc_type == template.doc_type))
            .order_by((ChecklistItem.form_code == template.code).desc(), ChecklistItem.id).first())
    application = Application.get_or_none((Application.project == project) &
                                          (Application.kind == item.application)) if item else None
    name = f"{project.external_id} {template.number or template.code} {template.version} prefilled.pdf".strip()
    doc, _ = documents.add(project, filled.pdf, name, source="generated", actor=actor, item=item,
                           application=application, kind="prefilled_form")
    gaps = [f"{f} ({label})" for f, label in filled.missing] + [f"{f} (not mapped)" for f in filled.unmapped]
    Event.record(project, "document", actor, summary=f"Prefilled {template.name}" +
                 (f"; {len(gaps)} field(s) left blank" if gaps else ""),
                 body=("Blank: " + "; ".join(gaps)) if gaps else "", data={"document_id": doc.id, "blank": gaps})
    return doc, filled
