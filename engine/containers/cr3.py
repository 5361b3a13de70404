"""Canon CR3: ISO base media boxes holding TIFF blocks (read only).

CR3 keeps its TIFF blocks in ``moov/uuid(Canon)`` boxes ``CMT1`` (IFD0), ``CMT2`` (ExifIFD),
``CMT3`` (maker notes), ``CMT4`` (GPS), and its XMP in a top-level ``uuid`` box.  It is sniffed
by its ``ftyp`` brand (``crx ``) with the HEIF brands and read through ``HeifFormat``; metafs
never writes it (``HeifFormat.read_only``).
"""

from __future__ import annotations

from engine.containers.isobmff import CANON_UUID, XMP_UUID, Box
from engine.model import Blocks

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


def cr3_blocks(data: bytes, boxes: list[Box], b: Blocks, warn: list[str]) -> None:
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
