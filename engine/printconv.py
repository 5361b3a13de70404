"""EXIF raw values -> ExifTool's printed text (and, for the common kinds, back).

The pipeline mirrors ExifTool's: ``read_value`` turns the entry bytes into the value ExifTool's
ReadValue gives (numbers as space-separated text, rationals rounded to 10 significant digits,
strings cut at the first NUL, ``undef`` data as bytes); then the tag's conversion steps run.
Steps are named functions; ``CONV`` (data) says which steps each tag uses, as read from
ExifTool's Exif.pm/GPS.pm RawConv/ValueConv/PrintConv code.  Tags whose PrintConv is a plain
hash need no entry: the generated ``VALUES`` table is used (``enum``).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable

from engine.exif.tables import VALUES
from engine.record import FrozenRecord

# ExifTool format name -> (struct code, size); rationals are two of the code.
FORMATS = {
    "int8u": ("B", 1), "int8s": ("b", 1), "int16u": ("H", 2), "int16s": ("h", 2),
    "int32u": ("I", 4), "int32s": ("i", 4), "int64u": ("Q", 8), "int64s": ("q", 8),
    "rational64u": ("I", 8), "rational64s": ("i", 8), "float": ("f", 4), "double": ("d", 8),
    "ifd": ("I", 4), "ifd64": ("Q", 8), "string": ("s", 1), "undef": ("s", 1),
    "binary": ("s", 1),
}
TYPE_FORMAT = {1: "int8u", 2: "string", 3: "int16u", 4: "int32u", 5: "rational64u", 6: "int8s",
               7: "undef", 8: "int16s", 9: "int32s", 10: "rational64s", 11: "float",
               12: "double", 13: "ifd", 16: "int64u", 17: "int64s", 18: "ifd64"}

# Tags that ExifTool reads with a format other than the one in the file (Exif.pm ``Format``).
READ_FORMAT = {
    "ComponentsConfiguration": "int8u", "Copyright": "undef", "UserComment": "undef",
    "XPTitle": "undef", "XPComment": "undef", "XPAuthor": "undef", "XPKeywords": "undef",
    "XPSubject": "undef", "XP_DIP_XML": "undef", "ShutterSpeedValue": "rational64s",
    "ExposureCompensation": "rational64s", "CFAPattern2": "int8u", "GPSDateStamp": "undef",
    "LocalizedCameraModel": "string", "OriginalRawFileName": "string", "RawDataUniqueID": "undef",
    "PreviewSettingsDigest": "undef", "RawImageDigest": "undef", "OriginalRawFileDigest": "undef",
    "NewRawImageDigest": "undef", "CacheVersion": "int8u", "GooglePlusUploadCode": "int8u",
    "ColorMap": "binary", "ProfileName": "string", "ProfileCopyright": "string",
    "AsShotProfileName": "string", "CameraCalibrationSig": "string",
    "ProfileCalibrationSig": "string", "PreviewApplicationName": "string",
    "PreviewApplicationVersion": "string", "PreviewSettingsName": "string",
    "DNGPrivateData": "undef", "SamsungRawByteOrder": "undef", "GeoTiffAsciiParams": "undef",
    "GeoTiffDirectory": "undef", "GeoTiffDoubleParams": "undef", "HasselbladRawImage": "undef",
}

# Tags ExifTool always shows as "(Binary data N bytes)" (``Binary => 1`` in Exif.pm).
BINARY = frozenset(
    "GrayResponseCurve TransferFunction ColorMap JPEGTables WangTag1 WangAnnotation WangTag3 "
    "GeoTiffDirectory GeoTiffDoubleParams GeoTiffAsciiParams Opto-ElectricConvFactor "
    "MakerNoteUnknown MSPropertySetStorage MSDocumentTextPosition ImageSourceData "
    "DeviceSettingDescription HasselbladRawImage Annotations PrintIM LinearizationTable "
    "AsShotICCProfile CurrentICCProfile OpcodeList1 OpcodeList2 OpcodeList3 "
    "ProfileGainTableMap Padding InterColorProfile DNGPrivateData ThumbnailImage "
    "PreviewImage JpgFromRaw OtherImage".split()
)

# Conversion steps per tag (data, from Exif.pm/GPS.pm).  A step is a name or (name, arg).
Step = str | tuple[str, str]
_DATE = ("date",)
_VERSION = ("strip_nul",)
_DOTTED = ("spaces_to_dots",)
_DMS = ("dms",)
_LONGBIN32 = (("long_binary", "32"),)
_LONGBIN64 = (("long_binary", "64"),)
_UCS2 = ("ucs2le",)
_UTF8 = ("utf8",)
_PREFIXED = ("strip_label",)
CONV: dict[str, tuple[Step, ...]] = {
    "Make": ("rstrip",), "Model": ("rstrip",), "Software": ("rstrip",), "Artist": ("rstrip",),
    "SubSecTime": ("rstrip_spaces",), "SubSecTimeOriginal": ("rstrip_spaces",),
    "SubSecTimeDigitized": ("rstrip_spaces",),
    "ModifyDate": _DATE, "DateTimeOriginal": _DATE, "CreateDate": _DATE,
    "PreviewDateTime": _DATE,
    "ExifVersion": _VERSION, "FlashpixVersion": _VERSION, "InteropVersion": _VERSION,
    "ImageNumber": (), "DocumentName": (),
    "DNGVersion": _DOTTED, "DNGBackwardVersion": _DOTTED, "GPSVersionID": _DOTTED,
    "CacheVersion": _DOTTED,
    "Copyright": ("copyright",),
    "ExposureTime": ("exposure_time",),
    "FNumber": ("fnumber",),
    "ShutterSpeedValue": ("apex_shutter", "exposure_time"),
    "ApertureValue": ("apex_aperture", ("sprintf", "%.1f")),
    "MaxApertureValue": ("apex_aperture", ("sprintf", "%.1f")),
    "ExposureCompensation": ("fraction",),
    "SubjectDistance": (("unit", " m"),),
    "GPSAltitude": (("unit", " m"),),
    "GPSHPositioningError": (("suffix", " m"),),
    "FocalLength": (("sprintf", "%.1f mm"),),
    "FocalLengthIn35mmFormat": (("suffix", " mm"),),
    "AmbientTemperature": (("suffix", " C"),),
    "ISO": ("comma_list",),
    "ComponentsConfiguration": ("enum_each",),
    "SampleFormat": ("enum_list",),
    "SubfileType": ("enum_bits",),
    "T4Options": ("bitmask",), "T6Options": ("bitmask",), "CodingMethods": ("bitmask",),
    "TIFF_FXExtensions": ("bitmask",), "MultiProfiles": ("bitmask",), "ImageType": ("bitmask",),
    "ColorSpace": ("enum_hex",), "Flash": ("enum_hex",),
    "UserComment": ("exif_text",), "GPSProcessingMethod": ("exif_text",),
    "GPSAreaInformation": ("exif_text",),
    "XPTitle": _UCS2, "XPComment": _UCS2, "XPAuthor": _UCS2, "XPKeywords": _UCS2,
    "XPSubject": _UCS2, "XP_DIP_XML": _UCS2,
    "LensInfo": ("lens_info",), "DNGLensInfo": ("lens_info",),
    "CFAPattern": ("cfa_pattern",),
    "CFAPlaneColor": ("cfa_colors",),
    "GPSLatitude": _DMS, "GPSLongitude": _DMS, "GPSDestLatitude": _DMS,
    "GPSDestLongitude": _DMS,
    "GPSTimeStamp": ("gps_time",),
    "GPSDateStamp": ("strip_nul", "exif_date"),
    "RawDataUniqueID": ("hex_upper",),
    "PreviewSettingsDigest": ("hex",), "RawImageDigest": ("hex",),
    "OriginalRawFileDigest": ("hex",), "NewRawImageDigest": ("hex",),
    "SpatialFrequencyResponse": ("sfr",),
    "LocalizedCameraModel": _UTF8, "OriginalRawFileName": _UTF8, "ProfileName": _UTF8,
    "ProfileCopyright": _UTF8, "AsShotProfileName": _UTF8, "CameraCalibrationSig": _UTF8,
    "ProfileCalibrationSig": _UTF8, "PreviewApplicationName": _UTF8,
    "PreviewApplicationVersion": _UTF8, "PreviewSettingsName": _UTF8,
    "StripOffsets": _LONGBIN32, "StripByteCounts": _LONGBIN32, "TileOffsets": _LONGBIN32,
    "TileByteCounts": _LONGBIN32, "FreeOffsets": _LONGBIN32, "FreeByteCounts": _LONGBIN32,
    "BlackLevelDeltaH": _LONGBIN64, "BlackLevelDeltaV": _LONGBIN64,
    "ProfileHueSatMapData1": _LONGBIN64, "ProfileHueSatMapData2": _LONGBIN64,
    "ProfileHueSatMapData3": _LONGBIN64, "ProfileToneCurve": _LONGBIN64,
    "ProfileLookTableData": _LONGBIN64, "MakerNoteUnknownText": ("strip_nul", *_LONGBIN64),
    "FrameRate": ("round3",),
    "TStop": ("tstop",),
    "OwnerName": _PREFIXED, "SerialNumber": _PREFIXED, "Lens": _PREFIXED, "RawFile": _PREFIXED,
    "Converter": _PREFIXED, "WhiteBalance": _PREFIXED, "Exposure": _PREFIXED,
    "Shadows": _PREFIXED, "Brightness": _PREFIXED, "Contrast": _PREFIXED,
    "Saturation": _PREFIXED, "Sharpness": _PREFIXED, "Smoothness": _PREFIXED,
    "MoireFilter": _PREFIXED,
}
# PanasonicRaw::Main (IFD0 of RW2/RWL files).
_DIV256 = (("divide", "256"),)
PANASONIC_CONV: dict[str, tuple[Step, ...]] = {
    "RedBalance": _DIV256, "BlueBalance": _DIV256, "HighISOMultiplierRed": _DIV256,
    "HighISOMultiplierGreen": _DIV256, "HighISOMultiplierBlue": _DIV256,
    "Gamma": ("gamma",), "StripOffsets": _LONGBIN32, "StripByteCounts": _LONGBIN32,
    "Make": ("rstrip",), "Model": ("rstrip",), "PanasonicRawVersion": ("strip_nul",),
}
PANASONIC_READ_FORMAT = {"NoiseReductionParams": "int16u"}
# The last four are also standard ExifIFD tags with a hash PrintConv; the label step only
# changes strings of the form "Label: value", so numbers still go through ``enum`` below.

# Bit names of the BITMASK PrintConvs whose listx keys are not bit values (SubfileType).
SUBFILE_BITS = {0: "Reduced resolution", 1: "Single page", 2: "Transparency mask",
                3: "TIFF/IT final page", 4: "TIFF-FX mixed raster content"}
CFA_COLORS = ("Red", "Green", "Blue", "Cyan", "Magenta", "Yellow", "White")


class Binary(FrozenRecord):
    """A value ExifTool shows as "(Binary data N bytes)"."""

    __slots__ = ("size",)
    size: int

    def __init__(self, size: int) -> None:
        self._init(size)


Val = str | bytes | Binary


# -- reading ------------------------------------------------------------------------------


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
        out = []
        for i in range(n):
            num, den = nums[2 * i], nums[2 * i + 1]
            out.append(fmt_g(num / den, 10) if den else ("inf" if num else "undef"))
        return " ".join(out)
    vals = struct.unpack_from(f"{bo}{n}{code}", raw)
    if code in "fd":
        return " ".join(perl_num(v) for v in vals)
    return " ".join(str(v) for v in vals)


def decode_text(b: bytes) -> str:
    """Bytes -> text as ExifTool's JSON shows them (UTF-8, bad bytes as '?')."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("utf-8", errors="replace").replace("\ufffd", "?")


