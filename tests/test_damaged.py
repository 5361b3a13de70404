"""Writes to damaged files (issue #10, items 8 and 9): whatever ExifTool calls damaged where
the write would touch is refused with a message naming the file, the structure and the offset,
the file left byte-identical; what metafs writes to a file ExifTool reads as fine, ExifTool
sees (ExifTool 12.57's view of each crafted case is noted with it)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest
from support.refuse import assert_refused
from support.tiff_builder import build

import engine
from engine.containers import heif as H
from engine.containers import jpeg as J
from engine.exif.ifd import parse_tiff

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


def _pointer(data: bytearray, base: int, st, ifd: str, tag: int, value: int) -> None:
    e = next(e for e in st.get(ifd).entries if e.tag == tag)
    struct.pack_into(st.byte_order + "I", data, base + e.entry_offset + 8, value)


def test_exif_ifd_pointer_at_the_end_of_a_tiff_is_refused(tmp_path: Path) -> None:
    # ExifTool: "Bad ExifIFD directory"; written, the new IFD0 landed right there ("ExifIFD
    # pointer references previous IFD0")
    data = bytearray((FIXTURES / "makernote_nikon_be.tif").read_bytes())
    _pointer(data, 0, parse_tiff(bytes(data)), "IFD0", 0x8769, len(data))
    path = tmp_path / "a.tif"
    path.write_bytes(data)
    assert_refused(path, {"Artist": "x"}, "TIFF structure is damaged",
                   f"ExifIFD offset {len(data)} is outside the data")
    assert_refused(path, {"xmp/dc:title": "x"}, "ExifIFD offset")  # XMP lives in IFD0 too


def test_exif_ifd_pointer_at_the_end_of_a_jpeg_exif_block_is_refused(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "exif_le.jpg").read_bytes())
    seg = next(s for s in J.parse_jpeg(bytes(data)).segments if J.kind(s) == "exif")
    block = seg.payload[6:]
    _pointer(data, seg.payload_offset + 6, parse_tiff(block), "IFD0", 0x8769, len(block))
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    assert_refused(path, {"Artist": "x"}, f"EXIF block (APP1 segment at offset {seg.offset})",
                   "ExifIFD offset")
    # An XMP write leaves the EXIF block as it is, but ExifTool reads a pointer past its end
    # from the bytes that follow, which the new XMP segment would change
    assert_refused(path, {"xmp/dc:title": "x"}, "ExifIFD offset")


def test_damage_inside_the_exif_block_does_not_stop_an_xmp_write(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "exif_le.jpg").read_bytes())
    seg = next(s for s in J.parse_jpeg(bytes(data)).segments if J.kind(s) == "exif")
    st = parse_tiff(seg.payload[6:])
    e = st.get("IFD0").entries[0]
    struct.pack_into("<H", data, seg.payload_offset + 6 + e.entry_offset + 2, 99)  # bad type
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    assert_refused(path, {"Artist": "x"}, "has unknown type 99")
    engine.write_metadata(path, {"xmp/dc:title": "x"}, sync_related=False, backup=False)
    assert engine.read_metadata(path).get("xmp/dc:title") == "x"  # the EXIF stays as it was


def test_sub_ifd_looping_to_ifd0_is_refused(tmp_path: Path) -> None:
    # ExifTool: "SubIFD pointer references previous SubIFD directory"
    path = tmp_path / "loop.tif"
    path.write_bytes(build([[(0x0100, 4, [1]), (0x0101, 4, [1]), (0x0111, 4, [200]),
                             (0x0117, 4, [1]), (0x014A, 4, [8]), (0x010F, 2, "Cam")]]))
    assert_refused(path, {"Artist": "x"}, "SubIFD at offset 8 was already read (IFD loop)")


def test_unreadable_value_is_not_carried_into_new_data(tmp_path: Path) -> None:
    # A value offset past the end reads nothing; grown, the block would make it read our bytes
    data = bytearray((FIXTURES / "exif_le.jpg").read_bytes())
    seg = next(s for s in J.parse_jpeg(bytes(data)).segments if J.kind(s) == "exif")
    block = seg.payload[6:]
    st = parse_tiff(block)
    e = next(e for e in st.get("IFD0").entries if e.value_offset is not None)
    struct.pack_into(st.byte_order + "I", data, seg.payload_offset + 6 + e.entry_offset + 8,
                     len(block) + 40)
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    assert_refused(path, {"Artist": "x"}, f"tag 0x{e.tag:04x}: value offset {len(block) + 40}")


def test_jpeg_with_garbage_after_soi_is_refused(tmp_path: Path) -> None:
    # ExifTool: "Not a valid JPG" when writing; it does not read the file as a JPEG
    data = (FIXTURES / "photo.jpg").read_bytes()
    path = tmp_path / "g.jpg"
    path.write_bytes(data[:2] + b"garbage!" + data[2:])
    assert_refused(path, {"Artist": "x"}, "garbage at offset 2")
    assert_refused(path, {"xmp/dc:title": "x"}, "garbage at offset 2")


def test_jpeg_with_two_standard_xmp_segments_is_refused_for_xmp(tmp_path: Path) -> None:
    # ExifTool: "Duplicate XMP at JPEG-APP1-XMP", and it refuses to write the file
    layout = J.parse_jpeg((FIXTURES / "xmp.jpg").read_bytes())
    segs = list(layout.segments)
    i = J.find_kind(segs, "xmp")[0]
    segs.insert(i + 1, segs[i])
    path = tmp_path / "two.jpg"
    path.write_bytes(J.render_jpeg(J.JpegLayout(segs, layout.tail_offset, layout.sos_offset),
                                   (FIXTURES / "xmp.jpg").read_bytes()))
    assert_refused(path, {"xmp/dc:title": "x"}, "2 standard XMP APP1 segments")


def _mpf_jpeg(entry_offset_zero: bool) -> bytes:
    """photo.jpg with an MPF index (APP2, first after SOI) listing itself and a second image
    after EOI; optionally with the MP entry list's value offset damaged to 0."""
    photo = (FIXTURES / "photo.jpg").read_bytes()
    second = photo
    entries = struct.pack(">IIIHH", 0x20030000, 0, 0, 0, 0) + struct.pack(">IIIHH", 0, 0, 0,
                                                                             0, 0)
    tiff = bytearray(build([[(0xB000, 7, b"0100"), (0xB001, 4, [2]), (0xB002, 7, entries)]],
                           bo=">"))
    st = parse_tiff(bytes(tiff))
    mp = next(e for e in st.get("IFD0").entries if e.tag == 0xB002)
    seg = J.make_segment(0xE2, b"MPF\0" + bytes(tiff))
    head_len = 2 + len(seg.render())
    first_len = head_len + len(photo) - 2
    struct.pack_into(">I", tiff, mp.value_offset + 4, first_len)
    # offsets count from the MPF header (4 bytes into the APP2 payload: file offset 10)
    struct.pack_into(">II", tiff, mp.value_offset + 16 + 4, len(second), first_len - 10)
    if entry_offset_zero:
        struct.pack_into(">I", tiff, mp.entry_offset + 8, 0)
    seg = J.make_segment(0xE2, b"MPF\0" + bytes(tiff))
    return photo[:2] + seg.render() + photo[2:] + second


