"""Composite tags: values ExifTool computes from other tags (the ``Composite`` tables of
Exif.pm, GPS.pm, IPTC.pm, XMP.pm, Canon.pm, Nikon.pm, Apple.pm, Kodak.pm), with its names
and printing.  Inputs are the tags already in the Metadata, as printed, picked by name as
ExifTool picks them (``Inputs``), and the unrounded EXIF rationals the formulas need
(``raw_numbers``)."""

from __future__ import annotations

import math
import re

from engine.groups.common import AS_TIFF, num, tag

PART, GROUP = "composite", "Composite"
_NUM = re.compile(r"[+-]?(?=\d|\.\d)\d*(?:\.\d*)?(?:[Ee][+-]?\d+)?")
# makers whose maker notes carry a LensType (ExifTool then names the lens from it)
LENS_TYPE_MAKERS = ("CANON", "NIKON", "SONY", "PENTAX", "RICOH", "ASAHI", "OLYMPUS", "OM DIGITAL",
                    "MINOLTA", "KONICA", "SIGMA", "PANASONIC", "LEICA", "SAMSUNG")
EXIF_GROUPS = ("IFD0", "ExifIFD", "GPS")
SUBSEC = (("SubSecDateTimeOriginal", "DateTimeOriginal", "SubSecTimeOriginal",
           "OffsetTimeOriginal"),
          ("SubSecCreateDate", "CreateDate", "SubSecTimeDigitized", "OffsetTimeDigitized"),
          ("SubSecModifyDate", "ModifyDate", "SubSecTime", "OffsetTime"))


# EXIF tags whose unrounded value the formulas use: id -> (name, APEX conversion)
RAW_TAGS = {0x829A: ("ExposureTime", None), 0x829D: ("FNumber", None),
            0x9201: ("ShutterSpeedValue", lambda v: 2 ** -v if abs(v) < 100 else 0),
            0x9202: ("ApertureValue", lambda v: 2 ** (v / 2)),
            0x920A: ("FocalLength", None), 0x9206: ("SubjectDistance", None),
            0xA20E: ("FocalPlaneXResolution", None), 0xA20F: ("FocalPlaneYResolution", None)}
GPS_RAW_TAGS = {0x0006: ("GPSAltitude", None)}


def raw_numbers(blocks) -> dict[str, float]:
    """The first value of the ``RAW_TAGS`` in IFD0/ExifIFD, unrounded."""
    import struct

    from engine.groups.common import tiff_structure

    st = tiff_structure(blocks)
    out: dict[str, float] = {}
    for ifd in st.ifds if st is not None else ():
        if ifd.name not in ("IFD0", "ExifIFD", "GPS"):
            continue
        table = GPS_RAW_TAGS if ifd.name == "GPS" else RAW_TAGS
        for e in ifd.entries:
            row = table.get(e.tag)
            if row is None or row[0] in out or len(e.raw) < 8 or e.type not in (5, 10):
                continue
            n, d = struct.unpack_from(st.byte_order + ("II" if e.type == 5 else "ii"), e.raw)
            try:
                if d:  # the rational as ExifTool reads it (10 significant digits)
                    v = float(f"{n / d:.10g}")
                    out[row[0]] = row[1](v) if row[1] else v
            except OverflowError:  # an absurd APEX value: ExifTool's is unusable too
                continue
    return out


# Where each part's tags come in ExifTool's reading order (a later tag of a name replaces an
# earlier one of the same priority, ExifTool.pm FoundTag).  XMP and IFD1 tags have priority
# 0 and never replace a tag found before them; so do most maker-note tables that repeat an
# EXIF tag (Canon's CameraSettings, ShotInfo...), which are counted here as priority 0.
ORDER = {"exif": 0, "iptc": 2, "file": 3, "jfif": 3, "png": 3}
LOW_PRIORITY = ("xmp", "ifd1", "previewifd", "composite", "makernotes")


