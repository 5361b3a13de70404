"""Photoshop image resources (JPEG APP13 ``Photoshop 3.0``, TIFF tag 0x8649): the resource
blocks ExifTool names (Photoshop.pm), as it prints them."""

from __future__ import annotations

import struct

from engine.groups.common import (
    AS_TIFF,
    FORMATS,
    binary_table,
    jpeg_segments,
    num,
    tag,
    tiff_entry,
)
from engine.groups.tables import (
    PS_MAIN,
    PS_PIXEL,
    PS_PRINTSCALE,
    PS_QUALITY,
    PS_RESOLUTION,
    PS_SLICE,
    PS_VERSION,
)

PART, GROUP = "photoshop", "Photoshop"
PS_TIFF_TAG = 0x8649
# resources that are binary sub-tables (not in -listx's Main): id -> (table, id unit in bytes)
SUBTABLES = {0x03ED: (PS_RESOLUTION, 2), 0x0406: (PS_QUALITY, 2), 0x0426: (PS_PRINTSCALE, 1),
             0x0428: (PS_PIXEL, 1)}
# resources Photoshop.pm marks Unknown (shown only with -u)
UNKNOWN = frozenset([0x03E8, 0x03E9, 0x03EA, 0x03EB, *range(0x03EF, 0x03F3), 0x03F4,
                     *range(0x03F5, 0x0404), 0x0405, 0x0408, 0x040E, *range(0x0410, 0x0418),
                     0x041C, 0x041D, 0x0423, 0x0429, 0x042A, 0x042B, *range(0x042E, 0x0437),
                     0x0438, *range(0x043A, 0x0441), 0x0BB8])
IPTC_RESOURCE = 0x0404
THUMBNAILS = (0x0409, 0x040C)
MAX_RESOURCES = 10000


def read(data, blocks, md) -> tuple[list, list[str]]:
    irb = find_irb(data, blocks, md)
    return (decode_irb(irb), []) if irb else ([], [])


def find_irb(data, blocks, md) -> bytes | None:
    segments = jpeg_segments(data, blocks, md)
    if segments is not None:
        from engine.containers.jpeg import find_kind, photoshop_block

        idx = find_kind(segments, "photoshop")
        return photoshop_block(segments, idx[0])[0] if idx else None
    if md.format in AS_TIFF:
        return tiff_entry(blocks, PS_TIFF_TAG)
    return None


def resources(irb: bytes):
    """(id, data) of each ``8BIM`` resource block."""
    pos = 0
    for _ in range(MAX_RESOURCES):
        if pos + 12 > len(irb) or irb[pos:pos + 4] not in (b"8BIM", b"MeSa", b"PHUT", b"DCSR"):
            return
        rid = struct.unpack_from(">H", irb, pos + 4)[0]
        nlen = irb[pos + 6]
        pos += 6 + ((nlen + 2) & ~1)
        if pos + 4 > len(irb):
            return
        size = struct.unpack_from(">I", irb, pos)[0]
        pos += 4
        yield rid, irb[pos:pos + size]
        pos += size + (size & 1)


def decode_irb(irb: bytes) -> list:
    out = []
    for rid, value in resources(irb):
        if rid in SUBTABLES:
            table, unit = SUBTABLES[rid]
            tags = binary_table(value, table, PART, GROUP, unit)
            if rid == 0x0406:
                tags = quality(tags)
            if rid == 0x03ED:  # 16.16 fixed resolutions
                tags = [t.replace(value=num(int(t.value) / 65536))
                        if t.name.endswith("Resolution") else t for t in tags]
            out += tags
        elif rid == 0x041A:
            out += slices(value)
        elif rid == 0x0421:
            out += version_info(value)
        elif str(rid) in PS_MAIN and rid != IPTC_RESOURCE and rid not in UNKNOWN:
            out += main_tag(rid, value)
    return out


def quality(tags: list) -> list:
    """PhotoshopQuality is stored minus 4; ProgressiveScans only for progressive JPEGs."""
    fmt = next((t.value for t in tags if t.name == "PhotoshopFormat"), "")
    return [t.replace(value=str(int(t.value) + 4)) if t.name == "PhotoshopQuality" else t
            for t in tags if t.name != "ProgressiveScans" or fmt == "Progressive"]


def main_tag(rid: int, value: bytes) -> list:
    name, fmt, _count, conv = PS_MAIN[str(rid)]
    if rid == 0x0425:
        return [tag(PART, GROUP, name, value.hex())]
    if rid == 0x041E:
        return [tag(PART, GROUP, name, url_list(value))]
    if fmt == "string":
        return [tag(PART, GROUP, name, value.decode("latin-1").rstrip("\0"))]
    if rid in THUMBNAILS:  # a JPEG after a 28-byte header (Photoshop.pm)
        return [tag(PART, GROUP, name, None, binary=max(len(value) - 28, 0))]
    if fmt in FORMATS and len(value) >= FORMATS[fmt][1]:
        raw = num(struct.unpack_from(">" + FORMATS[fmt][0], value)[0])
        return [tag(PART, GROUP, name, conv.get(raw, raw) if conv else raw)]
    return [tag(PART, GROUP, name, None, binary=len(value))]


def ustr(value: bytes, pos: int) -> tuple[str, int]:
    """A Photoshop Unicode string (count of UTF-16 units, then the units) and its end."""
    if pos + 4 > len(value):
        return "", len(value)
    n = struct.unpack_from(">I", value, pos)[0]
    end = min(pos + 4 + 2 * n, len(value))
    return value[pos + 4:end].decode("utf-16-be", "replace").rstrip("\0"), end


def slices(value: bytes) -> list:
    name, end = ustr(value, 20)
    out = [tag(PART, GROUP, PS_SLICE["20"][0], name)]
    if end + 4 <= len(value):
        out.append(tag(PART, GROUP, PS_SLICE["24"][0],
                       str(struct.unpack_from(">I", value, end)[0])))
    return out


def version_info(value: bytes) -> list:
    if len(value) < 5:
        return []
    name, conv = PS_VERSION["4"][0], PS_VERSION["4"][3]
    out = [tag(PART, GROUP, name, conv.get(str(value[4]), str(value[4])))]
    writer, end = ustr(value, 5)
    reader, _ = ustr(value, end)
    return out + [tag(PART, GROUP, PS_VERSION["5"][0], writer),
                  tag(PART, GROUP, PS_VERSION["9"][0], reader)]


def url_list(value: bytes) -> list[str]:
    if len(value) < 4:
        return []
    n = struct.unpack_from(">I", value)[0]
    out, pos = [], 4
    for _ in range(min(n, len(value) // 8)):
        s, pos = ustr(value, pos + 8)
        out.append(s)
    return out


def tag_bytes(data, blocks, md, path: str) -> bytes | None:
    """The bytes of a binary resource (``photoshop/PhotoshopThumbnail``: the JPEG)."""
    name, _, nth = path.split("/", 1)[-1].partition("#")
    irb = find_irb(data, blocks, md)
    found = [(rid, value) for rid, value in resources(irb or b"")
             if PS_MAIN.get(str(rid), ("",))[0] == name]
    n = int(nth) - 1 if nth.isdigit() else 0
    if n >= len(found):
        return None
    rid, value = found[n]
    return value[28:] if rid in THUMBNAILS else value
