#!/usr/bin/env python3
"""Generate engine/xmp/tables.py from ExifTool's tag database.

    scripts/gen_xmp_tags.py [--listx FILE] [--perl-dir DIR] > engine/xmp/tables.py

Facts come from ``exiftool -f -listx -XMP:All`` (tag ids, names, types, list flags, value maps)
and from XMP.pm (namespace URIs ``%nsURI``, ExifTool's short group prefixes ``%stdXlatNS``) plus
``NAMESPACE => { prefix => uri }`` declarations in the other modules.  Conversions that ExifTool
writes as Perl code are named here by hand (CUSTOM) and interpreted by engine/xmp/printing.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from gen_common import arguments, english, listx_root
from lxml import etree

TYPE_CODES = {
    "string": "s", "integer": "i", "real": "r", "rational": "q", "date": "d",
    "boolean": "b", "lang-alt": "l", "struct": "S", "?": "?",
}

# Conversions ExifTool writes as Perl code: (group prefix, flattened tag id) -> conversion name
# in engine.xmp.printing.CONVERSIONS (most shared with EXIF, engine.printconv).  Read off
# XMP.pm / XMP2.pl by hand; tests/test_conversion_tables.py checks the names.
CUSTOM = {
    ("exif", "FNumber"): "fnumber",
    ("exif", "ApertureValue"): "aperture",
    ("exif", "MaxApertureValue"): "aperture",
    ("exif", "ShutterSpeedValue"): "shutter",
    ("exif", "ExposureTime"): "exposure_time",
    ("exif", "FocalLength"): "focal_length",
    ("exif", "ExposureBiasValue"): "fraction",
    ("exif", "GPSLatitude"): "lat",
    ("exif", "GPSDestLatitude"): "lat",
    ("exif", "GPSLongitude"): "lon",
    ("exif", "GPSDestLongitude"): "lon",
    ("exif", "GPSAltitude"): "metres",
    ("exif", "GPSHPositioningError"): "metres",
    ("exif", "SubjectDistance"): "metres",
    ("exif", "FocalLengthIn35mmFilm"): "mm",
    ("aux", "LensInfo"): "lens_info",
    ("exifEX", "LensSpecification"): "join_lens_info",  # RawJoin: list joined, then converted
    ("tiff", "YCbCrSubSampling"): "join",
    ("photomech", "Prefs"): "pmprefs",
    ("photomech", "TimeCreated"): "exiftime",
}
# every PLUS tag with a value map strips the vocabulary URI first (%plusVocab in PLUS.pm)
GROUP_MAP_CONV = {"plus": "plusvocab"}


def perl_hash(text: str, name: str) -> dict[str, str]:
    m = re.search(r"^(?:my\s+)?%" + name + r"\s*=\s*\((.*?)^\);", text, re.S | re.M)
    if not m:
        raise SystemExit(f"cannot find %{name}")
    out = {}
    for line in m.group(1).splitlines():
        line = line.split("#", 1)[0] if "=>" not in line.split("#", 1)[0] else line
        km = re.match(r"""\s*'?([-\w]+)'?\s*=>\s*'([^']*)'""", line)
        if km:
            out[km.group(1)] = km.group(2)
    return out


