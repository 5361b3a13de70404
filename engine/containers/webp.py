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

from engine.containers.base import FileFormat
from engine.errors import CorruptFileError
from engine.model import Blocks

# image data: extract does not copy it
LAZY_TYPES = frozenset({b"VP8 ", b"VP8L", b"ANMF", b"ALPH"})
_TIFF_MAGIC = (b"MM\0\x2a", b"II\x2a\0")


@dataclass(slots=True)
class RiffChunk:
    fourcc: bytes
    data: bytes | None  # None for a lazy chunk: its data is source[data_offset:+length]
    pad: bytes = b""  # the pad byte actually present after an odd-sized chunk (b"" if none)
    offset: int = -1  # file offset of the fourcc (-1: not from a file)
    length: int = 0  # data length in the source file (for lazy chunks)

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    def body(self, source: bytes | None = None) -> bytes:
        if self.data is not None:
            return self.data
        if source is None:
            raise CorruptFileError(f"WebP: lazy chunk {self.fourcc!r} rendered without its source")
        return bytes(source[self.data_offset : self.data_offset + self.length])

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


class WebpFormat(FileFormat):
    name = "WEBP"
    extensions = (".webp",)

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else 0

    @staticmethod
    def file_type(data: bytes) -> str:
        """ExifTool's FileType: ``Extended WEBP`` when a VP8X chunk is present."""
        return "Extended WEBP" if bytes(data[12:16]) == b"VP8X" else "WEBP"

    @classmethod
    def extract(cls, data: bytes, path: str) -> Blocks:
        layout = parse_webp(data, path, lazy=LAZY_TYPES)
        b = Blocks()
        warn = list(layout.warnings)
        for c in layout.chunks:
            if c.fourcc == b"EXIF" and b.exif is None:
                d, off = c.body(), c.data_offset
                if d.startswith(b"Exif\0\0") and d[6:10] in _TIFF_MAGIC:
                    warn.append(f"WebP: improper EXIF header in chunk at offset {c.offset}")
                    d, off = d[6:], off + 6
                if d[:4] in _TIFF_MAGIC:
                    b.exif, b.exif_offset = d, off
                    b.offset_base = c.data_offset  # ExifTool counts from the chunk's data
                else:
                    warn.append(f"WebP: EXIF chunk at offset {c.offset} has no TIFF header")
            elif c.fourcc == b"XMP " and b.xmp is None:
                b.xmp = c.body()
        b.warnings = [f"{path}: {w}" for w in warn]
        return b
