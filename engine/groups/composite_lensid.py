"""LensID from a maker note's LensType (Exif.pm ``LensID`` and ``PrintLensID``, Canon.pm
``PrintLensID``/``LensWithTC``) and from Adobe's numeric XMP-aux:LensID (XMP.pm).

A LensType value map lists every lens of one value ("N" and its alternatives "N.1",
"N.2"...); ExifTool picks among them by the focal range, the maximum aperture and LensModel.
The maps are the maker-note tables' (engine.makernotes.tables); the raw LensType is the key
its printed value comes from.
"""

from __future__ import annotations

import itertools
import re

_LENS = re.compile(r"(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?\s*mm.*?(?:[fF]/?\s*)(\d+(?:\.\d+)?)"
                   r"(?:-(\d+(?:\.\d+)?))?")
_CANON_LENS = re.compile(r"(\d+)(?:-(\d+))?mm.*?(?:[fF]/?)(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?")
_TC = re.compile(r" \+ .*?(\d+(?:\.\d+)?)x( |$)")
_maps: dict[tuple[str, str], list[dict]] = {}


def lens_maps(group: str, name: str = "LensType") -> list[dict]:
    """The value maps of the maker-note tags ``name`` of family-1 ``group``."""
    key = (group, name)
    if key not in _maps:
        from engine.makernotes.tables import MAPS, TABLES

        found: list[dict] = []
        for g, _kind, _fmt, _first, tags, _subs, _print in TABLES.values():
            if g != group:
                continue
            for variants in tags.values():
                for v in variants:
                    if v[0] == name and isinstance(v[3], int) and MAPS[v[3]] not in found:
                        found.append(MAPS[v[3]])
        _maps[key] = found
    return _maps[key]


def raw_key(printed: str, maps: list[dict]) -> tuple[str, dict] | None:
    """(raw value, its map) of a printed LensType."""
    m = re.fullmatch(r"Unknown \((.*)\)", printed)
    for vmap in maps:
        if m and m.group(1) not in vmap:
            return m.group(1), vmap
        key = next((k for k, v in vmap.items() if v == printed and "." not in k), None)
        if key is not None:
            return key, vmap
    return None


def alternatives(conv: dict, key: str) -> list[str]:
    """The lenses of ``key``: its own (up to " or ") and "key.1", "key.2"..."""
    first = re.sub(r" or .*", "", conv[key], flags=re.S)
    return [first] + [conv[f"{key}.{i}"] for i in itertools.takewhile(
        lambda i: f"{key}.{i}" in conv, itertools.count(1))]


def lens_info(text: str | None) -> tuple[float, float, float, float] | None:
    """(short focal, long focal, aperture at short, at long) named in a lens's text
    (Exif.pm GetLensInfo)."""
    m = _LENS.search(text or "")
    if m is None:
        return None
    sf, lf, sa, la = m.groups()
    return float(sf), float(lf or sf), float(sa), float(la or sa)


def match_lens_model(lenses: list[str], model: str | None) -> list[str]:
    """Exif.pm MatchLensModel: narrow several lenses by what LensModel names."""
    if len(lenses) < 2 or not model:
        return lenses
    tests = []
    m = re.search(r"((\d+-)?\d+mm)", model)
    if m:
        tests.append(re.escape(m.group(1)))
    m = re.search(r"(?:F/?|1:)(\d+(\.\d+)?)", model, re.I)
    if m:
        tests.append(r"(?i)(F/?|1:)" + re.escape(m.group(1)) + r"(\b|[A-Z])")
    for pat in (r"I+", "USM"):
        m = re.search(rf"\b({pat})\b", model)
        if m:
            tests.append(rf"\b{m.group(1)}\b")
    for test in tests:
        kept = [x for x in lenses if re.search(test, x)]
        if kept and len(kept) < len(lenses):
            lenses = kept
        if len(lenses) < 2:
            break
    return lenses


