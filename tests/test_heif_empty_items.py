"""Issue 16, found by scripts/variant_survey.py: a HEIF/AVIF item ExifTool emptied.

``exiftool -EXIF:all=`` (or ``-XMP:all=``) on a HEIC/AVIF keeps the item and writes its
``iloc`` extent with length 0, and ExifTool reads that length literally: an empty item
(QuickTime.pm reads ``extent_length`` bytes).  metafs read length 0 as ISO 14496-12's "to
the end of the file" and, when the write moved boxes, gave the extent an explicit length:
the emptied item then covered the bytes after it (ExifTool: "Invalid EXIF header",
"[minor] Empty XMP"; Pillow decoded other pixels).  Now an Exif/XMP extent of length 0 is an
empty item, a write keeps it 0, a tag set on an emptied Exif item writes a new item content
(the ``\\0\\0\\0\\x06Exif\\0\\0`` prefix ExifTool writes), and the write validation refuses a
rewrite whose items would cover other bytes.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.heif_builder import build_heif, check_same_items
from support.oracles import exiftool
from support.write_compat import pixel_digest, warnings_of

import engine
from engine.containers import heif as H
from engine.containers import heif_write
from engine.containers.heif_write import NEW_EXIF_PREFIX
from engine.errors import ValidationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None,
                                    reason="exiftool not installed")


def _exiftool_writes(p: Path, *args: str) -> None:
    subprocess.run(["exiftool", "-q", "-overwrite_original", *args, str(p)], check=True,
                   capture_output=True)


def _locations(data: bytes) -> dict[str, H.ItemLocation]:
    """The iloc entry of the Exif and of the XMP item, by kind."""
    meta = next(b for b in H.parse_boxes(data).boxes if b.type == b"meta")
    kinds = {i.item_id: H.metadata_kind(i) for i in H.parse_iinf(meta.find(b"iinf").body(), [])}
    return {kinds[loc.item_id]: loc for loc in H.parse_iloc(meta.find(b"iloc").body()).items
            if kinds.get(loc.item_id)}


def _emptied(data: bytes, kind: str) -> bytes:
    """``data`` with the ``kind`` item's extent length set to 0, as ExifTool empties it."""
    meta = next(b for b in H.parse_boxes(data).boxes if b.type == b"meta")
    box = meta.find(b"iloc")
    iloc = H.parse_iloc(box.body())
    for loc in iloc.items:
        if loc.item_id == _locations(data)[kind].item_id:
            loc.extents = [(i, off, 0) for i, off, _n in loc.extents]
    new = H.render_iloc(iloc)
    assert len(new) == box.body_len
    return data[: box.data_offset] + new + data[box.data_offset + box.body_len:]


@needs_exiftool
@pytest.mark.parametrize(("name", "emptied", "edit"), [
    ("exif_xmp.heic", "-EXIF:all=", {"xmp/dc:title": None}),
    ("exif_xmp.avif", "-XMP:all=", {"Artist": "A"}),
])
def test_an_item_exiftool_emptied_stays_empty(tmp_path: Path, name: str, emptied: str,
                                              edit: dict) -> None:
    p = tmp_path / name
    shutil.copyfile(FIXTURES / name, p)
    _exiftool_writes(p, emptied)
    if "xmp/dc:title" in edit:
        _exiftool_writes(p, "-XMP-dc:Title=t")
    before = warnings_of(exiftool(p, "-a", "-G1"))
    pixels = pixel_digest(p)
    kind = "exif" if emptied == "-EXIF:all=" else "xmp"
    assert [n for _i, _o, n in _locations(p.read_bytes())[kind].extents] == [0]
    engine.write_metadata(p, edit)
    assert warnings_of(exiftool(p, "-a", "-G1")) == before
    assert [n for _i, _o, n in _locations(p.read_bytes())[kind].extents] == [0]
    assert pixel_digest(p) == pixels


@needs_exiftool
@pytest.mark.parametrize("name", ["exif_xmp.heic", "exif_xmp.avif"])
def test_a_tag_set_on_an_emptied_exif_item_fills_it_as_exiftool_does(tmp_path: Path,
                                                                      name: str) -> None:
    """``exiftool -EXIF:all=`` then ``metafs write --set Artist=x``: the item gets a new
    content, the prefix ExifTool writes (offset 6, ``Exif\\0\\0``) and a TIFF block, where
    metafs refused ("the Exif item holds no TIFF header")."""
    ours, theirs = tmp_path / name, tmp_path / f"et-{name}"
    shutil.copyfile(FIXTURES / name, ours)
    _exiftool_writes(ours, "-EXIF:all=")
    shutil.copyfile(ours, theirs)
    md = engine.read_metadata(ours)
    assert not md.warnings and "Make" not in md.tags  # empty, as ExifTool reads it
    engine.write_metadata(ours, {"Artist": "x"})
    _exiftool_writes(theirs, "-Artist=x")
    assert exiftool(ours, "-a", "-G1")["IFD0:Artist"] == "x"
    assert exiftool(ours, "-validate")["Validate"] == "OK"
    slot = H.HeifFormat.locate(ours.read_bytes(), str(ours)).first("exif")
    assert slot is not None and slot.header == NEW_EXIF_PREFIX
    their = H.HeifFormat.locate(theirs.read_bytes(), str(theirs)).first("exif")
    assert their is not None and their.header == NEW_EXIF_PREFIX


