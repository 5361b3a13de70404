"""A small Panasonic RW2 built from its documented layout (ExifTool's PanasonicRaw.pm): the
``IIU\\0`` header with the RW2 signature, IFD0 of raw settings holding a JpgFromRaw (a JPEG
with the full EXIF in its APP1) and an ExifIFD of its own, and raw data from RawDataOffset to
the end of the file."""

from __future__ import annotations

import io
import struct

from support.tiff_builder import _write_ifd, build

RW2_SIGNATURE = bytes.fromhex("88e774d8f8251d4d947a6e77822b5d6a")
RAW = bytes((i * 7 + i // 256) & 0xFF for i in range(6000))  # stands for the raw data
NO_STRIPS = 0xFFFFFFFF


def small_jpeg(exif_ifds: list[list] | None) -> bytes:
    """A 16x16 JPEG (Pillow: SOI, APP0 JFIF...) with an APP1 Exif segment holding
    ``exif_ifds`` (None: without one)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 90)).save(buf, "JPEG", quality=80)
    jpeg = buf.getvalue()
    if exif_ifds is None:
        return jpeg
    payload = b"Exif\0\0" + build(exif_ifds)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


JPEG_EXIF = [
    [(0x010F, 2, "Panasonic"), (0x0110, 2, "DMC-TEST"), (0x0112, 3, [1]),
     (0x011A, 5, [(180, 1)]), (0x011B, 5, [(180, 1)]), (0x0128, 3, [2]),
     ("sub", 0x8769, [(0x829A, 5, [(10, 2500)]), (0x9003, 2, "2020:01:01 10:00:00"),
                      (0xA002, 4, [16]), (0xA003, 4, [16])])],
    [(0x0103, 3, [6]), (0x011A, 5, [(180, 1)]), (0x011B, 5, [(180, 1)]), (0x0128, 3, [2])],
]


def build_rw2(variant: str = "sentinel", *, jpeg: bool = True, exif: bool = True) -> bytes:
    """``variant``: how the raw data is pointed at: "sentinel" (RawDataOffset, StripOffsets
    0xffffffff), "strips" (StripOffsets only, StripByteCounts an uncompressed size), "both"
    (RawDataOffset and StripOffsets, StripByteCounts 0: ExifTool updates both), "unsupported"
    (RawDataOffset and a real strip with a byte count: ExifTool refuses it).  ``jpeg``: with
    a JpgFromRaw; ``exif``: the JpgFromRaw has an APP1 Exif segment."""

    def layout(raw_at: int) -> bytearray:
        strip = NO_STRIPS if variant == "sentinel" else raw_at
        count = 0 if variant == "both" else 4 * len(RAW)
        entries: list = [(0x01, 7, b"0300"), (0x02, 3, [3724]), (0x03, 3, [2754]),
                         (0x0A, 3, [12]), (0x0B, 3, [34316]), (0x17, 3, [80])]
        if jpeg:
            entries.append((0x2E, 7, small_jpeg(JPEG_EXIF if exif else None)))
        entries += [(0x010F, 2, "Panasonic"), (0x0110, 2, "DMC-TEST"), (0x0111, 4, [strip]),
                    (0x0112, 3, [1]), (0x0116, 3, [2754]), (0x0117, 4, [count])]
        if variant != "strips":
            entries.append((0x0118, 4, [raw_at]))
        entries.append(("sub", 0x8769, [(0x829A, 5, [(10, 2500)]),
                                        (0x9003, 2, "2020:01:01 10:00:00")]))
        out = bytearray(b"IIU\0" + struct.pack("<I", 24) + RW2_SIGNATURE)
        _write_ifd(out, "<", entries)
        return out

    size = len(layout(0))
    out = layout(size + (size & 1))
    out += bytes(len(out) & 1)
    return bytes(out) + RAW
