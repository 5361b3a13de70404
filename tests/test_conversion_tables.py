"""The hand-written tables agree with the generated ones (issue 12, item 3).

A tag's overrides (engine.exif.overrides), the conversions the XMP generator names
(scripts/gen_xmp_tags.py), the places kept in step (engine.write.changes) and the decoder's
naming tables are written by hand beside tables generated from ExifTool: a misspelt name there
would silently do nothing.  Every name must exist in the generated tables, and every conversion
a table names must exist in the one registry (engine.printconv, plus each family's own).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from engine.exif import conversions as exif_conv
from engine.exif import decode as exif_decode
from engine.exif import overrides
from engine.exif.tables import EXIF_TAGS, GPS_TAGS, PANASONIC_RAW_TAGS, VALUES
from engine.iptc.tables import DATASETS
from engine.printconv import CONVERSIONS as SHARED
from engine.write.changes import FOLLOWERS, LIST_PATHS, SYNC_GROUPS
from engine.xmp import paths as xmp_paths
from engine.xmp import printing as xmp_printing
from engine.xmp import tables as xmp_tables

ROOT = Path(__file__).resolve().parents[1]


def _names(*tables: dict) -> set[str]:
    return {v[0] for t in tables for variants in t.values() for v in variants}


# Names the decoder gives itself: the embedded images it finds through their offset and length
# tags, and the maker note (whose per-make variants the generator leaves out).
MADE = {image for _length, image in exif_decode.DATA_TAGS.values()} | {"MakerNotes"}


def _gen_xmp_module(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # as when the script runs
    spec = importlib.util.spec_from_file_location("gen_xmp_tags", ROOT / "scripts" /
                                                  "gen_xmp_tags.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_overridden_exif_tag_is_in_the_generated_tables() -> None:
    known = _names(EXIF_TAGS, GPS_TAGS) | MADE
    assert sorted(set(overrides.RULES) - known) == []
    assert sorted(set(overrides.PANASONIC_RULES) - _names(PANASONIC_RAW_TAGS)) == []
    refs = {r.ref[0] for r in overrides.RULES.values() if r.ref}
    assert refs and refs <= _names(GPS_TAGS)


def test_every_exif_rule_names_a_conversion_and_a_format() -> None:
    from engine.exif.printing import FORMATS

    for table in (overrides.RULES, overrides.PANASONIC_RULES):
        for name, rule in table.items():
            assert rule.conv is None or rule.conv in exif_conv.CONVERSIONS, name
            assert rule.read is None or rule.read in FORMATS, name


def test_the_decoders_naming_tables_use_generated_names() -> None:
    known = _names(EXIF_TAGS, GPS_TAGS) | MADE
    by_ifd = {n for names, default in exif_decode.BY_IFD.values()
              for n in (*names.values(), default)}
    data = {n for off, pair in exif_decode.DATA_TAGS.items() for n in (off, *pair)}
    assert sorted((by_ifd | data) - known) == []


def test_every_xmp_conversion_the_tables_name_exists() -> None:
    used = {e[3] for table in xmp_tables.TAGS.values() for e in table.values() if len(e) > 3}
    assert used and sorted(used - set(xmp_printing.CONVERSIONS)) == []
    assert set(xmp_paths._UNITS) <= set(xmp_printing.CONVERSIONS)
    assert set(xmp_paths.LENS_CONVERSIONS) <= set(xmp_printing.CONVERSIONS)
    assert xmp_printing.RAW_JOIN <= set(xmp_printing.CONVERSIONS)


def test_the_xmp_generators_conversions_name_generated_tags(monkeypatch) -> None:
    gen = _gen_xmp_module(monkeypatch)
    for (group, tid), conv in gen.CUSTOM.items():
        assert tid in xmp_tables.TAGS.get(group, {}), (group, tid)
        assert xmp_tables.TAGS[group][tid][3] == conv, (group, tid)
    assert set(gen.GROUP_MAP_CONV) <= set(xmp_tables.TAGS)


def test_one_registry_the_shared_conversions_are_not_redefined() -> None:
    for family in (exif_conv.CONVERSIONS, xmp_printing.CONVERSIONS):
        for name, conv in SHARED.items():
            assert family[name] is conv, name
        for name, conv in family.items():
            assert conv.name == name


def test_the_synchronised_places_exist() -> None:
    from engine.xmp.paths import resolve

    exif = _names(EXIF_TAGS, GPS_TAGS)
    iptc = {v[0] for v in DATASETS.values()}
    places = {p for group in SYNC_GROUPS for p in group} | FOLLOWERS | LIST_PATHS
    for place in places:
        if place.startswith("xmp/"):
            assert resolve(place[4:]).entry is not None, place
        elif place.startswith("iptc/"):
            assert place[5:] in iptc, place
        else:
            assert place in exif, place


def test_every_value_map_a_tag_names_exists() -> None:
    for table in (EXIF_TAGS, GPS_TAGS, PANASONIC_RAW_TAGS):
        for variants in table.values():
            for v in variants:
                assert v[5] is None or v[5] in VALUES, v
    maps = len(xmp_tables.MAPS)
    for table in xmp_tables.TAGS.values():
        for entry in table.values():
            assert -1 <= entry[2] < maps, entry


@pytest.mark.parametrize("name, text", [
    ("aperture", "5.6"), ("aperture", "2.8"), ("shutter", "1/60"), ("shutter", "1/3"),
    ("shutter", "2"), ("exif_shutter", "1/250"),
])
def test_expected_is_the_print_of_the_parsed_value(name: str, text: str) -> None:
    """For the conversions stored in another unit than they print (APEX), what read-back
    must show is what the print of the stored value shows."""
    conv = exif_conv.CONVERSIONS[name]
    stored = conv.parse(text)[0]
    assert conv.show(repr(stored)) == conv.expected(text)


# exif: properties with values at the edges, and what ExifTool 12.57 prints for them
# (exiftool -j -G1 on this packet).  XMP printing had its own copies of the conversions,
# which printed "0", "1.0", "0.0 mm", "1" and "inf" here and raised OverflowError on 1e400.
EDGE_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
    b'rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"'
    b' exif:ExposureBiasValue="1/0" exif:ApertureValue="inf" exif:FocalLength="1/0"'
    b' exif:GPSLatitude="1e400" exif:ShutterSpeedValue="inf" exif:MaxApertureValue="40761/8200"'
    b' exif:ExposureTime="1e400"/></rdf:RDF></x:xmpmeta>')
EDGE_PRINTS = {"ExposureCompensation": "+Inf", "ApertureValue": "Inf", "FocalLength": "Inf mm",
               "GPSLatitude": "7 deg 40' 0.00\" N", "ShutterSpeedValue": "0",
               "MaxApertureValue": "5.6", "ExposureTime": "Inf"}


def test_xmp_prints_edge_values_as_exiftool_does() -> None:
    from engine.xmp.decode import decode_xmp

    tags, warnings = decode_xmp(EDGE_PACKET, None, path="edge.xmp")
    assert warnings == []
    assert {t.name: t.value for t in tags if t.name in EDGE_PRINTS} == EDGE_PRINTS


def test_exif_and_xmp_print_one_stored_value_alike() -> None:
    """The same APEX value stored in EXIF (read as a number) and in XMP (a rational)."""
    assert exif_conv.convert("MaxApertureValue", "4.97085365853659", None) == "5.6"
    assert xmp_printing.printed(["40761/8200"], xmp_tables.TAGS["exif"]["MaxApertureValue"],
                                False) == "5.6"
    assert exif_conv.convert("ShutterSpeedValue", "5.90689059560852", None) == "1/60"
    assert xmp_printing.printed(["23917/4049"], xmp_tables.TAGS["exif"]["ShutterSpeedValue"],
                                False) == "1/60"
