"""Issue 3: the JPEG writer on the fixtures, judged by ExifTool (``exiftool -j -G1 -a``).

Value forms, refusals with their exact messages, no-op writes, restore, Extended XMP and IPTC
kept intact, IPTCDigest, EXIF/XMP/IPTC synchronisation, deletes and EXIF created from nothing.
Every test works on a copy in tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import engine
from engine.containers import jpeg as J
from engine.errors import TagValueError, UnknownTagError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IGNORED = ("SourceFile", "System", "File", "ExifTool", "Composite")

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")


def et(*paths: Path, extra: tuple[str, ...] = ()) -> list[dict]:
    r = subprocess.run(["exiftool", "-j", "-G1", "-a", *extra, *map(str, paths)],
                       capture_output=True, text=True, check=False)
    return json.loads(r.stdout)


def et1(path: Path) -> dict:
    return et(path)[0]


def meta(d: dict) -> dict:
    return {k: v for k, v in d.items() if k.partition(":")[0] not in IGNORED}


def warnings(d: dict) -> set[str]:
    return {str(v) for k, v in d.items() if k.startswith("ExifTool:") and "Warning" in k}


# Tags ExifTool adds when it creates the directory (its "mandatory" tags): not counted as
# changes when the file had no such directory before.
CREATED_WITH = {
    "IFD0": {"IFD0:XResolution", "IFD0:YResolution", "IFD0:ResolutionUnit",
             "IFD0:YCbCrPositioning"},
    "GPS": {"GPS:GPSVersionID"},
    "IPTC": {"IPTC:ApplicationRecordVersion"},
}


def changed_keys(before: dict, after: dict) -> set[str]:
    a, b = meta(before), meta(after)
    created = {k for g, keys in CREATED_WITH.items()
               if not any(key.startswith(g + ":") for key in a) for k in keys}
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in created}


def copy(tmp_path: Path, name: str, src_dir: Path = FIXTURES) -> Path:
    dst = tmp_path / name
    shutil.copyfile(src_dir / name, dst)
    return dst


def no_backup_made(path: Path) -> bool:
    return not (path.parent / ".originals" / path.name).exists()


# -- value forms ---------------------------------------------------------------------------------

# exif_le.jpg with every tag below moved away from the value the test writes, so each write is a
# real change (made by ExifTool, not by us).
PRESET = ["-ExposureTime=1/30", "-FNumber=2.8", "-Orientation#=1",
          "-DateTimeOriginal=2019:05:05 05:05:05", "-GPSLatitude=10", "-GPSLatitudeRef=N",
          "-Flash#=0"]


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("preset")
    p = copy(d, "exif_le.jpg")
    subprocess.run(["exiftool", "-q", "-overwrite_original", *PRESET, str(p)], check=True)
    return d


DATE = "2020:01:01 10:00:00"
VALUE_FORMS = [
    # (tag, text written, {ExifTool key: printed value})
    ("ExposureTime", "1/125", {"ExifIFD:ExposureTime": "1/125"}),
    ("ExposureTime", "0.008", {"ExifIFD:ExposureTime": "1/125"}),
    ("FNumber", "5.6", {"ExifIFD:FNumber": 5.6}),
    ("Orientation", "Rotate 90 CW", {"IFD0:Orientation": "Rotate 90 CW"}),
    ("Orientation", "6", {"IFD0:Orientation": "Rotate 90 CW"}),
    ("DateTimeOriginal", "2020:01:01 10:00:00", {"ExifIFD:DateTimeOriginal": DATE}),
    ("DateTimeOriginal", "2020-01-01T10:00:00", {"ExifIFD:DateTimeOriginal": DATE}),
    ("GPSLatitude", "37 deg 46' 29.64\" N",
     {"GPS:GPSLatitude": "37 deg 46' 29.64\"", "GPS:GPSLatitudeRef": "North"}),
    ("GPSLatitude", "-33.8688",
     {"GPS:GPSLatitude": "33 deg 52' 7.68\"", "GPS:GPSLatitudeRef": "South"}),
    ("Flash", "Fired", {"ExifIFD:Flash": "Fired"}),
    ("Flash", "On, Fired", {"ExifIFD:Flash": "On, Fired"}),
]


@pytest.mark.parametrize(("tag", "text", "expect"), VALUE_FORMS,
                         ids=[f"{t}={v}" for t, v, _ in VALUE_FORMS])
def test_value_forms_read_back_as_exiftool_prints(tmp_path: Path, preset_dir: Path, tag: str,
                                                 text: str, expect: dict) -> None:
    p = copy(tmp_path, "exif_le.jpg", preset_dir)
    before = et1(p)
    result = engine.write_metadata(p, {tag: text})
    assert not result.unchanged and tag in result.written
    after = et1(p)
    for k, v in expect.items():
        assert after.get(k) == v, (k, after.get(k))
    # nothing else moved (GPSLatitudeRef rides along with GPSLatitude)
    assert changed_keys(before, after) <= set(expect), changed_keys(before, after)
    assert warnings(after) <= warnings(before)
    # our reader prints what ExifTool prints
    md = engine.read_metadata(p)
    for k, v in expect.items():
        assert md.tags[k.partition(":")[2]].value == str(v)


# -- refusals ------------------------------------------------------------------------------------

BAD_VALUES = [
    ("ISO", "abc", TagValueError, "tag ISO: 'abc' does not fit: expected a whole number"),
    ("FNumber", "-2", TagValueError,
     "tag FNumber: '-2' does not fit: expected a positive number or fraction like 1/125"),
    ("Orientation", "sideways", TagValueError,
     "tag Orientation: 'sideways' does not fit: expected one of: Horizontal (normal), "
     "Mirror horizontal, Rotate 180, Mirror vertical... (or the number)"),
    ("Foo", "x", UnknownTagError,
     "tag Foo: no such EXIF tag (names are ExifTool's, e.g. Make, DateTimeOriginal, "
     "GPSLatitude)"),
]


@pytest.mark.parametrize(("tag", "text", "error", "message"), BAD_VALUES,
                         ids=[f"{t}={v}" for t, v, _, _ in BAD_VALUES])
def test_bad_values_are_refused_and_nothing_is_written(tmp_path: Path, tag: str, text: str,
                                                      error: type, message: str) -> None:
    p = copy(tmp_path, "photo.jpg")
    original = p.read_bytes()
    with pytest.raises(error) as info:
        engine.write_metadata(p, {tag: text, "Artist": "someone else"})
    assert str(info.value) == f"{p}: {message}"
    assert p.read_bytes() == original
    assert no_backup_made(p)
    assert sorted(os.listdir(tmp_path)) == ["photo.jpg"]


def test_check_value_refuses_the_same_values() -> None:
    for tag, text, error, message in BAD_VALUES:
        with pytest.raises(error) as info:
            engine.check_value(tag, text)
        assert str(info.value) == message


# -- no-op writes and restore ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["exif_le.jpg", "exif_be.jpg", "photo.jpg", "xmp.jpg", "iptc.jpg",
                                  "xmp_extended.jpg"])
def test_writing_printed_values_back_changes_nothing(tmp_path: Path, name: str) -> None:
    p = copy(tmp_path, name)
    original, mtime = p.read_bytes(), p.stat().st_mtime_ns
    md = engine.read_metadata(p)
    changes = {path: "\n".join(t.value) if isinstance(t.value, list) else t.value
               for path, t in md.tags.items() if t.writable and not t.is_binary}
    assert changes
    result = engine.write_metadata(p, changes)
    assert result.unchanged and result.written == {} and result.backup is None
    one = engine.write_exif_field(p, next(iter(changes)), next(iter(changes.values())))
    assert one.unchanged
    assert p.read_bytes() == original and p.stat().st_mtime_ns == mtime
    assert sorted(os.listdir(tmp_path)) == [name]


@pytest.mark.parametrize("name", ["exif_le.jpg", "exif_be.jpg", "photo.jpg", "xmp.jpg", "iptc.jpg",
                                  "xmp_extended.jpg"])
def test_write_then_restore_gives_the_original_bytes(tmp_path: Path, name: str) -> None:
    p = copy(tmp_path, name)
    original = p.read_bytes()
    r1 = engine.write_metadata(p, {"Artist": "A", "xmp/dc:title": "T", "iptc/City": "Rome"})
    r2 = engine.write_metadata(p, {"Artist": "B"})
    assert r1.backup == r2.backup == str(tmp_path / ".originals" / name)
    assert p.read_bytes() != original
    assert Path(r1.backup).read_bytes() == original  # the first original, never overwritten
    assert engine.restore(p) == r1.backup
    assert p.read_bytes() == original
    assert [n for n in os.listdir(tmp_path) if n != ".originals"] == [name]


# -- Extended XMP --------------------------------------------------------------------------------

def extended_parts(data: bytes) -> tuple[str, dict[str, bytes]]:
    """(GUID named by the main packet, {GUID in the chunk headers: reassembled extension})."""
    segs = J.parse_jpeg(data).segments
    main = b"".join(s.payload for s in segs if J.kind(s) == "xmp")
    m = re.search(rb'HasExtendedXMP(?:="|>)([0-9A-F]{32})', main)
    assert m, "main packet lost xmpNote:HasExtendedXMP"
    chunks: dict[str, dict[int, bytes]] = {}
    head = len(J.XMP_EXT_HEADER)
    for s in segs:
        if J.kind(s) == "xmp_ext":
            guid = s.payload[head : head + 32].decode()
            total, off = struct.unpack_from(">II", s.payload, head + 32)
            chunks.setdefault(guid, {})[off] = s.payload[head + 40 :]
    parts = {g: b"".join(c[o] for o in sorted(c)) for g, c in chunks.items()}
    return m.group(1).decode(), parts


@pytest.mark.parametrize("change", [{"xmp/dc:title": "New title"}, {"Artist": "Bob"},
                                    {"xmp/xmp:Rating": "3"}, {"iptc/City": "Rome"}],
                         ids=lambda c: next(iter(c)))
def test_extended_xmp_survives_edits_of_other_tags(tmp_path: Path, change: dict) -> None:
    p = copy(tmp_path, "xmp_extended.jpg")
    guid0, parts0 = extended_parts(p.read_bytes())
    before = et1(p)
    engine.write_metadata(p, change)
    after = et1(p)
    guid, parts = extended_parts(p.read_bytes())
    assert guid == guid0 and parts == parts0  # the extension is kept byte for byte
    assert hashlib.md5(parts[guid]).hexdigest().upper() == guid  # and still valid
    assert len(after["XMP-dc:Description"]) > 60_000  # ExifTool still joins it in
    assert after["XMP-dc:Description"] == before["XMP-dc:Description"]
    expected = {"xmp/dc:title": {"XMP-dc:Title"}, "Artist": {"IFD0:Artist"},
                "xmp/xmp:Rating": {"XMP-xmp:Rating"},
                # a new IIM record gets ApplicationRecordVersion, as ExifTool adds it
                "iptc/City": {"IPTC:City"}}
    assert changed_keys(before, after) == expected[next(iter(change))]
    assert warnings(after) <= warnings(before)


# -- IPTC ----------------------------------------------------------------------------------------

def test_iptc_survives_edits_of_other_tags(tmp_path: Path) -> None:
    p = copy(tmp_path, "iptc.jpg")
    before = et1(p)
    engine.write_metadata(p, {"Make": "Test Camera", "xmp/xmp:Rating": "2"})
    after = et1(p)
    assert changed_keys(before, after) == {"IFD0:Make", "XMP-xmp:Rating"}
    assert {k: v for k, v in after.items() if k.startswith("IPTC:")} == \
        {k: v for k, v in before.items() if k.startswith("IPTC:")}


def test_iptc_edit_changes_only_that_dataset(tmp_path: Path) -> None:
    p = copy(tmp_path, "photo.jpg")
    before = et1(p)
    engine.write_metadata(p, {"iptc/City": "Rome", "iptc/Keywords": "one\ntwo\nüç"},
                          sync_related=False)
    after = et1(p)
    assert after["IPTC:City"] == "Rome"
    assert after["IPTC:Keywords"] == ["one", "two", "üç"]
    assert changed_keys(before, after) == {"IPTC:City", "IPTC:Keywords"}


@pytest.mark.parametrize("name", ["iptc.jpg", "photo.jpg"])
def test_iptc_digest_stays_consistent(tmp_path: Path, name: str) -> None:
    p = copy(tmp_path, name)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-IPTCDigest=new", str(p)],
                   check=True)
    before = et1(p)
    assert before["Photoshop:IPTCDigest"] == before["File:CurrentIPTCDigest"]
    engine.write_metadata(p, {"iptc/City": "Rome"})
    after = et1(p)
    assert after["IPTC:City"] == "Rome"
    assert after["Photoshop:IPTCDigest"] == after["File:CurrentIPTCDigest"]
    assert after["Photoshop:IPTCDigest"] != before["Photoshop:IPTCDigest"]
    assert changed_keys(before, after) == {"IPTC:City", "Photoshop:IPTCDigest"}


def test_stale_iptc_digest_is_left_alone(tmp_path: Path) -> None:
    """A digest that did not match before is not ours to fix (ExifTool's rule too)."""
    p = copy(tmp_path, "iptc.jpg")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-IPTCDigest=0123456789abcdef"
                    "0123456789abcdef", str(p)], check=True)
    engine.write_metadata(p, {"iptc/City": "Rome"})
    assert et1(p)["Photoshop:IPTCDigest"] == "0123456789abcdef0123456789abcdef"


