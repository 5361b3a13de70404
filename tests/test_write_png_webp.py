"""PNG and WebP writers (engine/containers/png_write.py, webp_writer.py), judged by ExifTool.

Every write is checked three ways: ExifTool reads the requested values and nothing else changed,
Pillow decodes the same pixels, and the image chunks were copied as ranges of the original.
"""

from __future__ import annotations

import csv
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest
from support.files import copy_fixture
from support.refuse import assert_refused

import engine
from engine.containers import png as P
from engine.containers import webp as W
from engine.containers.png_write import plan_png
from engine.containers.webp_write import plan_webp
from engine.write.changes import Edits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.write_compat import changed, pixel_digest, validate, write_and_judge  # noqa: E402
from support.write_compat import exiftool_all as et1
from support.write_compat import warnings_of as warnings

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
IGNORED = ("SourceFile", "System", "File", "ExifTool", "Composite")

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")






def make_plain(tmp_path: Path, name: str) -> Path:
    """A file with no metadata at all, made by Pillow."""
    from PIL import Image

    dst = tmp_path / name
    if name.endswith("alpha.webp"):
        Image.new("RGBA", (33, 17), (10, 200, 30, 100)).save(dst, lossless=True)
    else:
        img = Image.new("RGB", (37, 21), (10, 200, 30))
        for x in range(37):
            img.putpixel((x, x % 21), (x * 6, 255 - x * 6, 128))
        img.save(dst)
    return dst


def sample(tmp_path: Path, name: str) -> Path:
    if name.startswith("plain"):
        return make_plain(tmp_path, name)
    return copy_fixture(tmp_path, name)


SAMPLES = ["exif_xmp.png", "exif_xmp.webp", "plain.png", "plain.webp", "plain-alpha.webp"]
SETS = {"Artist": "metafs test", "xmp/dc:title": "Hello metafs", "LensModel": "Lens X"}
EXPECT = {"IFD0:Artist": "metafs test", "XMP-dc:Title": "Hello metafs",
          "ExifIFD:LensModel": "Lens X"}
# Written with ExifIFD: ExifTool's mandatory tags of a new ExifIFD (as ExifTool adds them).
CREATED_EXIF = {"ExifIFD:ExifVersion", "ExifIFD:ComponentsConfiguration",
                "ExifIFD:FlashpixVersion", "ExifIFD:ColorSpace"}


