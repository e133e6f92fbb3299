"""What a file really is, from its bytes (never its name), and a name that is safe to store and show."""
from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    label: str
    mime: str
    extension: str

    @property
    def previewable(self) -> bool:
        return self.mime in ("application/pdf", "image/jpeg", "image/png")

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


PDF = FileType("PDF", "application/pdf", ".pdf")
JPEG = FileType("JPEG image", "image/jpeg", ".jpg")
PNG = FileType("PNG image", "image/png", ".png")
HEIC = FileType("HEIC image", "image/heic", ".heic")
TIFF = FileType("TIFF image", "image/tiff", ".tif")
DOCX = FileType("Word document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")
XLSX = FileType("Excel workbook", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
TEXT = FileType("Text", "text/plain", ".txt")
EML = FileType("Email message", "message/rfc822", ".eml")
ZIP = FileType("ZIP archive", "application/zip", ".zip")  # generated packets only; never accepted as an upload
ALLOWED = (PDF, JPEG, PNG, HEIC, TIFF, DOCX, XLSX, TEXT)
ALLOWED_LABELS = "PDF, JPEG, PNG, HEIC, TIFF, Word (.docx), Excel (.xlsx) or plain text"
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis")


def sniff(data: bytes) -> FileType | None:
    """The allowed type these bytes are, or None. Office files are ZIPs told apart by their parts."""
    head = data[:16]
    if data[:1024].lstrip(b"\r\n\t \xef\xbb\xbf")[:5] == b"%PDF-":
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return HEIC
    if head.startswith(b"PK\x03\x04"):
        return _office(data)
    if _is_text(data):
        return TEXT
    return None


def _office(data: bytes) -> FileType | None:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(n.startswith("word/") for n in names):
        return DOCX
    if any(n.startswith("xl/") for n in names):
        return XLSX
    return None


def decode_text(data: bytes) -> str | None:
    """Text in UTF-8 (with or without BOM), UTF-16 (with BOM) or Windows-1252; None when it is not text."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data[:65536]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Only a long file cut mid-character in our sample gets the benefit of the doubt.
        if len(data) > 65536 and exc.start >= len(data) - 4:
            return data[:exc.start].decode("utf-8-sig")
    text = data.decode("cp1252", errors="replace")
    return text if text.count("\ufffd") <= len(text) * 0.001 else None


def _is_text(data: bytes) -> bool:
    text = decode_text(data[:65536] if len(data) > 65536 else data)
    if not text:
        return False
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\r\n\t\f")
    return controls <= len(text) * 0.01


# Other spellings of a type's extension that are kept as the sender wrote them.
ALIASES = {"image/jpeg": (".jpeg",), "image/tiff": (".tiff",), "image/heic": (".heif",)}
UNSAFE = re.compile(r'[<>:"|?*\\/]')


def safe_name(original: str, filetype: FileType | None = None, limit: int = 120) -> str:
    """A file name with no path, control characters or markup, ending in the type's real extension."""
    name = (original or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = UNSAFE.sub("_", name)
    name = " ".join(name.split()).strip(". ")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = stem.strip(". _") or "document"
    extension = filetype.extension if filetype else ("." + ext.lower() if ext else "")
    if filetype and ext and ("." + ext.lower()) in (filetype.extension,) + ALIASES.get(filetype.mime, ()):
        extension = "." + ext.lower()
    return stem[: limit - len(extension)] + extension


# What one packet may hold. Decoding takes about 4 bytes a pixel, so one 50-megapixel page is 200 MB while it is
# scaled down; the total bounds how long the images of one packet take to decode (about 100 megapixels a second).
MAX_PAGE_PIXELS = 50_000_000
MAX_PACKET_PAGES = 500
MAX_PACKET_PIXELS = 3_000_000_000
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF", "image/heic": "HEIF"}


class TooLarge(ValueError):
    """A file over a packet limit; the message names the file, the page and the limit."""


def megapixels(pixels: int) -> str:
    mp = pixels / 1_000_000
    # Rounded up below 100, so a page just over the limit never reads as "50 megapixels; the limit is 50".
    return f"{mp:,.0f}" if mp >= 100 else f"{-(-pixels // 100_000) / 10:g}"


def image_page_sizes(data: bytes, mime: str, name: str, *, page_pixels: int = MAX_PAGE_PIXELS,
                     max_pages: int = MAX_PACKET_PAGES, total_pixels: int = MAX_PACKET_PIXELS) -> list[tuple[int, int]]:
    """Width and height of every page of an image, read from its headers (no pixel is decoded).

    Raises TooLarge for a page over page_pixels, more than max_pages pages or pages adding up to more than
    total_pixels; any other exception means the file is damaged.
    """
    from PIL import Image
    img = open_image_headers(data, mime)
    sizes: list[tuple[int, int]] = []
    with img:
        if img.format == "PNG":
            # An animated PNG declares its frame count up front and every frame fits its canvas; reaching a
            # frame would decode the ones before it.
            count = getattr(img, "n_frames", 1)
            if count > max_pages:
                raise TooLarge(f"{name} is too large: {count:,} pages; a packet holds at most {max_pages}")
            sizes = [img.size] * count
            _check_page(name, 1, count, img.size, page_pixels)
        else:
            while True:
                if len(sizes) == max_pages + 1:
                    raise TooLarge(f"{name} is too large: more than {max_pages} pages; a packet holds at most "
                                   f"{max_pages}")
                if sizes:
                    try:
                        img.seek(len(sizes))  # reads the next page's header only
                    except EOFError:
                        break
                    except Image.DecompressionBombError:
                        pass  # Pillow's own check, on a multi-picture JPEG; the size is read, ours says it better
                _check_page(name, len(sizes) + 1, 2 if sizes or getattr(img, "is_animated", False) else 1, img.size,
                            page_pixels)
                sizes.append(img.size)
                if not getattr(img, "is_animated", False) and getattr(img, "n_frames", 1) == 1:
                    break
    total = sum(w * h for w, h in sizes)
    if total > total_pixels:
        raise TooLarge(f"{name} is too large: its {len(sizes)} pages add up to {megapixels(total)} megapixels; "
                       f"a packet holds at most {total_pixels // 1_000_000:,}")
    return sizes


def _check_page(name: str, number: int, count: int, size: tuple[int, int], limit: int) -> None:
    pixels = size[0] * size[1]
    if pixels > limit:
        where = f"page {number} is " if count > 1 else ""
        raise TooLarge(f"{name} is too large: {where}{megapixels(pixels)} megapixels; the limit is "
                       f"{limit // 1_000_000:,}")


def open_image_headers(data: bytes, mime: str):
    """The image opened lazily by its format's own reader: headers read, no pixel decoded."""
    from PIL import Image
    if mime == "image/heic":
        import pillow_heif
        pillow_heif.register_heif_opener()
    Image.init()
    # The format's reader itself, not Image.open: Image.open adds Pillow's bomb check, which refuses a huge
    # first page before we can say how large it is. Nothing here decodes; limits are checked before anything does.
    factory, _accept = Image.OPEN[IMAGE_FORMATS[mime]]
    return factory(io.BytesIO(data), "")
