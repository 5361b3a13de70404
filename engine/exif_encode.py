"""Printed text -> stored EXIF value: the inverse of the reader's print conversions.

Driven by the generated tables (engine/tags/exif.py): the tag's ExifTool format decides the
TIFF type, its value map gives the reverse of enum print conversions, and the reader's
conversion steps (engine.values.CONV) name the few parse functions that invert ExifTool's code
conversions.  Accepts what the reader prints and the raw/numeric forms.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable

from engine.errors import ReadOnlyTagError, TagValueError, UnknownTagError
from engine.record import FrozenRecord
from engine.tags.exif import EXIF_TAGS, GPS_TAGS, MULTI_VALUE, VALUES
from engine.tiff.patch import NewEntry
from engine.values import CONV

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
    __slots__ = ("tag", "name", "fmt", "count", "group", "values")
    tag: int
    name: str
    fmt: str  # ExifTool format name
    count: int  # 0 when not fixed
    group: str  # the IFD ExifTool writes it to
    values: dict[str, str] | None

    def __init__(self, tag: int, name: str, fmt: str, count: int, group: str,
                 values: dict[str, str] | None) -> None:
        # ~300 made at import: set directly (FrozenRecord._init is twice as slow)
        _set = object.__setattr__
        _set(self, "tag", tag)
        _set(self, "name", name)
        _set(self, "fmt", fmt)
        _set(self, "count", count)
        _set(self, "group", group)
        _set(self, "values", values)

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
                                                  VALUES.get(values) if values else None))
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


def _strip_unit(unit: str) -> Callable[[str], list[Fraction]]:
    def parse(text: str) -> list[Fraction]:
        t = text.strip()
        if t.lower().endswith(unit):
            t = t[: -len(unit)]
        return [_fraction(t)]

    return parse


def _apex_time(text: str) -> list[Fraction]:  # ShutterSpeedValue: printed as a time
    from fractions import Fraction

    t = _fraction(text)
    if t <= 0:
        raise ValueError(text)
    return [Fraction(-math.log2(t)).limit_denominator(1000)]


def _apex_aperture(text: str) -> list[Fraction]:  # ApertureValue: printed as an f-number
    from fractions import Fraction

    f = _fraction(text)
    if f <= 0:
        raise ValueError(text)
    return [Fraction(2 * math.log2(f)).limit_denominator(1000)]


# Patterns compiled (and cached by re) when first used: compiling costs a CLI write's start.
_DMS = (
    rf"^\s*({_NUM})(?:\s*(?:deg|°)\s*(?:({_NUM})\s*'?\s*(?:({_NUM})\s*\"?)?)?)?\s*([NSEWnsew])?\s*$"
)


def _coordinate(text: str) -> tuple[list[Fraction], str | None]:
    from fractions import Fraction

    m = re.match(_DMS, text)
    if not m:
        raise ValueError(text)
    deg = Fraction(m.group(1))
    mins = Fraction(m.group(2) or 0)
    secs = Fraction(m.group(3) or 0)
    sign = -1 if deg < 0 else 1
    total = abs(deg) + mins / 60 + secs / 3600
    ref = m.group(4).upper() if m.group(4) else None
    if sign < 0:
        ref = {"N": "S", "E": "W", None: "-"}.get(ref, ref)
    d = int(total)
    rest = (total - d) * 60
    mi = int(rest)
    s = Fraction((rest - mi) * 60).limit_denominator(100000)
    if s >= 60:  # rounding reached a full minute (59.9999999"): carry, as ExifTool's ToDMS
        s, mi = s - 60, mi + 1
        if mi >= 60:
            mi, d = mi - 60, d + 1
    return [Fraction(d), Fraction(mi), s], ref


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
    m = re.match(_DATE, text)
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s, _tz = m.groups()
    if h is None:
        return f"{y}:{mo}:{d} 00:00:00"
    return f"{y}:{mo}:{d} {h}:{mi}:{s or '00'}"


def _version(text: str) -> bytes:  # ExifVersion '0230' (printed '0230' too)
    t = text.strip().replace(".", "")
    if not re.fullmatch(r"\d{4}", t):
        raise ValueError(text)
    return t.encode()


def _user_comment(text: str) -> bytes:
    if text.isascii():
        return b"ASCII\0\0\0" + text.encode()
    return b"UNICODE\0" + text.encode("utf-16-be")


_COMPONENTS = {"-": 0, "Y": 1, "Cb": 2, "Cr": 3, "R": 4, "G": 5, "B": 6}


def _components(text: str) -> bytes:
    items = [p.strip() for p in text.split(",")]
    if len(items) == 4 and all(i in _COMPONENTS for i in items):
        return bytes(_COMPONENTS[i] for i in items)
    return bytes(int(x) for x in _numbers(text))


# The reader's conversion steps (engine.values.CONV, data from Exif.pm) name the inverse to
# use: first step -> parse kind.  Tags with none of these take the table/format route.
_STEP_KIND: dict[object, str] = {
    "date": "date", "apex_shutter": "apex_time", "apex_aperture": "apex_f", "dms": "coord",
    "gps_time": "time", "exif_date": "gpsdate", "exif_text": "comment",
    "enum_each": "components", ("unit", " m"): "m", ("sprintf", "%.1f mm"): "mm",
    ("suffix", " mm"): "mm",
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
        out = []
        for f in items:
            f = Fraction(f)
            if t == 5 and f < 0:
                raise ValueError("negative")
            if f.denominator > 0xFFFFFFFF or abs(f.numerator) > 0x7FFFFFFF * (2 if t == 5 else 1):
                f = f.limit_denominator(10000)
            try:  # a whole part past 32 bits cannot be approximated: refuse, don't crash
                out.append(struct.pack(bo + ("II" if t == 5 else "ii"), f.numerator,
                                       f.denominator))
            except struct.error:
                raise ValueError("out of range") from None
        return NewEntry(d.tag, t, len(items), b"".join(out))
    code = _PACK[t]
    vals = [float(x) if t in (11, 12) else int(x) for x in items]
    try:
        raw = struct.pack(bo + code * len(vals), *vals)
    except struct.error:
        raise ValueError("out of range") from None
    return NewEntry(d.tag, t, len(vals), raw)


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
        if key is not None:
            if t == 2:
                return [(d.name, _ascii(d, key))]
            return [(d.name, _pack(d, key.split(), bo))]
        if t == 2:
            return [(d.name, _ascii(d, text))]
        return [(d.name, _pack(d, _numbers(text), bo))]
    if kind == "coord":
        vals, ref = _coordinate(text)
        out = [(d.name, _pack(d, vals, bo))]
        ref_name, letters = COORD_REF[d.name]
        if ref == "-":
            ref = letters[1]
        elif ref is None:
            ref = letters[0]
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
    if kind in ("mm", "m"):
        f = _strip_unit(" " + kind)(text)
        if t in (5, 10):
            return [(d.name, _pack(d, f, bo))]
        return [(d.name, _pack(d, [round(f[0])], bo))]
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
        return [(d.name, _pack(d, [_fraction(x) for x in _numbers(text)], bo))]
    return [(d.name, _pack(d, _numbers(text), bo))]


def _ascii(d: ExifTagDef, text: str) -> NewEntry:
    raw = text.encode("utf-8") + b"\0"
    if d.count and len(raw) > d.count:
        raise ValueError("too long")
    if d.count:
        raw = raw.ljust(d.count, b"\0")
    return NewEntry(d.tag, 2, len(raw), raw)
