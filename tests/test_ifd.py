from __future__ import annotations

import struct

import pytest
from support.tiff_builder import build

from engine.errors import CorruptFileError
from engine.exif.ifd import parse_tiff


@pytest.mark.parametrize("bo", ["<", ">"])
def test_chain_and_sub_ifds(bo: str) -> None:
    data = build(
        [
            [(0x010F, 2, "Canon"), ("sub", 0x8769, [(0x829A, 5, [(1, 250)]),
                                                    ("sub", 0xA005, [(0x0001, 2, "R98")])]),
             ("sub", 0x8825, [(0x0000, 1, [2, 3, 0, 0])])],
            [(0x0103, 3, [6])],
            [(0x0100, 4, [640])],
        ],
        bo=bo,
    )
    st = parse_tiff(data, path="t.tif")
    assert st.byte_order == bo and not st.bigtiff and st.magic == 42
    assert [i.name for i in st.ifds] == ["IFD0", "ExifIFD", "InteropIFD", "GPS", "IFD1", "IFD2"]
    assert st.warnings == []
    make = st.ifds[0].entries[0]
    assert (make.tag, make.type, make.count, make.raw) == (0x010F, 2, 6, b"Canon\0")
    assert make.value_offset is not None  # 6 bytes: not inline
    exp = st.get("ExifIFD").entries[0]
    assert struct.unpack(bo + "II", exp.raw) == (1, 250)
    assert st.get("GPS").parent == "IFD0" and st.get("GPS").parent_tag == 0x8825
    assert st.get("IFD1").next_offset == st.get("IFD2").offset


def test_loop_is_broken() -> None:
    data = bytearray(build([[(0x0100, 4, [1])], [(0x0101, 4, [2])]]))
    ifd1 = parse_tiff(bytes(data)).ifds[1]
    # make IFD1 point back at IFD0
    struct.pack_into("<I", data, ifd1.offset + 2 + 12, 8)
    st = parse_tiff(bytes(data), path="loop.tif")
    assert [i.name for i in st.ifds] == ["IFD0", "IFD1"]
    assert any("loop" in w for w in st.warnings)


def test_sub_ifd_loop_to_itself() -> None:
    data = bytearray(build([[(0x8769, 4, [8])]]))
    st = parse_tiff(bytes(data))
    assert [i.name for i in st.ifds] == ["IFD0"]
    assert any("loop" in w for w in st.warnings)


def test_offsets_past_end_and_absurd_counts() -> None:
    data = bytearray(build([[(0x010F, 2, "Canon"), (0x0110, 2, "A long model name")]]))
    # IFD0's Model value offset far past the end; Make claims a huge count
    struct.pack_into("<I", data, 8 + 2 + 12 + 8, 10_000_000)
    struct.pack_into("<I", data, 8 + 2 + 4, 0x7FFFFFFF)
    st = parse_tiff(bytes(data), path="bad.tif")
    make, model = st.ifds[0].entries
    assert model.raw == b"" and model.value_offset == 10_000_000
    assert len(make.raw) <= len(data)
    assert len(st.warnings) == 2


def test_entry_count_capped_by_data() -> None:
    data = bytearray(build([[(0x0100, 4, [1])]]))
    struct.pack_into("<H", data, 8, 60000)
    st = parse_tiff(bytes(data))
    assert len(st.ifds[0].entries) <= (len(data) - 10) // 12
    assert any("claims 60000 entries" in w for w in st.warnings)


def test_unknown_type_skipped() -> None:
    data = bytearray(build([[(0x0100, 4, [1]), (0x0101, 4, [2])]]))
    struct.pack_into("<H", data, 8 + 2 + 2, 99)
    st = parse_tiff(bytes(data))
    assert [e.tag for e in st.ifds[0].entries] == [0x0101]
    assert any("unknown type 99" in w for w in st.warnings)


def test_first_ifd_out_of_range() -> None:
    data = bytearray(build([[(0x0100, 4, [1])]]))
    struct.pack_into("<I", data, 4, 999_999)
    st = parse_tiff(bytes(data))
    assert st.ifds == [] and st.warnings


def test_value_shortened_at_end() -> None:
    data = build([[(0x0110, 2, "ABCDEFGH")]])
    cut = data[:-4]
    st = parse_tiff(cut)
    e = st.ifds[0].entries[0]
    assert e.raw == b"ABCDE" and e.count == 5


def test_several_sub_ifds() -> None:
    # build a chain IFD0 -> A -> B, then turn A and B into IFD0's two SubIFDs
    data = bytearray(build([[(0x0100, 4, [1]), (0x014A, 4, [0, 0])], [(0x0100, 4, [2])],
                            [(0x0100, 4, [3])]]))
    chain = parse_tiff(bytes(data)).ifds
    ifd0, a, b = (chain[0], chain[-2], chain[-1])
    subifds = ifd0.entries[1]
    struct.pack_into("<II", data, subifds.value_offset, a.offset, b.offset)
    struct.pack_into("<I", data, ifd0.offset + 2 + 12 * 2, 0)  # IFD0 has no next IFD
    struct.pack_into("<I", data, a.offset + 2 + 12, 0)
    st = parse_tiff(bytes(data))
    assert [i.name for i in st.ifds] == ["IFD0", "SubIFD", "SubIFD1"]
    assert [i.parent_tag for i in st.ifds] == [None, 0x014A, 0x014A]


@pytest.mark.parametrize("head", [b"IIRO", b"IIRS", b"IIU\0"])
def test_raw_magics(head: bytes) -> None:
    data = bytearray(build([[(0x0100, 4, [1])]]))
    data[:4] = head
    st = parse_tiff(bytes(data))
    assert st.ifds[0].entries[0].tag == 0x0100


def test_bigtiff() -> None:
    bo = "<"
    entries = struct.pack(bo + "HHQQ", 0x0100, 4, 1, 640)
    entries += struct.pack(bo + "HHQQ", 0x010F, 2, 12, 16 + 8 + 2 * 20 + 8)
    ifd = struct.pack(bo + "Q", 2) + entries + struct.pack(bo + "Q", 0)
    data = b"II" + struct.pack(bo + "HHHQ", 43, 8, 0, 16) + ifd + b"Hello World\0"
    st = parse_tiff(data)
    assert st.bigtiff
    w, make = st.ifds[0].entries
    assert struct.unpack("<I", w.raw[:4])[0] == 640
    assert make.raw == b"Hello World\0"


def test_not_tiff() -> None:
    with pytest.raises(CorruptFileError):
        parse_tiff(b"GIF89a....", path="x.gif")
    with pytest.raises(CorruptFileError):
        parse_tiff(b"II\x2b\x00", path="short")


def test_memoryview_input() -> None:
    data = build([[(0x010F, 2, "Canon")]])
    st = parse_tiff(memoryview(data))
    assert st.ifds[0].entries[0].raw == b"Canon\0"
