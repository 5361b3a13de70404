"""More Composite tags: the XMP flash structure as an EXIF Flash value (XMP.pm), IPTC
DigitalCreationDateTime, Canon FileNumber, Kodak DateCreated, and the WebP frame size."""

from __future__ import annotations

import re
import struct

from engine.groups.common import tag

PART, GROUP = "composite", "Composite"
FLASH_FIELDS = ("Fired", "Return", "Mode", "Function", "RedEyeMode")
FLASH_RETURN = {"No return detection": 0, "Return not detected": 2, "Return detected": 3}
FLASH_MODE = {"Unknown": 0, "On": 1, "Off": 2, "Auto": 3}


def more_composites(data, inp, md) -> list:
    from engine.groups.composite_lens import nikon_lens_spec

    return (xmp_flash(md) + iptc_dates(md) + file_number(md) + kodak_date(md)
            + nikon_lens_spec(md) + apple_run_time(md))


def apple_run_time(md) -> list:
    """Apple RunTimeValue / RunTimeScale as a duration (Apple.pm, ExifTool ConvertDuration)."""
    value, scale = _maker(md, "RunTimeValue", "Apple"), _maker(md, "RunTimeScale", "Apple")
    try:
        secs = float(value) / float(scale) if value and scale and float(scale) else None
    except ValueError:
        return []
    if secs is None:
        return []
    from engine.makernotes.convert import duration  # ExifTool's ConvertDuration

    return [tag(PART, GROUP, "RunTimeSincePowerUp", duration(repr(secs)))]


def _int(text: str, table: dict) -> int:
    if text in table:
        return table[text]
    return int(text) if text.isdigit() else 0


def xmp_flash(md) -> list:
    """The EXIF Flash value of the XMP ``exif:Flash`` fields (any of them present)."""
    fields = {}
    for path, t in md.tags.items():
        if path.startswith("xmp/exif:Flash/exif:") and isinstance(t.value, str):
            fields.setdefault(path.rsplit(":", 1)[1], t.value)
    if not fields:
        return []
    v = (0x01 if fields.get("Fired", "").lower() == "true" else 0)
    v |= _int(fields.get("Return", "0"), FLASH_RETURN) << 1
    v |= _int(fields.get("Mode", "0"), FLASH_MODE) << 3
    v |= 0x20 if fields.get("Function", "").lower() == "true" else 0
    v |= 0x40 if fields.get("RedEyeMode", "").lower() == "true" else 0
    from engine.exif.tables import VALUES

    printed = VALUES["Flash"].get(str(v), f"Unknown (0x{v:x})")
    return [tag(PART, GROUP, "Flash", printed)]


def iptc_dates(md) -> list:
    date, time = md.get("iptc/DigitalCreationDate"), md.get("iptc/DigitalCreationTime")
    if isinstance(date, str) and isinstance(time, str):
        return [tag(PART, GROUP, "DigitalCreationDateTime", f"{date} {time}")]
    return []


def _maker(md, name: str, group: str) -> str | None:
    from engine.groups.composite_canon import maker

    return maker(md, name, group)


def file_number(md) -> list:
    """Canon DirectoryIndex and FileIndex as "DDD-FFFF" (Canon.pm)."""
    d, f = _maker(md, "DirectoryIndex", "Canon"), _maker(md, "FileIndex", "Canon")
    if d is None or f is None or not d.isdigit() or not f.isdigit():
        return []
    di, fi = int(d), int(f)
    if fi == 10000:
        di, fi = di + 1, 1
    return [tag(PART, GROUP, "FileNumber", f"{di:03d}-{fi:04d}")]


def kodak_date(md) -> list:
    """YearCreated and MonthDayCreated (shown "MM:DD") joined (Kodak.pm DateCreated)."""
    y, md_ = _maker(md, "YearCreated", "Kodak"), _maker(md, "MonthDayCreated", "Kodak")
    if not y or not md_:
        return []
    m = re.fullmatch(r"(\d+)\D+(\d+)", md_.strip())
    month_day = f"{int(m.group(1)):02d}:{int(m.group(2)):02d}" if m else md_
    return [tag(PART, GROUP, "DateCreated", f"{y}:{month_day}")]


def webp_dimensions(data) -> tuple[int, int] | None:
    """Width and height from the first VP8X, VP8L or VP8 chunk of a WebP file."""
    pos, end = 12, min(len(data), 1 << 20)
    for _ in range(64):
        if pos + 8 > end:
            return None
        fourcc, size = bytes(data[pos:pos + 4]), struct.unpack_from("<I", data, pos + 4)[0]
        body = bytes(data[pos + 8:pos + 8 + min(size, 32)])
        if fourcc == b"VP8X" and len(body) >= 10:
            w = int.from_bytes(body[4:7], "little") + 1
            return w, int.from_bytes(body[7:10], "little") + 1
        if fourcc == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
            bits = int.from_bytes(body[1:5], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if fourcc == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
            w, h = struct.unpack_from("<HH", body, 6)
            return w & 0x3FFF, h & 0x3FFF
        pos += 8 + size + (size & 1)
    return None
