"""The kernel's caches in a real mount: what they save, and that they never show old news.

With metafs/fuse_shim.c (built by scripts/setup) the kernel keeps folder listings and tag
pages, and generated entries for GENERATED_TIMEOUT seconds; the daemon pushes every change it
makes or notices.  The status file counts the requests the daemon served.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount, until
from support.requests import requests as _requests

from metafs import fuse_shim
from metafs.passthrough import GENERATED_TIMEOUT

pytestmark = needs_mount
needs_shim = pytest.mark.skipif(
    not os.path.exists(fuse_shim.LIBRARY), reason="metafs/_fuse_shim.so not built (scripts/setup)"
)
# Well inside the time the kernel would otherwise keep a generated entry: passing in time
# means the daemon told the kernel, not that the entry expired.
SOON = GENERATED_TIMEOUT / 2


def _walk_and_read(top: Path) -> int:
    """What `grep -r --include=Make` does: every folder listed, every Make read."""
    n = 0
    for root, _dirs, files in os.walk(top):
        if "Make" in files:
            Path(root, "Make").read_bytes()
            n += 1
    return n


@needs_shim
def test_a_warm_walk_is_served_by_the_kernel(mount: Mount) -> None:
    assert "kernel directory cache: on" in mount.status()
    assert until(lambda: "cached 3600 s" in mount.status())  # the watcher sees every change
    assert _walk_and_read(mount.mnt) == 1  # photo.jpg (sub/iptc.jpg has no Make)
    _walk_and_read(mount.mnt)  # the tag pages are kept from the second read on
    before = _requests(mount)
    assert _walk_and_read(mount.mnt) == 1
    after = _requests(mount)
    spent = {op: after.get(op, 0) - before.get(op, 0) for op in after}
    # Listing, opening and closing cost nothing: the shim answers the open of a tag file
    # the daemon marked clean, and its release; the status file read in between is an
    # open and a release.
    assert {op: spent.get(op, 0) for op in ("opendir", "readdir", "releasedir", "flush")} == {
        "opendir": 0, "readdir": 0, "releasedir": 0, "flush": 0}
    assert (spent["open"], spent.get("release", 0)) == (0 + 1, 0 + 1)


def _text(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False  # a binary tag's bytes (a thumbnail, say)
    return not data.startswith(b"(Binary data")


@needs_shim
def test_the_first_reader_fills_the_kernel_cache(mount: Mount) -> None:
    """The first open of a tag file hands the kernel its content (and that of the folder's
    other files): reading them costs no READ,
    and a second walk of the tree no GETATTR (a READ would mark the atime stale)."""
    assert until(lambda: "cached 3600 s" in mount.status())  # the watcher sees every change
    tags = [p for p in (mount.meta).rglob("*") if p.is_file()]
    before = _requests(mount)
    binary = sum(not _text(p.read_bytes()) for p in tags)
    first = _requests(mount)
    for p in tags:
        p.read_bytes()
        os.stat(p)
    second = _requests(mount)
    # (each _requests() reads the status file once: an open, two reads, a release)
    assert first.get("read", 0) - before.get("read", 0) == 2
    assert second.get("read", 0) - first.get("read", 0) == 2
    assert second.get("getattr", 0) - first.get("getattr", 0) <= 1  # the status file's
    # The first open in a listed folder hands the kernel the other files' pages too, and
    # their opens go to the shim (TagView._push_siblings); a binary tag's bytes are not
    # at hand for that
    folders = {p.parent for p in tags}
    assert 1 + 1 <= first["open"] - before["open"] <= len(folders) + binary + 1
    assert len(folders) + binary < len(tags) // 3
    assert second["open"] - first["open"] == 0 + 1  # the shim answers the second opens


@needs_shim
def test_many_readers_of_the_same_fresh_tags_at_once(mount: Mount) -> None:
    """First opens race with reads of the same files (the store waits on page locks a
    reader holds): the mount must answer them all, with the right content."""
    shutil.copy2(mount.src / "photo.jpg", mount.src / "twin.jpg")
    tags = sorted(p.name for p in (mount.mnt / "twin.jpg.meta").iterdir() if p.is_file())
    want = {t: (mount.meta / t).read_bytes() for t in tags}
    script = " ".join(f"(for t in {' '.join(tags)}; do cat twin.jpg.meta/$t > /dev/null; done) &"
                      for _ in range(8)) + " wait"
    mount.sh(script)  # timeout 120 s: a deadlock fails here
    assert {t: (mount.mnt / "twin.jpg.meta" / t).read_bytes() for t in tags} == want


@needs_shim
def test_listings_follow_changes_made_elsewhere(tmp_path: Path) -> None:
    mount = Mount(tmp_path, 60_000)  # nothing commits unless asked
    try:
        xmp = mount.meta / "xmp"
        for _ in range(2):  # listed, and the listing served from the kernel's cache
            assert "dc:source" not in os.listdir(xmp)
        # Another program adds a tag: the next open of any tag of the photo notices, and the
        # folder lists the new tag at once.
        subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Source=Outside",
                        str(mount.src / "photo.jpg")], check=True)
        assert until(lambda: (mount.meta / "Make").read_bytes() and "dc:source" in os.listdir(xmp),
                     SOON)
        # A file written through the mount becomes a photo: its .meta appears.
        assert "notes.txt.meta" not in os.listdir(mount.mnt)
        shutil.copyfile(mount.src / "photo.jpg", mount.mnt / "notes.txt")
        assert until(lambda: "notes.txt.meta" in os.listdir(mount.mnt), SOON)
        # A commit's backup shows in .originals, listed before it existed.
        originals = mount.mnt / ".originals"
        assert "photo.jpg" not in os.listdir(originals)
        (mount.meta / "Make").write_text("Cached Camera\n")
        mount.commit()
        assert until(lambda: "photo.jpg" in os.listdir(originals), SOON)
        # The daemon's own change in another folder: deleting Artist also deletes its
        # synchronised copy, dc:creator, from xmp/.
        assert "dc:creator" in os.listdir(xmp)
        os.unlink(mount.meta / "Artist")
        mount.commit()
        assert until(lambda: "dc:creator" not in os.listdir(xmp), SOON)
        assert "XMP-dc:Creator" not in mount.exif()
    finally:
        mount.close()


@needs_shim
def test_changes_other_programs_make_show_at_once(tmp_path: Path) -> None:
    """The daemon watches SOURCE (metafs/watch.py): a listing or a tag's size the kernel
    keeps follows another program's change without anything being opened first."""
    mount = Mount(tmp_path, 60_000)
    try:
        xmp, make = mount.meta / "xmp", mount.meta / "Make"
        for _ in range(2):
            assert "dc:source" not in os.listdir(xmp)
        size = make.stat().st_size

        def exiftool(*args: str) -> None:
            subprocess.run(["exiftool", "-q", "-overwrite_original", *args], check=True)

        exiftool("-XMP-dc:Source=Outside", "-Make=A Much Longer Camera Maker Name",
                 str(mount.src / "photo.jpg"))
        assert until(lambda: "dc:source" in os.listdir(xmp), SOON)
        assert until(lambda: make.stat().st_size == len("A Much Longer Camera Maker Name\n"),
                     SOON), size
        # A folder made elsewhere is watched too, also after it is renamed.
        os.mkdir(mount.src / "new")
        shutil.copyfile(mount.src / "photo.jpg", mount.src / "new" / "a.jpg")
        assert until(lambda: "a.jpg.meta" in os.listdir(mount.mnt / "new"), SOON)
        os.rename(mount.src / "new", mount.src / "renamed")
        listed = mount.mnt / "renamed" / "a.jpg.meta" / "xmp"
        assert "dc:rights" in os.listdir(listed)
        exiftool("-XMP-dc:Rights=", str(mount.src / "renamed" / "a.jpg"))
        assert until(lambda: "dc:rights" not in os.listdir(listed), SOON)
        # A photo deleted elsewhere: its .meta goes from the listing.
        os.unlink(mount.src / "renamed" / "a.jpg")
        assert until(lambda: os.listdir(mount.mnt / "renamed") == [], SOON)
        from metafs.watch import is_local

        cached = "3600 s" if is_local(str(mount.src)) else "10 s"
        assert f"; generated entries cached {cached}" in mount.status()
    finally:
        mount.close()


