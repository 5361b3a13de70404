"""XMP values -> ExifTool's printed text: the type conversions of XMP.pm (rationals, dates),
the conversions the tables name (shared with EXIF in engine.printconv, plus the XMP-only ones
below), then the value map.  Pure: no XML here (engine.xmp.decode walks the packet).
"""

from __future__ import annotations

import re

from engine.printconv import CONVERSIONS as SHARED
from engine.printconv import (
    Conversion,
    Val,
    as_text,
    dms_text,
    rational_text,
    to_degrees,
    unconverted,
)
from engine.xmp import tables as T
from engine.xmp.values import xmp_date

_BOOL_MAP = {"False": "False", "True": "True"}


def _coordinate(v: Val, ref: str, _vals: dict | None) -> Val:
    """A GPS coordinate (``37,46.494N``): degrees, minutes, seconds and its letter."""
    val = as_text(v)
    deg = to_degrees(val)
    if deg is None:
        return ""
    if re.search(r"[^A-Z](S(outh)?|W(est)?)\s*$", val, re.I):
        deg = -deg
    if deg < 0:
        ref = {"N": "S", "E": "W"}[ref]
    return f"{dms_text(deg)} {ref}"


# ExifTool's /\s*(\d+):\s*(\d+):\s*(\d+):\s*(\S*)/, found at the same place in linear time: a
# match never starts inside a run of spaces or of digits (the run's start would match too),
# and possessive runs do not backtrack.
_PM_PREFS = re.compile(r"(?<!\s)\s*+(?<!\d)(\d++):\s*+(\d++):\s*+(\d++):\s*+(\S*+)")


def _pm_prefs(v: Val, _arg: str, _vals: dict | None) -> Val:
    return _PM_PREFS.sub(r"Tagged:\1, ColorClass:\2, Rating:\3, FrameNum:\4", as_text(v),
                         count=1)


def _exif_time(v: Val, _arg: str, _vals: dict | None) -> Val:
    val = as_text(v).replace(" ", ":")
    val = re.sub(r"^(\d{2})(\d{2})(\d{2})", r"\1:\2:\3", val)
    return re.sub(r"([+-]\d{2})(\d{2})\s*$", r"\1:\2", val)


def _plus_vocab(v: Val, _arg: str, _vals: dict | None) -> Val:
    return as_text(v).replace("http://ns.useplus.org/ldf/vocab/", "", 1)


# The conversions scripts/gen_xmp_tags.py names in engine.xmp.tables.
CONVERSIONS: dict[str, Conversion] = {**SHARED, **{c.name: c for c in (
    Conversion("lat", [(_coordinate, "N")]),
    Conversion("lon", [(_coordinate, "E")]),
    Conversion("join", []),
    Conversion("join_lens_info", SHARED["lens_info"].steps, SHARED["lens_info"].parse,
               SHARED["lens_info"].form),
    Conversion("pmprefs", [_pm_prefs]),
    Conversion("exiftime", [_exif_time]),
    Conversion("plusvocab", [_plus_vocab]),
)}}
# Conversions of ExifTool's RawJoin: a list's items joined with spaces, then converted.
RAW_JOIN = frozenset({"join", "join_lens_info"})


def conversion_of(entry: tuple | None) -> Conversion | None:
    """The conversion a table entry names (None: none)."""
    return CONVERSIONS[entry[3]] if entry is not None and len(entry) > 3 else None


def _convert(val: str, entry: tuple | None) -> str:
    if entry is None:  # unknown tag: ExifTool's XMPAutoConv
        r = rational_text(val)
        return r if r is not None else xmp_date(val, unsure=True)
    code = entry[1]
    if code[0] == "q":
        r = rational_text(val)
        if r is not None:
            val = r
    elif code[0] == "d":
        val = xmp_date(val)
    conv = conversion_of(entry)
    if conv is not None:
        val = str(conv.show(val))
    if entry[2] >= 0 and not unconverted():  # -n: the stored value, not its name
        vm = T.MAPS[entry[2]]
        if vm == _BOOL_MAP:
            return {"false": "False", "true": "True"}.get(val.lower(), val)
        return vm.get(val, f"Unknown ({val})")
    return val


def printed(items: list[str], entry: tuple | None, is_list: bool) -> str | list[str]:
    """What the reader shows for the stored ``items`` of a property whose table entry is
    ``entry`` (None: unknown), a list or one value (the writer checks what it wrote)."""
    conv = entry[3] if entry is not None and len(entry) > 3 else None
    if conv in RAW_JOIN:  # ExifTool's RawJoin: one string, then convert
        items, is_list = [" ".join(items)], False
    values = [_convert(v, entry) for v in items]
    return values if is_list else values[0]
