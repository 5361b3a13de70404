"""Decode an EXIF/TIFF block into tags, named and printed as ExifTool does.

``decode_exif`` parses the IFD structure (engine.exif.ifd), names each entry from the
generated tables (engine.exif.tables) and prints its value (engine.exif.conversions, as
engine.exif.overrides says per tag).  XMP (tag 700) and
IPTC (tag 33723, or inside the Photoshop block 34377) are handed back as raw blocks, not as EXIF
tags, since ExifTool shows them in their own groups.
"""

from __future__ import annotations

import os
import struct

from engine.errors import EngineError
from engine.exif.conversions import convert
from engine.exif.ifd import SUB_IFD_TAGS, Entry, Ifd, TiffStructure, parse_tiff
from engine.exif.overrides import rule
from engine.exif.printing import TYPE_FORMAT, read_value
from engine.exif.tables import EXIF_TAGS, GPS_TAGS, PANASONIC_RAW_TAGS
from engine.iptc.photoshop import find_iptc
from engine.model import TagValue, binary_text
from engine.printconv import Binary
from engine.record import Record

XMP_TAG, IPTC_TAG, PHOTOSHOP_TAG, MAKERNOTE_TAG = 0x02BC, 0x83BB, 0x8649, 0x927C
RW2_MAGIC, RW2_JPG_FROM_RAW = 0x55, 0x2E
MAX_DEPTH = 2  # embedded JPEGs with their own EXIF (RW2) nest at most this deep

# Sub-directory tags ExifTool decodes into other groups (or not at all): not shown as EXIF tags.
HIDDEN = frozenset({
    0x014A, 0x0190, 0x02BC, 0x4748, 0x8290, 0x83BB, 0x8568, 0x8606, 0x8649, 0x8769, 0x8773,
    0x8825, 0x888A, 0xA005, 0xC4A5, 0xC634, 0xC68C, 0xC6F5, 0xC7D5, 0xFE00, 0xC51B,
})

# Ids ExifTool names by where they are (Exif.pm conditions on DIR_NAME): ifd -> name.
BY_IFD = {
    0x0201: ({"IFD1": "ThumbnailOffset", "SubIFD": "JpgFromRawStart", "IFD2": "JpgFromRawStart"},
             "OtherImageStart"),
    0x0202: ({"IFD1": "ThumbnailLength", "SubIFD": "JpgFromRawLength", "IFD2": "JpgFromRawLength"},
             "OtherImageLength"),
}
# Offset/length pairs that point at an embedded image: offset name -> (length name, image name).
DATA_TAGS = {
    "ThumbnailOffset": ("ThumbnailLength", "ThumbnailImage"),
    "PreviewImageStart": ("PreviewImageLength", "PreviewImage"),
    "JpgFromRawStart": ("JpgFromRawLength", "JpgFromRaw"),
    "OtherImageStart": ("OtherImageLength", "OtherImage"),
}
_STRIP_PREVIEW = {0x0111: "PreviewImageStart", 0x0117: "PreviewImageLength"}
_STRIP_RAWJPG = {0x0111: "JpgFromRawStart", 0x0117: "JpgFromRawLength"}
_STRIP_OTHER = {0x0111: "OtherImageStart", 0x0117: "OtherImageLength"}


class ExifResult(Record):
    __slots__ = ("tags", "xmp", "iptc", "warnings", "structure")
    tags: list[TagValue]
    xmp: bytes | None
    iptc: bytes | None
    warnings: list[str]
    structure: TiffStructure | None

    def __init__(self) -> None:
        self.tags = []
        self.xmp = None
        self.iptc = None
        self.warnings = []
        self.structure = None


class TagDef(Record):
    __slots__ = ("name", "type", "count", "writable", "values")
    name: str
    type: str  # ExifTool write format, "?" if not writable
    count: int
    writable: bool
    values: str | None  # key of engine.exif.tables.VALUES

    def __init__(self, name: str, type: str, count: int, writable: bool,
                 values: str | None) -> None:
        self.name = name
        self.type = type
        self.count = count
        self.writable = writable
        self.values = values


def tag_path(group: str, name: str) -> str:
    """The metafs path of a tag in an EXIF group (see engine.model)."""
    if group in ("IFD0", "ExifIFD", "GPS", "InteropIFD"):
        return name
    return f"{group.lower()}/{name}"


def _ifd_ints(ifd: Ifd, tag: int, bo: str) -> str | None:
    for e in ifd.entries:
        if e.tag == tag and e.raw:
            return str(read_value(TYPE_FORMAT.get(e.type, "undef"), e.raw, bo))
    return None


