"""HEIF/HEIC/AVIF: metadata items of the ``meta`` box, and the HEIF container class.

The boxes themselves are parsed by engine.containers.isobmff.  In HEIF the metadata are
*items* of the ``meta`` box: ``iinf``/``infe`` names their type (``Exif``, or ``mime`` with
content type ``application/rdf+xml`` for XMP) and ``iloc`` says where their bytes are (file
offsets, or offsets into the ``idat`` box).  The Exif item starts with a 4-byte big-endian
offset to the TIFF header (ISO/IEC 23008-12 Annex A).  Canon CR3 shares the box structure and
the brand sniffing (engine.containers.cr3): it is read here, written by cr3_write.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from engine.containers.base import FileFormat, Layout, Slot
from engine.containers.cr3 import cr3_blocks
from engine.containers.isobmff import (  # noqa: F401  (the box API, as heif.* for callers)
    CANON_UUID,
    CONTAINERS,
    LAZY_TYPES,
    MAX_BOXES,
    MAX_DEPTH,
    XMP_UUID,
    Box,
    BoxList,
    parse_boxes,
    parse_range,
    render_boxes,
)
from engine.errors import CorruptFileError
from engine.exif.types import TIFF_MAGICS
from engine.model import Blocks

_BRANDS = {
    b"heic": "HEIC", b"heix": "HEIF", b"heim": "HEIC", b"heis": "HEIC", b"hevc": "HEICS",
    b"hevx": "HEICS", b"mif1": "HEIF", b"mif2": "HEIF", b"msf1": "HEIFS", b"avif": "AVIF",
    b"avis": "AVIF", b"crx ": "CR3",
}  # fmt: skip


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
    boxes, _ = parse_range(payload, pos, len(payload), MAX_DEPTH, warnings, [len(payload)])
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


def extent_spans(loc: ItemLocation, size: int, literal: bool) -> list[tuple[int, int]]:
    """(start, length) of each extent of ``loc`` in a data source of ``size`` bytes.  Length 0
    is "the rest of the source" (ISO/IEC 14496-12) for an image item, but an empty extent for
    an Exif/XMP item (``literal``): ExifTool writes an item it emptied so, and reads it so."""
    out = []
    for _idx, off, ln in loc.extents:
        start = loc.base_offset + off
        out.append((start, ln if ln or literal else max(size - start, 0)))
    return out


def item_data(
    data: bytes, loc: ItemLocation, idat: Box | None, warnings: list[str],
    literal: bool = False,
) -> tuple[bytes, int] | None:
    """(bytes, file offset of the first byte) of an item; None if it cannot be read.
    ``literal``: an extent of length 0 is empty (Exif/XMP items, ``extent_spans``)."""
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
    for start, ln in extent_spans(loc, len(src), literal):
        stop = start + ln
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
    if blob[skip : skip + 4] not in TIFF_MAGICS:
        # some writers get the offset wrong: look for the header just after it
        alt = blob.find(b"Exif\0\0", 4, 64)
        skip = alt + 6 if alt >= 0 else skip
    return skip


def _item_slots(data, meta: Box, warn: list[str]) -> list[Slot]:
    """A slot for every Exif and XMP item (``where``: item id); ``warn`` gets the reader's
    warnings about the items it reads (the first readable one of each group)."""
    iinf, iloc_box, idat = meta.find(b"iinf"), meta.find(b"iloc"), meta.find(b"idat")
    if iinf is None or iloc_box is None:
        return []
    infos = parse_iinf(iinf.body(data), warn)
    try:
        locs = {it.item_id: it for it in parse_iloc(iloc_box.body(data)).items}
    except CorruptFileError as e:
        warn.append(f"{e.reason} (offset {iloc_box.offset})")
        return []
    slots: list[Slot] = []
    for info in infos:
        group = metadata_kind(info)
        if group is not None:
            read = not any(s.group == group and s.data is not None for s in slots)
            slots.append(_item_slot(data, info, locs.get(info.item_id), idat,
                                    warn if read else []))
    return slots


def _item_slot(data, info: ItemInfo, loc: ItemLocation | None, idat: Box | None,
               warn: list[str]) -> Slot:
    """Where one Exif/XMP item's block is; ``problem``: why a writer cannot replace it."""
    group, iid = metadata_kind(info), info.item_id
    what = {"exif": "Exif", "xmp": "XMP"}[group]
    problem = ""
    if info.protection_index or info.content_encoding:
        how = "protected" if info.protection_index else f"{info.content_encoding!r}-encoded"
        problem = f"the {what} item {iid} is {how}"
    elif loc is None or not loc.extents or loc.construction_method not in (0, 1):
        problem = f"the {what} item {iid} has no location metafs can read"
    got = item_data(data, loc, idat, warn, literal=True) if loc else None
    if got is None:
        warn.append(f"HEIF: item {iid} ({info.item_type!r}) has no readable data")
        return Slot(group, None, -1, b"", iid,
                    problem or f"the {what} item {iid}'s data runs past the end")
    blob, off = got
    if not blob:  # emptied (ExifTool keeps the item, length 0): nothing to read, filled anew
        return Slot(group, None, off, b"", iid, problem)
    if group == "xmp":
        if info.content_encoding not in (b"",):
            warn.append(f"HEIF: XMP item encoded as {info.content_encoding!r} not supported")
            return Slot(group, None, off, b"", iid, problem)
        return Slot(group, blob, off, b"", iid, problem)
    if len(blob) < 4:
        warn.append(f"HEIF: Exif item {iid} is too short")
        return Slot(group, None, off, blob, iid,
                    problem or "the Exif item is too short to hold a TIFF header offset")
    skip = exif_tiff_start(blob)
    if skip >= len(blob):
        warn.append(f"HEIF: Exif item {iid} has a bad TIFF header offset")
        return Slot(group, None, off, blob, iid,
                    problem or "the Exif item holds no TIFF header where its offset says")
    if not problem and blob[skip : skip + 4] not in TIFF_MAGICS:
        problem = "the Exif item holds no TIFF header where its offset says"
    return Slot(group, blob[skip:], off + skip, blob[:skip], iid, problem)