def undef_text(b: bytes) -> str:
    """Undefined-type data shown as text: ExifTool's JSON drops NULs."""
    return decode_text(b.replace(b"\0", b""))


# -- conversion steps ---------------------------------------------------------------------


def is_float(s: str) -> bool:
    return bool(re.fullmatch(r"[+-]?(?=\d|\.\d)\d*(\.\d*)?([Ee][+-]?\d+)?", s.strip()))


def _num(v: Val) -> float | None:
    return float(v) if isinstance(v, str) and is_float(v) else None


def _as_text(v: Val) -> str:
    return undef_text(v) if isinstance(v, bytes) else v if isinstance(v, str) else ""


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
    x = _num(v)
    return perl_num(2 ** -x) if x is not None and abs(x) < 100 else "0"


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
    s = _as_text(v)
    return s if s in ("inf", "undef") else s + arg


def suffix(v: Val, arg: str, _vals: dict | None) -> Val:
    return _as_text(v) + arg


def enum(v: Val, _arg: str, vals: dict | None, *, hexa: bool = False) -> Val:
    if vals is None:
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
    s = _as_text(v)
    if vals and s in vals:
        return vals[s]
    return ", ".join((vals or {}).get(p, f"Unknown ({p})") for p in s.split())


def enum_list(v: Val, _arg: str, vals: dict | None) -> Val:
    # an ARRAY PrintConv: each item converted, joined with "; "
    return "; ".join(str(enum(p, "", vals)) for p in _as_text(v).split())


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
    s = _as_text(v)
    # listx gives BITMASK keys as bit values (1, 2, 4...): turn them back into bit numbers
    names = {int(k).bit_length() - 1: t for k, t in (vals or {}).items() if k.isdigit()}
    return _bits(s, names)


