"""Issue 14, item 2: Composite tags as ExifTool computes and prints them.  ExifTool itself is
the judge: it writes the inputs into a copy of a fixture, and every Composite tag it then
shows must be ours, printed the same."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.files import copy_fixture

from engine.groups import composite
from engine.model import Blocks, Metadata, TagValue
from engine.reader import ALL_PARTS, read_metadata

CASES = {
    "zoom": ["-FNumber=5.6", "-ExposureTime=1/200", "-ISO=100", "-FocalLength=50",
             "-FocalLengthIn35mmFormat=75", "-SubjectDistance=3.5",
             "-DateTimeOriginal=2024:05:06 07:08:09", "-SubSecTimeOriginal=123",
             "-OffsetTimeOriginal=+02:00", "-GPSLatitude=48.8584", "-GPSLatitudeRef=N",
             "-GPSLongitude=2.2945", "-GPSLongitudeRef=W", "-GPSAltitude=35.27",
             "-GPSAltitudeRef=0", "-GPSDateStamp=2024:05:06", "-GPSTimeStamp=05:08:09",
             "-LensModel=EF24-70mm f/2.8L USM", "-Make=Apple"],
    "apex": ["-ShutterSpeedValue=1/60", "-ApertureValue=2.8", "-ISO=800", "-FocalLength=4.2",
             "-FocalPlaneXResolution=4000", "-FocalPlaneYResolution=4000",
             "-FocalPlaneResolutionUnit=cm", "-ExifImageWidth=4000", "-ExifImageHeight=3000",
             "-GPSAltitude=12.5", "-GPSAltitudeRef=1", "-CreateDate=2020:01:01 00:00:00",
             "-SubSecTimeDigitized=5"],
    "long": ["-ExposureTime=30", "-FNumber=0.95", "-ISO=6400", "-FocalLength=35",
             "-FocalLengthIn35mmFormat=35", "-SubjectDistance=0"],
}


def exiftool_composites(path: Path) -> dict[str, str]:
    out = subprocess.run(["exiftool", "-j", "-G1", "-Composite:all", str(path)],
                         capture_output=True, text=True, check=True).stdout
    doc = json.loads(out, parse_float=str, parse_int=str)[0]
    return {k.split(":", 1)[1]: str(v) for k, v in doc.items() if k.startswith("Composite:")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_composites_as_exiftool_prints_them(tmp_path: Path, case: str) -> None:
    photo = copy_fixture(tmp_path, "photo.jpg")
    subprocess.run(["exiftool", "-q", "-overwrite_original", *CASES[case], str(photo)],
                   check=True)
    want = exiftool_composites(photo)
    md = read_metadata(photo, ALL_PARTS)
    got = {t.name: t.value for t in md.tags.values() if t.group == "Composite"}
    assert len(want) >= 6
    assert {k: got.get(k) for k in want} == want


def md_with(**tags: str) -> Metadata:
    md = Metadata("x.jpg", "JPEG", file_type="JPEG")
    for path, value in tags.items():
        path = path.replace("__", "/")
        md.add(TagValue(path, "Canon" if path.startswith("makernotes") else "ExifIFD",
                        path.rsplit("/", 1)[-1], value))
    return md


def composites(md: Metadata) -> dict[str, str]:
    tags, warnings = composite.read(b"", Blocks(), md)
    assert warnings == []
    return {t.name: t.value for t in tags}


def test_canon_maker_note_composites() -> None:
    got = composites(md_with(makernotes__ContinuousDrive="Single", makernotes__SelfTimer="Off",
                             makernotes__MinFocalLength="18 mm",
                             makernotes__MaxFocalLength="55 mm",
                             makernotes__CanonExposureMode="Easy",
                             makernotes__EasyMode="Portrait",
                             makernotes__FlashBits="External, E-TTL",
                             makernotes__CanonFlashMode="Red-eye reduction",
                             makernotes__CameraISO="n/a", makernotes__BaseISO="100",
                             makernotes__AutoISO="160", makernotes__WhiteBalance="Daylight",
                             makernotes__WB_RGGBLevelsDaylight="2000 1000 1000 1500"))
    assert got["DriveMode"] == "Single-frame Shooting"
    assert got["Lens"] == got["Lens35efl"] == "18.0 - 55.0 mm"
    assert got["ShootingMode"] == "Portrait"
    assert (got["FlashType"], got["RedEyeReduction"]) == ("External", "On")
    assert got["ShutterCurtainHack"] == "1st-curtain sync"
    assert got["ISO"] == "160"
    assert got["WB_RGGBLevels"] == "2000 1000 1000 1500"
    assert (got["RedBalance"], got["BlueBalance"]) == ("2", "1.5")


def test_xmp_flash_structure() -> None:
    md = Metadata("x.jpg", "JPEG", file_type="JPEG")
    for field, value in (("Fired", "True"), ("Return", "Return detected"), ("Mode", "Auto")):
        md.add(TagValue(f"xmp/exif:Flash/exif:{field}", "XMP-exif", f"Flash{field}", value))
    assert composites(md)["Flash"] == "Auto, Fired, Return detected"


@pytest.mark.parametrize("bad", ["", "abc", "0", "-1", "1/0", "inf", "nan", "1e400", "999999"])
def test_garbage_inputs_never_raise(bad: str) -> None:
    names = ("FNumber", "ExposureTime", "ISO", "FocalLength", "FocalLengthIn35mmFormat",
             "SubjectDistance", "FocalPlaneXResolution", "ImageWidth", "ImageHeight",
             "GPSLatitude", "GPSLatitudeRef", "GPSAltitude", "GPSAltitudeRef")
    md = md_with(**{n: bad for n in names}, makernotes__WB_RGBGLevels=bad,
                 makernotes__MinFocalLength=bad, makernotes__MaxFocalLength=bad)
    composites(md)


def test_short_white_balance_levels_count_missing_as_zero() -> None:
    got = composites(md_with(makernotes__WB_RGGBLevels="400 200 200"))
    assert (got["RedBalance"], got["BlueBalance"]) == ("2", "0")
