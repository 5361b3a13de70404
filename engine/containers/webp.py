"""WebP: RIFF chunk parse/render and metadata block extraction.

A WebP file is ``RIFF <size LE> WEBP`` followed by chunks (fourcc, 32-bit little-endian size,
data, one pad byte when the size is odd).  ``EXIF`` holds a TIFF header (some writers put an
improper ``Exif\\0\\0`` first, ExifTool accepts it with a warning); ``XMP `` (with a space)
holds the XMP packet.  Each chunk keeps its actual pad bytes, and bytes after the RIFF body are
kept as a tail, so rendering with the stored RIFF size reproduces the input exactly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from engine.containers.base import FileFormat, Layout, Slot
from engine.containers.pieces import LazyChunk
from engine.errors import CorruptFileError
from engine.exif.types import TIFF_MAGICS
from engine.model import Blocks

# image data: extract does not copy it
LAZY_TYPES = frozenset({b"VP8 ", b"VP8L", b"ANMF", b"ALPH"})
_EXIF_HEADER = b"Exif\0\0"


@dataclass(slots=True)
class RiffChunk(LazyChunk):
    fourcc: bytes
    data: bytes | None  # None for a lazy chunk: its data is source[data_offset:+length]
    pad: bytes = b""  # the pad byte actually present after an odd-sized chunk (b"" if none)
    offset: int = -1  # file offset of the fourcc (-1: not from a file)
    length: int = 0  # data length in the source file (for lazy chunks)

    def label(self) -> str:
        return f"WebP: lazy chunk {self.fourcc!r}"

    def render(self, source: bytes | None = None) -> bytes:
        """The chunk bytes; ``source`` (the parsed file) is needed only for lazy chunks."""
        body = self.body(source)
        return self.fourcc + struct.pack("<I", len(body)) + body + self.pad


@dataclass(slots=True)
class WebpLayout:
    riff_size: int  # as stored in the header
    chunks: list[RiffChunk]
    tail_offset: int  # data[tail_offset:] is kept verbatim
    warnings: list[str] = field(default_factory=list)


def make_chunk(fourcc: bytes, data: bytes) -> RiffChunk:
    return RiffChunk(fourcc, bytes(data), b"\0" if len(data) & 1 else b"", -1, len(data))


def parse_webp(data: bytes, path: str = "?", lazy: frozenset[bytes] = frozenset()) -> WebpLayout:
    """Split ``data`` into chunks; chunks whose fourcc is in ``lazy`` are not copied."""
    if len(data) < 12 or bytes(data[0:4]) != b"RIFF" or bytes(data[8:12]) != b"WEBP":
        raise CorruptFileError("WebP: no RIFF/WEBP header", path=path, offset=0)
    riff_size = struct.unpack_from("<I", data, 4)[0]
    size = len(data)
    end = min(size, 8 + riff_size)
    warnings: list[str] = []
    if 8 + riff_size > size:
        warnings.append(f"WebP: RIFF size {riff_size} runs past the end of the file ({size})")
    chunks: list[RiffChunk] = []
    pos = 12
    while pos + 8 <= end:
        fourcc, length = struct.unpack_from("<4sI", data, pos)
        dend = pos + 8 + length
        if dend > end:
            warnings.append(f"WebP: chunk {fourcc!r} at offset {pos} is truncated")
            break
        pad = b""
        if length & 1:
            pad = bytes(data[dend : dend + 1]) if dend < end else b""
            if not pad:
                warnings.append(f"WebP: chunk {fourcc!r} at offset {pos} lacks its pad byte")
        body = None if fourcc in lazy else bytes(data[pos + 8 : dend])
        chunks.append(RiffChunk(fourcc, body, pad, pos, length))
        pos = dend + len(pad)
    if pos < end:
        warnings.append(f"WebP: {end - pos} stray bytes at offset {pos}")
    return WebpLayout(riff_size, chunks, pos, warnings)


def render_webp(
    chunks: list[RiffChunk],
    tail: bytes = b"",
    riff_size: int | None = None,
    source: bytes | None = None,
) -> bytes:
    """The file: header + chunks + tail.  ``riff_size=None`` computes the right size (the
    chunks only); pass the stored size to reproduce an input exactly.  ``source`` is the
    parsed file, needed only for lazy chunks."""
    body = b"".join(c.render(source) for c in chunks)
    if riff_size is None:
        riff_size = 4 + len(body)
    return b"RIFF" + struct.pack("<I", riff_size) + b"WEBP" + body + bytes(tail)


def render_layout(layout: WebpLayout, data: bytes) -> bytes:
    return render_webp(layout.chunks, data[layout.tail_offset :], layout.riff_size, data)


VP8X_XMP, VP8X_EXIF, VP8X_ICC = 0x04, 0x08, 0x20


def set_vp8x_flags(chunks: list[RiffChunk]) -> None:
    """Make the VP8X feature flags agree with the EXIF/XMP/ICCP chunks present (writer aid)."""
    present = {c.fourcc for c in chunks}
    for i, c in enumerate(chunks):
        if c.fourcc != b"VP8X" or not c.data:
            continue
        flags = c.data[0] & ~(VP8X_XMP | VP8X_EXIF | VP8X_ICC) & 0xFF
        flags |= VP8X_XMP if b"XMP " in present else 0
        flags |= VP8X_EXIF if b"EXIF" in present else 0
        flags |= VP8X_ICC if b"ICCP" in present else 0
        chunks[i] = RiffChunk(c.fourcc, bytes((flags,)) + c.data[1:], c.pad, c.offset, c.length)


def _exif_slot(i: int, c: RiffChunk, warn: list[str] | None) -> Slot:
    """The EXIF chunk's block (some writers put an improper ``Exif\\0\\0`` first); ``warn``:
    where the reader's warnings go (None: this chunk is not the one read)."""
    warn = [] if warn is None else warn
    d, off, head = c.body(), c.data_offset, b""
    if d.startswith(_EXIF_HEADER) and d[6:10] in TIFF_MAGICS:
        warn.append(f"WebP: improper EXIF header in chunk at offset {c.offset}")
        d, off, head = d[6:], off + 6, _EXIF_HEADER
    if d[:4] in TIFF_MAGICS:
        return Slot("exif", d, off, head, i)
    warn.append(f"WebP: EXIF chunk at offset {c.offset} has no TIFF header")
    return Slot("exif", None, off, head, i,
                f"the EXIF chunk at offset {c.offset} holds no TIFF block")


