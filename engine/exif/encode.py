"""Printed text -> stored EXIF value: the inverse of the reader's print conversions.

Driven by the generated tables (engine/exif/tables.py): the tag's ExifTool format decides the
TIFF type, its value map gives the reverse of enum print conversions, and the reader's
conversion steps (engine.printconv.CONV) name the few parse functions that invert ExifTool's code
conversions.  Accepts what the reader prints and the raw/numeric forms.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable

from engine.errors import EngineError, ReadOnlyTagError, TagValueError, UnknownTagError
from engine.exif.patch import NewEntry
from engine.exif.tables import EXIF_TAGS, GPS_TAGS, MULTI_VALUE, VALUES
from engine.printconv import CONV, rationalize
from engine.record import FrozenRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    # fractions (and decimal, which it imports) cost 2 ms of a CLI write's start: the
    # functions that parse numbers import it when they run
    from fractions import Fraction

TYPE_IDS = {
    "int8u": 1, "string": 2, "int16u": 3, "int32u": 4, "rational64u": 5, "int8s": 6,
    "undef": 7, "int16s": 8, "int32s": 9, "rational64s": 10, "float": 11, "double": 12,
}
_PACK = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 11: "f", 12: "d"}
MAIN_IFDS = ("IFD0", "ExifIFD", "GPS", "InteropIFD")


class ExifTagDef(FrozenRecord):
    __slots__ = ("tag", "name", "fmt", "count", "group", "values", "values_key")
    tag: int
    name: str
    fmt: str  # ExifTool format name
    count: int  # 0 when not fixed
    group: str  # the IFD ExifTool writes it to
    values: dict[str, str] | None
    values_key: str | None  # its key in VALUES (what the reader's conversion takes)

    def __init__(self, tag: int, name: str, fmt: str, count: int, group: str,
                 values: dict[str, str] | None, values_key: str | None = None) -> None:
        # ~300 made at import: set directly (FrozenRecord._init is twice as slow)
        _set = object.__setattr__
        _set(self, "tag", tag)
        _set(self, "name", name)
        _set(self, "fmt", fmt)
        _set(self, "count", count)
        _set(self, "group", group)
        _set(self, "values", values)
        _set(self, "values_key", values_key)

    @property
    def type_id(self) -> int:
        return TYPE_IDS[self.fmt]


def _build_index() -> dict[str, ExifTagDef]:
    index: dict[str, ExifTagDef] = {}
    for table in (EXIF_TAGS, GPS_TAGS):
        for tag, variants in table.items():
            for name, fmt, count, writable, group, values in variants:
                if not writable or fmt not in TYPE_IDS or group not in MAIN_IFDS:
                    continue
                index.setdefault(name, ExifTagDef(tag, name, fmt, count, group,
                                                  VALUES.get(values) if values else None,
                                                  values))
    return index


WRITABLE = _build_index()


def lookup(name: str) -> ExifTagDef:
    d = WRITABLE.get(name)
    if d is None:
        if _known_name(name):
            raise ReadOnlyTagError("this tag cannot be written (binary, derived or structural)",
                                   tag=name)
        raise UnknownTagError("no such EXIF tag (names are ExifTool's, e.g. Make, "
                              "DateTimeOriginal, GPSLatitude)", tag=name)
    return d


def _known_name(name: str) -> bool:
    return any(v[0] == name for t in (EXIF_TAGS, GPS_TAGS) for vs in t.values() for v in vs)


# ---- parse functions: text -> list of numbers / bytes ------------------------------------

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def _fraction(text: str) -> Fraction:
    from fractions import Fraction

    t = text.strip()
    m = re.fullmatch(rf"({_NUM})\s*/\s*({_NUM})", t)
    try:
        if m:
            return Fraction(m.group(1)) / Fraction(m.group(2))
        return Fraction(t)
    except (ValueError, ZeroDivisionError):
        raise ValueError(t) from None


def _numbers(text: str) -> list[str]:
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    if not parts:
        raise ValueError(text)
    return parts


def _ratio(text: str) -> Fraction | str:
    """One rational as typed: a number, a fraction (``1/3``, ``1/3.2``) or ExifTool's
    ``inf``/``undef`` (stored 1/0 and 0/0, as the reader prints them)."""
    t = text.strip()
    if t in ("inf", "undef"):
        return t
    return _fraction(t)


def _strip_unit(unit: str) -> Callable[[str], list[Fraction | str]]:
    def parse(text: str) -> list[Fraction | str]:
        t = text.strip()
        if t.lower().endswith(unit.lower()):
            t = t[: -len(unit)]
        return [_ratio(t)]

    return parse


_LENS = (r"^\s*({n}|\?)(?:\s*-\s*({n}|\?))?\s*mm\s*f/?\s*({n}|\?)(?:\s*-\s*({n}|\?))?\s*$"
         .replace("{n}", r"\d+(?:\.\d*)?|\.\d+"))


def _lens_info(text: str) -> list[str]:
    """LensInfo as printed (``24-70mm f/2.8``, ``50mm f/1.8``, ``?`` for unknown) or as four
    numbers; a single focal length or f-number is stored twice, as ExifTool does."""
    m = re.match(_LENS, text)
    if not m:
        return _numbers(text)
    lo, hi, f_lo, f_hi = m.groups()
    vals = [lo, hi or lo, f_lo, f_hi or f_lo]
    return ["undef" if v == "?" else v for v in vals]


def _cfa_pattern(text: str, bo: str) -> bytes:
    """CFAPattern as printed (``[Red,Green][Green,Blue]``): rows, then colour numbers."""
    rows = re.findall(r"\[([^\]]*)\]", text)
    if not rows or re.sub(r"\[[^\]]*\]", "", text).strip():
        raise ValueError(text)
    cells = [[c.strip() for c in row.split(",")] for row in rows]
    if any(len(r) != len(cells[0]) for r in cells):
        raise ValueError(text)
    from engine.printconv import CFA_COLORS

    colours = [CFA_COLORS.index(c) for r in cells for c in r]  # ValueError when unknown
    return struct.pack(bo + "HH", len(cells), len(cells[0])) + bytes(colours)


def _apex_time(text: str) -> list[Fraction]:  # ShutterSpeedValue: printed as a time
    from fractions import Fraction

    t = _fraction(text)
    if t < 0:
        raise ValueError(text)
    # stored as ExifTool's Rationalize of the float; 0 (the reader's print of a value past
    # +-100) is stored as -100, as ExifTool does
    return [Fraction(-math.log2(t)) if t else Fraction(-100)]


def _apex_aperture(text: str) -> list[Fraction]:  # ApertureValue: printed as an f-number
    from fractions import Fraction

    f = _fraction(text)
    if f <= 0:
        raise ValueError(text)
    return [Fraction(2 * math.log2(f))]


# Patterns compiled (and cached by re) when first used: compiling costs a CLI write's start.
_DMS = (
    rf"^\s*([+-])?\s*({_NUM})(?:\s*(?:deg|°|,)?\s*({_NUM})\s*'?(?:\s*,?\s*({_NUM})\s*\"?)?)?"
    r"\s*(?:deg|°)?\s*([NSEWnsew]|north|south|east|west)?\s*$"
)


def _coordinate(text: str) -> tuple[list[float | int], str | None]:
    """Degrees as printed (37 deg 46' 29.64" N), as ExifTool also takes them (37 46 29.64,
    -37.7749, 37,46.494N): degrees, minutes and seconds the way ExifTool's ToDMS cuts them."""
    m = re.match(_DMS, text, re.I)
    if not m:
        raise ValueError(text)
    sign, d_text, m_text, s_text, ref = m.groups()
    total = float(d_text) + (float(m_text or 0) + float(s_text or 0) / 60) / 60
    ref = ref[0].upper() if ref else None
    if sign == "-" or total < 0:
        ref = {"N": "S", "E": "W", None: "-"}.get(ref, ref)
    total = abs(total)
    d = int(total)
    mi = int((total - d) * 60)
    secs = float(repr((total - d - mi / 60) * 3600))
    if secs >= 60:  # round-off (72 59 60.00): carry, as ExifTool's ToDMS
        secs -= 60
        mi += 1
        if mi >= 60:
            mi, d = mi - 60, d + 1
    return [d, mi, secs], ref


