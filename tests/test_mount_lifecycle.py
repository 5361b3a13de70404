"""A mount's life: after a crash of the daemon, on a read-only SOURCE, with --no-sync.

Real mounts through /dev/fuse (``python -m metafs.mount``), as in tests/test_mount.py.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.mount import FIXTURES, REPO, Mount, alive, needs_mount, until

pytestmark = needs_mount
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (bind mounts)")


# -- kill -9 of the daemon ------------------------------------------------------------------


def test_kill9_then_mount_again_clears_the_dead_mount(tmp_path: Path) -> None:
    m = Mount(tmp_path, 60_000)  # the edit stays pending: only the journal has it
    try:
        m.sh("echo Survivor > photo.jpg.meta/Make")
        os.kill(m.pid, signal.SIGKILL)
        assert until(lambda: not alive(m.pid))
        with pytest.raises(OSError) as e:
            os.statvfs(m.mnt)  # (stat may still answer from the kernel's cache)
        assert e.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
        m.start()  # no fusermount3 -u first: the dead mount is ours, cleared, journal replayed
        assert m.exif()["IFD0:Make"] == "Survivor"
        assert (m.meta / "Make").read_text() == "Survivor\n"
        assert "dead metafs mount" in m.status()
    finally:
        m.close()


@pytest.mark.mount_args(200)
def test_a_dead_mount_is_told_from_a_live_one(mount: Mount) -> None:
    """Only a dead fuse.metafs mount is cleared (any other dead mount gets the advice to
    unmount it); statfs, not stat, tells it is dead."""
    os.kill(mount.pid, signal.SIGKILL)
    assert until(lambda: not alive(mount.pid))
    from metafs import mount as mount_mod

    assert mount_mod.dead_fuse_mount(str(mount.mnt)) == "fuse.metafs"
    assert mount_mod.dead_fuse_mount(str(mount.src)) is None  # alive, and not a mount


# -- a read-only SOURCE ---------------------------------------------------------------------


@pytest.fixture
def ro_source(tmp_path: Path) -> Iterator[Path]:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy2(FIXTURES / "photo.jpg", src / "photo.jpg")
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "--bind", str(src), str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        yield ro
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


@root_only
def test_read_only_source_mounts_read_only_with_a_note(
    tmp_path: Path, ro_source: Path
) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_STATE_HOME": str(tmp_path / "state")}
    res = subprocess.run([sys.executable, "-m", "metafs.mount", str(ro_source), str(mnt)],
                         capture_output=True, text=True, env=env, timeout=120)
    try:
        assert res.returncode == 0, res.stderr
        assert res.stderr == (
            f"metafs: note: {ro_source} is on a read-only filesystem: mounted read-only "
            "(tags can be read, not changed)\n"
        )
        status = (mnt / ".metafs" / "status").read_text()
        assert "read-only: yes" in status
        assert f"note: {ro_source} is on a read-only filesystem" in status
        assert (mnt / "photo.jpg.meta" / "Make").read_text() == "MetaFS Test Camera Co.\n"
        res = subprocess.run(["bash", "-c", "echo x > photo.jpg.meta/Make"], cwd=mnt,
                             capture_output=True, text=True)
        assert res.returncode != 0 and "Read-only file system" in res.stderr
        assert not (ro_source / ".originals").exists()
        log = tmp_path / "state" / "metafs" / "metafs.log"  # nothing can be written in SOURCE
        assert "is on a read-only filesystem" in log.read_text()
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)


# -- --no-sync --------------------------------------------------------------------------------


@pytest.mark.mount_args(200, "--no-sync")
def test_no_sync_mount_leaves_the_other_copies_alone(mount: Mount) -> None:
    assert "sync: off (--no-sync)" in mount.status()
    mount.sh("echo Bob > photo.jpg.meta/Artist")
    mount.commit()
    tags = mount.exif()
    assert tags["IFD0:Artist"] == "Bob"
    assert tags["XMP-dc:Creator"] == ["Jane Doe", "John Roe"]
    assert tags["IPTC:By-line"] == "Jane Doe"


@pytest.mark.mount_args(200)
def test_sync_is_the_default(mount: Mount) -> None:
    assert "sync: EXIF, XMP and IPTC copies kept in step" in mount.status()
    mount.sh("echo Bob > photo.jpg.meta/Artist")
    mount.sh(f"echo {'d' * 2100} > photo.jpg.meta/ImageDescription")
    mount.commit()
    tags = mount.exif()
    assert tags["IFD0:Artist"] == "Bob" and tags["IPTC:By-line"] == "Bob"
    assert len(tags["IPTC:Caption-Abstract"]) == 2000
    # every copy made and every value cut is in the status file (the engine's words)
    notices = [line for line in mount.status().splitlines() if line.startswith("  ")
               and "photo.jpg: " in line and "pending" not in line]
    assert any("dc:creator" in line and "Artist" in line for line in notices), notices
    assert any("Caption-Abstract" in line and "2000 bytes" in line for line in notices)


def test_no_room_for_metafs_state_is_a_clear_refusal(tmp_path: Path) -> None:
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    shutil.copy2(FIXTURES / "photo.jpg", src / "photo.jpg")
    (src / ".originals").write_text("not a folder\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "metafs.mount", str(src), str(mnt)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 1
    assert "the daemon died" not in res.stderr
    assert res.stderr.startswith(f"metafs: {src}/.originals")  # names what is in the way
    assert not os.path.ismount(mnt)
