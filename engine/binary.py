"""The bytes of a binary tag (``TagValue.binary_size`` set, printed "(Binary data N bytes)"):
``tag_bytes(path, "ifd1/ThumbnailImage")`` gives the embedded JPEG, as ``exiftool -b`` does.

EXIF tags are found again in the TIFF structure: an entry's own bytes (MakerNote,
InterColorProfile, undefined blobs), or the image an offset/length pair points at
(ThumbnailImage, PreviewImage, JpgFromRaw, OtherImage).  A read-only part of
``engine.reader.EXTRA_PARTS`` gives its binary tags' bytes when its module has a
``tag_bytes(data, blocks, md, tag_path) -> bytes | None`` function (``md`` holds the
EXIF, XMP and IPTC tags).  None when the tag is not there or its bytes cannot be had.
"""

from __future__ import annotations

import os

from engine.errors import EngineError
from engine.exif.decode import DATA_TAGS, _Namer, tag_path, tiff_type_of
from engine.exif.ifd import TiffStructure, parse_tiff
from engine.exif.printing import TYPE_FORMAT, read_value
from engine.model import Blocks
from engine.reader import EXTRA_PARTS, PARTS, decode_blocks, mapped, part_of, read_blocks_from

_IMAGES = {image: (off, length) for off, (length, image) in DATA_TAGS.items()}


def tag_bytes(path: str | os.PathLike[str], tag: str) -> bytes | None:
    """The bytes of binary tag ``tag`` (a tag path) of the photo at ``path``."""
    path = os.fspath(path)
    with mapped(path) as data:
        return tag_bytes_from(data, path, tag)


def tag_bytes_from(data, path: str, tag: str) -> bytes | None:
    """``tag_bytes`` on the file's content (pure)."""
    base, _, nth = tag.partition("#")
    n = int(nth) if nth.isdigit() else 1
    try:
        md, blocks = read_blocks_from(data, path)
        part = part_of(base)
        if part == "exif":
            return _exif_bytes(blocks, path, base, n)
        if part in EXTRA_PARTS:
            module = EXTRA_PARTS[part][0]
            fn = getattr(__import__(module, fromlist=["tag_bytes"]), "tag_bytes", None)
            if fn is None:
                return None
            decode_blocks(blocks, md, PARTS)
            out = fn(data, blocks, md, tag)
            return bytes(out) if out is not None else None
    except (EngineError, ValueError, IndexError, KeyError):
        return None
    return None


def _exif_bytes(blocks: Blocks, path: str, tag: str, n: int) -> bytes | None:
    """The ``n``-th EXIF value at ``tag`` (duplicates are numbered as ``Metadata.add``
    numbers them: the main block first, then the extra ones)."""
    tiffs = []
    if blocks.exif is not None:
        base = blocks.exif_offset if blocks.offset_base is None else blocks.offset_base
        tiffs.append((blocks.exif, base, "IFD0"))
    tiffs.extend(blocks.extra_exif)
    seen = 0
    for data, base, first in tiffs:
        st = parse_tiff(data, path=path, first_ifd=first)
        for found in _candidates(st, data, tiff_type_of(path, base), tag):
            seen += 1
            if seen == n:
                return found
    return None


def _candidates(st: TiffStructure, data, tiff_type: str, tag: str):
    """The bytes of each value at path ``tag`` in one TIFF structure, in reading order."""
    namer = _Namer(st, tiff_type)
    leaf = tag.rpartition("/")[2]
    for ifd in st.ifds:
        if leaf in _IMAGES:
            if tag_path(ifd.name, leaf) == tag:
                found = _image(st, ifd, namer, data, leaf)
                if found is not None:
                    yield found
            continue
        for entry in ifd.entries:
            tdef = namer.lookup(ifd, entry)
            name = tdef.name if tdef is not None else f"Exif_0x{entry.tag:04x}"
            path = "MakerNote" if name == "MakerNotes" else tag_path(ifd.name, name)
            if path == tag and entry.raw:
                yield bytes(entry.raw)


def _image(st: TiffStructure, ifd, namer: _Namer, data, image: str) -> bytes | None:
    """An embedded image an offset/length pair of ``ifd`` points at (offsets are from the
    TIFF header, which is where ``data`` starts)."""
    off_name, len_name = _IMAGES[image]
    values: dict[str, int] = {}
    for entry in ifd.entries:
        tdef = namer.lookup(ifd, entry)
        if tdef is not None and tdef.name in (off_name, len_name) and entry.raw:
            text = str(read_value(TYPE_FORMAT.get(entry.type, "undef"), entry.raw,
                                  st.byte_order))
            if text.isdigit():
                values[tdef.name] = int(text)
    off, size = values.get(off_name), values.get(len_name)
    if off is None or not size or off + size > len(data):
        return None
    return bytes(data[off : off + size])
