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


def replace_iptc(irb: bytes, edit, path: str, damaged: str,
                 digest: tuple[bytes | None, bytes] | None = None) -> tuple[bytes, bool]:
    """``irb`` with its IPTC resource (8BIM 0x0404, as the reader finds it) set to
    ``edit(old)``, ``old`` being that resource's IIM (None when there is none), and its
    IPTCDigest refreshed when it was the digest of the old IIM (engine.iptc.digest).

    ``edit`` returns the new IIM, or None to leave the resource as it is (none is created).
    ``digest``: the (old, new) IIM the digest follows, when the IPTC lives elsewhere too
    (TIFF tag 33723); else the resource's own.  One rule on damage: an IRB the tolerant
    parser had to cut short is never rewritten (WriteError with ``damaged``, in which
    ``{why}`` names the damage).  Returns (the new IRB, whether it differs from ``irb``
    as parsed)."""
    from engine.errors import WriteError
    from engine.iptc.digest import update_digest

    resources, warnings = parse_irb(irb)
    if warnings:
        raise WriteError(damaged.format(why=warnings[0]), path=path)
    before = render_irb(resources)
    res = next((r for r in resources if r.rid == IPTC_ID and r.sig == b"8BIM"), None)
    old = res.data if res is not None else None
    iim = edit(old)
    if iim is not None and res is None:
        resources.append(Resource(b"8BIM", IPTC_ID, b"", iim))
    elif iim is not None:
        res.data = iim
    if digest is None and iim is not None:
        digest = (old, iim)
    if digest is not None:
        update_digest(resources, *digest)
    after = render_irb(resources)
    return after, after != before


def irb_damage(irb: bytes) -> str | None:
    """What the tolerant parser had to skip in ``irb`` (None: nothing)."""
    return next(iter(parse_irb(irb)[1]), None)
