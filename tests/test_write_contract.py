"""The write contract every format honours, run over every writable fixture (mutagen's way:
one contract, every sample file, always on a temp copy)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
WRITABLE = sorted(
    p.name for p in FIXTURES.iterdir()
    if p.suffix.lower() in (".jpg", ".tif", ".png", ".webp", ".heic", ".avif")
    and not p.name.startswith(("truncated", "ifd_loop"))
)
SETS = {"Artist": "metafs contract", "xmp/dc:title": "Contract"}


def sample(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copyfile(FIXTURES / name, dst)
    return dst


@pytest.mark.parametrize("name", WRITABLE)
def test_write_reads_back_and_restore_gives_the_original(tmp_path: Path, name: str) -> None:
    path = sample(tmp_path, name)
    original = path.read_bytes()
    before = engine.read_metadata(path)
    result = engine.write_metadata(path, SETS)
    assert not result.unchanged and result.backup is not None
    assert Path(result.backup).read_bytes() == original
    after = engine.read_metadata(path)
    assert after["Artist"] == "metafs contract" and after["xmp/dc:title"] == "Contract"
    for p, tag in before.tags.items():
        if p not in SETS and not tag.name.endswith(("Offset", "Offsets", "Start")):
            assert p in after.tags, p
    engine.restore(path)
    assert path.read_bytes() == original


@pytest.mark.parametrize("name", WRITABLE)
def test_writing_back_the_printed_values_changes_nothing(tmp_path: Path, name: str) -> None:
    path = sample(tmp_path, name)
    original = path.read_bytes()
    md = engine.read_metadata(path)
    same = {p: "\n".join(t.value) if isinstance(t.value, list) else t.value
            for p, t in md.tags.items() if t.writable and not t.is_binary and "#" not in p}
    result = engine.write_metadata(path, same)
    assert result.unchanged
    assert path.read_bytes() == original
    assert not (tmp_path / ".originals").exists()


@pytest.mark.parametrize("name", WRITABLE)
def test_repeated_edits_do_not_grow_the_file(tmp_path: Path, name: str) -> None:
    path = sample(tmp_path, name)
    engine.write_metadata(path, {"Artist": "first value"})
    size = path.stat().st_size
    for text in ("second value", "third value", "first value"):
        engine.write_metadata(path, {"Artist": text})
    assert path.stat().st_size == size
