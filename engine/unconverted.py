"""``exiftool -n``: the values of EXIF, XMP and IPTC without their print conversion.

ExifTool converts a stored value twice: ValueConv (APEX to seconds, GPS degrees, dates) and
PrintConv (value maps, "1/250", "50.0 mm").  ``-n`` shows the value after the first only.
metafs decodes the same blocks again with the print conversions switched off
(engine.printconv.unconverted: value maps and print steps left out) and puts those values in
place of the printed ones; the other parts (maker notes, Composite, File...) keep their
printed values.
"""

from __future__ import annotations

import re

from engine.model import Metadata
from engine.printconv import BYTE_ORDER, Val, as_text, perl_num, rational_text, to_degrees

UNCONVERTED_PARTS = frozenset({"exif", "xmp", "iptc", "iptc2"})


def unconvert(md: Metadata) -> Metadata:
    """``md`` (read from the file at ``md.path``) with the values of its EXIF, XMP and IPTC
    tags as ``exiftool -n`` shows them, those of the read-only groups' value maps undone and
    the main Composite tags' ValueConv values."""
    from engine import printconv
    from engine.reader import PARTS, decode_blocks, decode_extra, mapped, read_blocks_from

    parts = frozenset(part for part in UNCONVERTED_PARTS if _has(md, part))
    with mapped(md.path) as data:
        raw, blocks = read_blocks_from(data, md.path)
        printconv._MODE[0] = True
        try:
            decode_blocks(blocks, raw, parts & PARTS)
            if parts - PARTS:
                decode_extra(data, blocks, raw, parts - PARTS)
        finally:
            printconv._MODE[0] = False
        composites = _composites(data, blocks, md)
    for path, t in [*raw.tags.items(), *composites.items()]:
        old = md.tags.get(path)
        if old is not None and old.name == t.name and old.binary_size is None:
            md.tags[path] = old.replace(value=t.value)
    _gps_composites(md)
    _unmap(md)
    return md


def _gps_composites(md: Metadata) -> None:
    """Composite GPSLatitude/GPSLongitude (signed by their Ref), GPSPosition and GPSAltitude
    from the GPS tags' unconverted values (GPS.pm ValueConv)."""
    values = {}
    for axis, south in (("Latitude", "S"), ("Longitude", "W")):
        v, ref = md.get(f"GPS{axis}"), md.get(f"GPS{axis}Ref")
        if not (isinstance(v, str) and isinstance(ref, str)):  # else XMP's: signed degrees
            v, ref = md.get(f"xmp/exif:GPS{axis}"), ""
        if isinstance(v, str) and isinstance(ref, str):
            try:
                number = float(v)
            except ValueError:
                continue
            number = -number if ref.upper().startswith(south) else number
            values[axis] = perl_num(number or 0.0)  # Perl's -0 is 0
    for path, value in (("composite/GPSLatitude", values.get("Latitude")),
                        ("composite/GPSLongitude", values.get("Longitude")),
                        ("composite/GPSPosition", " ".join(values.values())
                         if len(values) == 2 else None),
                        ("composite/GPSAltitude", _altitude(md))):
        if value is not None and path in md.tags:
            md.tags[path] = md.tags[path].replace(value=value)


def _altitude(md: Metadata) -> str | None:
    for alt, ref in (("GPSAltitude", "GPSAltitudeRef"),
                     ("xmp/exif:GPSAltitude", "xmp/exif:GPSAltitudeRef")):
        v, r = md.get(alt), md.get(ref)
        try:
            number = float(v) if isinstance(v, str) else None
        except ValueError:
            number = None
        if number is not None and isinstance(r, str):
            return perl_num(-abs(number) if r not in ("0", "") else number)
    return None


def _composites(data, blocks, md: Metadata) -> dict:
    """The Composite tags of ``md`` computed again from its (printed) tags, with the values
    of their ValueConv (engine.groups.composite.shown)."""
    from engine import printconv
    from engine.groups import composite

    if not any(p.startswith("composite/") for p in md.tags):
        return {}
    inputs = Metadata(md.path, md.format, {p: t for p, t in md.tags.items()
                                           if not p.startswith("composite/")},
                      [], md.file_type)
    printconv._MODE[0] = True
    try:
        tags, _warnings = composite.read(data, blocks, inputs)
    except (ArithmeticError, ValueError, IndexError, KeyError):
        return {}
    finally:
        printconv._MODE[0] = False
    return {t.path: t for t in tags}


# The read-only groups' generated tables, by the part whose tags they name
_GROUP_TABLES = {"ICC_": "icc", "PS_": "photoshop", "JFIF_": "jfif", "MPF_": "mpf",
                 "PRINTIM": "printim", "PNG_": "png", "QT_": "quicktime"}
_reverse: dict[tuple[str, str], dict[str, str]] = {}


def _unmap(md: Metadata) -> None:
    """The tags of the read-only parts whose printed value is a table map's: the stored
    value it names (value maps are PrintConv; their code conversions stay printed)."""
    if not _reverse:
        _build_reverse()
    for path, t in list(md.tags.items()):
        part = path.split("/", 1)[0] if "/" in path else ""
        key = ("makernotes", f"{t.group}:{t.name}") if part == "makernotes" else (part, t.name)
        back = _reverse.get(key)
        if back is None or t.binary_size is not None or not isinstance(t.value, str):
            continue
        m = re.fullmatch(r"Unknown \((.*)\)", t.value)
        raw = back.get(t.value, m.group(1) if m else None)
        if callable(back.get("")):  # a conversion written as code (File, JFIF)
            raw = back[""](t.value)
        if raw is not None:
            md.tags[path] = t.replace(value=raw)


