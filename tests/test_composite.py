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
    # Adobe's numeric XMP-aux:LensID named from the maker's lens list (XMP.pm PrintLensID)
    "nikon_xmp_lens": ["-Make=NIKON CORPORATION", "-XMP-aux:LensID=154", "-FNumber=4",
                       "-ExposureTime=1/100", "-FocalLength=18", "-MaxApertureValue=3.5",
                       "-LensInfo=18 55 3.5 5.6"],
    "canon_xmp_lens": ["-Make=Canon", "-XMP-aux:LensID=165", "-FNumber=4", "-ISO=100",
                       "-ExposureTime=1/100", "-FocalLength=200", "-LensInfo=70 200 undef undef",
                       "-LensModel=EF70-200mm f/2.8L USM"],
    "unknown_xmp_lens": ["-Make=Canon", "-XMP-aux:LensID=65535", "-FNumber=4",
                         "-ExposureTime=1/100", "-FocalLength=6", "-ISO=100",
                         "-LensInfo=6 22.5 undef undef"],
    # empty GPS values are values; XMP coordinates give their references (GPS.pm, XMP.pm)
    "gps_refs": ["-GPSLatitude=", "-GPSLatitudeRef=N", "-GPSLongitude=", "-GPSLongitudeRef=E",
                 "-XMP-exif:GPSLatitude=48.5", "-XMP-exif:GPSLongitude=-2.25", "-FNumber=4",
                 "-ExposureTime=1/100", "-ISO=100", "-FocalLength=5",
                 "-GPSDateStamp=2024:01:02", "-GPSTimeStamp=10:00:00"],
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


def same_value(a: str, b: str | list | None) -> bool:
    """Equal, numbers within 1e-12 (the last of Perl's 15 digits may differ)."""
    if a == b:
        return True
    try:
        return all(abs(float(x) - float(y)) <= 1e-12 * max(abs(float(x)), 1)
                   for x, y in zip(a.split(), str(b).split(), strict=True))
    except ValueError:
        return False


@pytest.mark.parametrize("case", sorted(CASES))
def test_unconverted_composites_as_exiftool_n(tmp_path: Path, case: str) -> None:
    """``metafs read -n``: the Composite tags' ValueConv values, as ``exiftool -n``."""
    import engine

    photo = copy_fixture(tmp_path, "photo.jpg")
    subprocess.run(["exiftool", "-q", "-overwrite_original", *CASES[case], str(photo)],
                   check=True)
    out = subprocess.run(["exiftool", "-j", "-n", "-G1", "-Composite:all", str(photo)],
                         capture_output=True, text=True, check=True).stdout
    want = {k.split(":", 1)[1]: str(v) for k, v in
            json.loads(out, parse_float=str, parse_int=str)[0].items() if ":" in k}
    md = engine.unconvert(read_metadata(photo, ALL_PARTS))
    got = {t.name: t.value for t in md.tags.values() if t.group == "Composite"}
    assert {k: (v, got.get(k)) for k, v in want.items() if not same_value(v, got.get(k))} == {}


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


def nikon_md(**tags: str) -> Metadata:
    md = Metadata("x.nef", "TIFF", file_type="NEF")
    md.add(TagValue("Make", "IFD0", "Make", "NIKON CORPORATION"))
    for name, value in tags.items():
        md.add(TagValue(f"makernotes/{name}", "Nikon", name, value, False))
    return md


# Nikon LensData as printed (exif-samples 87_OSError.jpg); LensType as the decoder may leave it
NIKON_LENS = {"LensIDNumber": "127", "LensFStops": "5.33", "MinFocalLength": "18.3 mm",
              "MaxFocalLength": "71.3 mm", "MaxApertureAtMinFocal": "3.6",
              "MaxApertureAtMaxFocal": "4.5", "MCUVersion": "132", "Lens": "18-70mm f/3.5-4.5"}


@pytest.mark.parametrize("lens_type", ["6", "G"])
def test_nikon_lens_id_from_the_raw_lens_bytes(lens_type: str) -> None:
    """Nikon.pm: the 8 raw bytes (recovered from their printed values) name the lens in
    %nikonLensIDs; LensSpec is Lens and LensType as ExifTool prints them."""
    got = composites(nikon_md(**NIKON_LENS, LensType=lens_type))
    assert got["LensID"] == "AF-S DX Zoom-Nikkor 18-70mm f/3.5-4.5G IF-ED"
    assert got["LensSpec"] == "18-70mm f/3.5-4.5 G"


def test_nikon_lens_id_of_an_unlisted_lens() -> None:
    """A key the list lacks (another LensIDNumber): ExifTool's "Unknown (...) lens ?"."""
    got = composites(nikon_md(**{**NIKON_LENS, "LensIDNumber": "200"}, LensType="6"))
    assert got["LensID"] == ("Unknown (C8 40 2D 5C 2C 34 84 06) "
                             "AF-S DX Zoom-Nikkor 18-70mm f/3.5-4.5G IF-ED ?")


@pytest.mark.parametrize(("raw", "text"), [(0, "AF"), (2, "D"), (6, "G"), (14, "G VR"),
                                           (0x46, "E G"), (0x4E, "E VR"), (0x86, "G AF-P"),
                                           (0x1E, "1 G VR"), (0x21, "MF FT-1")])
def test_nikon_lens_type_printing(raw: int, text: str) -> None:
    from engine.groups.composite_lens import nikon_lens_type

    assert nikon_lens_type(raw) == text


def test_canon_lens_chosen_among_lenses_of_one_type() -> None:
    """Canon.pm PrintLensID: the lenses of a LensType whose focal range fits, or all."""
    md = md_with(Make="Canon", makernotes__LensType="Canon EF 28-70mm f/2.8L USM or Other Lens",
                 makernotes__MinFocalLength="28 mm", makernotes__MaxFocalLength="70 mm",
                 makernotes__MaxAperture="2.8")
    assert composites(md)["LensID"] == ("Canon EF 28-70mm f/2.8L USM or Sigma 28-70mm f/2.8 EX")


def test_focus_distance_shown_as_inf_is_used_as_its_value() -> None:
    """Canon FocusDistanceUpper "inf" is 655.35 m in the DOF formula (its ValueConv)."""
    md = md_with(FNumber="14.0", FocalLength="34.0 mm", FocalLengthIn35mmFormat="54 mm",
                 makernotes__FocusDistanceUpper="inf", makernotes__FocusDistanceLower="5.46 m")
    assert composites(md)["DOF"].startswith("inf (")
