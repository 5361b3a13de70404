"""read_metadata: sniff the container, pull out its blocks, decode each block into tags."""

from __future__ import annotations

import logging
import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from engine.errors import CorruptFileError, EngineError
from engine.model import Blocks, Metadata
from engine.registry import READ_ONLY_TYPES, file_type, sniff

log = logging.getLogger(__name__)


@contextmanager
def mapped(path: str) -> Iterator[mmap.mmap]:
    """The file's content as a read-only mmap (errors as EngineError naming the file)."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise CorruptFileError("empty file", path=path)
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                yield data
    except OSError as e:
        raise EngineError(f"cannot read: {e.strerror or e}", path=path) from e


def read_metadata(path: str | os.PathLike[str]) -> Metadata:
    path = os.fspath(path)
    with mapped(path) as data:
        return read_metadata_from(data, path)


def read_metadata_from(data: bytes | mmap.mmap, path: str) -> Metadata:
    """Decode metadata from the whole content of a file (pure: no I/O)."""
    fmt = sniff(bytes(data[:64]), path)
    blocks = fmt.extract(data, path)
    md = Metadata(path=path, format=fmt.name, file_type=file_type(fmt, data))
    md.warnings.extend(blocks.warnings)
    decode_blocks(blocks, md)
    if md.file_type in READ_ONLY_TYPES:  # shown as they are, but nothing here can be written
        md.tags = {p: replace(t, writable=False) for p, t in md.tags.items()}
    return md


def decode_blocks(blocks: Blocks, md: Metadata) -> None:
    xmp, iptc = blocks.xmp, blocks.iptc
    if blocks.exif is not None:
        from engine.exif import decode_exif

        base = blocks.exif_offset if blocks.offset_base is None else blocks.offset_base
        res = decode_exif(blocks.exif, path=md.path, base_offset=base)
        for t in res.tags:
            md.add(t)
        md.warnings.extend(res.warnings)
        xmp = xmp if xmp is not None else res.xmp
        iptc = iptc if iptc is not None else res.iptc
    for data, offset, first in blocks.extra_exif:
        from engine.exif import decode_exif

        res = decode_exif(data, path=md.path, base_offset=offset, first_ifd=first)
        for t in res.tags:
            md.add(t)
        md.warnings.extend(res.warnings)
    if xmp is not None:
        from engine.xmp import decode_xmp

        tags, warnings = decode_xmp(xmp, blocks.xmp_extended, path=md.path)
        for t in tags:
            md.add(t)
        md.warnings.extend(warnings)
    if iptc is not None:
        from engine.iptc import decode_iptc

        tags, warnings = decode_iptc(iptc, path=md.path)
        for t in tags:
            md.add(t)
        md.warnings.extend(warnings)
