"""The conversions EXIF tags use: the shared ones (engine.printconv) and the EXIF-only ones,
each a record of print steps, parse and form (engine.printconv.Conversion).  Tags name them in
engine.exif.overrides.

A parse takes the typed text (and the block's byte order) and gives what to store: ``str``
(ASCII text), ``bytes`` (stored in the tag's own type), a list of numbers, or (numbers,
reference letter) for a GPS coordinate; engine.exif.encode stores it.
"""

from __future__ import annotations

import re
import struct

from engine.exif import printing as P
from engine.exif.overrides import rule
from engine.exif.tables import VALUES
from engine.printconv import (
    BYTE_ORDER,
    NUMBER,
    Binary,
    Conversion,
    Val,
    exposure_time,
    numbers,
    parse_fraction,
    suffix,
    undef_text,
    with_unit,
)
from engine.printconv import CONVERSIONS as SHARED
from engine.printconv import dms as dms_step

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from fractions import Fraction

# Patterns compiled (and cached by re) when first used: compiling costs a CLI write's start.
_DMS = (
    rf"^\s*([+-])?\s*({NUMBER})(?:\s*(?:deg|°|,)?\s*({NUMBER})\s*'?(?:\s*,?\s*({NUMBER})\s*\"?)?)?"
    r"\s*(?:deg|°)?\s*([NSEWnsew]|north|south|east|west)?\s*$"
)


def parse_coordinate(text: str, _bo: str = "<") -> tuple[list[float | int], str | None]:
    """Degrees as printed (37 deg 46' 29.64" N), as ExifTool also takes them (37 46 29.64,
    -37.7749, 37,46.494N): degrees, minutes and seconds the way ExifTool's ToDMS cuts them,
    and the reference letter ('-' for a sign alone, None for neither)."""
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


def parse_time(text: str, _bo: str = "<") -> list[Fraction]:
    from fractions import Fraction

    m = re.fullmatch(rf"\s*(\d+):(\d+):({NUMBER})\s*(?:Z|UTC)?\s*", text)
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


def parse_date(text: str, _bo: str = "<") -> str:
    if len(text) == 19 and re.fullmatch(r"[ :]+", text):
        return text  # the EXIF form of an unknown date (blanks), kept as it is
    m = re.match(_DATE, text)
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s, _tz = m.groups()
    if h is None:
        return f"{y}:{mo}:{d} 00:00:00"
    return f"{y}:{mo}:{d} {h}:{mi}:{s or '00'}"


def parse_gps_date(text: str, _bo: str = "<") -> str:
    return parse_date(text)[:10]


def parse_version(text: str, _bo: str = "<") -> bytes:  # ExifVersion '0230' (printed so too)
    t = text.strip().replace(".", "")
    if re.fullmatch(r"\d{4}", t):
        return t.encode()
    raw = text.encode("latin-1", errors="replace")
    if len(raw) != 4:  # four bytes of another form are kept as they are (ExifTool too)
        raise ValueError(text)
    return raw


def parse_comment(text: str, _bo: str = "<") -> bytes:
    if text.isascii():
        return b"ASCII\0\0\0" + text.encode()
    return b"UNICODE\0" + text.encode("utf-16-be")


_COMPONENTS = {"-": 0, "Y": 1, "Cb": 2, "Cr": 3, "R": 4, "G": 5, "B": 6}


def parse_components(text: str, _bo: str = "<") -> bytes:
    items = [p.strip() for p in text.split(",")]
    if len(items) <= 4 and all(i in _COMPONENTS for i in items):
        return bytes(_COMPONENTS[i] for i in items)
    return bytes(int(x) for x in numbers(text))


def parse_cfa(text: str, bo: str = "<") -> bytes:
    """CFAPattern as printed (``[Red,Green][Green,Blue]``): rows, then colour numbers."""
    rows = re.findall(r"\[([^\]]*)\]", text)
    if not rows or re.sub(r"\[[^\]]*\]", "", text).strip():
        raise ValueError(text)
    cells = [[c.strip() for c in row.split(",")] for row in rows]
    if any(len(r) != len(cells[0]) for r in cells):
        raise ValueError(text)
    colours = [P.CFA_COLORS.index(c) for r in cells for c in r]  # ValueError when unknown
    return struct.pack(bo + "HH", len(cells), len(cells[0])) + bytes(colours)


def parse_shutter(text: str, _bo: str = "<") -> list[float]:
    """ShutterSpeedValue as printed (a time): its APEX value, as the shared parse; 0 (the
    print of a value past +-100) is stored as -100, as Exif.pm's ValueConvInv does."""
    return [-100.0] if parse_fraction(text) == 0 else SHARED["shutter"].parse(text)


