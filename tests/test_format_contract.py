"""The write contract every writable container honours, with the same assertions for each
(mutagen's way: one contract, every format, always on a temp copy of a fixture).

The formats: JPEG, TIFF, a TIFF-based raw (ORF: the TIFF fixture under Olympus's header
magic), PNG, WebP, HEIF, EXV (photo.jpg's segments as an Exiv2 sidecar), MRW (strips_le.tif
as the TIFF block of a Minolta raw) and RAF (photo.jpg as the JPEG of a Fujifilm raw).
Each case runs on every one; where a format cannot hold a group (IPTC in PNG, WebP and
HEIF without an IPTC block), the case asserts the refusal the engine gives instead.  The
last three tests run over every writable fixture file.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.raw_builders import mrw_file, raf_file
from support.refuse import assert_refused

import engine
from engine.errors import TagValueError, WriteError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _orf(dst: Path) -> None:
    """strips_le.tif with the ORF magic ``IIRO``: ExifTool and metafs read it as ORF."""
    data = bytearray((FIXTURES / "strips_le.tif").read_bytes())
    data[2:4] = b"RO"
    dst.write_bytes(data)


def _exv(dst: Path) -> None:
    """photo.jpg as an Exiv2 EXV sidecar: its segments after the ``Exiv2`` TEM header, no
    image (what ``exiftool -o x.exv photo.jpg`` writes)."""
    from engine.containers.jpeg import parse_jpeg

    data = (FIXTURES / "photo.jpg").read_bytes()
    parsed = parse_jpeg(data)
    assert parsed.sos_offset is not None
    dst.write_bytes(b"\xff\x01Exiv2" + data[2:parsed.sos_offset] + b"\xff\xd9")


def _mrw(dst: Path) -> None:
    """strips_le.tif as the TTW block of a Minolta MRW (support.raw_builders)."""
    dst.write_bytes(mrw_file((FIXTURES / "strips_le.tif").read_bytes()))


def _raf(dst: Path) -> None:
    """photo.jpg as the JPEG of a Fujifilm RAF (support.raw_builders)."""
    dst.write_bytes(raf_file((FIXTURES / "photo.jpg").read_bytes(), pad=2))


def _copy(name: str) -> Callable[[Path], None]:
    return lambda dst: shutil.copyfile(FIXTURES / name, dst)


# format -> (file name, how to make it, the FileType the engine must see)
FORMATS: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "JPEG": ("photo.jpg", _copy("photo.jpg"), "JPEG"),
    "TIFF": ("strips_le.tif", _copy("strips_le.tif"), "TIFF"),
    "ORF": ("raw.orf", _orf, "ORF"),
    "PNG": ("exif_xmp.png", _copy("exif_xmp.png"), "PNG"),
    "WebP": ("exif_xmp.webp", _copy("exif_xmp.webp"), "Extended WEBP"),
    "HEIF": ("exif_xmp.heic", _copy("exif_xmp.heic"), "HEIC"),
    "EXV": ("photo.exv", _exv, "EXV"),
    "MRW": ("raw.mrw", _mrw, "MRW"),
    "RAF": ("raw.raf", _raf, "RAF"),
}
# One tag of each group, set and deleted in every format (each is in every fixture).
SETS = {"Artist": "metafs contract", "xmp/dc:title": "Contract"}
IPTC = {"iptc/Keywords": "contract"}
# Tags whose value is where a block sits: a rewrite may move them.
LAYOUT_SUFFIXES = ("Offset", "Offsets", "Start", "ByteCounts", "Length")


@pytest.fixture(params=sorted(FORMATS))
def sample(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    name, make, file_type = FORMATS[request.param]
    path = tmp_path / name
    make(path)
    assert engine.read_metadata(path).file_type == file_type
    return path


def _values(path: Path) -> dict[str, object]:
    return {p: t.value for p, t in engine.read_metadata(path).tags.items()
            if not t.name.endswith(LAYOUT_SUFFIXES)}


def _holds_iptc(path: Path) -> bool:
    md = engine.read_metadata(path)
    has_iptc = any(p.startswith("iptc/") for p in md.tags)
    return "iptc" in engine.writable_groups(md.format, has_iptc)


def test_written_values_read_back(sample: Path) -> None:
    result = engine.write_metadata(sample, SETS)
    assert not result.unchanged
    md = engine.read_metadata(sample)
    assert {p: md.get(p) for p in SETS} == SETS


def test_iptc_is_written_where_the_format_holds_it_and_refused_where_not(sample: Path) -> None:
    md = engine.read_metadata(sample)
    if _holds_iptc(sample):
        engine.write_metadata(sample, IPTC)
        assert engine.read_metadata(sample).get("iptc/Keywords") == ["contract"]
        return
    assert not any(p.startswith("iptc/") for p in md.tags)
    assert "use the XMP equivalents" in engine.why_not_writable(md.format, "iptc")
    assert_refused(sample, IPTC, "IPTC", "use the XMP equivalents", error=WriteError)


def test_deleted_tags_are_gone(sample: Path) -> None:
    before = engine.read_metadata(sample)
    assert all(before.get(p) is not None for p in SETS)
    engine.write_metadata(sample, dict.fromkeys(SETS))
    after = engine.read_metadata(sample)
    assert [p for p in SETS if after.get(p) is not None] == []


def test_a_write_leaves_every_other_tag_as_it_was(sample: Path) -> None:
    before = _values(sample)
    engine.write_metadata(sample, {"Artist": "only this"}, sync_related=False)
    after = _values(sample)
    assert after.pop("Artist") == "only this"
    before.pop("Artist")
    assert after == before


def test_the_first_write_keeps_the_original_as_backup_and_restore_brings_it_back(
        sample: Path) -> None:
    original = sample.read_bytes()
    first = engine.write_metadata(sample, {"Artist": "first"})
    assert first.backup is not None and Path(first.backup).read_bytes() == original
    second = engine.write_metadata(sample, {"Artist": "second"})
    assert second.backup == first.backup  # the first original is kept, not replaced
    assert Path(first.backup).read_bytes() == original
    assert engine.restore(sample) == first.backup
    assert sample.read_bytes() == original


def test_writing_the_same_values_again_changes_nothing(sample: Path) -> None:
    engine.write_metadata(sample, SETS, backup=False)
    data = sample.read_bytes()
    assert engine.write_metadata(sample, SETS).unchanged
    assert sample.read_bytes() == data
    assert not (sample.parent / ".originals").exists()


@pytest.mark.parametrize("changes", [
    {"Orientation": "sideways"},  # EXIF: not one of the printed values
    {"ISO": "many"},
    {"xmp/dc:title": "bell\x07"},  # XMP: XML 1.0 cannot hold the control character
])
def test_a_bad_value_is_refused_and_the_file_left_as_it_was(sample: Path, changes) -> None:
    assert_refused(sample, changes, error=TagValueError)


# ---- over every writable fixture file --------------------------------------------------------

WRITABLE = sorted(
    p.name for p in FIXTURES.iterdir()
    if p.suffix.lower() in (".jpg", ".tif", ".png", ".webp", ".heic", ".avif")
    and not p.name.startswith(("truncated", "ifd_loop"))
)
FIXTURE_SETS = {"Artist": "metafs contract", "xmp/dc:title": "Contract"}


@pytest.mark.parametrize("name", WRITABLE)
def test_write_reads_back_and_restore_gives_the_original(tmp_copy, name: str) -> None:
    path = tmp_copy(name)
    original = path.read_bytes()
    before = engine.read_metadata(path)
    result = engine.write_metadata(path, FIXTURE_SETS)
    assert not result.unchanged and result.backup is not None
    assert Path(result.backup).read_bytes() == original
    after = engine.read_metadata(path)
    assert after["Artist"] == "metafs contract" and after["xmp/dc:title"] == "Contract"
    for p, tag in before.tags.items():
        if p not in FIXTURE_SETS and not tag.name.endswith(("Offset", "Offsets", "Start")):
            assert p in after.tags, p
    engine.restore(path)
    assert path.read_bytes() == original


@pytest.mark.parametrize("name", WRITABLE)
def test_writing_back_the_printed_values_changes_nothing(tmp_copy, name: str) -> None:
    path = tmp_copy(name)
    original = path.read_bytes()
    md = engine.read_metadata(path)
    same = {p: "\n".join(t.value) if isinstance(t.value, list) else t.value
            for p, t in md.tags.items() if t.writable and not t.is_binary and "#" not in p}
    result = engine.write_metadata(path, same)
    assert result.unchanged
    assert path.read_bytes() == original
    assert not (path.parent / ".originals").exists()


@pytest.mark.parametrize("name", WRITABLE)
def test_repeated_edits_do_not_grow_the_file(tmp_copy, name: str) -> None:
    path = tmp_copy(name)
    engine.write_metadata(path, {"Artist": "first value"})
    size = path.stat().st_size
    for text in ("second value", "third value", "first value"):
        engine.write_metadata(path, {"Artist": text})
    assert path.stat().st_size == size
