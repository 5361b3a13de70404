"""``--keep-mtime``/``-P`` (issue 15): after a metadata write the photo keeps its
modification time, as ``exiftool -P`` does (the new file carries the old mtime through the
rename), for write, copy-tags, restore and a mount started with ``--keep-mtime``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount

import engine
from metafs.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OLD = 1_300_000_000_123_456_789  # 2011, with nanoseconds


def old_copy(tmp_path: Path, name: str, as_name: str | None = None) -> Path:
    dst = tmp_path / (as_name or name)
    shutil.copyfile(FIXTURES / name, dst)
    os.utime(dst, ns=(OLD, OLD))
    return dst


def artist(p: Path) -> object:
    return engine.read_metadata(p).tags["Artist"].value


def test_write_keeps_mtime_with_P(tmp_path: Path) -> None:
    a, b = old_copy(tmp_path, "exif_le.jpg", "a.jpg"), old_copy(tmp_path, "photo.jpg", "b.jpg")
    ino = a.stat().st_ino
    assert main(["write", "-P", str(a), str(b), "--set", "Artist=Kept", "-q"]) == 0
    for p in (a, b):
        assert artist(p) == "Kept" and p.stat().st_mtime_ns == OLD
    assert a.stat().st_ino != ino  # a new file renamed in, not the old one written in place
    assert (tmp_path / ".originals" / "a.jpg").stat().st_mtime_ns == OLD  # the backup too
    assert main(["write", "--keep-mtime", str(a), "--set", "Artist=Again"]) == 0
    assert artist(a) == "Again" and a.stat().st_mtime_ns == OLD


def test_without_P_the_mtime_is_now(tmp_path: Path) -> None:
    a = old_copy(tmp_path, "exif_le.jpg")
    assert main(["write", str(a), "--set", "Artist=New"]) == 0
    assert a.stat().st_mtime_ns > OLD


def test_copy_tags_and_restore_keep_mtime(tmp_path: Path) -> None:
    src = old_copy(tmp_path, "photo.jpg", "src.jpg")
    engine.write_metadata(src, {"Artist": "Template"}, backup=False)
    dst = old_copy(tmp_path, "exif_le.jpg", "dst.jpg")
    assert main(["copy-tags", "-P", str(src), str(dst), "--tags", "Artist"]) == 0
    assert artist(dst) == "Template" and dst.stat().st_mtime_ns == OLD
    assert main(["write", str(dst), "--set", "Artist=Later"]) == 0  # without -P: now
    now = dst.stat().st_mtime_ns
    assert now > OLD
    assert main(["restore", "-P", str(dst)]) == 0
    assert dst.read_bytes() == (FIXTURES / "exif_le.jpg").read_bytes()
    assert dst.stat().st_mtime_ns == now  # the photo's mtime, not the backup's


def test_engine_flag(tmp_path: Path) -> None:
    a = old_copy(tmp_path, "exif_le.jpg")
    engine.write_metadata(a, {"Artist": "Lib"}, keep_mtime=True)
    assert a.stat().st_mtime_ns == OLD
    engine.restore(a, keep_mtime=True)
    assert a.stat().st_mtime_ns == OLD


@needs_mount
@pytest.mark.mount_args(200, "--keep-mtime")
def test_mount_keep_mtime(mount: Mount) -> None:
    photo = mount.src / "photo.jpg"
    os.utime(photo, ns=(OLD, OLD))
    (mount.meta / "Artist").write_text("Mounted\n")
    mount.commit(mount.meta)
    assert mount.exif()["IFD0:Artist"] == "Mounted"
    assert photo.stat().st_mtime_ns == OLD
