"""Copying a file's bytes into a new file: the kernel copies ranges (copy_file_range) where
it can, else they go through a buffer.  Every call goes through the write's SysOps.

How image data is copied (figures: 4.8 MB JPEG on ext4, Linux 6.18, tests/bench notes in
README).  The kernel copies a range (copy_file_range falls back to splicing) 64 KiB at a time
and caches files in large folios: chunks that start on a 64 KiB boundary of the source fill
whole folios of the new file, 1.2 ms; starting at the end of a JPEG's metadata, at an odd
offset, every chunk straddles two, 1.8 ms (and the fsync after it is 0.3 ms slower).  When
the metadata changed size the new file's pages no longer line up with the source's, and
splicing costs 3.0 ms; reading into a buffer and writing it costs 1.5 ms.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

from engine.safewrite.sysops import REAL, SysOps

Piece = bytes | tuple[int, int]
_CHUNK = 1 << 20
_SPLICE_ALIGN = 1 << 16
_PAGE = 4096


def write_plan(src: int, dst: int, plan: Sequence[Piece], ops: SysOps = REAL) -> None:
    """Write the file ``plan`` describes to ``dst`` (at its start): literal bytes, and
    ``(offset, length)`` ranges of ``src``."""
    at = 0
    for piece in plan:
        if isinstance(piece, tuple):
            copy_range(src, dst, piece[0], piece[1], at, ops)
            at += piece[1]
        else:
            write_all(dst, piece, ops)
            at += len(piece)


def copy_range(src: int, dst: int, offset: int, length: int, at: int,
               ops: SysOps = REAL) -> None:
    """Copy ``length`` bytes at ``offset`` of ``src`` to ``dst``, whose position is ``at``."""
    if (at - offset) % _PAGE:
        _copy_buffered(src, dst, offset, length, ops)
        return
    head = min(length, -offset % _SPLICE_ALIGN)
    rest = _copy_spliced(src, dst, offset, head, ops)
    if rest == 0:
        rest = _copy_spliced(src, dst, offset + head, length - head, ops)
    if rest:  # not supported here (another filesystem, ...): plain reads
        _copy_buffered(src, dst, offset + length - rest, rest, ops)


def _copy_spliced(src: int, dst: int, offset: int, length: int, ops: SysOps) -> int:
    """copy_file_range as far as it goes; returns how much it left to copy."""
    while length > 0:
        try:
            n = ops.copy_file_range(src, dst, min(length, 1 << 30), offset)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            n = 0
        if n == 0:
            break
        offset += n
        length -= n
    return length


def _copy_buffered(src: int, dst: int, offset: int, length: int, ops: SysOps) -> None:
    buf = memoryview(bytearray(min(length, _CHUNK)))
    while length > 0:
        n = ops.preadv(src, [buf[: min(length, _CHUNK)]], offset)
        if n == 0:
            raise OSError(errno.EIO, "source file shrank during the write")
        write_all(dst, buf[:n], ops)
        offset += n
        length -= n


def write_all(fd: int, data: bytes | memoryview, ops: SysOps = REAL) -> None:
    view = memoryview(data)
    while view:
        n = ops.write(fd, view)
        view = view[n:]
