"""The ``metafs read`` command on folders of mixed files: output, one line per failure, and the
exit status (non-zero when any file named, or found, could not be read)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from metafs.cli import main

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """photos/ with two images, a text file, an empty .jpg, a subfolder with one image and
    a .originals/ backup tree (hidden: never read as photos of the folder)."""
    top = tmp_path / "photos"
    (top / "sub").mkdir(parents=True)
    (top / ".originals").mkdir()
    shutil.copyfile(FIXTURES / "photo.jpg", top / "a photo é.jpg")
    shutil.copyfile(FIXTURES / "exif_xmp.png", top / "b.png")
    shutil.copyfile(FIXTURES / "iptc.jpg", top / "sub" / "c.jpg")
    shutil.copyfile(FIXTURES / "photo.jpg", top / ".originals" / "a photo é.jpg")
    (top / "notes.txt").write_text("not a photo\n")
    (top / "empty.jpg").write_bytes(b"")
    return top


def test_folder_reads_its_images(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "read", str(folder))
    assert (status, err) == (0, ["    1 directories scanned", "    2 image files read"])
    heads = [line for line in out.splitlines() if line.startswith("======== ")]
    assert heads == [f"======== {folder / 'a photo é.jpg'}", f"======== {folder / 'b.png'}"]
    assert "Make: MetaFS Test Camera Co." in out


def test_recursive_json_skips_hidden_folders(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "read", "-r", "--json", str(folder))
    assert (status, err) == (0, [])
    names = [Path(d["SourceFile"]).relative_to(folder).as_posix() for d in json.loads(out)]
    assert names == ["a photo é.jpg", "b.png", "sub/c.jpg"]


def test_failures_one_line_each_and_exit_1(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(folder / n) for n in ("a photo é.jpg", "notes.txt", "empty.jpg", "gone.jpg")]
    status, out, err = run(capsys, "read", "--json", *files)
    assert status == 1
    assert len(err) == 3 and all(line.startswith(f"metafs: {folder}/") for line in err)
    assert "not an image format" in err[0] and "empty file" in err[1]
    assert "No such file" in err[2]
    results = json.loads(out)
    assert [("Error" in d) for d in results] == [False, True, True, True]


def test_folder_without_images_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sub").mkdir()
    shutil.copyfile(FIXTURES / "photo.jpg", tmp_path / "sub" / "p.jpg")
    status, out, err = run(capsys, "read", str(tmp_path))
    assert (status, out) == (1, "")
    assert err == [f"metafs: {tmp_path}: no image files in this folder (use -r to read its "
                   "subfolders)"]
    status, out, err = run(capsys, "read", "-r", str(tmp_path))
    assert (status, err) == (0, []) and "Make: MetaFS Test Camera Co." in out
