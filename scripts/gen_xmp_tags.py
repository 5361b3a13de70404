#!/usr/bin/env python3
"""Generate engine/xmp/tables.py from ExifTool's tag database.

    scripts/gen_xmp_tags.py [--listx FILE] [--perl-dir DIR] > engine/xmp/tables.py

Facts come from ``exiftool -f -listx -XMP:All`` (tag ids, names, types, list flags, value maps)
and from XMP.pm (namespace URIs ``%nsURI``, ExifTool's short group prefixes ``%stdXlatNS``) plus
``NAMESPACE => { prefix => uri }`` declarations in the other modules.  Conversions that ExifTool
writes as Perl code are named here by hand (CUSTOM) and interpreted in engine/xmp/decode.py.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from lxml import etree

TYPE_CODES = {
    "string": "s", "integer": "i", "real": "r", "rational": "q", "date": "d",
    "boolean": "b", "lang-alt": "l", "struct": "S", "?": "?",
}

# Conversions ExifTool writes as Perl code: (group prefix, flattened tag id) -> conversion name
# understood by engine.xmp.decode.  Read off XMP.pm / XMP2.pl by hand.
CUSTOM = {
    ("exif", "FNumber"): "fnumber",
    ("exif", "ApertureValue"): "aperture",
    ("exif", "MaxApertureValue"): "aperture",
    ("exif", "ShutterSpeedValue"): "shutter",
    ("exif", "ExposureTime"): "exptime",
    ("exif", "FocalLength"): "mm1",
    ("exif", "ExposureBiasValue"): "fraction",
    ("exif", "GPSLatitude"): "lat",
    ("exif", "GPSDestLatitude"): "lat",
    ("exif", "GPSLongitude"): "lon",
    ("exif", "GPSDestLongitude"): "lon",
    ("exif", "GPSAltitude"): "metres",
    ("exif", "GPSHPositioningError"): "metres",
    ("exif", "SubjectDistance"): "metres",
    ("exif", "FocalLengthIn35mmFilm"): "mm",
    ("aux", "LensInfo"): "lensinfo",
    ("exifEX", "LensSpecification"): "join_lensinfo",  # RawJoin: list joined, then converted
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


def english(el: etree._Element) -> str:
    for v in el.findall("val"):
        if v.get("lang") == "en":
            return v.text or ""
    return ""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listx")
    ap.add_argument("--perl-dir", default="/usr/share/perl5/Image/ExifTool")
    args = ap.parse_args()
    if args.listx:
        xml = Path(args.listx).read_bytes()
    else:
        xml = subprocess.run(["exiftool", "-f", "-listx", "-XMP:All"], capture_output=True,
                             check=True).stdout
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, huge_tree=True))
    ns_uri, std_xlat, lazy = namespaces(Path(args.perl_dir))

    maps: list[dict[str, str]] = []
    map_index: dict[tuple, int] = {}
    tables: dict[str, dict[str, tuple]] = {}
    flat_names: dict[str, dict[str, str]] = {}
    for table in root.iter("table"):
        if table.get("g0") != "XMP" or not (table.get("g1") or "").startswith("XMP-"):
            continue
        group = table.get("g1")[4:]
        tags = tables.setdefault(group, {})
        for tag in table.iter("tag"):
            tid, name = tag.get("id"), tag.get("name")
            flags = (tag.get("flags") or "").split(",")
            lst = next((f for f in ("Bag", "Seq", "Alt") if f in flags), "L" if "List" in flags
                       else "")
            code = TYPE_CODES.get(tag.get("type") or "?", "?") + ({"Bag": "B", "Seq": "Q",
                                                                 "Alt": "A"}.get(lst, lst))
            if tag.get("writable") != "true":
                code += "-"
            if "Binary" in flags:
                code += "*"
            if "Avoid" in flags:
                code += "~"  # priority 0: an earlier duplicate wins
            values = tag.find("values")
            idx = -1
            if values is not None:
                vm = {k.get("id"): english(k) for k in values.findall("key")}
                key = tuple(sorted(vm.items()))
                if key not in map_index:
                    map_index[key] = len(maps)
                    maps.append(vm)
                idx = map_index[key]
            conv = CUSTOM.get((group, tid))
            if conv is None and idx >= 0:
                conv = GROUP_MAP_CONV.get(group)
            tags[tid] = (None if name == tid else name, code, idx, conv)
            parent = tag.get("struct")
            if parent and tid.startswith(parent):
                # infer the struct's FlatName from a field whose flat name is ucfirst(field id)
                suffix = tid[len(parent):]
                if name.endswith(suffix) and len(name) > len(suffix):
                    flat_names.setdefault(group, {}).setdefault(parent, name[: -len(suffix)])

    for g, flats in flat_names.items():  # keep only FlatNames that differ from the tag name
        for parent in list(flats):
            entry = tables[g].get(parent)
            if entry is not None and flats[parent] == (entry[0] or parent):
                del flats[parent]
    flat_names = {g: f for g, f in flat_names.items() if f}
    w = sys.stdout.write
    w('"""XMP tag tables (generated by scripts/gen_xmp_tags.py from ExifTool 12.57;\n')
    w("do not edit).\n\n")
    w("NS_URI: XMP namespace prefix -> URI (LAZY_URI: known only once a table loads).\n")
    w("  XLAT: XMP prefix -> ExifTool group prefix (XMP-<g>).\n")
    w("TAGS: group prefix -> flattened tag id -> (name or None if same as id, code, value map,\n")
    w("conversion).  code: type letter s i r q(rational) d(date) b l(lang-alt) S(struct) ?, then\n")
    w("B/Q/A/L for Bag/Seq/Alt/List, '-' if not writable, '*' if binary, '~' if avoided.\n")
    w("FLAT: group -> struct tag id -> FlatName used for its fields' flattened names.\n")
    w('"""\n\n# ruff: noqa: E501\n# fmt: off\n')
    w("NS_URI = {\n")
    for k in sorted(ns_uri):
        w(f"    {k!r}: {ns_uri[k]!r},\n")
    w("}\n\nLAZY_URI = {\n")
    for k in sorted(lazy):
        w(f"    {k!r}: {lazy[k]!r},\n")
    w("}\n\nXLAT = {\n")
    for k in sorted(std_xlat):
        w(f"    {k!r}: {std_xlat[k]!r},\n")
    w("}\n\nMAPS = [\n")
    for vm in maps:
        w(f"    {vm!r},\n")
    w("]\n\nFLAT = {\n")
    for g in sorted(flat_names):
        w(f"    {g!r}: {flat_names[g]!r},\n")
    w("}\n\nTAGS = {\n")
    for g in sorted(tables):
        w(f"    {g!r}: {{\n")
        for tid, (name, code, idx, conv) in tables[g].items():
            tail = f", {conv!r}" if conv is not None else ""
            w(f"        {tid!r}: ({name!r}, {code!r}, {idx}{tail}),\n")
        w("    },\n")
    w("}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
