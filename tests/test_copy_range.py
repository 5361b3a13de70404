"""The image-data copy of the write pipeline: every way it takes gives the same bytes.

``copy_range`` splices 64 KiB-aligned chunks when the source and the new file line up
page for page, copies through a buffer when they do not (the metadata changed size), and
falls back to the buffer when the kernel cannot copy between the two files.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from engine.safewrite import copying

SIZE = 3 * (1 << 20) + 12345  # more than one buffer, not a whole number of pages


@pytest.fixture
def source(tmp_path: Path) -> bytes:
    data = random.Random(3).randbytes(SIZE)
    (tmp_path / "src").write_bytes(data)
    return data


def copy(tmp_path: Path, head: bytes, offset: int, length: int) -> bytes:
    src = os.open(tmp_path / "src", os.O_RDONLY)
    dst = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(dst, head)
        copying.copy_range(src, dst, offset, length, len(head))
    finally:
        os.close(dst)
        os.close(src)
    return (tmp_path / "dst").read_bytes()


@pytest.mark.parametrize(("head_len", "offset", "length"), [
    (0, 0, SIZE),  # the whole file
    (7353, 7353, SIZE - 7353),  # metadata kept its size: pages line up
    (7355, 7353, SIZE - 7353),  # it grew by 2 bytes: they do not
    (100, 7353, SIZE - 7353),  # it shrank
    (8192, 8192, 1000),  # less than the first aligned chunk
    (4096 + 5, 5, 70000),  # lined up, across one 64 KiB boundary
    (0, 5, 0),  # nothing
])
def test_every_path_copies_the_same_bytes(tmp_path: Path, source: bytes, head_len: int,
                                          offset: int, length: int) -> None:
    head = bytes(range(256)) * (head_len // 256) + bytes(head_len % 256)
    assert copy(tmp_path, head, offset, length) == head + source[offset:offset + length]


def test_the_buffer_takes_over_where_the_kernel_cannot_copy(
        tmp_path: Path, source: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def cross_device(src: int, dst: int, count: int, offset_src: int | None = None,
                     offset_dst: int | None = None) -> int:
        calls.append(count)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", cross_device)
    assert copy(tmp_path, b"", 0, SIZE) == source
    assert calls  # it was tried


@pytest.mark.parametrize("head", [b"", b"x"])  # spliced, buffered
def test_a_source_that_shrank_is_an_error(tmp_path: Path, source: bytes, head: bytes) -> None:
    with pytest.raises(OSError, match="source file shrank during the write"):
        copy(tmp_path, head, 0, SIZE + 10)
