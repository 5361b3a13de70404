"""Composite tags computed from Canon maker notes (Canon.pm ``Composite``), and the white
balance ratios of any maker (Exif.pm RedBalance/BlueBalance).  The inputs are the maker-note
tags as printed; the raw value each formula tests is recovered from its printed form."""

from __future__ import annotations

import re

from engine.groups.common import num, tag

PART, GROUP = "composite", "Composite"
# Canon:WhiteBalance (printed) -> the WB_RGGBLevels<X> tag ExifTool takes (index value + 2)
WB_LEVELS = {"Auto": "Auto", "Daylight": "Daylight", "Cloudy": "Cloudy",
             "Tungsten": "Tungsten", "Fluorescent": "Fluorescent", "Flash": "Flash",
             "Custom": "Custom", "Shade": "Shade", "Manual Temperature (Kelvin)": "Kelvin"}
# (levels tag, [R, G, G, B] indexes) in ExifTool's order (Exif.pm @rggbLookup)
RGGB = (("WB_RGGBLevels", (0, 1, 2, 3)), ("WB_RGBGLevels", (0, 1, 3, 2)),
        ("WB_RBGGLevels", (0, 2, 3, 1)), ("WB_GRBGLevels", (1, 0, 3, 2)),
        ("WB_GRGBLevels", (1, 0, 2, 3)), ("WB_GBRGLevels", (2, 3, 0, 1)),
        ("WB_RGBLevels", (0, 1, 1, 2)), ("WB_GRBLevels", (1, 0, 0, 2)),
        ("WB_RBLevels", (0, 256, 256, 1)))
RED_EYE = ("Red-eye reduction", "Slow-sync", "Red-eye reduction (On)")  # values 3, 4, 6


_index: tuple[dict | None, dict] = (None, {})


def maker(md, name: str, group: str) -> str | None:
    """The first maker-note tag ``name`` of family-1 group ``group``* (printed)."""
    global _index
    tags, index = _index
    if tags is not md.tags:  # one index per Metadata, built at its first question
        index = {}
        for path, t in md.tags.items():
            if path.startswith("makernotes/"):
                index.setdefault((t.name, t.group), t.value)
        _index = (md.tags, index)
    for (tname, tgroup), value in index.items():
        if tname == name and tgroup.startswith(group):
            return value if isinstance(value, str) else " ".join(value)
    return None


def forget_index() -> None:
    global _index
    _index = (None, {})


def canon(md, name: str) -> str | None:
    """The first Canon maker-note tag ``name`` (printed)."""
    return maker(md, name, "Canon")


def focal_range(short: float, long: float, scale: float = 1) -> str:
    if short == long:
        return f"{short * scale:.1f} mm"
    return f"{short * scale:.1f} - {long * scale:.1f} mm"


def number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


def canon_composites(md, scale: float | None) -> list:
    out = []
    cont, timer = canon(md, "ContinuousDrive"), canon(md, "SelfTimer")
    if cont is not None and timer is not None:
        mode = ("Continuous Shooting" if cont != "Single" else
                "Self-timer Operation" if timer not in ("Off", "0") else "Single-frame Shooting")
        out.append(tag(PART, GROUP, "DriveMode", mode))
    lo, hi = number(canon(md, "MinFocalLength")), number(canon(md, "MaxFocalLength"))
    if lo is not None and hi is not None:
        lens = focal_range(lo, hi)
        out.append(tag(PART, GROUP, "Lens", lens))
        if scale:
            lens += f" (35 mm equivalent: {focal_range(lo, hi, scale)})"
        out.append(tag(PART, GROUP, "Lens35efl", lens))
    out += shooting_mode(md) + flash(md) + iso(md)
    return out


def shooting_mode(md) -> list:
    exp, easy = canon(md, "CanonExposureMode"), canon(md, "EasyMode")
    if exp is None or easy is None:
        return []
    if exp == "Easy":
        return [tag(PART, GROUP, "ShootingMode", easy)]
    bulb = number(canon(md, "BulbDuration"))
    return [tag(PART, GROUP, "ShootingMode", "Bulb" if exp == "Manual" and bulb else exp)]