def enum_bits(v: Val, arg: str, vals: dict | None) -> Val:
    s = _as_text(v)
    if vals and s in vals:
        return vals[s]
    return _bits(s, SUBFILE_BITS)


def rstrip(v: Val, _arg: str, _vals: dict | None) -> Val:
    return _as_text(v).rstrip()


def rstrip_spaces(v: Val, _arg: str, _vals: dict | None) -> Val:
    return _as_text(v).rstrip(" ")


def strip_nul(v: Val, _arg: str, _vals: dict | None) -> Val:
    if isinstance(v, bytes):
        return decode_text(v.rstrip(b"\0"))
    return v


def date(v: Val, _arg: str, _vals: dict | None) -> Val:
    return v  # ConvertDateTime is the identity without the DateFormat option


def spaces_to_dots(v: Val, _arg: str, _vals: dict | None) -> Val:
    return _as_text(v).replace(" ", ".")


def copyright_(v: Val, _arg: str, _vals: dict | None) -> Val:
    s = _as_text(v) if isinstance(v, str) else decode_text(v)
    s = re.sub(r" *\0", "\n", s, count=1)
    s = re.sub(r" *\0.*", "", s, flags=re.S)
    return s[:-1] if s.endswith("\n") else s


def comma_list(v: Val, _arg: str, _vals: dict | None) -> Val:
    return re.sub(r"\s+", ", ", _as_text(v))


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
    return _as_text(v)