def test_mount_works_without_the_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METAFS_NO_FUSE_SHIM", "1")
    mount = Mount(tmp_path)
    try:
        assert "kernel directory cache: off" in mount.status()
        assert _walk_and_read(mount.mnt) == 1
        before = _requests(mount)
        assert _walk_and_read(mount.mnt) == 1
        assert _requests(mount)["opendir"] > before["opendir"]  # every folder opened again
        mount.sh("echo 'No Shim' > photo.jpg.meta/Make")
        mount.commit()
        assert mount.exif()["IFD0:Make"] == "No Shim"
        assert "Make" in os.listdir(mount.meta)
    finally:
        mount.close()


@needs_shim
def test_the_metafs_command_mounts_with_the_cache(tmp_path: Path) -> None:
    """`metafs mount` (the installed command, not `python -m metafs.mount`) must load the shim
    before anything imports pyfuse3."""
    exe = Path(sys.executable).parent / "metafs"
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    shutil.copy2(Path(__file__).resolve().parents[1] / "fixtures" / "photo.jpg", src)
    subprocess.run([str(exe), "mount", str(src), str(mnt)], check=True, timeout=120)
    try:
        status = (mnt / ".metafs" / "status").read_text()
        assert "kernel directory cache: on" in status
        assert (mnt / "photo.jpg.meta" / "Make").read_text() == "MetaFS Test Camera Co.\n"
    finally:
        subprocess.run([str(exe), "umount", str(mnt)], check=True, timeout=120)
