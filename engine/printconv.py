"""ExifTool's value conversions shared by EXIF and XMP: one record per conversion.

A ``Conversion`` holds, together, what ExifTool keeps in a tag's ValueConv/PrintConv and their
inverses: ``steps`` (the print: stored value -> the text ExifTool shows), ``parse`` (the text a
user types -> the value to store, numbers as ``Fraction``/float or ``inf``/``undef``), ``form``
(how that text must look, for messages) and ``expected`` (what reading back a written value
must show, when that is not simply the print of what was stored).  ``CONVERSIONS`` holds the
ones both families use (APEX values, exposure times, f-numbers, lens ranges, lengths...);
engine.exif.conversions and engine.xmp.printing add their own, and their tables name them
(engine.exif.overrides; engine.xmp.tables, from scripts/gen_xmp_tags.py).

The steps emulate Perl: numbers print as Perl prints a double (%.15g), arithmetic takes the
leading number of any string (``inf``, ``undef`` included), sprintf truncates for %d.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from engine.record import FrozenRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    # fractions (and decimal, which it imports) cost 2 ms of a CLI write's start: the
    # functions that parse numbers import it when they run
    from fractions import Fraction


class Binary(FrozenRecord):
    """A value ExifTool shows as "(Binary data N bytes)"."""

    __slots__ = ("size",)
    size: int

    def __init__(self, size: int) -> None:
        self._init(size)


Val = str | bytes | Binary
Step = Callable[[Val, str, "dict | None"], Val]
BYTE_ORDER = None  # a step argument that stands for the byte order of the value's block

# ``exiftool -n``: values without their PrintConv (value maps and print steps left out, the
# ValueConv kept).  Set only by engine.unconverted while it decodes; False for every other
# read.  A conversion's steps are its ValueConv then its PrintConv: UNCONVERTED_STEPS
# (engine.unconverted) says how many of its first steps are ValueConv (or which steps stand
# for it).
_MODE = [False]


def unconverted() -> bool:
    """Whether values are being decoded without their print conversion (``-n``)."""
    return _MODE[0]


class Conversion(FrozenRecord):
    """One of ExifTool's conversions: print, parse and expected read-back together."""

    __slots__ = ("name", "steps", "parse", "form", "expected", "maps")
    name: str
    steps: tuple[tuple[Step, str | None], ...]  # (function, argument or BYTE_ORDER)
    parse: Callable[..., object] | None  # (typed text, byte order) -> value; ValueError if not
    form: str | None  # what the typed text must look like ("an f-number like 5.6")
    expected: Callable[[str], str] | None  # typed text -> what read-back must show
    maps: bool  # the steps apply the tag's value map themselves

    def __init__(self, name: str, steps: tuple = (), parse: Callable | None = None,
                 form: str | None = None, expected: Callable | None = None,
                 maps: bool = False) -> None:
        self._init(name, tuple(s if isinstance(s, tuple) else (s, "") for s in steps), parse,
                   form, expected, maps)

    def show(self, value: Val, vals: dict | None = None, bo: str = "<") -> Val:
        """The printed form of ``value`` (a Binary stops the steps); while ``unconverted()``,
        the value without its print conversion (the steps ``UNCONVERTED_STEPS`` keeps)."""
        steps = self.steps
        if _MODE[0]:
            from engine.unconverted import UNCONVERTED_STEPS

            keep = UNCONVERTED_STEPS.get(self.name, len(steps))
            steps = steps[:keep] if isinstance(keep, int) else keep
        for fn, arg in steps:
            value = fn(value, bo if arg is BYTE_ORDER else arg, vals)
            if isinstance(value, Binary):
                break
        return value


# -- Perl's numbers ---------------------------------------------------------------------------


