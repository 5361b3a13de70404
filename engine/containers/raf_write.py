"""RAF: the embedded JPEG rewritten by the JPEG writer, the header's pointers moved after it.

As ExifTool's WriteRAF does: refused unless the format version is 4 digits (or one it
tested) and the JPEG starts at a multiple of 4 between 0x68 and 0x94 ("Unsupported or
corrupted RAF image"), and unless the bytes between the JPEG's end and the block at 0x5c
are zero padding no longer than 1,000,000 bytes.  The new JPEG is followed by 1 to 4 zero
bytes (to a multiple of 4, always some, as Fujifilm does), its length (without padding)
goes to 88, every non-zero pointer at 0x5c, 0x64, 0x78, 0x80 moves by the change in size,
and the data from the old 0x5c block to the end of the file (CFA header and raw data) is
one range of the original.
"""

from __future__ import annotations

import struct

from engine.containers.base import Layout
from engine.containers.raf import JPEG_FIELDS, NEXT_BLOCK, pointers, raf_jpeg_span
from engine.errors import WriteError

_HEADER = 0x94  # ExifTool reads this much of the header before writing
_MAX_PAD = 1_000_000
_TESTED_ODD = {b"0Dgi"}  # X-A10, X-A3: the one non-digit version ExifTool writes


def _checked_span(data, path: str) -> tuple[int, int, int]:
    """(JPEG offset, JPEG length, next block offset) of a RAF ExifTool would write."""
    version = bytes(data[0x3C:0x40])
    span = raf_jpeg_span(data) if len(data) >= _HEADER else None
    known = (version.isdigit() and len(version) == 4) or version in _TESTED_ODD
    if span is None or not known or not 0x68 <= span[0] <= 0x94 or span[0] % 4:
        raise WriteError(f"unsupported or corrupted RAF image (version "
                         f"{version.decode('latin-1')!r}: bad embedded JPEG pointer at 84); "
                         "refusing to write", path=path, offset=JPEG_FIELDS)
    jpos, jlen = span
    nxt = struct.unpack_from(">I", data, NEXT_BLOCK)[0]
    pad = nxt - (jpos + jlen)
    if not 0 <= pad <= _MAX_PAD or nxt > len(data):
        raise WriteError(f"bad RAF pointer at 0x5c ({nxt}: the JPEG ends at {jpos + jlen}); "
                         "refusing to write", path=path, offset=NEXT_BLOCK)
    if bytes(data[jpos + jlen : nxt]).strip(b"\0"):
        raise WriteError(f"non-null bytes in the padding after the RAF's embedded JPEG "
                         f"(offset {jpos + jlen}); refusing to write", path=path,
                         offset=jpos + jlen)
    return jpos, jlen, nxt


def plan_raf(data, edits, path: str, located: Layout | None = None) -> list:
    from engine.containers.jpeg import JpegFormat

    jpos, jlen, nxt = _checked_span(data, path)
    jpeg = bytes(data[jpos : jpos + jlen])
    try:
        pieces = JpegFormat.plan(jpeg, None, edits, path)
    except WriteError as e:
        raise WriteError(f"in the RAF's embedded JPEG: {e.reason}", path=path,
                         offset=None if e.offset is None else e.offset + jpos,
                         tag=e.tag) from None
    new = b"".join(p if isinstance(p, bytes) else jpeg[p[0] : p[0] + p[1]] for p in pieces)
    head = bytearray(data[:jpos])
    struct.pack_into(">I", head, JPEG_FIELDS + 4, len(new))  # the length without padding
    new += b"\0" * (4 - len(new) % 4)
    shift = len(new) - (nxt - jpos)
    for at, value in pointers(data, jpos):
        if not 0 <= value + shift < 1 << 32:
            raise WriteError(f"the RAF pointer at 0x{at:x} cannot be moved; refusing to write",
                             path=path, offset=at)
        struct.pack_into(">I", head, at, value + shift)
    return [bytes(head) + new, (nxt, len(data) - nxt)]


def raf_kept(original, data) -> str | None:
    """Why the rewritten RAF ``data`` does not keep what ``original`` must keep (None: it
    does): the pointers past the JPEG moved by one amount, the data from the 0x5c block on
    where they now say, and the embedded JPEG's image data."""
    from engine.containers.jpeg import JpegFormat
    from engine.containers.trailers_write import same_bytes

    old_span, new_span = raf_jpeg_span(original), raf_jpeg_span(data)
    if new_span is None:
        return "the RAF's embedded JPEG pointer changed"
    old_ptrs, new_ptrs = pointers(original, old_span[0]), pointers(data, new_span[0])
    shifts = {b - a for (_o, a), (_n, b) in zip(old_ptrs, new_ptrs, strict=False)}
    if [o for o, _v in old_ptrs] != [n for n, _v in new_ptrs] or len(shifts) > 1:
        return "the RAF header pointers changed"
    old_next = struct.unpack_from(">I", original, NEXT_BLOCK)[0]
    new_next = struct.unpack_from(">I", data, NEXT_BLOCK)[0]
    size = len(original) - old_next
    if len(data) - new_next != size or not same_bytes(original, old_next, data, new_next, size):
        return "the RAF image data (CFA) changed"
    old_jpeg = bytes(original[old_span[0] : sum(old_span)])
    return JpegFormat.unchanged(old_jpeg, bytes(data[new_span[0] : sum(new_span)]))
