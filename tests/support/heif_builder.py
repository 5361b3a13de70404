"""HEIF byte builders: boxes, and a synthetic HEIC/AVIF with Exif, XMP and image items in the
layouts the writer must handle (``SYNTH``); ``check_same_items`` compares every item's data."""

from __future__ import annotations

import struct
from pathlib import Path

from engine.containers import heif as H
from engine.containers.heif_write import NEW_EXIF_PREFIX
from engine.exif.block import patch_block
from engine.xmp.edit import edit_packet
from support.builders import box, full_box, infe
from support.write_compat import heif_items


def check_same_items(path: Path, original: bytes) -> None:
    new = path.read_bytes()
    assert heif_items(new) == heif_items(original)
    assert all(blob is not None for _t, blob in heif_items(new).values())
    parsed = H.parse_boxes(new)
    assert not parsed.warnings and parsed.tail_offset == len(new)


IMAGE = bytes(range(256)) * 8  # stands for HEVC data: never decoded, only compared


def build_heif(brand: bytes = b"heic", *, exif: int = 1, xmp: bool = True,
               xmp_in_idat: bool = False, sizes: tuple[int, int, int] = (4, 4, 0),
               image_to_end: bool = False, exif_in_idat: bool = False, version: int = 1,
               base: bool = False, split_exif: bool = False) -> bytes:
    """ftyp, meta (hdlr pitm iinf iref iloc [idat]), mdat (Exif items, XMP, image last).
    ``sizes``: iloc offset/length/base_offset field sizes (offset size 0: offsets in base);
    ``image_to_end``: the image item's extent has length 0 (to the end of the file);
    ``exif_in_idat``/``xmp_in_idat``: that item in ``idat`` (construction method 1);
    ``version``: of ``iloc`` (2: 32-bit item ids); ``base``: every mdat item's base_offset is
    the mdat's data start and its extent offsets count from there; ``split_exif``: the Exif
    item in two extents."""
    tiff = patch_block(None, [("IFD0", "Make", "Synth")], "synth")
    exif_payload = NEW_EXIF_PREFIX + tiff
    packet = edit_packet(None, {"dc:title": "Synth"})
    osz, lsz, bsz = sizes
    blobs: list[tuple[int, bytes, bytes]] = [(1, b"hvc1", IMAGE)]
    blobs += [(10 + k, b"Exif", exif_payload) for k in range(exif)]
    if xmp:
        blobs.append((20, b"mime", packet))
    idat_types = {t for t, flag in ((b"mime", xmp_in_idat), (b"Exif", exif_in_idat)) if flag}
    in_mdat = [b for b in blobs if b[1] not in idat_types]
    in_mdat = in_mdat[1:] + in_mdat[:1]  # image last
    in_idat = [b for b in blobs if b[1] in idat_types]

    def meta_box(mdat_data: int) -> bytes:
        items, pos = [], mdat_data
        for iid, t, blob in in_mdat:
            n = 0 if (image_to_end and iid == 1) else len(blob)
            if osz == 0:
                items.append(H.ItemLocation(iid, 0, 0, pos, [(0, 0, n)]))
            elif base:
                items.append(H.ItemLocation(iid, 0, 0, mdat_data,
                                            _extents(split_exif and t, pos - mdat_data, n)))
            else:
                items.append(H.ItemLocation(iid, 0, 0, 0, _extents(split_exif and t, pos, n)))
            pos += len(blob)
        at = 0
        for iid, t, blob in in_idat:
            items.append(H.ItemLocation(iid, 1, 0, 0, _extents(split_exif and t, at, len(blob))))
            at += len(blob)
        iloc = H.Iloc(version, 0, osz, lsz, bsz, 0, items)
        refs = b"".join(box(b"cdsc", struct.pack(">HHH", iid, 1, 1))
                        for iid, t, _b in blobs if t != b"hvc1")
        infes = b"".join(infe(i, t, ctype=H.XMP_MIME) for i, t, _b in blobs)
        body = (full_box(b"hdlr", 0, b"\0\0\0\0pict" + bytes(13))
                + full_box(b"pitm", 0, struct.pack(">H", 1))
                + full_box(b"iinf", 0, struct.pack(">H", len(blobs)) + infes)
                + full_box(b"iref", 0, refs) + box(b"iloc", H.render_iloc(iloc)))
        if in_idat:
            body += box(b"idat", b"".join(b for _i, _t, b in in_idat))
        return full_box(b"meta", 0, body)

    ftyp = box(b"ftyp", brand + b"\0\0\0\0mif1" + brand)
    size = len(meta_box(0))
    mdat = box(b"mdat", b"".join(b for _i, _t, b in in_mdat))
    return ftyp + meta_box(len(ftyp) + size + 8) + mdat


def _extents(split, at: int, n: int) -> list[tuple[int, int, int]]:
    """One extent, or two for the Exif item when ``split`` is its type (split_exif)."""
    if split == b"Exif":
        return [(0, at, n // 2), (0, at + n // 2, n - n // 2)]
    return [(0, at, n)]


SYNTH = {
    "plain": {},
    "xmp-in-idat": {"xmp_in_idat": True},
    "offsets-in-base": {"sizes": (0, 4, 4)},
    "image-to-end": {"image_to_end": True},
    "small-fields": {"sizes": (4, 4, 4), "image_to_end": True},
    "exif-in-idat": {"exif_in_idat": True},
    "everything-in-idat": {"exif_in_idat": True, "xmp_in_idat": True},
    "wide-fields": {"sizes": (8, 8, 8)},
    "base-and-offsets": {"sizes": (4, 4, 4), "base": True},
    "iloc-version-2": {"version": 2, "base": True, "sizes": (4, 4, 8)},
    "exif-in-two-extents": {"split_exif": True},
    "exif-in-two-idat-extents": {"split_exif": True, "exif_in_idat": True, "base": True,
                                 "sizes": (4, 4, 4)},
}