def _time(text: str) -> list[Fraction]:
    from fractions import Fraction

    m = re.fullmatch(rf"\s*(\d+):(\d+):({_NUM})\s*(?:Z|UTC)?\s*", text)
    if not m:
        raise ValueError(text)
    h, mi = int(m.group(1)), int(m.group(2))
    secs = Fraction(m.group(3)).limit_denominator(1000)
    if secs >= 60 > Fraction(m.group(3)):  # rounding made 59.9999 a full minute: carry
        secs, mi = secs - 60, mi + 1
        if mi >= 60:
            mi, h = mi - 60, h + 1
    return [Fraction(h), Fraction(mi), secs]


_DATE = (
    r"^\s*(\d{4})[:-](\d\d)[:-](\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?)?"
    r"\s*(Z|[+-]\d\d:?\d\d)?\s*$"
)


def _date(text: str) -> str:
    if len(text) == 19 and re.fullmatch(r"[ :]+", text):
        return text  # the EXIF form of an unknown date (blanks), kept as it is
    m = re.match(_DATE, text)
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s, _tz = m.groups()
    if h is None:
        return f"{y}:{mo}:{d} 00:00:00"
    return f"{y}:{mo}:{d} {h}:{mi}:{s or '00'}"


def _version(text: str) -> bytes:  # ExifVersion '0230' (printed '0230' too)
    t = text.strip().replace(".", "")
    if re.fullmatch(r"\d{4}", t):
        return t.encode()
    raw = text.encode("latin-1", errors="replace")
    if len(raw) != 4:  # four bytes of another form are kept as they are (ExifTool too)
        raise ValueError(text)
    return raw


