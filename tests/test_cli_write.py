"""The ``metafs write``/``restore``/``copy-tags`` commands: exit statuses and messages.

Exit status 0 when every file was written; otherwise non-zero with exactly one line per failing
file on stderr (and nothing for the files that went through), then, when more than one file
was named, ExifTool's summary (tests/test_cli_batch.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from metafs.cli import main

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"


def copy(tmp_path: Path, name: str, as_name: str | None = None) -> Path:
    dst = tmp_path / (as_name or name)
    shutil.copyfile(FIXTURES / name, dst)
    return dst


def tag(path: Path, name: str) -> str | list[str] | None:
    t = engine.read_metadata(path).tags.get(name)
    return None if t is None else t.value


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def test_write_many_files_exit_0_and_silent(tmp_path: Path, capsys) -> None:
    files = [copy(tmp_path, "exif_le.jpg"), copy(tmp_path, "photo.jpg"), copy(tmp_path, "xmp.jpg")]
    status, out, err = run(capsys, "write", *map(str, files), "--set", "Artist=Cli Test",
                           "--set", "xmp/dc:title=Cli title")
    assert (status, err) == (0, ["    3 image files updated"])
    # stdout says which EXIF/XMP/IPTC copies were made (README "Keeping EXIF, XMP and IPTC")
    assert f"{files[1]}: also set xmp/dc:creator from Artist\n" in out
    assert all(": also set " in line for line in out.splitlines()), out
    for f in files:
        assert tag(f, "Artist") == "Cli Test"
        assert tag(f, "xmp/dc:title") == "Cli title"
        assert (tmp_path / ".originals" / f.name).read_bytes() == (FIXTURES / f.name).read_bytes()


def test_write_one_line_per_failing_file(tmp_path: Path, capsys) -> None:
    good = copy(tmp_path, "exif_le.jpg")
    broken = copy(tmp_path, "truncated_exif.jpg")
    missing = tmp_path / "missing.jpg"
    before = broken.read_bytes()
    status, out, err = run(capsys, "write", str(good), str(broken), str(missing),
                           "--set", "Artist=Cli Test")
    assert status != 0 and out == ""
    assert err[2:] == ["    1 image files updated", "    2 files weren't updated due to errors"]
    assert len(err) == 4, err
    assert err[0].startswith(f"metafs: write failed: {broken}: ")
    assert "no image data" in err[0]
    assert err[1].startswith(f"metafs: write failed: {missing}: ")
    assert tag(good, "Artist") == "Cli Test"  # the others still went through
    assert broken.read_bytes() == before


def test_bad_value_refused_with_the_message(tmp_path: Path, capsys) -> None:
    f = copy(tmp_path, "exif_le.jpg")
    before = f.read_bytes()
    status, _, err = run(capsys, "write", str(f), "--set", "ISO=abc")
    assert status == 1
    assert err == [f"metafs: write failed: {f}: tag ISO: 'abc' does not fit: expected a whole "
                   "number"]
    assert f.read_bytes() == before
    assert not (tmp_path / ".originals").exists()


def test_delete_and_no_backup(tmp_path: Path, capsys) -> None:
    f = copy(tmp_path, "photo.jpg")
    status, _, err = run(capsys, "write", str(f), "--delete", "Artist", "--delete",
                         "iptc/City", "--no-backup", "--no-sync")
    assert (status, err) == (0, [])
    assert tag(f, "Artist") is None and tag(f, "iptc/City") is None
    assert tag(f, "iptc/By-line") == ["Jane Doe"]  # --no-sync: the copies stay
    assert not (tmp_path / ".originals").exists()


def test_backups_option_puts_the_original_there(tmp_path: Path, capsys) -> None:
    f = copy(tmp_path, "exif_le.jpg")
    root = tmp_path / ".originals-elsewhere"
    assert run(capsys, "write", str(f), "--set", "Artist=X", "--backups", str(root))[0] == 0
    (backup,) = [p for p in root.rglob("*") if p.is_file()]
    assert backup.read_bytes() == (FIXTURES / "exif_le.jpg").read_bytes()
    assert run(capsys, "restore", str(f), "--backups", str(root))[0] == 0
    assert f.read_bytes() == backup.read_bytes()


@pytest.mark.parametrize("argv", [["write", "F"], ["write", "F", "--set", "Artist"]])
def test_usage_errors(tmp_path: Path, capsys, argv: list[str]) -> None:
    f = copy(tmp_path, "exif_le.jpg")
    argv = [str(f) if a == "F" else a for a in argv]
    try:
        status = main(argv)
        err = capsys.readouterr().err
    except SystemExit as e:  # argparse-style exit with its message
        status, err = e.code, str(e.code)
    assert status not in (0, None)
    assert "metafs: " in err and ("--set" in err or "nothing to write" in err)
    assert f.read_bytes() == (FIXTURES / "exif_le.jpg").read_bytes()


def test_restore(tmp_path: Path, capsys) -> None:
    a, b = copy(tmp_path, "exif_le.jpg"), copy(tmp_path, "photo.jpg")
    assert run(capsys, "write", str(a), str(b), "--set", "Artist=R")[0] == 0
    status, out, err = run(capsys, "restore", str(a), str(b))
    assert (status, err) == (0, ["    2 image files restored"])
    assert [line.partition(", the version of ")[0] for line in out.splitlines()] == [
        f"{f}: restored from {f.parent / '.originals' / f.name}" for f in (a, b)]
    assert a.read_bytes() == (FIXTURES / "exif_le.jpg").read_bytes()
    assert b.read_bytes() == (FIXTURES / "photo.jpg").read_bytes()


def test_restore_without_backup_fails_per_file(tmp_path: Path, capsys) -> None:
    a, never = copy(tmp_path, "exif_le.jpg"), copy(tmp_path, "photo.jpg")
    assert run(capsys, "write", str(a), "--set", "Artist=R")[0] == 0
    status, _, err = run(capsys, "restore", str(a), str(never))
    assert status == 1
    assert err[1:] == ["    1 image files restored", "    1 files weren't restored due to errors"]
    assert len(err) == 3 and err[0].startswith(f"metafs: restore failed: {never}: ")
    assert "no backup at" in err[0] and "nothing to restore" in err[0]
    assert a.read_bytes() == (FIXTURES / "exif_le.jpg").read_bytes()


def test_copy_tags_selected_tags_to_many(tmp_path: Path, capsys) -> None:
    src = copy(tmp_path, "photo.jpg", "src.jpg")
    d1, d2 = copy(tmp_path, "exif_le.jpg", "d1.jpg"), copy(tmp_path, "xmp.jpg", "d2.jpg")
    engine.write_metadata(src, {"Artist": "Template Artist", "xmp/dc:title": "Template title"},
                          backup=False)
    d1_before = engine.read_metadata(d1)
    status, out, err = run(capsys, "copy-tags", str(src), str(d1), str(d2),
                           "--tags", "Artist", "xmp/dc:title")
    assert (status, out, err) == (0, f"{d2}: also set xmp/dc:creator from Artist\n",
                                  ["    2 image files updated"])
    for d in (d1, d2):
        assert tag(d, "Artist") == "Template Artist"
        assert tag(d, "xmp/dc:title") == "Template title"
    # only those tags (and their synchronised copies) changed
    after = engine.read_metadata(d1)
    changed = {p for p in set(after.tags) | set(d1_before.tags)
               if (p in after.tags) != (p in d1_before.tags)
               or (p in after.tags and after.tags[p].value != d1_before.tags[p].value)}
    assert changed <= {"Artist", "xmp/dc:title", "xmp/x:xmptk"}, changed
    assert (tmp_path / ".originals" / "d1.jpg").exists()


def test_copy_tags_copies_a_structure(tmp_path: Path, capsys) -> None:
    src, dst = copy(tmp_path, "photo.jpg", "src.jpg"), copy(tmp_path, "exif_le.jpg")
    contact = "xmp/Iptc4xmpCore:CreatorContactInfo"
    status, out, err = run(capsys, "copy-tags", str(src), str(dst), "--tags", contact)
    assert (status, out, err) == (0, "", [])
    md = engine.read_metadata(dst)
    assert {p: md[p] for p in md.tags if p.startswith(contact)} == {
        f"{contact}/Iptc4xmpCore:CiAdrCity": "Paris",
        f"{contact}/Iptc4xmpCore:CiEmailWork": "jane@example.com"}
    assert not any("[" in p for p in engine.template_changes(src))  # list items stay


def test_a_write_says_when_other_hard_links_keep_the_old_version(tmp_path: Path,
                                                                 capsys) -> None:
    a = copy(tmp_path, "photo.jpg", "a.jpg")
    os.link(a, tmp_path / "album.jpg")
    status, out, err = run(capsys, "write", str(a), "--set", "Artist=Linked")
    assert status == 0 and ": also set " in out
    assert err == [f"metafs: note: {a}: the file had another name (hard links); only this "
                   "one shows the change, the other names keep the previous version"]
    assert tag(tmp_path / "album.jpg", "Artist") == "Jane Doe"
    # Written again: the backup holds the old file, which is no other name of the new one.
    assert run(capsys, "write", str(a), "--set", "Artist=Again", "--no-sync")[:3] == (0, "", [])


def test_copy_tags_failing_destination(tmp_path: Path, capsys) -> None:
    src = copy(tmp_path, "photo.jpg", "src.jpg")
    good, bad = copy(tmp_path, "exif_le.jpg"), copy(tmp_path, "truncated_exif.jpg")
    before = bad.read_bytes()
    status, _, err = run(capsys, "copy-tags", str(src), str(good), str(bad), "--tags", "Artist")
    assert status == 1
    assert err[1:] == ["    0 image files updated", "    1 image files unchanged",
                       "    1 files weren't updated due to errors"]  # good had that Artist
    assert len(err) == 4 and err[0].startswith(f"metafs: copy-tags failed: {bad}: ")
    assert bad.read_bytes() == before
    assert tag(good, "Artist") == "Jane Doe"


def test_copy_tags_nothing_to_copy(tmp_path: Path, capsys) -> None:
    src, dst = copy(tmp_path, "xmp.jpg", "src.jpg"), copy(tmp_path, "exif_le.jpg")
    status, _, err = run(capsys, "copy-tags", str(src), str(dst), "--tags", "Artist")
    assert status == 1 and len(err) == 1 and "no writable tags to copy" in err[0]
    assert dst.read_bytes() == (FIXTURES / "exif_le.jpg").read_bytes()


def test_installed_command_exit_status(tmp_path: Path) -> None:
    """The real executable, as a user runs it: status and one stderr line per failing file."""
    exe = REPO / ".venv" / "bin" / "metafs"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "metafs.cli"]
    good, bad = copy(tmp_path, "exif_le.jpg"), copy(tmp_path, "truncated_exif.jpg")
    r = subprocess.run([*cmd, "write", str(good), "--set", "Artist=Sub"], capture_output=True,
                       text=True, check=False)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = subprocess.run([*cmd, "write", str(good), str(bad), "--set", "Artist=Sub2"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 3 and "Traceback" not in r.stderr  # + the summary
    assert tag(good, "Artist") == "Sub2"


def test_installed_command_output_is_complete_or_quietly_cut(tmp_path: Path) -> None:
    """The command leaves without tearing the interpreter down: what it printed must still
    all arrive, and a reader that stops early must not cause an error."""
    exe = REPO / ".venv" / "bin" / "metafs"
    if not exe.exists():
        pytest.skip("no installed metafs command (scripts/setup)")
    files = [str(p) for p in sorted(FIXTURES.glob("*.jpg"))]
    r = subprocess.run([str(exe), "read", "--json", *files], capture_output=True, text=True)
    assert r.returncode == 0 and len(json.loads(r.stdout)) == len(files)
    r = subprocess.run(f"{exe} read {' '.join(files)} | head -1", shell=True,
                       capture_output=True, text=True)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1 and r.stderr == ""
