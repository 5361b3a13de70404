"""EXIF raw values -> ExifTool's printed text: reading values, and the EXIF-only print steps.

``read_value`` turns the entry bytes into the value ExifTool's ReadValue gives (numbers as
space-separated text, rationals rounded to 10 significant digits, strings cut at the first NUL,
``undef`` data as bytes); then the tag's conversion (engine.exif.conversions, named by
engine.exif.overrides) runs its steps.  The steps shared with XMP are in engine.printconv.
"""

from __future__ import annotations

import re
import struct

from engine.exif.types import TYPE_NAMES
from engine.printconv import (
    Binary,
    Val,
    as_text,
    decode_text,
    fmt_g,
    is_float,
    perl_int,
    perl_num,
    perl_number,
    perl_sprintf,
    unconverted,
    undef_text,
)

# ExifTool format name -> (struct code, size); rationals are two of the code.
FORMATS = {
    "int8u": ("B", 1), "int8s": ("b", 1), "int16u": ("H", 2), "int16s": ("h", 2),
    "int32u": ("I", 4), "int32s": ("i", 4), "int64u": ("Q", 8), "int64s": ("q", 8),
    "rational64u": ("I", 8), "rational64s": ("i", 8), "float": ("f", 4), "double": ("d", 8),
    "ifd": ("I", 4), "ifd64": ("Q", 8), "string": ("s", 1), "undef": ("s", 1),
    "binary": ("s", 1),
}
TYPE_FORMAT = TYPE_NAMES  # TIFF type id -> ExifTool format name
# Bit names of the BITMASK PrintConvs whose listx keys are not bit values (SubfileType).
SUBFILE_BITS = {0: "Reduced resolution", 1: "Single page", 2: "Transparency mask",
                3: "TIFF/IT final page", 4: "TIFF-FX mixed raster content"}
CFA_COLORS = ("Red", "Green", "Blue", "Cyan", "Magenta", "Yellow", "White")


def _rational(num: int, den: int) -> str:
    return fmt_g(num / den, 10) if den else ("inf" if num else "undef")


def read_value(fmt: str, raw: bytes, bo: str) -> str | bytes:
    """ExifTool's ReadValue: numbers as space-separated text, strings cut at NUL, undef bytes."""
    code, size = FORMATS.get(fmt, ("s", 1))
    if code == "s":
        if fmt == "string":
            return decode_text(raw.split(b"\0", 1)[0])
        return raw
    n = len(raw) // size
    if fmt.startswith("rational"):
        nums = struct.unpack_from(f"{bo}{2 * n}{code}", raw)
        return " ".join(_rational(nums[2 * i], nums[2 * i + 1]) for i in range(n))
    vals = struct.unpack_from(f"{bo}{n}{code}", raw)
    if code in "fd":
        return " ".join(perl_num(v) for v in vals)
    return " ".join(str(v) for v in vals)


def _num(v: Val) -> float | None:
    return float(v) if isinstance(v, str) and is_float(v) else None


# -- value maps -------------------------------------------------------------------------------


def enum(v: Val, _arg: str, vals: dict | None, *, hexa: bool = False) -> Val:
    if vals is None or unconverted():  # -n: the stored value, not its name
        return v
    key = v.decode("latin-1") if isinstance(v, bytes) else v
    if key in vals:
        return vals[key]
    if isinstance(v, bytes):
        esc = "".join(f"\\x{c:02x}" for c in v)
        if esc in vals:
            return vals[esc]
        key = undef_text(v)
    if hexa and key.isdigit() and int(key):
        return f"Unknown (0x{int(key):x})"
    return f"Unknown ({key})"


def enum_hex(v: Val, arg: str, vals: dict | None) -> Val:
    return enum(v, arg, vals, hexa=True)


def enum_each(v: Val, _arg: str, vals: dict | None) -> Val:
    # ComponentsConfiguration: its OTHER routine maps each number and joins with ", "
    s = as_text(v)
    if vals and s in vals:
        return vals[s]
    return ", ".join((vals or {}).get(p, f"Unknown ({p})") for p in s.split())


def enum_list(v: Val, _arg: str, vals: dict | None) -> Val:
    # an ARRAY PrintConv: each item converted, joined with "; "
    return "; ".join(str(enum(p, "", vals)) for p in as_text(v).split())


def _bits(s: str, names: dict[int, str]) -> str:
    out = []
    for word_index, word in enumerate(s.split()):
        n = int(word) if word.isdigit() else 0
        for i in range(32):
            if n & (1 << i):
                bit = i + 32 * word_index
                out.append(names.get(bit, f"[{bit}]"))
    return ", ".join(out) if out else "(none)"


