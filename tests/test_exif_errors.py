"""Refusals of EXIF writes name the real cause and its place (issue 12, item 7): what points
past the end of the data and why (engine.exif.block.dangling_floor), and the offset of the IFD
the patcher refuses to rewrite (engine.exif.patch)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from support.refuse import assert_refused
from support.tiff_builder import build

from engine.containers.tiff_write import plan_tiff
from engine.errors import WriteError
from engine.exif.block import dangling_floor
from engine.exif.ifd import parse_tiff
from engine.exif.patch import IfdEdit, NewEntry, plan_patch
from engine.write.changes import Edits

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# A 10-byte TIFF: the header and IFD0's entry count, 65,535, with no entries after it.
CLAIMS_65535 = b"II*\0\x08\0\0\0\xff\xff"


def test_ifd_claiming_more_entries_than_the_data_holds_is_named() -> None:
    floor = dangling_floor(CLAIMS_65535, parse_tiff(CLAIMS_65535))
    assert floor is not None
    assert (floor.offset, floor.at) == (10, 8)
    assert floor.why == ("IFD0 at offset 8 claims 65535 entries: its table would end at offset "
                         "786434, past the end of the data (10 bytes)")
    with pytest.raises(WriteError) as info:
        plan_tiff(CLAIMS_65535, Edits(exif=[("IFD0", "Artist", "x")]), "t.tif")
    assert "maker note" not in str(info.value)
    assert str(info.value) == (
        "t.tif: offset 8: the file is truncated or damaged: IFD0 at offset 8 claims 65535 "
        "entries: its table would end at offset 786434, past the end of the data (10 bytes); "
        "refusing to write")


def test_ifd_claiming_65535_entries_refused_through_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "t.tif"
    path.write_bytes(CLAIMS_65535)
    msg = assert_refused(path, {"Artist": "x"}, "IFD0 at offset 8 claims 65535 entries")
    assert "maker note" not in msg


def test_value_past_the_end_names_its_tag() -> None:
    data = bytearray(build([[(0x0100, 3, [4]), (0x010F, 2, "A long maker name")]]))
    struct.pack_into("<I", data, 8 + 2 + 12 + 8, len(data) + 4)  # Make's value offset
    floor = dangling_floor(bytes(data), parse_tiff(bytes(data)))
    assert floor is not None
    assert (floor.offset, floor.at) == (len(data) + 4, 8 + 2 + 12)
    assert floor.why == (f"IFD0 tag 0x010f has a value at offset {len(data) + 4} (18 bytes) "
                         f"that runs past the end of the data ({len(data)} bytes)")


def _with_makernote(past: int) -> bytes:
    """An EXIF block whose maker note (a Canon-like IFD, offsets from the TIFF header) has one
    value ``past`` bytes after the block's end."""
    def block(value_at: int) -> bytes:
        note = struct.pack("<HHHII", 1, 1, 7, 100, value_at) + bytes(4)
        return build([[(0x010F, 2, "Cam"), ("sub", 0x8769, [(0x927C, 7, note)])]])

    size = len(block(0))
    return block(size + past)


def test_makernote_value_past_the_end_is_named() -> None:
    data = _with_makernote(2)
    st = parse_tiff(data)
    mn = next(e for e in st.get("ExifIFD").entries if e.tag == 0x927C)
    floor = dangling_floor(data, st)
    assert floor is not None
    assert (floor.offset, floor.at) == (len(data) + 2, mn.entry_offset)
    assert floor.why == (f"the maker note at offset {mn.value_offset} has a value at offset "
                         f"{len(data) + 2} (100 bytes) that runs past the end of the data "
                         f"({len(data)} bytes)")


def test_makernote_value_past_the_end_of_a_jpeg_exif_block(tmp_path: Path) -> None:
    tiff = _with_makernote(2)
    payload = b"Exif\0\0" + tiff
    photo = (FIXTURES / "xmp.jpg").read_bytes()  # no EXIF
    path = tmp_path / "mn.jpg"
    path.write_bytes(photo[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
                     + photo[2:])
    assert_refused(path, {"Artist": "x"}, f"has a value at offset {len(tiff) + 2} (100 bytes) that "
             "runs past the end of the data", "growing the block would make that pointer read")


def test_patch_refusals_carry_the_ifd_offset() -> None:
    data = build([[(0x0100, 3, [4]), (0x010F, 2, "Cam"), (0x010F, 2, "Dup")]])
    st = parse_tiff(data)
    edits = {"IFD0": IfdEdit({0x013B: NewEntry(0x013B, 2, 2, b"x\0")})}
    with pytest.raises(WriteError) as info:
        plan_patch(data, st, edits)
    assert info.value.offset == 8
    assert "IFD0 at offset 8 has unreadable or duplicate entries" in str(info.value)


def test_pointer_to_nowhere_carries_the_pointer_entry_offset() -> None:
    data = bytearray(build([[(0x0100, 3, [4]), ("sub", 0x8825, [(0x0000, 1, [2, 3, 0, 0])])]]))
    struct.pack_into("<I", data, 8 + 2 + 12 + 8, 0xFFFF0)  # the GPS pointer leads nowhere
    data = bytes(data)
    st = parse_tiff(data)
    edits = {"GPS": IfdEdit({0x0001: NewEntry(0x0001, 2, 2, b"N\0")})}
    with pytest.raises(WriteError) as info:
        plan_patch(data, st, edits)
    assert info.value.offset == 8 + 2 + 12
    assert "the GPS pointer in IFD0 points outside the data" in str(info.value)