def namespaces(perl_dir: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    xmp_pm = (perl_dir / "XMP.pm").read_text(encoding="latin-1")
    ns_uri = perl_hash(xmp_pm, "nsURI")
    std_xlat = perl_hash(xmp_pm, "stdXlatNS")
    # namespaces other modules register only when their table is loaded: ExifTool does not
    # know them while parsing, so they are kept apart (for writing only)
    lazy: dict[str, str] = {}
    for p in sorted(perl_dir.rglob("*.p[ml]")):
        text = p.read_text(encoding="latin-1")
        for m in re.finditer(r"NAMESPACE\s*=>\s*\{\s*'?([-\w]+)'?\s*=>\s*'([^']+)'", text):
            if m.group(1) not in ns_uri:
                lazy.setdefault(m.group(1), m.group(2))
    return ns_uri, std_xlat, lazy


def _code(tag: etree._Element) -> str:
    """ExifTool's kind letters for a tag (see the generated module's docstring)."""
    flags = (tag.get("flags") or "").split(",")
    lst = next((f for f in ("Bag", "Seq", "Alt") if f in flags), "L" if "List" in flags else "")
    code = TYPE_CODES.get(tag.get("type") or "?", "?") + ({"Bag": "B", "Seq": "Q",
                                                         "Alt": "A"}.get(lst, lst))
    if tag.get("writable") != "true":
        code += "-"
    if "Binary" in flags:
        code += "*"
    if "Avoid" in flags:
        code += "~"  # priority 0: an earlier duplicate wins
    return code


class Tables:
    """What the generated module holds, gathered table by table from -listx."""

    def __init__(self) -> None:
        self.maps: list[dict[str, str]] = []
        self.map_index: dict[tuple, int] = {}
        self.tags: dict[str, dict[str, tuple]] = {}
        self.flat: dict[str, dict[str, str]] = {}

    def map_of(self, tag: etree._Element) -> int:
        values = tag.find("values")
        if values is None:
            return -1
        vm = {k.get("id"): english(k) for k in values.findall("key")}
        key = tuple(sorted(vm.items()))
        if key not in self.map_index:
            self.map_index[key] = len(self.maps)
            self.maps.append(vm)
        return self.map_index[key]

    def add(self, group: str, tag: etree._Element) -> None:
        tid, name = tag.get("id"), tag.get("name")
        idx = self.map_of(tag)
        conv = CUSTOM.get((group, tid))
        if conv is None and idx >= 0:
            conv = GROUP_MAP_CONV.get(group)
        self.tags.setdefault(group, {})[tid] = (None if name == tid else name, _code(tag), idx,
                                                conv)
        parent = tag.get("struct")
        if parent and tid.startswith(parent):
            # infer the struct's FlatName from a field whose flat name is ucfirst(field id)
            suffix = tid[len(parent):]
            if name.endswith(suffix) and len(name) > len(suffix):
                self.flat.setdefault(group, {}).setdefault(parent, name[: -len(suffix)])

    def flat_names(self) -> dict[str, dict[str, str]]:
        """FlatNames that differ from the structure's tag name."""
        out = {}
        for g, flats in self.flat.items():
            kept = {p: f for p, f in flats.items()
                    if p not in self.tags[g] or f != (self.tags[g][p][0] or p)}
            if kept:
                out[g] = kept
        return out


def gather(root: etree._Element) -> Tables:
    t = Tables()
    for table in root.iter("table"):
        if table.get("g0") != "XMP" or not (table.get("g1") or "").startswith("XMP-"):
            continue
        group = table.get("g1")[4:]
        t.tags.setdefault(group, {})
        for tag in table.iter("tag"):
            t.add(group, tag)
    return t


HEADER = """\"\"\"XMP tag tables (generated by scripts/gen_xmp_tags.py from ExifTool 12.57;
do not edit).

NS_URI: XMP namespace prefix -> URI (LAZY_URI: known only once a table loads).
  XLAT: XMP prefix -> ExifTool group prefix (XMP-<g>).
TAGS: group prefix -> flattened tag id -> (name or None if same as id, code, index in MAPS
or -1, conversion: a name in engine.xmp.printing.CONVERSIONS).  code: type letter s i r
q(rational) d(date) b l(lang-alt) S(struct) ?, then B/Q/A/L for Bag/Seq/Alt/List, '-' if
not writable, '*' if binary, '~' if avoided.
FLAT: group -> struct tag id -> FlatName used for its fields' flattened names.
\"\"\"

# ruff: noqa: E501
# fmt: off
"""


def write(t: Tables, ns_uri: dict, std_xlat: dict, lazy: dict) -> None:
    w = sys.stdout.write
    w(HEADER)
    for title, mapping in (("NS_URI", ns_uri), ("LAZY_URI", lazy), ("XLAT", std_xlat)):
        w(f"{title} = {{\n")
        for k in sorted(mapping):
            w(f"    {k!r}: {mapping[k]!r},\n")
        w("}\n\n")
    w("MAPS = [\n")
    for vm in t.maps:
        w(f"    {vm!r},\n")
    w("]\n\nFLAT = {\n")
    flat = t.flat_names()
    for g in sorted(flat):
        w(f"    {g!r}: {flat[g]!r},\n")
    w("}\n\nTAGS = {\n")
    for g in sorted(t.tags):
        w(f"    {g!r}: {{\n")
        for tid, (name, code, idx, conv) in t.tags[g].items():
            tail = f", {conv!r}" if conv is not None else ""
            w(f"        {tid!r}: ({name!r}, {code!r}, {idx}{tail}),\n")
        w("    },\n")
    w("}\n")


def main() -> int:
    args = arguments()
    root = listx_root(args.listx, "-XMP:All", huge=True)
    ns_uri, std_xlat, lazy = namespaces(Path(args.perl_dir))
    write(gather(root), ns_uri, std_xlat, lazy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
