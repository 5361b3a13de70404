"""TIFF facts every reader and writer of TIFF/EXIF structures shares (TIFF 6.0, BigTIFF, EXIF
2.32): the header marks, the value types, the pointer tags that open sub-IFDs.  Each fact is
written here once; the readers, writers, patcher and repair import it.
"""

import struct

# Byte-order marks at the start of a TIFF header -> struct byte order.
BYTE_ORDERS = {b"II": "<", b"MM": ">"}
# The first four bytes of a classic TIFF header, big and little endian.
TIFF_MAGICS = (b"MM\0*", b"II*\0")
# Header magics (after the byte-order mark): 42 plus the RAW variants (Olympus ORF 'RO'/'RS',
# Panasonic RW2 0x55); 43 is BigTIFF.
CLASSIC_MAGICS = (42, 0x4F52, 0x5352, 0x55)
BIGTIFF_MAGIC = 43
# A valid little-endian TIFF with an empty IFD0: what a new EXIF block starts from.
EMPTY_TIFF = b"II*\0\x08\0\0\0" + b"\0\0" + b"\0\0\0\0"

# TIFF type id -> byte size of one element (6.0 types 1..13, plus BigTIFF 16/17/18).
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4,
              16: 8, 17: 8, 18: 8}
LAST_CLASSIC_TYPE = 13  # types above it exist only in BigTIFF
# TIFF type id -> ExifTool's format name.
TYPE_NAMES = {1: "int8u", 2: "string", 3: "int16u", 4: "int32u", 5: "rational64u", 6: "int8s",
              7: "undef", 8: "int16s", 9: "int32s", 10: "rational64s", 11: "float", 12: "double",
              13: "ifd", 16: "int64u", 17: "int64s", 18: "ifd64"}
# TIFF type id -> struct code of one element (a rational is two of its type's code).
TYPE_CODES = {1: "B", 3: "H", 4: "I", 5: "I", 6: "b", 8: "h", 9: "i", 10: "i", 11: "f", 12: "d",
              13: "I", 16: "Q", 17: "q", 18: "Q"}
# Types a sub-IFD pointer may have (read as unsigned ints, as ExifTool reads them).
OFFSET_TYPES = (3, 4, 9, 13, 16, 18)
UINT_TYPES = (3, 4, 13)  # SHORT, LONG, IFD: the types image offsets and byte counts come in
_UNSIGNED = {2: "H", 4: "I", 8: "Q"}  # element size -> struct code

# Pointer tag -> (the IFD it opens, the IFD that holds it; None: any IFD of the main chain).
POINTERS = {
    0x8769: ("ExifIFD", "IFD0"),
    0x8825: ("GPS", "IFD0"),
    0xA005: ("InteropIFD", "ExifIFD"),
    0x014A: ("SubIFD", None),
}
SUB_IFD_TAGS = {tag: name for tag, (name, _parent) in POINTERS.items()}
# The sub-IFDs a writer may create: child IFD name -> (parent IFD name, pointer tag).
CHILD_POINTERS = {name: (parent, tag) for tag, (name, parent) in POINTERS.items() if parent}

# (offsets tag, byte counts tag) pairs that point at image data: strips, tiles, JPEG images.
IMAGE_PAIRS = ((0x0111, 0x0117), (0x0144, 0x0145), (0x0201, 0x0202))

MAKERNOTE_TAG = 0x927C
# Where a maker note's directory may start (after its maker's header), as ExifTool finds them.
MAKERNOTE_HEADERS = (0, 6, 8, 10, 12, 14, 16, 18)
BOM_TAGS = (0x4949, 0x4D4D)  # a byte-order mark read as a tag id: an inner TIFF header


def ifd_size(entries: int) -> int:
    """Bytes of a classic IFD table: the entry count, 12 bytes an entry, the next-IFD link."""
    return 2 + 12 * entries + 4


def unsigned_ints(raw: bytes, typ: int, bo: str, types=OFFSET_TYPES) -> list[int]:
    """The elements of a value of one of ``types`` as unsigned ints ([] for another type)."""
    if typ not in types:
        return []
    size = TYPE_SIZES[typ]
    return list(struct.unpack_from(f"{bo}{len(raw) // size}{_UNSIGNED[size]}", raw))
