"""Build small TIFF/EXIF byte strings for tests (not a writer: no checks, no padding rules)."""

from __future__ import annotations

import struct

SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8}
CODES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 11: "f", 12: "d", 13: "I", 16: "Q"}

# An entry: (tag, type, value) where value is bytes (raw), a str (ASCII, NUL added), a list of
# numbers, or a list of (num, den) pairs for rationals; or ("sub", tag, [entries]) for a pointer
# to a sub-IFD built from those entries.


def encode(bo: str, typ: int, value) -> tuple[bytes, int]:
    if isinstance(value, bytes):
        return value, len(value) // SIZES[typ]
    if isinstance(value, str):
        b = value.encode("utf-8") + b"\0"
        return b, len(b)
    if typ in (5, 10):
        code = "I" if typ == 5 else "i"
        flat = [x for pair in value for x in pair]
        return struct.pack(f"{bo}{len(flat)}{code}", *flat), len(value)
    return struct.pack(f"{bo}{len(value)}{CODES[typ]}", *value), len(value)


def build(ifds: list[list], bo: str = "<", magic: int = 42) -> bytes:
    """A classic TIFF whose IFD chain is ``ifds`` (IFD0, IFD1, ...)."""
    out = bytearray(b"II" if bo == "<" else b"MM")
    out += struct.pack(bo + "HI", magic, 8)
    _write_chain(out, bo, ifds)
    return bytes(out)


def _write_chain(out: bytearray, bo: str, ifds: list[list]) -> None:
    link = None
    for entries in ifds:
        start = _write_ifd(out, bo, entries)
        if link is not None:
            struct.pack_into(bo + "I", out, link, start)
        link = start + 2 + 12 * len(entries)


def _write_ifd(out: bytearray, bo: str, entries: list) -> int:
    if len(out) & 1:
        out += b"\0"
    start = len(out)
    n = len(entries)
    out += struct.pack(bo + "H", n) + b"\0" * (12 * n) + b"\0\0\0\0"
    for i, ent in enumerate(entries):
        pos = start + 2 + 12 * i
        if ent[0] == "sub":
            _, tag, sub_entries = ent
            struct.pack_into(bo + "HHI", out, pos, tag, 4, 1)
            sub_start = _write_ifd(out, bo, sub_entries)
            struct.pack_into(bo + "I", out, pos + 8, sub_start)
            continue
        tag, typ, value = ent
        raw, count = encode(bo, typ, value)
        struct.pack_into(bo + "HHI", out, pos, tag, typ, count)
        if len(raw) <= 4:
            out[pos + 8 : pos + 8 + len(raw)] = raw
        else:
            if len(out) & 1:
                out += b"\0"
            struct.pack_into(bo + "I", out, pos + 8, len(out))
            out += raw
    return start
