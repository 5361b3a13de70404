"""HEIF/HEIC/AVIF (and Canon CR3): ISO base media box parse/render and block extraction.

Boxes: 32-bit size + type, size 1 = 64-bit size follows, size 0 = to the end of the enclosing
space; ``uuid`` boxes carry a 16-byte extended type.  The header form is kept so that
``render_boxes(parse_boxes(d)) == d`` exactly.  In HEIF the metadata are *items* of the ``meta``
box: ``iinf``/``infe`` names their type (``Exif``, or ``mime`` with content type
``application/rdf+xml`` for XMP) and ``iloc`` says where their bytes are (file offsets, or
offsets into the ``idat`` box).  The Exif item starts with a 4-byte big-endian offset to the
TIFF header (ISO/IEC 23008-12 Annex A).  CR3 keeps its TIFF blocks in ``moov/uuid(Canon)``
boxes ``CMT1``.. and its XMP in a top-level ``uuid`` box.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from engine.containers.base import FileFormat
from engine.errors import CorruptFileError
from engine.model import Blocks

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
_BRANDS = {
    b"heic": "HEIC", b"heix": "HEIF", b"heim": "HEIC", b"heis": "HEIC", b"hevc": "HEICS",
    b"hevx": "HEICS", b"mif1": "HEIF", b"mif2": "HEIF", b"msf1": "HEIFS", b"avif": "AVIF",
    b"avis": "AVIF", b"crx ": "CR3",
}  # fmt: skip


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
        if source is None:
            raise CorruptFileError(f"ISOBMFF: lazy box {self.type!r} rendered without its source")
        start = self.data_offset
        return bytes(source[start : start + self.body_len])

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
    boxes, end = _parse_range(data, 0, len(data), 0, warnings, budget, lazy)
    if end < len(data):
        warnings.append(f"ISOBMFF: {len(data) - end} unparsed bytes at offset {end}")
    return BoxList(boxes, end, [f"{path}: {w}" for w in warnings])


def _parse_range(
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
    kids, stop = _parse_range(data, start + skip, end, depth + 1, w, budget, lazy)
    if stop != end:  # children do not cover the box: keep it opaque
        box.payload = bytes(data[start:end])
        return
    box.prefix = bytes(data[start : start + skip])
    box.children = kids


def render_boxes(boxes: list[Box], tail: bytes = b"", source: bytes | None = None) -> bytes:
    return b"".join(b.render(source) for b in boxes) + bytes(tail)


# --- meta box contents --------------------------------------------------------------------


@dataclass(slots=True)
class ItemInfo:
    item_id: int
    item_type: bytes  # 4cc; b"" for infe version 0/1
    name: bytes
    content_type: bytes = b""
    content_encoding: bytes = b""
    protection_index: int = 0  # non-zero: the item's data is encrypted (sinf in ipro)


def _cstr(buf: bytes, pos: int) -> tuple[bytes, int]:
    nul = buf.find(b"\0", pos)
    if nul < 0:
        return buf[pos:], len(buf)
    return buf[pos:nul], nul + 1


def parse_iinf(payload: bytes, warnings: list[str]) -> list[ItemInfo]:
    """Item infos of an ``iinf`` box payload (full box header included)."""
    if len(payload) < 6:
        return []
    version = payload[0]
    pos = 6 if version == 0 else 8
    items: list[ItemInfo] = []
    boxes, _ = _parse_range(payload, pos, len(payload), MAX_DEPTH, warnings, [len(payload)])
    for b in boxes:
        p = b.payload or b""
        if b.type != b"infe" or len(p) < 4:
            continue
        v = p[0]
        try:
            if v >= 2:
                if v == 2:
                    iid, prot, itype = struct.unpack_from(">HH4s", p, 4)
                    pos = 12
                else:
                    iid, prot, itype = struct.unpack_from(">IH4s", p, 4)
                    pos = 14
                name, pos = _cstr(p, pos)
                ctype = enc = b""
                if itype == b"mime":
                    ctype, pos = _cstr(p, pos)
                    enc, pos = _cstr(p, pos)
                items.append(ItemInfo(iid, itype, name, ctype, enc, prot))
            else:
                iid, prot = struct.unpack_from(">HH", p, 4)
                name, pos = _cstr(p, 8)
                ctype, pos = _cstr(p, pos)
                enc, pos = _cstr(p, pos)
                items.append(ItemInfo(iid, b"", name, ctype, enc, prot))
        except struct.error:
            warnings.append(f"HEIF: truncated infe box at offset {b.offset}")
    return items


@dataclass(slots=True)
class ItemLocation:
    item_id: int
    construction_method: int
    data_reference_index: int
    base_offset: int
    extents: list[tuple[int, int, int]]  # (extent_index, offset, length)


@dataclass(slots=True)
class Iloc:
    version: int
    flags: int
    offset_size: int
    length_size: int
    base_offset_size: int
    index_size: int  # the raw nibble (reserved, unused in version 0)
    items: list[ItemLocation]


def _uint(buf: bytes, pos: int, n: int) -> int:
    if n == 0:
        return 0
    if pos + n > len(buf):
        raise struct.error("short")
    return int.from_bytes(buf[pos : pos + n], "big")


def parse_iloc(payload: bytes) -> Iloc:
    """An ``iloc`` payload (full box header included); raises CorruptFileError if broken."""
    try:
        vf = struct.unpack_from(">I", payload, 0)[0]
        version, flags = vf >> 24, vf & 0xFFFFFF
        if version > 2:
            raise CorruptFileError(f"HEIF: iloc version {version} is not supported")
        sizes = payload[4], payload[5]
        osz, lsz, bsz = sizes[0] >> 4, sizes[0] & 15, sizes[1] >> 4
        raw_isz = sizes[1] & 15  # reserved in version 0, kept for exact rendering
        isz = raw_isz if version in (1, 2) else 0
        if any(s not in (0, 4, 8) for s in (osz, lsz, bsz, isz)):
            raise CorruptFileError("HEIF: iloc field sizes are invalid")
        pos = 6
        count = _uint(payload, pos, 2 if version < 2 else 4)
        pos += 2 if version < 2 else 4
        items: list[ItemLocation] = []
        for _ in range(min(count, len(payload) // 4)):
            iid = _uint(payload, pos, 2 if version < 2 else 4)
            pos += 2 if version < 2 else 4
            method = 0
            if version in (1, 2):
                method = _uint(payload, pos, 2) & 15
                pos += 2
            dref = _uint(payload, pos, 2)
            base = _uint(payload, pos + 2, bsz)
            pos += 2 + bsz
            n = _uint(payload, pos, 2)
            pos += 2
            extents = []
            for _ in range(n):
                idx = _uint(payload, pos, isz)
                off = _uint(payload, pos + isz, osz)
                ln = _uint(payload, pos + isz + osz, lsz)
                pos += isz + osz + lsz
                extents.append((idx, off, ln))
            items.append(ItemLocation(iid, method, dref, base, extents))
    except struct.error as e:
        raise CorruptFileError("HEIF: truncated iloc box") from e
    return Iloc(version, flags, osz, lsz, bsz, raw_isz, items)


def render_iloc(iloc: Iloc) -> bytes:
    """The ``iloc`` payload (full box header included); inverse of ``parse_iloc``."""
    v = iloc.version

    def u(val: int, n: int) -> bytes:
        return val.to_bytes(n, "big") if n else b""

    idn = 2 if v < 2 else 4
    isz = iloc.index_size if v in (1, 2) else 0
    out = [struct.pack(">I", (v << 24) | iloc.flags)]
    sizes = (
        (iloc.offset_size << 4) | iloc.length_size,
        (iloc.base_offset_size << 4) | iloc.index_size,
    )
    out.append(bytes(sizes))
    out.append(u(len(iloc.items), idn))
    for it in iloc.items:
        out.append(u(it.item_id, idn))
        if v in (1, 2):
            out.append(u(it.construction_method, 2))
        out.append(u(it.data_reference_index, 2) + u(it.base_offset, iloc.base_offset_size))
        out.append(u(len(it.extents), 2))
        for idx, off, ln in it.extents:
            out.append(u(idx, isz) + u(off, iloc.offset_size))
            out.append(u(ln, iloc.length_size))
    return b"".join(out)


def item_data(
    data: bytes, loc: ItemLocation, idat: Box | None, warnings: list[str]
) -> tuple[bytes, int] | None:
    """(bytes, file offset of the first byte) of an item; None if it cannot be read."""
    if loc.construction_method == 0:
        src, src_off = data, 0
    elif loc.construction_method == 1 and idat is not None:
        src, src_off = idat.body(data), idat.data_offset
    else:
        warnings.append(
            f"HEIF: item {loc.item_id} uses construction method {loc.construction_method}"
        )
        return None
    parts, first = [], None
    for _idx, off, ln in loc.extents:
        start = loc.base_offset + off
        stop = len(src) if ln == 0 else start + ln
        if start > len(src) or stop > len(src):
            warnings.append(f"HEIF: item {loc.item_id} extent at {start} runs past the end")
            return None
        parts.append(bytes(src[start:stop]))
        first = src_off + start if first is None else first
    if first is None:
        return None
    return b"".join(parts), first


def brand_type(head: bytes) -> str | None:
    """ExifTool's FileType from the ``ftyp`` major brand (None if not an image brand)."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    return _BRANDS.get(bytes(head[8:12]))