# -- EXIF/XMP/IPTC synchronisation ---------------------------------------------------------------

def test_artist_updates_existing_copies(tmp_path: Path) -> None:
    p = copy(tmp_path, "photo.jpg")
    before = et1(p)
    assert before["XMP-dc:Creator"] and before["IPTC:By-line"]
    result = engine.write_metadata(p, {"Artist": "Ann Example"})
    after = et1(p)
    assert after["IFD0:Artist"] == "Ann Example"
    assert after["XMP-dc:Creator"] == "Ann Example"
    assert after["IPTC:By-line"] == "Ann Example"
    assert set(result.written) == {"Artist", "xmp/dc:creator", "iptc/By-line"}
    assert changed_keys(before, after) == {"IFD0:Artist", "XMP-dc:Creator", "IPTC:By-line"}


def test_sync_adds_no_copies_that_did_not_exist(tmp_path: Path) -> None:
    p = copy(tmp_path, "exif_le.jpg")  # EXIF only
    before = et1(p)
    engine.write_metadata(p, {"Artist": "Ann Example"})
    assert changed_keys(before, et1(p)) == {"IFD0:Artist"}


def test_sync_related_false_leaves_the_copies(tmp_path: Path) -> None:
    p = copy(tmp_path, "photo.jpg")
    before = et1(p)
    result = engine.write_metadata(p, {"Artist": "Ann Example"}, sync_related=False)
    after = et1(p)
    assert set(result.written) == {"Artist"}
    assert changed_keys(before, after) == {"IFD0:Artist"}
    assert after["XMP-dc:Creator"] == before["XMP-dc:Creator"]


