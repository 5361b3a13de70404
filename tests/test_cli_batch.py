"""Batch reporting (issue 15): after a command over more than one file, ExifTool's summary
on stderr ("    3 image files updated", "    1 image files unchanged", "    1 files weren't
updated due to errors"); -q drops it; exit status 0 only when every file was written or
unchanged; a one-file write stays silent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engine
from metafs import cli
from metafs.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def copy(tmp_path: Path, name: str, as_name: str | None = None) -> Path:
    dst = tmp_path / (as_name or name)
    shutil.copyfile(FIXTURES / name, dst)
    return dst


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    status = main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def test_write_summary_counts_updated_unchanged_and_errors(tmp_path: Path, capsys) -> None:
    a, b, c = (copy(tmp_path, "exif_le.jpg", f"{n}.jpg") for n in "abc")
    broken = copy(tmp_path, "truncated_exif.jpg")
    engine.write_metadata(c, {"Artist": "Batch"}, backup=False)
    status, err = run(capsys, "write", str(a), str(b), str(c), str(broken),
                      "--set", "Artist=Batch")
    assert status == 1
    assert err[0].startswith(f"metafs: write failed: {broken}: ")
    assert err[1:] == ["    2 image files updated", "    1 image files unchanged",
                       "    1 files weren't updated due to errors"]


def test_all_written_or_unchanged_exits_0(tmp_path: Path, capsys) -> None:
    a, b = copy(tmp_path, "exif_le.jpg", "a.jpg"), copy(tmp_path, "photo.jpg", "b.jpg")
    assert run(capsys, "write", str(a), str(b), "--set", "Artist=Once")[0] == 0
    status, err = run(capsys, "write", str(a), str(b), "--set", "Artist=Once")
    assert (status, err) == (0, ["    0 image files updated", "    2 image files unchanged"])


def test_quiet_drops_the_summary_not_the_errors(tmp_path: Path, capsys) -> None:
    a, broken = copy(tmp_path, "exif_le.jpg"), copy(tmp_path, "truncated_exif.jpg")
    status, err = run(capsys, "write", "-q", str(a), str(broken), "--set", "Artist=Q")
    assert status == 1 and len(err) == 1 and err[0].startswith("metafs: write failed: ")
    assert run(capsys, "restore", "-q", str(a))[0] == 0
    status, err = run(capsys, "copy-tags", "-q", str(a), str(broken), str(a),
                      "--tags", "Artist")
    assert status == 1 and len(err) == 1


def test_one_file_write_is_silent(tmp_path: Path, capsys) -> None:
    a = copy(tmp_path, "exif_le.jpg")
    assert run(capsys, "write", str(a), "--set", "Artist=Alone") == (0, [])


def test_quiet_takes_the_fast_path(tmp_path: Path) -> None:
    args = cli.quick_write_args(["write", "-q", "-P", "a.jpg", "--set", "Artist=X"])
    assert args is not None and args.quiet and args.keep_mtime


def test_read_summary_and_failures(tmp_path: Path, capsys) -> None:
    a = copy(tmp_path, "exif_le.jpg")
    (tmp_path / "notes.jpg").write_text("not a photo")
    status, err = run(capsys, "read", str(a), str(tmp_path / "notes.jpg"))
    assert status == 1
    assert err[1:] == ["    1 image files read", "    1 files could not be read"]
    assert run(capsys, "read", "--json", str(a), str(a))[1] == []  # exiftool -j: none


class FakeTTY:
    """stderr as a terminal: the progress line appears on long runs only."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def test_progress_only_on_a_terminal_and_a_long_run(tmp_path: Path, monkeypatch) -> None:
    files = [str(copy(tmp_path, "exif_le.jpg", f"{i}.jpg")) for i in range(4)]
    tty = FakeTTY()
    monkeypatch.setattr(cli.sys, "stderr", tty)
    assert main(["write", *files, "--set", "Artist=Fast"]) == 0
    assert "\r[" not in tty.text and tty.text == "    4 image files updated\n"
    tty.text = ""
    monkeypatch.setattr(cli, "PROGRESS_AFTER", 0.0)  # every run is long
    assert main(["write", *files, "--set", "Artist=Slow"]) == 0
    assert "\r[" in tty.text and "3/4" in tty.text
    assert tty.text.endswith("\r\033[K    4 image files updated\n")
    tty.text = ""
    assert main(["write", "-q", *files, "--set", "Artist=Quiet"]) == 0
    assert tty.text == ""


def test_files_written_at_once_are_reported_in_the_order_given(tmp_path: Path, capsys) -> None:
    """A batch works on several files at once (their fsyncs overlap) but reports them in the
    order named; the same photo named twice is written once and then found unchanged."""
    names: list[Path] = []
    for i in range(3 * cli.BATCH_WORKERS):
        src = "truncated_exif.jpg" if i % 3 == 1 else "exif_le.jpg"
        names.append(copy(tmp_path, src, f"{i:02d}.jpg"))
    twice = names[0]
    status, err = run(capsys, "write", *map(str, names), str(twice), "--set", "Artist=Order")
    assert status == 1
    failed = [line.split(": ")[2] for line in err if line.startswith("metafs: write failed")]
    assert failed == [str(p) for i, p in enumerate(names) if i % 3 == 1]
    assert err[-3:] == [f"{2 * cli.BATCH_WORKERS:5d} image files updated",
                        f"{1:5d} image files unchanged",
                        f"{cli.BATCH_WORKERS:5d} files weren't updated due to errors"]
    for i, p in enumerate(names):
        if i % 3 != 1:
            assert engine.read_metadata(p).tags["Artist"].value == "Order"