XMP_MIME = b"application/rdf+xml"


def metadata_kind(info: ItemInfo) -> str | None:
    """"exif" for an Exif item, "xmp" for an XMP item (a ``mime`` item, or an infe version 0/1
    item, whose content type is application/rdf+xml), else None."""
    if info.item_type == b"Exif":
        return "exif"
    if info.item_type in (b"mime", b"") and info.content_type == XMP_MIME:
        return "xmp"
    return None


def exif_tiff_start(blob: bytes) -> int:
    """Where the TIFF header starts in an Exif item (``len(blob)`` or more if nowhere): after
    the 4-byte big-endian offset and the bytes it skips (Annex A of ISO/IEC 23008-12)."""
    skip = 4 + struct.unpack_from(">I", blob, 0)[0]
    if blob[skip : skip + 4] not in (b"MM\0\x2a", b"II\x2a\0"):
        # some writers get the offset wrong: look for the header just after it
        alt = blob.find(b"Exif\0\0", 4, 64)
        skip = alt + 6 if alt >= 0 else skip
    return skip


def _heif_blocks(data: bytes, meta: Box, b: Blocks, warn: list[str]) -> None:
    iinf, iloc_box, idat = meta.find(b"iinf"), meta.find(b"iloc"), meta.find(b"idat")
    if iinf is None or iloc_box is None:
        return
    infos = parse_iinf(iinf.body(data), warn)
    try:
        locs = {it.item_id: it for it in parse_iloc(iloc_box.body(data)).items}
    except CorruptFileError as e:
        warn.append(f"{e.reason} (offset {iloc_box.offset})")
        return
    for info in infos:
        kind = metadata_kind(info)
        is_exif, is_xmp = kind == "exif", kind == "xmp"
        if not (is_exif and b.exif is None) and not (is_xmp and b.xmp is None):
            continue
        loc = locs.get(info.item_id)
        got = item_data(data, loc, idat, warn) if loc else None
        if got is None:
            warn.append(f"HEIF: item {info.item_id} ({info.item_type!r}) has no readable data")
            continue
        blob, off = got
        if is_xmp:
            if info.content_encoding not in (b"",):
                warn.append(f"HEIF: XMP item encoded as {info.content_encoding!r} not supported")
                continue
            b.xmp = blob
            continue
        if len(blob) < 4:
            warn.append(f"HEIF: Exif item {info.item_id} is too short")
            continue
        skip = exif_tiff_start(blob)
        if skip >= len(blob):
            warn.append(f"HEIF: Exif item {info.item_id} has a bad TIFF header offset")
            continue
        b.exif, b.exif_offset = blob[skip:], off + skip