def test_date_sync_reaches_xmp_and_keeps_formats(tmp_path: Path) -> None:
    p = copy(tmp_path, "photo.jpg")
    before = et1(p)
    engine.write_metadata(p, {"DateTimeOriginal": "2021-06-07T08:09:10"})
    after = et1(p)
    assert after["ExifIFD:DateTimeOriginal"] == "2021:06:07 08:09:10"
    for k in ("XMP-exif:DateTimeOriginal", "XMP-photoshop:DateCreated"):
        if k in before:
            assert str(after[k]).startswith("2021:06:07 08:09:10"), (k, after[k])
    assert warnings(after) <= warnings(before)


# -- delete, create ------------------------------------------------------------------------------

@pytest.mark.parametrize(("tag", "key"), [("Artist", "IFD0:Artist"),
                                          ("GPSLatitude", "GPS:GPSLatitude"),
                                          ("xmp/xmp:Rating", "XMP-xmp:Rating"),
                                          ("iptc/City", "IPTC:City")])
def test_delete_a_tag(tmp_path: Path, tag: str, key: str) -> None:
    p = copy(tmp_path, "photo.jpg")
    before = et1(p)
    assert key in before
    engine.write_metadata(p, {tag: None}, sync_related=False)
    after = et1(p)
    assert key not in after
    changed = changed_keys(before, after)
    assert key in changed
    assert changed <= {key, "GPS:GPSLatitudeRef"}, changed
    assert warnings(after) <= warnings(before)


