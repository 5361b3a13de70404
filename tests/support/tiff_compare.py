"""The image data of a TIFF-based file, as one comparable digest (the TIFF ``image_tail``).

Every range an IFD points at as image data (strips, tiles, JPEG thumbnails / JpgFromRaw /
PreviewImage) is hashed in IFD order, and so are the pixels Pillow decodes (every frame), so a
rewrite that moved or changed a byte of them gives a different digest.
"""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

# (offsets tag, byte counts tag) pairs that point at image data.
IMAGE_PAIRS = ((0x0111, 0x0117), (0x0144, 0x0145), (0x0201, 0x0202))


def _ints(entry, bo: str) -> list[int]:
    fmt = {3: "H", 4: "I", 8: "h", 9: "i", 13: "I", 16: "Q"}.get(entry.type)
    if fmt is None:
        return []
    n = len(entry.raw) // struct.calcsize(fmt)
    return list(struct.unpack_from(f"{bo}{n}{fmt}", entry.raw))


def image_ranges(data: bytes) -> list[tuple[str, int, list[tuple[int, int]]]]:
    """(IFD name, offsets tag, [(offset, length)...]) for every image-data pointer pair."""
    from engine.exif.ifd import parse_tiff

    st = parse_tiff(data)
    out = []
    for ifd in st.ifds:
        by_tag = {e.tag: e for e in ifd.entries}
        for otag, ctag in IMAGE_PAIRS:
            if otag in by_tag and ctag in by_tag:
                offs = _ints(by_tag[otag], st.byte_order)
                lens = _ints(by_tag[ctag], st.byte_order)
                out.append((ifd.name, otag, list(zip(offs, lens, strict=False))))
    return out


def tiff_digest(data: bytes) -> bytes:
    h = hashlib.sha256()
    for name, tag, ranges in image_ranges(data):
        h.update(f"{name}:{tag}:{len(ranges)}".encode())
        for off, length in ranges:
            h.update(data[off : off + length])
    h.update(pixel_digest(data))
    h.update(_panasonic_raw(data))
    return h.digest()


def _panasonic_raw(data: bytes) -> bytes:
    """Panasonic RW2 (magic 0x55): the raw data, from RawDataOffset (0x118) to the end of the
    file (its StripByteCounts may be anything), and the pixels of the JpgFromRaw (0x2e)."""
    from engine.exif.ifd import parse_tiff

    st = parse_tiff(data)
    ifd0 = st.get("IFD0")
    if st.magic != 0x55 or ifd0 is None:
        return b""
    by_tag = {e.tag: e for e in ifd0.entries}
    h = hashlib.sha256()
    if 0x118 in by_tag:
        h.update(data[_ints(by_tag[0x118], st.byte_order)[0] :])
    if 0x2E in by_tag:
        h.update(pixel_digest(by_tag[0x2E].raw) or b"undecodable JpgFromRaw")
    return h.digest()


def pixel_digest(data: bytes) -> bytes:
    """The decoded pixels of every frame Pillow can decode (b"" where it cannot)."""
    import warnings

    from PIL import Image

    h = hashlib.sha256()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data))
            frame = 0
            while frame < 64:
                try:
                    im.seek(frame)
                    h.update(im.tobytes())
                except EOFError:
                    break
                except Exception:  # noqa: BLE001 - a frame Pillow cannot decode
                    h.update(b"undecodable")
                    break
                frame += 1
        except Exception:  # noqa: BLE001 - not decodable at all: the ranges decide
            return b""
    return h.digest()


def tiff_tail(path: Path) -> bytes:
    return tiff_digest(Path(path).read_bytes())
