"""Logos for the branding tests: real PNG files made here (no fixture files to keep)."""

from __future__ import annotations

import struct
import zlib


def png(width: int, height: int, colour: tuple[int, int, int], stripe: tuple[int, int, int] | None = None) -> bytes:
    """A truecolour PNG of `colour`, with a horizontal band of `stripe` through the middle."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = []
    for y in range(height):
        pixel = stripe if stripe and height // 3 <= y < 2 * height // 3 else colour
        rows.append(b"\x00" + bytes(pixel) * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )
