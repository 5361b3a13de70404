"""Phase One maker notes (IIQ files), read as ExifTool reads them (``PhaseOne.pm``
ProcessPhaseOne).

The directory starts "IIII" (or "MMMM") and 4 more bytes, then the offset of its entry list
(int32u); the list is an entry count (int32u), 4 unused bytes, then entries of 16 bytes
(``PhaseOne::Main``: tag, format size, value size, value or offset) or 12 bytes
(``PhaseOne::SensorCalibration``: no format size).  Offsets are from the directory start.
The format is the tag's own, else by size (1 string, 2 int16s, 4 int32s; 12-byte entries:
int32s, or undef for sizes not a multiple of 4); an int32s whose first value has a float's
exponent (121..139) is read as a float, as ExifTool guesses.
"""

from __future__ import annotations

import struct

ENTRY_SIZE = {"PhaseOne::Main": 16, "PhaseOne::SensorCalibration": 12}
FORMAT_BY_SIZE = {1: "string", 2: "int16s", 4: "int32s"}
UNIT = {"string": 1, "undef": 1, "int16s": 2, "int32s": 4, "int32u": 4, "float": 4,
        "double": 8, "int16u": 2, "int8u": 1}
MAX_ENTRIES = 300


def read(walker, table: str, raw: bytes) -> None:
    from engine.makernotes.tables import CODES, TABLES

    size = ENTRY_SIZE.get(table, 16)
    if len(raw) < 12 or raw[:4] not in (b"IIII", b"MMMM"):
        return
    bo = "<" if raw[:1] == b"I" else ">"
    start = struct.unpack_from(bo + "I", raw, 8)[0]
    if start + 8 > len(raw):
        return
    n = struct.unpack_from(bo + "I", raw, start)[0]
    if not 2 <= n <= MAX_ENTRIES or start + 8 + size * n > len(raw):
        walker.warn(f"{table} directory at {start} ({n} entries) is not valid")
        return
    tags, subdirs = TABLES[table][4], TABLES[table][5]
    for i in range(n):
        at = start + 8 + size * i
        tag = struct.unpack_from(bo + "I", raw, at)[0]
        vsize = struct.unpack_from(bo + "I", raw, at + size - 8)[0]
        fmt = FORMAT_BY_SIZE.get(struct.unpack_from(bo + "I", raw, at + 4)[0], "undef") \
            if size == 16 else ("undef" if vsize % 4 else "int32s")
        vpos = at + size - 4
        if vsize > 4:
            vpos = struct.unpack_from(bo + "I", raw, vpos)[0]
            if vpos + vsize > len(raw):
                walker.warn(f"{table} entry {i}: value at {vpos} ({vsize} bytes) is outside "
                            "the maker note")
                return
        value = raw[vpos : vpos + vsize]
        for cond, sub, where in subdirs.get(tag, ()):
            if walker.holds(cond):
                walker.subdir(sub, where, value, -1 - len(walker.visited), 0, bo)
                break
        else:
            variant = walker.choose(tags.get(tag, ()))
            if variant is None:
                continue
            code = variant[4]
            spec = CODES[code][5] if code is not None else None
            fmt = spec or fmt
            if fmt == "int32s" and len(value) >= 4 and \
                    120 < (struct.unpack_from(bo + "i", value)[0] & 0x7F800000) >> 23 < 140:
                fmt = "float"
            unit = UNIT.get(fmt, 1)
            walker.add(table, variant[0], fmt, value[: len(value) // unit * unit], bo,
                       variant[3], code)
