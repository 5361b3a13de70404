"""Records of the directories that are neither IFDs nor binary tables, as (tag, format, raw).

Canon's custom functions (ExifTool CanonCustom.pm):

"custom1" (models up to the 1D Mark II): a size word, then one int16u per function: the
function number in the high byte, its value in the low byte.  "custom2" (1D Mark III on): a
size word, a group count, then groups of (number, length, count) followed by records of
(tag, value count, int32s values).  Sizes that disagree with the data stop the reading with
a warning, as ExifTool does.

Nikon Capture data (NikonCapture.pm, maker-note tag 0x0e01): little-endian records after a
22-byte header, each a 32-bit id, 14 bytes, a 32-bit size (+4) and the value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator


def canon_custom(kind: str, raw: bytes, bo: str,
                 warn: Callable[[str], None]) -> Iterator[tuple[int, str, bytes]]:
    if len(raw) < 2:
        return
    size = struct.unpack_from(bo + "H", raw)[0]
    if kind == "custom1":
        if size != len(raw) and size + 2 != len(raw):
            warn("Invalid CanonCustom data")
            return
        for pos in range(2, len(raw) - 1, 2):
            word = struct.unpack_from(bo + "H", raw, pos)[0]
            yield word >> 8, "int8u", bytes([word & 0xFF])
        return
    if size != len(raw) or size < 8:
        warn("Invalid CanonCustom2 data")
        return
    yield from _groups(raw, bo, warn)


def _groups(raw: bytes, bo: str, warn: Callable[[str], None]) -> Iterator[tuple[int, str, bytes]]:
    pos, end = 8, len(raw)
    while pos + 12 <= end:
        num, length, _count = struct.unpack_from(bo + "III", raw, pos)
        if length < 8:
            return
        pos += 12
        rec, rec_end = pos, pos + length - 8
        if rec_end > end:
            warn(f"Corrupted CanonCustom2 group {num}")
            return
        while rec + 8 < rec_end:
            tag, n = struct.unpack_from(bo + "II", raw, rec)
            if rec + 8 + 4 * n > rec_end:
                break
            yield tag, "int32s", raw[rec + 8 : rec + 8 + 4 * n]
            rec += 8 + 4 * n
        pos = rec_end


def nikon_capture(raw: bytes, formats: dict) -> Iterator[tuple[int, str, bytes]]:
    """(id, format, value bytes) of each record; ``formats`` gives a known tag's format
    (else 1-, 2- and 4-byte values are unsigned integers and the rest is not shown)."""
    pos = 22
    while pos + 22 < len(raw):
        tag = struct.unpack_from("<I", raw, pos)[0]
        size = struct.unpack_from("<I", raw, pos + 18)[0] - 4
        pos += 22
        if size < 0 or pos + size > len(raw):
            return
        fmt = formats.get(tag) or {1: "int8u", 2: "int16u", 4: "int32u"}.get(size, "undef")
        yield tag, fmt, raw[pos : pos + size]
        pos += size