def _user_comment(text: str) -> bytes:
    if text.isascii():
        return b"ASCII\0\0\0" + text.encode()
    return b"UNICODE\0" + text.encode("utf-16-be")


_COMPONENTS = {"-": 0, "Y": 1, "Cb": 2, "Cr": 3, "R": 4, "G": 5, "B": 6}


def _components(text: str) -> bytes:
    items = [p.strip() for p in text.split(",")]
    if len(items) <= 4 and all(i in _COMPONENTS for i in items):
        return bytes(_COMPONENTS[i] for i in items)
    return bytes(int(x) for x in _numbers(text))


# The reader's conversion steps (engine.printconv.CONV, data from Exif.pm) name the inverse to
# use: first step -> parse kind.  Tags with none of these take the table/format route.
_STEP_KIND: dict[object, str] = {
    "date": "date", "apex_shutter": "apex_time", "apex_aperture": "apex_f", "dms": "coord",
    "gps_time": "time", "exif_date": "gpsdate", "exif_text": "comment",
    "enum_each": "components", ("unit", " m"): "m", ("suffix", " m"): "m",
    ("sprintf", "%.1f mm"): "mm", ("suffix", " mm"): "mm", ("suffix", " C"): "C",
    "spaces_to_dots": "dotted", "lens_info": "lens", "cfa_pattern": "cfa", "ucs2le": "ucs2",
    "hex": "hex", "hex_upper": "hex",
}
_VERSION_TAGS = frozenset({"ExifVersion", "FlashpixVersion", "InteropVersion"})


def _special(name: str) -> str | None:
    if name in _VERSION_TAGS:  # undefined[4] digits: the reader only strips NULs
        return "version"
    for step in CONV.get(name, ()):
        kind = _STEP_KIND.get(step)
        if kind is not None:
            return kind
    return None


COORD_REF = {"GPSLatitude": ("GPSLatitudeRef", "NS"), "GPSLongitude": ("GPSLongitudeRef", "EW"),
             "GPSDestLatitude": ("GPSDestLatitudeRef", "NS"),
             "GPSDestLongitude": ("GPSDestLongitudeRef", "EW")}


def _pack(d: ExifTagDef, items: list, bo: str) -> NewEntry:
    from fractions import Fraction

    t = d.type_id
    want = d.count or (0 if d.name in MULTI_VALUE else 1)
    if want and len(items) != want:
        raise ValueError(f"{len(items)} values where the tag holds {want}")
    if t in (5, 10):
        limit = 0xFFFFFFFF if t == 5 else 0x7FFFFFFF
        out = []
        for f in items:
            if f == "inf":
                num, den = 1, 0
            elif f == "undef":
                num, den = 0, 0
            else:
                f = Fraction(f)
                if t == 5 and f < 0:
                    raise ValueError("negative")
                if abs(f) > limit:  # ExifTool would store the limit: refuse rather than clamp
                    raise ValueError("out of range")
                if f.denominator == 1:
                    num, den = f.numerator, 1
                else:  # as ExifTool: through a float, the nearest short rational
                    num, den = rationalize(float(f), limit)
            try:
                out.append(struct.pack(bo + ("II" if t == 5 else "ii"), num, den))
            except struct.error:
                raise ValueError("out of range") from None
        return NewEntry(d.tag, t, len(items), b"".join(out))
    if t == 7:  # numbers stored as bytes (FileSource, SceneType: ExifTool's chr($val))
        try:
            raw = bytes(int(x) for x in items)
        except ValueError:
            raise ValueError("out of range") from None
        return NewEntry(d.tag, 7, len(raw), raw)
    code = _PACK[t]
    vals = [float(x) if t in (11, 12) else _whole(x) for x in items]
    try:
        raw = struct.pack(bo + code * len(vals), *vals)
    except struct.error:
        raise ValueError("out of range") from None
    return NewEntry(d.tag, t, len(vals), raw)