def bitmask(v: Val, _arg: str, vals: dict | None) -> Val:
    s = as_text(v)
    # listx gives BITMASK keys as bit values (1, 2, 4...): turn them back into bit numbers
    names = {int(k).bit_length() - 1: t for k, t in (vals or {}).items() if k.isdigit()}
    return _bits(s, names)


def enum_bits(v: Val, arg: str, vals: dict | None) -> Val:
    s = as_text(v)
    if vals and s in vals:
        return vals[s]
    return _bits(s, SUBFILE_BITS)


# -- text -------------------------------------------------------------------------------------


def rstrip(v: Val, _arg: str, _vals: dict | None) -> Val:
    return as_text(v).rstrip()


def rstrip_spaces(v: Val, _arg: str, _vals: dict | None) -> Val:
    return as_text(v).rstrip(" ")


def strip_nul(v: Val, _arg: str, _vals: dict | None) -> Val:
    if isinstance(v, bytes):
        return decode_text(v.rstrip(b"\0"))
    return v


def spaces_to_dots(v: Val, _arg: str, _vals: dict | None) -> Val:
    return as_text(v).replace(" ", ".")


def copyright_(v: Val, _arg: str, _vals: dict | None) -> Val:
    s = as_text(v) if isinstance(v, str) else decode_text(v)
    s = re.sub(r" *\0", "\n", s, count=1)
    s = re.sub(r" *\0.*", "", s, flags=re.S)
    return s[:-1] if s.endswith("\n") else s


def comma_list(v: Val, _arg: str, _vals: dict | None) -> Val:
    return re.sub(r"\s+", ", ", as_text(v))


def exif_text(v: Val, _arg: str, _vals: dict | None) -> Val:
    """UserComment-style text: 8-byte charset id, then the text."""
    b = v if isinstance(v, bytes) else v.encode("utf-8")
    if len(b) < 8:
        return undef_text(b)
    ident, body = b[:8], b[8:]
    if re.match(rb"(ASCII)?(\0|[\0 ]+$)", ident):
        s = decode_text(body.split(b"\0", 1)[0])
    elif re.fullmatch(rb"UNICODE[\0 ]", ident):
        s = _utf16(body)
    elif re.fullmatch(rb"JIS[\0 ]{5}", ident):
        s = decode_text(body)  # ExifTool decodes JIS; rare enough to show as is
    else:
        s = undef_text(b)
    return s.rstrip(" ")


