"""The item properties of a HEIF file's primary image (``meta/iprp``): its size (``ispe``)
and colour profile (``colr``), which ExifTool shows in the File and ICC_Profile groups."""

from __future__ import annotations

import struct

MAX_ASSOC = 4096  # more associations than a real file has


def primary_properties(data) -> list:
    """The property boxes associated with the primary item (``pitm``), in ``ipma`` order."""
    from engine.containers.isobmff import LAZY_TYPES, parse_boxes

    parsed = parse_boxes(data, lazy=LAZY_TYPES)
    meta = next((b for b in parsed.boxes if b.type == b"meta"), None)
    if meta is None or meta.children is None:
        return []
    pitm, iprp = meta.find(b"pitm"), meta.find(b"iprp")
    ipco = iprp.find(b"ipco") if iprp is not None else None
    ipma = iprp.find(b"ipma") if iprp is not None else None
    if pitm is None or ipco is None or ipma is None or not ipco.children:
        return []
    body = pitm.body(data)
    if len(body) < 6:
        return []
    primary = struct.unpack_from(">H" if body[0] == 0 else ">I", body, 4)[0]
    indexes = associations(ipma.body(data)).get(primary, [])
    return [ipco.children[i - 1] for i in indexes if 0 < i <= len(ipco.children)]


def associations(body: bytes) -> dict[int, list[int]]:
    """item id -> property indexes (1-based) of an ``ipma`` box body."""
    if len(body) < 8:
        return {}
    version, flags = body[0], int.from_bytes(body[1:4], "big")
    count = struct.unpack_from(">I", body, 4)[0]
    pos, out = 8, {}
    for _ in range(min(count, MAX_ASSOC)):
        idlen = 2 if version < 1 else 4
        if pos + idlen + 1 > len(body):
            break
        item = int.from_bytes(body[pos:pos + idlen], "big")
        n = body[pos + idlen]
        pos += idlen + 1
        size = 2 if flags & 1 else 1
        if pos + n * size > len(body):
            break
        mask = 0x7FFF if size == 2 else 0x7F
        out[item] = [int.from_bytes(body[pos + i * size:pos + (i + 1) * size], "big") & mask
                     for i in range(n)]
        pos += n * size
    return out


def primary_size(data) -> tuple[int, int] | None:
    for box in primary_properties(data):
        if box.type == b"ispe":
            body = box.body(data)
            if len(body) >= 12:
                w, h = struct.unpack_from(">II", body, 4)
                return w, h
    return None


def icc_profiles(data) -> list[bytes]:
    """Every ``colr`` profile of the item properties, in order (ExifTool reads them all)."""
    from engine.containers.isobmff import LAZY_TYPES, parse_boxes

    parsed = parse_boxes(data, lazy=LAZY_TYPES)
    meta = next((b for b in parsed.boxes if b.type == b"meta"), None)
    iprp = meta.find(b"iprp") if meta is not None else None
    ipco = iprp.find(b"ipco") if iprp is not None else None
    out = []
    for box in ipco.children or () if ipco is not None else ():
        if box.type == b"colr":
            body = box.body(data)
            if body[:4] in (b"prof", b"rICC"):
                out.append(body[4:])
    return out