def lens_info(v: Val, _arg: str, _vals: dict | None) -> Val:
    s = _as_text(v)
    parts = s.split()
    if len(parts) != 4:
        return s
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


def cfa_pattern(v: Val, _arg: str, _vals: dict | None) -> Val:
    """CFAPattern (ExifIFD): 2x int16 repeat size, then colour bytes.  ``_arg`` is bo."""
    b = v if isinstance(v, bytes) else b""
    if len(b) < 4:
        return _as_text(v)
    bo = _arg or "<"
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
    for p in _as_text(v).split():
        i = int(p) if p.isdigit() else -1
        out.append(CFA_COLORS[i] if 0 <= i < len(CFA_COLORS) else f"Unknown({p})")
    return ",".join(out)


def dms(v: Val, _arg: str, _vals: dict | None) -> Val:
    s = _as_text(v)
    deg = to_degrees(s)
    if deg is None:
        return ""
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


def to_degrees(s: str) -> float | None:
    if re.search(r"\b(inf|undef)\b", s):
        return None
    nums = re.findall(r"([+-]?(?=\d|\.\d)\d*(?:\.\d*)?(?:[Ee][+-]\d+)?)", s)
    if not nums:
        return None
    d, m, sec = (float(x) for x in (nums + ["0", "0"])[:3])
    return d + (m + sec / 60) / 60


def gps_time(v: Val, _arg: str, _vals: dict | None) -> Val:
    parts = [perl_number(p) for p in _as_text(v).split()[:3]]
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


def exif_date(v: Val, _arg: str, _vals: dict | None) -> Val:
    s = _as_text(v)
    return re.sub(r"(\d{4})[^\d]*(\d{2})[^\d]*(\d{2})$", r"\1:\2:\3", s)


