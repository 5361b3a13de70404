"""Photoshop image resource blocks (8BIM), as in JPEG APP13 and TIFF tag 34377.

Pure parse/render: ``render_irb(parse_irb(b)) == b`` for every well-formed block.
"""

from __future__ import annotations

import struct

from engine.record import Record

IPTC_ID = 0x0404
IPTC_DIGEST_ID = 0x0425
_SIGS = (b"8BIM", b"PHUT", b"DCSR", b"AgHg", b"MeSa")


class Resource(Record):
    __slots__ = ("sig", "rid", "name", "data")
    sig: bytes  # b"8BIM" normally
    rid: int
    name: bytes  # Pascal string body, without the length byte or padding
    data: bytes

    def __init__(self, sig: bytes, rid: int, name: bytes, data: bytes) -> None:
        self.sig = sig
        self.rid = rid
        self.name = name
        self.data = data


def parse_irb(data: bytes) -> tuple[list[Resource], list[str]]:
    """Parse a resource block; tolerant: stops at the first bad resource with a warning."""
    out: list[Resource] = []
    warnings: list[str] = []
    pos, end = 0, len(data)
    while pos + 12 <= end:
        sig = bytes(data[pos : pos + 4])
        if sig not in _SIGS:
            if data[pos:end].strip(b"\0"):
                warnings.append(f"Photoshop: bad resource signature at offset {pos}")
            break
        rid = struct.unpack_from(">H", data, pos + 4)[0]
        nlen = data[pos + 6]
        name_total = (1 + nlen + 1) & ~1  # the Pascal string is padded to an even size
        p = pos + 6 + name_total
        if p + 4 > end:
            warnings.append(f"Photoshop: resource 0x{rid:04x} truncated at offset {pos}")
            break
        size = struct.unpack_from(">I", data, p)[0]
        p += 4
        if p + size > end:
            warnings.append(f"Photoshop: resource 0x{rid:04x} runs past the end at offset {pos}")
            break
        name = bytes(data[pos + 7 : pos + 7 + nlen])
        out.append(Resource(sig, rid, name, bytes(data[p : p + size])))
        pos = p + size + (size & 1)
    return out, warnings


def render_irb(resources: list[Resource]) -> bytes:
    parts = []
    for r in resources:
        name = bytes([len(r.name)]) + r.name
        if len(name) & 1:
            name += b"\0"
        parts.append(r.sig + struct.pack(">H", r.rid) + name + struct.pack(">I", len(r.data)))
        parts.append(r.data + (b"\0" if len(r.data) & 1 else b""))
    return b"".join(parts)


def find_iptc(data: bytes) -> bytes | None:
    """The IIM data of the first IPTC resource (0x0404), if any."""
    resources, _ = parse_irb(data)
    for r in resources:
        if r.rid == IPTC_ID and r.sig == b"8BIM":
            return r.data
    return None