def fmt_g(x: float, sig: int) -> str:
    """Perl's sprintf("%.<sig>g") (Python's % operator gives the same digits)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.{sig}g}"


def perl_num(x: float) -> str:
    """How Perl prints a double (``"$x"``): %.15g, with integers plain."""
    return fmt_g(x, 15)


_PERL_NUM = re.compile(r"\s*([+-]?(?:\d+\.?\d*(?:[Ee][+-]?\d+)?|\.\d+(?:[Ee][+-]?\d+)?))")
_PERL_SPECIAL = re.compile(r"\s*([+-]?)(inf(?:inity)?|nan)", re.I)


def perl_number(v: object) -> float:
    """A value in Perl's numeric context: the leading number of a string ("Inf", "NaN"
    included), 0 when there is none (ExifTool's conversions do arithmetic on any value)."""
    if isinstance(v, int | float):
        return float(v)
    s = v.decode("latin-1") if isinstance(v, bytes) else v if isinstance(v, str) else ""
    m = _PERL_NUM.match(s)
    if m:
        return float(m.group(1))
    m = _PERL_SPECIAL.match(s)
    if m:
        x = math.inf if m.group(2).lower().startswith("inf") else math.nan
        return -x if m.group(1) == "-" else x
    return 0.0


def perl_int(x: float) -> float:
    """Perl's int(): truncates toward zero, leaves Inf and NaN as they are."""
    return float(math.trunc(x)) if math.isfinite(x) else x


def perl_sprintf(fmt: str, x: float) -> str:
    """Perl's sprintf of one number: %d takes the integer part (Inf/NaN printed as such, values
    past 64 bits wrapped as Perl's IV/UV casts do); Inf and NaN print as "Inf" and "NaN"."""
    if not math.isfinite(x):
        out = re.sub(r"(%[-+ 0#]*\d*)(?:\.\d+)?d", r"\1f", fmt) % x  # "%.2d": "Inf"
        return out.replace("inf", "Inf").replace("nan", "NaN")
    if re.search(r"%[-+ 0#]*\d*(?:\.\d+)?d", fmt):
        n = max(math.trunc(x), -(1 << 63))
        n = min(n, (1 << 64) - 1)
        return fmt % (n - (1 << 64) if n >= 1 << 63 else n)
    return fmt % x


def is_float(s: str) -> bool:
    return bool(re.fullmatch(r"[+-]?(?=\d|\.\d)\d*(\.\d*)?([Ee][+-]?\d+)?", s.strip()))


def decode_text(b: bytes) -> str:
    """Bytes -> text as ExifTool's JSON shows them (UTF-8, bad bytes as '?')."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("utf-8", errors="replace").replace("\ufffd", "?")


def undef_text(b: bytes) -> str:
    """Undefined-type data shown as text: ExifTool's JSON drops NULs."""
    return decode_text(b.replace(b"\0", b""))


def as_text(v: Val) -> str:
    return undef_text(v) if isinstance(v, bytes) else v if isinstance(v, str) else ""


def _num(v: Val) -> float | None:
    return float(v) if isinstance(v, str) and is_float(v) else None


# -- print steps both families use: (value, argument, value map) -> value ----------------------


def exposure_time(v: Val, _arg: str, _vals: dict | None) -> Val:
    x = _num(v)
    if x is None:
        return v
    if 0 < x < 0.25001:
        return perl_sprintf("1/%d", 0.5 + 1 / x)  # a denormal x: "1/Inf", as ExifTool
    s = perl_sprintf("%.1f", x)
    return s[:-2] if s.endswith(".0") else s


def fnumber(v: Val, _arg: str, _vals: dict | None) -> Val:
    x = _num(v)
    if x is None or x <= 0:
        return v
    return ("%.2f" if x < 1 else "%.1f") % x


def apex_shutter(v: Val, _arg: str, _vals: dict | None) -> Val:
    """XMP.pm's ShutterSpeedValue ValueConv: 1/2**Tv of any value (Perl's numeric context)."""
    x = perl_number(v)
    return perl_num(2 ** -x) if abs(x) < 100 else "0"


def apex_aperture(v: Val, _arg: str, _vals: dict | None) -> Val:
    x = perl_number(v)  # ExifTool's ValueConv does the arithmetic on any value ("undef": 0)
    try:
        return perl_num(2 ** (x / 2))
    except OverflowError:
        return "Inf"


def sprintf(v: Val, arg: str, _vals: dict | None) -> Val:
    return perl_sprintf(arg, perl_number(v))


def fraction(v: Val, _arg: str, _vals: dict | None) -> Val:
    x = perl_number(v) * 1.00001  # as ExifTool (any value, "undef" is 0), to absorb round-off
    if not x:
        return "0"
    if math.isfinite(x):
        for mult, fmt in ((1, "%+d"), (2, "%+d/2"), (3, "%+d/3")):
            if abs(x * mult) != math.inf and int(x * mult) / (x * mult) > 0.999:
                return perl_sprintf(fmt, x * mult)
    return perl_sprintf("%+.3g", x)


def unit(v: Val, arg: str, _vals: dict | None) -> Val:
    s = as_text(v)
    return s if s in ("inf", "undef") else s + arg


def suffix(v: Val, arg: str, _vals: dict | None) -> Val:
    return as_text(v) + arg


_RATIONAL = re.compile(r"(-?\d+)/(-?\d+)")


def rational_text(val: str) -> str | None:
    """An XMP rational (``28/10``) as the number ExifTool reads from it; None if not one."""
    m = _RATIONAL.fullmatch(val)
    if not m:
        return None
    n, d = int(m.group(1)), int(m.group(2))
    if d == 0:
        return "inf" if n else "undef"
    if n % d == 0:
        return str(n // d)
    try:
        return f"{n / d:.15g}"  # Perl's default number format
    except OverflowError:  # past a double: Perl's Inf
        return "inf" if (n < 0) == (d < 0) else "-inf"


def lens_info(v: Val, _arg: str, _vals: dict | None) -> Val:
    """ExifTool's PrintLensInfo: four numbers (XMP rationals too) as ``24-70mm f/2.8-4``."""
    s = as_text(v)
    parts = s.split()
    if len(parts) != 4:
        return s
    if all(rational_text(p) is not None for p in parts):
        parts = [rational_text(p) or p for p in parts]
    vals = []
    for p in parts:
        if is_float(p):
            vals.append(p)
        elif p in ("inf", "undef"):
            vals.append("?")
        else:
            return s
    out = vals[0]
    if _truthy(vals[1]) and vals[1] != vals[0]:
        out += f"-{vals[1]}"
    out += f"mm f/{vals[2]}"
    if _truthy(vals[3]) and vals[3] != vals[2]:
        out += f"-{vals[3]}"
    return out


def _truthy(s: str) -> bool:
    # Perl truth of a string: "" and "0" are false
    return s not in ("", "0")


_DEGREE_NUMBERS = re.compile(r"([+-]?(?=\d|\.\d)\d*(?:\.\d*)?(?:[Ee][+-]\d+)?)")


def to_degrees(s: str) -> float | None:
    """ExifTool's ToDegrees: degrees, minutes and seconds (any separators) as degrees."""
    if re.search(r"\b(inf|undef)\b", s):
        return None
    nums = _DEGREE_NUMBERS.findall(s)
    if not nums:
        return None
    d, m, sec = (float(x) for x in (nums + ["0", "0"])[:3])
    return d + (m + sec / 60) / 60


def dms_text(deg: float) -> str:
    """ExifTool's ToDMS of a coordinate's size: ``37 deg 46' 29.64"``."""
    deg = abs(deg)
    d = perl_int(deg)
    m = perl_int((deg - d) * 60) if math.isfinite(deg) else math.nan
    sec = perl_sprintf("%.2f", (deg - d - m / 60) * 3600)
    if perl_number(sec) >= 60:  # round-off: "72 59 60.00" -> "73 0 0.00"
        sec = "%.2f" % (float(sec) - 60)
        m += 1
        if m >= 60:
            m -= 60
            d += 1
    # %d as Perl prints it: a degree count past 64 bits (garbage) shows as "-1"
    return f"{perl_sprintf('%d', d)} deg {perl_sprintf('%d', m)}' {sec}\""


def dms(v: Val, _arg: str, _vals: dict | None) -> Val:
    deg = to_degrees(as_text(v))
    return "" if deg is None else dms_text(deg)


# -- parsing what a user types ----------------------------------------------------------------

NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def parse_fraction(text: str) -> Fraction:
    """A number or a fraction as typed (``2.8``, ``1/60``, ``1/3.2``); ValueError if not."""
    from fractions import Fraction

    t = text.strip()
    m = re.fullmatch(rf"({NUMBER})\s*/\s*({NUMBER})", t)
    try:
        if m:
            return Fraction(m.group(1)) / Fraction(m.group(2))
        return Fraction(t)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{t!r} is not a number") from None


def parse_ratio(text: str, _bo: str = "<") -> Fraction | str:
    """One rational as typed: a number, a fraction or ExifTool's ``inf``/``undef`` (stored 1/0
    and 0/0, as the reader prints them)."""
    t = text.strip()
    return t if t in ("inf", "undef") else parse_fraction(t)


def without_unit(text: str, unit_text: str) -> str:
    t = text.strip()
    return t[: -len(unit_text)] if t.lower().endswith(unit_text.lower()) else t


def with_unit(unit_text: str) -> Callable[..., list]:
    """The parse of a number printed with ``unit_text`` after it (the unit optional)."""

    def parse(text: str, _bo: str = "<") -> list:
        return [parse_ratio(without_unit(text, unit_text))]

    return parse


def _positive(text: str, what: str) -> Fraction:
    x = parse_fraction(text)
    if x <= 0:
        raise ValueError(f"{text.strip()!r} is not a positive {what}")
    return x


def parse_aperture(text: str, _bo: str = "<") -> list[float]:
    """ApertureValue as printed (an f-number) -> its APEX value, Av = 2*log2(N)."""
    return [2 * math.log2(_positive(text, "f-number"))]


def parse_shutter(text: str, _bo: str = "<") -> list[float]:
    """ShutterSpeedValue as printed (a time) -> its APEX value, Tv = -log2(t)."""
    return [-math.log2(_positive(text, "exposure time"))]


_LENS = (r"^\s*({n}|\?)(?:\s*-\s*({n}|\?))?\s*mm\s*f/?\s*({n}|\?)(?:\s*-\s*({n}|\?))?\s*$"
         .replace("{n}", r"\d+(?:\.\d*)?|\.\d+"))


def numbers(text: str) -> list[str]:
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    if not parts:
        raise ValueError(text)
    return parts


def parse_lens(text: str, _bo: str = "<") -> list[Fraction | str]:
    """LensInfo as printed (``24-70mm f/2.8``, ``50mm f/1.8``, ``?`` for unknown) or as four
    numbers; a single focal length or f-number is stored twice, as ExifTool does."""
    m = re.match(_LENS, text)
    if not m:
        return [parse_ratio(x) for x in numbers(text)]
    lo, hi, f_lo, f_hi = m.groups()
    vals = [lo, hi or lo, f_lo, f_hi or f_lo]
    return [parse_ratio("undef" if v == "?" else v) for v in vals]


def _shown_aperture(text: str) -> str:
    return perl_sprintf("%.1f", float(_positive(text, "f-number")))


def _shown_shutter(text: str) -> str:
    return str(exposure_time(repr(float(parse_fraction(text))), "", None))


CONVERSIONS: dict[str, Conversion] = {c.name: c for c in (
    Conversion("exposure_time", [exposure_time]),
    Conversion("fnumber", [fnumber]),
    Conversion("aperture", [apex_aperture, (sprintf, "%.1f")], parse_aperture,
               "an f-number like 5.6", _shown_aperture),
    # XMP.pm's ShutterSpeedValue (Exif.pm's reads only numbers, and stores 0 as -100: the
    # "exif_shutter" of engine.exif.conversions)
    Conversion("shutter", [apex_shutter, exposure_time], parse_shutter,
               "an exposure time like 1/125", _shown_shutter),
    Conversion("fraction", [fraction]),
    Conversion("metres", [(unit, " m")], with_unit(" m"), "a number of metres like 123.4"),
    Conversion("focal_length", [(sprintf, "%.1f mm")], with_unit(" mm"),
               "a length like 50 or 50.0 mm"),
    Conversion("mm", [(suffix, " mm")], with_unit(" mm"), "a length like 50 or 50.0 mm"),
    Conversion("lens_info", [lens_info], parse_lens,
               "4 values separated by spaces, or a lens like 24-70mm f/2.8-4"),
)}


def rationalize(value: float, max_int: int = 0x7FFFFFFF) -> tuple[int, int]:
    """A float as the rational ExifTool stores for it (Writer.pl Rationalize): the first
    continued-fraction convergent within 1e-8 of the value whose terms fit ``max_int``."""
    if value == 0:
        return 0, 1
    sign = -1 if value < 0 else 1
    value = abs(value)
    best: tuple[int, int] | None = None
    terms: list[int] = []
    frac = value
    for _ in range(64):  # convergents grow at least like Fibonacci numbers: never reached
        num, den = int(frac + 0.5), 1
        for term in terms:  # the terms taken so far, most recent first
            num, den = term * num + den, num
        if num > max_int or den > max_int:
            if best is not None:
                break
            return (sign, max_int) if value < 1 else (sign * max_int, 1)
        best = num, den
        if abs((num / den - value) / value) < 1e-8:
            break
        whole = int(frac)
        terms.insert(0, whole)
        frac -= whole
        if not frac:
            break
        frac = 1 / frac
    assert best is not None
    return best[0] * sign, best[1]
