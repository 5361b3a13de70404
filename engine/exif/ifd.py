"""Structural parser of TIFF/EXIF image file directories (IFDs).

Pure and tolerant: ``parse_tiff`` walks the IFD0 -> IFD1 -> IFD2... chain and the sub-IFDs that
EXIF defines (ExifIFD 0x8769, GPS 0x8825, InteropIFD 0xa005, SubIFDs 0x014a), keeping every
entry with its raw value bytes and where they were, so a writer can rebuild the chain.  Bad
offsets, loops, absurd counts and unknown types are skipped with a warning; it never raises on
bad data except when the header itself is not TIFF.

``data`` may be ``bytes``, a ``memoryview`` or an ``mmap`` of a large file: only the small
pieces needed are sliced, nothing copies the whole buffer.  Offsets are relative to the TIFF
header, which is at the start of ``data``.
"""

from __future__ import annotations

import struct

from engine.errors import CorruptFileError
from engine.exif.types import (
    BIGTIFF_MAGIC,
    BYTE_ORDERS,
    CLASSIC_MAGICS,
    OFFSET_TYPES,
    SUB_IFD_TAGS,
    TYPE_NAMES,
    TYPE_SIZES,
    unsigned_ints,
)
from engine.record import Record

MAX_ENTRIES = 4096  # more than any real IFD holds; a larger count is garbage
MAX_IFDS = 256  # guard against long (non-looping) chains of garbage
MAX_VALUE = 64 << 20  # a value larger than this is not copied (raw left empty)


class Entry(Record):
    __slots__ = ("tag", "type", "count", "raw", "value_offset", "entry_offset")
    tag: int
    type: int
    count: int
    raw: bytes  # value bytes in file byte order (b"" if the value could not be read)
    value_offset: int | None  # where the value lived when not inline (from the TIFF header)
    entry_offset: int  # where the 12- (BigTIFF: 20-) byte entry is

    def __init__(self, tag: int, type: int, count: int, raw: bytes, value_offset: int | None,
                 entry_offset: int) -> None:
        self.tag = tag
        self.type = type
        self.count = count
        self.raw = raw
        self.value_offset = value_offset
        self.entry_offset = entry_offset

    @property
    def size(self) -> int:
        return self.count * TYPE_SIZES.get(self.type, 1)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, "undef")


class Ifd(Record):
    __slots__ = ("name", "offset", "entries", "next_offset", "parent", "parent_tag")
    name: str  # IFD0, IFD1, IFD2.., ExifIFD, GPS, InteropIFD, SubIFD, SubIFD1..
    offset: int
    entries: list[Entry]
    next_offset: int  # 0 when the chain ends here
    parent: str | None  # the IFD holding the pointer tag (None for the main chain)
    parent_tag: int | None  # the pointer tag (0x8769...), None for the main chain

    def __init__(self, name: str, offset: int, entries: list[Entry], next_offset: int,
                 parent: str | None = None, parent_tag: int | None = None) -> None:
        self._init(name, offset, entries, next_offset, parent, parent_tag)


class TiffStructure(Record):
    __slots__ = ("byte_order", "bigtiff", "magic", "ifds", "warnings", "first_offset")
    byte_order: str  # '<' (II) or '>' (MM)
    bigtiff: bool
    magic: int
    ifds: list[Ifd]
    warnings: list[str]
    first_offset: int  # offset of IFD0 as written in the header

    def __init__(self, byte_order: str, bigtiff: bool, magic: int, ifds: list[Ifd],
                 warnings: list[str] | None = None, first_offset: int = 8) -> None:
        self._init(byte_order, bigtiff, magic, ifds, [] if warnings is None else warnings,
                   first_offset)

    def get(self, name: str) -> Ifd | None:
        for ifd in self.ifds:
            if ifd.name == name:
                return ifd
        return None


def read_header(data, path: str = "?") -> tuple[str, bool, int, int]:
    """(byte_order, bigtiff, magic, first IFD offset) of the TIFF header at the start."""
    head = bytes(data[:16])
    bo = BYTE_ORDERS.get(head[:2])
    if len(head) < 8 or bo is None:
        raise CorruptFileError("not a TIFF header (no II/MM byte order mark)", path=path, offset=0)
    magic = struct.unpack_from(bo + "H", head, 2)[0]
    if magic == BIGTIFF_MAGIC:
        if len(head) < 16:
            raise CorruptFileError("truncated BigTIFF header", path=path, offset=0)
        size, _zero, first = struct.unpack_from(bo + "HHQ", head, 4)
        if size != 8:
            raise CorruptFileError(f"BigTIFF offset size {size} is not 8", path=path, offset=4)
        return bo, True, magic, first
    if magic not in CLASSIC_MAGICS:
        raise CorruptFileError(f"bad TIFF magic number {magic}", path=path, offset=2)
    return bo, False, magic, struct.unpack_from(bo + "I", head, 4)[0]


