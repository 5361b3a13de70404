"""Regression tests for bugs found in a review of the write engine (one test per bug).

Each test failed before its fix: either a non-EngineError escaped ``write_metadata`` (which
would crash the daemon's commit path), a valid write was refused, or wrong bytes were planned.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest
from support.oracles import exiftool
from support.refuse import assert_refused
from support.tiff_builder import build

from engine.errors import TagValueError, UnknownTagError
from engine.exif.block import patch_block
from engine.exif.ifd import parse_tiff
from engine.reader import read_metadata
from engine.write.writer import write_metadata

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None,
                                    reason="exiftool not installed")


# ---- exif_encode ---------------------------------------------------------------------------

@pytest.mark.parametrize("changes", [
    {"ExposureTime": "1e20"},  # rational64u numerator past 2**32 - 1
    {"XResolution": "99999999999"},
    {"ExposureCompensation": "-99999999999"},  # rational64s
])
def test_rational_out_of_range_is_a_tag_error(tmp_copy, changes) -> None:
    assert_refused(tmp_copy("exif_be.jpg"), changes, error=TagValueError)


@needs_exiftool
@pytest.mark.parametrize("name", ["exif_le.jpg", "exif_be.jpg"])
@pytest.mark.parametrize("text, printed, ref", [
    ("45.99999999999", "46 deg 0' 0.00\"", "North"),
    ("10 deg 59' 59.9999999\" S", "11 deg 0' 0.00\"", "South"),
])
def test_gps_seconds_rounding_to_60_carry(tmp_copy, name, text, printed, ref) -> None:
    # 59.9999999" rounded to 60/1: stored as 10 59 60, which reads back as 11 deg, so the
    # write was refused by validation.  ExifTool carries into the minutes (and degrees).
    p = tmp_copy(name)
    write_metadata(p, {"GPSLatitude": text}, backup=False)
    et = exiftool(p, "-G1", "-a", "-u")
    assert (et["GPS:GPSLatitude"], et["GPS:GPSLatitudeRef"]) == (printed, ref)


@needs_exiftool
def test_gps_time_seconds_rounding_to_60_carry(tmp_copy) -> None:
    p = tmp_copy("exif_be.jpg")
    write_metadata(p, {"GPSTimeStamp": "10:59:59.9999"}, backup=False)
    assert exiftool(p, "-G1", "-a", "-u")["GPS:GPSTimeStamp"] == "11:00:00"


# ---- tiff/patch ----------------------------------------------------------------------------

@pytest.mark.parametrize("bo", ["<", ">"])
@pytest.mark.parametrize("text", ["Nikon", None])
def test_value_shared_by_two_entries_is_not_overwritten(bo, text) -> None:
    # Model's entry points at Make's value bytes (same offset, same size): replacing Make in
    # place or freeing its value would change Model too.
    data = bytearray(build([[(0x10F, 2, "Canon Inc"), (0x110, 2, "Canon EOS"),
                             (0x131, 2, "SW")]], bo=bo))
    make, model = parse_tiff(bytes(data)).ifds[0].entries[:2]
    struct.pack_into(bo + "II", data, model.entry_offset + 4, make.count, make.value_offset)
    new = patch_block(bytes(data), [("IFD0", "Make", text)], "t.jpg")
    got = {e.tag: e.raw for e in parse_tiff(new).ifds[0].entries}
    assert got[0x110] == b"Canon Inc\0"
    assert got.get(0x10F) == (None if text is None else b"Nikon\0")


@pytest.mark.parametrize("bo", ["<", ">"])
def test_ifd1_pointer_found_past_entries_the_reader_skipped(bo) -> None:
    # IFD0 holds an entry of unknown type (skipped by the reader, kept in the file): the
    # next-IFD pointer lies after all the stored entries, not after the ones read.
    data = bytearray(build([[(0x10F, 2, "Canon"), (0x110, 2, "EOS"), (0x131, 2, "SW")],
                            [(0x11A, 5, [(72, 1)])]], bo=bo))
    model = parse_tiff(bytes(data)).ifds[0].entries[1]
    struct.pack_into(bo + "H", data, model.entry_offset + 2, 99)
    before = parse_tiff(bytes(data))
    new = patch_block(bytes(data), [("IFD1", "Make", "Thumb maker")], "t.jpg")
    after = parse_tiff(new)
    assert after.warnings == before.warnings
    assert [(e.tag, e.raw) for e in after.ifds[0].entries] == [
        (e.tag, e.raw) for e in before.ifds[0].entries]
    assert {e.tag: e.raw for e in after.get("IFD1").entries}[0x10F] == b"Thumb maker\0"


# ---- xmp_edit ------------------------------------------------------------------------------

@pytest.mark.parametrize("changes", [
    {"xmp/dc:title": "bell\x07"},  # control characters are not allowed in XML 1.0
    {"xmp/dc:description": "nul\x00"},
    {"xmp/dc:title-de": "esc\x1b"},
    {"xmp/dc:subject": "ok\nlone surrogate \udcff"},
    {"ImageDescription": "sync\x01"},  # EXIF takes it; the synced XMP copy cannot
])
def test_xmp_text_that_xml_cannot_hold_is_a_tag_error(tmp_copy, changes) -> None:
    assert_refused(tmp_copy("photo.jpg"), changes, error=TagValueError)


@pytest.mark.parametrize("tag", ["xmp/dc:ti tle", "xmp/dc:1title", "xmp/dc:a&b"])
def test_xmp_property_name_that_is_not_an_xml_name_is_refused(tmp_copy, tag) -> None:
    assert_refused(tmp_copy("xmp.jpg"), {tag: "x"}, error=UnknownTagError)


@needs_exiftool
@pytest.mark.parametrize("lang", ["en-US", "de-CH-1901"])
def test_lang_alt_with_region_subtag_sets_the_language(tmp_copy, lang) -> None:
    p = tmp_copy("xmp.jpg")
    write_metadata(p, {f"xmp/dc:title-{lang}": "Hello"}, backup=False)
    et = exiftool(p, "-G1", "-a", "-u")
    assert et[f"XMP-dc:Title-{lang}"] == "Hello"
    assert et["XMP-dc:Title"] == "Sunset over the bay"
    packet = subprocess.run(["exiftool", "-b", "-XMP", str(p)], capture_output=True,
                            check=True).stdout
    assert f'xml:lang="{lang}"'.encode() in packet
    assert f"dc:title-{lang}".encode() not in packet


def test_xmp_date_error_names_the_tag(tmp_copy) -> None:
    p = tmp_copy("photo.jpg")
    with pytest.raises(TagValueError) as info:
        write_metadata(p, {"xmp/xmp:CreateDate": "garbage"}, backup=False)
    assert "xmp/xmp:CreateDate" in str(info.value)


# ---- iptc_edit -----------------------------------------------------------------------------

def test_iptc_lone_surrogate_is_a_tag_error(tmp_copy) -> None:
    assert_refused(tmp_copy("iptc.jpg"), {"iptc/Keywords": "a\udcff"}, error=TagValueError)


def test_iptc_list_drops_empty_lines_like_xmp(tmp_copy) -> None:
    p = tmp_copy("photo.jpg")
    write_metadata(p, {"xmp/dc:subject": "a\n\nb\n"}, backup=False)
    md = read_metadata(p)
    assert md.tags["xmp/dc:subject"].value == ["a", "b"]
    assert md.tags["iptc/Keywords"].value == ["a", "b"]  # the synced copy agrees


@pytest.mark.expect_error_log(r"^unexpected error writing .*photo\.jpg$")
def test_a_bug_in_planning_is_still_one_engine_error(tmp_path, monkeypatch) -> None:
    import shutil
    from pathlib import Path

    import engine
    from engine.containers.jpeg import JpegFormat
    from engine.errors import WriteError

    src = Path(__file__).resolve().parents[1] / "fixtures" / "photo.jpg"
    path = tmp_path / "photo.jpg"
    shutil.copyfile(src, path)
    original = path.read_bytes()

    def broken(data, edits, path):
        raise IndexError("a bug")

    monkeypatch.setattr(JpegFormat, "writer", broken)
    with pytest.raises(WriteError, match=r"internal error \(IndexError: a bug\); the file is "
                                         r"untouched; please report this"):
        engine.write_metadata(path, {"Artist": "x"})
    assert path.read_bytes() == original


@pytest.mark.parametrize("name,text,count", [("ISO", "100 200", 2), ("LensInfo", "24 70 2.8 4", 4),
                                             ("Orientation", "6", 1)])
def test_value_counts_follow_exiftool(name: str, text: str, count: int) -> None:
    from engine.exif.encode import encode

    assert encode(name, text, "<")[0][1].count == count


@pytest.mark.parametrize("name,text,message", [
    ("Orientation", "1 2", "'1 2' does not fit: expected one of: Horizontal (normal)"),
    ("LensInfo", "24 70", "'24 70' does not fit: expected 4 values separated by spaces"),
    ("XResolution", "72 72", "'72 72' does not fit: expected a positive number"),
])
def test_wrong_value_counts_are_refused(name: str, text: str, message: str) -> None:
    from engine.errors import TagValueError
    from engine.exif.encode import encode

    with pytest.raises(TagValueError, match=re.escape(message)):
        encode(name, text, "<")
