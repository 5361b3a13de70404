"""Build the new EXIF (TIFF) block or the patch of a TIFF file from EXIF edits."""

from __future__ import annotations

import struct

from engine.errors import TagError, WriteError
from engine.exif.encode import encode
from engine.exif.ifd import TiffStructure, parse_tiff
from engine.exif.patch import IfdEdit, NewEntry, TiffPatch, plan_patch
from engine.exif.scrub import makernote_ifd
from engine.exif.types import BYTE_ORDERS, EMPTY_TIFF, MAKERNOTE_TAG, TYPE_SIZES, ifd_size
from engine.record import FrozenRecord


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
    new = plan_patch(data, structure, _all_edits(structure, exif, path, extra)).apply(data)
    floor = dangling_floor(data, structure)
    if floor is not None and len(new) > floor.offset:
        raise WriteError(f"{floor.why}; growing the block would make that pointer read our new "
                         "data; refusing to write", path=path, offset=floor.at)
    return new


class Dangling(FrozenRecord):
    """Something in a block points past its end: the lowest such offset, why, and where the
    pointer (the entry, or the directory whose table runs past the end) is."""

    __slots__ = ("offset", "why", "at")
    offset: int
    why: str
    at: int

    def __init__(self, offset: int, why: str, at: int) -> None:
        self._init(offset, why, at)


def dangling_floor(data: bytes, structure: TiffStructure) -> Dangling | None:
    """The lowest offset past the end of the block that a value, a directory or a maker-note
    value points at, and why, if any.

    Some cameras write maker-note pointers past the end of a truncated EXIF block.  Such a
    pointer reads nothing today; if the block grew over it, it would read our data."""
    size = len(data)
    found: list[Dangling] = []
    for ifd in structure.ifds:
        for e in ifd.entries:
            if e.value_offset is not None and e.value_offset + e.size > size:
                found.append(Dangling(e.value_offset, (
                    f"{ifd.name} tag 0x{e.tag:04x} has a value at offset {e.value_offset} "
                    f"({e.size} bytes) that runs past the end of the data ({size} bytes)"),
                    e.entry_offset))
        why = _table_past_end(data, structure.byte_order, ifd.offset)
        if why is not None:
            found.append(Dangling(size, f"{ifd.name} at offset {ifd.offset} {why}", ifd.offset))
    found += _makernote_dangling(data, structure)
    return min(found, key=lambda d: d.offset, default=None)


def _makernote_dangling(data: bytes, structure: TiffStructure) -> list[Dangling]:
    """What the maker note's directory (found heuristically, after the usual header sizes)
    points at past the end of the block."""
    size = len(data)
    mn = next((e for i in structure.ifds for e in i.entries if e.tag == MAKERNOTE_TAG), None)
    if mn is None or mn.value_offset is None:
        return []
    found = makernote_ifd(data, structure.byte_order, mn.value_offset, size, swapped=False)
    if found is None:
        return []
    # Nikon type 2 (and similar) maker notes carry their own TIFF header 10 bytes in: their
    # offsets count from it, in its byte order.
    ents, inner = found
    base = inner or 0
    bo = structure.byte_order if inner is None else BYTE_ORDERS[bytes(data[inner : inner + 2])]
    out: list[Dangling] = []
    note = f"the maker note at offset {mn.value_offset}"
    for t, c, v in ents:
        nbytes = c * TYPE_SIZES[t]
        if nbytes > 4 and base + v + nbytes > size and base + v >= size - 65536:
            out.append(Dangling(base + v, f"{note} has a value at offset {base + v} ({nbytes} "
                                f"bytes) that runs past the end of the data ({size} bytes)",
                                mn.entry_offset))
        # A sub-IFD pointer (NikonScanIFD...) to a directory cut off by the block's end:
        # growing the block would fill the missing part of that directory with our data.
        if t in (4, 13) and c == 1 and inner is not None:
            if size <= inner + v < size + 65536:
                out.append(Dangling(inner + v, f"{note} points at a directory at offset "
                                    f"{inner + v}, past the end of the data ({size} bytes)",
                                    mn.entry_offset))
            elif (why := _table_past_end(data, bo, inner + v, near_end=True)) is not None:
                out.append(Dangling(size, f"the directory at offset {inner + v} that {note} "
                                    f"points at {why}", mn.entry_offset))
    return out


def _table_past_end(data: bytes, bo: str, at: int, near_end: bool = False) -> str | None:
    """Why a (plausible) IFD at ``at`` that starts inside the block runs past its end (its
    entries or its next-IFD pointer), or None when it does not.  ``near_end``: ``at`` is only
    a guess (a value that may be a pointer), so it must also look like an IFD: 1..256 entries,
    close to the end."""
    size = len(data)
    if not 8 <= at < size:
        return None
    if at + 2 > size:
        return None if near_end else "has its entry count cut off by the end of the data"
    n = struct.unpack_from(bo + "H", data, at)[0]
    if near_end and not (1 <= n <= 256 and at >= size - ifd_size(n)):
        return None
    table_end = at + ifd_size(n)
    if table_end <= size:
        return None
    return (f"claims {n} {'entry' if n == 1 else 'entries'}: its table would end at offset "
            f"{table_end}, past the end of the data ({size} bytes)")


def patch_file(data, structure: TiffStructure, exif: list[tuple[str, str, str | None]],
               path: str, extra: dict[int, NewEntry] | None = None,
               end: int | None = None) -> TiffPatch:
    edits = _all_edits(structure, exif, path, extra)
    return plan_patch(data, structure, edits, chain_room=False, end=end)  # IFDs from the file


def _all_edits(structure: TiffStructure, exif: list[tuple[str, str, str | None]], path: str,
               extra: dict[int, NewEntry] | None) -> dict[str, IfdEdit]:
    """The IFD edits of ``exif``, the tags a new sub-IFD requires, and ``extra`` IFD0 entries
    (the XMP and IPTC blocks of a TIFF)."""
    edits = ifd_edits(structure, exif, path)
    add_creation_defaults(structure, edits)
    if extra:
        edits.setdefault("IFD0", IfdEdit()).put.update(extra)
    return edits
