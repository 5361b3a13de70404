from __future__ import annotations

import struct

import pytest
from support.tiff_builder import build

from engine.exif.conversions import convert
from engine.exif.decode import decode_exif
from engine.exif.printing import read_value
from engine.exif.tables import EXIF_TAGS
from engine.printconv import Binary


def tags_of(data: bytes, **kw) -> dict[str, object]:
    res = decode_exif(data, path="t.jpg", **kw)
    return {t.path: t for t in res.tags}


def _sample(bo: str) -> bytes:
    """A TIFF block with IFD0, ExifIFD, InteropIFD, GPS and IFD1 tags of every kind."""
    return build(
        [
            [
                (0x010F, 2, "Canon  "),
                (0x0112, 3, [6]),
                (0x011A, 5, [(72, 1)]),
                ("sub", 0x8769, [
                    (0x829A, 5, [(1, 500)]),
                    (0x829D, 5, [(49, 10)]),
                    (0x9000, 7, b"0220"),
                    (0x9101, 7, b"\1\2\3\0"),
                    (0x9204, 10, [(-1, 3)]),
                    (0x9201, 10, [(897, 100)]),
                    (0x9202, 5, [(4643856, 1000000)]),
                    (0x920A, 5, [(213, 10)]),
                    (0x9209, 3, [24]),
                    (0x9286, 7, b"ASCII\0\0\0hello  "),
                    (0xA001, 3, [0x1234]),
                    (0x927C, 7, b"\1\2\3\4binary maker note"),
                    ("sub", 0xA005, [(0x0001, 2, "R98"), (0x0002, 7, b"0100")]),
                    (0xEEEE, 3, [7]),
                ]),
                ("sub", 0x8825, [
                    (0x0000, 1, [2, 3, 0, 0]),
                    (0x0001, 2, "N"),
                    (0x0002, 5, [(37, 1), (46, 1), (2964, 100)]),
                    (0x0006, 5, [(0, 0)]),
                    (0x0007, 5, [(14, 1), (34, 1), (2307, 100)]),
                ]),
            ],
            [(0x0103, 3, [6]), (0x0201, 4, [0]), (0x0202, 4, [4]), (0x0112, 3, [1])],
        ],
        bo=bo,
    )


SAMPLE_VALUES = {
    "Make": "Canon",
    "Orientation": "Rotate 90 CW",
    "XResolution": "72",
    "ExposureTime": "1/500",
    "FNumber": "4.9",
    "ExifVersion": "0220",
    "ComponentsConfiguration": "Y, Cb, Cr, -",
    "ExposureCompensation": "-1/3",
    "ShutterSpeedValue": "1/501",
    "ApertureValue": "5.0",
    "FocalLength": "21.3 mm",
    "Flash": "Auto, Did not fire",
    "UserComment": "hello",
    "ColorSpace": "Unknown (0x1234)",
    "InteropIndex": "R98 - DCF basic file (sRGB)",
    "InteropVersion": "0100",
    "Exif_0xeeee": "7",
    "GPSVersionID": "2.3.0.0",
    "GPSLatitudeRef": "North",
    "GPSLatitude": "37 deg 46' 29.64\"",
    "GPSAltitude": "undef",
    "GPSTimeStamp": "14:34:23.07",
    "ifd1/Compression": "JPEG (old-style)",
    "ifd1/Orientation": "Horizontal (normal)",
}
SAMPLE_GROUPS = {
    "Make": "IFD0",
    "ExposureTime": "ExifIFD",
    "InteropIndex": "InteropIFD",
    "Exif_0xeeee": "ExifIFD",
    "ifd1/Compression": "IFD1",
}


@pytest.mark.parametrize("bo", ["<", ">"])
def test_paths_groups_and_values(bo: str) -> None:
    t = tags_of(_sample(bo))
    assert {p: t[p].value for p in SAMPLE_VALUES} == SAMPLE_VALUES
    assert {p: t[p].group for p in SAMPLE_GROUPS} == SAMPLE_GROUPS
    assert t["MakerNote"].binary_size == 21 and not t["MakerNote"].writable
    assert t["ifd1/ThumbnailOffset"].writable is False
    assert t["ifd1/ThumbnailImage"].binary_size == 4
    assert "ExifOffset" not in t and "GPSInfo" not in t


def test_gps_altitude_undef() -> None:
    assert convert("GPSAltitude", "undef", None) == "undef"
    assert convert("GPSAltitude", "252", None) == "252 m"


def test_xmp_and_iptc_blocks_are_returned() -> None:
    xmp = b"<x:xmpmeta/>"
    iptc = b"\x1c\x02\x00\x00\x02\x00\x04"
    data = build([[(0x02BC, 1, xmp), (0x83BB, 7, iptc), (0x010F, 2, "X")]])
    res = decode_exif(data, path="t.tif")
    assert res.xmp == xmp and res.iptc == iptc
    assert [t.name for t in res.tags] == ["Make"]


def test_iptc_from_photoshop_block() -> None:
    iptc = b"\x1c\x02\x00\x00\x02\x00\x04"
    irb = b"8BIM\x04\x04\0\0" + struct.pack(">I", len(iptc)) + iptc + b"\0"
    res = decode_exif(build([[(0x8649, 1, irb)]]), path="t.tif")
    assert res.iptc == iptc