class WebpFormat(FileFormat):
    name = "WEBP"
    writer = ("engine.containers.webp_write", "plan_webp")
    not_writable = {"iptc": "WebP has no place for IPTC; use the XMP equivalents"}

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else 0

    @classmethod
    def file_type(cls, data) -> str:
        """ExifTool's FileType: ``Extended WEBP`` when a VP8X chunk is present."""
        return "Extended WEBP" if bytes(data[12:16]) == b"VP8X" else "WEBP"

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        """The chunks (image data not copied); EXIF and XMP slots, ``where``: chunk index."""
        parsed = parse_webp(data, path, lazy=LAZY_TYPES)
        warn = list(parsed.warnings)
        slots: list[Slot] = []
        for i, c in enumerate(parsed.chunks):
            if c.fourcc == b"EXIF":
                read = not any(s.group == "exif" and s.data is not None for s in slots)
                slots.append(_exif_slot(i, c, warn if read else None))
            elif c.fourcc == b"XMP ":
                slots.append(Slot("xmp", c.body(), c.data_offset, b"", i))
        return Layout(parsed, slots, warn)

    @classmethod
    def blocks(cls, layout: Layout, path: str) -> Blocks:
        b = super().blocks(layout, path)
        exif = layout.first("exif")
        if exif is not None:  # ExifTool counts from the chunk's data
            b.offset_base = layout.parsed.chunks[exif.where].data_offset
        return b
