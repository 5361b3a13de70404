"""Maker notes built for tests: a TIFF holding one, IFDs with their out-of-line values,
and what the engine decodes of them."""

from __future__ import annotations

import struct

from engine.model import Blocks, Metadata

NOTE_AT = 72  # where tiff_with_note puts the maker note (from the TIFF header)


def tiff_with_note(make: str, note, bo: str = "<") -> bytes:
    """A TIFF with IFD0 (Make, ExifIFD pointer) and an ExifIFD holding only MakerNote;
    ``note(pos)`` gives the maker note bytes for its position ``pos`` (NOTE_AT)."""
    make_raw = make.encode()[:15].ljust(16, b"\0")
    body = note(NOTE_AT)
    out = (b"II*\0" if bo == "<" else b"MM\0*") + struct.pack(bo + "I", 8)
    out += struct.pack(bo + "H", 2)
    out += struct.pack(bo + "HHII", 0x010F, 2, 16, 38)
    out += struct.pack(bo + "HHII", 0x8769, 4, 1, 54) + b"\0" * 4
    out += make_raw
    out += struct.pack(bo + "H", 1) + struct.pack(bo + "HHII", 0x927C, 7, len(body), NOTE_AT)
    out += b"\0" * 4
    assert len(out) == NOTE_AT
    return out + body


def ifd(entries: list[tuple[int, int, int, bytes]], at: int, bo: str = "<",
        base: int = 0) -> bytes:
    """An IFD at ``at`` whose values larger than 4 bytes follow it (offsets from ``base``)."""
    head = struct.pack(bo + "H", len(entries))
    data = b""
    data_at = at + 2 + 12 * len(entries) + 4
    for tag, typ, count, raw in entries:
        if len(raw) <= 4:
            head += struct.pack(bo + "HHI", tag, typ, count) + raw.ljust(4, b"\0")
        else:
            head += struct.pack(bo + "HHII", tag, typ, count, data_at + len(data) - base)
            data += raw + b"\0" * (len(raw) & 1)
    return head + b"\0" * 4 + data


def makernotes(tiff: bytes) -> tuple[dict[str, str], list[str]]:
    """The maker-note tags (name -> value) and warnings of a TIFF block."""
    from engine.makernotes import read_makernotes

    tags, warnings = read_makernotes(tiff, Blocks(exif=tiff), Metadata("x.tif", "TIFF"))
    return {t.name: t.value for t in tags}, warnings
