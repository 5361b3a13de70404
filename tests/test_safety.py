"""The safe-write pipeline on its own: plans, backups, fault injection, a full disk."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.errors import NoBackupError, ValidationError, WriteError
from engine.safewrite import safety
from engine.safewrite.sysops import AtStage

ORIGINAL = bytes(range(256)) * 64  # 16 KiB


def _ok(_: str) -> None:
    return None


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    p = tmp_path / "photo.jpg"
    p.write_bytes(ORIGINAL)
    p.chmod(0o640)
    return p


def _temps(d: Path) -> list[str]:
    return [n for n in os.listdir(d) if safety.is_temp_name(n)]


def test_plan_ranges_and_bytes_and_backup(photo: Path) -> None:
    plan = [b"HEAD", (100, 50), b"MID", (1000, 10)]
    backup = safety.safe_rewrite(str(photo), plan, validate=_ok)
    assert photo.read_bytes() == b"HEAD" + ORIGINAL[100:150] + b"MID" + ORIGINAL[1000:1010]
    assert backup == str(photo.parent / ".originals" / "photo.jpg")
    assert Path(backup).read_bytes() == ORIGINAL
    assert photo.stat().st_mode & 0o777 == 0o640
    assert _temps(photo.parent) == []


def test_existing_backup_is_never_overwritten(photo: Path) -> None:
    safety.safe_rewrite(str(photo), [b"first"], validate=_ok)
    safety.safe_rewrite(str(photo), [b"second"], validate=_ok)
    assert photo.read_bytes() == b"second"
    assert (photo.parent / ".originals" / "photo.jpg").read_bytes() == ORIGINAL


def test_backups_root_mirrors_the_tree(tmp_path: Path) -> None:
    sub = tmp_path / "lib" / "2020" / "trip"
    sub.mkdir(parents=True)
    p = sub / "a.jpg"
    p.write_bytes(ORIGINAL)
    root = tmp_path / "lib" / ".originals"
    backup = safety.safe_rewrite(str(p), [b"x"], validate=_ok, backups=root)
    assert backup == str(root / "2020" / "trip" / "a.jpg")


@pytest.mark.parametrize("step", ["backup", "written", "fsynced", "validated"])
def test_fault_at_each_step_leaves_original(photo: Path, step: str) -> None:
    class Boom(Exception):
        pass

    def hook(name: str) -> None:
        if name == step:
            raise Boom(name)

    with pytest.raises(Boom):
        safety.safe_rewrite(str(photo), [b"new"], validate=_ok, ops=AtStage(hook))
    assert photo.read_bytes() == ORIGINAL
    assert _temps(photo.parent) == []
    # the backup made for the failed write is dropped: nothing changed
    assert not (photo.parent / ".originals" / "photo.jpg").exists()


def test_fault_after_rename_keeps_new_file_and_backup(photo: Path) -> None:
    def hook(name: str) -> None:
        if name == "renamed":
            raise OSError(5, "simulated I/O error")

    with pytest.raises(WriteError, match="the new file is in place but may not survive"):
        safety.safe_rewrite(str(photo), [b"new"], validate=_ok, ops=AtStage(hook))
    assert photo.read_bytes() == b"new"
    assert (photo.parent / ".originals" / "photo.jpg").read_bytes() == ORIGINAL


def test_validation_failure_changes_nothing(photo: Path) -> None:
    def bad(tmp: str) -> None:
        assert Path(tmp).read_bytes() == b"new"
        raise ValidationError("Make reads back as 'x', expected 'y'", path=tmp)

    with pytest.raises(ValidationError, match="reads back"):
        safety.safe_rewrite(str(photo), [b"new"], validate=bad)
    assert photo.read_bytes() == ORIGINAL
    assert _temps(photo.parent) == []


def test_stale_temps_are_removed(photo: Path) -> None:
    stale = photo.parent / ".photo.jpg.metafs-deadbeef.tmp"
    stale.write_bytes(b"half")
    safety.safe_rewrite(str(photo), [b"new"], validate=_ok)
    assert not stale.exists()


def test_restore_gives_original_bytes(photo: Path) -> None:
    safety.safe_rewrite(str(photo), [b"new"], validate=_ok)
    safety.restore_file(str(photo))
    assert photo.read_bytes() == ORIGINAL
    assert (photo.parent / ".originals" / "photo.jpg").read_bytes() == ORIGINAL


def test_restore_without_backup(photo: Path) -> None:
    with pytest.raises(NoBackupError, match="no backup at .*nothing to restore"):
        safety.restore_file(str(photo))


def test_symlink_is_written_through(photo: Path) -> None:
    link = photo.parent / "link.jpg"
    link.symlink_to(photo.name)
    safety.safe_rewrite(str(link), [b"new"], validate=_ok, backup=False)
    assert link.is_symlink()
    assert photo.read_bytes() == b"new"


@pytest.fixture
def small_fs(tmp_path: Path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_fails_cleanly(small_fs: Path) -> None:
    p = small_fs / "big.jpg"
    p.write_bytes(b"\x01" * 40_000)
    with pytest.raises(WriteError) as info:
        safety.safe_rewrite(str(p), [(0, 40_000), b"more"], validate=_ok, backup=False)
    assert "no space left on the device while writing the temporary file" in str(info.value)
    assert "the original file is untouched" in str(info.value)
    assert p.read_bytes() == b"\x01" * 40_000
    assert _temps(small_fs) == []


def test_backup_of_a_replaced_photo_is_set_aside(photo: Path) -> None:
    safety.safe_rewrite(str(photo), [b"edited"], validate=_ok)
    backups = photo.parent / ".originals"
    # Another photo arrives under the same name (a new file, not the one metafs wrote).
    photo.unlink()
    photo.write_bytes(b"another photo")
    with pytest.raises(NoBackupError, match="the file was replaced since metafs wrote it"):
        safety.restore_file(str(photo))
    assert photo.read_bytes() == b"another photo"
    safety.safe_rewrite(str(photo), [b"another, edited"], validate=_ok)
    assert (backups / "photo.jpg").read_bytes() == b"another photo"
    aside = [p for p in backups.iterdir() if p.name.startswith("photo.jpg.replaced-")]
    assert [p.read_bytes() for p in aside] == [ORIGINAL]  # the first photo's original is kept
    safety.restore_file(str(photo))
    assert photo.read_bytes() == b"another photo"


def test_restore_then_write_keeps_the_same_backup(photo: Path) -> None:
    safety.safe_rewrite(str(photo), [b"one"], validate=_ok)
    safety.restore_file(str(photo))
    safety.safe_rewrite(str(photo), [b"two"], validate=_ok)
    backups = photo.parent / ".originals"
    assert sorted(p.name for p in backups.iterdir()) == ["photo.jpg"]
    assert (backups / "photo.jpg").read_bytes() == ORIGINAL


def test_a_crash_around_the_rename_is_not_taken_for_a_replaced_photo(photo: Path) -> None:
    # The identity of both the old and the new file is recorded before the rename; a crash
    # right after the rename (before the final record) must not set the true original aside.
    safety.safe_rewrite(str(photo), [b"one"], validate=_ok)
    backup = str(photo.parent / ".originals" / "photo.jpg")
    old = os.stat(photo)
    tmp = photo.parent / ".photo.jpg.metafs-0000.tmp"
    tmp.write_bytes(b"two, longer")
    safety.record_written(backup, old, os.stat(tmp))
    os.rename(tmp, photo)  # ...and the process dies here
    assert not safety.backup_is_stale(backup, str(photo))
    safety.safe_rewrite(str(photo), [b"three"], validate=_ok)
    assert Path(backup).read_bytes() == ORIGINAL
    assert [p.name for p in Path(backup).parent.iterdir()] == ["photo.jpg"]
