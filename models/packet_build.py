"""A packet's PDF and ZIP, built in a child process with its own memory and time limits.

The parent (a web process or a worker, both threaded) starts `python -m models.packet_build spec.json`: a fresh
interpreter, never a fork of a threaded one. The child limits its own address space before it reads a file,
measures every page from the headers, refuses what is over the limits, and only then decodes, one page at a
time. The parent gets back the built files or a refusal in words a coordinator understands; a child that
runs past its time is killed.
"""
from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
import traceback
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from models import filetypes

log = logging.getLogger(__name__)
MAX_BUILD_MEMORY_MB = 1024  # the child's address space; a normal 20-page packet peaks near 200 MB
MAX_BUILD_SECONDS = 120
IMAGE_TYPES = ("image/jpeg", "image/png", "image/tiff", "image/heic")
MAX_SIDE = 2500  # pixels on the long side: sharp on paper, small in the packet
MAX_TEXT_BYTES = 200_000
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Limits:
    memory_mb: int = MAX_BUILD_MEMORY_MB
    seconds: float = MAX_BUILD_SECONDS
    pages: int = filetypes.MAX_PACKET_PAGES
    page_pixels: int = filetypes.MAX_PAGE_PIXELS
    packet_pixels: int = filetypes.MAX_PACKET_PIXELS


LIMITS = Limits()


def configure(limits: Limits) -> None:
    """Use these limits for every build from now on (settings, or a test that wants a small child)."""
    global LIMITS
    LIMITS = limits


class PacketRefused(Exception):
    """The packet was not built; the message says why in words a coordinator understands."""


@dataclass
class Part:
    """One required item as the child sees it: a file in the work folder, or nothing (missing)."""

    label: str
    form: str = ""
    name: str = ""  # the document's display name; "" when the item is missing
    mime: str = ""
    path: str = ""
    zip_name: str = ""


@dataclass
class Built:
    """What the child made: notes per part (for the cover), parts that could not be included, the files."""

    notes: list[str]
    failed: list[int]
    pages: int = 0
    pdf: Path | None = None  # None when a part failed and the build was not allowed to go on incomplete
    zip: Path | None = None
    reasons: dict[int, str] = field(default_factory=dict)