# -- synthetic files (no ExifTool): the same rules on bytes -------------------------------------

@pytest.mark.parametrize("kind", ["exif", "xmp"])
def test_an_empty_item_reads_as_empty(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "e.heic"
    p.write_bytes(_emptied(build_heif(), kind))
    md = engine.read_metadata(p)
    assert not md.warnings
    assert ("Make" in md.tags) == (kind == "xmp")
    assert ("xmp/dc:title" in md.tags) == (kind == "exif")


@pytest.mark.parametrize("kind", ["exif", "xmp"])
def test_a_moved_empty_item_keeps_length_0(tmp_path: Path, kind: str) -> None:
    """The other item's edit moves the mdat (meta grows): the empty extent moves with it
    and keeps length 0; every image item reads as before."""
    p = tmp_path / "e.heic"
    p.write_bytes(_emptied(build_heif(), kind))
    original = p.read_bytes()
    other = {"xmp/dc:title": "moved " * 50} if kind == "exif" else {"Artist": "moved " * 50}
    engine.write_metadata(p, other)
    assert [n for _i, _o, n in _locations(p.read_bytes())[kind].extents] == [0]
    assert not engine.read_metadata(p).warnings
    check_same_items(p, original)


@pytest.mark.parametrize("kind", ["exif", "xmp"])
def test_an_empty_item_gets_new_data_with_an_explicit_length(tmp_path: Path,
                                                              kind: str) -> None:
    p = tmp_path / "e.heic"
    p.write_bytes(_emptied(build_heif(), kind))
    original = p.read_bytes()
    engine.write_metadata(p, {"Artist": "x"} if kind == "exif" else {"xmp/dc:title": "x"})
    md = engine.read_metadata(p)
    assert not md.warnings
    assert md.tags["Artist" if kind == "exif" else "xmp/dc:title"].value == "x"
    assert all(n > 0 for _i, _o, n in _locations(p.read_bytes())[kind].extents)
    check_same_items(p, original)


def test_the_validation_refuses_an_item_that_covers_other_bytes(tmp_path: Path,
                                                                 monkeypatch) -> None:
    """A writer that gave the empty extent an explicit length (the old bug) is caught by
    the write validation: the file is left as it was."""
    p = tmp_path / "e.heic"
    p.write_bytes(_emptied(build_heif(), "exif"))
    data = p.read_bytes()
    shifted = heif_write._Rewrite._shifted

    def explicit(self, loc, shifts):  # the old rule: length 0 runs to the end of the file
        exts = [(i, off, n or self.size - loc.base_offset - off) for i, off, n in loc.extents]
        loc = H.ItemLocation(loc.item_id, loc.construction_method, loc.data_reference_index,
                             loc.base_offset, exts)
        return shifted(self, loc, shifts)

    monkeypatch.setattr(heif_write._Rewrite, "_shifted", explicit)
    with pytest.raises(ValidationError, match="would cover other bytes"):
        engine.write_metadata(p, {"xmp/dc:title": "moved " * 50})
    assert p.read_bytes() == data


def test_an_empty_item_in_the_rebuilt_trailing_mdat_stays_empty(tmp_path: Path) -> None:
    """The trailing mdat a former write appended is rebuilt: the empty item it holds is
    carried into the new one with length 0 (the bytes it no longer holds are dropped)."""
    p = tmp_path / "e.heic"
    p.write_bytes(build_heif())
    engine.write_metadata(p, {"Artist": "one", "xmp/dc:title": "one"})
    p.write_bytes(_emptied(p.read_bytes(), "xmp"))
    original = p.read_bytes()
    engine.write_metadata(p, {"Artist": "two"})
    data = p.read_bytes()
    assert len(data) < len(original)
    assert [n for _i, _o, n in _locations(data)["xmp"].extents] == [0]
    md = engine.read_metadata(p)
    assert md.tags["Artist"].value == "two" and "xmp/dc:title" not in md.tags
    assert not md.warnings
    check_same_items(p, original)
