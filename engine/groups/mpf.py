"""MPF (JPEG APP2 ``MPF\\0``, CIPA Multi-Picture Format): the index IFD (group MPF0) and one
MPImage<N> group per entry of its image list (MPF.pm)."""

from __future__ import annotations

import struct

from engine.groups.common import jpeg_segments, num, tag
from engine.groups.tables import MPF_IMAGE, MPF_MAIN

PART = "mpf"
IMAGE_LIST = 0xB002
ENTRY = 16  # bytes per image list entry
MAX_IMAGES = 1024
FLAGS = {2: "Representative image", 3: "Dependent child image", 4: "Dependent parent image"}


def read(data, blocks, md) -> tuple[list, list[str]]:
    for seg in jpeg_segments(data, blocks, md) or ():
        if seg.marker == 0xE2 and seg.payload.startswith(b"MPF\0"):
            tags, warnings = decode_mpf(seg.payload[4:], seg.payload_offset + 4)
            return tags + [tag(PART, group, name, None, binary=length) for group, name, _, length
                           in images(tags, len(data))], warnings
    return [], []


def images(tags: list, size: int) -> list[tuple[str, str, int, int]]:
    """(group, name, file offset, length) of the images the MP list points at: the first
    large thumbnail is PreviewImage, the others MPImage<N> (MPF.pm ExtractMPImages)."""
    by_group: dict[str, dict[str, str]] = {}
    for t in tags:
        if t.group.startswith("MPImage"):
            by_group.setdefault(t.group, {})[t.name] = t.value
    out, preview = [], False
    for group, fields in by_group.items():
        start, length = int(fields["MPImageStart"]), int(fields["MPImageLength"])
        if not start or not length:  # (listed even when the file is cut short, as ExifTool)
            continue
        large = fields["MPImageType"].startswith("Large Thumbnail")
        name = "PreviewImage" if large and not preview else group
        preview = preview or large
        out.append((group, name, start, length))
    return out


def tag_bytes(data, blocks, md, path: str) -> bytes | None:
    """The bytes of an MPF image tag (``mpf/PreviewImage``, ``mpf/MPImage2``...)."""
    name = path.split("/", 1)[-1].split("#", 1)[0]
    tags, _ = read(data, blocks, md)
    for _group, image, start, length in images(tags, len(data)):
        if image == name:
            return bytes(data[start:start + length]) if start + length <= len(data) else None
    return None


def decode_mpf(tiff: bytes, base: int) -> tuple[list, list[str]]:
    from engine.errors import EngineError
    from engine.exif.ifd import parse_tiff

    try:
        st = parse_tiff(tiff)
    except EngineError as e:
        return [], [f"MPF: {e}"]
    if not st.ifds:
        return [], []
    main: list = []
    images: list = []
    for ifd in st.ifds:  # the index IFD, then the first image's attribute IFD
        for e in ifd.entries:
            if e.tag == IMAGE_LIST:
                images += image_list(e.raw, st.byte_order, base)
                continue
            row = MPF_MAIN.get(str(e.tag))
            value = entry_text(e.type, e.raw, st.byte_order)
            if row is not None and value is not None:
                main.append(tag(PART, "MPF0", row[0], value))
    return main + images, []


def entry_text(typ: int, raw: bytes, bo: str) -> str | None:
    if typ in (2, 7):
        return raw.split(b"\0", 1)[0].decode("latin-1")
    codes = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i"}
    if typ in codes:
        size = struct.calcsize(codes[typ])
        vals = struct.unpack(f"{bo}{len(raw) // size}{codes[typ]}", raw[:len(raw) // size * size])
        return " ".join(str(v) for v in vals)
    if typ in (5, 10):
        pairs = struct.unpack(f"{bo}{len(raw) // 4}{'I' if typ == 5 else 'i'}",
                              raw[:len(raw) // 8 * 8])
        return " ".join(num(n / d) if d else "inf" for n, d in zip(pairs[::2], pairs[1::2],
                                                                     strict=True))
    return None


def image_list(raw: bytes, bo: str, base: int) -> list:
    out = []
    for i in range(min(len(raw) // ENTRY, MAX_IMAGES)):
        attr, length, start, dep1, dep2 = struct.unpack_from(bo + "IIIHH", raw, i * ENTRY)
        group = f"MPImage{i + 1}"
        flags = (attr & 0xF8000000) >> 27
        names = [name for bit, name in FLAGS.items() if flags & (1 << bit)]
        fmt = str((attr & 0x07000000) >> 24)
        kind = str(attr & 0x00FFFFFF)
        fmt_conv, kind_conv = MPF_IMAGE["0.2"][3], MPF_IMAGE["0.3"][3]
        out += [tag(PART, group, "MPImageFlags", ", ".join(names) or "(none)"),
                tag(PART, group, "MPImageFormat", fmt_conv.get(fmt, f"Unknown ({fmt})")),
                tag(PART, group, "MPImageType",
                    kind_conv.get(kind, f"Unknown (0x{int(kind):x})")),
                tag(PART, group, "MPImageLength", str(length)),
                tag(PART, group, "MPImageStart", str(start + base if start else 0)),
                tag(PART, group, "DependentImage1EntryNumber", str(dep1)),
                tag(PART, group, "DependentImage2EntryNumber", str(dep2))]
    return out