def shown(printed: str, value: float | str) -> str:
    """The printed text of a composite, or with ``-n`` (engine.unconverted) the value of its
    ValueConv (numbers as Perl prints them)."""
    from engine.printconv import unconverted

    if not unconverted():
        return printed
    return value if isinstance(value, str) else num(value)


def first_number(text: str) -> float | None:
    """The first finite number in ``text`` (as ExifTool's numeric conversions find it)."""
    m = _NUM.search(text)
    if m is None:
        return None
    v = float(m.group(0))
    return v if math.isfinite(v) else None


def part_rank(head: str) -> int:
    """Where a part's tags come in ``ORDER`` (-1: priority 0, never replacing a tag)."""
    if head.startswith(LOW_PRIORITY):
        return -1
    return ORDER.get(head, 0 if head.startswith(("subifd", "ifd")) else 3)


class Inputs:
    """The tags a composite may use, by ExifTool name, picked as ExifTool picks them."""

    def __init__(self, md, raw: dict[str, float] | None = None) -> None:
        self.raw = raw or {}
        self.zoom = 1.0  # Canon digital zoom factor
        self.data = b""  # the file (for sizes no tag holds: the WebP bitstream's)
        self.by_name: dict[str, object] = {}
        self.groups: dict[str, str] = {}
        self.md = md
        best: dict[str, int] = {}
        ranks: dict[str, int] = {}
        for path, t in md.tags.items():
            if t.binary_size is not None:
                continue
            slash = path.find("/")
            head = path[:slash] if slash > 0 else "exif"
            rank = ranks.get(head)
            if rank is None:
                rank = ranks[head] = part_rank(head.lower())
            name = t.name
            old = best.get(name)
            if old is None or rank >= old >= 0 or old < 0 <= rank:
                best[name] = rank
                self.by_name[name] = t.value
                self.groups[name] = t.group

    def text(self, name: str) -> str | None:
        v = self.by_name.get(name)
        if isinstance(v, list):
            v = " ".join(v)
        return v if v else None

    def number(self, name: str) -> float | None:
        if name in self.raw and name in self.by_name and self.groups[name] in EXIF_GROUPS:
            return self.raw[name]
        v = self.text(name)
        if v is None:
            return None
        m = re.fullmatch(r"\s*(\d+)/(\d+)\s*(?:s|sec)?", v)
        if m:
            return int(m.group(1)) / int(m.group(2)) if int(m.group(2)) else None
        return first_number(v)

    def exif_text(self, name: str) -> str | None:
        """A tag of the EXIF IFDs only (bare paths)."""
        t = self.md.tags.get(name)
        return t.value if t is not None and isinstance(t.value, str) and t.value else None


def read(data, blocks, md) -> tuple[list, list[str]]:
    inp = Inputs(md, raw_numbers(blocks))
    inp.data = data
    out: list = []
    warnings: list[str] = []
    vals: dict[str, float] = {}
    for fn in STEPS:
        try:  # a step that meets absurd numbers is left out, the others still computed
            out += fn(data, blocks, inp, vals, out)
        except (ArithmeticError, ValueError) as e:
            warnings.append(f"Composite: {fn.__name__}: {e}")
    from engine.groups.common import forget
    from engine.groups.composite_canon import forget_index

    forget()  # the last part: the parses the parts shared are no longer needed
    forget_index()
    return out, warnings


def basic(data, blocks, inp: Inputs, vals: dict, out: list) -> list:
    got: list = []
    for fn in (image_size, shutter_aperture, gps, subsec, dates, lens_id):
        got += fn(inp, vals, inp.md)
    return got


def optics(data, blocks, inp: Inputs, vals: dict, out: list) -> list:
    from engine.groups.composite_optics import lens_optics

    got: list = []
    inp.zoom = digital_zoom(inp.md, got)
    return got + lens_optics(inp, vals, inp.md, blocks)