def parse_dotted(text: str, _bo: str = "<") -> list[str]:  # GPSVersionID: printed 2.3.0.0
    return numbers(text.replace(".", " "))


def parse_ucs2(text: str, _bo: str = "<") -> bytes:  # XPTitle...: UCS-2LE text, NUL-ended
    return text.encode("utf-16-le") + b"\0\0"


def parse_hex(text: str, _bo: str = "<") -> list[int]:  # digests printed as hex
    return list(bytes.fromhex(text.strip()))


_DATE_FORM = "a date like 2020:01:01 10:00:00 (or ISO 8601)"
_LONG32, _LONG64 = (P.long_binary, "32"), (P.long_binary, "64")

CONVERSIONS: dict[str, Conversion] = {**SHARED, **{c.name: c for c in (
    Conversion("exif_shutter", [P.apex_shutter, exposure_time], parse_shutter,
               SHARED["shutter"].form, SHARED["shutter"].expected),
    Conversion("rstrip", [P.rstrip]),
    Conversion("rstrip_spaces", [P.rstrip_spaces]),
    Conversion("strip_nul", [P.strip_nul]),
    Conversion("date", [], parse_date, _DATE_FORM),
    Conversion("version", [P.strip_nul], parse_version, "four digits like 0232"),
    Conversion("dotted", [P.spaces_to_dots], parse_dotted, "4 whole numbers like 2.3.0.0"),
    Conversion("copyright", [P.copyright_]),
    Conversion("metres_suffix", [(suffix, " m")], with_unit(" m"), "a number of metres like 123.4"),
    Conversion("celsius", [(suffix, " C")], with_unit(" C")),
    Conversion("comma_list", [P.comma_list]),
    Conversion("components", [P.enum_each], parse_components, maps=True),
    Conversion("enum_list", [P.enum_list], maps=True),
    Conversion("enum_bits", [P.enum_bits], maps=True),
    Conversion("bitmask", [P.bitmask], maps=True),
    Conversion("enum_hex", [P.enum_hex], maps=True),
    Conversion("exif_text", [P.exif_text], parse_comment),
    Conversion("ucs2", [P.ucs2le], parse_ucs2),
    Conversion("cfa_pattern", [(P.cfa_pattern, BYTE_ORDER)], parse_cfa,
               "a pattern like [Red,Green][Green,Blue]"),
    Conversion("cfa_colors", [P.cfa_colors]),
    Conversion("coordinate", [dms_step], parse_coordinate,
               "degrees like 37 deg 46' 29.64\" N or signed decimal degrees like -122.4194"),
    Conversion("gps_time", [P.gps_time], parse_time, "a time like 10:30:00"),
    Conversion("gps_date", [P.strip_nul, P.exif_date], parse_gps_date),
    Conversion("hex", [P.hex_], parse_hex),
    Conversion("hex_upper", [P.hex_upper], parse_hex),
    Conversion("sfr", [(P.sfr, BYTE_ORDER)]),
    Conversion("utf8", [P.utf8]),
    Conversion("long_binary32", [_LONG32]),
    Conversion("long_binary64", [_LONG64]),
    Conversion("maker_note_text", [P.strip_nul, _LONG64]),
    Conversion("round3", [P.round3]),
    Conversion("tstop", [P.tstop]),
    Conversion("strip_label", [P.strip_label]),
    Conversion("divide256", [(P.divide, "256")]),
    Conversion("gamma", [P.gamma]),
)}}


def convert(name: str, value: str | bytes, values_key: str | None, bo: str = "<",
            panasonic: bool = False) -> Val:
    """Print the value ``read_value`` gave for tag ``name`` as ExifTool does: its
    conversion (engine.exif.overrides), then its value map; returns text or a Binary.
    ``panasonic``: the tag is one of PanasonicRaw::Main (IFD0 of RW2 files)."""
    vals = VALUES.get(values_key) if values_key else None
    # Binary => 1 in Exif.pm holds in every table (RW2 files' JpgFromRaw too)
    if rule(name).binary or (panasonic and rule(name, True).binary):
        return Binary(len(value) if isinstance(value, bytes) else len(value.encode("utf-8")))
    conv = CONVERSIONS.get(rule(name, panasonic).conv or "")
    v: Val = value
    if conv is not None:
        v = conv.show(v, vals, bo)
        if isinstance(v, Binary):
            return v
    if vals is not None and not (conv is not None and conv.maps):
        v = P.enum(v, "", vals)
    if isinstance(v, bytes):
        v = undef_text(v)
    return v
