"""Issue 4: the TIFF writer on the fixtures, judged by ExifTool (``exiftool -j -G1 -a -u``).

Both byte orders, strips, tiles, two pages, maker notes with absolute offsets (Canon) and with a
TIFF header of their own (Nikon type 3), XMP (tag 700), IPTC (tag 33723) and the Photoshop
IPTCDigest, repeated edits that must not grow the file, refusals that leave the file as it was,
and plans that copy the image data as ranges.  Every test works on a copy in tmp_path.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from support.refuse import assert_refused
from support.tiff_builder import build
from support.tiff_compare import image_ranges, tiff_digest
from support.write_compat import changed
from support.write_compat import exiftool_all as et
from support.write_compat import warnings_of as warnings

import engine
from engine.containers.tiff_write import fit_packet, plan_tiff
from engine.errors import EngineError
from engine.exif.ifd import parse_tiff
from engine.write.changes import Edits

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IGNORED = ("SourceFile", "System", "File", "ExifTool", "Composite")
TIFFS = ["strips_le.tif", "tiles_be.tif", "multipage.tif", "makernote_canon_le.tif",
         "makernote_canon_be.tif", "makernote_nikon_le.tif", "makernote_nikon_be.tif"]
MAKERNOTES = [f for f in TIFFS if f.startswith("makernote")]
SETS = {"Artist": "metafs test", "xmp/dc:title": "Hello metafs"}
# What those two tags may change: themselves and their synchronised copies.
ALLOWED = {"IFD0:Artist", "XMP-dc:Title", "XMP-dc:Creator", "IPTC:By-line", "IPTC:ObjectName"}

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")





def write(path: Path, changes: dict[str, str | None], **kw) -> engine.WriteResult:
    return engine.write_metadata(path, changes, **kw)


# ---- the corpus edit on every fixture ---------------------------------------------------------

@pytest.mark.parametrize("name", TIFFS)
def test_artist_and_title_change_nothing_else(name: str, tmp_copy) -> None:
    p = tmp_copy(name)
    original = p.read_bytes()
    before = et(p)
    res = write(p, SETS)
    after = et(p)
    assert after["IFD0:Artist"] == "metafs test"
    assert after["XMP-dc:Title"] == "Hello metafs"
    assert changed(before, after) <= ALLOWED, changed(before, after) - ALLOWED
    assert warnings(after) <= warnings(before)
    data = p.read_bytes()
    assert tiff_digest(data) == tiff_digest(original)  # strips/tiles/pixels identical
    assert image_ranges(data) == image_ranges(original)  # and where they were
    assert Path(res.backup).read_bytes() == original


@pytest.mark.parametrize("name", MAKERNOTES)
def test_maker_note_decodes_identically_and_stays_put(name: str, tmp_copy) -> None:
    p = tmp_copy(name)
    original = p.read_bytes()
    before = et(p)
    group = "Canon" if "canon" in name else "Nikon"
    notes = {k: v for k, v in before.items() if k.startswith(group + ":")}
    assert len(notes) == 5  # the fixture's maker-note tags, decoded
    # IFD0 and ExifIFD both grow (a new tag each): both are rewritten at the end.
    write(p, {**SETS, "LensModel": "Fixture 50mm", "ImageDescription": "moved IFDs"})
    after = et(p)
    assert {k: v for k, v in after.items() if k.startswith(group + ":")} == notes
    assert warnings(after) <= warnings(before)
    assert after["ExifIFD:LensModel"] == "Fixture 50mm"
    st0, st1 = parse_tiff(original), parse_tiff(p.read_bytes())
    mn0 = next(e for e in st0.get("ExifIFD").entries if e.tag == 0x927C)
    mn1 = next(e for e in st1.get("ExifIFD").entries if e.tag == 0x927C)
    assert (mn1.value_offset, mn1.raw) == (mn0.value_offset, mn0.raw)  # not a byte moved
    assert st1.get("ExifIFD").offset != st0.get("ExifIFD").offset  # though its IFD did


@pytest.mark.parametrize("name", ["strips_le.tif", "tiles_be.tif"])
def test_byte_orders_kept(name: str, tmp_copy) -> None:
    p = tmp_copy(name)
    head = p.read_bytes()[:4]
    write(p, {"Artist": "x y z", "Copyright": "(c) metafs", "ExposureTime": "1/250"})
    assert p.read_bytes()[:4] == head
    after = et(p)
    assert (after["IFD0:Artist"], after["ExifIFD:ExposureTime"]) == ("x y z", "1/250")


def test_second_page_kept(tmp_copy) -> None:
    p = tmp_copy("multipage.tif")
    before = et(p)
    write(p, {"Artist": "page one", "Software": "metafs"})
    after = et(p)
    page2 = {k: v for k, v in before.items() if k.startswith("IFD1:")}
    assert page2 and {k: v for k, v in after.items() if k.startswith("IFD1:")} == page2
    from PIL import Image

    with Image.open(p) as im:
        im.seek(1)
        assert im.size == (32, 24)


# ---- XMP, IPTC, Photoshop --------------------------------------------------------------------

def test_xmp_tag_700_edited_in_place(tmp_copy) -> None:
    p = tmp_copy("strips_le.tif")
    size = p.stat().st_size
    before = et(p)
    write(p, {"xmp/xmp:Rating": "1"})
    after = et(p)
    assert after["XMP-xmp:Rating"] == 1
    assert changed(before, after) == {"XMP-xmp:Rating"}
    assert p.stat().st_size == size  # the packet was made to fit its old slot


def test_xmp_created_when_absent(tmp_copy) -> None:
    p = tmp_copy("makernote_nikon_le.tif")
    write(p, {"xmp/dc:subject": "one\ntwo"})
    assert et(p)["XMP-dc:Subject"] == ["one", "two"]


def test_fit_packet_pads_to_the_slot() -> None:
    packet = b'<?xpacket begin="" id="W"?><x:xmpmeta/>\n' + b" " * 300 + b'<?xpacket end="w"?>'
    fitted = fit_packet(packet, 200)
    assert len(fitted) == 200 and fitted.endswith(b'<?xpacket end="w"?>')
    assert fit_packet(packet, 10) == packet  # cannot fit: unchanged (goes to the end)


def test_iptc_tag_33723(tmp_copy) -> None:
    p = tmp_copy("strips_le.tif")
    before = et(p)
    write(p, {"iptc/Keywords": "alpha\nbeta", "iptc/City": "Lyon"})
    after = et(p)
    assert after["IPTC:Keywords"] == ["alpha", "beta"] and after["IPTC:City"] == "Lyon"
    assert changed(before, after) <= {"IPTC:Keywords", "IPTC:City", "XMP-dc:Subject",
                                      "XMP-photoshop:City"}


def test_iptc_digest_in_photoshop_tag_kept_current(tmp_copy) -> None:
    p = tmp_copy("strips_le.tif")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-IPTCDigest=new", str(p)],
                   check=True)
    assert "Photoshop:IPTCDigest" in et(p)
    write(p, {"iptc/City": "Nantes"})
    after = et(p)
    assert after["IPTC:City"] == "Nantes"
    assert not any("IPTCDigest" in w for w in warnings(after))
    st = parse_tiff(p.read_bytes())
    iim = next(e.raw for e in st.get("IFD0").entries if e.tag == 33723)
    assert after["Photoshop:IPTCDigest"] == hashlib.md5(iim).hexdigest()


def test_iptc_created_when_absent(tmp_copy) -> None:
    p = tmp_copy("tiles_be.tif")
    write(p, {"iptc/Keywords": "new"})
    assert et(p)["IPTC:Keywords"] == "new"


# ---- size, restore, plans ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["strips_le.tif", "makernote_canon_be.tif"])
def test_file_does_not_grow_with_repeated_edits(name: str, tmp_copy) -> None:
    p = tmp_copy(name)
    sizes = []
    for i in range(5):
        write(p, {"Artist": f"artist {i}", "xmp/dc:title": f"title {i}",
                  "ImageDescription": f"description {i}"}, backup=False)
        sizes.append(p.stat().st_size)
    assert len(set(sizes)) == 1, sizes
    for _ in range(3):  # the very same edit: nothing to do, nothing written
        assert write(p, {"Artist": "artist 4"}, backup=False).unchanged
    assert p.stat().st_size == sizes[0]


def test_longer_values_reuse_our_own_tail(tmp_copy) -> None:
    p = tmp_copy("tiles_be.tif")
    write(p, {"Artist": "a"}, backup=False)
    first = p.stat().st_size
    for n in (40, 80, 10):
        write(p, {"Artist": "b" * n}, backup=False)
    assert p.stat().st_size <= first + 80
    assert et(p)["IFD0:Artist"] == "b" * 10


def test_write_then_restore_gives_the_original(tmp_copy) -> None:
    p = tmp_copy("makernote_canon_le.tif")
    original = p.read_bytes()
    write(p, SETS)
    assert p.read_bytes() != original
    engine.restore(p)
    assert p.read_bytes() == original


def test_plan_copies_image_data_as_ranges() -> None:
    data = (FIXTURES / "strips_le.tif").read_bytes()
    edits = Edits(exif=[("IFD0", "Artist", "someone")])
    plan = plan_tiff(data, edits, "strips_le.tif")
    literal = sum(len(p) for p in plan if isinstance(p, bytes))
    assert literal < 1024  # a new IFD0 and a value, not the file
    copied = [p for p in plan if isinstance(p, tuple)]
    for _ifd, _tag, ranges in image_ranges(data):
        for off, n in ranges:
            assert any(a <= off and off + n <= a + k for a, k in copied)
    out = bytearray()
    for piece in plan:
        out += data[piece[0] : piece[0] + piece[1]] if isinstance(piece, tuple) else piece
    assert tiff_digest(bytes(out)) == tiff_digest(data)


# ---- refusals: clear, and the file left as it was ----------------------------------------------

def test_bigtiff_refused(tmp_path: Path) -> None:
    p = tmp_path / "big.tif"
    # BigTIFF header, IFD0 at 16 with one entry (ImageWidth), no next IFD.
    ifd = struct.pack("<Q", 1) + struct.pack("<HHQQ", 256, 3, 1, 8) + struct.pack("<Q", 0)
    p.write_bytes(b"II+\0" + struct.pack("<HHQ", 8, 0, 16) + ifd)
    assert_refused(p, SETS, "BigTIFF")


def test_truncated_file_refused(tmp_path: Path) -> None:
    # A strip that runs past the end: what we append would become part of it.
    data = build([[(256, 3, [4]), (257, 3, [4]), (273, 4, [200]), (279, 4, [48]),
                   (271, 2, "Maker")]])
    p = tmp_path / "cut.tif"
    p.write_bytes(data + bytes(200 - len(data)) + bytes(20))
    assert_refused(p, {"Artist": "x"}, "truncated")


def test_value_past_the_end_refused(tmp_path: Path) -> None:
    data = bytearray(build([[(256, 3, [4]), (271, 2, "A long maker name")]]))
    n_at = 8 + 2 + 12 + 8  # the Make entry's value offset
    struct.pack_into("<I", data, n_at, len(data) - 4)
    p = tmp_path / "cut.tif"
    p.write_bytes(bytes(data))
    assert_refused(p, {"Artist": "x"}, "past the end")


def test_rw2_exif_refused_xmp_written(tmp_path: Path) -> None:
    data = build([[(256, 3, [4]), (271, 2, "Panasonic")]], magic=0x55)
    p = tmp_path / "a.rw2"
    p.write_bytes(data)
    assert_refused(p, {"Artist": "x"}, "JpgFromRaw")  # (tests/test_rw2_write.py)
    write(p, {"xmp/dc:title": "ok"})
    assert et(p)["XMP-dc:Title"] == "ok"


def test_mrw_and_raf_are_containers_of_their_own(tmp_path: Path) -> None:
    """Not TIFF (nor JPEG) files: written by engine.containers.mrw and raf (issue 16),
    the TIFF writer refuses an MRW it is handed by mistake."""
    from engine.containers.jpeg import RAF_SIGNATURE
    from engine.containers.tiff_write import plan_tiff
    from engine.registry import sniff

    tiff = build([[(256, 3, [4])]])
    mrw = (b"\0MRM" + struct.pack(">I", 8 + len(tiff)) + b"\0TTW"
           + struct.pack(">I", len(tiff)) + tiff)
    assert sniff(RAF_SIGNATURE + bytes(200)).name == "RAF" and sniff(mrw).name == "MRW"
    with pytest.raises(EngineError, match="not a TIFF header"):
        plan_tiff(mrw, None, str(tmp_path / "x.mrw"))
