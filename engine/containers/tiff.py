"""TIFF and TIFF-based raw files: the whole file is the EXIF block.

Sniffing follows ExifTool's ``DoProcessTIFF``: the 2-byte identifier after the byte order mark
is 0x2a for TIFF (and CR2, NEF, ARW, DNG, PEF...), 0x2b for BigTIFF, 0x55 for Panasonic
RW2/RWL/RAW, 0x4f52/0x5352 (``RO``/``RS``) for Olympus ORF.  The EXIF decoder follows the IFDs
and pulls XMP (tag 700), IPTC (33723) and Photoshop (34377) blocks itself.
"""

from __future__ import annotations

import struct

from engine.containers.base import FileFormat, Layout, Slot
from engine.errors import CorruptFileError
from engine.exif.types import BYTE_ORDERS
from engine.model import Blocks

_MAGIC = {
    0x2A: "TIFF",
    0x2B: "BTF",
    0x55: "RW2",
    0x4F52: "ORF",
    0x5352: "ORF",
}
_RW2_MAGIC = bytes.fromhex("88e774d8f8251d4d947a6e77822b5d6a")
_DNG_VERSION = 0xC612
_MAX_IFD0_ENTRIES = 1000


MRW_SIGNATURE = b"\0MRM"


def mrw_tiff_span(data: bytes) -> tuple[int, int] | None:
    """(offset, length) of the TIFF block (``\0TTW``) of a Minolta MRW file: a header
    ``\0MRM`` + data offset, then blocks of 4-byte tag + 4-byte big-endian length."""
    if len(data) < 8 or bytes(data[:4]) != MRW_SIGNATURE:
        return None
    end = min(len(data), 8 + struct.unpack_from(">I", data, 4)[0])
    pos = 8
    while pos + 8 <= end:
        tag, length = struct.unpack_from(">4sI", data, pos)
        if tag == b"\0TTW":
            return (pos + 8, min(length, len(data) - pos - 8))
        pos += 8 + length
    return None


def tiff_header(head: bytes) -> tuple[str, int] | None:
    """(byte order ``<``/``>``, identifier) if ``head`` starts with a known TIFF-like header."""
    if len(head) < 8:
        return None
    bo = BYTE_ORDERS.get(bytes(head[:2]))
    if bo is None:
        return None
    ident = struct.unpack_from(bo + "H", head, 2)[0]
    return (bo, ident) if ident in _MAGIC else None


def file_type(data: bytes) -> str:
    """ExifTool's FileType where it can be told from the content cheaply (default TIFF).

    ExifTool itself names most TIFF-based raws (NEF, ARW, PEF...) by the file extension;
    here only DNG (DNGVersion in IFD0), CR2, ORF, RW2/RAW and BigTIFF are told apart.
    """
    if bytes(data[:4]) == MRW_SIGNATURE:
        return "MRW"
    hdr = tiff_header(bytes(data[:16]))
    if hdr is None:
        return "TIFF"
    bo, ident = hdr
    kind = _MAGIC[ident]
    if ident == 0x55:
        off = struct.unpack_from(bo + "I", data, 4)[0]
        return "RW2" if off >= 0x18 and bytes(data[8:24]) == _RW2_MAGIC else "RAW"
    if kind != "TIFF":
        return kind
    if bytes(data[8:12]) == b"CR\x02\0":
        return "CR2"
    if _ifd0_has(data, bo, _DNG_VERSION):
        return "DNG"
    return "TIFF"


def _ifd0_has(data: bytes, bo: str, tag: int) -> bool:
    size = len(data)
    off = struct.unpack_from(bo + "I", data, 4)[0]
    if off < 8 or off + 2 > size:
        return False
    n = min(struct.unpack_from(bo + "H", data, off)[0], _MAX_IFD0_ENTRIES)
    for i in range(n):
        p = off + 2 + 12 * i
        if p + 2 > size:
            return False
        if struct.unpack_from(bo + "H", data, p)[0] == tag:
            return True
    return False


class TiffFormat(FileFormat):
    """TIFF and TIFF-based raws (DNG, CR2, NEF, ARW, ORF, RW2...); BigTIFF read only (MRW:
    engine.containers.mrw)."""

    name = "TIFF"
    read_only = {"BTF": "BigTIFF"}  # MRW: engine.containers.mrw.MrwFormat
    writer = ("engine.containers.tiff_write", "plan_tiff")

    @staticmethod
    def score(head: bytes) -> int:
        hdr = tiff_header(head)
        if hdr is None:
            return 70 if head[:4] == MRW_SIGNATURE else 0
        return 90 if hdr[1] in (0x2A, 0x2B) else 80

    @classmethod
    def file_type(cls, data) -> str:
        return file_type(data)

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        """One EXIF slot: the whole file (MRW: its TTW block), XMP and IPTC being IFD0 tags."""
        if bytes(data[:4]) == MRW_SIGNATURE:  # read only: the TIFF is a block inside
            span = mrw_tiff_span(data)
            if span is None or tiff_header(bytes(data[span[0] : span[0] + 16])) is None:
                raise CorruptFileError("MRW: no TTW (TIFF) block", path=path, offset=8)
            block = bytes(data[span[0] : span[0] + span[1]])
            return Layout(None, [Slot("exif", block, span[0], b"", "TTW")])
        if tiff_header(bytes(data[:16])) is None:
            raise CorruptFileError("TIFF: no TIFF header", path=path, offset=0)
        return Layout(None, [Slot("exif", data, 0, b"", "file")])

    @classmethod
    def blocks(cls, layout: Layout, path: str) -> Blocks:
        slot = layout.slots[0]
        return Blocks(exif=slot.data, exif_offset=slot.offset)

    @classmethod
    def check_damage(cls, data, edits, path: str) -> None:
        from engine.write.damage import check_tiff

        check_tiff(data, edits, path)

    @classmethod
    def invariants(cls, data) -> dict[str, object]:
        """Every strip, tile and JPEG pointer says the same (the plan copies image ranges
        untouched; the planner checks no patch meets them), and the trailers at the end read
        as before (moved, their absolute offsets following them)."""
        from engine.containers.tiff_write import image_layout
        from engine.containers.trailers import find_trailers, fingerprint
        from engine.exif.ifd import parse_tiff

        if bytes(data[:2]) not in BYTE_ORDERS:
            return {"image data pointers changed": None}
        structure = parse_tiff(data)
        if structure.magic == 0x55:  # Panasonic RW2: the raw data moves (rw2_write)
            from engine.containers.rw2_write import rw2_invariants

            return rw2_invariants(data, structure)
        return {"image data pointers changed": image_layout(structure),
                "the trailers after the TIFF data changed":
                    fingerprint(data, find_trailers(data, 0)[0])}

    @classmethod
    def unchanged(cls, original, data) -> str | None:
        """The invariants, and a Panasonic RW2's embedded JPEG (JpgFromRaw) keeps its image
        data, as a JPEG write must (its EXIF is rewritten)."""
        why = super().unchanged(original, data)
        if why is not None or bytes(data[2:4]) not in (b"U\0", b"\0U"):
            return why
        from engine.containers.rw2_write import jpeg_kept

        return jpeg_kept(original, data)
