"""Print a maker-note value as ExifTool does: its RawConv, ValueConv, then PrintConv.

The conversions are the Perl code of ExifTool's tables (engine.makernotes.tables.CODES), run
by the small evaluator engine.makernotes.perl; the helper functions that code calls
(ExifTool's PrintExposureTime, Canon's CanonEv...) are hand-written here from what they do.
A value map (PrintConv hash) is applied by the caller.  Code the evaluator does not know is
left out: the value is then shown as read (never guessed), except a RawConv/ValueConv we
cannot run on a value that needs it, which hides nothing either.
"""

from __future__ import annotations

import math
import re
import struct

from engine.makernotes.perl import (
    CODE_ERRORS,
    FUNCTIONS,
    STATEMENTS,
    Unsupported,
    _n,
    _s,
    compile_code,
)
from engine.printconv import dms_text, exposure_time, fnumber, fraction, lens_info, perl_num

DROP = object()  # the tag is left out (a RawConv gave undef)


def _flat(args) -> list:
    out = []
    for a in args:
        out.extend(a) if isinstance(a, tuple | list) else out.append(a)
    return out


def _sprintf(fmt, *args):
    fmt = _s(fmt)
    args = tuple(_flat(args))
    values = []
    specs = re.findall(r"%[-+ 0#]*\d*(?:\.\d+)?([a-zA-Z%])", fmt)
    it = iter(args)
    for conv in specs:
        if conv == "%":
            continue
        v = next(it, None)
        if conv in "dixXou":
            x = _n(v)
            values.append(int(x) if math.isfinite(x) else 0)
        elif conv in "feEgG":
            values.append(_n(v))
        else:
            values.append(_s(v))
    fmt = re.sub(r"%([-+ 0#]*\d*(?:\.\d+)?)[u]", r"%\1d", fmt)
    try:
        return fmt % tuple(values)
    except (TypeError, ValueError):
        return _s(args[0]) if args else ""


def canon_ev(v) -> float:
    x = _n(v)
    sign = -1.0 if x < 0 else 1.0
    x = abs(x)
    frac = float(int(x) & 0x1F)
    x -= frac
    frac = {12.0: 32 / 3, 20.0: 64 / 3}.get(frac, frac)
    return sign * (x + frac) / 32


_CANON_ISO = {0: "n/a", 14: "Auto High", 15: "Auto", 16: "50", 17: "100", 18: "200",
              19: "400", 20: "800"}


def canon_iso(v, _inv=None):
    n = int(_n(v))
    if n == 0x7FFF:
        return None
    if n & 0x4000:
        return float(n & 0x3FFF)
    return _CANON_ISO.get(n, f"Unknown ({n})")


def decode_bits(vals, lookup=None, bits=None) -> str:
    """ExifTool's DecodeBits: the bits set, as their names in ``lookup`` ("[n]" for the
    others, joined by ", ") or, without a lookup, their numbers joined by ","."""
    width = int(_n(bits)) if bits else 32
    names = lookup if isinstance(lookup, dict) else None
    out = []
    for k, word in enumerate(_s(vals).split()):
        n = int(_n(word))
        for i in range(width):
            if n & (1 << i):
                bit = str(i + k * width)
                out.append(bit if names is None else _s(names[bit]) if names.get(bit)
                           else f"[{bit}]")
    return (", " if names is not None else ",").join(out) if out else "(none)"


def time_zone(v) -> str:
    minutes = _n(v)
    sign = "-" if minutes < 0 else "+"
    minutes = int(abs(minutes) + 0.5)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


_UNPACK = {"C": "B", "c": "b", "n": ">H", "v": "<H", "N": ">I", "V": "<I", "s": "<h",
           "S": "<H", "l": "<i", "L": "<I"}


