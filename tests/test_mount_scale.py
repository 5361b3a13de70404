"""A small library through a real mount: the persistent index means a photo that did not
change is never decoded again, neither on a second walk nor after a remount (counted from the
``index:`` line of ``.metafs/status``; no timing).  The full-size run is
``scripts/bench --section scale``."""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from support.mount import Mount

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse"),
    pytest.mark.skipif(shutil.which("fusermount3") is None, reason="no fusermount3"),
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KINDS = ("photo.jpg", "exif_le.jpg", "exif_be.jpg", "xmp.jpg", "iptc.jpg")
N = 200  # photos in the library (plus Mount's own two)


def _library(mount: Mount) -> None:
    for i in range(N):
        folder = mount.src / f"d{i // 100:02d}"
        folder.mkdir(exist_ok=True)
        shutil.copy2(FIXTURES / KINDS[i % len(KINDS)], folder / f"p{i:04d}.jpg")


def _counts(mount: Mount) -> tuple[int, int]:
    line = next(x for x in mount.status().splitlines() if x.startswith("index:"))
    m = re.search(r"photos decoded (\d+), from the index (\d+)", line)
    assert m is not None, line
    return int(m[1]), int(m[2])


def _walk(mount: Mount) -> dict[str, str]:
    """`cat */*.meta/Make` (and a listing of every .meta): what the mount shows."""
    seen = {}
    for meta in sorted(mount.mnt.glob("d*/*.meta")):
        names = sorted(os.listdir(meta))
        make = meta / "Make"
        seen[str(meta.relative_to(mount.mnt))] = (
            ",".join(names) + "|" + (make.read_text() if make.exists() else "-"))
    return seen


def _remount(mount: Mount) -> None:
    mount.close()
    mount.start()


@pytest.fixture
def lib(tmp_path: Path):
    m = Mount(tmp_path)
    try:
        _library(m)
        yield m
    finally:
        m.close()


def test_unchanged_photos_are_not_decoded_again_after_a_remount(lib: Mount) -> None:
    mount = lib
    first = _walk(mount)
    assert len(first) == N
    decoded, _ = _counts(mount)
    assert decoded == N  # each photo once (the folders' photos only were looked at)
    assert _walk(mount) == first
    assert _counts(mount)[0] == N  # the second walk decodes nothing
    assert "index.sqlite, ok (new)" in mount.status()

    _remount(mount)
    assert _walk(mount) == first
    decoded, hits = _counts(mount)
    assert (decoded, hits) == (0, N)


def test_a_photo_changed_while_unmounted_is_decoded_again(lib: Mount) -> None:
    mount = lib
    _walk(mount)
    mount.close()
    changed = mount.src / "d01" / "p0100.jpg"
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Make=Elsewhere", str(changed)],
                   check=True)
    mount.start()
    shown = _walk(mount)
    assert shown["d01/p0100.jpg.meta"].endswith("|Elsewhere\n")
    assert _counts(mount) == (1, N - 1)


def test_a_commit_through_the_mount_updates_the_index(lib: Mount) -> None:
    mount = lib
    _walk(mount)
    (mount.mnt / "d00" / "p0003.jpg.meta" / "Make").write_text("Committed\n")
    mount.commit()
    before = _counts(mount)[0]
    _remount(mount)
    shown = _walk(mount)
    assert shown["d00/p0003.jpg.meta"].endswith("|Committed\n")
    assert before == N + 1  # the commit read the photo afresh once
    assert _counts(mount) == (0, N)


def test_a_damaged_index_is_rebuilt_and_never_trusted(lib: Mount) -> None:
    mount = lib
    first = _walk(mount)
    mount.close()
    index = mount.src / ".originals" / ".journal" / "index.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.write_bytes(b"garbage, not a database" * 100)
    mount.start()
    assert _walk(mount) == first
    assert _counts(mount) == (N, 0)
    assert "index.sqlite, ok (rebuilt)" in mount.status()


def _reads(mount: Mount) -> int:
    return _requests(mount)["read"]


def _requests(mount: Mount) -> dict[str, int]:
    """The daemon's requests by kind, from one read of the status file, and ``shim``: the
    opens the shim answered (they never reach the daemon's loop)."""
    text = mount.status()
    line = next(x for x in text.splitlines() if x.startswith("requests:"))
    counts = {k: int(v) for k, v in re.findall(r"([a-z_]+) (\d+)", line.partition("(")[2])}
    shim = re.search(r"opens answered by the shim: (\d+)", text)
    assert shim is not None, text
    counts["shim"] = int(shim[1])
    return collections.defaultdict(int, counts)


