"""Sample files of every type ixdesk accepts, made on the fly (no binary test data in the repo)."""
from __future__ import annotations

import io
import zipfile


def pdf(text: str = "Signed interconnection agreement", pages: int = 1) -> bytes:
    from fpdf import FPDF
    doc = FPDF()
    for n in range(pages):
        doc.add_page()
        doc.set_font("Helvetica", size=14)
        doc.cell(text=f"{text} - page {n + 1}")
    return bytes(doc.output())


def image(fmt: str, size=(40, 30), color=(200, 120, 40)) -> bytes:
    from PIL import Image
    if fmt == "HEIC":
        import pillow_heif
        pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="HEIF" if fmt == "HEIC" else fmt)
    return buf.getvalue()


def office(kind: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml" if kind == "docx" else "xl/workbook.xml", "<x/>")
    return buf.getvalue()


ALL = {
    "pdf": lambda: pdf(),
    "jpeg": lambda: image("JPEG"),
    "png": lambda: image("PNG"),
    "tiff": lambda: image("TIFF"),
    "heic": lambda: image("HEIC"),
    "docx": lambda: office("docx"),
    "xlsx": lambda: office("xlsx"),
    "txt": lambda: "Utility account 1234567890\nMeter 10-998877\n".encode(),
}
