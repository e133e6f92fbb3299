"""Files that are small on disk but huge once decoded, written byte by byte so making them costs no memory or time."""
from __future__ import annotations

import struct
import zlib


def blank_tiff(sizes: list[tuple[int, int]]) -> bytes:
    """A multi-page bilevel TIFF, one blank page per (width, height); pages of one size share one deflated strip."""
    strips: dict[tuple[int, int], tuple[int, int]] = {}  # size -> (offset, length) of its strip
    body = bytearray(b"II*\x00\x00\x00\x00\x00")
    for size in dict.fromkeys(sizes):
        w, h = size
        strip = _zeros(((w + 7) // 8) * h)
        strips[size] = (len(body), len(strip))
        body += strip
        if len(body) % 2:
            body += b"\x00"
    first = len(body)
    for n, (w, h) in enumerate(sizes):
        offset, length = strips[(w, h)]
        entries = [(256, 4, w), (257, 4, h), (258, 3, 1), (259, 3, 8), (262, 3, 0), (273, 4, offset),
                   (277, 3, 1), (278, 4, h), (279, 4, length)]
        ifd = struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3
                                                         else struct.pack("<I", value))
        after = len(body) + len(ifd) + 4
        ifd += struct.pack("<I", after if n + 1 < len(sizes) else 0)
        body += ifd
    body[4:8] = struct.pack("<I", first)
    return bytes(body)


def blank_png(width: int, height: int, color: bool = False) -> bytes:
    """A one-page PNG of the given size: 1-bit grey, or 8-bit RGB when color (4 bytes a pixel once decoded)."""
    row = 1 + (width * 3 if color else (width + 7) // 8)  # the filter byte, then the pixels
    ihdr = struct.pack(">IIBBBBB", width, height, 8 if color else 1, 2 if color else 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", _zeros(row * height))
            + _chunk(b"IEND", b""))


def _zeros(n: int) -> bytes:
    out = zlib.compressobj(9)
    block = bytes(min(n, 1 << 20))
    parts = []
    while n > 0:
        parts.append(out.compress(block[:min(n, len(block))]))
        n -= len(block)
    parts.append(out.flush())
    return b"".join(parts)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