def unpack(fmt, v):
    """Perl's unpack for the templates ExifTool's conversions use: H*, H2 (hex), C c n v N V,
    with repeat counts and x (skip); a tuple of values (a list in Perl)."""
    data = v if isinstance(v, bytes) else _s(v).encode("latin-1")
    template = _s(fmt)
    if template == "H*":
        return data.hex()
    out: list = []
    pos = 0
    for code, rep in re.findall(r"([A-Za-z])(\*|\d*)", template.replace(" ", "")):
        n = len(data) - pos if rep == "*" else int(rep or 1)
        if code == "x":
            pos += n
        elif code == "H":
            out.append(data[pos : pos + (n + 1) // 2].hex()[:n])
            pos += (n + 1) // 2
        elif code in _UNPACK:
            f = _UNPACK[code]
            size = struct.calcsize(f)
            for _ in range(n if rep != "*" else (len(data) - pos) // size):
                if pos + size > len(data):
                    break
                out.append(float(struct.unpack_from(f, data, pos)[0]))
                pos += size
        else:
            raise Unsupported(f"unpack {template}")
    return tuple(out)


def _unpack_ratio(signed: bool):
    # 'my ($a,$b,$c)=unpack("c3",$val); $c ? $a*($b/$c) : 0' (Nikon's EV-like values)
    def run(v, _st):
        a, b, c = (list(unpack("c3" if signed else "C3", v)) + [0.0, 0.0, 0.0])[:3]
        return a * (b / c) if c else 0.0
    return run


def unix_time(v, *_local) -> str:
    import time

    x = _n(v)
    if not 0 <= x < 253402300800:
        return _s(v)
    return time.strftime("%Y:%m:%d %H:%M:%S", time.gmtime(int(x)))


def nikon_string(v) -> str:
    """Nikon's FormatString: trailing blanks off; in words with a vowel, capitals after the
    first letter lowered ("AUTO" -> "Auto", "RAW" and "AF" kept)."""
    text = _s(v)
    if len(text) > 60:
        return text[:55] + "[...]"
    text = text.rstrip()
    if re.search("[AEIOUY]", text):
        text, n = re.subn(r"\b([AEIOUY])([A-Z]+)", lambda m: m[1] + m[2].lower(), text)
        if n:
            text = re.sub(r"\bAf\b", "AF", text, count=1)
            text = re.sub(r"  +.$", "", text, flags=re.S)
        text, n = re.subn(r"\b([A-Z])([A-Z]*[AEIOUY][A-Z]*)", lambda m: m[1] + m[2].lower(),
                          text)
        if n:
            text = re.sub(r"\bRaw\b", "RAW", text, count=1)
    return text


def _self_timer(v, _st):
    x = int(_n(v))
    if not x:
        return "Off"
    return f"{perl_num((x & 0xFFF) / 10)} s" + (", Custom" if x & 0x4000 else "")


def _dashed_number(v, _st):  # s/(\d+)(\d{4})/$1-$2/ : the last 4 digits after a dash
    return re.sub(r"(\d+)(\d{4})", r"\1-\2", _s(v), count=1)


def _range_m(v, _st):
    # "my @a = split ' ', $val; sprintf('%.2f - %.2f m', ...)": the smaller first (Apple)
    a = [_n(x) for x in _s(v).split()[:2]]
    if len(a) < 2:
        raise Unsupported("range of one value")
    lo, hi = (a[0], a[1]) if a[0] <= a[1] else (a[1], a[0])
    return f"{lo:.2f} - {hi:.2f} m"


def duration(v):
    """ExifTool's ConvertDuration: seconds as "N.NN s" under 30 s, else [D days ]H:MM:SS."""
    text = _s(v)
    if not re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*", text):
        return text
    t = float(text)
    if t == 0:
        return "0 s"
    sign = "-" if t < 0 else ""
    t = abs(t)
    if t < 30:
        return f"{sign}{t:.2f} s"
    t += 0.5
    h = int(t // 3600)
    t -= h * 3600
    m = int(t // 60)
    t -= m * 60
    if h > 24:
        sign, h = f"{sign}{h // 24} days ", h % 24
    return f"{sign}{h}:{m:02d}:{int(t):02d}"


def _with_decimal(v, _st):  # '$val=~/\./ or $val.=".0"; $val'
    text = _s(v)
    return text if "." in text else text + ".0"


def _binary_version(v, _st):  # Nikon: a binary "\0\1\0\0" version -> its digits "0100"
    data = v if isinstance(v, bytes) else _s(v).encode("latin-1")
    return "".join(str(b) for b in data[:4]) if data[:1] and data[0] <= 9 else v


STATEMENTS.update({
    '$_=$val; /^[\\x00-\\x09]/ and $_=join("",unpack("CCCC",$_)); $_': _binary_version,
    '$val=~/\\./ or $val.=".0"; $val': _with_decimal,
    "my @a = split ' ', $val; sprintf('%.2f - %.2f m', $a[0] <= $a[1] ? @a : reverse @a);":
        _range_m,
    'my ($a,$b,$c)=unpack("c3",$val); $c ? $a*($b/$c) : 0': _unpack_ratio(True),
    'my ($a,$b,$c)=unpack("C3",$val); $c ? $a*($b/$c) : 0': _unpack_ratio(False),
    "return 'Off' unless $val; return (($val&0xfff) / 10) . ' s' . ($val & 0x4000 ? "
    "', Custom' : '');": _self_timer,
    "$_=$val,s/(\\d+)(\\d{4})/$1-$2/,$_": _dashed_number,
})


def _flir_time(v, _st):
    # FLIR CameraInfo DateTimeOriginal: Unix time, milliseconds, time zone in minutes
    data = v if isinstance(v, bytes) else _s(v).encode("latin-1")
    if len(data) < 10:
        raise Unsupported("short FLIR time")
    tm, ss = struct.unpack_from("<II" if _st.get("$byte_order") == "<" else ">II", data)
    tz = struct.unpack_from(("<" if _st.get("$byte_order") == "<" else ">") + "h", data, 8)[0]
    return unix_time(tm - tz * 60) + f".{ss & 0xFFFF:03d}" + time_zone(-tz)


def _image_type(name: str):
    """FLIR's GetImageType: PNG, JPG, TIFF (16-bit raw data of width x height), else DAT;
    the data is kept for the image tag that follows."""
    def run(v, st):
        data = v if isinstance(v, bytes) else _s(v).encode("latin-1")
        st[name] = data
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return "PNG"
        if data.startswith(b"\xff\xd8\xff"):
            return "JPG"
        size = _n(st.get(name + "Width")) * _n(st.get(name + "Height")) * 2
        return "TIFF" if len(data) == size and st.get("$byte_order") == "<" else "DAT"
    return run


def _kept_image(name: str):
    def run(_v, st):
        data = st.get(name)
        if not isinstance(data, bytes):
            raise Unsupported("no image data")
        return data
    return run


def _dms(ref: str):
    def run(v, _st):  # GPS::ToDMS($self, $val, 1, REF): the other ref for a negative value
        x = _n(v)
        hemi = ref if x >= 0 else {"N": "S", "E": "W"}[ref]
        return f"{dms_text(abs(x))} {hemi}"
    return run


def _printable_name(v, _st):  # '$val =~ s/\0.*//; $val =~ /^[\x20-\x7e]{3,31}$/ ? ...'
    text = _s(v).split("\0", 1)[0]
    return text if re.fullmatch(r"[\x20-\x7e]{3,31}", text) else None


def _reading(n: int):
    def run(v, st):  # FLIR MeterLink reading: Kelvin to C, or x1000, by its units
        units, what = _n(st.get(f"Reading{n}Units")), _n(st.get(f"Reading{n}Description"))
        if units == 0x0D and what != 11:
            return _n(v) - 273.15
        return _n(v) * 1000 if units == 0x24 else v
    return run


for _name in ("RawThermalImage", "CoarseMapImage", "GainDeadMapImage", "PaintImage"):
    STATEMENTS[f'Image::ExifTool::FLIR::GetImageType($self, $val, "{_name}")'] = \
        _image_type(_name)
    STATEMENTS[f"my $copy = $$self{{{_name}}}; \\$copy"] = _kept_image(_name)
    STATEMENTS[f"my $copy = \\$$self{{{_name}}}; \\$copy"] = _kept_image(_name)
for _n_ in range(1, 5):
    STATEMENTS[f"return $val - 273.15 if $$self{{Reading{_n_}Units}} == 0x0d and "
               f"$$self{{Reading{_n_}Description}} != 11; return $val *= 1000 if "
               f"$$self{{Reading{_n_}Units}} == 0x24; return $val;"] = _reading(_n_)
STATEMENTS.update({
    "my $tm = Get32u(\\$val, 0); my $ss = Get32u(\\$val, 4) & 0xffff; my $tz = "
    "Get16s(\\$val, 8); ConvertUnixTime($tm - $tz * 60) . sprintf('.%.3d', $ss) . "
    "TimeZoneString(-$tz);": _flir_time,
    'join ".", split //, $val': lambda v, _st: ".".join(_s(v)),
    'Image::ExifTool::GPS::ToDMS($self, $val, 1, "N")': _dms("N"),
    'Image::ExifTool::GPS::ToDMS($self, $val, 1, "E")': _dms("E"),
    "$val =~ s/\\0.*//; $val =~ /^[\\x20-\\x7e]{3,31}$/ ? $val : undef;": _printable_name,
})


_MRW_WB = ("Auto", "Daylight", "Cloudy", "Tungsten", "Flash/Fluorescent", "Fluorescent",
           "Shade", "User 1", "User 2", "User 3", "Temperature")


def mrw_wb_mode(v) -> str:
    """MinoltaRaw's ConvertWBMode: the mode in the low 4 bits, a shift (high bits - 8)."""
    n = int(_n(v))
    lo, hi = n & 0x0F, n >> 4
    text = _MRW_WB[lo] if lo < len(_MRW_WB) else f"Unknown ({lo})"
    return text + (f" ({hi - 8})" if 6 <= hi <= 12 else "")


def perl_split(sep, value=None, *_limit) -> tuple:
    """Perl's split: ' ' splits on runs of white space (leading ones dropped), another
    separator is a regex; trailing empty fields are dropped."""
    text = _s(value)
    if _s(sep) == " ":
        return tuple(text.split())
    try:
        parts = re.split(_s(sep), text)
    except re.error:
        raise Unsupported(f"split {sep}") from None
    while parts and parts[-1] == "":
        parts.pop()
    return tuple(parts)


def perl_pack(fmt, *items) -> bytes:
    if _s(fmt) != "C*":
        raise Unsupported(f"pack {fmt}")
    return bytes(int(_n(x)) & 0xFF for x in _flat(items))


def nikon_pc(v, norm=None, fmt=None, div=None) -> str:
    """Nikon's PrintPC (Picture Control adjustments)."""
    x = _n(v)
    special = {0: _s(norm) if norm else "Normal", 0x7F: "n/a", -128: "Auto", -127: "User"}
    if x in special:
        return special[x]
    return _sprintf(fmt or "%+d", x / (_n(div) or 1))


def pentax_ev(v) -> float:
    """Pentax's PentaxEv: eighths of a stop, 3/8 and 5/8 read as thirds."""
    x = _n(v)
    if int(x) & 1:
        sign = -1 if x < 0 else 1
        frac = int(x * sign) & 7
        x += sign * {3: 8 / 3 - 3, 5: 16 / 3 - 5}.get(frac, 0)
    return x / 8


def swap_words(v) -> str:
    """Canon's SwapWords: the 16-bit halves of each 32-bit value swapped."""
    return " ".join(str(((int(_n(x)) >> 16) | (int(_n(x)) << 16)) & 0xFFFFFFFF)
                    for x in _s(v).split())


def _num_text(v) -> str:
    return perl_num(v) if isinstance(v, float) else _s(v)


FUNCTIONS.update({
    "exp": lambda x: math.exp(min(_n(x), 700.0)),
    "log": lambda x: math.log(_n(x)) if _n(x) > 0 else -math.inf,
    "abs": lambda x: abs(_n(x)), "sqrt": lambda x: math.sqrt(max(_n(x), 0.0)),
    "int": lambda x: float(math.trunc(_n(x))) if math.isfinite(_n(x)) else _n(x),
    "sprintf": _sprintf,
    "PrintExposureTime": lambda x: exposure_time(_num_text(x), "", None),
    "PrintFNumber": lambda x: fnumber(_num_text(x), "", None),
    "PrintFraction": lambda x: fraction(_num_text(x), "", None),
    "ConvertDateTime": lambda x: x,
    "CanonEv": canon_ev,
    "CameraISO": canon_iso,
    "DecodeBits": decode_bits,
    "TimeZoneString": time_zone,
    "unpack": unpack,
    "ConvertUnixTime": unix_time,
    "ConvertDuration": duration,
    "join": lambda sep, *items: _s(sep).join(_s(x) for x in _flat(items)),
    "length": lambda x: float(len(x) if isinstance(x, bytes) else len(_s(x))),
    "FormatString": nikon_string,
    "PrintLensInfo": lambda x: lens_info(_num_text(x), "", None),
    "ConvertWBMode": mrw_wb_mode,
    "defined": lambda x=None: x is not None,
    "hex": lambda x: float(int(_s(x), 16)) if re.fullmatch(r"\s*(0x)?[0-9a-fA-F]+\s*", _s(x))
    else 0.0,
    "uc": lambda x: _s(x).upper(),
    "lc": lambda x: _s(x).lower(),
    "PrintPC": nikon_pc,
    "PentaxEv": pentax_ev,
    "SwapWords": swap_words,
    "IsInt": lambda x: bool(re.fullmatch(r"[-+]?\d+", _s(x))),
    "split": perl_split,
    "reverse": lambda *items: tuple(reversed(_flat(items))),
    "pack": perl_pack,
})


def run(code: str | None, value, state: dict):
    """``value`` through one conversion; DROP for undef, the value itself if unknown code."""
    if code is None:
        return value
    fn = compile_code(code)
    if fn is None:
        return value
    try:
        out = fn(value, state)  # type: ignore[operator]
    except CODE_ERRORS:
        return value
    return DROP if out is None else out
