"""WebP writer: the rewrite plan for EXIF and XMP edits.

Chunks we do not change are copied from the original as byte ranges (VP8/VP8L/ALPH/ANMF image
data is never read or decoded), in their original order with their original pad bytes.  The
``EXIF`` chunk is rebuilt from ``exif_block.patch_block`` (keeping an improper ``Exif\\0\\0``
prefix when the file has one), the ``XMP `` chunk from ``engine.xmp.edit``.  New chunks go
where the container spec puts them: EXIF after the image data, XMP after EXIF.  A simple
(VP8/VP8L only) file gets the VP8X header chunk that EXIF/XMP need, with the canvas size read
from the bitstream header, as libwebp's muxer and ExifTool do; the VP8X flags are updated and
the RIFF size recomputed.  WebP has no place for IPTC.
"""

from __future__ import annotations

import struct

from engine.containers import webp as W
from engine.containers.base import Layout
from engine.containers.pieces import coalesce
from engine.errors import WriteError
from engine.exif.block import patch_block
from engine.safewrite.safety import Piece
from engine.write.changes import Edits
from engine.write.damage import hinted

# Chunks that come before EXIF/XMP in a WebP file (header, colour profile and image data).
_LEADING = frozenset({b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
_ALPHA_FLAG = 0x10


def _check_layout(layout: W.WebpLayout, path: str) -> None:
    if layout.warnings:
        raise WriteError(f"the WebP is damaged ({layout.warnings[0]}); refusing to write",
                         path=path)
    if layout.tail_offset != 8 + layout.riff_size:
        raise WriteError("the WebP RIFF size does not match its chunks; refusing to write",
                         path=path)
    first = layout.chunks[0].fourcc if layout.chunks else None
    if first not in (b"VP8X", b"VP8 ", b"VP8L"):
        raise WriteError(f"the WebP starts with chunk {first!r}, not VP8X/VP8/VP8L; refusing "
                         "to write", path=path)
    if first == b"VP8X" and layout.chunks[0].length < 10:
        raise WriteError("the WebP VP8X chunk is truncated; refusing to write", path=path)


def _only(chunks: list[W.RiffChunk], fourcc: bytes, path: str) -> int | None:
    idx = [i for i, c in enumerate(chunks) if c.fourcc == fourcc]
    if len(idx) > 1:
        raise WriteError(f"the WebP has {len(idx)} {fourcc.decode().strip()} chunks; refusing "
                         "to write one and leave the others different", path=path)
    return idx[0] if idx else None


def _after_image(chunks: list[W.RiffChunk]) -> int:
    return max(i for i, c in enumerate(chunks) if c.fourcc in _LEADING) + 1


def plan_webp(data, edits: Edits, path: str, located: Layout | None = None) -> list[Piece]:
    if edits.iptc:
        raise WriteError("WebP has no place for IPTC; use the XMP equivalents; nothing was "
                         "written", path=path)
    located = located or W.WebpFormat.locate(data, path)
    layout = located.parsed
    _check_layout(layout, path)
    chunks: list[W.RiffChunk] = list(layout.chunks)
    if edits.exif:
        i = _only(chunks, b"EXIF", path)
        slot = next((s for s in located.of("exif") if s.where == i), None)
        if slot is not None and slot.problem:
            raise WriteError(f"{slot.problem}; refusing to write", path=path)
        head, old = (slot.header, slot.data) if slot is not None else (b"", None)
        new = W.make_chunk(b"EXIF", head + hinted(data, path, patch_block, old, edits.exif, path))
        if i is None:
            xmp_at = _only(chunks, b"XMP ", path)
            chunks.insert(_after_image(chunks) if xmp_at is None else xmp_at, new)
        else:
            chunks[i] = new
    if edits.xmp:
        from engine.xmp.edit import edit_tree, serialise

        i = _only(chunks, b"XMP ", path)
        old = chunks[i].body() if i is not None else None
        # No padding: the file is always rewritten whole.
        new = W.make_chunk(b"XMP ", serialise(edit_tree(old, edits.xmp), pad=0))
        if i is None:
            exif_at = _only(chunks, b"EXIF", path)
            chunks.insert(_after_image(chunks) if exif_at is None else exif_at + 1, new)
        else:
            chunks[i] = new
    _vp8x(chunks, data, path)
    return render_plan(chunks, layout.tail_offset, len(data), path)


def _vp8x(chunks: list[W.RiffChunk], data, path: str) -> None:
    """Add a VP8X chunk to a simple file, and set the flags of the chunks now present.

    Flags are only ever set (we add chunks, never remove them), so a file whose flags
    disagreed with its chunks before keeps its other bits as they were."""
    present = {c.fourcc for c in chunks}
    flags = (W.VP8X_EXIF if b"EXIF" in present else 0) | (W.VP8X_XMP if b"XMP " in present else 0)
    if chunks[0].fourcc != b"VP8X":
        if not flags:
            return
        width, height, alpha = _canvas(chunks[0], data, path)
        flags |= _ALPHA_FLAG if alpha or b"ALPH" in present else 0
        flags |= W.VP8X_ICC if b"ICCP" in present else 0
        body = struct.pack("<I", flags) + (width - 1).to_bytes(3, "little") \
            + (height - 1).to_bytes(3, "little")
        chunks.insert(0, W.make_chunk(b"VP8X", body))
        return
    head = chunks[0]
    body = head.body(data)
    if body[0] | flags != body[0]:
        chunks[0] = W.make_chunk(b"VP8X", bytes((body[0] | flags,)) + body[1:])


def _canvas(chunk: W.RiffChunk, data, path: str) -> tuple[int, int, bool]:
    """(width, height, has alpha) from a VP8 key frame or VP8L header (RFC 9649 2.5, 3.2)."""
    head = bytes(data[chunk.data_offset : chunk.data_offset + min(chunk.length, 10)])
    if chunk.fourcc == b"VP8 " and len(head) == 10 and head[3:6] == b"\x9d\x01\x2a":
        w, h = struct.unpack_from("<HH", head, 6)
        return w & 0x3FFF, h & 0x3FFF, False
    if chunk.fourcc == b"VP8L" and len(head) >= 5 and head[0] == 0x2F:
        bits = struct.unpack_from("<I", head, 1)[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)
    raise WriteError("cannot read the image size from the WebP bitstream header (needed for "
                     "the VP8X chunk that EXIF/XMP require); refusing to write", path=path)


def render_plan(chunks: list[W.RiffChunk], tail_offset: int, size: int,
                path: str = "?") -> list[Piece]:
    """RIFF header with the new size, chunks (originals as ranges), then the tail verbatim."""
    pieces: list[Piece] = []
    total = 4
    for c in chunks:
        n = 8 + c.length + len(c.pad)
        total += n
        pieces.append((c.offset, n) if c.offset >= 0 else c.render())
    if total > 0xFFFFFFFF:
        raise WriteError("the WebP would be over 4 GiB; refusing to write", path=path)
    head = b"RIFF" + struct.pack("<I", total) + b"WEBP"
    return coalesce([head, *pieces, (tail_offset, size - tail_offset)])