def _whole(x: object) -> int:
    """An integer as ExifTool takes it: a decimal is rounded half away from zero."""
    if isinstance(x, int):
        return x
    text = str(x).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"0x[0-9a-fA-F]+", text):
        return int(text, 16)
    f = float(text)
    return int(f + (-0.5 if f < 0 else 0.5))


def _expected(d: ExifTagDef) -> str:
    if d.values:
        shown = ", ".join(list(d.values.values())[:4])
        return f"one of: {shown}... (or the number)"
    kind = _special(d.name)
    forms = {
        "coord": "degrees like 37 deg 46' 29.64\" N or signed decimal degrees like -122.4194",
        "date": "a date like 2020:01:01 10:00:00 (or ISO 8601)",
        "time": "a time like 10:30:00",
        "apex_time": "an exposure time like 1/125", "apex_f": "an f-number like 5.6",
        "mm": "a length like 50 or 50.0 mm", "m": "a number of metres like 123.4",
        "version": "four digits like 0232",
        "lens": "4 values separated by spaces, or a lens like 24-70mm f/2.8-4",
        "dotted": "4 whole numbers like 2.3.0.0", "cfa": "a pattern like [Red,Green][Green,Blue]",
    }
    if kind in forms:
        return forms[kind]
    return {
        "string": "text", "rational64u": "a positive number or fraction like 1/125",
        "rational64s": "a number or fraction like -1/3", "undef": "text",
    }.get(d.fmt, "a whole number" if d.fmt.startswith("int") else "a number")


def _expected_with_count(d: ExifTagDef) -> str:
    form = _expected(d)
    if d.count > 1 and d.fmt not in ("string", "undef") and _special(d.name) is None:
        return f"{d.count} values separated by spaces, each {form}"
    return form


def encode(name: str, text: str, bo: str) -> list[tuple[str, NewEntry]]:
    """Encode ``text`` for tag ``name``; returns (tag name, entry) pairs (GPS refs ride along)."""
    d = lookup(name)
    try:
        return _encode(d, text, bo)
    except (ValueError, ArithmeticError, OverflowError):
        raise TagValueError(
            f"{text!r} does not fit: expected {_expected_with_count(d)}", tag=name
        ) from None


