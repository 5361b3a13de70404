"""The File group: what ExifTool says about the file as a whole (FileType, MIMEType, the JPEG
frame header...).  The file-system facts ExifTool shows in the System group (FileName,
FileSize, dates, permissions) are not metadata of the photo and are left out."""

from __future__ import annotations

import hashlib
import os
import struct

from engine.groups.common import AS_JPEG, AS_TIFF, jpeg_segments, num, tag
from engine.groups.tables import MIME_TYPES

PART, GROUP = "file", "File"
# MIME types ExifTool sets in code rather than in %mimeType
MORE_MIME = {"WEBP": "image/webp", "HEIC": "image/heic", "HEIF": "image/heif",
             "AVIF": "image/avif", "MPO": "image/jpeg", "Extended WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "TIFF": "tif", "Extended WEBP": "webp"}  # else lower-case type
# ExifTool.pm %Image::ExifTool::JPEG::SOF EncodingProcess (SOF marker - 0xC0)
ENCODING = {0x0: "Baseline DCT, Huffman coding", 0x1: "Extended sequential DCT, Huffman coding",
            0x2: "Progressive DCT, Huffman coding", 0x3: "Lossless, Huffman coding",
            0x5: "Sequential DCT, differential Huffman coding",
            0x6: "Progressive DCT, differential Huffman coding",
            0x7: "Lossless, Differential Huffman coding",
            0x9: "Extended sequential DCT, arithmetic coding",
            0xA: "Progressive DCT, arithmetic coding", 0xB: "Lossless, arithmetic coding",
            0xD: "Sequential DCT, differential arithmetic coding",
            0xE: "Progressive DCT, differential arithmetic coding",
            0xF: "Lossless, differential arithmetic coding"}
SUBSAMPLING = {"1 1": "YCbCr4:4:4 (1 1)", "2 1": "YCbCr4:2:2 (2 1)", "2 2": "YCbCr4:2:0 (2 2)",
               "4 1": "YCbCr4:1:1 (4 1)", "4 2": "YCbCr4:1:0 (4 2)", "1 2": "YCbCr4:4:0 (1 2)",
               "1 4": "YCbCr4:4:1 (1 4)", "2 4": "YCbCr4:2:1 (2 4)"}
IPTC_TAG = 0x83BB
# raw types ExifTool reads as TIFF and names by their extension
TIFF_BASED = frozenset({"NEF", "NRW", "IIQ", "ARW", "SR2", "SRF", "CR2", "DNG", "PEF", "ERF",
                        "3FR", "DCR", "K25", "KDC", "MEF", "MOS", "RWL", "SRW", "GPR", "FFF"})
BYTE_ORDER = {b"II": "Little-endian (Intel, II)", b"MM": "Big-endian (Motorola, MM)"}


def standard_iptc(data, blocks, md) -> bytes | None:
    """The IPTC block where ExifTool takes its digest: JPEG APP13 or the TIFF IPTC tag."""
    if md.format in AS_JPEG:
        return blocks.iptc
    if md.format in AS_TIFF:
        from engine.groups.common import tiff_entry

        return tiff_entry(blocks, IPTC_TAG) or blocks.iptc
    return None


def file_type(data, md) -> str:
    ftype = md.file_type
    ext = os.path.splitext(md.path)[1].lstrip(".").upper()
    if ftype == "TIFF" and ext in TIFF_BASED:
        return ext
    if ftype == "JPEG" and os.path.splitext(md.path)[1].lower() == ".mpo":
        return "MPO"  # ExifTool takes the extension's type when its content is JPEG
    if ftype == "WEBP" and bytes(data[12:16]) == b"VP8X":
        return "Extended WEBP"
    return ftype


def read(data, blocks, md) -> tuple[list, list[str]]:
    ftype = file_type(data, md)
    tags = [tag(PART, GROUP, "FileType", ftype),
            tag(PART, GROUP, "FileTypeExtension", EXTENSIONS.get(ftype, ftype.lower())),
            tag(PART, GROUP, "MIMEType",
                MIME_TYPES.get(ftype) or MORE_MIME.get(ftype, "application/unknown"))]
    if blocks.exif is not None and bytes(blocks.exif[:2]) in BYTE_ORDER:
        tags.append(tag(PART, GROUP, "ExifByteOrder", BYTE_ORDER[bytes(blocks.exif[:2])]))
    segments = jpeg_segments(data, blocks, md)
    if segments is not None:
        tags += jpeg_frame(segments)
    if md.format == "HEIF":
        from engine.groups.heif_props import primary_size

        size = primary_size(data)
        if size is not None:
            tags += [tag(PART, GROUP, "ImageWidth", str(size[0])),
                     tag(PART, GROUP, "ImageHeight", str(size[1]))]
    if md.file_type == "RAF":
        tags.append(tag(PART, GROUP, "RAFVersion", bytes(data[0x3C:0x40]).decode("latin-1")))
    iptc = standard_iptc(data, blocks, md)
    if iptc is not None:
        tags.append(tag(PART, GROUP, "CurrentIPTCDigest", hashlib.md5(iptc).hexdigest()))
    return tags, []


def jpeg_frame(segments) -> list:
    """ImageWidth... from each SOF segment before the scan (ExifTool shows each, the last
    taking precedence); Comment from COM segments."""
    out: list = []
    for seg in segments:
        m, p = seg.marker, seg.payload
        if (m & 0xF0) == 0xC0 and (m == 0xC0 or m & 0x03) and len(p) >= 6:
            out += sof_tags(m, p)
        elif m == 0xFE:
            out.append(tag(PART, GROUP, "Comment", comment(p)))
    return out


def sof_tags(marker: int, p: bytes) -> list:
    bits, h, w, n = struct.unpack_from(">BHHB", p, 0)
    out = [tag(PART, GROUP, "ImageWidth", str(w)), tag(PART, GROUP, "ImageHeight", str(h)),
           tag(PART, GROUP, "EncodingProcess", ENCODING.get(marker - 0xC0,
                                                            f"Unknown ({marker - 0xC0})")),
           tag(PART, GROUP, "BitsPerSample", str(bits)),
           tag(PART, GROUP, "ColorComponents", str(n))]
    if n != 3 or len(p) < 15:
        return out
    hs = [p[7 + 3 * i] >> 4 for i in range(3)]
    vs = [p[7 + 3 * i] & 0x0F for i in range(3)]
    if min(hs) and min(vs):
        key = f"{num(max(hs) / min(hs))} {num(max(vs) / min(vs))}"
        out.append(tag(PART, GROUP, "YCbCrSubSampling",
                       SUBSAMPLING.get(key, f"Unknown ({key})")))
    return out


def comment(p: bytes) -> str:
    p = p.rstrip(b"\0")
    try:
        return p.decode("utf-8")
    except UnicodeDecodeError:
        return p.decode("latin-1")