def test_text_maker_note_and_offsets_relative_to_file() -> None:
    data = build([[("sub", 0x8769, [(0x927C, 7, b"RIM0RD00\n\0")])],
                  [(0x0201, 4, [100]), (0x0202, 4, [10])]])
    t = tags_of(data, base_offset=30)
    assert t["MakerNoteUnknownText"].value == "RIM0RD00\n"
    assert t["ifd1/ThumbnailOffset"].value == "130"


def test_garbage_never_raises() -> None:
    data = build([[(0x010F, 2, "Canon"), ("sub", 0x8769, [(0x829A, 5, [(1, 0)])])]])
    for cut in range(0, len(data)):
        decode_exif(data[:cut], path="t")
    res = decode_exif(b"not tiff", path="t")
    assert res.tags == [] and res.warnings


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ExposureTime", "0.3", "0.3"),
        ("ExposureTime", "2", "2"),
        ("ExposureTime", "0.25", "1/4"),
        ("ExposureTime", "4294967295", "4294967295"),
        ("ExposureTime", "inf", "inf"),
        ("FNumber", "0.95", "0.95"),
        ("FNumber", "16", "16.0"),
        ("ExposureCompensation", "0", "0"),
        ("ExposureCompensation", "0.6666666667", "+2/3"),
        ("ExposureCompensation", "-1.5", "-3/2"),
        ("ExposureCompensation", "0.3", "+0.3"),
        ("ExposureCompensation", "-2", "-2"),
        ("ShutterSpeedValue", "8.965784", "1/500"),
        ("MaxApertureValue", "2.97", "2.8"),
        ("SubjectDistance", "inf", "inf"),
        ("SubjectDistance", "2.453", "2.453 m"),
        ("FocalLengthIn35mmFormat", "26", "26 mm"),
        ("ISO", "100 200", "100, 200"),
        ("LensInfo", "24 70 2.8 2.8", "24-70mm f/2.8"),
        ("LensInfo", "70 200 undef undef", "70-200mm f/?"),
        ("LensInfo", "18 55 3.5 5.6", "18-55mm f/3.5-5.6"),
        ("GPSLatitude", "89.99999999 0 0", "90 deg 0' 0.00\""),
        ("GPSLatitude", "", ""),
        ("GPSTimeStamp", "23 59 59.9999999", "23:59:60"),
        ("GPSTimeStamp", "23 59 60", "24:00:00"),
        ("GPSTimeStamp", "7 11 43.07", "07:11:43.07"),
        ("GPSDateStamp", b"2018:07:25\0", "2018:07:25"),
        ("LightSource", "99", "Unknown (99)"),
        ("SampleFormat", "1 1 1", "Unsigned; Unsigned; Unsigned"),
        ("SubfileType", "1", "Reduced-resolution image"),
        ("YCbCrSubSampling", "2 2", "YCbCr4:2:0 (2 2)"),
        ("DNGVersion", "1 1 0 0", "1.1.0.0"),
        ("Copyright", b"Photo \0Editor\0", "Photo\nEditor"),
        ("Copyright", b"Me\0", "Me"),
        ("XPTitle", "Tïtle ✓".encode("utf-16-le") + b"\0\0", "Tïtle ✓"),
        ("UserComment", b"UNICODE\0" + "héllo".encode("utf-16-le"), "héllo"),
        ("UserComment", b"\0" * 8 + b"   ", ""),
        ("StripOffsets", " ".join(["123456"] * 6), Binary(41)),
        ("Artist", "Bob  ", "Bob"),
        ("GPSSatellites", "04  ", "04  "),
        ("RawDataUniqueID", b"\x03\x58\xdb", "0358DB"),
    ],
)
def test_print_conversions(name: str, value, expected) -> None:
    values_key = next(
        (v[5] for tid, vs in EXIF_TAGS.items() for v in vs if v[0] == name), None
    )
    assert convert(name, value, values_key) == expected


def test_cfa_pattern_both_orders() -> None:
    assert convert("CFAPattern", b"\2\0\2\0\0\1\1\2", None, "<") == "[Red,Green][Green,Blue]"
    assert convert("CFAPattern", b"\0\2\0\2\2\1\1\0", None, ">") == "[Blue,Green][Green,Red]"


@pytest.mark.parametrize(
    ("fmt", "raw", "expected"),
    [
        ("rational64u", struct.pack("<II", 1, 3), "0.3333333333"),
        ("rational64u", struct.pack("<II", 1, 0), "inf"),
        ("rational64u", struct.pack("<II", 0, 0), "undef"),
        ("rational64s", struct.pack("<ii", -5, 2), "-2.5"),
        ("float", struct.pack("<f", 2.2), "2.20000004768372"),
        ("double", struct.pack("<d", 0.1), "0.1"),
        ("int16u", struct.pack("<3H", 8, 8, 8), "8 8 8"),
        ("int8s", b"\xff", "-1"),
        ("string", b"abc\0def", "abc"),
        ("undef", b"\x01\x02", b"\x01\x02"),
    ],
)
def test_read_value(fmt: str, raw: bytes, expected) -> None:
    assert read_value(fmt, raw, "<") == expected

