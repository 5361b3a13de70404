"""XMP values stored as ExifTool stores them, and checked after the write (issue #11, item 8).

``exif:ApertureValue``/``MaxApertureValue`` are APEX (Av = 2*log2(N)) and
``exif:ShutterSpeedValue`` APEX (Tv = -log2(t)) in XMP as in EXIF; ExifTool prints and takes
them as f-numbers and times.  Written 2.8, 5.6, 1/60, they read 2.8, 5.6, 1/60, in ExifTool
and in metafs.  And the writer notices a value that would read back as something else.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.oracles import exiftool

import engine
import engine.xmp.paths as xmp_paths
from engine.errors import TagValueError, ValidationError
from engine.xmp.paths import normalise_value, reads_back

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

APEX = {"xmp/exif:MaxApertureValue": "2.8", "xmp/exif:ApertureValue": "5.6",
        "xmp/exif:ShutterSpeedValue": "1/60"}
# what ExifTool 12.57 stores for them (exiftool -XMP-exif:...=, then -b -xmp)
STORED = {"exif:MaxApertureValue": "24361/8200", "exif:ApertureValue": "40761/8200",
          "exif:ShutterSpeedValue": "23917/4049"}


@pytest.mark.parametrize("tag, stored", STORED.items())
def test_stored_as_exiftool_stores_them(tag: str, stored: str) -> None:
    prefix, prop = tag.split(":")
    assert normalise_value(prefix, prop, APEX[f"xmp/{tag}"]) == [stored]


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="no exiftool")
@pytest.mark.parametrize("name", ["photo.jpg", "strips_le.tif", "exif_xmp.png", "exif_xmp.webp",
                                  "exif_xmp.heic"])
def test_written_values_read_back_everywhere(tmp_path: Path, name: str) -> None:
    photo = tmp_path / name
    shutil.copyfile(FIXTURES / name, photo)
    engine.write_metadata(photo, APEX, backup=False)
    md = engine.read_metadata(photo)
    assert {p: md.tags[p].value for p in APEX} == APEX
    shown = exiftool(photo, "-G1", "-XMP-exif:all")
    assert {k: str(v) for k, v in shown.items() if k.startswith("XMP-exif:")} == {
        "XMP-exif:MaxApertureValue": "2.8", "XMP-exif:ApertureValue": "5.6",
        "XMP-exif:ShutterSpeedValue": "1/60"}
    raw = exiftool(photo, "-G1", "-n", "-XMP-exif:all")
    assert raw["XMP-exif:MaxApertureValue"] == pytest.approx(2.8)
    assert raw["XMP-exif:ApertureValue"] == pytest.approx(5.6)
    assert raw["XMP-exif:ShutterSpeedValue"] == pytest.approx(1 / 60)


@pytest.mark.parametrize("tag, text, stored", [
    ("exif:ExposureTime", "1/3", "1/3"),  # a fraction as typed
    ("exif:FNumber", "2.8", "14/5"),  # a number: ExifTool's Rationalize
    ("exif:FocalLength", "50.0 mm", "50/1"),  # the printed form, unit and all
    ("exif:SubjectDistance", "inf", "1/0"),
    ("exif:ExposureBiasValue", "+1/3", "1/3"),  # as printed; readers take no '+' in n/d
    ("exifEX:LensSpecification", "18-70mm f/3.5-4.5", ["18/1", "70/1", "7/2", "9/2"]),
    ("aux:LensInfo", "50mm f/1.8", ["50/1 50/1 9/5 9/5"]),
])
def test_rationals_as_exiftool_stores_them(tag: str, text: str, stored) -> None:
    prefix, prop = tag.split(":")
    assert normalise_value(prefix, prop, text) == (stored if isinstance(stored, list)
                                                   else [stored])


@pytest.mark.parametrize("tag, text, message", [
    ("exif:ApertureValue", "0", "'0' is not a positive f-number"),
    ("exif:ShutterSpeedValue", "-1/60", "'-1/60' is not a positive exposure time"),
    ("exif:ExposureTime", "1/60 sec.", "'1/60 sec.' is not a number"),  # ExifTool refuses too
])
def test_values_that_cannot_be_stored_are_refused(tag: str, text: str, message: str) -> None:
    prefix, prop = tag.split(":")
    with pytest.raises(TagValueError) as e:
        normalise_value(prefix, prop, text)
    assert e.value.reason == message


def test_reads_back_takes_lossy_prints() -> None:
    assert reads_back("exif:ExposureTime", "0.3", "1/3")  # 1/3 s prints 0.3, as ExifTool
    assert reads_back("exif:ApertureValue", "5.6", "5.6")
    assert not reads_back("exif:ApertureValue", "7.0", "5.6")
    assert not reads_back("exif:MaxApertureValue", "2.6", "2.8")


def test_validation_notices_a_value_stored_in_the_wrong_unit(tmp_path: Path,
                                                             monkeypatch) -> None:
    """The old bug: 2.8 stored as typed reads back 2.6.  Presence alone passed validation."""
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    before = photo.read_bytes()
    monkeypatch.setattr(xmp_paths, "_rational", lambda tag, text, conv: text.strip())
    with pytest.raises(ValidationError) as e:
        engine.write_metadata(photo, {"xmp/exif:MaxApertureValue": "2.8"}, backup=False)
    assert e.value.reason == ("tag xmp/exif:MaxApertureValue reads back as '2.6', which is not "
                              "what '2.8' stores; nothing was written")
    assert photo.read_bytes() == before