def hex_(v: Val, _arg: str, _vals: dict | None) -> Val:
    return v.hex() if isinstance(v, bytes) else v


def hex_upper(v: Val, _arg: str, _vals: dict | None) -> Val:
    return v.hex().upper() if isinstance(v, bytes) else v


def sfr(v: Val, arg: str, _vals: dict | None) -> Val:
    b = v if isinstance(v, bytes) else b""
    if len(b) <= 4:
        return _as_text(v)
    bo = arg or "<"
    n, m = struct.unpack_from(bo + "HH", b)
    cols = b[4:].split(b"\0", n)
    pos = len(b) - 8 * n * m
    if len(cols) != n + 1 or pos < 4:
        return _as_text(v)
    out = []
    for i in range(n):
        rows = []
        for j in range(m):
            num, den = struct.unpack_from(bo + "II", b, pos + 8 * (i + j * n))
            rows.append(fmt_g(num / den, 10) if den else ("inf" if num else "undef"))
        out.append(decode_text(cols[i]) + "=" + ",".join(rows))
    return "; ".join(out)


def long_binary(v: Val, arg: str, _vals: dict | None) -> Val:
    s = _as_text(v)
    return Binary(len(s.encode("utf-8"))) if len(s) > int(arg) else s


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
    return "-".join(f"{float(p):.2f}" for p in _as_text(v).split() if is_float(p))


def strip_label(v: Val, _arg: str, vals: dict | None) -> Val:
    s = _as_text(v)
    return re.sub(r"^.*: ", "", s)


STEPS: dict[str, Callable[[Val, str, dict | None], Val]] = {
    "exposure_time": exposure_time, "fnumber": fnumber, "apex_shutter": apex_shutter,
    "apex_aperture": apex_aperture, "sprintf": sprintf, "fraction": fraction, "unit": unit,
    "suffix": suffix, "enum": enum, "enum_hex": enum_hex, "enum_each": enum_each,
    "enum_list": enum_list, "enum_bits": enum_bits, "bitmask": bitmask, "rstrip": rstrip,
    "rstrip_spaces": rstrip_spaces, "strip_nul": strip_nul, "date": date,
    "spaces_to_dots": spaces_to_dots, "copyright": copyright_, "comma_list": comma_list,
    "exif_text": exif_text, "ucs2le": ucs2le, "utf8": utf8, "lens_info": lens_info,
    "cfa_pattern": cfa_pattern, "cfa_colors": cfa_colors, "dms": dms, "gps_time": gps_time,
    "exif_date": exif_date, "hex": hex_, "hex_upper": hex_upper, "sfr": sfr,
    "long_binary": long_binary, "round3": round3, "tstop": tstop, "divide": divide,
    "gamma": gamma, "strip_label": strip_label,
}
# Steps that need the byte order as argument.
_BO_STEPS = frozenset({"cfa_pattern", "sfr"})
# Steps that already apply the value table themselves.
_ENUM_STEPS = frozenset({"enum", "enum_hex", "enum_each", "enum_list", "enum_bits", "bitmask"})


def convert(
    name: str,
    value: str | bytes,
    values_key: str | None,
    bo: str = "<",
    conv: dict[str, tuple[Step, ...]] | None = None,
) -> Val:
    """Run a tag's conversion steps on the value ``read_value`` gave; returns text or Binary.

    ``conv`` replaces ``CONV`` for tables other than Exif::Main/GPS::Main."""
    vals = VALUES.get(values_key) if values_key else None
    if name in BINARY:
        return Binary(len(value) if isinstance(value, bytes) else len(value.encode("utf-8")))
    steps = (CONV if conv is None else conv).get(name, ())
    v: Val = value
    for step in steps:
        sname, arg = (step, "") if isinstance(step, str) else step
        if sname in _BO_STEPS:
            arg = bo
        v = STEPS[sname](v, arg, vals)
        if isinstance(v, Binary):
            return v
    if vals is not None and not any((s if isinstance(s, str) else s[0]) in _ENUM_STEPS
                                    for s in steps):
        v = enum(v, "", vals)
    if isinstance(v, bytes):
        v = undef_text(v)
    return v


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