class _Walker:
    def __init__(self, data, path: str, bo: str, bigtiff: bool) -> None:
        self.data = data
        self.size = len(data)
        self.path = path
        self.bo = bo
        self.big = bigtiff
        self.visited: set[int] = set()
        self.ifds: list[Ifd] = []
        self.warnings: list[str] = []

    def warn(self, msg: str) -> None:
        self.warnings.append(f"{self.path}: EXIF: {msg}")

    def read_ifd(self, name: str, offset: int, parent: str | None, ptag: int | None) -> Ifd | None:
        if len(self.ifds) >= MAX_IFDS:
            self.warn(f"too many IFDs, {name} at offset {offset} ignored")
            return None
        if offset in self.visited:
            self.warn(f"{name} at offset {offset} was already read (IFD loop), ignored")
            return None
        cnt_size, ent_size, off_size = (8, 20, 8) if self.big else (2, 12, 4)
        if offset < 8 or offset + cnt_size > self.size:
            self.warn(f"{name} offset {offset} is outside the data ({self.size} bytes)")
            return None
        self.visited.add(offset)
        n = struct.unpack_from(self.bo + ("Q" if self.big else "H"), self.data, offset)[0]
        start = offset + cnt_size
        fit = (self.size - start) // ent_size
        if n > fit or n > MAX_ENTRIES:
            got = min(fit, MAX_ENTRIES)
            self.warn(f"{name} at offset {offset} claims {n} entries, only {got} read")
            n = min(n, fit, MAX_ENTRIES)
        ifd = Ifd(name, offset, [], 0, parent, ptag)
        self.ifds.append(ifd)
        for i in range(n):
            entry = self.read_entry(name, start + i * ent_size)
            if entry is not None:
                ifd.entries.append(entry)
        end = start + n * ent_size
        if end + off_size <= self.size:
            fmt = self.bo + ("Q" if self.big else "I")
            ifd.next_offset = struct.unpack_from(fmt, self.data, end)[0]
        # Sub-IFDs are read where their pointer is, as ExifTool does (order of the output).
        for entry in list(ifd.entries):
            sub = SUB_IFD_TAGS.get(entry.tag)
            if sub is None:
                continue
            if entry.type not in OFFSET_TYPES or not entry.raw:
                self.warn(f"{name} tag 0x{entry.tag:04x} ({sub} pointer) has a bad type or value")
                continue
            for k, off in enumerate(self.offsets(entry)):
                sub_name = sub if k == 0 or sub != "SubIFD" else f"SubIFD{k}"
                self.read_ifd(sub_name, off, name, entry.tag)
        return ifd

    def offsets(self, entry: Entry) -> list[int]:
        return unsigned_ints(entry.raw, entry.type, self.bo)[:64]

    def read_entry(self, ifd_name: str, pos: int) -> Entry | None:
        if self.big:
            tag, typ, count = struct.unpack_from(self.bo + "HHQ", self.data, pos)
            inline, vpos = 8, pos + 12
        else:
            tag, typ, count = struct.unpack_from(self.bo + "HHI", self.data, pos)
            inline, vpos = 4, pos + 8
        unit = TYPE_SIZES.get(typ)
        if unit is None:
            self.warn(f"{ifd_name} entry at offset {pos} (tag 0x{tag:04x}) has unknown type {typ}")
            return None
        size = count * unit
        if size <= inline:
            return Entry(tag, typ, count, bytes(self.data[vpos : vpos + size]), None, pos)
        voff = struct.unpack_from(self.bo + ("Q" if self.big else "I"), self.data, vpos)[0]
        if voff >= self.size:
            self.warn(f"{ifd_name} tag 0x{tag:04x}: value offset {voff} is past the end")
            return Entry(tag, typ, count, b"", voff, pos)
        if voff + size > self.size:
            # Shorten the count to what is there, as ExifTool does.
            avail = (self.size - voff) // unit
            self.warn(f"{ifd_name} tag 0x{tag:04x}: value runs past the end, "
                      f"count {count} -> {avail}")
            count, size = avail, avail * unit
        if size > MAX_VALUE:
            self.warn(f"{ifd_name} tag 0x{tag:04x}: value of {size} bytes not loaded")
            return Entry(tag, typ, count, b"", voff, pos)
        return Entry(tag, typ, count, bytes(self.data[voff : voff + size]), voff, pos)


def parse_tiff(data, *, path: str = "?", first_ifd: str = "IFD0") -> TiffStructure:
    """Parse the IFD structure of the TIFF data starting at ``data[0]``.

    ``first_ifd`` names the header's first IFD when it is not IFD0 (CR3 keeps ExifIFD and GPS
    in TIFF blocks of their own)."""
    bo, big, magic, first = read_header(data, path)
    w = _Walker(data, path, bo, big)
    offset, index = first, 0
    while offset:
        name = first_ifd if index == 0 else f"IFD{index}"
        ifd = w.read_ifd(name, offset, None, None)
        if ifd is None:
            break
        offset, index = ifd.next_offset, index + 1
    return TiffStructure(bo, big, magic, w.ifds, w.warnings, first)
