"""XMP value forms shared by the lxml edit (engine.xmp.paths), the reader's printing
(engine.xmp.printing) and the linear edit (engine.xmp.quick): dates both ways and the
characters XML cannot hold.  No tables, no lxml: the linear edit must stay light."""

from __future__ import annotations

import re

from engine.errors import TagValueError

# compiled at first use (re's cache): a write of Artist needs no date
_DATE = r"^(\d{4})[:-](\d\d)[:-](\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d(?:\.\d+)?))?)?(.*)$"
# Characters XML 1.0 cannot hold (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF):
# lxml raises ValueError on them, which must not escape as anything but a TagValueError.
NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def to_xmp_date(text: str) -> str:
    """ExifTool's printed date (``2020:01:01 10:00:00+02:00``) or ISO 8601 -> XMP form."""
    m = re.match(_DATE, text.strip())
    if not m:
        raise TagValueError(f"{text!r} is not a date; use YYYY:MM:DD HH:MM:SS or ISO 8601")
    y, mo, d, h, mi, s, rest = m.groups()
    out = f"{y}-{mo}-{d}"
    if h is not None:
        out += f"T{h}:{mi}" + (f":{s}" if s else "")
    rest = rest.strip()
    if rest and not re.fullmatch(r"Z|[+-]\d\d:?\d\d", rest):
        raise TagValueError(f"{text!r} has an unreadable time zone {rest!r}")
    return out + rest


def xmp_date(val: str, unsure: bool = False) -> str:
    """An XMP date as ExifTool prints it (``2020:01:01 10:00:00+02:00``)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}:\d{2})(:\d{2})?\s*(\S*)", val, re.S)
    if m:
        return f"{m[1]}:{m[2]}:{m[3]} {m[4]}{m[5] or ''}{m[6]}"
    if not unsure and re.match(r"\d{4}(-\d{2}){0,2}", val):
        return val.replace("-", ":")
    return val


def check_xml_text(tag: str, items: list[str]) -> None:
    for v in items:
        bad = NOT_XML.search(v)
        if bad:
            raise TagValueError(f"character U+{ord(bad.group()):04X} cannot be stored in XMP",
                                tag=f"xmp/{tag}")
