"""Fujifilm RAF: the metadata are those of the JPEG preview embedded in the raw file.

The RAF header (``FUJIFILMCCD-RAW ``) gives the embedded JPEG's offset and length at bytes 84
and 88 (big-endian); the JPEG reader reads it, offsets counted in the RAF file.  metafs reads
RAF files and never writes them (``JpegFormat.read_only``).
"""

from __future__ import annotations

import struct

from engine.errors import CorruptFileError
from engine.model import Blocks

RAF_SIGNATURE = b"FUJIFILMCCD-RAW "  # Fujifilm raw: the metadata are in an embedded JPEG


def raf_jpeg_span(data) -> tuple[int, int] | None:
    """(offset, length) of the JPEG embedded in a Fujifilm RAF (header fields at 84 and 88)."""
    if len(data) < 92:
        return None
    off, length = struct.unpack_from(">II", data, 84)
    if off < 92 or length < 4 or off + length > len(data):
        return None
    return off, length


def raf_blocks(data, path: str) -> Blocks:
    """The blocks of the embedded JPEG, with file offsets of the RAF."""
    from engine.containers.jpeg import JpegFormat

    span = raf_jpeg_span(data)
    if span is None:
        raise CorruptFileError("RAF: bad embedded JPEG pointer", path=path, offset=84)
    off, length = span
    b = JpegFormat.extract(bytes(data[off : off + length]), path)
    b.exif_offset += off
    return b
