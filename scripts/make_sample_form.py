"""Write the sample fillable PDF (AcroForm) that proves the prefill path: catalog/data/forms/SAMPLE_IX_APP.pdf.

It is ixdesk's own test form, not a utility's. Run: .venv/bin/python scripts/make_sample_form.py
"""
from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (ArrayObject, BooleanObject, DictionaryObject, FloatObject, NameObject, NumberObject,
                           TextStringObject)

FIELDS = [("CustomerName", "Customer name"), ("ServiceAddress", "Service address"),
          ("AccountNumber", "Utility account number"), ("SystemSizeAC", "System size (kW AC)"),
          ("BatteryKWh", "Battery (kWh)"), ("InstallerName", "Installer"), ("CustomerSignature", "Customer signature")]
TARGET = Path(__file__).resolve().parent.parent / "catalog" / "data" / "forms" / "SAMPLE_IX_APP.pdf"


def build() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "SAMPLE interconnection application", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 6, "ixdesk test form - not a utility's form", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for i, (_, label) in enumerate(FIELDS):
        pdf.text(15, 40 + i * 14, label)
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(bytes(pdf.output()))))
    page = writer.pages[0]
    height = float(page.mediabox.height)
    font = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                                NameObject("/Subtype"): NameObject("/Type1"),
                                                NameObject("/BaseFont"): NameObject("/Helvetica")}))
    refs = ArrayObject()
    for i, (name, _) in enumerate(FIELDS):
        y = height - (40 + i * 14) * 72 / 25.4
        field = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject(name),
            NameObject("/Rect"): ArrayObject([FloatObject(200), FloatObject(y - 4), FloatObject(540), FloatObject(y + 12)]),
            NameObject("/F"): NumberObject(4), NameObject("/DA"): TextStringObject("/Helv 10 Tf 0 g"),
            NameObject("/V"): TextStringObject(""), NameObject("/P"): page.indirect_reference,
        })
        refs.append(writer._add_object(field))
    page[NameObject("/Annots")] = refs
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({
        NameObject("/Fields"): refs, NameObject("/NeedAppearances"): BooleanObject(True),
        NameObject("/DA"): TextStringObject("/Helv 10 Tf 0 g"),
        NameObject("/DR"): DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/Helv"): font})}),
    })
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


if __name__ == "__main__":
    TARGET.write_bytes(build())
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")
