"""What a photo *is*: a digest of its image data, the same after any metadata edit.

A backup under ``.originals`` belongs to "the same photo" as long as the file at its name
has the same image data, whichever program edited the metadata meanwhile (ExifTool writes
a new file, so inode and times change).  Another photo copied in under the name has other
image data: its predecessor's backup is set aside.  Pure functions on bytes (or an mmap).

Regions hashed, per format: JPEG the scan data from the first SOS to the EOI that ends it;
TIFF (and TIFF raws) every strip/tile/JPEG image of every IFD, in order; PNG the IDAT data;
WebP the VP8/VP8L/ALPH/ANMF chunks; HEIF the data of every item that is not metadata.
"""

from __future__ import annotations

import struct

from engine.errors import EngineError
from engine.exif.types import TIFF_MAGICS


def image_digest(data) -> bytes | None:
    """SHA-256 of the image data of ``data``, or None when the format is not one of the
    above or the file is too damaged to find it."""
    try:
        spans = _spans(data)
    except (EngineError, struct.error, ValueError, IndexError, KeyError):
        return None
    if not spans:
        return None
    try:
        from _hashlib import openssl_sha256 as sha256  # hashlib's import costs 5 ms more
    except ImportError:  # pragma: no cover - a Python without OpenSSL
        from hashlib import sha256
    h = sha256()
    size = len(data)
    with memoryview(data) as view:
        for span in spans:
            if isinstance(span, bytes):
                h.update(span)
                continue
            start, length = span
            if start < 0 or length < 0 or start + length > size:
                return None
            h.update(struct.pack(">Q", length))
            h.update(view[start : start + length])
    return h.digest()


def _spans(data) -> list[tuple[int, int]] | list[bytes]:
    head = bytes(data[:16])
    if head[:2] == b"\xff\xd8":
        return _jpeg(data)
    if head[:4] in (*TIFF_MAGICS, b"IIRO", b"IIU\x00"):  # TIFF, ORF, RW2
        return _tiff(data)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return _chunks_png(data)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _chunks_webp(data)
    if head[4:8] == b"ftyp":
        return _heif(data)
    return []


def _jpeg(data) -> list[tuple[int, int]]:
    from engine.containers.jpeg import parse_jpeg

    layout = parse_jpeg(data)
    if layout.sos_offset is None:
        return []
    end = data.find(b"\xff\xd9", layout.sos_offset)  # no FF D9 inside stuffed scan data
    end = len(data) if end < 0 else end + 2
    return [(layout.sos_offset, end - layout.sos_offset)]


def _tiff(data) -> list[tuple[int, int]]:
    from engine.containers.tiff_write import image_layout
    from engine.exif.ifd import parse_tiff

    return [span for _, _, spans in image_layout(parse_tiff(data)) for span in spans]


def _chunks_png(data) -> list[tuple[int, int]]:
    out, pos, size = [], 8, len(data)
    while pos + 8 <= size:
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            out.append((pos + 8, min(length, size - pos - 8)))
        if kind == b"IEND":
            break
        pos += 12 + length
    return out


_WEBP_IMAGE = (b"VP8 ", b"VP8L", b"ALPH", b"ANMF")


def _chunks_webp(data) -> list[tuple[int, int]]:
    out, pos, size = [], 12, len(data)
    while pos + 8 <= size:
        kind, length = struct.unpack_from("<4sI", data, pos)
        if kind in _WEBP_IMAGE:
            out.append((pos + 8, min(length, size - pos - 8)))
        pos += 8 + length + (length & 1)
    return out


def _heif(data) -> list[bytes]:
    from engine.containers.heif_write import image_items

    # image_items reads the items into memory: those copies are hashed
    return [struct.pack(">IQ", i, len(d or b"")) + (d or b"")
            for i, (_, d) in sorted(image_items(data).items()) if i]