class _Namer:
    """Picks ExifTool's name for an entry, following Exif.pm's conditions on the context."""

    def __init__(self, st: TiffStructure, tiff_type: str) -> None:
        self.st = st
        # ExifTool's TIFF_TYPE: the file extension for TIFF-based files, APP1 when embedded
        self.tiff_type = tiff_type
        self.embedded = tiff_type == "APP1"

    def is_panasonic(self, ifd: Ifd) -> bool:
        return ifd.name == "IFD0" and self.st.magic == RW2_MAGIC

    def lookup(self, ifd: Ifd, entry: Entry) -> TagDef | None:
        if ifd.name == "GPS":
            table = GPS_TAGS
        elif self.is_panasonic(ifd):
            table = PANASONIC_RAW_TAGS
        else:
            table = EXIF_TAGS
        variants = table.get(entry.tag)
        if not variants:
            return None
        name = self._context_name(ifd, entry)
        if name is None and entry.tag == MAKERNOTE_TAG:
            name = "MakerNoteUnknownText" if _is_text(entry.raw) else "MakerNotes"
        if name is None:
            return TagDef(*variants[0][:4], variants[0][5])
        for v in variants:
            if v[0] == name:
                return TagDef(v[0], v[1], v[2], v[3], v[5])
        return TagDef(name, "?", 0, False, None)

    def _context_name(self, ifd: Ifd, entry: Entry) -> str | None:
        if self.is_panasonic(ifd) or ifd.name == "GPS":
            return None
        if entry.tag == 0x0201 and ifd.name == "IFD0" and self.tiff_type in ("ARW", "SR2"):
            return "PreviewImageStart"
        if entry.tag == 0x0202 and ifd.name == "IFD0" and self.tiff_type in ("ARW", "SR2"):
            return "PreviewImageLength"
        if entry.tag in BY_IFD:
            names, default = BY_IFD[entry.tag]
            return names.get(ifd.name, default)
        if entry.tag in (0x0111, 0x0117):
            return self._strip_name(ifd, entry.tag)
        return None

    def _strip_name(self, ifd: Ifd, tag: int) -> str:
        bo = self.st.byte_order
        compression = _ifd_ints(ifd, 0x0103, bo) or ""
        subfile = _ifd_ints(ifd, 0x00FE, bo) or ""
        if compression == "34892":
            return _STRIP_OTHER[tag]
        if self.tiff_type == "CR2" and ifd.name == "IFD0":
            return _STRIP_PREVIEW[tag]
        # ExifTool compares with '' when SubfileType is absent, so absent counts as "not 0"
        jpeg_sub = self.tiff_type in ("DNG", "TIFF") and compression == "7" and subfile != "0"
        if not jpeg_sub and not (self.embedded and ifd.name == "IFD2"):
            return "StripOffsets" if tag == 0x0111 else "StripByteCounts"
        return (_STRIP_RAWJPG if ifd.name == "SubIFD2" else _STRIP_PREVIEW)[tag]


def _is_text(raw: bytes) -> bool:
    body = raw.rstrip(b"\0")
    return bool(body) and all(c in (9, 10, 13) or 0x20 <= c <= 0x7E for c in body)


def tiff_type_of(path: str, base_offset: int) -> str:
    """ExifTool's TIFF_TYPE: the extension of a TIFF-based file, "APP1" for embedded EXIF."""
    if base_offset:
        return "APP1"
    ext = os.path.splitext(path)[1].lstrip(".").upper()
    return {"TIF": "TIFF", "": "TIFF"}.get(ext, ext)


def decode_exif(data, *, path: str, base_offset: int = 0, first_ifd: str = "IFD0",
                only: frozenset[str] | None = None, _depth: int = 0) -> ExifResult:
    """Decode the EXIF block ``data`` (starting with its TIFF header).

    ``base_offset`` is where ``data`` starts in the file (0 for TIFF files); offsets are shown
    relative to the file, as ExifTool does.  ``only`` (tag names) leaves every other tag out,
    and the warnings about them: the writer plans a change from the few tags it concerns."""
    res = ExifResult()
    if only is not None:  # an image is found through its offset and length tags
        only = only.union([n for off, (length, image) in DATA_TAGS.items() if image in only
                           for n in (off, length)])
    try:
        st = parse_tiff(data, path=path, first_ifd=first_ifd)
    except EngineError as e:
        res.warnings.append(str(e))
        return res
    res.structure = st
    res.warnings.extend(st.warnings)
    namer = _Namer(st, tiff_type_of(path, base_offset))
    embedded: list[Entry] = []
    seen: set[tuple[str, str, str]] = set()
    for ifd in st.ifds:
        offsets: dict[str, int] = {}
        lengths: dict[str, int] = {}
        for entry in ifd.entries:
            if entry.tag in (XMP_TAG, IPTC_TAG, PHOTOSHOP_TAG):
                _take_block(res, entry)
            if namer.is_panasonic(ifd) and entry.tag == RW2_JPG_FROM_RAW and _depth < MAX_DEPTH:
                embedded.append(entry)
            if entry.tag in HIDDEN or (ifd.name != "GPS" and entry.tag in SUB_IFD_TAGS):
                continue
            tag = _decode_entry(namer, ifd, entry, st.byte_order, res, base_offset, only)
            if tag is None:
                continue
            key = (tag.group, tag.name, str(tag.value))
            if key in seen:  # an entry repeated word for word (ExifTool shows the first)
                continue
            seen.add(key)
            res.tags.append(tag)
            if tag.name in DATA_TAGS and isinstance(tag.value, str) and tag.value.isdigit():
                offsets[tag.name] = int(tag.value)
            elif isinstance(tag.value, str) and tag.value.isdigit():
                lengths[tag.name] = int(tag.value)
        for off_name, off in offsets.items():
            len_name, image = DATA_TAGS[off_name]
            size = lengths.get(len_name)
            if size and off - base_offset + size <= len(data):
                res.tags.append(TagValue(tag_path(ifd.name, image), ifd.name, image,
                                         binary_text(size), False, size))
    for entry in embedded:
        _embedded_jpeg(res, entry, path, base_offset, _depth, only)
    return res


