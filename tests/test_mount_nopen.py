"""Reads without a round trip through Python (issue 13, items 3 and 4): once a tag file or a
photo was opened with the kernel's pages kept, its next read-only opens are answered by the
FUSE shim (metafs/fuse_shim.c, item 5) and the reads by the kernel's page cache.  Counted
from the ``requests:`` line of ``.metafs/status`` (no timing).  Whatever changes a file (an
edit through the mount, a commit, another program) ends that: the next read shows the file
as it is now, never the kernel's old pages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount, until
from support.requests import cost as _cost
from support.requests import requests as _requests
from support.requests import shim_opens as _shim_opens

pytestmark = [needs_mount, pytest.mark.mount]

SHIM = Path(__file__).resolve().parents[1] / "metafs" / "_fuse_shim.so"


def _grep(mount: Mount) -> str:
    """`grep -r` over every tag file of the mount's photos: their names and contents."""
    res = mount.sh("grep -r '' photo.jpg.meta sub/iptc.jpg.meta | sort", check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.fixture
def mount(tmp_path: Path):
    if not SHIM.exists():
        pytest.skip("metafs/_fuse_shim.so is not built (scripts/setup)")
    m = Mount(tmp_path)
    try:
        # Marks are kept only while the watcher sees every change to SOURCE.
        assert until(lambda: "cached 3600 s" in m.status()), m.status()
        yield m
    finally:
        m.close()


def test_a_warm_grep_over_every_tag_file_sends_no_open(mount: Mount) -> None:
    first = _grep(mount)
    assert "photo.jpg.meta/Make:" in first
    _grep(mount)  # the opens of this walk mark each file clean
    seen: list[str] = []
    assert _cost(mount, lambda: seen.append(_grep(mount))) == {}
    assert seen == [first]


def test_an_edit_through_the_mount_is_seen_at_once(mount: Mount) -> None:
    make = mount.meta / "Make"
    model = mount.meta / "Model"
    for _ in range(3):  # marked clean
        old_make, old_model = make.read_text(), model.read_text()
    mount.sh("echo Mamiya > photo.jpg.meta/Make")
    assert make.read_text() == "Mamiya\n"  # pending, not committed yet
    assert model.read_text() == old_model
    mount.commit()
    assert make.read_text() == "Mamiya\n"
    assert mount.exif()["IFD0:Make"] == "Mamiya"
    assert old_make != "Mamiya\n"


def test_a_tag_changed_by_another_program_is_seen(mount: Mount) -> None:
    make = mount.meta / "Make"
    for _ in range(3):
        make.read_text()
    assert _cost(mount, make.read_text) == {}  # answered by the shim and the kernel
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Make=Zeiss Ikon",
                    str(mount.src / "photo.jpg")], check=True)
    assert until(lambda: make.read_text() == "Zeiss Ikon\n"), make.read_text()


def test_photos_are_read_from_the_page_cache(mount: Mount) -> None:
    photo, direct = mount.mnt / "sub" / "iptc.jpg", mount.src / "sub" / "iptc.jpg"
    for _ in range(3):
        assert photo.read_bytes() == direct.read_bytes()
    assert _cost(mount, photo.read_bytes) == {}
    assert photo.read_bytes() == direct.read_bytes()


def test_a_photo_rewritten_by_another_program_shows_no_stale_pages(mount: Mount) -> None:
    photo, direct = mount.mnt / "photo.jpg", mount.src / "photo.jpg"
    for _ in range(3):
        old = photo.read_bytes()
    # Same size, other bytes: only the pages can tell.
    data = bytearray(direct.read_bytes())
    data[-3] ^= 0xFF
    with open(direct, "r+b") as f:
        f.write(bytes(data))
    assert until(lambda: photo.read_bytes() == bytes(data))
    assert old != bytes(data)
    # Replaced by another file (rename over it), as ExifTool does
    tmp = mount.src / "new.tmp"
    shutil.copy2(mount.src / "sub" / "iptc.jpg", tmp)
    os.replace(tmp, direct)
    assert until(lambda: photo.read_bytes() == direct.read_bytes())


def test_a_commit_drops_the_photos_pages(mount: Mount) -> None:
    photo, direct = mount.mnt / "photo.jpg", mount.src / "photo.jpg"
    for _ in range(3):
        photo.read_bytes()
    mount.sh("echo 'New Title' > photo.jpg.meta/xmp/dc:title")
    mount.commit()
    assert photo.read_bytes() == direct.read_bytes()
    assert b"New Title" in photo.read_bytes()


def test_statfs_is_answered_without_the_daemon(mount: Mount) -> None:
    """`df`, `grep -r` and `find` ask for it on their way: the shim answers (item 9)."""
    before = _requests(mount).get("statfs", 0)
    got, direct = os.statvfs(mount.mnt), os.statvfs(mount.src)
    for _ in range(3):
        os.statvfs(mount.meta)
    assert _requests(mount).get("statfs", 0) == before
    assert (got.f_bsize, got.f_blocks, got.f_files, got.f_namemax) == (
        direct.f_bsize, direct.f_blocks, direct.f_files, direct.f_namemax)


def test_the_first_grep_asks_the_daemon_about_one_file_a_folder(mount: Mount) -> None:
    """Once a reader opens a tag file of a listed folder, the pages of the others go to the
    kernel and their opens to the shim: the first `grep -r` costs about one open through
    the daemon a folder (and one a binary tag, whose bytes no listing reads), not one a
    file, and shows the same as a later one."""
    roots = "photo.jpg.meta sub/iptc.jpg.meta"
    folders = int(mount.sh(f"find {roots} -type d | wc -l").stdout)
    files = int(mount.sh(f"find {roots} -type f | wc -l").stdout)
    opens = _shim_opens(mount)
    first: list[str] = []
    cost = _cost(mount, lambda: first.append(_grep(mount)))
    lines = first[0].splitlines()
    binary = len({line.partition(":")[0] for line in lines
                  if line.partition(":")[2].startswith("(Binary data")})
    binary += sum("binary file matches" in line for line in lines)
    assert 0 < cost.get("open", 0) <= folders + binary < files / 3, (cost, folders, files)
    assert "read" not in cost  # every page was in the kernel
    assert _shim_opens(mount) - opens >= files - folders - binary
    assert first == [_grep(mount)]


def test_the_second_grep_costs_no_request(mount: Mount) -> None:
    """After the first `grep -r` the kernel asks for the attributes of every folder it
    listed (their atime went stale): the shim answers those of .meta folders (item 10)."""
    first = _grep(mount)
    seen: list[str] = []
    assert _cost(mount, lambda: seen.append(_grep(mount))) == {}
    assert seen == [first]
    # a change ends that: the folders' attributes come from the daemon again, right
    mount.sh("echo Mamiya > photo.jpg.meta/Make")
    mount.commit()
    st = os.stat(mount.meta / "xmp")
    assert st.st_mtime_ns == os.stat(mount.src / "photo.jpg").st_mtime_ns
