"""Issue 16, item 2: vendor boxes and chunks metafs does not know are kept, not refused.

- HEIF: an unknown top-level box (Samsung ``sefd`` after ``mdat``) is kept byte for byte and
  moves with the file; ``iloc`` extents inside an unknown box follow it; ``moov`` (absolute
  sample offsets) is still refused (tests/test_write_heif.py).
- PNG: a bad CRC in an ancillary chunk: the chunk is kept as it is and the write goes on (the
  reader's warning stays); a bad CRC in a critical chunk, or in the chunk the write would
  rebuild, still refuses.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.containers import heif as H
from engine.errors import WriteError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.builders import box, png_chunk  # noqa: E402
from support.heif_builder import build_heif, check_same_items  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None,
                                    reason="exiftool not installed")
# a Samsung SEF trailer as Samsung phones put it in a top-level 'sefd' box
SEFD = (struct.pack("<HHI", 0, 0x0A01, 14) + b"Image_UTC_Data" + b"1428432000000"
        + b"SEFH" + struct.pack("<IIHHII", 101, 1, 0, 0x0A01, 35, 35)
        + struct.pack("<I", 24) + b"SEFT")


def et(path: Path) -> dict:
    r = subprocess.run(["exiftool", "-j", "-G1", "-a", "-u", "-x", "System:all",
                        "-x", "File:all", str(path)], capture_output=True, text=True, check=False)
    return json.loads(r.stdout)[0]


def _warnings(d: dict) -> set[str]:
    return {str(v) for k, v in d.items() if k.endswith(":Warning")}


@pytest.mark.parametrize("where", ["after_mdat", "before_mdat"])
def test_heif_vendor_box_is_kept_and_moved(tmp_path: Path, where: str) -> None:
    data = build_heif()
    tops = H.parse_boxes(data).boxes
    mdat = next(b for b in tops if b.type == b"mdat")
    sefd = box(b"sefd", SEFD)
    if where == "after_mdat":
        data = data + sefd
    else:  # between meta and mdat: the iloc offsets into mdat must follow the sefd too
        data = data[: mdat.offset] + sefd + data[mdat.offset :]
        data = _shift_iloc(data, len(sefd))
    path = tmp_path / "vendor.heic"
    path.write_bytes(data)
    original = path.read_bytes()
    assert engine.read_metadata(path).tags["Make"].value == "Synth"
    engine.write_metadata(path, {"Artist": "new", "xmp/dc:title": "new"}, backup=False)
    md = engine.read_metadata(path)
    assert md.tags["Artist"].value == "new" and md.tags["Make"].value == "Synth"
    check_same_items(path, original)
    new = path.read_bytes()
    assert [b.type for b in H.parse_boxes(new).boxes].count(b"sefd") == 1
    assert sefd in new


@needs_exiftool
def test_heif_vendor_box_exiftool_view(tmp_path: Path) -> None:
    path = tmp_path / "vendor.heic"
    path.write_bytes(build_heif() + box(b"sefd", SEFD))
    before = et(path)
    engine.write_metadata(path, {"Artist": "new"}, backup=False)
    after = et(path)
    assert after["IFD0:Artist"] == "new"
    assert _warnings(after) <= _warnings(before)


def test_heif_items_inside_an_unknown_box_follow_it(tmp_path: Path) -> None:
    """Every item's data in a vendor box instead of 'mdat': the box moves when 'meta'
    grows and the iloc extents pointing into it move with it."""
    data = build_heif()
    mdat = next(b for b in H.parse_boxes(data).boxes if b.type == b"mdat")
    data = data[: mdat.offset + 4] + b"vndr" + data[mdat.offset + 8 :]
    path = tmp_path / "vendor.heic"
    path.write_bytes(data)
    original = path.read_bytes()
    engine.write_metadata(path, {"Artist": "a much longer artist name " * 8}, backup=False)
    check_same_items(path, original)
    assert engine.read_metadata(path).tags["Make"].value == "Synth"


def _shift_iloc(data: bytes, by: int) -> bytes:
    meta = next(b for b in H.parse_boxes(data).boxes if b.type == b"meta")
    iloc_box = meta.find(b"iloc")
    iloc = H.parse_iloc(iloc_box.body())
    items = [H.ItemLocation(i.item_id, i.construction_method, i.data_reference_index,
                            i.base_offset,
                            [(x, off + by if i.construction_method == 0 else off, n)
                             for x, off, n in i.extents]) for i in iloc.items]
    new = H.render_iloc(H.Iloc(iloc.version, iloc.flags, iloc.offset_size, iloc.length_size,
                               iloc.base_offset_size, iloc.index_size, items))
    assert len(new) == iloc_box.body_len
    return data[: iloc_box.data_offset] + new + data[iloc_box.data_offset + len(new) :]


# -- PNG ----------------------------------------------------------------------------------

def _png_with(tmp_path: Path, extra: bytes, name: str = "crc.png") -> Path:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    at = data.find(b"IDAT") - 4
    path = tmp_path / name
    path.write_bytes(data[:at] + extra + data[at:])
    return path


def test_png_bad_crc_in_ancillary_chunk_is_kept(tmp_path: Path) -> None:
    bad = png_chunk(b"tEXt", b"Comment\0kept as it is", crc=0x12345678)
    path = _png_with(tmp_path, bad)
    warned = engine.read_metadata(path).warnings
    assert any("bad CRC in chunk tEXt" in w for w in warned)
    engine.write_metadata(path, {"Artist": "new", "xmp/dc:title": "new"}, backup=False)
    new = path.read_bytes()
    assert bad in new
    md = engine.read_metadata(path)
    assert md.tags["Artist"].value == "new" and md.tags["xmp/dc:title"].value == "new"
    assert any("bad CRC in chunk tEXt" in w for w in md.warnings)


def test_png_bad_crc_in_critical_chunk_refuses(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    bad = bytearray(data)
    bad[8 + 8 + 13] ^= 0xFF  # the IHDR's CRC
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(bad))
    with pytest.raises(WriteError, match=r"the PNG is damaged \(PNG: bad CRC in chunk IHDR at "
                       r"offset 8\); refusing to write"):
        engine.write_metadata(path, {"Artist": "new"}, backup=False)
    assert path.read_bytes() == bytes(bad)


def test_png_bad_crc_in_the_chunk_to_rebuild_refuses(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    at = data.find(b"eXIf") - 4
    assert at > 0
    n = struct.unpack_from(">I", data, at)[0]
    bad = bytearray(data)
    bad[at + 8 + n] ^= 0xFF
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(bad))
    with pytest.raises(WriteError, match=rf"the PNG eXIf chunk at offset {at} that holds the "
                       "EXIF has a bad CRC; refusing to rewrite it"):
        engine.write_metadata(path, {"Artist": "new"}, backup=False)
    assert path.read_bytes() == bytes(bad)