def _embedded_jpeg(res: ExifResult, entry: Entry, path: str, base: int, depth: int,
                   only: frozenset[str] | None) -> None:
    """EXIF of an embedded JPEG (RW2 JpgFromRaw), which ExifTool reads as the main EXIF."""
    found = find_jpeg_exif(entry.raw)
    if found is None or entry.value_offset is None:
        return
    start, end = found
    sub = decode_exif(entry.raw[start:end], path=path,
                      base_offset=base + entry.value_offset + start, only=only,
                      _depth=depth + 1)
    # RW2 files often repeat their ExifIFD in the embedded JPEG: keep one copy of a tag that
    # says the same thing twice (a differing value is kept; the model numbers it)
    seen = {(t.group, t.name, str(t.value)) for t in res.tags}
    res.tags.extend(t for t in sub.tags if (t.group, t.name, str(t.value)) not in seen)
    res.warnings.extend(sub.warnings)


def find_jpeg_exif(jpeg: bytes) -> tuple[int, int] | None:
    """(start, end) of the TIFF data of the first APP1 Exif segment of a JPEG, if any."""
    if jpeg[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker in (0xD9, 0xDA):
            break
        seg_len = struct.unpack_from(">H", jpeg, pos + 2)[0]
        if marker == 0xE1 and jpeg[pos + 4 : pos + 10] == b"Exif\0\0":
            return pos + 10, min(pos + 2 + seg_len, len(jpeg))
        pos += 2 + seg_len
    return None


def _take_block(res: ExifResult, entry: Entry) -> None:
    if not entry.raw:
        return
    if entry.tag == XMP_TAG and res.xmp is None:
        res.xmp = entry.raw
    elif entry.tag == IPTC_TAG and res.iptc is None:
        res.iptc = entry.raw
    elif entry.tag == PHOTOSHOP_TAG and res.iptc is None:
        res.iptc = find_iptc(entry.raw)


def _decode_entry(
    namer: _Namer, ifd: Ifd, entry: Entry, bo: str, res: ExifResult, base_offset: int,
    only: frozenset[str] | None = None,
) -> TagValue | None:
    group = ifd.name
    tdef = namer.lookup(ifd, entry)
    fmt = TYPE_FORMAT.get(entry.type, "undef")
    if fmt == "undef" and entry.count == 1:
        fmt = "int8u"  # as ExifTool: a single undefined byte is read as a number
    if tdef is None:
        name = f"Exif_0x{entry.tag:04x}"
        writable, values_key = False, None
    else:
        name, writable, values_key = tdef.name, tdef.writable, tdef.values
        fmt = rule(name, namer.is_panasonic(ifd)).read or fmt
    if only is not None and name not in only:
        return None
    if not entry.raw and entry.count:
        res.warnings.append(f"EXIF: {group} {name}: value could not be read")
        return None
    if name == "MakerNotes":
        size = len(entry.raw)
        return TagValue("MakerNote", group, name, binary_text(size), False, size)
    raw = entry.raw
    value = read_value(fmt, raw, bo)
    if rule(name).offset and base_offset and isinstance(value, str):
        # ExifTool prints these as offsets in the file, not in the EXIF block
        value = " ".join(str(int(v) + base_offset) if v.isdigit() else v for v in value.split())
    if tdef is None:
        printed = Binary(len(raw)) if isinstance(value, bytes) and not _is_text(raw) else value
        if not isinstance(printed, Binary):
            printed = convert(name, printed, None, bo)
    else:
        printed = convert(name, value, values_key, bo, namer.is_panasonic(ifd))
    path = tag_path(group, name)
    if rule(name).structure:  # the writer maintains it
        writable = False
    if isinstance(printed, Binary):
        return TagValue(path, group, name, binary_text(printed.size), False, printed.size)
    return TagValue(path, group, name, str(printed), writable)