def lens_with_tc(lens: str, short: float) -> str:
    """Canon.pm LensWithTC: the teleconverter a short focal length implies."""
    m = re.search(r"(\d+)", lens)
    if lens.endswith("x") or m is None:
        return lens
    for tc in (1, 1.4, 2, 2.8):
        if abs(short - int(m.group(1)) * tc) <= 0.9:
            return lens if tc == 1 else f"{lens} + {tc:g}x"
    return lens


def canon_print_lens_id(conv: dict, lens_type: str, short: float, long: float,
                        max_ap: float | None, lens_model: str | None, canon: bool) -> str:
    """Canon.pm PrintLensID: the lenses of a LensType whose focal range (with a 1.4x, 2x
    or 2.8x teleconverter) and aperture fit, else LensModel, else "Unknown"."""
    if lens_type not in ("-1", "65535") and conv.get(lens_type):
        if f"{lens_type}.1" not in conv:
            return lens_with_tc(conv[lens_type], short)
        matches = _canon_matches(alternatives(conv, lens_type), short, long, max_ap)
        if len(matches) > 1 and lens_model and (kind := re.search(r"(\| [ACS])", lens_model)):
            matches = [x for x in matches if kind.group(1) in x] or matches
        matches = match_lens_model(matches, lens_model)
        if matches:
            return " or ".join(matches)
    elif lens_model and re.search(r"\d", lens_model):
        return f"Canon {lens_model}" if canon else lens_model
    focal = ""
    if short:
        focal = f" {int(short)}" + (f"-{int(long)}" if long and long != short else "") + "mm"
    if lens_type in ("-1", "65535"):
        return f"Unknown{focal}"
    return f"Unknown ({lens_type}){focal}"


def _canon_matches(lenses: list[str], short: float, long: float,
                   max_ap: float | None) -> list[str]:
    maybe: list[str] = []
    likely: list[str] = []
    matches: list[str] = []
    for tc in (1, 1.4, 2, 2.8):
        for lens in lenses:
            m = _CANON_LENS.search(lens)
            if m is None:
                continue
            sf, lf = float(m.group(1)), float(m.group(2) or m.group(1))
            sa, la = float(m.group(3)), float(m.group(4) or m.group(3))
            conv = re.search(r" \+ (\d+(\.\d+)?)x$", lens)
            if conv:
                k = float(conv.group(1))
                sf, lf, sa, la = sf * k, lf * k, sa * k, la * k
            if abs(short - sf * tc) > 0.9:
                continue
            named = lens + (f" + {tc:g}x" if tc > 1 else "")
            maybe.append(named)
            if abs(long - lf * tc) > 0.9:
                continue
            likely.append(named)
            if max_ap and not sa * tc - 0.18 <= max_ap <= la * tc + 0.18:
                continue
            matches.append(named)
        if maybe:
            break
    return matches or likely or maybe


def print_lens_id(make: str, type_text: str, conv: dict | None, spec_text: str | None,
                  lens_type: str, v: dict) -> str | None:
    """Exif.pm PrintLensID.  ``v``: FocalLength, MaxAperture, MaxApertureValue,
    MinFocalLength, MaxFocalLength (numbers), LensModel, LensFocalRange (texts), Canon (the
    map is Canon's lens list)."""
    if conv is None:  # a lens name, not a value of a map (Olympus, Panasonic)
        if "mm" in type_text:
            return type_text
        named, n = re.subn(r"(\d)/F", r"\1mm F", type_text, count=1)
        return named if n else None
    spec = lens_info(spec_text) if spec_text else None
    spec = spec if spec and spec[2] else None
    max_ap = v.get("MaxAperture") or v.get("MaxApertureValue")
    short, long = v.get("MinFocalLength"), v.get("MaxFocalLength")
    model = v.get("LensModel")
    m = re.fullmatch(r"(\d+)(?: (?:to )?(\d+))?", v.get("LensFocalRange") or "")
    if m:
        short, long = float(m.group(1)), float(m.group(2) or m.group(1))
    if make != "SONY" and short and long and not (model and re.match(r"TAMRON.*-\d+mm", model)):
        return canon_print_lens_id(conv, lens_type, short, long, max_ap, model,
                                   bool(v.get("Canon")))
    lens = conv.get(lens_type)
    if not lens:
        return model or type_text
    if f"{lens_type}.1" not in conv:
        return lens
    best, matches = _best_lenses(alternatives(conv, lens_type), spec, spec_text,
                                 v.get("FocalLength"), max_ap)
    best = best or matches
    if best:
        return " or ".join(match_lens_model(best, model))
    return model if model and " or " in lens else lens


