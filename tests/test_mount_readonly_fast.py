"""A read-only mount serves reads at the kernel's speed (issue 13, items 3 and 4): with no
writer possible, the FUSE shim (metafs/fuse_shim.c, item 8) answers the first OPEN and FLUSH
with ENOSYS, and the kernel then opens and closes files without asking: tag files and photos
are read from its page cache, with no request at all once warm.  What other programs change
in SOURCE still shows: the watcher drops the kernel's pages, and a read the page cache
cannot serve is answered from the photo as it is now.  Counted from the ``requests:`` line
of ``.metafs/status`` (no timing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount, until
from support.requests import cost as _cost
from support.requests import shim_opens as _shim_opens

pytestmark = [needs_mount, pytest.mark.mount]

SHIM = Path(__file__).resolve().parents[1] / "metafs" / "_fuse_shim.so"


def _grep(mount: Mount) -> str:
    res = mount.sh("grep -r '' photo.jpg.meta sub/iptc.jpg.meta | sort", check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.fixture
def ro(tmp_path: Path):
    if not SHIM.exists():
        pytest.skip("metafs/_fuse_shim.so is not built (scripts/setup)")
    m = Mount(tmp_path, 200, "--read-only")
    try:
        assert until(lambda: "cached 3600 s" in m.status()), m.status()
        yield m
    finally:
        m.close()


def test_the_second_grep_over_every_tag_file_costs_no_request(ro: Mount) -> None:
    first = _grep(ro)
    assert "photo.jpg.meta/Make:" in first
    opens = _shim_opens(ro)
    seen: list[str] = []
    assert _cost(ro, lambda: seen.append(_grep(ro))) == {}
    assert seen == [first]
    assert _shim_opens(ro) == opens == 0  # not even the shim was asked
    assert "the kernel opens files without asking (read-only mount)" in ro.status()


def test_photos_are_read_from_the_page_cache_after_one_read(ro: Mount) -> None:
    photo, direct = ro.mnt / "sub" / "iptc.jpg", ro.src / "sub" / "iptc.jpg"
    assert photo.read_bytes() == direct.read_bytes()
    assert _cost(ro, photo.read_bytes) == {}
    assert photo.read_bytes() == direct.read_bytes()
    assert _shim_opens(ro) == 0


def test_a_tag_changed_by_another_program_is_seen(ro: Mount) -> None:
    make = ro.meta / "Make"
    old = make.read_text()
    assert _cost(ro, make.read_text) == {}
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Make=Zeiss Ikon",
                    str(ro.src / "photo.jpg")], check=True)
    assert until(lambda: make.read_text() == "Zeiss Ikon\n"), make.read_text()
    assert old != "Zeiss Ikon\n"
    # Same length, other text, the photo's mtime kept: only the photo itself can tell.
    st = os.stat(ro.src / "photo.jpg")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Make=Zeiss Ikoo",
                    str(ro.src / "photo.jpg")], check=True)
    os.utime(ro.src / "photo.jpg", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(ro.src / "photo.jpg").st_size == st.st_size
    assert until(lambda: make.read_text() == "Zeiss Ikoo\n"), make.read_text()


def test_a_photo_rewritten_by_another_program_shows_no_stale_pages(ro: Mount) -> None:
    photo, direct = ro.mnt / "photo.jpg", ro.src / "photo.jpg"
    old = photo.read_bytes()
    data = bytearray(direct.read_bytes())
    data[-3] ^= 0xFF  # same size, other bytes: only the pages can tell
    with open(direct, "r+b") as f:
        f.write(bytes(data))
    assert until(lambda: photo.read_bytes() == bytes(data))
    assert old != bytes(data)
    tmp = ro.src / "new.tmp"
    shutil.copy2(ro.src / "sub" / "iptc.jpg", tmp)
    os.replace(tmp, direct)
    assert until(lambda: photo.read_bytes() == direct.read_bytes())


def test_nothing_can_be_written(ro: Mount) -> None:
    res = ro.sh("echo Mamiya > photo.jpg.meta/Make", check=False)
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    assert (ro.meta / "Make").read_text() != "Mamiya\n"
