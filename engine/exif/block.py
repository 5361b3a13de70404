"""Build the new EXIF (TIFF) block or the patch of a TIFF file from EXIF edits."""

from __future__ import annotations

import struct

from engine.errors import TagError, WriteError
from engine.exif.encode import encode
from engine.exif.ifd import TYPE_SIZES, TiffStructure, parse_tiff
from engine.exif.patch import IfdEdit, NewEntry, TiffPatch, plan_patch

EMPTY_TIFF = b"II*\0\x08\0\0\0" + b"\0\0" + b"\0\0\0\0"


def ifd_edits(
    structure: TiffStructure, exif: list[tuple[str, str, str | None]], path: str
) -> dict[str, IfdEdit]:
    edits: dict[str, IfdEdit] = {}
    names = {ifd.name for ifd in structure.ifds}
    for ifd, name, text in exif:
        if ifd == "IFD1" and "IFD1" not in names:
            raise WriteError("this file has no IFD1 (thumbnail IFD) to write to", path=path,
                             tag=f"ifd1/{name}")
        ed = edits.setdefault(ifd, IfdEdit())
        if text is None:
            from engine.exif.encode import lookup

            ed.drop.add(lookup(name).tag)
            continue
        try:
            pairs = encode(name, text, structure.byte_order)
        except TagError as e:
            raise type(e)(e.reason, path=path, tag=e.tag) from None
        for _n, entry in pairs:
            ed.put[entry.tag] = entry
    return edits


# Tags EXIF requires in a new sub-IFD, added as ExifTool adds them when it creates the IFD:
# (ifd, tag, type, count, little-endian raw).  IFD0's "mandatory" resolution tags are not
# invented: a user who asked for one tag gets exactly that tag in IFD0.
CREATION_DEFAULTS = (
    ("ExifIFD", 0x9000, 7, 4, b"0232"),  # ExifVersion
    ("ExifIFD", 0x9101, 7, 4, b"\x01\x02\x03\x00"),  # ComponentsConfiguration Y Cb Cr -
    ("ExifIFD", 0xA000, 7, 4, b"0100"),  # FlashpixVersion
    ("ExifIFD", 0xA001, 3, 1, b"\x01\0"),  # ColorSpace sRGB
    ("GPS", 0, 1, 4, b"\x02\x03\x00\x00"),  # GPSVersionID 2.3.0.0
)


def add_creation_defaults(structure: TiffStructure, edits: dict[str, IfdEdit]) -> None:
    existing = {ifd.name for ifd in structure.ifds}
    for ifd, tag, typ, count, raw in CREATION_DEFAULTS:
        ed = edits.get(ifd)
        if ifd in existing or ed is None or not ed.put:
            continue
        if tag not in ed.put:
            if structure.byte_order == ">" and typ in (3, 5):
                raw = _swap(raw, typ)
            ed.put[tag] = NewEntry(tag, typ, count, raw)


def _swap(raw: bytes, typ: int) -> bytes:
    if typ == 3:
        return raw[1::-1]
    return raw[3::-1] + raw[7:3:-1]


def patch_block(block: bytes | None, exif: list[tuple[str, str, str | None]], path: str,
                extra: dict[int, NewEntry] | None = None) -> bytes:
    """The new EXIF block (for containers that hold EXIF as one block: JPEG, PNG, WebP)."""
    data = bytes(block) if block is not None else EMPTY_TIFF
    structure = parse_tiff(data, path=path)
    edits = ifd_edits(structure, exif, path)
    add_creation_defaults(structure, edits)
    if extra:
        edits.setdefault("IFD0", IfdEdit()).put.update(extra)
    new = plan_patch(data, structure, edits).apply(data)
    floor = dangling_floor(data, structure)
    if floor is not None and len(new) > floor:
        raise WriteError(
            f"the maker note or a directory points past the end of the EXIF block (offset "
            f"{floor}); growing the block would make that pointer read our new data; refusing "
            "to write", path=path)
    return new


