"""The QuickTime group of HEIF/AVIF files as ExifTool shows it (QuickTime.pm): the ``ftyp``
brands, the ``meta`` handler, the item properties (``iprp/ipco``: size, rotation, pixel
depth, colour representation, HEVC/AV1 configuration...) and where the media data is."""

from __future__ import annotations

import struct

from engine.groups.common import num, tag
from engine.groups.tables import QT_AV1, QT_COLR, QT_FTYP, QT_HANDLER, QT_HEVC

PART, GROUP = "quicktime", "QuickTime"
# bit fields of the HEVC configuration: id -> (byte offset, mask) (QuickTime.pm HEVCConfig)
HEVC_FIELDS = {"1": (1, 0xC0), "1.1": (1, 0x20), "1.2": (1, 0x1F), "13": (13, 0x0FFF),
               "15": (15, 0x03), "16": (16, 0x03), "17": (17, 0x07), "18": (18, 0x07),
               "21": (21, 0xC0), "21.1": (21, 0x38), "21.2": (21, 0x04)}
PROFILE_BITS = {31: "No Profile", 30: "Main", 29: "Main 10", 28: "Main Still Picture",
                27: "Format Range Extensions", 26: "High Throughput", 25: "Multiview Main",
                24: "Scalable Main", 23: "3D Main", 22: "Screen Content Coding Extensions",
                21: "Scalable Format Range Extensions",
                20: "High Throughput Screen Content Coding Extensions"}


def read(data, blocks, md) -> tuple[list, list[str]]:
    if md.format != "HEIF":
        return [], []
    from engine.containers.isobmff import LAZY_TYPES, parse_boxes

    out: list = []
    for box in parse_boxes(data, lazy=LAZY_TYPES).boxes:
        if box.type == b"ftyp":
            out += brands(box.body(data))
        elif box.type == b"meta" and box.children is not None:
            out += meta_tags(box, data)
        elif box.type == b"mdat":
            out += [tag(PART, GROUP, "MediaDataSize", str(box.body_len)),
                    tag(PART, GROUP, "MediaDataOffset", str(box.data_offset))]
    return out, []


def conv(table: dict, tid: str, raw: str) -> str:
    name_conv = table[tid][3]
    return name_conv.get(raw, f"Unknown ({raw})") if name_conv else raw


def brands(body: bytes) -> list:
    if len(body) < 8:
        return []
    major = body[:4].decode("latin-1")
    minor = "{:x}.{:x}.{:x}".format(*struct.unpack(">HBB", body[4:8]))
    compat = [body[i:i + 4].decode("latin-1") for i in range(8, len(body) - 3, 4)
              if b"\0" not in body[i:i + 4]]
    return [tag(PART, GROUP, "MajorBrand", conv(QT_FTYP, "0", major)),
            tag(PART, GROUP, "MinorVersion", minor),
            tag(PART, GROUP, "CompatibleBrands", compat)]


def meta_tags(meta, data) -> list:
    out: list = []
    for box in meta.children:
        if box.type == b"hdlr":
            out += handler(box.body(data))
        elif box.type == b"pitm":
            body = box.body(data)
            if len(body) >= 6:
                item = struct.unpack_from(">H" if body[0] == 0 else ">I", body, 4)[0]
                out.append(tag(PART, "Meta", "PrimaryItemReference", str(item)))
        elif box.type == b"iprp" and box.children is not None:
            ipco = box.find(b"ipco")
            for prop in ipco.children or () if ipco is not None else ():
                out += property_tags(prop.type, prop.body(data))
    return out


def handler(body: bytes) -> list:
    if len(body) < 12:
        return []
    out = [tag(PART, GROUP, "HandlerType", conv(QT_HANDLER, "8", body[8:12].decode("latin-1")))]
    name = body[24:].split(b"\0", 1)[0]
    if name:
        out.append(tag(PART, GROUP, "HandlerDescription", name.decode("utf-8", "replace")))
    return out