def maker(data, blocks, inp: Inputs, vals: dict, out: list) -> list:
    from engine.groups.composite_canon import balances, canon_composites, wb_levels

    got = canon_composites(inp.md, vals.get("ScaleFactor35efl"))
    iso = inp.text("ISO") or next((t.value for t in got if t.name == "ISO"), None)
    got += light_value(inp, vals, iso)
    levels = wb_levels(inp.md)
    if levels:
        got.append(tag(PART, GROUP, "WB_RGGBLevels", levels))
    return got + balances(inp, levels)


def others(data, blocks, inp: Inputs, vals: dict, out: list) -> list:
    from engine.groups.composite_more import more_composites

    return more_composites(data, inp, inp.md)


STEPS = (basic, optics, maker, others)


def digital_zoom(md, out: list) -> float:
    """Canon's DigitalZoom composite (when the zoom is digital), which scales the 35 mm
    factor."""
    from engine.groups.composite_canon import canon, number

    src, dst = number(canon(md, "ZoomSourceWidth")), number(canon(md, "ZoomTargetWidth"))
    if canon(md, "DigitalZoom") not in ("Other", "3") or not src or not dst:
        return 1.0
    out.append(tag(PART, GROUP, "DigitalZoom", f"{dst / src:.2f}x"))
    return dst / src


def image_size(inp: Inputs, vals: dict, md) -> list:
    cropped = re.fullmatch(r"(\d+)[ x](\d+)", inp.text("RawImageCroppedSize") or "")
    if cropped:  # Fujifilm RAF: the raw image's cropped size comes first
        return image_size_tags(int(cropped.group(1)), int(cropped.group(2)))
    w, h = inp.text("ImageWidth"), inp.text("ImageHeight")
    ew, eh = inp.text("ExifImageWidth"), inp.text("ExifImageHeight")
    if md.file_type in ("CR2", "IIQ") and ew and eh:
        w, h = ew, eh
    elif md.format in AS_TIFF:
        w, h = largest_image(md) or (w, h)
    elif md.format == "WEBP":  # the RIFF chunk's size takes precedence over EXIF's (RIFF.pm)
        from engine.groups.composite_more import webp_dimensions

        size = webp_dimensions(inp.data)
        w, h = (str(size[0]), str(size[1])) if size else (w, h)
    if not (w and h) or not (w.isdigit() and h.isdigit()):
        return []
    return image_size_tags(int(w), int(h))


def image_size_tags(w: int, h: int) -> list:
    mp = w * h / 1e6
    digits = 1 if mp >= 1 else 3 if mp >= 0.001 else 6
    return [tag(PART, GROUP, "ImageSize", shown(f"{w}x{h}", f"{w} {h}")),
            tag(PART, GROUP, "Megapixels", shown(f"{mp:.{digits}f}", mp))]


def largest_image(md) -> tuple[str, str] | None:
    """The size of the largest image of a TIFF-based file (IFD0 or a SubIFD): the one
    ExifTool's ImageWidth/ImageHeight name."""
    sizes = []
    for path, t in md.tags.items():
        if t.name == "ImageWidth" and isinstance(t.value, str) and t.value.isdigit():
            h = md.tags.get(path[:-len("ImageWidth")] + "ImageHeight")
            if h is not None and isinstance(h.value, str) and h.value.isdigit():
                sizes.append((int(t.value) * int(h.value), t.value, h.value))
    return max(sizes)[1:] if sizes else None


def exposure_text(secs: float) -> str:
    if 0 < secs < 0.25001:
        return f"1/{int(0.5 + 1 / secs)}"
    s = f"{secs:.1f}"
    return s[:-2] if s.endswith(".0") else s


