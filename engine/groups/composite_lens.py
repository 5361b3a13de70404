"""Nikon's lens composites (Nikon.pm ``Composite``: LensID from the 8 raw lens bytes looked
up in ``%nikonLensIDs``, LensSpec from Lens and LensType) and the raw values they need.

The maker-note tags arrive printed; a composite built on their raw values recovers them
from the printed text and the tag's conversion (``raw_candidates``: every raw value the
conversion prints as that text; a lookup tries each).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable

from engine.groups.common import tag

PART, GROUP = "composite", "Composite"

# Nikon LensType bits (Nikon.pm LensType PrintConv, DecodeBits)
NIKON_LENS_BITS = {0: "MF", 1: "D", 2: "G", 3: "VR", 4: "1", 5: "FT-1", 6: "E", 7: "AF-P"}


def _fixed(fmt: str, conv: Callable[[int], float]) -> Callable[[int], str]:
    return lambda r: fmt.format(conv(r))


# The 8 inputs of Nikon's LensID, in key order: (name, print of raw value r) (Nikon.pm
# LensData tables: ValueConv then PrintConv)
NIKON_LENS_INPUTS: tuple[tuple[str, Callable[[int], str]], ...] = (
    ("LensIDNumber", str),
    ("LensFStops", _fixed("{:.2f}", lambda r: r / 12)),
    ("MinFocalLength", _fixed("{:.1f} mm", lambda r: 5 * 2 ** (r / 24))),
    ("MaxFocalLength", _fixed("{:.1f} mm", lambda r: 5 * 2 ** (r / 24))),
    ("MaxApertureAtMinFocal", _fixed("{:.1f}", lambda r: 2 ** (r / 24))),
    ("MaxApertureAtMaxFocal", _fixed("{:.1f}", lambda r: 2 ** (r / 24))),
    ("MCUVersion", str),
    ("LensType", lambda r: nikon_lens_type(r)),
)
# Nikon FocusDistance (LensData): 0.01 * 10**(raw/40) m, printed "%.2f m"
NIKON_FOCUS_DISTANCE = _fixed("{:.2f} m", lambda r: 0.01 * 10 ** (r / 40))


def raw_candidates(printed: str, show: Callable[[int], str], lo: int = 0,
                   hi: int = 255) -> list[int]:
    """The raw values ``lo..hi`` that ``show`` prints as ``printed`` (the raw number itself
    when the text is one: a tag the maker-note decoder leaves unconverted)."""
    out = [r for r in range(lo, hi + 1) if show(r) == printed]
    if not out and printed.isdigit() and lo <= int(printed) <= hi:
        out = [int(printed)]
    return out


def nikon_lens_type(raw: int) -> str:
    """Nikon LensType as ExifTool prints it (the bits' names, "D G" as "G", "E" and "1"
    first, "FT-1" last)."""
    if not raw:
        return "AF"
    text = " ".join(NIKON_LENS_BITS[i] for i in range(8) if raw & (1 << i))
    text = re.sub(r"\bD G\b", "G", text, count=1)
    text, n = re.subn(r" E\b", "", text, count=1)
    if n:
        text = re.sub(r"^(G )?", "E ", text, count=1)
    text, n = re.subn(" 1", "", text, count=1)
    if n:
        text = "1 " + text
    text, n = re.subn("FT-1 ", "", text, count=1)
    return text + " FT-1" if n else text


def nikon(md, name: str) -> str | None:
    from engine.groups.composite_canon import maker

    return maker(md, name, "Nikon")


def nikon_lens_id(md) -> list:
    """Composite LensID of a Nikon lens (None of it without all 8 inputs)."""
    from engine.groups.lens_tables import NIKON_LENS_IDS

    choices = []
    for name, show in NIKON_LENS_INPUTS:
        printed = nikon(md, name)
        found = raw_candidates(printed, show) if printed is not None else []
        if not found:
            return []
        choices.append(found)
    keys = [" ".join(f"{r:02X}" for r in combo)
            for combo in itertools.islice(itertools.product(*choices), 256)]
    key = next((k for k in keys if k in NIKON_LENS_IDS), keys[0])
    lens = NIKON_LENS_IDS.get(key) or lens_id_other(key, NIKON_LENS_IDS)
    from engine.groups.composite import shown

    return [tag(PART, GROUP, "LensID", shown(lens or key, key))]


def lens_id_other(key: str, table: dict[str, str]) -> str | None:
    """Nikon.pm LensIDConv: a key the list lacks, matched ignoring LensIDNumber and
    LensFStops and the high bits of LensType."""
    if f"{key}.1" in table:
        return " or ".join(table[f"{key}.{i}"] for i in itertools.takewhile(
            lambda i: f"{key}.{i}" in table, itertools.count(1)))
    parts = key.split()

    def like(k: str, ignore: tuple[int, ...], low_type: bool) -> bool:
        other = k.split()
        return len(other) == 8 and all(
            i in ignore or a == b or (low_type and i == 7 and a[1:] == b[1:])
            for i, (a, b) in enumerate(zip(parts, other, strict=True)))

    ids = sorted(k for k in table if like(k, (0, 1), True))
    if not ids:
        return None
    for ignore, low, sure in (((1,), False, True), ((0,), False, False), ((), True, False)):
        good = [k for k in ids if like(k, ignore, low)]
        if good:
            return table[good[0]] if sure else f"Unknown ({key}) {table[good[0]]} ?"
    return None


def nikon_lens_spec(md) -> list:
    """Nikon Lens and LensType printed side by side (Nikon.pm LensSpec)."""
    lens, kind = nikon(md, "Lens"), nikon(md, "LensType")
    if kind is not None and kind.isdigit() and int(kind) < 256:
        kind = nikon_lens_type(int(kind))  # left unconverted by the maker-note decoder
    return [tag(PART, GROUP, "LensSpec", f"{lens} {kind}")] if lens and kind else []


def nikon_focus_distance(printed: str | None) -> float | None:
    """The unrounded Nikon FocusDistance (m) a printed one stands for."""
    if printed is None:
        return None
    found = raw_candidates(printed, NIKON_FOCUS_DISTANCE)
    return 0.01 * 10 ** (found[0] / 40) if len(found) == 1 else None


def finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None