def _build_reverse() -> None:
    from engine.groups import app14, file
    from engine.groups import tables as group_tables
    from engine.makernotes.tables import CODES, MAPS, TABLES

    _add(("file", "EncodingProcess"), {str(k): v for k, v in file.ENCODING.items()})
    _add(("file", "YCbCrSubSampling"), file.SUBSAMPLING)
    _add(("file", "ExifByteOrder"), {k.decode(): v for k, v in file.BYTE_ORDER.items()})
    _reverse[("file", "FileTypeExtension")] = {"": str.upper}
    _reverse[("jfif", "JFIFVersion")] = {"": _jfif_version}
    _add(("app14", "ColorTransform"), {str(k): v for k, v in app14.TRANSFORM.items()})
    for name, names in (("APP14Flags0", app14.FLAGS0), ("APP14Flags1", {})):
        _reverse[("app14", name)] = {"": lambda text, names=names: _bits_value(text, names)}

    for name, table in vars(group_tables).items():
        part = next((p for prefix, p in _GROUP_TABLES.items() if name.startswith(prefix)), None)
        if part is None or not isinstance(table, dict):
            continue
        for entry in table.values():
            if isinstance(entry, tuple) and len(entry) == 4 and entry[3]:
                _add((part, entry[0]), entry[3])
    for group, _kind, _fmt, _first, tags, _subs, _print in TABLES.values():
        for variants in tags.values():
            for name, _type, _count, vmap, code in variants:
                codes = CODES[code] if code is not None else None
                if isinstance(vmap, int) and (codes is None or (
                        codes[2] is None and codes[3] is None and not set(codes[4]) & set("ml"))):
                    _add(("makernotes", f"{group}:{name}"), MAPS[vmap])


def _add(key: tuple[str, str], vmap: dict) -> None:
    back = _reverse.setdefault(key, {})
    for stored, shown in vmap.items():
        if "." not in stored or not stored.replace(".", "").isdigit():  # not a lens "N.1"
            back.setdefault(str(shown), stored)


def _has(md: Metadata, part: str) -> bool:
    from engine.reader import part_of

    return any(part_of(p) == part for p in md.tags)


def degrees(v: Val, _arg: str, _vals: dict | None) -> Val:
    """ExifTool's ToDegrees as a ValueConv (``-n`` GPS coordinates), signed by a trailing
    S or W (XMP's ``37,46.494S``)."""
    text = as_text(v)
    deg = to_degrees(text)
    if deg is None:
        return ""
    return perl_num(-deg if re.search(r"[^A-Z](S(outh)?|W(est)?)\s*$", text, re.I) else deg)


def cfa_values(v: Val, bo: str, _vals: dict | None) -> Val:
    """Exif.pm DecodeCFAPattern (the ValueConv of CFAPattern): repeat width and height, then
    the colour of each cell, as numbers (the other byte order when the first does not fit)."""
    import struct

    b = v if isinstance(v, bytes) else b""
    if re.fullmatch(rb"[0-6]+", b):  # written as ASCII digits by some Panasonic cameras
        b = bytes(c - 0x30 for c in b)
    if len(b) < 4:
        return v
    order = bo or "<"
    w, h = struct.unpack_from(order + "HH", b)
    if 2 + w * h > 2 + len(b) - 4:
        x, y = struct.unpack_from((">" if order == "<" else "<") + "HH", b)
        if x * y <= len(b) - 4:
            w, h = x, y
    return " ".join(str(n) for n in (w, h, *b[4:]))


def rationals(v: Val, _arg: str, _vals: dict | None) -> Val:
    """Each "n/d" of a list as its number ("undef" for 0/0), as XMP.pm's ValueConv of
    rational lists (LensInfo)."""
    return " ".join(rational_text(x) or x for x in as_text(v).split())


# The ValueConv part of the conversions (see ``unconverted``): how many leading steps, or the
# steps that stand for it; a conversion not named here keeps every step (raw-value
# conversions: text clean-ups, dates, character sets)
UNCONVERTED_STEPS: dict[str, int | tuple] = {
    **dict.fromkeys((
        "exposure_time", "fnumber", "fraction", "metres", "focal_length", "mm", "dotted",
        "metres_suffix", "celsius", "comma_list", "components", "enum_list", "enum_bits",
        "bitmask", "enum_hex", "round3", "tstop", "pmprefs", "cfa_colors"), 0),
    "aperture": 1, "shutter": 1, "exif_shutter": 1,
    **dict.fromkeys(("coordinate", "lat", "lon"), ((degrees, ""),)),
    "cfa_pattern": ((cfa_values, BYTE_ORDER),),
    **dict.fromkeys(("lens_info", "join_lens_info"), ((rationals, ""),)),
}


def _jfif_version(text: str) -> str:
    major, _, minor = text.partition(".")
    return f"{major} {int(minor)}" if major.isdigit() and minor.isdigit() else text


def _bits_value(text: str, names: dict[int, str]) -> str:
    """A bit mask printed as its bits' names ("[n]" for unnamed ones) as its number."""
    by_name = {v: k for k, v in names.items()}
    value = 0
    for part in text.split(", ") if text != "(none)" else ():
        bit = by_name.get(part)
        if bit is None:
            m = re.fullmatch(r"\[(\d+)\]", part)
            if m is None:
                return text
            bit = int(m.group(1))
        value |= 1 << bit
    return str(value)