def shutter_aperture(inp: Inputs, vals: dict, md) -> list:
    out = []
    t = inp.number("ExposureTime")
    if t is None:
        t = inp.number("ShutterSpeedValue")
    if t is not None:
        vals["ShutterSpeed"] = t
        out.append(tag(PART, GROUP, "ShutterSpeed",
                       shown(exposure_text(t) if t else "0", t)))
    f = inp.number("FNumber") or inp.number("ApertureValue")
    if f:
        vals["Aperture"] = f
        out.append(tag(PART, GROUP, "Aperture",
                       shown(f"{f:.2f}" if f < 1 else f"{f:.1f}", f)))
    return out


def light_value(inp: Inputs, vals: dict, iso_text: str | None) -> list:
    """LV = log2(N^2 * 100 / (t * ISO)), ISO as printed (Exif.pm CalculateLV)."""
    f, t = vals.get("Aperture"), vals.get("ShutterSpeed")
    iso = first_number(iso_text or "") or 0
    if not (f and t and iso > 0 and f > 0 and t > 0):
        return []
    lv = math.log(f * f * 100 / (t * iso)) / math.log(2)
    return [tag(PART, GROUP, "LightValue", shown(f"{lv:.1f}", lv))]


def gps(inp: Inputs, vals: dict, md) -> list:
    """GPSLatitude/GPSLongitude signed by their Ref, GPSPosition, GPSDateTime (GPS.pm: an
    empty value is still a value), and the Refs of XMP's coordinates (XMP.pm)."""
    out = []
    coords = []
    for axis, pos in (("Latitude", "N"), ("Longitude", "E")):
        v, ref = _defined(md, f"GPS{axis}"), _defined(md, f"GPS{axis}Ref")
        if v is None or ref is None:
            coords.append(None)
            continue
        letter = ref[:1].upper()
        if not any(float(x) for x in _NUM.findall(v)):
            letter = pos  # ExifTool signs the value: zero is never south or west
        text = f"{v} {letter}" if v and letter in "NSEW" else v
        coords.append(text)
        out.append(tag(PART, GROUP, f"GPS{axis}", text))
    for i, axis in enumerate(("Latitude", "Longitude")):  # else XMP's (GPS.pm GPSPosition)
        xmp = md.get(f"xmp/exif:GPS{axis}")
        if coords[i] is None and isinstance(xmp, str):
            coords[i] = xmp
    if coords[0] is not None and coords[1] is not None and (coords[0] or coords[1]):
        out.append(tag(PART, GROUP, "GPSPosition", f"{coords[0]}, {coords[1]}"))
    date, time = _defined(md, "GPSDateStamp"), _defined(md, "GPSTimeStamp")
    if date is not None and time is not None:
        out.append(tag(PART, GROUP, "GPSDateTime", f"{date} {time}Z"))
    for axis, letters, names in (("Latitude", "NS", ("North", "South")),
                                 ("Longitude", "EW", ("East", "West"))):
        v = md.get(f"xmp/exif:GPS{axis}")
        hit = re.search(f"[{letters}](?=[^{letters}]*$)", v) if isinstance(v, str) else None
        if hit:
            out.append(tag(PART, GROUP, f"GPS{axis}Ref",
                           shown(names[letters.index(hit.group())], hit.group())))
    return out + altitude(inp)


def _defined(md, path: str) -> str | None:
    """An EXIF tag's printed value, "" included (None when absent)."""
    v = md.get(path)
    return v if isinstance(v, str) else None


def altitude(inp: Inputs) -> list:
    """GPSAltitude with its reference, from GPS (else XMP-exif) tags (GPS.pm)."""
    for alt_path, ref_path in (("GPSAltitude", "GPSAltitudeRef"),
                               ("xmp/exif:GPSAltitude", "xmp/exif:GPSAltitudeRef")):
        alt, ref = inp.md.tags.get(alt_path), inp.md.tags.get(ref_path)
        if alt is None or ref is None or not isinstance(alt.value, str):
            continue
        value = inp.raw.get("GPSAltitude") if alt_path == "GPSAltitude" else None
        if value is None:
            value = first_number(alt.value)
            if value is None:
                continue
        v = num(int(abs(value) * 10) / 10)
        if "Sea" in str(ref.value):
            text = f"{v} m {ref.value}"
        else:
            below = str(ref.value).strip() not in ("0", "") or value < 0
            text = f"{v} m {'Below' if below else 'Above'} Sea Level"
        return [tag(PART, GROUP, "GPSAltitude", text)]
    return []