def test_delete_lang_alt_deletes_every_language(tmp_path: Path) -> None:
    p = copy(tmp_path, "photo.jpg")
    before = et1(p)
    assert "XMP-dc:Title-de" in before
    engine.write_metadata(p, {"xmp/dc:title": None}, sync_related=False)
    after = et1(p)
    assert changed_keys(before, after) == {"XMP-dc:Title", "XMP-dc:Title-de"}


def test_write_one_language_of_a_lang_alt(tmp_path: Path) -> None:
    p = copy(tmp_path, "photo.jpg")
    before = et1(p)
    engine.write_metadata(p, {"xmp/dc:title-de": "Neu"})
    after = et1(p)
    assert after["XMP-dc:Title-de"] == "Neu"
    assert changed_keys(before, after) == {"XMP-dc:Title-de"}


def test_delete_missing_tag_is_a_no_op(tmp_path: Path) -> None:
    p = copy(tmp_path, "xmp.jpg")
    original = p.read_bytes()
    assert engine.write_metadata(p, {"Artist": None}).unchanged
    assert p.read_bytes() == original


@pytest.mark.parametrize("name", ["xmp.jpg", "iptc.jpg", "xmp_extended.jpg"])
def test_create_exif_in_a_jpeg_without_it(tmp_path: Path, name: str) -> None:
    p = copy(tmp_path, name)
    before = et1(p)
    assert not any(k.startswith("IFD0:") for k in before)
    engine.write_metadata(p, {"Artist": "Ann", "DateTimeOriginal": "2020:01:01 10:00:00",
                              "GPSLatitude": "-33.8688", "Orientation": "6"},
                          sync_related=False)
    after = et1(p)
    assert after["IFD0:Artist"] == "Ann"
    assert after["IFD0:Orientation"] == "Rotate 90 CW"
    assert after["ExifIFD:DateTimeOriginal"] == "2020:01:01 10:00:00"
    assert after["GPS:GPSLatitude"] == "33 deg 52' 7.68\""
    assert after["GPS:GPSLatitudeRef"] == "South"
    assert warnings(after) == warnings(before)
    # everything that was there is still there, unchanged
    assert {k: v for k, v in meta(before).items() if meta(after).get(k) != v} == {}
    md = engine.read_metadata(p)
    assert md.tags["Artist"].value == "Ann" and md.warnings == []