def run(title: str, cover_lines: list[str], parts: list[Part], workdir: Path, *, allow_incomplete: bool,
        limits: Limits | None = None, progress: Callable[[int, int, str], None] | None = None) -> Built:
    """Build in a child process; returns what it built, or raises PacketRefused naming the limit it hit."""
    limits = limits or LIMITS
    spec = workdir / "spec.json"
    spec.write_text(json.dumps({"title": title, "cover_lines": cover_lines, "parts": [asdict(p) for p in parts],
                                "allow_incomplete": allow_incomplete, "limits": asdict(limits),
                                "out": str(workdir)}))
    started = time.monotonic()
    with open(workdir / "stderr.txt", "wb") as err:
        # A new session: the whole group is killed if it overruns. No preexec_fn, which is unsafe in a
        # threaded parent; the child limits itself.
        proc = subprocess.Popen([sys.executable, "-m", "models.packet_build", str(spec)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err, env=_child_env(), start_new_session=True)
    try:
        outcome = _follow(proc, started + limits.seconds, progress)
    finally:
        _stop(proc)
    if outcome is None:
        if time.monotonic() - started >= limits.seconds:
            raise PacketRefused(_too_slow(limits))
        detail = (workdir / "stderr.txt").read_text(errors="replace")[-4000:]
        log.error("packet build child ended with code %s without an answer: %s", proc.returncode, detail)
        if proc.returncode == -signal.SIGXCPU:
            raise PacketRefused(_too_slow(limits))
        if "MemoryError" in detail or "bad_alloc" in detail or "annot allocate memory" in detail:
            raise PacketRefused(_too_big(limits))
        raise PacketRefused("building the packet stopped unexpectedly (it may have needed more than "
                            f"{limits.memory_mb:,} MB of memory); try again or tell an admin")
    log.info("packet build child finished in %.1f s", time.monotonic() - started)
    if "refused" in outcome:
        if outcome["refused"].startswith("building the packet failed"):
            log.error("packet build child failed: %s", (workdir / "stderr.txt").read_text(errors="replace")[-4000:])
        raise PacketRefused(outcome["refused"])
    r = outcome["result"]
    return Built(notes=r["notes"], failed=r["failed"], pages=r["pages"], pdf=Path(r["pdf"]) if r["pdf"] else None,
                 zip=Path(r["zip"]) if r["zip"] else None, reasons={int(k): v for k, v in r["reasons"].items()})


def _child_env() -> dict[str, str]:
    # The child reads files from outside: it gets no secrets, only what an interpreter needs.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["MALLOC_ARENA_MAX"] = "2"  # each thread's malloc arena reserves 64 MB of the address-space limit
    return env


def _follow(proc: subprocess.Popen, deadline: float, progress) -> dict | None:
    """Relay the child's progress lines until its answer, its end, or the deadline (then None)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf, answer = b"", None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            # At most a second at a time, so a worker's own time limit or shutdown is not held up.
            if not sel.select(timeout=min(left, 1.0)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    message = json.loads(line)
                except ValueError:
                    log.warning("packet build child wrote %r", line[:200])
                    continue
                if "progress" in message:
                    if progress:
                        progress(*message["progress"])
                else:
                    answer = message
    finally:
        sel.close()
    try:
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None
    return answer


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    proc.stdout.close()


def _too_slow(limits: Limits) -> str:
    return f"building the packet took longer than {limits.seconds:g} s and was stopped"


def _too_big(limits: Limits) -> str:
    return f"building the packet needed more than {limits.memory_mb:,} MB of memory and was stopped"


# What follows runs in the child.


_answers = sys.stdout


def main(argv: list[str]) -> int:
    global _answers
    # Only our answers go to the parent: anything a library prints, from Python or C, goes to stderr.
    _answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    spec = json.loads(Path(argv[1]).read_text())
    limits = Limits(**spec["limits"])
    _limit_self(limits)
    try:
        result = _build(spec, [Part(**p) for p in spec["parts"]], limits)
        _emit({"result": result})
    except PacketRefused as exc:
        _emit({"refused": str(exc)})
    except MemoryError:
        _emit({"refused": _too_big(limits)})
    except Exception as exc:  # a fault of ours, not of a file: the parent logs the traceback from stderr
        traceback.print_exc()
        _emit({"refused": f"building the packet failed ({type(exc).__name__}); try again or tell an admin"})
    return 0


def _limit_self(limits: Limits) -> None:
    import resource
    size = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    # A backstop should the parent die: CPU time cannot outlast the wall-clock limit by much.
    cpu = int(limits.seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def _emit(message: dict) -> None:
    _answers.write(json.dumps(message) + "\n")
    _answers.flush()


def _build(spec: dict, parts: list[Part], limits: Limits) -> dict:
    import warnings

    from PIL import Image
    from pypdf import PdfReader, PdfWriter
    # Pillow's own bomb check, set to our page limit: a page that slipped past the headers still fails to decode.
    Image.MAX_IMAGE_PIXELS = limits.page_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    out = Path(spec["out"])
    total = len(parts)
    notes = ["MISSING" if not p.path else "" for p in parts]
    failed: list[int] = []
    reasons: dict[int, str] = {}
    counts: dict[int, int] = {}
    pixels = 0
    for n, part in enumerate(parts):  # first every page is counted, from the headers
        if not part.path:
            continue
        try:
            counted, part_pixels = _count(part, limits)
        except MemoryError:
            raise
        except filetypes.TooLarge as exc:
            _fail(n, str(exc), notes, failed, reasons, reason=str(exc))
            continue
        except Exception as exc:  # a damaged file must not sink the packet; it is missing, and listed
            _fail(n, type(exc).__name__, notes, failed, reasons)
            continue
        if counted is None:
            notes[n] = "in the ZIP only (no PDF form of this file type)"
        else:
            counts[n] = counted
            pixels += part_pixels
    if failed and not spec["allow_incomplete"]:
        return {"notes": notes, "failed": failed, "reasons": reasons, "pages": 0, "pdf": None, "zip": None}
    if pixels > limits.packet_pixels:
        raise PacketRefused(f"the images in the packet add up to {filetypes.megapixels(pixels)} megapixels; "
                            f"the limit is {limits.packet_pixels // 1_000_000:,}")
    content = sum(counts.values())
    cover, _ = _cover_for(spec, parts, notes, _spans(counts), failed)
    pages = content + len(PdfReader(cover).pages)
    if pages > limits.pages:
        raise PacketRefused(f"the packet would have {pages:,} pages; the limit is {limits.pages}")
    writer = PdfWriter()
    added: dict[int, int] = {}
    for n, part in enumerate(parts):  # then decoded, one page at a time
        if n not in counts:
            continue
        _emit({"progress": [n, total, f"adding {part.label}"]})
        start = len(writer.pages)
        try:
            for page_pdf in _pdf_pages(part, limits, lambda k: _emit(
                    {"progress": [n, total, f"adding {part.label} (page {k} of {counts[n]})"]})):
                writer.append(PdfReader(page_pdf, strict=False))
        except MemoryError:
            raise
        except Exception as exc:  # damaged past its headers: missing, and listed, as above
            while len(writer.pages) > start:  # none of its pages, rather than some
                del writer.pages[len(writer.pages) - 1]
            _fail(n, str(exc) if isinstance(exc, filetypes.TooLarge) else type(exc).__name__, notes, failed,
                  reasons, reason=str(exc) if isinstance(exc, filetypes.TooLarge) else "")
            continue
        added[n] = len(writer.pages) - start
    if failed and not spec["allow_incomplete"]:
        return {"notes": notes, "failed": failed, "reasons": reasons, "pages": 0, "pdf": None, "zip": None}
    cover, notes = _cover_for(spec, parts, notes, _spans(added), failed)
    writer.merge(0, PdfReader(cover))
    pdf_path, zip_path = out / "packet.pdf", out / "packet.zip"
    with open(pdf_path, "wb") as fh:
        writer.write(fh)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for part in parts:
            if part.path:
                z.write(part.path, part.zip_name)
    _emit({"progress": [total, total, "done"]})
    return {"notes": notes, "failed": failed, "reasons": reasons, "pages": len(writer.pages),
            "pdf": str(pdf_path), "zip": str(zip_path)}


def _fail(n: int, why: str, notes: list[str], failed: list[int], reasons: dict[int, str], reason: str = "") -> None:
    notes[n] = f"could not be included ({why}); see the ZIP"
    failed.append(n)
    if reason:
        reasons[n] = reason


def _spans(counts: dict[int, int]) -> dict[int, tuple[int, int]]:
    spans, first = {}, 1
    for n in sorted(counts):
        if counts[n]:
            spans[n] = (first, first + counts[n] - 1)
            first += counts[n]
    return spans


def _count(part: Part, limits: Limits) -> tuple[int | None, int]:
    """Pages the part adds to the packet and the pixels they decode to; None when it goes in the ZIP only."""
    data = Path(part.path).read_bytes()
    if part.mime == "application/pdf":
        from pypdf import PdfReader
        reader = PdfReader(part.path, strict=False)
        if reader.is_encrypted:
            reader.decrypt("")  # locked only against editing opens; otherwise counting pages fails: damaged
        return len(reader.pages), 0  # the page tree only: nothing is rendered
    if part.mime in IMAGE_TYPES:
        sizes = filetypes.image_page_sizes(data, part.mime, part.name, page_pixels=limits.page_pixels,
                                           max_pages=limits.pages, total_pixels=limits.packet_pixels)
        return len(sizes), sum(w * h for w, h in sizes)
    if part.mime == "text/plain" and len(data) <= MAX_TEXT_BYTES:
        from pypdf import PdfReader
        return len(PdfReader(_text_pdf(data)).pages), 0
    return None, 0  # a log dump does not belong in a utility packet, nor does an office file: both stay in the ZIP


def _pdf_pages(part: Part, limits: Limits, on_page: Callable[[int], None]):
    """The part as PDFs to append: the file itself, or one small PDF per image page (each freed once written)."""
    import io
    if part.mime == "application/pdf":
        yield part.path
        return
    if part.mime == "text/plain":
        yield _text_pdf(Path(part.path).read_bytes())
        return
    from PIL import ExifTags, Image
    data = Path(part.path).read_bytes()
    with filetypes.open_image_headers(data, part.mime) as img:
        k = 0
        while True:
            if k:
                try:
                    img.seek(k)
                except EOFError:
                    return
            w, h = img.size
            if w * h > limits.page_pixels:  # measured again right before decoding
                raise filetypes.TooLarge(f"{part.name} is too large: page {k + 1} is "
                                         f"{filetypes.megapixels(w * h)} megapixels; the limit is "
                                         f"{limits.page_pixels // 1_000_000:,}")
            on_page(k + 1)
            page = _page_image(img, Image, ExifTags)
            out = io.BytesIO()
            page.save(out, format="PDF", resolution=150)
            del page
            yield io.BytesIO(out.getvalue())
            k += 1
            if not getattr(img, "is_animated", False) and getattr(img, "n_frames", 1) == 1:
                return


def _page_image(img, Image, ExifTags):
    """One page scaled to MAX_SIDE and turned the right way up, decoding no more than it must."""
    orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    img.draft("RGB", (MAX_SIDE, MAX_SIDE))  # a JPEG decodes at 1/2, 1/4 or 1/8 scale when that is enough
    source = img
    if img.mode not in ("RGB", "L"):
        source = img.convert("L" if img.mode in ("1", "I;16", "I", "F") else "RGB")
    scale = min(1.0, MAX_SIDE / max(source.size))
    size = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
    page = source.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0) if scale < 1 else source.copy()
    del source
    page = page.convert("RGB")
    turn = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}.get(orientation)
    return page.transpose(turn) if turn else page  # phone photos the right way up


def _text_pdf(data: bytes):
    import io

    from fpdf import FPDF
    page = FPDF()
    page.add_page()
    page.set_font("Courier", size=9)
    text = filetypes.decode_text(data) or data.decode("utf-8", "replace")
    page.multi_cell(0, 4, text=_latin(text))
    return io.BytesIO(bytes(page.output()))


def _latin(text: str) -> str:
    # The core PDF fonts are Latin-1; anything else prints as "?" rather than failing the build.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _cover_for(spec: dict, parts: list[Part], notes: list[str], spans: dict[int, tuple[int, int]],
               failed: list[int]):
    """The cover and its notes, its own pages counted in the page numbers it lists (it may take two pages)."""
    from pypdf import PdfReader
    cover_pages = 1
    for _ in range(3):
        shown = list(notes)
        for n, (first, last) in spans.items():
            shown[n] = f"pages {first + cover_pages}-{last + cover_pages}"
        cover = _cover(spec["title"], spec["cover_lines"], parts, shown,
                       [parts[n].label for n, note in enumerate(notes) if n in failed or note == "MISSING"])
        counted = len(PdfReader(cover).pages)
        if counted == cover_pages:
            break
        cover_pages = counted
    return cover, shown


def _cover(title: str, lines: list[str], parts: list[Part], notes: list[str], missing: list[str]):
    import io

    from fpdf import FPDF
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for line in lines:
        pdf.cell(0, 6, _latin(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for n, (part, note) in enumerate(zip(parts, notes), start=1):
        form = f" (form {part.form})" if part.form else ""
        pdf.multi_cell(0, 5, _latin(f"{n}. {part.label}{form}: {part.name or '-'} [{note}]"), new_x="LMARGIN",
                       new_y="NEXT")
    if missing:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.set_text_color(180, 30, 20)
        pdf.cell(0, 8, "INCOMPLETE - missing items", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for label in missing:
            pdf.cell(0, 5, _latin(f"- {label}"), new_x="LMARGIN", new_y="NEXT")
    return io.BytesIO(bytes(pdf.output()))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
