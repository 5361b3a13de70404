"""ISO base media file format (ISO/IEC 14496-12) boxes: parse and render, shared by HEIF
and CR3.

Boxes: 32-bit size + type, size 1 = 64-bit size follows, size 0 = to the end of the enclosing
space; ``uuid`` boxes carry a 16-byte extended type.  The header form is kept so that
``render_boxes(parse_boxes(d)) == d`` exactly.  Pure functions on bytes; tolerant: a bad box
ends its run with a warning, the rest of the file is kept as an opaque tail.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from engine.containers.pieces import source_bytes

MAX_DEPTH = 16
MAX_BOXES = 100_000  # per parse; a box needs 8 bytes, so also capped by the data length
# containers whose payload is a plain sequence of boxes (after a full-box header for meta)
CONTAINERS = {
    b"moov": 0, b"trak": 0, b"mdia": 0, b"minf": 0, b"dinf": 0, b"stbl": 0, b"udta": 0,
    b"edts": 0, b"iprp": 0, b"ipco": 0, b"meta": 4,
}  # fmt: skip
# leaf boxes whose bodies extract need not copy (image data, previews; uuid except XMP's)
LAZY_TYPES = frozenset({b"mdat", b"free", b"skip", b"wide", b"PRVW", b"THMB", b"uuid"})
CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
@dataclass(slots=True)
class Box:
    type: bytes
    offset: int  # file offset of the box header (-1: not from a file)
    payload: bytes | None = b""  # bytes after the header, when ``children`` is None;
    # None for a lazy box (``parse_boxes(lazy=...)``): its body is source[data_offset:+body_len]
    children: list[Box] | None = None  # parsed content of container boxes
    prefix: bytes = b""  # container bytes before the children (full-box version/flags)
    uuid: bytes | None = None  # extended type of a ``uuid`` box
    form: int = 0  # 0: 32-bit size, 1: 64-bit size, 2: size 0 (to the end)
    body_len: int = 0  # length of the body in the source file

    @property
    def header_len(self) -> int:
        return (16 if self.form == 1 else 8) + (16 if self.uuid is not None else 0)

    @property
    def data_offset(self) -> int:
        return self.offset + self.header_len

    def body(self, source: bytes | None = None) -> bytes:
        if self.children is not None:
            return self.prefix + b"".join(c.render(source) for c in self.children)
        if self.payload is not None:
            return self.payload
        return source_bytes(source, self.data_offset, self.body_len,
                            f"ISOBMFF: lazy box {self.type!r}")

    def render(self, source: bytes | None = None) -> bytes:
        """The box bytes; ``source`` (the parsed file) is needed only for lazy boxes."""
        body = self.body(source)
        ext = self.uuid or b""
        size = len(body) + len(ext)
        if self.form == 2:
            return struct.pack(">I", 0) + self.type + ext + body
        if self.form == 1 or size + 8 > 0xFFFFFFFF:
            return struct.pack(">I", 1) + self.type + struct.pack(">Q", size + 16) + ext + body
        return struct.pack(">I", size + 8) + self.type + ext + body

    def find(self, btype: bytes) -> Box | None:
        for c in self.children or ():
            if c.type == btype:
                return c
        return None


@dataclass(slots=True)
class BoxList:
    boxes: list[Box]
    tail_offset: int  # data[tail_offset:] could not be parsed into boxes; kept verbatim
    warnings: list[str] = field(default_factory=list)


def parse_boxes(data: bytes, path: str = "?", lazy: frozenset[bytes] = frozenset()) -> BoxList:
    """Parse the top-level boxes of ``data`` (and the containers in them).  The bodies of
    leaf boxes whose type is in ``lazy`` (e.g. ``mdat``) are not copied (see ``Box.body``)."""
    warnings: list[str] = []
    budget = [MAX_BOXES]
    boxes, end = parse_range(data, 0, len(data), 0, warnings, budget, lazy)
    if end < len(data):
        warnings.append(f"ISOBMFF: {len(data) - end} unparsed bytes at offset {end}")
    return BoxList(boxes, end, [f"{path}: {w}" for w in warnings])


def parse_range(
    data: bytes,
    pos: int,
    end: int,
    depth: int,
    warnings: list[str],
    budget: list[int],
    lazy: frozenset[bytes] = frozenset(),
) -> tuple[list[Box], int]:
    """Boxes in data[pos:end]; returns them and where parsing stopped."""
    out: list[Box] = []
    while pos + 8 <= end and budget[0] > 0:
        budget[0] -= 1
        size, btype = struct.unpack_from(">I4s", data, pos)
        hlen, form = 8, 0
        if size == 1:
            if pos + 16 > end:
                warnings.append(f"ISOBMFF: truncated box header at offset {pos}")
                break
            size, hlen, form = struct.unpack_from(">Q", data, pos + 8)[0], 16, 1
        elif size == 0:
            size, form = end - pos, 2
        uuid = None
        if btype == b"uuid":
            if pos + hlen + 16 > end:
                warnings.append(f"ISOBMFF: truncated uuid box at offset {pos}")
                break
            uuid = bytes(data[pos + hlen : pos + hlen + 16])
            hlen += 16
        if size < hlen or pos + size > end:
            warnings.append(f"ISOBMFF: box {btype!r} at offset {pos} has a bad size {size}")
            break
        box = Box(btype, pos, uuid=uuid, form=form, body_len=size - hlen)
        _fill(box, data, pos + hlen, pos + size, depth, warnings, budget, lazy)
        out.append(box)
        pos += size
    return out, pos


def _fill(
    box: Box,
    data: bytes,
    start: int,
    end: int,
    depth: int,
    w: list[str],
    budget: list[int],
    lazy: frozenset[bytes],
) -> None:
    skip = CONTAINERS.get(box.type)
    if box.type == b"uuid" and box.uuid == CANON_UUID:
        skip = 0
    if skip is None or depth >= MAX_DEPTH or start + skip > end:
        keep = box.type not in lazy or (box.type == b"uuid" and box.uuid == XMP_UUID)
        box.payload = bytes(data[start:end]) if keep else None
        return
    kids, stop = parse_range(data, start + skip, end, depth + 1, w, budget, lazy)
    if stop != end:  # children do not cover the box: keep it opaque
        box.payload = bytes(data[start:end])
        return
    box.prefix = bytes(data[start : start + skip])
    box.children = kids


def render_boxes(boxes: list[Box], tail: bytes = b"", source: bytes | None = None) -> bytes:
    return b"".join(b.render(source) for b in boxes) + bytes(tail)


def box_header(btype: bytes, body_len: int) -> bytes:
    """A box header for a body of ``body_len`` bytes (64-bit size when it needs one)."""
    if body_len + 8 <= 0xFFFFFFFF:
        return struct.pack(">I", body_len + 8) + btype
    return struct.pack(">I", 1) + btype + struct.pack(">Q", body_len + 16)