def refuse(path: str, why: str):
    """The WriteError of a HEIF write refused because of ``why``."""
    from engine.errors import WriteError

    return WriteError(f"{why}; refusing to write", path=path)


def add_infe(iinf: bytes, iid: int, which: str, path: str) -> bytes:
    """``iinf`` payload with a new hidden item (infe version 2, as ExifTool adds it)."""
    if len(iinf) < 6:
        raise refuse(path, "the item info box is too short")
    wide = iinf[0] != 0
    count = struct.unpack_from(">I" if wide else ">H", iinf, 4)[0]
    if not wide and count >= 0xFFFF:
        raise refuse(path, "the item info box is full")
    head = 8 if wide else 6
    body = (b"Exif\0" if which == "exif" else b"mime\0" + XMP_MIME + b"\0")
    infe = struct.pack(">I4sIHH", 16 + len(body), b"infe", (2 << 24) | 1, iid, 0) + body
    new_count = struct.pack(">I" if wide else ">H", count + 1)
    return iinf[:4] + new_count + iinf[head:] + infe


def add_cdsc(iref: bytes, iid: int, primary: int, path: str) -> bytes:
    """``iref`` payload with 'new item describes the primary item' (a new iref if empty)."""
    if not iref:
        iref = bytes(4) if primary <= 0xFFFF else b"\1\0\0\0"
    if iref[0] == 0:
        if primary > 0xFFFF:
            raise refuse(path, "the primary item id does not fit the item reference box")
        box = struct.pack(">I4sHHH", 14, b"cdsc", iid, 1, primary)
    else:
        box = struct.pack(">I4sIHI", 18, b"cdsc", iid, 1, primary)
    # after the last whole reference box: bytes a short box left over stay last, where
    # readers skip them, instead of hiding the new box
    end = _references_end(iref)
    return iref[:end] + box + iref[end:]


def _references_end(iref: bytes) -> int:
    """Where the run of well-formed reference boxes of an ``iref`` payload ends."""
    pos = 4
    while pos + 8 <= len(iref):
        size = struct.unpack_from(">I", iref, pos)[0]
        if size < 8 or pos + size > len(iref):
            break
        pos += size
    return pos


