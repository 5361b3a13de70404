"""``metafs read -r DIR``'s summary counts the folders it listed, as ExifTool does
("    2 directories scanned" before "    3 image files read"; issue 15): on stderr, after a
command over more than one file, hidden folders (never listed) not counted, -q silent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metafs.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in ("a.jpg", "b.jpg", "sub/c.jpg", "sub/deeper/d.jpg", ".hidden/e.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / "photo.jpg", tmp_path / rel)
    (tmp_path / "sub" / "empty").mkdir()
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    status = main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def test_recursive_read_counts_the_folders_scanned(tree: Path, capsys) -> None:
    # tree, sub, sub/deeper, sub/empty: four folders listed (.hidden is not)
    assert run(capsys, "read", "-r", str(tree)) == (
        0, ["    4 directories scanned", "    4 image files read"])


def test_folders_and_files_named_together(tree: Path, capsys) -> None:
    assert run(capsys, "read", str(tree), str(tree / "sub" / "c.jpg")) == (
        0, ["    1 directories scanned", "    3 image files read"])


def test_files_alone_scan_no_folder_and_quiet_is_silent(tree: Path, capsys) -> None:
    assert run(capsys, "read", str(tree / "a.jpg"), str(tree / "b.jpg")) == (
        0, ["    2 image files read"])
    assert run(capsys, "read", "-q", "-r", str(tree)) == (0, [])