def property_tags(ptype: bytes, body: bytes) -> list:
    if ptype == b"ispe" and body[:4] == b"\0\0\0\0" and len(body) >= 12:
        w, h = struct.unpack_from(">II", body, 4)
        return [tag(PART, GROUP, "ImageSpatialExtent", f"{w}x{h}")]
    if ptype == b"irot" and body:
        return [tag(PART, GROUP, "Rotation", str((body[0] & 3) * 90))]
    if ptype == b"pixi" and body[:4] == b"\0\0\0\0" and len(body) >= 5:
        return [tag(PART, GROUP, "ImagePixelDepth", " ".join(str(b) for b in body[5:]))]
    if ptype == b"auxC" and len(body) > 4:
        return [tag(PART, GROUP, "AuxiliaryImageType",
                    body[4:].split(b"\0", 1)[0].decode("latin-1"))]
    if ptype == b"clap" and len(body) >= 32:
        vals = struct.unpack(">8i", body[:32])
        return [tag(PART, GROUP, "CleanAperture", " ".join(
            num(n / d) if d else "inf" for n, d in zip(vals[::2], vals[1::2], strict=True)))]
    if ptype == b"colr" and body[:4] not in (b"prof", b"rICC"):
        return colour(body)
    if ptype == b"hvcC":
        return hevc(body)
    if ptype == b"av1C" and len(body) >= 3:
        return [tag(PART, GROUP, "AV1ConfigurationVersion", str(body[0] & 0x7F)),
                tag(PART, GROUP, "ChromaFormat", conv(QT_AV1, "2.3", str((body[2] & 0x1C) >> 2))),
                tag(PART, GROUP, "ChromaSamplePosition",
                    conv(QT_AV1, "2.4", str(body[2] & 0x03)))]
    return []


def colour(body: bytes) -> list:
    out = [tag(PART, GROUP, "ColorProfiles", body[:4].decode("latin-1"))]
    if len(body) >= 10:
        for tid, pos in (("4", 4), ("6", 6), ("8", 8)):
            raw = str(struct.unpack_from(">H", body, pos)[0])
            out.append(tag(PART, GROUP, QT_COLR[tid][0], conv(QT_COLR, tid, raw)))
    return out


def hevc(body: bytes) -> list:
    if len(body) < 23:
        return []
    out = [tag(PART, GROUP, "HEVCConfigurationVersion", str(body[0]))]
    for tid in ("1", "1.1", "1.2"):
        out.append(field(body, tid))
    flags = struct.unpack_from(">I", body, 2)[0]
    names = [PROFILE_BITS[bit] for bit in sorted(PROFILE_BITS) if flags & (1 << bit)]
    out.append(tag(PART, GROUP, "GenProfileCompatibilityFlags", ", ".join(names) or "(none)"))
    out.append(tag(PART, GROUP, "ConstraintIndicatorFlags", " ".join(str(b) for b in body[6:12])))
    level = body[12]
    out.append(tag(PART, GROUP, "GeneralLevelIDC", f"{level} (level {level / 30:.1f})"))
    for tid in ("13", "15", "16", "17", "18"):
        out.append(field(body, tid))
    rate = struct.unpack_from(">H", body, 19)[0] / 256
    out.append(tag(PART, GROUP, "AverageFrameRate", num(rate)))
    return out + [field(body, tid) for tid in ("21", "21.1", "21.2")]


def field(body: bytes, tid: str):
    """A masked bit field of the HEVC configuration, shifted down and converted."""
    pos, mask = HEVC_FIELDS[tid]
    raw = struct.unpack_from(">H", body, pos)[0] if mask > 0xFF else body[pos]
    shift = (mask & -mask).bit_length() - 1
    value = (raw & mask) >> shift
    if tid in ("17", "18"):
        value += 8  # bit depth minus 8
    return tag(PART, GROUP, QT_HEVC[tid][0], conv(QT_HEVC, tid, str(value)))