def test_mpf_index_pointing_at_its_own_header_is_refused(tmp_path: Path) -> None:
    # ExifTool: "Invalid offset for MPF0 tag 0xb002 MPImageList"; moving the images used to
    # write the new offsets over the MPF directory ("Bad MPF0 directory")
    path = tmp_path / "mpf.jpg"
    path.write_bytes(_mpf_jpeg(True))
    assert_refused(path, {"Artist": "a longer artist name than before"},
                   "MPF (multi-picture) index", "damaged")


def _second_image(data: bytes) -> bytes:
    seg = next(s for s in J.parse_jpeg(data).segments if J.kind(s) == "mpf")
    mp = next(e for e in parse_tiff(seg.payload[4:]).get("IFD0").entries if e.tag == 0xB002)
    size, off = struct.unpack_from(">II", mp.raw, 16 + 4)
    start = seg.payload_offset + 4 + off
    return data[start : start + size]


def test_mpf_index_follows_the_images_it_lists(tmp_path: Path) -> None:
    path = tmp_path / "mpf.jpg"
    path.write_bytes(_mpf_jpeg(False))
    photo = (FIXTURES / "photo.jpg").read_bytes()
    assert _second_image(path.read_bytes()) == photo
    engine.write_metadata(path, {"Artist": "a longer artist name than before"}, backup=False)
    assert _second_image(path.read_bytes()) == photo


def test_strips_over_the_tiff_header_are_refused_with_a_real_message(tmp_path: Path) -> None:
    # item 9: the planner refuses this itself (it used to be caught by the safety check as
    # "internal error: the rewrite would change image data at offset 0")
    path = tmp_path / "s.tif"
    path.write_bytes(build([[(0x0100, 4, [1]), (0x0101, 4, [1]), (0x0111, 4, [0]),
                             (0x0117, 4, [16]), (0x010F, 2, "Cam")]]))
    assert_refused(path, {"Artist": "x"}, "image data of IFD0", "overlaps the TIFF header")


def _heif_exif_item(data: bytes) -> tuple[int, bytes]:
    p = H.parse_boxes(data, "x", lazy=H.LAZY_TYPES)
    meta = next(b for b in p.boxes if b.type == b"meta")
    infos = H.parse_iinf(meta.find(b"iinf").body(data), [])
    iloc = H.parse_iloc(meta.find(b"iloc").body(data))
    ex = next(i for i in infos if i.item_type == b"Exif")
    loc = next(item for item in iloc.items if item.item_id == ex.item_id)
    blob, off = H.item_data(data, loc, meta.find(b"idat"), [])
    return off, blob