def _best_lenses(lenses: list[str], spec, spec_text: str | None, focal: float | None,
                 max_ap: float | None) -> tuple[list[str], list[str]]:
    best: list[str] = []
    matches: list[str] = []
    diff = None
    for lens in lenses:
        info = lens_info(lens)
        if info is None:
            continue
        sf, lf, sa, la = info
        if spec:
            if abs(sf - spec[0]) > 0.5 or abs(sa - spec[2]) > 0.15 or \
                    abs(lf - spec[1]) > 0.5 or abs(la - spec[3]) > 0.15:
                continue
            if re.search(rf" {re.escape(spec_text or '')}( \(| GM$|$)", lens):
                return [lens], matches
            if not lens.startswith("Sony "):
                best.append(lens)
            continue
        tc = _TC.search(lens)
        if tc:
            k = float(tc.group(1))
            sf, lf, sa, la = sf * k, lf * k, sa * k, la * k
        if focal and not sf - 0.5 <= focal <= lf + 0.5:
            continue
        if max_ap:
            if not sa - 0.15 <= max_ap <= la + 0.15:
                continue
            aa = _aperture_at(focal or 0, sf, lf, sa, la)
            d = abs(max_ap - aa)
            if diff is not None:
                if d > diff + 0.15:
                    continue
                if d < diff - 0.15:
                    best = []
            diff = d
            best.append(lens)
        matches.append(lens)
    return best, matches


def _aperture_at(focal: float, sf: float, lf: float, sa: float, la: float) -> float:
    import math

    if sf == lf or sa == la or focal <= sf:
        return sa
    if focal >= lf:
        return la
    return math.exp(math.log(sa) + (math.log(la) - math.log(sa)) / (math.log(lf) - math.log(sf))
                    * (math.log(focal) - math.log(sf)))


def exif_lens_id(inp) -> str | None:
    """Exif.pm's LensID composite from the maker notes' LensType (None: no LensType, or one
    whose raw value cannot be had)."""
    type_text, group = inp.text("LensType"), inp.groups.get("LensType", "")
    if type_text is None or group.startswith("XMP"):
        return None
    maps = lens_maps(group)
    found = raw_key(type_text, maps) if maps else None
    if maps and found is None:
        return None
    lens_type, conv = found if found else (type_text, None)
    for name, test in (("LensType2", _sony_e), ("RFLensType", _nonzero)):
        text = inp.text(name)
        alt = raw_key(text, lens_maps(inp.groups.get(name, ""), name)) if text else None
        if alt is not None and test(alt[0]):
            (lens_type, conv), type_text = alt, text
    v = {name: inp.number(name) for name in ("FocalLength", "MaxAperture", "MaxApertureValue",
                                              "MinFocalLength", "MaxFocalLength")}
    v.update(LensModel=inp.text("LensModel"), LensFocalRange=inp.text("LensFocalRange"),
             Canon=group == "Canon")
    lens = print_lens_id(inp.text("Make") or "", type_text, conv, inp.text("LensSpec"),
                         lens_type, v)
    lens_focal, focal = inp.number("LensFocalLength"), v["FocalLength"]
    if lens and lens_focal and focal and focal / lens_focal > 1.1:  # a converter (Pentax)
        lens += f" + {focal / lens_focal:.1f}x converter"
    return lens


