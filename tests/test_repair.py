"""`metafs write --repair` (issue #16 item 3): EXIF damage ExifTool repairs is repaired.

Without repair the write is refused and the message says what --repair would change; with it
the EXIF block is repaired from what is readable, the notes say what was repaired and dropped,
the original is kept as the backup, and ExifTool reads the result with no new warning.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from support.tiff_builder import build

import engine
from engine.errors import WriteError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
REPO = Path(__file__).resolve().parents[1]
HAVE_EXIFTOOL = shutil.which("exiftool") is not None

MAKE, MODEL, ORIENT, SOFTWARE = 0x010F, 0x0110, 0x0112, 0x0131


def jpeg_with(*app1: bytes) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 100, 50)).save(buf, "JPEG")
    plain = buf.getvalue()
    segs = b"".join(b"\xff\xe1" + struct.pack(">H", len(p) + 2) + p for p in app1)
    return plain[:2] + segs + plain[2:]


def set_entry(block: bytes, ifd_at: int, k: int, tag: int, typ: int, count: int,
              value: bytes) -> bytes:
    b = bytearray(block)
    b[ifd_at + 2 + 12 * k : ifd_at + 14 + 12 * k] = struct.pack("<HHI", tag, typ, count) + value
    return bytes(b)


def base_block() -> bytes:
    return build([[(MAKE, 2, "Cam"), (MODEL, 2, "Model X"), (ORIENT, 3, [1]),
                   (SOFTWARE, 2, "fw 1.0")]])


def duplicate_entry() -> bytes:  # IFD0: Make, Model, Orientation, Make again
    b = base_block()
    return set_entry(b, 8, 3, ORIENT, 3, 1, b"\x03\0\0\0")


def out_of_sequence() -> bytes:  # Orientation first
    b = base_block()
    first = b[10:22]
    third = b[34:46]
    return b[:10] + third + b[22:34] + first + b[46:]


def gps_zero_count() -> bytes:  # the 45-gps_ifd.jpg damage: a GPS pointer with no value
    return set_entry(base_block(), 8, 3, 0x8825, 4, 0, b"\0\0\0\0")


def ifd_past_end() -> bytes:  # ExifIFD pointer far outside the block
    return set_entry(base_block(), 8, 3, 0x8769, 4, 1, struct.pack("<I", 0x7FFF0))


def next_ifd_past_end() -> bytes:
    b = bytearray(base_block())
    struct.pack_into("<I", b, 8 + 2 + 12 * 4, 0x7FFF0)
    return bytes(b)


def inflated_count() -> bytes:  # IFD0 claims 20 entries: the table runs over its values
    b = bytearray(base_block())
    struct.pack_into("<H", b, 8, 20)
    return bytes(b)


def sub_ifd_inside_ifd0() -> bytes:  # an ExifIFD pointer into IFD0's own table
    return set_entry(base_block(), 8, 3, 0x8769, 4, 1, struct.pack("<I", 8 + 2 + 12))


CASES = {
    # name: (APP1 payloads, a note the repair must give)
    "duplicate": ([b"Exif\0\0" + duplicate_entry()], "duplicate of an earlier entry"),
    "out-of-sequence": ([b"Exif\0\0" + out_of_sequence()], "out of sequence"),
    "gps-zero-count": ([b"Exif\0\0" + gps_zero_count()], "zero count"),
    "ifd-past-end": ([b"Exif\0\0" + ifd_past_end()], "ExifIFD pointer to offset 524272"),
    "next-past-end": ([b"Exif\0\0" + next_ifd_past_end()], "link from IFD0"),
    "inflated-count": ([b"Exif\0\0" + inflated_count()], "claims 20 entries; its table holds 4"),
    "sub-ifd-overlap": ([b"Exif\0\0" + sub_ifd_inside_ifd0()], "ExifIFD pointer to offset 22"),
    "multi-segment": ([b"Exif\0\0" + base_block()[:40], b"Exif\0\0" + base_block()[40:]],
                      "split over 2 APP1 segments"),
    "no-tiff-header": ([b"Exif\0\0" + b"XX" + base_block()[2:]], "dropped: the EXIF block"),
}


def exiftool_warnings(p: Path) -> set[str]:
    out = subprocess.run(["exiftool", "-validate", "-warning", "-a", "-s3", str(p)],
                         capture_output=True, text=True, check=False).stdout
    return {line for line in out.splitlines() if not line[:1].isdigit() and line != "OK"}


def exiftool_value(p: Path, tag: str) -> str:
    return subprocess.run(["exiftool", "-s3", f"-{tag}", str(p)], capture_output=True,
                          text=True, check=False).stdout.strip()


@pytest.mark.parametrize("case", sorted(CASES))
def test_repair_writes_and_says_what_changed(case: str, tmp_path: Path) -> None:
    app1, note = CASES[case]
    p = tmp_path / "photo.jpg"
    original = jpeg_with(*app1)
    p.write_bytes(original)
    r = engine.write_metadata(p, {"Artist": "Jane Doe"}, repair=True)
    assert any(note in n for n in r.notes), r.notes
    assert r.backup is not None and Path(r.backup).read_bytes() == original
    meta = engine.read_metadata(p)
    assert meta.tags["Artist"].value == "Jane Doe"
    if "Make" in meta.tags:  # kept from the readable part
        assert meta.tags["Make"].value == "Cam"
    assert "Make" in meta.tags or case == "no-tiff-header"
    if HAVE_EXIFTOOL:
        before = tmp_path / "before.jpg"
        before.write_bytes(original)
        assert exiftool_value(p, "Artist") == "Jane Doe"
        new = exiftool_warnings(p) - exiftool_warnings(before)
        if case == "no-tiff-header":  # a new IFD0 holds the asked tag only (exif_block.py)
            new = {w for w in new if not w.startswith("Missing required JPEG IFD0 tag")}
        assert not new, new


@pytest.mark.parametrize("case", ["gps-zero-count", "ifd-past-end", "multi-segment",
                                  "no-tiff-header", "duplicate"])
def test_refusal_names_repair(case: str, tmp_path: Path) -> None:
    p = tmp_path / "photo.jpg"
    original = jpeg_with(*CASES[case][0])
    p.write_bytes(original)
    with pytest.raises(WriteError, match="--repair") as exc:
        engine.write_metadata(p, {"Artist": "Jane Doe"})
    assert "\n" not in str(exc.value)
    assert p.read_bytes() == original
    if case != "duplicate":
        assert CASES[case][1] in str(exc.value)


def test_undamaged_file_is_not_touched_by_repair(tmp_path: Path) -> None:
    p = tmp_path / "photo.jpg"
    p.write_bytes(jpeg_with(b"Exif\0\0" + base_block()))
    r = engine.write_metadata(p, {"Artist": "Jane Doe"}, repair=True, backup=False)
    assert r.notes == []
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(jpeg_with(b"Exif\0\0" + base_block()))
    engine.write_metadata(plain, {"Artist": "Jane Doe"}, backup=False)
    assert p.read_bytes() == plain.read_bytes()


def test_cli_repair(tmp_path: Path) -> None:
    p = tmp_path / "photo.jpg"
    p.write_bytes(jpeg_with(*CASES["gps-zero-count"][0]))
    metafs = [str(REPO / ".venv" / "bin" / "metafs")]
    run = subprocess.run([*metafs, "write", str(p), "--set", "Artist=Jane"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1 and "--repair would fix it" in run.stderr
    run = subprocess.run([*metafs, "write", str(p), "--set", "Artist=Jane", "--repair"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "zero count" in run.stdout + run.stderr
    assert engine.read_metadata(p).tags["Artist"].value == "Jane"


@pytest.mark.skipif(not HAVE_EXIFTOOL or not CORPUS.is_dir(),
                    reason="exiftool or corpus absent")
@pytest.mark.parametrize("rel", ["exif-samples/jpg/tests/45-gps_ifd.jpg",
                                 "pillow/Tests/images/multiple_exif.jpg",
                                 "metadata-extractor-images/png/sampleWithExifData.png",
                                 "metadata-extractor-images/webp/Nikon D1X.webp"])
def test_corpus_files_exiftool_writes(rel: str, tmp_path: Path) -> None:
    # Refused without --repair; ExifTool writes them (with a minor note).
    p = tmp_path / f"copy{Path(rel).suffix}"
    shutil.copyfile(CORPUS / rel, p)
    with pytest.raises(WriteError, match="--repair"):
        engine.write_metadata(p, {"Artist": "metafs test"}, backup=False)
    r = engine.write_metadata(p, {"Artist": "metafs test"}, repair=True, backup=False)
    assert r.notes
    assert exiftool_value(p, "Artist") == "metafs test"
    assert exiftool_warnings(p) <= exiftool_warnings(CORPUS / rel)


def test_undersized_ifd1_strips_are_written_without_repair(tmp_path: Path) -> None:
    # ExifTool refuses ("[minor] Undersized IFD1 StripByteCounts") unless -m; the patch leaves
    # IFD1 and its strip where they are, so there is nothing to repair.
    ifd1 = [(0x100, 3, [8]), (0x101, 3, [8]), (0x102, 3, [8, 8, 8]), (0x103, 3, [1]),
            (0x106, 3, [2]), (0x111, 4, [0]), (0x115, 3, [3]), (0x117, 4, [10])]
    blk = bytearray(build([[(MAKE, 2, "Cam")], ifd1]))
    strip_at = len(blk)
    blk += bytes(range(10))
    from engine.exif.ifd import parse_tiff

    entry = next(e for i in parse_tiff(bytes(blk)).ifds for e in i.entries if e.tag == 0x111)
    struct.pack_into("<I", blk, entry.entry_offset + 8, strip_at)
    p = tmp_path / "photo.jpg"
    p.write_bytes(jpeg_with(b"Exif\0\0" + bytes(blk)))
    r = engine.write_metadata(p, {"Artist": "Jane Doe"}, backup=False)
    assert r.notes == []
    assert bytes(range(10)) in p.read_bytes()


# --- TIFF, PNG, WebP, HEIF: the EXIF block repaired in place ---------------------------------

def _damaged(name: str, case: str) -> bytes:
    """Fixture ``name`` with its EXIF block damaged in place (same size): ``duplicate`` (the
    last IFD0 entry becomes a copy of the first), ``past-end`` (the ExifIFD pointer, or the
    last IFD0 entry made one, leads far outside the block)."""
    from engine.exif.ifd import parse_tiff
    from engine.registry import sniff

    data = bytearray((REPO / "fixtures" / name).read_bytes())
    fmt = sniff(bytes(data[:64]))
    slot = fmt.locate(bytes(data), name).first("exif")
    off, st = slot.offset, parse_tiff(bytes(slot.data))
    bo = st.byte_order
    ents = st.ifds[0].entries
    last = off + ents[-1].entry_offset
    if case == "duplicate":
        data[last : last + 12] = data[off + ents[0].entry_offset : off + ents[0].entry_offset + 12]
    else:
        data[last : last + 12] = struct.pack(bo + "HHII", 0x8769, 4, 1, 0x7FFF0)
    if fmt.name == "PNG":  # a good CRC: the damage is in the EXIF, not in the chunk
        import zlib

        start = bytes(data).rfind(b"eXIf", 0, off)
        size = struct.unpack_from(">I", data, start - 4)[0]
        struct.pack_into(">I", data, start + 4 + size, zlib.crc32(data[start : start + 4 + size]))
    return bytes(data)


FORMATS = ["exif_xmp.png", "exif_xmp.webp", "exif_xmp.heic", "strips_le.tif"]


@pytest.mark.parametrize("case", ["duplicate", "past-end"])
@pytest.mark.parametrize("name", FORMATS)
def test_repair_in_every_format(name: str, case: str, tmp_path: Path) -> None:
    """Refused without --repair (the message says what it would change), written with it:
    the notes say what changed, the backup is the original, ExifTool reads the asked tag and
    gives no warning the damaged file did not have."""
    original = _damaged(name, case)
    p = tmp_path / name
    p.write_bytes(original)
    with pytest.raises(WriteError, match="metafs write --repair") as exc:
        engine.write_metadata(p, {"Artist": "Jane Q. Public"})
    assert "\n" not in str(exc.value) and p.read_bytes() == original
    r = engine.write_metadata(p, {"Artist": "Jane Q. Public", "xmp/dc:title": "t"},
                              repair=True)
    want = "duplicate of an earlier entry" if case == "duplicate" else "pointer to offset 524272"
    assert any(want in n for n in r.notes), r.notes
    assert r.backup is not None and Path(r.backup).read_bytes() == original
    assert engine.read_metadata(p).tags["Artist"].value == "Jane Q. Public"
    if HAVE_EXIFTOOL:
        before = tmp_path / f"before{p.suffix}"
        before.write_bytes(original)
        assert exiftool_value(p, "Artist") == "Jane Q. Public"
        assert not exiftool_warnings(p) - exiftool_warnings(before)


# --- the mount option -------------------------------------------------------------------------

def _mount_and_tag(tmp_path: Path, *extra: str) -> tuple[Path, bytes, str]:
    """Mount a SOURCE holding a JPEG with a damaged EXIF block (a GPS pointer with no value),
    write its Artist through the mount and commit; (the photo in SOURCE, its original bytes,
    the commit's error or "")."""
    from support.mount import Mount

    tmp_path.mkdir()
    m = Mount(tmp_path, 200, *extra)
    try:
        photo = m.src / "damaged.jpg"
        original = jpeg_with(*CASES["gps-zero-count"][0])
        photo.write_bytes(original)
        (m.mnt / "damaged.jpg.meta" / "Artist").write_text("Jane Doe\n")
        try:
            m.commit()
            err = ""
        except AssertionError as e:
            err = str(e)
        return photo, original, err
    finally:
        m.close()


@pytest.mark.mount
def test_mount_repair_option(tmp_path: Path) -> None:
    """``metafs mount --repair``: the daemon's writes repair what ``metafs write --repair``
    repairs (the backup keeps the original); without it the commit is refused and the photo
    is left as it was."""
    from support.mount import needs_mount

    if needs_mount.args[0]:
        pytest.skip(needs_mount.kwargs["reason"])
    photo, original, err = _mount_and_tag(tmp_path / "plain")
    assert err and photo.read_bytes() == original
    photo, original, err = _mount_and_tag(tmp_path / "repair", "--repair")
    assert err == ""
    assert engine.read_metadata(photo).tags["Artist"].value == "Jane Doe"
    assert (photo.parent / ".originals" / photo.name).read_bytes() == original