def dates(inp: Inputs, vals: dict, md) -> list:
    """DateTimeCreated from IPTC (IPTC.pm); DateTimeOriginal from it when no tag of that
    name exists (Exif.pm)."""
    date, time = md.get("iptc/DateCreated"), md.get("iptc/TimeCreated")
    out = []
    created = f"{date} {time}" if isinstance(date, str) and isinstance(time, str) else None
    if created:
        out.append(tag(PART, GROUP, "DateTimeCreated", created))
    if "DateTimeOriginal" not in inp.by_name:
        any_date = inp.text("DateCreated")
        if created and any_date:
            out.append(tag(PART, GROUP, "DateTimeOriginal", created))
    return out


def has_maker_note(md) -> bool:
    return any(t.name == "MakerNote" or t.path.startswith("makernotes/")
               for t in md.tags.values())


def lens_id(inp: Inputs, vals: dict, md) -> list:
    """LensID from LensModel (or Lens) when it names a focal length, as Exif.pm 'LensID-2'
    (the maker-note LensType form comes first when the maker notes give one)."""
    if any(t.group == GROUP and t.name == "LensID" for t in md.tags.values()):
        return []
    if (inp.text("Make") or "").upper().startswith("NIKON"):
        from engine.groups.composite_lens import nikon_lens_id

        found = nikon_lens_id(md)
        if found:
            return found
    from engine.groups.composite_lensid import exif_lens_id, exif_lens_type

    lens = exif_lens_id(inp)
    if lens is not None or inp.text("LensType") is not None:
        raw = exif_lens_type(inp)
        return [tag(PART, GROUP, "LensID", shown(lens, raw or lens))] if lens else []
    aux = md.get("xmp/aux:LensID")
    if inp.text("Make") and isinstance(aux, str) and aux:
        from engine.groups.composite_lensid import xmp_lens_id

        lens = xmp_lens_id(inp, aux, inp.text("Make") or "")
        return [tag(PART, GROUP, "LensID", shown(lens, aux))]
    if (inp.text("Make") or "").upper().startswith(LENS_TYPE_MAKERS) and has_maker_note(md):
        return []  # ExifTool names the lens from the maker notes' LensType
    for name in ("LensModel", "Lens"):
        v = inp.text(name)
        if v and re.search(r"mm|\d/F", v):
            v = re.sub(r"(\d)/F", r"\1mm F", v, count=1)
            v = v.replace("mmF", "mm F", 1)
            v = re.sub(r"(\d) mm", r"\1mm", v, count=1)
            return [tag(PART, GROUP, "LensID", shown(v.replace(" - ", "-", 1), inp.text(name)
                                                     or v))]
    return []


def subsec(inp: Inputs, vals: dict, md) -> list:
    out = []
    for name, base, sub, off in SUBSEC:
        dt = inp.exif_text(base)
        if not dt:
            continue
        s, o = inp.exif_text(sub), inp.exif_text(off)
        v = None
        m = re.match(r"\d+", s or "")
        if m:
            v, n = re.subn(r"( \d{2}:\d{2}:\d{2})(?!\.\d+)", rf"\g<1>.{m.group(0)}", dt,
                           count=1)
            v = v if n else None
        mo = re.match(r"([-+])(\d{1,2}):(\d{2})", o or "")
        if mo and not re.search(r"[-+]", dt):
            v = (v or dt) + f"{mo.group(1)}{int(mo.group(2)):02d}:{mo.group(3)}"
        if v:
            out.append(tag(PART, GROUP, name, v))
    return out
