"""Issue 16: the non-TIFF containers ExifTool writes and metafs wrote none of: Exiv2 EXV
sidecars (written by the JPEG writer, engine.containers.exv_write), Minolta MRW (its TTW
block's TIFF by the TIFF writer, engine.containers.mrw_write) and Fujifilm RAF (its embedded
JPEG by the JPEG writer, the header pointers moved, engine.containers.raf_write).

Each is judged as scripts/variant_survey.py judges a variant (tests/support/write_compat.py:
ExifTool reads the result, every tag but the edited one as before, the same as ExifTool's
own write of that tag); fixtures are made at run time, never committed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from support.faults import fail_each_call
from support.mount import Mount, needs_mount
from support.raw_builders import mrw_file, raf_file
from support.refuse import assert_refused

import engine
from engine.errors import WriteError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
sys.path.insert(0, str(REPO / "scripts"))
import variant_makers as VM  # noqa: E402
import variant_survey as VS  # noqa: E402

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None,
                                    reason="exiftool not installed")
BARE_EXV = b"\xff\x01Exiv2\xff\xd9"  # an EXV holding nothing (what Exiv2 starts from)
ET_MRW = VM.ET_IMAGES / "Minolta.mrw"
ET_RAF = VM.ET_IMAGES / "FujiFilm.raf"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("inputs")
    VM.shared_inputs(src)
    return src


def _made(name: str, inputs: Path, dst: Path) -> Path:
    make = next((m for _f, n, m in VM.makers() if n == name), None)
    if make is None:
        pytest.skip("its source is in the corpus, absent here")
    make(inputs, dst)
    return dst


def _judged_clean(p: Path, work: Path) -> None:
    """A one-tag set and a delete, each judged clean against ExifTool's own write."""
    before = VS.exiftool_all(p)
    ops = VS.ops_for(before)
    assert len(ops) == 2  # a set and a delete
    for i, op in enumerate(ops):
        assert VS.judge("metafs", p, before, work / str(i), op) == ("clean", "")
        assert VS.judge("exiftool", p, before, work / f"et{i}", op) == ("clean", "")


# --- EXV ----------------------------------------------------------------------------------


@needs_exiftool
def test_an_exv_exiftool_made_is_written_and_deleted_from_as_exiftool_does(
        tmp_path: Path, inputs: Path) -> None:
    p = _made("exv_from_jpeg_et", inputs, tmp_path / "sidecar.exv")
    assert engine.read_metadata(p).file_type == "EXV"
    _judged_clean(p, tmp_path)


@needs_exiftool
def test_an_empty_exv_gets_its_first_segments_after_the_exiv2_header(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.exv", tmp_path / "theirs.exv"
    ours.write_bytes(BARE_EXV)
    theirs.write_bytes(BARE_EXV)
    engine.write_metadata(ours, {"Artist": "A. Writer", "xmp/dc:title": "T"})
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Artist=A. Writer",
                    "-XMP-dc:Title=T", str(theirs)], check=True)
    for p in (ours, theirs):
        data = p.read_bytes()
        assert data.startswith(BARE_EXV[:7] + b"\xff\xe1") and data.endswith(b"\xff\xd9")
        out = subprocess.run(["exiftool", "-j", "-G1", "-validate", "-warning", "-Artist",
                              "-XMP-dc:Title", str(p)], capture_output=True, text=True,
                             check=True).stdout
        assert '"IFD0:Artist": "A. Writer"' in out and '"XMP-dc:Title": "T"' in out, out
        assert '"ExifTool:Validate": "OK"' in out, out


def test_a_damaged_exv_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "damaged.exv"
    # an APP1 whose length runs past the end of the file
    p.write_bytes(BARE_EXV[:7] + b"\xff\xe1\x10\x00Exif\0\0II*\0" + b"\xff\xd9")
    assert_refused(p, {"Artist": "x"}, "EXV", "unreadable bytes at offset 7",
                   error=WriteError)


def test_every_failing_call_of_an_exv_write_leaves_old_or_new(tmp_path: Path) -> None:
    p = tmp_path / "photo.exv"
    p.write_bytes(BARE_EXV)
    engine.write_metadata(p, {"Make": "Maker"}, backup=False)
    fail_each_call(p)


# --- MRW ----------------------------------------------------------------------------------


def test_an_mrw_write_keeps_every_other_block_and_the_image_data(tmp_path: Path) -> None:
    p = tmp_path / "built.mrw"
    original = mrw_file()
    p.write_bytes(original)
    engine.write_metadata(p, {"Artist": "A. Writer", "xmp/dc:title": "T"})
    data = p.read_bytes()
    from engine.containers.mrw import mrw_blocks

    (old, old_end, _), (new, new_end, problem) = mrw_blocks(original), mrw_blocks(data)
    assert problem == "" and [b.tag for b in new] == [b.tag for b in old]
    for a, b in zip(old, new, strict=True):  # PRD (before TTW) where it was, all the same
        if a.tag != b"\0TTW":
            assert original[a.offset:a.offset + a.length] == data[b.offset:b.offset + b.length]
    assert new[0].offset == old[0].offset and new[1].offset == old[1].offset
    assert new[1].length % 4 == 0 and new[1].length > old[1].length
    assert data[new_end:] == original[old_end:]
    md = engine.read_metadata(p)
    assert (md["Artist"], md["xmp/dc:title"], md["Model"]) == ("A. Writer", "T", "DiMAGE A2")