def image_chunks(data: bytes) -> list[bytes]:
    if data[:4] == b"RIFF":
        return [c.fourcc + c.body() for c in W.parse_webp(data).chunks
                if c.fourcc in (b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF")]
    return [c.type + c.body() for c in P.parse_png(data).chunks
            if c.type in (b"IHDR", b"PLTE", b"IDAT", b"fdAT")]


def check_container(data: bytes) -> None:
    """CRCs, RIFF size and pad bytes are right."""
    if data[:4] == b"RIFF":
        layout = W.parse_webp(data)
        assert not layout.warnings
        assert layout.riff_size == len(data) - 8
        for c in layout.chunks:
            assert len(c.pad) == c.length & 1
    else:
        layout = P.parse_png(data)
        assert not layout.warnings
        assert all(c.crc_ok() for c in layout.chunks)
        assert layout.tail_offset == len(data)


# -- set, delete, restore ------------------------------------------------------------------------

@pytest.mark.parametrize("name", SAMPLES)
def test_set_tags_reads_back_in_exiftool(tmp_path: Path, name: str) -> None:
    path = sample(tmp_path, name)
    original = path.read_bytes()
    before = et1(path)
    engine.write_metadata(path, SETS)
    after = et1(path)
    for k, v in EXPECT.items():
        assert str(after.get(k)) == v, k
    allowed = set(EXPECT) | {"XMP-dc:Creator"}
    if not any(k.startswith("ExifIFD:") for k in before):
        allowed |= CREATED_EXIF
    if before.get("File:FileType") == "WEBP":
        assert after["File:FileType"] == "Extended WEBP"
        allowed.add("RIFF:WebP_Flags")
    assert changed(before, after) <= allowed
    assert warnings(after) <= warnings(before)
    assert validate(path) == validate(tmp_path / ".originals" / name)
    data = path.read_bytes()
    check_container(data)
    assert image_chunks(data) == image_chunks(original)
    assert pixel_digest(path) == pixel_digest(tmp_path / ".originals" / name)
    assert not pixel_digest(path).startswith(b"undecodable")


@pytest.mark.parametrize("name", ["exif_xmp.png", "exif_xmp.webp"])
def test_delete_tags(tmp_path: Path, name: str) -> None:
    path = sample(tmp_path, name)
    before = et1(path)
    assert "IFD0:Artist" in before and "XMP-dc:Title" in before
    engine.write_metadata(path, {"Artist": None, "xmp/dc:title": None}, sync_related=False)
    after = et1(path)
    assert changed(before, after) == {"IFD0:Artist", "XMP-dc:Title"}
    assert "IFD0:Artist" not in after and "XMP-dc:Title" not in after
    check_container(path.read_bytes())
    assert pixel_digest(path) == pixel_digest(tmp_path / ".originals" / name)


def test_no_op_write_leaves_the_file(tmp_path: Path) -> None:
    path = sample(tmp_path, "exif_xmp.png")
    original = path.read_bytes()
    r = engine.write_metadata(path, {"Artist": "Jane Doe"})
    assert r.unchanged and path.read_bytes() == original


# -- container details ---------------------------------------------------------------------------

def test_png_keeps_chunk_order_and_adds_before_idat(tmp_path: Path) -> None:
    path = sample(tmp_path, "exif_xmp.png")
    old = [c.type for c in P.parse_png(path.read_bytes()).chunks]
    engine.write_metadata(path, SETS)
    assert [c.type for c in P.parse_png(path.read_bytes()).chunks] == old
    plain = sample(tmp_path, "plain.png")
    engine.write_metadata(plain, SETS)
    types = [c.type for c in P.parse_png(plain.read_bytes()).chunks]
    assert types.index(b"iTXt") < types.index(b"IDAT")
    assert types.index(b"eXIf") < types.index(b"IDAT")
    itxt = next(c for c in P.parse_png(plain.read_bytes()).chunks if c.type == b"iTXt")
    assert itxt.body().startswith(P.XMP_KEYWORD + b"\0\0\0\0\0")  # uncompressed, no language


def test_image_data_is_copied_as_ranges(tmp_path: Path) -> None:
    for name, plan, parse, kinds in (
        ("exif_xmp.png", plan_png, P.parse_png, (b"IDAT",)),
        ("exif_xmp.webp", plan_webp, W.parse_webp, (b"VP8 ",)),
    ):
        data = (FIXTURES / name).read_bytes()
        edits = Edits(exif=[("IFD0", "Artist", "x")], xmp={"dc:title": "y"})
        pieces = plan(data, edits, name)
        ranges = [p for p in pieces if isinstance(p, tuple)]
        for c in parse(data).chunks:
            if getattr(c, "type", getattr(c, "fourcc", None)) in kinds:
                assert any(a <= c.offset and c.offset + c.length <= a + n for a, n in ranges)
        literal = sum(len(p) for p in pieces if isinstance(p, bytes))
        assert literal < len(data)


def test_simple_webp_gets_a_vp8x_chunk(tmp_path: Path) -> None:
    from PIL import Image

    for name, alpha in (("plain.webp", False), ("plain-alpha.webp", True)):
        path = sample(tmp_path, name)
        engine.write_metadata(path, {"Artist": "a"})
        data = path.read_bytes()
        layout = W.parse_webp(data)
        assert [c.fourcc for c in layout.chunks][0] == b"VP8X"
        assert layout.chunks[-1].fourcc == b"EXIF"
        body = layout.chunks[0].body()
        flags = body[0]
        w = int.from_bytes(body[4:7], "little") + 1
        h = int.from_bytes(body[7:10], "little") + 1
        with Image.open(path) as im:
            assert (w, h) == im.size
        assert flags & W.VP8X_EXIF and not flags & W.VP8X_XMP
        assert bool(flags & 0x10) == alpha
        engine.write_metadata(path, {"xmp/dc:title": "t"})
        flags = W.parse_webp(path.read_bytes()).chunks[0].body()[0]
        assert flags & W.VP8X_EXIF and flags & W.VP8X_XMP
        assert [c.fourcc for c in W.parse_webp(path.read_bytes()).chunks][-2:] == [b"EXIF",
                                                                                   b"XMP "]


def test_webp_odd_sizes_are_padded(tmp_path: Path) -> None:
    path = sample(tmp_path, "exif_xmp.webp")
    for title in ("a", "ab", "abc"):
        engine.write_metadata(path, {"xmp/dc:title": title, "Artist": title})
        check_container(path.read_bytes())
        assert et1(path)["XMP-dc:Title"] == title


def _replace_chunk(data: bytes, ctype: bytes, new: P.Chunk | None, add: P.Chunk | None = None):
    layout = P.parse_png(data)
    out = []
    for c in layout.chunks:
        if c.type == ctype:
            if new is not None:
                out.append(new)
            continue
        if add is not None and c.type == b"IDAT":
            out.append(add)
            add = None
        out.append(c)
    return P.render_chunks(out)


def test_png_exif_header_prefix_is_kept(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    exif = next(c for c in P.parse_png(data).chunks if c.type == b"eXIf").body()
    path = tmp_path / "prefixed.png"
    path.write_bytes(_replace_chunk(data, b"eXIf", P.make_chunk(b"eXIf", b"Exif\0\0" + exif)))
    before = et1(path)
    engine.write_metadata(path, {"Artist": "prefix kept"})
    new = next(c for c in P.parse_png(path.read_bytes()).chunks if c.type == b"eXIf").body()
    assert new.startswith(b"Exif\0\0II") or new.startswith(b"Exif\0\0MM")
    after = et1(path)
    assert after["IFD0:Artist"] == "prefix kept"
    assert changed(before, after) == {"IFD0:Artist"}


def test_webp_exif_header_prefix_is_kept(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.webp").read_bytes()
    layout = W.parse_webp(data)
    chunks = [W.make_chunk(b"EXIF", b"Exif\0\0" + c.body()) if c.fourcc == b"EXIF" else c
              for c in layout.chunks]
    path = tmp_path / "prefixed.webp"
    path.write_bytes(W.render_webp(chunks))
    before = et1(path)
    engine.write_metadata(path, {"Artist": "prefix kept"})
    exif = next(c for c in W.parse_webp(path.read_bytes()).chunks if c.fourcc == b"EXIF")
    assert exif.body().startswith(b"Exif\0\0")
    after = et1(path)
    assert after["IFD0:Artist"] == "prefix kept"
    assert changed(before, after) == {"IFD0:Artist"}
    assert warnings(after) == warnings(before)


@pytest.mark.parametrize("ctype", [b"tEXt", b"zTXt"])
def test_png_raw_profile_exif_is_updated_in_place(tmp_path: Path, ctype: bytes) -> None:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    exif = next(c for c in P.parse_png(data).chunks if c.type == b"eXIf").body()
    text = P.TextChunk(b"Raw profile type exif", P.encode_profile("exif", b"Exif\0\0" + exif),
                       ctype == b"zTXt")
    path = tmp_path / "profile.png"
    path.write_bytes(_replace_chunk(data, b"eXIf", P.render_text(text, ctype)))
    before = et1(path)
    assert before["IFD0:Artist"] == "Jane Doe"
    engine.write_metadata(path, {"Artist": "in the profile"}, sync_related=False)
    layout = P.parse_png(path.read_bytes())
    assert b"eXIf" not in [c.type for c in layout.chunks]
    prof = [c for c in layout.chunks if c.type == ctype and P.parse_text(c).keyword.startswith(
        b"Raw profile type exif")]
    assert len(prof) == 1
    blob, declared = P.decode_profile(P.parse_text(prof[0]).text)
    assert blob.startswith(b"Exif\0\0") and declared == len(blob)
    after = et1(path)
    assert after["IFD0:Artist"] == "in the profile"
    assert changed(before, after) == {"IFD0:Artist"}


def test_png_raw_profile_xmp_is_updated_in_place(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    itxt = next(c for c in P.parse_png(data).chunks if c.type == b"iTXt")
    packet = P.parse_text(itxt).text
    prof = P.render_text(P.TextChunk(b"Raw profile type xmp", P.encode_profile("xmp", packet),
                                     True), b"zTXt")
    path = tmp_path / "xmpprofile.png"
    path.write_bytes(_replace_chunk(data, b"iTXt", prof))
    before = et1(path)
    engine.write_metadata(path, {"xmp/dc:title": "profiled"}, sync_related=False)
    types = [c.type for c in P.parse_png(path.read_bytes()).chunks]
    assert b"iTXt" not in types
    after = et1(path)
    assert after["XMP-dc:Title"] == "profiled"
    assert changed(before, after) == {"XMP-dc:Title"}


def test_png_compressed_xmp_stays_compressed(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    itxt = next(c for c in P.parse_png(data).chunks if c.type == b"iTXt")
    t = P.parse_text(itxt)
    t.compressed = True
    path = tmp_path / "ztxt.png"
    path.write_bytes(_replace_chunk(data, b"iTXt", P.render_text(t)))
    engine.write_metadata(path, {"xmp/dc:title": "squeezed"})
    itxt = next(c for c in P.parse_png(path.read_bytes()).chunks if c.type == b"iTXt")
    assert P.parse_text(itxt).compressed
    assert et1(path)["XMP-dc:Title"] == "squeezed"


# -- refusals ------------------------------------------------------------------------------------

def test_iptc_is_refused_where_there_is_none(tmp_path: Path) -> None:
    assert_refused(sample(tmp_path, "exif_xmp.png"), {"iptc/Keywords": "a"}, "IPTC")
    assert_refused(sample(tmp_path, "exif_xmp.webp"), {"iptc/Keywords": "a"}, "IPTC")


def test_png_iptc_profile_is_edited(tmp_path: Path) -> None:
    from engine.iptc.edit import edit_iim

    iim = edit_iim(None, {"Keywords": ["one", "two"], "ObjectName": ["name"]}, path="x")
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    prof = P.render_text(P.TextChunk(b"Raw profile type iptc", P.encode_profile("iptc", iim),
                                     False), b"tEXt")
    path = tmp_path / "iptc.png"
    path.write_bytes(_replace_chunk(data, b"", None, add=prof))
    before = et1(path)
    assert before["IPTC:ObjectName"] == "name"
    engine.write_metadata(path, {"iptc/Keywords": "three", "xmp/dc:title": "synced"})
    after = et1(path)
    assert after["IPTC:Keywords"] == "three"
    assert after["IPTC:ObjectName"] == after["XMP-dc:Title"] == "synced"
    assert after["XMP-dc:Subject"] == "three"  # synchronised copy of the keywords
    assert changed(before, after) == {"IPTC:Keywords", "IPTC:ObjectName", "XMP-dc:Title",
                                      "XMP-dc:Subject"}


def test_damaged_png_is_refused(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "exif_xmp.png").read_bytes())
    data[-5] ^= 0xFF  # the IEND CRC
    path = tmp_path / "badcrc.png"
    path.write_bytes(bytes(data))
    assert_refused(path, {"Artist": "x"}, "damaged")


def test_truncated_webp_is_refused(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.webp").read_bytes()
    path = tmp_path / "short.webp"
    path.write_bytes(data[:-100])
    assert_refused(path, {"Artist": "x"}, "WebP")


def test_two_exif_chunks_are_refused(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    exif = next(c for c in P.parse_png(data).chunks if c.type == b"eXIf")
    path = tmp_path / "twice.png"
    path.write_bytes(_replace_chunk(data, b"", None, add=P.make_chunk(b"eXIf", exif.body())))
    assert_refused(path, {"Artist": "x"}, "2 chunks")


def test_unreadable_exif_chunk_refuses_exif_but_not_xmp(tmp_path: Path) -> None:
    data = (FIXTURES / "exif_xmp.png").read_bytes()
    path = tmp_path / "junk.png"
    path.write_bytes(_replace_chunk(data, b"eXIf", P.make_chunk(b"eXIf", b"not a TIFF block")))
    assert_refused(path, {"Artist": "x"}, "holds no TIFF block")
    engine.write_metadata(path, {"xmp/dc:title": "still writable"})
    assert et1(path)["XMP-dc:Title"] == "still writable"


def test_png_crc_helper_sanity() -> None:
    c = P.make_chunk(b"eXIf", b"abc")
    assert c.crc == zlib.crc32(b"eXIfabc")
    assert struct.unpack(">I", c.render()[-4:])[0] == c.crc


# -- corpus --------------------------------------------------------------------------------------

CORPUS_TYPES = {"PNG", "WEBP", "Extended WEBP"}
C_SETS = {"Artist": "metafs test", "xmp/dc:title": "Hello metafs"}
C_EXPECT = {"IFD0:Artist": "metafs test", "XMP-dc:Title": "Hello metafs"}
C_ALLOWED = {"XMP-dc:Creator", "IPTC:By-line", "IPTC:ObjectName", "Photoshop:IPTCDigest"}


def corpus_files() -> list[Path]:
    with open(CORPUS / "inventory.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [CORPUS / r["path"] for r in rows if r["FileType"] in CORPUS_TYPES]


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus absent: {CORPUS}")
def test_corpus_png_webp_none_damaged(tmp_path: Path, record_property) -> None:
    metafs = str(REPO / ".venv" / "bin" / "metafs")
    files = corpus_files()
    assert files
    outcomes = [write_and_judge(f, tmp_path / str(i), metafs, C_SETS, C_EXPECT, C_ALLOWED)
                for i, f in enumerate(files)]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("clean", "refused", "damaged",
                                                                  "error")}
    record_property("summary", f"corpus PNG/WebP write: {len(files)} files: {counts}")
    bad = [f"{o.status} {o.file}: {o.detail[:300]}" for o in outcomes
           if o.status in ("damaged", "error")]
    assert not bad, "\n".join(bad)
    for o in outcomes:
        if o.status == "refused":
            assert o.detail.startswith("metafs: write failed: "), o
    assert counts["clean"] >= len(files) // 2
