"""Guard the fixture generator: each file in fixtures/ holds what fixtures/README.md says.

ExifTool (``exiftool -j -G1 -a``) is the judge; numbers are kept as their literal text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

EXIF_COMMON = {
    "IFD0:Make": "MetaFS Test Camera Co.",
    "IFD0:Model": "Fixture One",
    "IFD0:Artist": "Jane Doe",
    "IFD0:ModifyDate": "2020:01:02 03:04:05",
    "ExifIFD:ExposureTime": "1/125",
    "ExifIFD:FNumber": "5.6",
    "ExifIFD:ISO": "200",
    "ExifIFD:Flash": "Off, Did not fire",
    "ExifIFD:ExposureCompensation": "-2/3",
    "ExifIFD:DateTimeOriginal": "2020:01:01 10:00:00",
    "ExifIFD:SubSecTimeOriginal": "123",
    "ExifIFD:LensModel": "Fixture 35mm F1.4",
    "ExifIFD:UserComment": "Fixture user comment",
}
GPS = {
    "GPS:GPSLatitude": "37 deg 46' 29.64\"",
    "GPS:GPSLatitudeRef": "North",
    "GPS:GPSLongitude": "122 deg 25' 9.84\"",
    "GPS:GPSLongitudeRef": "West",
    "GPS:GPSAltitude": "16.5 m",
    "GPS:GPSDateStamp": "2020:01:01",
}
INTEROP_IFD1 = {
    "InteropIFD:InteropIndex": "R98 - DCF basic file (sRGB)",
    "InteropIFD:InteropVersion": "0100",
    "IFD1:Compression": "JPEG (old-style)",
    "IFD1:XResolution": "72",
    "IFD1:ThumbnailImage": "(Binary data 679 bytes, use -b option to extract)",
}
XMP = {
    "XMP-dc:Title": "Sunset over the bay",
    "XMP-dc:Title-de": "Sonnenuntergang über der Bucht",
    "XMP-dc:Subject": ["sunset", "bay", "Zoë's trip"],
    "XMP-dc:Creator": ["Jane Doe", "John Roe"],
    "XMP-xmp:Rating": "4",
    "XMP-photoshop:City": "San Francisco",
    "XMP-iptcCore:CreatorCity": "Paris",
    "XMP-iptcCore:CreatorWorkEmail": "jane@example.com",
    "XMP-xmpMM:HistoryAction": ["created", "saved"],
}
IPTC = {
    "IPTC:Keywords": ["sunset", "bay", "Zoë's trip"],
    "IPTC:By-line": "Jane Doe",
    "IPTC:Caption-Abstract": "An IPTC caption",
    "IPTC:CodedCharacterSet": "UTF8",
    "IPTC:DateCreated": "2020:01:01",
}
LE = {"File:ExifByteOrder": "Little-endian (Intel, II)"}
BE = {"File:ExifByteOrder": "Big-endian (Motorola, MM)"}

EXPECTED: dict[str, dict[str, str | list[str]]] = {
    "exif_le.jpg": {"File:FileType": "JPEG", **LE, **EXIF_COMMON, **GPS, **INTEROP_IFD1},
    "exif_be.jpg": {"File:FileType": "JPEG", **BE, **EXIF_COMMON, **GPS, **INTEROP_IFD1},
    "xmp.jpg": {"File:FileType": "JPEG", **XMP},
    "xmp_extended.jpg": {"File:FileType": "JPEG", "XMP-dc:Title": "Extended XMP fixture"},
    "iptc.jpg": {"File:FileType": "JPEG", **IPTC},
    "photo.jpg": {
        "File:FileType": "JPEG", **LE, **EXIF_COMMON, **GPS, **INTEROP_IFD1, **XMP, **IPTC,
    },
    "strips_le.tif": {
        "File:FileType": "TIFF", **LE, **EXIF_COMMON, **GPS, **XMP, **IPTC,
        "IFD0:RowsPerStrip": "12", "IFD0:StripByteCounts": "2304 2304 2304 2304",
    },
    "tiles_be.tif": {
        "File:FileType": "TIFF", **BE, **EXIF_COMMON, "IFD0:TileWidth": "16",
        "IFD0:TileLength": "16", "XMP-dc:Title": "Tiled TIFF", "XMP-xmp:Rating": "3",
    },
    "multipage.tif": {
        "File:FileType": "TIFF", **LE, "IFD0:Model": "Two Pages", "IFD0:PageNumber": "0 2",
        "IFD1:PageNumber": "1 2", "IFD1:ImageWidth": "32", "ExifIFD:ISO": "400",
        "XMP-dc:Title": "Two pages",
    },
    "exif_xmp.png": {
        "File:FileType": "PNG", **BE, **EXIF_COMMON, **GPS, "PNG:Comment": "A PNG tEXt comment",
        "XMP-dc:Title": "PNG fixture", "XMP-dc:Subject": ["png", "exif"],
    },
    "exif_xmp.webp": {
        "File:FileType": "Extended WEBP", **LE, **EXIF_COMMON, **GPS,
        "RIFF:WebP_Flags": "XMP, EXIF", "XMP-dc:Title": "WebP fixture", "XMP-xmp:Rating": "5",
    },
    "exif_xmp.heic": {
        "File:FileType": "HEIC", **BE, **EXIF_COMMON, **GPS, "XMP-dc:Title": "HEIF fixture",
    },
    "exif_xmp.avif": {
        "File:FileType": "AVIF", **BE, **EXIF_COMMON, **GPS, "XMP-dc:Title": "HEIF fixture",
    },
    "truncated_exif.jpg": {"File:FileType": "JPEG", "ExifTool:Warning": "JPEG format error"},
    "truncated_scan.jpg": {"File:FileType": "JPEG", **EXIF_COMMON, **GPS, **INTEROP_IFD1},
    "ifd_loop.jpg": {
        "File:FileType": "JPEG", **EXIF_COMMON,
        "ExifTool:Warning": "IFD2 pointer references previous IFD0 directory",
    },
    # Maker notes in TIFF (issue 4): absolute offsets (Canon), own TIFF header (Nikon type 3).
    **{f"makernote_canon_{o}.tif": {
        "File:FileType": "TIFF", **order, "IFD0:Make": "Canon", "Canon:CanonModelID": "EOS 5D",
        "Canon:OwnerName": "metafs fixture owner",
        "Canon:CanonFirmwareVersion": "Firmware Version 1.1.1",
    } for o, order in (("le", LE), ("be", BE))},
    **{f"makernote_nikon_{o}.tif": {
        "File:FileType": "TIFF", **order, "IFD0:Make": "NIKON CORPORATION",
        "Nikon:MakerNoteVersion": "2.10", "Nikon:Quality": "Fine", "Nikon:FocusMode": "AF-S",
    } for o, order in (("le", LE), ("be", BE))},
}


def _as_text(value: object) -> str | list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


@pytest.fixture(scope="module")
def exiftool_info() -> dict[str, dict]:
    assert shutil.which("exiftool"), "exiftool is missing: run scripts/setup"
    files = sorted(EXPECTED)
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", *files],
        cwd=FIXTURES, capture_output=True, text=True, check=False,
    ).stdout
    return {d["SourceFile"]: d for d in json.loads(out, parse_float=str, parse_int=str)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_holds_what_readme_says(name: str, exiftool_info: dict[str, dict]) -> None:
    got = exiftool_info[name]
    for key, want in EXPECTED[name].items():
        assert key in got, f"{name}: {key} missing"
        assert _as_text(got[key]) == want, f"{name}: {key}"


def test_corrupt_fixtures_lack_what_they_should(exiftool_info: dict[str, dict]) -> None:
    assert "IFD0:Make" not in exiftool_info["truncated_exif.jpg"]
    assert "ExifTool:Warning" not in exiftool_info["truncated_scan.jpg"]
    assert not (FIXTURES / "truncated_scan.jpg").read_bytes().endswith(b"\xff\xd9")
    # The loop is only met after IFD1, so everything (thumbnail included) is still readable.
    assert "IFD1:ThumbnailImage" in exiftool_info["ifd_loop.jpg"]


def test_extended_xmp_is_split_over_segments(exiftool_info: dict[str, dict]) -> None:
    info = exiftool_info["xmp_extended.jpg"]
    assert re.fullmatch(r"[0-9A-F]{32}", info["XMP-xmpNote:HasExtendedXMP"])
    desc = info["XMP-dc:Description"]
    assert len(desc) > 65536
    assert desc.startswith("Start of a long description.")
    assert desc.endswith("End of the long description.")
    data = (FIXTURES / "xmp_extended.jpg").read_bytes()
    assert data.count(b"http://ns.adobe.com/xmp/extension/\0") >= 2


@pytest.mark.parametrize(
    ("name", "marker"),
    [("exif_xmp.png", b"eXIf"), ("exif_xmp.png", b"iTXtXML:com.adobe.xmp"),
     ("exif_xmp.webp", b"EXIF"), ("exif_xmp.webp", b"XMP "), ("photo.jpg", b"Photoshop 3.0\0")],
)
def test_container_chunks(name: str, marker: bytes) -> None:
    assert marker in (FIXTURES / name).read_bytes()


def test_readme_lists_every_fixture_and_size_is_small() -> None:
    readme = (FIXTURES / "README.md").read_text()
    # (sub-folders have their own generator and guard: trailers/ -> tests/test_trailers.py)
    files = {p.name for p in FIXTURES.iterdir() if p.is_file() and p.name != "README.md"}
    listed = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.M))
    assert files == listed == set(EXPECTED)
    total = sum((FIXTURES / f).stat().st_size for f in files)
    assert total < 2 * 1024 * 1024