def test_heif_exif_item_with_a_wrong_header_offset_is_repaired(tmp_path: Path) -> None:
    # ExifTool 12.57 silently shows no EXIF at all for such an item: an edit kept the wrong
    # offset and ExifTool could not see it.  The offset is repaired on purpose.
    data = bytearray((FIXTURES / "exif_xmp.heic").read_bytes())
    off, blob = _heif_exif_item(bytes(data))
    assert blob[:10] == b"\0\0\0\x06Exif\0\0"
    struct.pack_into(">I", data, off, 2)
    path = tmp_path / "e.heic"
    path.write_bytes(data)
    engine.write_metadata(path, {"Artist": "x"}, backup=False)
    _off, blob = _heif_exif_item(path.read_bytes())
    skip = 4 + struct.unpack_from(">I", blob)[0]
    assert blob[skip : skip + 4] in (b"MM\0*", b"II*\0")
    assert engine.read_metadata(path).get("Artist") == "x"


def test_heif_short_reference_box_keeps_the_new_reference_readable(tmp_path: Path) -> None:
    # ExifTool reads this file as fine (it skips the stray byte at the end of iref); the
    # 'cdsc' reference of a new XMP item used to land after the stray byte ("Truncated
    # '\x0ecds' data")
    src = CORPUS / "metadata-extractor-images" / "heic" / "cheers_1440x960.heic"
    if not src.exists():
        pytest.skip("corpus not available")
    data = bytearray(src.read_bytes())
    p = H.parse_boxes(bytes(data), "x", lazy=H.LAZY_TYPES)
    iref = next(b for b in p.boxes if b.type == b"meta").find(b"iref")
    body = iref.body(bytes(data))
    assert body[8:12] == b"thmb"
    size = struct.unpack_from(">I", body, 4)[0]
    struct.pack_into(">I", data, iref.data_offset + 4, size - 1)
    path = tmp_path / "c.heic"
    path.write_bytes(data)
    engine.write_metadata(path, {"xmp/dc:title": "x"}, backup=False)
    out = path.read_bytes()
    p = H.parse_boxes(out, "x", lazy=H.LAZY_TYPES)
    body = next(b for b in p.boxes if b.type == b"meta").find(b"iref").body(out)
    types, pos = [], 4
    while pos + 8 <= len(body):  # as a reader walks it: box after box
        n, t = struct.unpack_from(">I4s", body, pos)
        if n < 8 or pos + n > len(body):
            break
        types.append(t)
        pos += n
    assert b"cdsc" in types


def test_corpus_files_with_exif_damage_are_refused_only_where_exiftool_warns(
        tmp_path: Path) -> None:
    """Files of the corpus whose EXIF structure the reader had to patch up: ExifTool reports
    damage in each (noted by hand: "Bad IFD0 directory", "Bad offset for IFD1"...)."""
    cases = {
        "pillow/Tests/images/hopper_bad_exif.jpg": "IFD0 at offset 8 claims 32 entries",
        "pillow/Tests/images/exif-ifd-offset.jpg": "value offset",
    }
    for rel, needle in cases.items():
        src = CORPUS / rel
        if not src.exists():
            pytest.skip("corpus not available")
        path = tmp_path / src.name
        shutil.copyfile(src, path)
        assert_refused(path, {"Artist": "x"}, needle)


@pytest.mark.parametrize(("mutation", "needle"), [
    ("type16", "BigTIFF-only type 16"),  # ExifTool: "Bad format (16) for IFD0 entry 1"
    ("header", "in the TIFF header"),  # ExifTool -validate: "Invalid offset for IFD0 Make"
])
def test_entries_exiftool_calls_bad_are_refused(tmp_path: Path, mutation: str,
                                                needle: str) -> None:
    data = bytearray(build([[(0x0100, 4, [1]), (0x010F, 2, "A camera maker"),
                             (0x0110, 2, "A camera model")]]))
    st = parse_tiff(bytes(data))
    make = st.get("IFD0").entries[1]
    if mutation == "type16":
        struct.pack_into("<HI", data, make.entry_offset + 2, 16, 1)
    else:
        struct.pack_into("<I", data, make.entry_offset + 8, 2)
    path = tmp_path / "e.tif"
    path.write_bytes(data)
    assert_refused(path, {"Artist": "x"}, needle)


def test_heif_item_info_box_swallowing_its_siblings_is_refused(tmp_path: Path) -> None:
    # An 'iinf' whose size takes in the boxes after it (ExifTool stops reading the meta box
    # there); a new item entry would be written among those boxes
    data = bytearray((FIXTURES / "exif_xmp.heic").read_bytes())
    meta = next(b for b in H.parse_boxes(bytes(data), "x", lazy=H.LAZY_TYPES).boxes
                if b.type == b"meta")
    kids = meta.children or []
    i = next(k for k, c in enumerate(kids) if c.type == b"iinf")
    if i + 1 >= len(kids):
        pytest.skip("iinf is the last box of meta in this fixture")
    nxt = kids[i + 1]
    size = struct.unpack_from(">I", data, kids[i].offset)[0]
    struct.pack_into(">I", data, kids[i].offset, size + nxt.header_len + nxt.body_len)
    path = tmp_path / "i.heic"
    path.write_bytes(data)
    assert_refused(path, {"xmp/dc:title": "x"}, f"item info box (offset {kids[i].offset})",
                   "not only item entries")