@pytest.mark.parametrize(("damage", "needles"), [
    (lambda d: d[:4] + struct.pack(">I", len(d)) + d[8:],
     ("MRW format error", "the MRM header's length runs past the end of the file"),),
    (lambda d: d[:len(d) - 6000 - 36] + struct.pack(">I", 10**6) + d[len(d) - 6000 - 32:],
     ("MRW format error", "block b'\\x00PAD'", "runs past the MRM header")),
])
def test_a_damaged_mrw_is_refused(tmp_path: Path, damage, needles) -> None:
    p = tmp_path / "damaged.mrw"
    p.write_bytes(damage(mrw_file()))
    assert_refused(p, {"Artist": "x"}, *needles)


def test_every_failing_call_of_an_mrw_write_leaves_old_or_new(tmp_path: Path) -> None:
    p = tmp_path / "photo.mrw"
    p.write_bytes(mrw_file())
    fail_each_call(p)


# --- RAF ----------------------------------------------------------------------------------


def _raf(tmp_path: Path, **kw) -> Path:
    p = tmp_path / "built.raf"
    p.write_bytes(raf_file((FIXTURES / "photo.jpg").read_bytes(), **kw))
    return p


def test_a_raf_write_moves_the_header_pointers_and_keeps_the_cfa_data(tmp_path: Path) -> None:
    p = _raf(tmp_path, pad=3)
    original = p.read_bytes()
    engine.write_metadata(p, {"Artist": "A much longer artist name", "xmp/dc:title": "T"})
    data = p.read_bytes()
    old = struct.unpack_from(">10I", original, 84)
    new = struct.unpack_from(">10I", data, 84)
    jlen = new[1]
    assert new[0] == 0x94 and data[0x94:0x96] == b"\xff\xd8"
    assert new[2] == 0x94 + jlen + 4 - jlen % 4  # 1 to 4 zero bytes of padding
    assert data[0x94 + jlen:new[2]].strip(b"\0") == b""
    shift = new[2] - old[2]
    assert shift != 0 and new[4] == old[4] + shift and new[3] == old[3] and new[6:] == old[6:]
    assert data[:84] == original[:84] and data[new[2]:] == original[old[2]:]
    assert engine.read_metadata(p)["Artist"] == "A much longer artist name"


def _next(d: bytes) -> int:
    return struct.unpack_from(">I", d, 0x5C)[0]  # the block after the JPEG's padding


@pytest.mark.parametrize(("damage", "needles"), [
    (lambda d: d[:0x3C] + b"01x0" + d[0x40:], ("unsupported or corrupted RAF image",)),
    (lambda d: d[:84] + struct.pack(">I", 0x90) + d[88:], ("JPEG: no SOI marker at the start",)),
    (lambda d: d[:0x5C] + struct.pack(">I", len(d) + 8) + d[0x60:], ("bad RAF pointer at 0x5c",)),
    (lambda d: d[:_next(d) - 1] + b"\1" + d[_next(d):], ("non-null bytes in the padding",)),
])
def test_a_damaged_raf_is_refused(tmp_path: Path, damage, needles) -> None:
    p = _raf(tmp_path, pad=3)
    p.write_bytes(damage(p.read_bytes()))
    assert_refused(p, {"Artist": "x"}, *needles)


def test_every_failing_call_of_a_raf_write_leaves_old_or_new(tmp_path: Path) -> None:
    fail_each_call(_raf(tmp_path))


# --- both raws, judged against ExifTool's own writes ----------------------------------------

BUILT = {"built.mrw": lambda: mrw_file(), "built.raf": lambda: raf_file(
    (FIXTURES / "photo.jpg").read_bytes()), "padded.raf": lambda: raf_file(
    (FIXTURES / "photo.jpg").read_bytes(), pad=3)}


@needs_exiftool
@pytest.mark.parametrize("name", sorted(BUILT))
def test_a_built_raw_is_written_and_deleted_from_as_exiftool_does(tmp_path: Path,
                                                                    name: str) -> None:
    p = tmp_path / name
    p.write_bytes(BUILT[name]())
    assert engine.read_metadata(p).file_type == name[-3:].upper()
    _judged_clean(p, tmp_path)


@needs_exiftool
@pytest.mark.parametrize(("real", "variant"), [(ET_MRW, "Minolta_et_grown"),
                                               (ET_RAF, "FujiFilm_et_grown")])
def test_exiftools_own_raw_and_its_grown_variant_are_written_cleanly(
        tmp_path: Path, inputs: Path, real: Path, variant: str) -> None:
    if not real.is_file():
        pytest.skip("corpus absent")
    p = tmp_path / real.name
    shutil.copyfile(real, p)
    p.chmod(0o644)
    _judged_clean(p, tmp_path / "real")
    _judged_clean(_made(variant, inputs, tmp_path / f"grown{real.suffix}"), tmp_path / "g")


# --- through the mount ----------------------------------------------------------------------


@needs_mount
@needs_exiftool
def test_tags_of_exv_mrw_and_raf_files_are_written_through_the_mount(mount: Mount) -> None:
    files = {"side.exv": BARE_EXV, "raw.mrw": mrw_file(), "raw.raf": BUILT["built.raf"]()}
    for name, data in files.items():
        (mount.src / name).write_bytes(data)
    mount.sh("; ".join(f"echo 'Through the mount' > {n}.meta/Artist" for n in files))
    for name in files:
        mount.commit(mount.mnt / f"{name}.meta")
        assert mount.exif(name)["IFD0:Artist"] == "Through the mount", name
        assert (mount.src / ".originals" / name).read_bytes() == files[name]
