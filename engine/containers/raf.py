"""Fujifilm RAF: the metadata are those of the JPEG preview embedded in the raw file.

Facts from ExifTool's ``FujiFilm.pm`` (ProcessRAF/WriteRAF): the header starts
``FUJIFILMCCD-RAW ``, its format version is 4 digits at 0x3c; big-endian words at 84 and 88
give the embedded JPEG's offset and length (the JPEG reader reads it, offsets counted in the
RAF file).  The word at 0x5c points at the next block (the CFA header and data), after zero
padding; 0x5c, 0x64, 0x78 and 0x80 are the header's pointers past the JPEG (0: none).  A
write rewrites the JPEG (engine.containers.raf_write), and everything from the 0x5c block
on is copied as it was.
"""

from __future__ import annotations

import struct

from engine.containers.base import FileFormat, Layout, Slot
from engine.errors import CorruptFileError
from engine.model import Blocks

RAF_SIGNATURE = b"FUJIFILMCCD-RAW "  # Fujifilm raw: the metadata are in an embedded JPEG
JPEG_FIELDS = 84  # the JPEG's offset, then its length (without padding)
# header pointers past the JPEG, moved with the data they point at (those before the JPEG)
POINTERS = (0x5C, 0x64, 0x78, 0x80)
NEXT_BLOCK = 0x5C  # the first byte after the JPEG's zero padding


def raf_jpeg_span(data) -> tuple[int, int] | None:
    """(offset, length) of the JPEG embedded in a Fujifilm RAF (header fields at 84 and 88)."""
    if len(data) < 92:
        return None
    off, length = struct.unpack_from(">II", data, JPEG_FIELDS)
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


def embedded_jpeg(data, path: str) -> tuple[int, bytes]:
    """(offset, bytes) of the embedded JPEG; CorruptFileError when its pointer is bad."""
    span = raf_jpeg_span(data)
    if span is None:
        raise CorruptFileError("RAF: bad embedded JPEG pointer", path=path, offset=84)
    return span[0], bytes(data[span[0] : span[0] + span[1]])


def pointers(data, jpos: int) -> list[tuple[int, int]]:
    """(header offset, value) of the non-zero pointers past the JPEG (short headers have
    fewer: only those before the JPEG count)."""
    out = []
    for at in POINTERS:
        if at + 4 > jpos or at + 4 > len(data):
            break
        value = struct.unpack_from(">I", data, at)[0]
        if value:
            out.append((at, value))
    return out


class RafFormat(FileFormat):
    """Fujifilm RAF: read and written through its embedded JPEG (raf_write)."""

    name = "RAF"
    writer = ("engine.containers.raf_write", "plan_raf")
    xmp_in_place = 65533 - 29  # JpegFormat's: one standard XMP segment (MAX_PAYLOAD - header)

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if bytes(head[:16]) == RAF_SIGNATURE else 0

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        """The embedded JPEG's layout (segments counted in the JPEG), slot offsets in the RAF."""
        from engine.containers.jpeg import JpegFormat

        jpos, jpeg = embedded_jpeg(data, path)
        layout = JpegFormat.locate(jpeg, path)
        slots = [Slot(s.group, s.data, s.offset + jpos, s.header, s.where, s.problem)
                 for s in layout.slots]
        return Layout(layout.parsed, slots, layout.warnings)

    @classmethod
    def extract(cls, data, path: str) -> Blocks:
        return raf_blocks(data, path)

    @classmethod
    def check_damage(cls, data, edits, path: str) -> None:
        """The embedded JPEG checked as a JPEG file is (engine.write.damage.check_jpeg)."""
        from engine.errors import WriteError
        from engine.write.damage import check_jpeg

        jpos, jpeg = embedded_jpeg(data, path)
        try:
            check_jpeg(jpeg, edits, path)
        except WriteError as e:
            raise WriteError(f"in the RAF's embedded JPEG: {e.reason}", path=path,
                             offset=None if e.offset is None else e.offset + jpos,
                             tag=e.tag) from None

    @classmethod
    def invariants(cls, data) -> dict[str, object]:
        """The header but the JPEG length and the pointers past the JPEG."""
        span = raf_jpeg_span(data)
        if span is None:
            return {"the RAF header changed": None}
        head = bytearray(data[: span[0]])
        for at, _value in pointers(data, span[0]):
            head[at : at + 4] = bytes(4)
        head[JPEG_FIELDS + 4 : JPEG_FIELDS + 8] = bytes(4)
        return {"the RAF header changed": bytes(head)}

    @classmethod
    def unchanged(cls, original, data) -> str | None:
        """The invariants; the pointers past the JPEG all moved by the same amount and the
        data from the first of them on byte for byte where it now lies; the embedded JPEG's
        image data kept (JpegFormat.unchanged)."""
        from engine.containers.raf_write import raf_kept

        return super().unchanged(original, data) or raf_kept(original, data)