_MAKERNOTE_HEADERS = (0, 6, 8, 10, 12, 14, 16, 18)


def dangling_floor(data: bytes, structure: TiffStructure) -> int | None:
    """The lowest offset past the end of the block that a maker-note value points at, if any.

    Some cameras write maker-note pointers past the end of a truncated EXIF block.  Such a
    pointer reads nothing today; if the block grew over it, it would read our data.  The maker
    note's inner IFD is found heuristically (after the usual header sizes)."""
    bo = structure.byte_order
    size = len(data)
    floor = None
    for ifd in structure.ifds:
        for e in ifd.entries:
            if e.value_offset is not None and e.value_offset + e.size > size:
                floor = min(floor or e.value_offset, e.value_offset)
        if _ifd_runs_past_end(data, bo, ifd.offset):
            floor = min(floor or size, size)
    mn = next((e for i in structure.ifds for e in i.entries if e.tag == 0x927C), None)
    if mn is None or mn.value_offset is None:
        return floor
    # Nikon type 2 (and similar) maker notes carry their own TIFF header 10 bytes in: their
    # offsets count from it.
    inner = mn.value_offset + 10 if data[mn.value_offset + 10 : mn.value_offset + 12] in (
        b"II", b"MM") else None
    base = 0
    if inner is not None:  # values count from the inner header, in its byte order
        base, bo = inner, "<" if data[inner : inner + 2] == b"II" else ">"
    for h in _MAKERNOTE_HEADERS:
        at = mn.value_offset + h
        if at + 2 > size:
            break
        n = struct.unpack_from(bo + "H", data, at)[0]
        if not 1 <= n <= 256 or at + 2 + 12 * n > size:
            continue
        ents = [struct.unpack_from(bo + "HHII", data, at + 2 + 12 * k) for k in range(n)]
        # A byte-order mark where the first tag should be is an inner TIFF header (Apple's
        # "Apple iOS\0\0\1MM"), not an IFD: keep looking further in.
        if ents[0][0] in (0x4949, 0x4D4D) or not all(1 <= t <= 13 for _tag, t, _c, _v in ents):
            continue
        for _tag, t, c, v in ents:
            nbytes = c * TYPE_SIZES.get(t, 1)
            if nbytes > 4 and base + v + nbytes > size and base + v >= size - 65536:
                floor = base + v if floor is None else min(floor, base + v)
            # A sub-IFD pointer (NikonScanIFD...) to a directory cut off by the block's end:
            # growing the block would fill the missing part of that directory with our data.
            if t in (4, 13) and c == 1 and inner is not None:
                if size <= inner + v < size + 65536:
                    floor = inner + v if floor is None else min(floor, inner + v)
                elif _ifd_runs_past_end(data, bo, inner + v, near_end=True):
                    floor = min(floor or size, size)
        break
    return floor


def _ifd_runs_past_end(data: bytes, bo: str, at: int, near_end: bool = False) -> bool:
    """True when a (plausible) IFD at ``at`` starts inside the block but its entries or its
    next-IFD pointer run past the end.  ``near_end``: ``at`` is only a guess (a value that may
    be a pointer), so it must also look like an IFD: 1..256 entries, close to the end."""
    size = len(data)
    if not 8 <= at < size:
        return False
    if at + 2 > size:
        return not near_end
    n = struct.unpack_from(bo + "H", data, at)[0]
    if near_end and not (1 <= n <= 256 and at >= size - 2 - 12 * n - 4):
        return False
    return at + 2 + 12 * n + 4 > size


def patch_file(data, structure: TiffStructure, exif: list[tuple[str, str, str | None]],
               path: str, extra: dict[int, NewEntry] | None = None) -> TiffPatch:
    edits = ifd_edits(structure, exif, path)
    add_creation_defaults(structure, edits)
    if extra:
        edits.setdefault("IFD0", IfdEdit()).put.update(extra)
    return plan_patch(data, structure, edits, chain_room=False)  # IFDs read from the file