def flash(md) -> list:
    bits = canon(md, "FlashBits")
    if bits is None or bits in ("(none)", "0"):
        return []
    out = [tag(PART, GROUP, "FlashType", "External" if "External" in bits else "Built-In Flash")]
    mode = canon(md, "CanonFlashMode")
    if mode is not None:
        out.append(tag(PART, GROUP, "RedEyeReduction", "On" if mode in RED_EYE else "Off"))
    fec = canon(md, "FlashExposureComp")
    if fec is not None:
        out.append(tag(PART, GROUP, "ConditionalFEC", fec))
    sync = canon(md, "ShutterCurtainSync")
    out.append(tag(PART, GROUP, "ShutterCurtainHack", sync or "1st-curtain sync"))
    return out


def iso(md) -> list:
    cam = canon(md, "CameraISO")
    if cam is not None and cam.isdigit() and cam != "0":
        return [tag(PART, GROUP, "ISO", cam)]
    base, auto = number(canon(md, "BaseISO")), number(canon(md, "AutoISO"))
    if not base or not auto:
        return []
    return [tag(PART, GROUP, "ISO", f"{base * auto / 100:.0f}")]


def wb_levels(md) -> str | None:
    """Canon's WB_RGGBLevels composite: the as-shot levels, else those of the white balance
    setting."""
    wb = canon(md, "WhiteBalance")
    if wb is None:
        return None
    shot = canon(md, "WB_RGGBLevelsAsShot")
    if shot:
        return shot
    which = WB_LEVELS.get(wb)
    return canon(md, f"WB_RGGBLevels{which}") if which else None


def balances(inp, levels_composite: str | None) -> list:
    """RedBalance and BlueBalance from the first white-balance levels tag found."""
    out = []
    for blue, name in ((0, "RedBalance"), (1, "BlueBalance")):
        v = red_blue(inp, levels_composite, blue)
        if v is not None:
            out.append(tag(PART, GROUP, name, num(int(v * 1e6 + 0.5) * 1e-6)))
    return out


def red_blue(inp, levels_composite: str | None, blue: int) -> float | None:
    for name, idx in RGGB:
        text = levels_composite if name == "WB_RGGBLevels" and levels_composite else inp.text(name)
        if not text:
            continue
        try:
            levels = [float(x) for x in text.split()]
        except ValueError:
            continue
        if len(levels) < 2:
            continue
        levels += [0.0] * 4  # a missing level counts as 0, as in Perl
        g = idx[1]
        if g < 4:
            if len(levels) < 3 + 4:
                continue
            g = (levels[g] + levels[idx[2]]) / 2
            if not g:
                continue
        elif levels[idx[blue * 3]] < 4:
            g = 1
        return levels[idx[blue * 3]] / g
    color = inp.number("WBBlueLevel" if blue else "WBRedLevel")
    green = inp.number("WBGreenLevel")
    return color / green if color and green else None


def canon_lens_id(md, lens_model: str | None) -> str | None:
    """LensID from Canon's LensType and focal range (Canon.pm PrintLensID); "" when
    ExifTool would choose among several lenses of one LensType (not done here), None when
    the Canon inputs are missing."""
    lens_type = canon(md, "LensType")
    short, long = number(canon(md, "MinFocalLength")), number(canon(md, "MaxFocalLength"))
    if lens_type is None or not short or not long:
        return None
    if lens_type != "n/a" and not lens_type.startswith("Unknown ("):
        return "" if " or " in lens_type else lens_with_tc(lens_type, short)
    if lens_model and any(c.isdigit() for c in lens_model):
        return f"Canon {lens_model}"
    focal = f" {int(short)}" + (f"-{int(long)}" if long != short else "") + "mm"
    if lens_type == "n/a":  # LensType -1 or 65535
        return f"Unknown{focal}"
    return f"{lens_type.split(')')[0]}){focal}"


def lens_with_tc(lens: str, short: float) -> str:
    """The lens, with the teleconverter its focal length implies (Canon.pm LensWithTC)."""
    m = re.search(r"(\d+)", lens)
    if lens.endswith("x") or m is None:
        return lens
    sf = int(m.group(1))
    for tc in (1, 1.4, 2, 2.8):
        if abs(short - sf * tc) <= 0.9:
            return lens if tc == 1 else f"{lens} + {num(tc)}x"
    return lens
