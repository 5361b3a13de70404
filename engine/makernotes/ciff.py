"""Canon's CIFF records (the "HEAPJPGM" heap of an APP0 segment of old PowerShot JPEGs),
read as ExifTool reads them (``CanonRaw.pm`` ProcessCanonRaw, ``ExifTool.pm`` APP0): family-0
group MakerNotes, family-1 group CIFF.

A CIFF block starts with its byte order ("II"/"MM"), the header length (int32u) and
"HEAPJPGM"; the heap after the header ends with the offset of its directory (int32u, from
the heap's start).  A directory is an int16u entry count, then 10-byte entries: the tag word
(id in the low 14 bits, bit 14 = the value is the entry's next 8 bytes, bits 11-13 the type),
the value's size and its offset in the heap.  Types 0x28 and 0x30 not stored in the entry
are heaps of their own, read with the same table; the other values are tags of
``CanonRaw::Main`` (or binary sub-tables of it).  Values over 512 bytes are shown as binary.
"""

from __future__ import annotations

import struct

from engine.model import TagValue

TABLE = "CanonRaw::Main"
FORMATS = {0x00: "int8u", 0x08: "string", 0x10: "int16u", 0x18: "int32u"}  # by tag type
UNIT = {"int8u": 1, "string": 1, "int16u": 2, "int32u": 4, "float": 4, "undef": 1}
# the names of the heaps ExifTool's conditions test ($self->{DIR_NAME})
HEAPS = {0x2804: "ImageDescription", 0x2807: "CameraObject", 0x3002: "ShootingRecord",
         0x3003: "MeasuredInfo", 0x3004: "CameraSpecification", 0x300A: "ImageProps",
         0x300B: "ExifInformation"}
BINARY = (None, None, None, None, "b", None, None, None)  # shown as "(Binary data N bytes)"


def read(segments, path: str, state: dict) -> tuple[list[TagValue], list[str]]:
    """The CIFF tags of a JPEG's APP0 CIFF segment (none if it has none)."""
    for seg in segments:
        p = seg.payload
        if seg.marker == 0xE0 and len(p) >= 14 and p[:2] in (b"II", b"MM") \
                and p[6:14] == b"HEAPJPGM":
            return decode_ciff(bytes(p), path, state)
    return [], []


def decode_ciff(block: bytes, path: str, state: dict) -> tuple[list[TagValue], list[str]]:
    from engine.makernotes.decode import Walker

    walker = Walker(block, path)
    walker.group = "CIFF"
    walker.state.update(state)
    bo = "<" if block[:2] == b"II" else ">"
    start = struct.unpack_from(bo + "I", block, 2)[0]
    heap(walker, start, len(block) - start, bo)
    return walker.finish(), walker.warnings


def heap(walker, start: int, size: int, bo: str) -> None:
    """Read the heap at ``start`` (``size`` bytes) of ``walker.tiff``."""
    from engine.makernotes.tables import TABLES

    data = walker.tiff
    if start < 0 or size < 6 or start + size > len(data):
        walker.warn(f"CIFF heap at offset {start} ({size} bytes) is outside the data")
        return
    where = start + struct.unpack_from(bo + "I", data, start + size - 4)[0]
    if where + 2 > len(data) or not walker.enter(TABLE, where):
        return
    n = struct.unpack_from(bo + "H", data, where)[0]
    if where + 2 + 10 * n > len(data):
        walker.warn(f"CIFF directory at offset {where} claims {n} entries")
        n = (len(data) - where - 2) // 10
    tags, subdirs = TABLES[TABLE][4], TABLES[TABLE][5]
    for i in range(n):
        pt = where + 2 + 10 * i
        word, vsize, ptr = struct.unpack_from(bo + "HII", data, pt)
        if word & 0x8000:
            walker.warn("Bad CRW directory entry")
            return
        tid, ttype, in_entry = word & 0x3FFF, (word >> 8) & 0x38, word & 0x4000
        if ttype in (0x28, 0x30) and not in_entry:
            outer = walker.state.get("DIR_NAME")
            walker.state["DIR_NAME"] = HEAPS.get(word, "")
            heap(walker, start + ptr, vsize, bo)
            walker.state["DIR_NAME"] = outer
            continue
        if in_entry:
            raw, vpos = data[pt + 2 : pt + 10], pt + 2
        elif start + ptr + vsize <= len(data):
            raw, vpos = data[start + ptr : start + ptr + vsize], start + ptr
        else:
            walker.warn(f"CIFF tag 0x{tid:04x}: {vsize} bytes at {start + ptr} past the end")
            continue
        entry(walker, tid, ttype, raw, vpos, bo, tags, subdirs, bool(in_entry))


def entry(walker, tid: int, ttype: int, raw: bytes, vpos: int, bo: str, tags: dict,
          subdirs: dict, in_entry: bool) -> None:
    from engine.makernotes.tables import CODES, TABLES

    walker.state.update({"$$valPt": raw, "$size": float(len(raw)), "$byte_order": bo})
    for cond, sub, where in subdirs.get(tid, ()):
        if walker.holds(cond):
            walker.subdir(sub, where, raw, vpos, 0, bo)
            return
    variant = walker.choose(tags.get(tid, ()))
    if variant is None:
        return
    name, _type, _count, vmap, code = variant
    if len(raw) > 512:
        walker.pending.append((TABLES[TABLE][0], name, b"", None, BINARY, len(raw), None))
        return
    fmt = (CODES[code][5] if code is not None else None) or FORMATS.get(ttype, "undef")
    unit = UNIT.get(fmt, 1)
    if in_entry and fmt != "string":
        raw = raw[:unit]
    walker.state["$count"] = float(len(raw) // unit)
    walker.add(TABLE, name, fmt, raw[: len(raw) // unit * unit], bo, vmap, code)