CR3_TIFF_BOXES = {b"CMT1": "IFD0", b"CMT2": "ExifIFD", b"CMT3": "MakerNotes", b"CMT4": "GPS"}


def cr3_tiff_blocks(data: bytes, boxes: list[Box]) -> dict[str, tuple[bytes, int]]:
    """CR3: the TIFF blocks in ``moov/uuid(Canon)``, by what their first IFD is (IFD0,
    ExifIFD, MakerNotes, GPS): {name: (bytes starting with a TIFF header, file offset)}."""
    out: dict[str, tuple[bytes, int]] = {}
    for top in boxes:
        for c in (top.children or ()) if top.type == b"moov" else ():
            if c.type != b"uuid" or c.uuid != CANON_UUID:
                continue
            for cmt in c.children or ():
                name = CR3_TIFF_BOXES.get(cmt.type)
                if name and name not in out:
                    out[name] = (cmt.body(data), cmt.data_offset)
    return out


def _cr3_blocks(data: bytes, boxes: list[Box], b: Blocks, warn: list[str]) -> None:
    for top in boxes:
        if top.type == b"uuid" and top.uuid == XMP_UUID and b.xmp is None:
            b.xmp = top.body(data)
    tiffs = cr3_tiff_blocks(data, boxes)
    if "IFD0" in tiffs and b.exif is None:
        b.exif, b.exif_offset = tiffs["IFD0"]
    for name in ("ExifIFD", "GPS"):  # CMT2 and CMT4; CMT3 (maker notes) is not decoded
        if name in tiffs:
            blob, offset = tiffs[name]
            b.extra_exif.append((blob, offset, name))


class HeifFormat(FileFormat):
    name = "HEIF"
    extensions = (".heic", ".heif", ".hif", ".avif", ".cr3")

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if brand_type(head) is not None else 0

    @staticmethod
    def file_type(data: bytes) -> str:
        return brand_type(bytes(data[:16])) or "HEIF"

    @classmethod
    def extract(cls, data: bytes, path: str) -> Blocks:
        if brand_type(bytes(data[:16])) is None:
            raise CorruptFileError("HEIF: no ftyp box with an image brand", path=path, offset=0)
        parsed = parse_boxes(data, path, lazy=LAZY_TYPES)
        b = Blocks(warnings=list(parsed.warnings))
        warn: list[str] = []
        meta = next((x for x in parsed.boxes if x.type == b"meta"), None)
        if meta is not None and meta.children is not None:
            _heif_blocks(data, meta, b, warn)
        _cr3_blocks(data, parsed.boxes, b, warn)
        b.warnings += [f"{path}: {w}" for w in warn]
        return b