def test_created_exif_passes_exiftool_validate(tmp_path: Path) -> None:
    p = copy(tmp_path, "xmp.jpg")
    engine.write_metadata(p, {"Artist": "Ann", "GPSLatitude": "-33.8688"})
    out = subprocess.run(["exiftool", "-validate", "-warning", "-a", str(p)],
                         capture_output=True, text=True, check=True).stdout
    # New sub-IFDs get the tags EXIF requires (GPSVersionID...).  IFD0's resolution tags are
    # deliberately not invented: a user who asked for Artist gets exactly Artist in IFD0.
    assert re.findall(r"Missing required JPEG (?:GPS|ExifIFD) tag .*", out) == []


# -- ExifTool reads our results without new warnings -------------------------------------------

CHANGES = {"Artist": "Ann", "xmp/dc:title": "Title", "iptc/City": "Rome", "FNumber": "4",
           "ImageDescription": "A longer description " * 20, "GPSLatitude": "-33.8688"}


@pytest.mark.parametrize("name", ["exif_le.jpg", "exif_be.jpg", "photo.jpg"])
def test_no_new_exiftool_warnings_and_image_data_kept(tmp_path: Path, name: str) -> None:
    p = copy(tmp_path, name)
    before, tail = et1(p), p.read_bytes()[J.parse_jpeg(p.read_bytes()).tail_offset :]
    val_before = et(p, extra=("-validate", "-warning"))[0]
    engine.write_metadata(p, CHANGES)
    after = et1(p)
    assert warnings(after) <= warnings(before)
    assert et(p, extra=("-validate", "-warning"))[0].get("ExifTool:Validate") == \
        val_before.get("ExifTool:Validate")
    data = p.read_bytes()
    assert data[J.parse_jpeg(data).tail_offset :] == tail
    # the thumbnail moved with the block and still is the same JPEG
    if "IFD1:ThumbnailImage" in before:
        got = subprocess.run(["exiftool", "-b", "-ThumbnailImage", str(p)], capture_output=True,
                             check=True).stdout
        orig = subprocess.run(["exiftool", "-b", "-ThumbnailImage", str(FIXTURES / name)],
                              capture_output=True, check=True).stdout
        assert got == orig and len(got) == 679


def test_xmp_enum_written_by_its_printed_name(tmp_path: Path) -> None:
    p = copy(tmp_path, "xmp.jpg")
    engine.write_metadata(p, {"xmp/tiff:Orientation": "Rotate 90 CW",
                              "xmp/exif:ExposureProgram": "Manual"})
    raw = et(p, extra=("-n",))[0]
    assert raw["XMP-tiff:Orientation"] == 6 and raw["XMP-exif:ExposureProgram"] == 1
    assert et1(p)["XMP-tiff:Orientation"] == "Rotate 90 CW"
