"""Printed text -> stored EXIF value: the inverse of the reader's print conversions.

Driven by tables: the tag's conversion (engine.exif.overrides names it; its record in
engine.exif.conversions holds the parse beside the print), else its value map (the reverse of
an enum print), else its ExifTool format (engine.exif.tables) decides how the text is taken;
the parsed value's type says how it is stored.  Accepts what the reader prints and the
raw/numeric forms.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

from engine.errors import EngineError, ReadOnlyTagError, TagValueError, UnknownTagError
from engine.exif.conversions import CONVERSIONS, convert
from engine.exif.overrides import rule
from engine.exif.patch import NewEntry
from engine.exif.printing import TYPE_FORMAT, read_value
from engine.exif.tables import EXIF_TAGS, GPS_TAGS, MULTI_VALUE, VALUES
from engine.exif.types import LAST_CLASSIC_TYPE, TYPE_CODES, TYPE_NAMES
from engine.printconv import Conversion, numbers, parse_ratio, rationalize
from engine.record import FrozenRecord

# ExifTool format name -> TIFF type id, for the types a tag value is written in (not IFD).
TYPE_IDS = {name: t for t, name in TYPE_NAMES.items() if t < LAST_CLASSIC_TYPE}
_PACK = TYPE_CODES
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
    """An integer as ExifTool takes it: a decimal is rounded half away from zero (a number a
    conversion parsed, such as 50.5 of "50.5 mm", is rounded to even)."""
    if isinstance(x, int):
        return x
    if not isinstance(x, str):
        return round(x)
    text = str(x).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"0x[0-9a-fA-F]+", text):
        return int(text, 16)
    f = float(text)
    return int(f + (-0.5 if f < 0 else 0.5))


def _conversion(name: str) -> Conversion | None:
    """The tag's conversion when it has its own parse (engine.exif.overrides), else None."""
    conv = CONVERSIONS.get(rule(name).conv or "")
    return conv if conv is not None and conv.parse is not None else None


_FORMAT_FORMS = {
    "string": "text", "rational64u": "a positive number or fraction like 1/125",
    "rational64s": "a number or fraction like -1/3", "undef": "text",
}


def _expected(d: ExifTagDef) -> str:
    if d.values:
        shown = ", ".join(list(d.values.values())[:4])
        return f"one of: {shown}... (or the number)"
    conv = _conversion(d.name)
    if conv is not None and conv.form:
        return conv.form
    return _FORMAT_FORMS.get(d.fmt, "a whole number" if d.fmt.startswith("int") else "a number")


def expected_form(d: ExifTagDef) -> str:
    """What text tag ``d`` takes, as error messages and ``metafs tags`` say it."""
    form = _expected(d)
    if d.count > 1 and d.fmt not in ("string", "undef") and _conversion(d.name) is None:
        return f"{d.count} values separated by spaces, each {form}"
    return form


def encode(name: str, text: str, bo: str) -> list[tuple[str, NewEntry]]:
    """Encode ``text`` for tag ``name``; returns (tag name, entry) pairs (GPS refs ride along)."""
    d = lookup(name)
    try:
        return _encode(d, text, bo)
    except (ValueError, ArithmeticError, OverflowError):
        raise TagValueError(
            f"{text!r} does not fit: expected {expected_form(d)}", tag=name
        ) from None


def _encode(d: ExifTagDef, text: str, bo: str) -> list[tuple[str, NewEntry]]:
    """The tag's conversion parses the text if it has a parse; else its value map, else its
    format decides (engine.exif.conversions says what a parse gives)."""
    conv = _conversion(d.name)
    if conv is not None:
        value = conv.parse(text, bo)
    elif d.values:
        value = _enum_value(d, text)
    else:
        value = _BY_TYPE.get(d.type_id, numbers)(text)
    return _STORE[type(value)](d, value, bo)


def _ratios(text: str) -> list:
    return [parse_ratio(x) for x in numbers(text)]


# A value with no conversion nor value map, as its type takes it (others: whole numbers).
_BY_TYPE = {
    2: str,  # text as it is
    7: str.encode,  # undefined: the text's bytes
    5: _ratios,
    10: _ratios,
}


def _enum_value(d: ExifTagDef, text: str) -> str | bytes | list[str]:
    """The stored value a printed enum name stands for (``Unknown (N)`` is N)."""
    assert d.values is not None
    rev = {v.lower(): k for k, v in d.values.items()}
    key = rev.get(text.strip().lower())
    if key is None:  # the reader's "Unknown (N)" / "Unknown (0x1f)": the number N
        m = re.fullmatch(r"\s*Unknown \((.*)\)\s*", text)
        key = m.group(1) if m else text
        if m and re.fullmatch(r"0x[0-9a-fA-F]+", key) and d.type_id != 2:
            key = str(int(key, 16))
    if d.type_id == 2:
        return key
    if d.type_id == 7 and re.fullmatch(r"(\\x[0-9a-fA-F]{2})+", key):  # a byte-string key
        return bytes(int(key[i + 2 : i + 4], 16) for i in range(0, len(key), 4))
    return numbers(key)


def _store_coordinate(d: ExifTagDef, value: tuple, bo: str) -> list[tuple[str, NewEntry]]:
    """A coordinate and, when the text said it (letter or sign), its reference tag."""
    vals, ref = value
    out = [(d.name, _pack(d, vals, bo))]
    ref_rule = rule(d.name).ref
    if ref is None or ref_rule is None:  # no letter, no sign (as displayed): the reference
        return out  # stays as it is, as with ExifTool
    ref_name, letters = ref_rule
    if ref == "-":
        ref = letters[1]
    if ref not in letters:
        raise ValueError(ref)
    out.append((ref_name, _ascii(lookup(ref_name), ref)))
    return out


# How a parsed value is stored, by its type (engine.exif.conversions).
_STORE: dict[type, Callable[[ExifTagDef, object, str], list[tuple[str, NewEntry]]]] = {
    str: lambda d, v, bo: [(d.name, _ascii(d, v))],
    bytes: lambda d, v, bo: [(d.name, NewEntry(d.tag, d.type_id, len(v), v))],
    list: lambda d, v, bo: [(d.name, _pack(d, v, bo))],
    tuple: _store_coordinate,
}


def _ascii(d: ExifTagDef, text: str) -> NewEntry:
    raw = text.encode("utf-8") + b"\0"
    if d.count and len(raw) > d.count:
        raise ValueError("too long")
    if d.count:
        raw = raw.ljust(d.count, b"\0")
    return NewEntry(d.tag, 2, len(raw), raw)


def printed(name: str, text: str, bo: str = "<") -> str:
    """What the reader shows for the value ``text`` stores in tag ``name``."""
    d = lookup(name)
    entry = encode(name, text, bo)[0][1]
    fmt = TYPE_FORMAT[entry.type]
    if fmt == "undef" and entry.count == 1:
        fmt = "int8u"  # as the reader: one undefined byte reads as a number
    value = read_value(rule(name).read or fmt, entry.raw, bo)
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