def meta_items(data) -> tuple[BoxList, Box | None, dict[int, ItemInfo], list[ItemLocation]]:
    """The top-level boxes, the ``meta`` box (None if unreadable), the item infos by id and
    the item locations of a file (empty when ``iinf`` or ``iloc`` is missing or broken)."""
    parsed = parse_boxes(data, lazy=LAZY_TYPES)
    meta = next((b for b in parsed.boxes if b.type == b"meta"), None)
    if meta is None or meta.children is None:
        return parsed, None, {}, []
    iinf, iloc = meta.find(b"iinf"), meta.find(b"iloc")
    if iinf is None or iloc is None:
        return parsed, meta, {}, []
    infos = {i.item_id: i for i in parse_iinf(iinf.body(data), [])}
    try:
        return parsed, meta, infos, parse_iloc(iloc.body(data)).items
    except CorruptFileError:
        return parsed, meta, {}, []


def image_items(data) -> dict[int, tuple[bytes, bytes | None]]:
    """Every item that is not Exif/XMP metadata, by id: (item type, its data, or None when it
    cannot be read); id 0 holds the item properties and primary item (``iprp``, ``pitm``).
    A rewrite must leave this identical (tests; a check for the write validation)."""
    _parsed, meta, infos, locs = meta_items(data)
    if meta is None:
        return {}
    props = b"".join(c.render(data) for c in meta.children or () if c.type in (b"iprp", b"pitm"))
    out: dict[int, tuple[bytes, bytes | None]] = {0: (b"", props)}
    for loc in locs:
        info = infos.get(loc.item_id)
        if info is not None and metadata_kind(info):
            continue
        got = item_data(data, loc, meta.find(b"idat"), [])
        out[loc.item_id] = (info.item_type if info else b"?", got[0] if got else None)
    return out


class HeifFormat(FileFormat):
    """HEIF, HEIC, AVIF; Canon CR3 (same boxes and brand sniffing; engine.containers.cr3)."""

    name = "HEIF"
    writer = ("engine.containers.heif_write", "plan_heif")
    not_writable = {"iptc": "HEIF has no place for IPTC; use the XMP equivalents"}

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if brand_type(head) is not None else 0

    @classmethod
    def file_type(cls, data) -> str:
        return brand_type(bytes(data[:16])) or "HEIF"

    @classmethod
    def extract(cls, data, path: str) -> Blocks:
        layout = cls.locate(data, path)
        parsed = layout.parsed
        b = super().blocks(layout, path)
        b.warnings[:0] = parsed.warnings  # (named after the file already)
        cr3_blocks(data, parsed.boxes, b, warn := [])
        b.warnings += [f"{path}: {w}" for w in warn]
        return b

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        """The boxes (image data not copied) and a slot for every Exif and XMP item of the
        ``meta`` box (``where``: item id; ``header``: the Exif item's TIFF offset prefix)."""
        if brand_type(bytes(data[:16])) is None:
            raise CorruptFileError("HEIF: no ftyp box with an image brand", path=path, offset=0)
        parsed = parse_boxes(data, path, lazy=LAZY_TYPES)
        warn: list[str] = []
        meta = next((x for x in parsed.boxes if x.type == b"meta"), None)
        slots = _item_slots(data, meta, warn) if meta is not None and meta.children else []
        return Layout(parsed, slots, warn)

    @classmethod
    def invariants(cls, data) -> dict[str, object]:
        if brand_type(bytes(data[:16])) == "CR3":
            from engine.containers.cr3 import cr3_invariants

            return cr3_invariants(data)
        return {"image items changed": image_items(data)}

    @classmethod
    def unchanged(cls, original, data) -> str | None:
        """The image items, and no item whose bytes newly cover other bytes (an extent
        that grew over its neighbours reads them as its own: engine.containers.heif_items)."""
        why = super().unchanged(original, data)
        if why is None:
            from engine.containers.heif_items import covered

            new = covered(data) - covered(original)
            why = f"an item's data would cover other bytes ({min(new)})" if new else None
        return why