def test_photos_are_read_from_the_page_cache_and_never_stale(tmp_path: Path) -> None:
    mount = Mount(tmp_path)
    try:
        src, via = mount.src / "photo.jpg", mount.mnt / "photo.jpg"
        assert via.read_bytes() == src.read_bytes()
        before = _reads(mount)
        status_cost = _reads(mount) - before  # reading the status file is READs too
        before = _reads(mount)
        assert via.read_bytes() == src.read_bytes()
        assert _reads(mount) - before == status_cost  # kept: no READ reached the daemon
        # As an image viewer rereads: no request at all reaches the daemon (the kernel
        # keeps the entry and attributes while the watcher is trusted, the shim answers
        # the open of a photo marked clean, the pages are kept).
        via.read_bytes()
        time.sleep(1.5)  # longer than the kernel keeps SOURCE entries of an untrusted watch
        before = _requests(mount)
        for _ in range(3):
            assert via.read_bytes() == src.read_bytes()
        after = _requests(mount)
        assert (after["lookup"], after["getattr"]) == (before["lookup"], before["getattr"])
        assert after["open"] - before["open"] == 1  # the status file's
        assert after["shim"] - before["shim"] == 3

        # Rewritten in place by another program, same size, mtime put back: the next read
        # through the mount shows the new bytes at once.
        st = src.stat()
        data = bytearray(src.read_bytes())
        data[-3] ^= 0xFF
        with open(src, "r+b") as f:
            f.write(data)
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert via.read_bytes() == bytes(data)

        # Replaced by a rename (ExifTool), read while another reader keeps it open.
        with open(via, "rb") as held:
            subprocess.run(["exiftool", "-q", "-overwrite_original", "-Make=Outside", str(src)],
                           check=True)
            assert via.read_bytes() == src.read_bytes()
            held.read()
        # A commit through the mount: the photo's pages go too.
        (mount.meta / "Make").write_text("Inside\n")
        mount.commit()
        assert via.read_bytes() == src.read_bytes()
        assert b"Inside" in via.read_bytes()
    finally:
        mount.close()


def test_a_read_only_mount_keeps_its_index_in_the_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    mount = Mount(tmp_path, 200, "--read-only")
    try:
        first = (mount.meta / "Make").read_text()
        assert _counts(mount)[0] >= 1
        _remount(mount)
        assert (mount.meta / "Make").read_text() == first
        assert _counts(mount) == (0, 1)
        assert f"index: {cache}/metafs/index-" in mount.status()
        assert not (mount.src / ".originals").exists()  # nothing written in SOURCE
    finally:
        mount.close()


def test_a_kept_tag_page_never_hides_a_pending_edit(tmp_path: Path) -> None:
    """Opens of a tag file whose page the kernel holds skip the metadata while the photo is
    unchanged and nothing is pending on it; a pending edit is shown at once."""
    mount = Mount(tmp_path, 60_000)  # nothing commits by itself during the test
    try:
        make = mount.meta / "Make"
        first = make.read_text()
        assert make.read_text() == first  # from the kept page
        make.write_text("Pending\n")
        assert make.read_text() == "Pending\n"
        mount.commit()
        assert make.read_text() == "Pending\n"
        assert mount.exif()["IFD0:Make"] == "Pending"
    finally:
        mount.close()




def test_a_big_folder_lists_in_one_readdirplus_stream(tmp_path: Path) -> None:
    """`ls -l` of a folder of 3,000 photos: the entries and their attributes come in the
    READDIRPLUS stream (no LOOKUP or GETATTR per photo), and a second `ls -l` or `find` is
    the kernel's alone.  (Hard links of one photo: only the names matter here.)"""
    mount = Mount(tmp_path, 50)
    try:
        big = mount.src / "big"
        big.mkdir()
        first = big / "p00000.jpg"
        shutil.copyfile(FIXTURES / "photo.jpg", first)
        for i in range(1, 3000):
            os.link(first, big / f"p{i:05d}.jpg")
        before = _requests(mount)
        listed = mount.sh("ls -l big | wc -l").stdout
        assert int(listed) == 1 + 2 * 3000  # "total", each photo and its .meta folder
        after = _requests(mount)
        assert after["lookup"] - before["lookup"] <= 4, (before, after)  # big, .metafs...
        assert after["getattr"] - before["getattr"] <= 3
        assert after["readdir"] - before["readdir"] < 6000 / 20  # many entries a request
        # ls -l asks for each entry's ACL: the .meta folders' (generated, none) are answered
        # by the shim; only the photos' own, which may have some, reach the daemon
        assert after["getxattr"] - before["getxattr"] <= 3 * 3000
        mount.sh("ls -l big/p00001.jpg.meta big/p00002.jpg.meta/xmp > /dev/null")
        assert _requests(mount)["getxattr"] == after["getxattr"]
        after = _requests(mount)
        mount.sh("ls -l big > /dev/null && find big -maxdepth 1 > /dev/null")
        again = _requests(mount)
        assert again["readdir"] == after["readdir"]
        assert again["lookup"] - after["lookup"] <= 4  # big, .metafs...: none per photo
        assert again["getattr"] - after["getattr"] <= 4
    finally:
        mount.close()