def _sony_e(raw: str) -> bool:
    return raw.isdigit() and (int(raw) & 0x8000 != 0 or int(raw) == 0)


def _nonzero(raw: str) -> bool:
    return raw not in ("0", "")


# XMP.pm PrintLensID: the maker whose lens list names Adobe's numeric XMP-aux:LensID
# (Make pattern -> the maker-note group whose LensType map is that list)
XMP_LENS_MAKERS = (("CANON", "Canon"), ("NIKON", "Nikon"), ("PENTAX", "Pentax"),
                   ("RICOH", "Pentax"), ("SONY", "Sony"), ("SIGMA", "Sigma"),
                   ("SAMSUNG", "Samsung"))


def xmp_lens_id(inp, lens_id: str, make: str) -> str:
    """XMP.pm's LensID composite: XMP-aux:LensID named from the maker's lens list."""
    group = next((g for pat, g in XMP_LENS_MAKERS if pat in make.upper()), None)
    if group is None:
        return f"Unknown ({lens_id})"
    if group == "Nikon":
        conv, lens_id = _nikon_xmp(lens_id)
    else:
        maps = lens_maps(group)
        if not maps:
            return f"Unknown ({lens_id})"
        conv = maps[0]
        if group == "Pentax" and lens_id.isdigit():
            lens_id = f"{int(lens_id) >> 8 & 0xFF} {int(lens_id) & 0xFF}"
    info = _lens_info_text(inp.text("LensInfo"))
    sf, lf, sa, _la = info if info else (None, None, None, None)
    max_av = inp.number("MaxApertureValue")
    if max_av and group != "Sony":
        sa = None
    v = {"FocalLength": inp.number("FocalLength"), "MaxAperture": sa,
         "MaxApertureValue": max_av, "MinFocalLength": sf, "MaxFocalLength": lf,
         "LensModel": inp.text("LensModel"), "Canon": group == "Canon"}
    text = conv.get(lens_id) or f"Unknown ({lens_id})"
    return print_lens_id(make, text, conv, None, lens_id, v) or text


def _nikon_xmp(number: str) -> tuple[dict, str]:
    """Adobe keeps only the first bytes of Nikon's 8-byte LensID: every lens whose key
    starts with them (XMP.pm)."""
    from engine.groups.lens_tables import NIKON_LENS_IDS

    try:
        value = int(number) & 0xFFFFFFFFFFFFFFFF
    except ValueError:
        return {}, number
    digits = f"{value:X}"
    digits = "0" * (len(digits) & 1) + digits
    key = " ".join(digits[i:i + 2] for i in range(0, len(digits), 2))
    conv: dict[str, str] = {}
    for k in sorted(NIKON_LENS_IDS):
        lens = NIKON_LENS_IDS[k]
        if k.startswith(key) and lens not in conv.values():
            conv[f"{key}.{len(conv)}" if conv else key] = lens
    return conv, key


def _lens_info_text(text: str | None) -> tuple | None:
    """(short, long, aperture at short, at long) of a printed LensInfo ("70-200mm f/?")."""
    m = re.match(r"([\d.]+)(?:-([\d.]+))?mm f/([\d.]+|\?)(?:-([\d.]+|\?))?", text or "")
    if m is None:
        return None

    def number(s: str | None) -> float | None:
        return float(s) if s and s != "?" else None

    sf, lf = number(m.group(1)), number(m.group(2) or m.group(1))
    sa = number(m.group(3))
    return sf, lf, sa, number(m.group(4)) if m.group(4) else sa


def exif_lens_type(inp) -> str | None:
    """The raw LensType the LensID composite names (its ``-n`` value)."""
    text, group = inp.text("LensType"), inp.groups.get("LensType", "")
    found = raw_key(text, lens_maps(group)) if text else None
    return found[0] if found else None
