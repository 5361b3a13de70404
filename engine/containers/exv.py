"""Exiv2 EXV metadata sidecars: JPEG segments without an image.

An EXV file starts with the marker 0xFF01 (TEM) and ``Exiv2`` instead of SOI; what follows is
a run of ordinary JPEG metadata segments and an EOI (engine.containers.jpeg.parse_jpeg reads
it).  ExifTool writes EXV files as JPEG files whose image is empty (``WriteJPEG``): metafs
does the same, through the JPEG writer (engine.containers.exv_write).
"""

from __future__ import annotations

from engine.containers.base import FileFormat, Layout
from engine.model import Blocks

EXV_SIGNATURE = b"\xff\x01Exiv2"  # Exiv2 metadata sidecar: JPEG segments, no image
# the segments whose content a write may change (engine.containers.jpeg.kind)
_METADATA_KINDS = frozenset({"exif", "xmp", "xmp_ext", "photoshop"})


def is_exv(head: bytes) -> bool:
    return bytes(head[:7]) == EXV_SIGNATURE


class ExvFormat(FileFormat):
    """Exiv2 EXV: read and written as a JPEG with no image data."""

    name = "EXV"
    writer = ("engine.containers.exv_write", "plan_exv")
    xmp_in_place = 65533 - 29  # JpegFormat's: one standard XMP segment (MAX_PAYLOAD - header)

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if is_exv(head) else 0

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        from engine.containers.jpeg import JpegFormat

        return JpegFormat.locate(data, path)

    @classmethod
    def extract(cls, data, path: str) -> Blocks:
        from engine.containers.jpeg import JpegFormat

        return JpegFormat.extract(data, path)

    @classmethod
    def check_damage(cls, data, edits, path: str) -> None:
        from engine.write.damage import check_jpeg

        check_jpeg(data, edits, path)

    @classmethod
    def invariants(cls, data) -> dict[str, object]:
        """The signature, every segment that holds no metadata (ICC, comments...) in its
        order, and what follows the segments (the EOI)."""
        from engine.containers.jpeg import kind, parse_jpeg

        if not is_exv(bytes(data[:7])):
            return {"EXV signature changed": True}
        parsed = parse_jpeg(data)
        kept = [(s.marker, s.payload) for s in parsed.segments if kind(s) not in _METADATA_KINDS]
        return {"EXV signature changed": False,
                "EXV segments other than metadata changed": kept,
                "the end of the EXV file changed": bytes(data[parsed.tail_offset:])}
