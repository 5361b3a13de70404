"""The optical Composite tags (Exif.pm): ScaleFactor35efl, FocalLength35efl,
CircleOfConfusion, HyperfocalDistance, DOF and FOV."""

from __future__ import annotations

import math

from engine.groups.common import num, tag, tiff_structure
from engine.groups.composite import shown

PART, GROUP = "composite", "Composite"
DIAG35 = math.sqrt(36 * 36 + 24 * 24)
UNITS_MM = {"3": 10, "4": 1, "5": 0.001, "cm": 10, "mm": 1, "um": 0.001}


def canon_diag(blocks) -> float | None:
    """Canon keeps the sensor size in the focal-plane resolution denominators (Canon.pm
    CalcSensorDiag)."""
    st = tiff_structure(blocks)
    ifd = st.get("ExifIFD") if st is not None else None
    if ifd is None:
        return None
    rats = {}
    for e in ifd.entries:
        if e.tag in (0xA20E, 0xA20F) and e.type == 5 and len(e.raw) >= 8:
            rats[e.tag] = (int.from_bytes(e.raw[:4], "big" if st.byte_order == ">" else "little"),
                           int.from_bytes(e.raw[4:8], "big" if st.byte_order == ">" else "little"))
    if len(rats) < 2:
        return None
    (xn, xd), (yn, yd) = rats[0xA20E], rats[0xA20F]
    if (xn % 1000 == 0 and yn % 1000 == 0 and xn >= 640000 and yn >= 480000
            and xn < 10000000 and yn < 10000000 and 61 <= xd < 1500 and 61 <= yd < 1000
            and xd != yd):
        return math.sqrt(xd * xd + yd * yd) * 0.0254
    return None


def scale_factor(inp, blocks) -> float | None:
    focal, foc35 = inp.number("FocalLength"), inp.number("FocalLengthIn35mmFormat")
    if focal and foc35:
        return foc35 / focal
    diag = inp.number("FocalPlaneDiagonal")
    if inp.text("Make") == "Canon":
        diag = canon_diag(blocks) or diag
    sensor = inp.text("SensorSize")
    if not diag and sensor and len(sensor.split()) >= 2:
        x, y = (float(v) for v in sensor.split()[:2])
        diag = math.sqrt(x * x + y * y)
    if not diag:
        xs, ys = inp.number("FocalPlaneXSize"), inp.number("FocalPlaneYSize")
        if xs and ys and (abs(xs / ys - 1.3333) < .1 or abs(xs / ys - 1.5) < .1):
            diag = math.sqrt(xs * xs + ys * ys)
    if not diag:
        diag = resolution_diag(inp)
    return DIAG35 * inp.zoom / diag if diag else None


def resolution_diag(inp) -> float | None:
    unit_text = inp.text("FocalPlaneResolutionUnit") or ""
    units = UNITS_MM.get(unit_text.split()[0] if unit_text else "", 25.4)
    if unit_text.startswith(("cm", "mm", "um")):
        units = UNITS_MM[unit_text[:2]]
    xres = inp.number("FocalPlaneXResolution")
    yres = inp.number("FocalPlaneYResolution") or xres
    if not xres or not yres:
        return None
    for wn, hn in (("ExifImageWidth", "ExifImageHeight"), ("CanonImageWidth", "CanonImageHeight"),
                   ("ImageWidth", "ImageHeight")):
        w, h = inp.number(wn), inp.number(hn)
        if w and h and 0.5 < w / h < 2:
            break
    else:
        return None
    w, h = w * units / xres, h * units / yres
    diag = math.sqrt(w * w + h * h)
    return diag if 1 < diag < 100 else None


def lens_optics(inp, vals: dict, md, blocks) -> list:
    out = []
    focal = inp.number("FocalLength")
    scale = scale_factor(inp, blocks)
    vals["ScaleFactor35efl"] = scale
    if scale:
        out.append(tag(PART, GROUP, "ScaleFactor35efl", shown(f"{scale:.1f}", scale)))
    if focal is not None:
        fl = focal * (scale or 1)
        text = (f"{focal:.1f} mm (35 mm equivalent: {fl:.1f} mm)" if scale
                else f"{fl:.1f} mm")
        out.append(tag(PART, GROUP, "FocalLength35efl", shown(text, fl)))
    if not scale:
        return out
    coc = DIAG35 / (scale * 1440)
    out.append(tag(PART, GROUP, "CircleOfConfusion", shown(f"{coc:.3f} mm", coc)))
    f = vals.get("Aperture")
    if focal is not None and f is not None:
        hyper = focal * focal / (f * coc * 1000) if f and coc else math.inf
        out.append(tag(PART, GROUP, "HyperfocalDistance", shown(
            "inf m" if hyper == math.inf else f"{hyper:.2f} m", "inf" if hyper == math.inf
            else hyper)))
        dof = depth_of_field(inp, focal, f, coc)
        if dof is not None:
            out.append(tag(PART, GROUP, "DOF", dof))
    if focal:
        out.append(tag(PART, GROUP, "FOV", field_of_view(focal, scale, inp)))
    return out


# A distance printed "inf" stands for this value (the ValueConv the formula uses): Minolta
# and Olympus FocusDistance 0 (infinity), Canon FocusDistanceUpper/Lower 655.35 m (0xffff/100)
INFINITY_VALUES = {"FocusDistance": 0.0, "FocusDistanceUpper": 655.35,
                   "FocusDistanceLower": 655.35}


def distance(inp, name: str) -> float | None:
    """A focus distance in metres, as the formulas use it (unrounded where the printed
    value can give it back)."""
    if inp.text(name) == "inf":
        return INFINITY_VALUES.get(name)
    if name == "FocusDistance" and inp.groups.get(name) == "Nikon":
        from engine.groups.composite_lens import nikon_focus_distance

        exact = nikon_focus_distance(inp.text(name))
        if exact is not None:
            return exact
    return inp.number(name)


def depth_of_field(inp, focal: float, f: float, coc: float) -> str | None:
    d = distance(inp, "FocusDistance")
    if d is not None:
        d = d or 1e10
    else:
        d = (inp.number("SubjectDistance") or inp.number("ObjectDistance")
             or inp.number("ApproximateFocusDistance"))
        if d is None:
            lo, hi = distance(inp, "FocusDistanceLower"), distance(inp, "FocusDistanceUpper")
            if lo is None or hi is None:
                return None
            d = (lo + hi) / 2
    if not focal or not coc:
        return shown("inf (0.00 m - inf)", "0")
    t = f * coc * (d * 1000 - focal) / (focal * focal)
    near, far = d / (1 + t), d / (1 - t) if t != 1 else 0
    far = max(far, 0)
    value = f"{num(near)} {num(far)}"
    if not far:
        return shown(f"inf ({near:.2f} m - inf)", value)
    dof = far - near
    p = 3 if 0 < dof < 0.02 else 2
    return shown(f"{dof:.{p}f} m ({near:.{p}f} - {far:.{p}f} m)", value)


def field_of_view(focal: float, scale: float, inp) -> str:
    d = distance(inp, "FocusDistance")
    corr = 1.0
    if d:
        dd = 1000 * d - focal
        if dd > 0:
            corr += focal / dd
    fd2 = math.atan2(36, 2 * focal * scale * corr)
    s, value = f"{fd2 * 360 / 3.14159:.1f} deg", num(fd2 * 360 / 3.14159)
    if d and 0 < d < 10000:
        width = 2 * d * math.sin(fd2) / math.cos(fd2)
        s, value = s + f" ({width:.2f} m)", f"{value} {num(width)}"
    return shown(s, value)