def _utf16(b: bytes) -> str:
    # ExifTool guesses the byte order of UNICODE text from the data; EXIF says "file order"
    if len(b) >= 2 and b[:2] in (b"\xff\xfe", b"\xfe\xff"):
        enc, b = ("utf-16-le" if b[:2] == b"\xff\xfe" else "utf-16-be"), b[2:]
    else:
        even_zero = sum(1 for c in b[0::2] if c == 0)
        odd_zero = sum(1 for c in b[1::2] if c == 0)
        enc = "utf-16-be" if even_zero > odd_zero else "utf-16-le"
    b = b[: len(b) // 2 * 2]
    return b.decode(enc, errors="replace").split("\0", 1)[0]


def ucs2le(v: Val, _arg: str, _vals: dict | None) -> Val:
    b = v if isinstance(v, bytes) else v.encode("latin-1", errors="replace")
    b = b[: len(b) // 2 * 2]
    return b.decode("utf-16-le", errors="replace").split("\0", 1)[0]


def utf8(v: Val, _arg: str, _vals: dict | None) -> Val:
    return as_text(v)


def strip_label(v: Val, _arg: str, vals: dict | None) -> Val:
    return re.sub(r"^.*: ", "", as_text(v))


def hex_(v: Val, _arg: str, _vals: dict | None) -> Val:
    return v.hex() if isinstance(v, bytes) else v


def hex_upper(v: Val, _arg: str, _vals: dict | None) -> Val:
    return v.hex().upper() if isinstance(v, bytes) else v


def long_binary(v: Val, arg: str, _vals: dict | None) -> Val:
    s = as_text(v)
    return Binary(len(s.encode("utf-8"))) if len(s) > int(arg) else s


# -- colour filter patterns -------------------------------------------------------------------


def cfa_pattern(v: Val, bo: str, _vals: dict | None) -> Val:
    """CFAPattern (ExifIFD): 2x int16 repeat size, then colour bytes (argument: byte order)."""
    b = v if isinstance(v, bytes) else b""
    if len(b) < 4:
        return as_text(v)
    bo = bo or "<"
    w, h = struct.unpack_from(bo + "HH", b)
    colors = list(b[4:])
    if 2 + w * h > 2 + len(colors):
        w, h = struct.unpack_from(("<" if bo == ">" else ">") + "HH", b)
        if w * h > len(colors):
            return "<invalid pattern size>"
    return _print_cfa([w, h, *colors])


def _print_cfa(a: list[int]) -> str:
    if len(a) < 2:
        return "<truncated data>"
    if not a[0] or not a[1]:
        return "<zero pattern size>"
    end = 2 + a[0] * a[1]
    if end > len(a):
        return "<invalid pattern size>"
    out = "["
    for pos in range(2, end):
        out += CFA_COLORS[a[pos]] if a[pos] < len(CFA_COLORS) else "Unknown"
        if pos + 1 >= end:
            break
        out += "," if (pos + 1 - 2) % a[1] else "]["
    return out + "]"


def cfa_colors(v: Val, _arg: str, _vals: dict | None) -> Val:
    out = []
    for p in as_text(v).split():
        i = int(p) if p.isdigit() else -1
        out.append(CFA_COLORS[i] if 0 <= i < len(CFA_COLORS) else f"Unknown({p})")
    return ",".join(out)


def sfr(v: Val, bo: str, _vals: dict | None) -> Val:
    """SpatialFrequencyResponse: column count, row count, names, then rationals."""
    b = v if isinstance(v, bytes) else b""
    if len(b) <= 4:
        return as_text(v)
    bo = bo or "<"
    n, m = struct.unpack_from(bo + "HH", b)
    cols = b[4:].split(b"\0", n)
    pos = len(b) - 8 * n * m
    if len(cols) != n + 1 or pos < 4:
        return as_text(v)
    out = []
    for i in range(n):
        rows = []
        for j in range(m):
            num, den = struct.unpack_from(bo + "II", b, pos + 8 * (i + j * n))
            rows.append(_rational(num, den))
        out.append(decode_text(cols[i]) + "=" + ",".join(rows))
    return "; ".join(out)


# -- GPS, numbers -----------------------------------------------------------------------------


def gps_time(v: Val, _arg: str, _vals: dict | None) -> Val:
    parts = [perl_number(p) for p in as_text(v).split()[:3]]
    h, m, s = (parts + [0.0, 0.0, 0.0])[:3]
    f = (h * 60 + m) * 60 + s
    hh = perl_int(f / 3600)
    f -= hh * 3600
    mm = perl_int(f / 60)
    f -= mm * 60
    ss = perl_sprintf("%012.9f", f)
    if perl_number(ss) >= 60:
        ss = "00"
        mm += 1
        if mm >= 60:
            mm -= 60
            hh += 1
    else:
        ss = re.sub(r"\.?0+$", "", ss)
    val = f"{perl_sprintf('%.2d', hh)}:{perl_sprintf('%.2d', mm)}:{ss}"
    # PrintTimeStamp: round fractional seconds to 6 places
    mt = re.search(r":(\d{2}\.\d+)$", val)
    if not mt:
        return val
    sec = int(float(mt.group(1)) * 1000000 + 0.5) / 1000000
    sec_s = perl_num(sec)
    return val[: mt.start()] + ":" + ("0" + sec_s if sec < 10 else sec_s)


def apex_shutter(v: Val, _arg: str, _vals: dict | None) -> Val:
    """Exif.pm's ShutterSpeedValue ValueConv: 1/2**Tv of a number only (IsFloat), else 0."""
    x = _num(v)
    return perl_num(2 ** -x) if x is not None and abs(x) < 100 else "0"


def exif_date(v: Val, _arg: str, _vals: dict | None) -> Val:
    s = as_text(v)
    return re.sub(r"(\d{4})[^\d]*(\d{2})[^\d]*(\d{2})$", r"\1:\2:\3", s)


def round3(v: Val, _arg: str, _vals: dict | None) -> Val:
    x = _num(v)
    return v if x is None else perl_num(perl_int(x * 1000 + 0.5) / 1000)


def divide(v: Val, arg: str, _vals: dict | None) -> Val:
    x = _num(v)
    return v if x is None else perl_num(x / float(arg))


def gamma(v: Val, _arg: str, _vals: dict | None) -> Val:
    x = _num(v)
    return v if x is None else perl_num(x / (1024 if x >= 1024 else 256 if x >= 256 else 100))


def tstop(v: Val, _arg: str, _vals: dict | None) -> Val:
    return "-".join(f"{float(p):.2f}" for p in as_text(v).split() if is_float(p))
