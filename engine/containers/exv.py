"""Exiv2 EXV metadata sidecars: JPEG segments without an image, read by the JPEG reader.

An EXV file starts with the marker 0xFF01 (TEM) and ``Exiv2`` instead of SOI; what follows is
a run of ordinary JPEG metadata segments (engine.containers.jpeg.parse_jpeg reads it).  metafs
reads EXV files and never writes them (``JpegFormat.read_only``).
"""

from __future__ import annotations

EXV_SIGNATURE = b"\xff\x01Exiv2"  # Exiv2 metadata sidecar: JPEG segments, no image


def is_exv(head: bytes) -> bool:
    return bytes(head[:7]) == EXV_SIGNATURE
