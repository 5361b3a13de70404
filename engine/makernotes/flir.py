"""The FLIR thermal data of a JPEG's APP1 ``FLIR`` segments (read only, the "flir" part).

Facts from ExifTool's ``FLIR.pm`` (ProcessFLIR) and ``ExifTool.pm`` (how the segments are
joined): each APP1 segment starts ``FLIR\\0``, byte 6 is the chunk number and byte 7 the
number of chunks less one; the chunks' data (from byte 8) joined in chunk order is an FFF
block.  Its 64-byte header starts ``FFF\\0`` (the creator software at byte 4), holds the
format version at 0x14 (100..199: that read decides the byte order), the record directory's
offset at 0x18 and its entry count at 0x1c.  Each 32-byte directory entry gives a record's
type (int16u at 0), offset (0x0c) and length (0x10); the record types ExifTool decodes are
sub-directories of the generated table ``FLIR::FFF`` (binary tables read by
engine.makernotes.decode.Walker).  A record whose first int16u reads 0x100 or more in the
block's byte order is in the other one (ExifTool's ToggleByteOrder in those tables).
Tags get paths ``flir/<Name>`` and ExifTool's family-1 group FLIR.
"""

from __future__ import annotations

import struct

from engine.model import Blocks, Metadata, TagValue

PART = "flir"
MAX_RECORDS = 256


def chunks(segments) -> bytes | None:
    """The FFF block of the APP1 FLIR segments (None if there are none or they disagree)."""
    parts: dict[int, bytes] = {}
    total = None
    for seg in segments:
        p = seg.payload
        if seg.marker != 0xE1 or not p.startswith(b"FLIR\0") or len(p) < 8:
            continue
        if total is None:
            total = p[7] + 1
        elif p[7] + 1 != total:
            return None  # ExifTool stops reading FLIR chunks at an inconsistent count
        parts[p[6]] = parts.get(p[6], b"") + bytes(p[8:])
        if len(parts) >= total:
            break
    return b"".join(parts[k] for k in sorted(parts)) if parts else None


def read(data, blocks: Blocks, md: Metadata) -> tuple[list[TagValue], list[str]]:
    from engine.groups.common import jpeg_segments

    block = chunks(jpeg_segments(data, blocks, md) or ())
    if block is None:
        return [], []
    return decode_fff(block, md.path)


def decode_fff(fff: bytes, path: str) -> tuple[list[TagValue], list[str]]:
    from engine.makernotes.decode import Walker
    from engine.makernotes.tables import TABLES

    walker = Walker(fff, path, PART)
    if len(fff) < 0x40 or fff[:4] not in (b"FFF\0", b"AFF\0"):
        return [], []
    bo = ">" if 100 <= struct.unpack_from(">I", fff, 0x14)[0] < 200 else "<"
    if not 100 <= struct.unpack_from(bo + "I", fff, 0x14)[0] < 200:
        walker.warn("unsupported FLIR FFF version")
        return [], walker.warnings
    walker.subdir("FLIR::Header", "inline", fff[:0x40], 0, 0, bo)
    pos, num = struct.unpack_from(bo + "II", fff, 0x18)
    if num > MAX_RECORDS or pos + num * 0x20 > len(fff):
        walker.warn(f"FLIR FFF directory at offset {pos} ({num} entries) is truncated")
        num = max(0, min(num, MAX_RECORDS, (len(fff) - pos) // 0x20))
    records = TABLES["FLIR::FFF"][5]
    for i in range(num):
        entry = pos + i * 0x20
        rtype = struct.unpack_from(bo + "H", fff, entry)[0]
        rpos, rlen = struct.unpack_from(bo + "II", fff, entry + 0x0C)
        if rtype == 0 or rtype not in records:
            continue
        if rpos + rlen > len(fff):
            walker.warn(f"FLIR record 0x{rtype:02x} at offset {rpos} ({rlen} bytes) is "
                        "outside the FLIR data")
            break
        rec = fff[rpos : rpos + rlen]
        for cond, table, where in records[rtype]:
            if walker.holds(cond):
                walker.subdir(table, where, rec, rpos, 0, _order(table, rec, bo))
                break
    return walker.finish(), walker.warnings


def _order(table: str, rec: bytes, bo: str) -> str:
    """The record's byte order: the other one when its table checks the first int16u
    (a RawConv calling ToggleByteOrder) and it reads 0x100 or more."""
    from engine.makernotes.tables import CODES, TABLES

    first = TABLES[table][4].get(0, ())
    code = first[0][4] if first else None
    if code is None or "ToggleByteOrder" not in (CODES[code][1] or "") or len(rec) < 2:
        return bo
    if struct.unpack_from(bo + "H", rec)[0] >= 0x100:
        return "<" if bo == ">" else ">"
    return bo
