"""IIM blocks after the first (issue 14): ExifTool shows them under IPTC2, IPTC3...; metafs
reads them into the read-only ``iptc2`` part, keeps the first in ``iptc/`` and writes only
that one."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import engine
from engine.reader import ALL_PARTS, read_metadata_from

sys.path.insert(0, str(Path(__file__).parent))
from support.builders import segment  # noqa: E402

SOF0 = segment(0xC0, struct.pack(">BHHB", 8, 48, 64, 3) + bytes([1, 0x22, 0, 2, 0x11, 1,
                                                                   3, 0x11, 1]))


def dataset(rec: int, ds: int, data: bytes) -> bytes:
    return struct.pack(">BBBH", 0x1C, rec, ds, len(data)) + data


def resource(rid: int, data: bytes) -> bytes:
    return (b"8BIM" + struct.pack(">H", rid) + b"\0\0" + struct.pack(">I", len(data)) + data
            + b"\0" * (len(data) & 1))


def fotostation(rec: int, data: bytes) -> bytes:
    return data + struct.pack(">HI", rec, len(data) + 10) + b"\xa1\xb2\xc3\xd4"


def photo() -> bytes:
    first = dataset(2, 0, b"\0\4") + dataset(2, 25, b"one") + dataset(2, 25, b"two")
    second = dataset(2, 0, b"\0\4") + dataset(2, 110, b"Credit two")
    third = (dataset(2, 80, b"By three") + dataset(2, 25, b"k3")
             + dataset(2, 200, b"Custom Field 01"))  # an int16u of 15 bytes: kept as text
    irb = resource(0x0404, first) + resource(0x03ED, bytes(16)) + resource(0x0404, second) \
        + resource(0x0404, third)
    trailer = fotostation(1, dataset(2, 0, b"\0\2") + dataset(2, 5, b"Foto title"))
    return (b"\xff\xd8" + segment(0xED, b"Photoshop 3.0\0" + irb) + SOF0
            + b"\xff\xda\0\x02\xff\xd9" + trailer)


def g1(md: engine.Metadata) -> dict[str, object]:
    out: dict[str, object] = {}
    for t in md.tags.values():
        out.setdefault(f"{t.group}:{t.name}", t.value)
    return out


def test_later_blocks_as_exiftool_groups_them(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(photo())
    ours = {k: v for k, v in g1(read_metadata_from(path.read_bytes(), str(path), ALL_PARTS))
            .items() if k.startswith("IPTC")}
    out = subprocess.run(["exiftool", "-j", "-G1", "-a", "-IPTC:all", str(path)],
                         capture_output=True, text=True, check=True).stdout
    theirs = {k: v if isinstance(v, list) else str(v)
              for k, v in json.loads(out)[0].items() if k.startswith("IPTC")}
    ours = {k: v if isinstance(v, list) and len(v) > 1 else
            (v[0] if isinstance(v, list) else v) for k, v in ours.items()}
    assert ours == theirs
    assert ours["IPTC2:Credit"] == "Credit two" and ours["IPTC4:ObjectName"] == "Foto title"
    assert ours["IPTC3:ObjectPreviewFileFormat"] == "Unknown (Custom Field 01)"


def test_the_first_block_stays_the_one_written(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(photo())
    md = engine.read_metadata(path)  # the default parts: the first block only, writable
    assert md.tags["iptc/Keywords"].value == ["one", "two"] and md.tags["iptc/Keywords"].writable
    assert not any(t.group != "IPTC" for p, t in md.tags.items() if p.startswith("iptc"))
    engine.write_metadata(path, {"iptc/Keywords": "new"}, backup=False)
    md = engine.read_metadata(path, ALL_PARTS)
    assert md.tags["iptc/Keywords"].value == ["new"]
    assert md.tags["iptc2/Credit"].value == "Credit two"
    assert not md.tags["iptc2/Credit"].writable
    assert g1(md)["IPTC3:By-line"] == ["By three"]


def test_broken_later_blocks_are_tolerated() -> None:
    data = photo()
    for cut in range(len(data) - 40, len(data)):
        read_metadata_from(data[:cut] + data[cut + 1:], "x.jpg", ALL_PARTS)  # never raises
