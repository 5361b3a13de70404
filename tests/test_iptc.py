"""IPTC IIM parse/render and decoding as ExifTool 12.57 prints it.

Expected values were taken from ``exiftool -j -G1 -a`` on JPEGs holding these blocks.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.oracles import as_exiftool_json

from engine.iptc.iim import Dataset, decode_iptc, parse_iim, render_iim

UTF8_BLOCK = [
    Dataset(1, 90, b"\x1b%G"), Dataset(2, 0, b"\x00\x04"),
    Dataset(2, 5, "Caf\u00e9 \u2603".encode()), Dataset(2, 10, b"1"),
    Dataset(2, 25, b"alpha"), Dataset(2, 25, "b\u00e9ta".encode()), Dataset(2, 80, b"Ann"),
    Dataset(2, 55, b"20200101"), Dataset(2, 60, b"100000+0200"),
    Dataset(2, 62, b"19991231"), Dataset(2, 63, b"235959-0530"),
    Dataset(2, 120, b"Line1\nLine2"), Dataset(2, 200, b"\x00\x0b"),
    Dataset(2, 202, b"\x01\x02\x03"), Dataset(2, 221, b"0:1:3:-00001"),
]

UTF8_EXIFTOOL = {
    "IPTC:CodedCharacterSet": "UTF8",
    "IPTC:ApplicationRecordVersion": "4",
    "IPTC:ObjectName": "Caf\u00e9 \u2603",
    "IPTC:Urgency": "1 (most urgent)",
    "IPTC:Keywords": ["alpha", "b\u00e9ta"],
    "IPTC:By-line": ["Ann"],
    "IPTC:DateCreated": "2020:01:01",
    "IPTC:TimeCreated": "10:00:00+02:00",
    "IPTC:DigitalCreationDate": "1999:12:31",
    "IPTC:DigitalCreationTime": "23:59:59-05:30",
    "IPTC:Caption-Abstract": "Line1\nLine2",
    "IPTC:ObjectPreviewFileFormat": "JPEG File Interchange (JFIF)",
    "IPTC:ObjectPreviewData": "(Binary data 3 bytes)",
    "IPTC:Prefs": "Tagged:0, ColorClass:1, Rating:3, FrameNum:-00001",
}

LATIN_BLOCK = [
    Dataset(2, 0, b"\x00\x02"), Dataset(2, 5, b"Caf\xe9 \x80 \x81"), Dataset(2, 25, b"na\xefve"),
    Dataset(1, 90, b"\x1b(B"), Dataset(2, 20, b"Sup1"), Dataset(2, 20, b"Sup2"),
    Dataset(2, 105, b"Head\0\0"),
]

LATIN_EXIFTOOL = {
    "IPTC:ApplicationRecordVersion": "2",
    "IPTC:ObjectName": "Caf\u00e9 \u20ac \x81",  # cp1252, its holes kept as Latin-1
    "IPTC:Keywords": ["na\u00efve"],
    "IPTC:CodedCharacterSet": "ESC ( B",
    "IPTC:SupplementalCategories": ["Sup1", "Sup2"],
    "IPTC:Headline": "Head",
}


def _json(block: bytes) -> tuple[dict, list[str]]:
    tags, warnings = decode_iptc(block, path="t.jpg")
    return as_exiftool_json(tags, "t.jpg", "JPEG"), warnings


@pytest.mark.parametrize(("datasets", "expected"), [(UTF8_BLOCK, UTF8_EXIFTOOL),
                                                    (LATIN_BLOCK, LATIN_EXIFTOOL)])
def test_decode_matches_exiftool(datasets: list[Dataset], expected: dict) -> None:
    got, warnings = _json(render_iim(datasets))
    assert warnings == []
    assert got == expected
    assert list(got) == list(expected)


def test_paths_and_flags() -> None:
    tags, _ = decode_iptc(render_iim(UTF8_BLOCK), path="t.jpg")
    by_path = {t.path: t for t in tags}
    assert by_path["iptc/Keywords"].value == ["alpha", "b\u00e9ta"]
    assert by_path["iptc/ObjectPreviewData"].binary_size == 3
    assert not by_path["iptc/ObjectPreviewData"].writable
    assert {t.group for t in tags} == {"IPTC"}


def test_round_trip_with_extended_length() -> None:
    big = Dataset(2, 202, bytes(range(256)) * 200)  # 51200 bytes needs an extended length
    block = render_iim([*UTF8_BLOCK, big])
    datasets, warnings, end = parse_iim(block)
    assert warnings == [] and end == len(block)
    assert datasets[-1].data == big.data and datasets[-1].ext_len_size == 4
    assert render_iim(datasets) == block
    got, _ = _json(block)
    assert got["IPTC:ObjectPreviewData"] == "(Binary data 51200 bytes)"


def test_small_extended_length_is_kept() -> None:
    block = b"\x1c\x02\x05\x80\x02\x00\x03abc"
    datasets, warnings, _ = parse_iim(block)
    assert datasets == [Dataset(2, 5, b"abc", 2)] and warnings == []
    assert render_iim(datasets) == block


def test_trailing_nul_padding_is_quiet() -> None:
    datasets, warnings, end = parse_iim(render_iim(UTF8_BLOCK[:3]) + b"\0" * 7)
    assert len(datasets) == 3 and warnings == []


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"\x1c\x02\x05\x00\x10abc", "runs past the end"),
        (b"\x1c\x02\x05\x00\x03abcXYZZY", "bad dataset marker"),
        (b"\x1c\x02\x05\x80\x09" + b"\0" * 9, "bad extended length"),
        (b"\x1c\x05\x05\x00\x01a", "unrecognized record 5"),
    ],
)
def test_damaged_blocks_warn(block: bytes, message: str) -> None:
    tags, warnings = decode_iptc(block, path="bad.jpg")
    assert any(message in w and "bad.jpg" in w for w in warnings)


def test_repeated_single_dataset_later_wins() -> None:
    got, warnings = _json(render_iim([Dataset(2, 5, b"one"), Dataset(2, 5, b"two")]))
    assert got["IPTC:ObjectName"] == "two"
    assert any("more than once" in w for w in warnings)


@given(st.binary(max_size=300))
def test_never_crashes(data: bytes) -> None:
    decode_iptc(data, path="fuzz")
    datasets, _, end = parse_iim(data)
    assert render_iim(datasets) == data[:end]