def _encode(d: ExifTagDef, text: str, bo: str) -> list[tuple[str, NewEntry]]:
    kind = _special(d.name)
    t = d.type_id
    if d.values and kind is None:
        rev = {v.lower(): k for k, v in d.values.items()}
        key = rev.get(text.strip().lower())
        if key is None:  # the reader's "Unknown (N)" / "Unknown (0x1f)": the number N
            m = re.fullmatch(r"\s*Unknown \((.*)\)\s*", text)
            key = m.group(1) if m else text
            if m and re.fullmatch(r"0x[0-9a-fA-F]+", key) and t != 2:
                key = str(int(key, 16))
        if t == 2:
            return [(d.name, _ascii(d, key))]
        if t == 7 and re.fullmatch(r"(\\x[0-9a-fA-F]{2})+", key):  # a byte-string key
            raw = bytes(int(key[i + 2 : i + 4], 16) for i in range(0, len(key), 4))
            return [(d.name, NewEntry(d.tag, 7, len(raw), raw))]
        return [(d.name, _pack(d, _numbers(key), bo))]
    if kind == "coord":
        vals, ref = _coordinate(text)
        out = [(d.name, _pack(d, vals, bo))]
        ref_name, letters = COORD_REF[d.name]
        if ref is None:  # no letter, no sign (as displayed): the reference stays as it is,
            return out   # as with ExifTool
        if ref == "-":
            ref = letters[1]
        if ref not in letters:
            raise ValueError(ref)
        out.append((ref_name, _ascii(lookup(ref_name), ref)))
        return out
    if kind == "date":
        return [(d.name, _ascii(d, _date(text)))]
    if kind == "gpsdate":
        return [(d.name, _ascii(d, _date(text)[:10]))]
    if kind == "time":
        return [(d.name, _pack(d, _time(text), bo))]
    if kind == "apex_time":
        return [(d.name, _pack(d, _apex_time(text), bo))]
    if kind == "apex_f":
        return [(d.name, _pack(d, _apex_aperture(text), bo))]
    if kind in ("mm", "m", "C"):
        f = _strip_unit(" " + kind)(text)
        if t in (5, 10):
            return [(d.name, _pack(d, f, bo))]
        if isinstance(f[0], str):
            raise ValueError(text)
        return [(d.name, _pack(d, [round(f[0])], bo))]
    if kind == "dotted":  # GPSVersionID, DNGVersion: printed 2.3.0.0
        return [(d.name, _pack(d, _numbers(text.replace(".", " ")), bo))]
    if kind == "lens":
        return [(d.name, _pack(d, [_ratio(x) for x in _lens_info(text)], bo))]
    if kind == "cfa":
        raw = _cfa_pattern(text, bo)
        return [(d.name, NewEntry(d.tag, 7, len(raw), raw))]
    if kind == "ucs2":  # XPTitle...: UCS-2 little-endian text stored as bytes, NUL-ended
        raw = text.encode("utf-16-le") + b"\0\0"
        return [(d.name, NewEntry(d.tag, t, len(raw), raw))]
    if kind == "hex":  # digests printed as hex
        raw = bytes.fromhex(text.strip())
        if t != 7:
            return [(d.name, _pack(d, list(raw), bo))]
        return [(d.name, NewEntry(d.tag, 7, len(raw), raw))]
    if kind == "version":
        return [(d.name, NewEntry(d.tag, 7, 4, _version(text)))]
    if kind == "comment":
        raw = _user_comment(text)
        return [(d.name, NewEntry(d.tag, 7, len(raw), raw))]
    if kind == "components":
        raw = _components(text)
        return [(d.name, NewEntry(d.tag, 7, len(raw), raw))]
    if t == 2:
        return [(d.name, _ascii(d, text))]
    if t == 7:
        raw = text.encode()
        return [(d.name, NewEntry(d.tag, 7, len(raw), raw))]
    if t in (5, 10):
        return [(d.name, _pack(d, [_ratio(x) for x in _numbers(text)], bo))]
    return [(d.name, _pack(d, _numbers(text), bo))]


def _ascii(d: ExifTagDef, text: str) -> NewEntry:
    raw = text.encode("utf-8") + b"\0"
    if d.count and len(raw) > d.count:
        raise ValueError("too long")
    if d.count:
        raw = raw.ljust(d.count, b"\0")
    return NewEntry(d.tag, 2, len(raw), raw)


def printed(name: str, text: str, bo: str = "<") -> str:
    """What the reader shows for the value ``text`` stores in tag ``name``."""
    from engine.printconv import READ_FORMAT, TYPE_FORMAT, convert, read_value

    d = lookup(name)
    entry = encode(name, text, bo)[0][1]
    fmt = TYPE_FORMAT[entry.type]
    if fmt == "undef" and entry.count == 1:
        fmt = "int8u"  # as the reader: one undefined byte reads as a number
    value = read_value(READ_FORMAT.get(name, fmt), entry.raw, bo)
    shown = convert(name, value, d.values_key, bo)
    if not isinstance(shown, str):  # a Binary: what the reader shows for it
        from engine.model import binary_text

        return binary_text(shown.size)
    return shown


def reads_back(name: str, shown: str, text: str) -> bool:
    """Whether a tag that reads as ``shown`` holds what writing ``text`` stores: the same
    bytes, or (the printed form being lossy: 1/3 s prints 0.3) the same printed form."""
    try:
        if encode(name, shown, "<")[0] == encode(name, text, "<")[0]:
            return True
    except EngineError:
        pass
    try:
        return printed(name, text) == shown
    except EngineError:
        return True  # nothing to compare with: the caller checked the tag is there
