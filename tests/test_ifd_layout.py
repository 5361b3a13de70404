"""Where the patcher puts an IFD it rewrites: ExifTool must read the result without a new warning.

ExifTool reads the IFD1, IFD2... chain with IFD0's directory length (from IFD0's start to the end
of the block) and under -validate warns "Short directory size for IFD1" when an IFD of the chain
holds more entries than that.  The patcher moves a grown IFD0 to the end of the block, so it must
leave enough bytes after IFD0's start.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from support.tiff_builder import build

import engine
from engine.exif.ifd import parse_tiff
from engine.exif.patch import IfdEdit, NewEntry, plan_patch

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
# Corpus files where a one-tag write used to add "Short directory size for IFD1".
SHORT_IFD1 = ["exif-samples/jpg/exif-org/kodak-dc210.jpg",
              "metadata-extractor-images/jpg/Panasonic NV-GX7.jpg",
              "metadata-extractor-images/jpg/FujiFilm DX-5.jpg"]


def small_ifd0_big_ifd1(bo: str = "<") -> bytes:
    ifd0 = [(0x010F, 2, "Cam"), (0x0112, 3, [1])]
    ifd1 = [(0x0100 + k, 3, [k]) for k in range(9)]
    return build([ifd0, ifd1], bo=bo)


def add_artist(block: bytes, text: str) -> bytes:
    st = parse_tiff(block)
    raw = text.encode() + b"\0"
    edit = IfdEdit(put={0x013B: NewEntry(0x013B, 2, len(raw), raw)})
    return plan_patch(block, st, {"IFD0": edit}).apply(block)


def room_after_ifd0(block: bytes) -> tuple[int, int]:
    st = parse_tiff(block)
    ifds = {i.name: i for i in st.ifds}
    n1 = struct.unpack_from("<H", block, ifds["IFD1"].offset)[0]
    return len(block) - ifds["IFD0"].offset, 2 + 12 * n1


@pytest.mark.parametrize("text", ["Me", "A long artist name, out of line"])
def test_grown_ifd0_leaves_room_for_ifd1(text: str) -> None:
    new = add_artist(small_ifd0_big_ifd1(), text)
    room, need = room_after_ifd0(new)
    assert room >= need
    assert not parse_tiff(new).warnings
    assert {e.tag for i in parse_tiff(new).ifds if i.name == "IFD0" for e in i.entries} == {
        0x010F, 0x0112, 0x013B}


def test_padding_is_reclaimed_by_the_next_edit() -> None:
    once = add_artist(small_ifd0_big_ifd1(), "First")
    sizes = []
    block = once
    for text in ["Second", "A much longer name than before", "Third", "Fourth"]:
        st = parse_tiff(block)
        raw = text.encode() + b"\0"
        edit = IfdEdit(put={0x013B: NewEntry(0x013B, 2, len(raw), raw)}, drop={0x0112})
        block = plan_patch(block, st, {"IFD0": edit}).apply(block)
        room, need = room_after_ifd0(block)
        assert room >= need
        sizes.append(len(block))
        edit = IfdEdit(put={0x0112: NewEntry(0x0112, 3, 1, b"\1\0")})
        block = plan_patch(block, parse_tiff(block), {"IFD0": edit}).apply(block)
        sizes.append(len(block))
    assert max(sizes) <= len(once) + 32  # the longer name once, never a growing pad


def test_camera_zero_padding_is_not_reclaimed() -> None:
    # Zeros at the end of a camera's block (IFD0 first) may be the target of a pointer we
    # cannot see: the block never shrinks over them.
    block = small_ifd0_big_ifd1() + bytes(64)
    new = add_artist(block, "A long artist name, out of line")
    assert len(new) > len(block) and new[len(block) - 64 : len(block)] == bytes(64)


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool absent")
def test_exiftool_validate_sees_no_short_ifd1(tmp_path: Path) -> None:
    from PIL import Image

    p = tmp_path / "small.jpg"
    Image.new("RGB", (8, 8)).save(p, exif=b"Exif\0\0" + small_ifd0_big_ifd1(">"))
    engine.write_metadata(p, {"Artist": "Someone"}, backup=False)
    out = subprocess.run(["exiftool", "-validate", "-warning", "-a", "-s3", str(p)],
                         capture_output=True, text=True, check=False).stdout
    assert "Short directory size" not in out
    assert engine.read_metadata(p)  # readable


@pytest.mark.skipif(shutil.which("exiftool") is None or not CORPUS.is_dir(),
                    reason="exiftool or corpus absent")
@pytest.mark.parametrize("rel", SHORT_IFD1)
def test_corpus_write_adds_no_validate_warning(rel: str, tmp_path: Path) -> None:
    src = CORPUS / rel
    dst = tmp_path / "copy.jpg"
    shutil.copyfile(src, dst)
    engine.write_metadata(dst, {"Artist": "Me"}, backup=False)  # inline: no value after IFD0

    def warnings(p: Path) -> set[str]:
        out = subprocess.run(["exiftool", "-validate", "-warning", "-a", "-s3", str(p)],
                             capture_output=True, text=True, check=False).stdout
        return {line for line in out.splitlines() if not line[:1].isdigit() and line != "OK"}

    assert warnings(dst) <= warnings(src)
