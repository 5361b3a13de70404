"""Names in SOURCE that collide with what the mount makes up, and what the status file tells
whom.  Real mounts through /dev/fuse, as in tests/test_mount.py.

Rules (README, "Names the mount makes up"):
- a real SOURCE entry named ``x.jpg.meta`` wins: it is passed through as it is, ``x.jpg`` gets
  no generated ``.meta`` folder, and the status file says so;
- a real ``SOURCE/.metafs`` is hidden by the control folder (``metafs umount`` and scripts
  rely on its name): the mount says so on stderr and in the status file;
- metafs's own temporary files (``.x.jpg.metafs-XXXX.tmp``) are never photos;
- a ``.meta`` folder cannot be renamed (EPERM: ``mv`` reports it and changes nothing;
  EXDEV would make ``mv`` copy every tag into the other photo and delete them from this one).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.mount import FIXTURES, Mount, start_daemon, until

from metafs.status import Status, escape

no_mount = (not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None
            or shutil.which("exiftool") is None)
mounts = pytest.mark.skipif(no_mount, reason="needs /dev/fuse, fusermount3 and exiftool")


pytestmark = pytest.mark.mount_args(60_000)  # edits stay pending until a test commits them


# -- a real x.jpg.meta beside x.jpg -----------------------------------------------------------


@mounts
def test_a_real_meta_named_file_wins_and_rsync_copies_it(mount: Mount, tmp_path: Path) -> None:
    assert (mount.mnt / "sub" / "iptc.jpg.meta" / "iptc").is_dir()  # the kernel holds it
    (mount.src / "sub" / "iptc.jpg.meta").write_text("my own notes\n")
    assert until(lambda: (mount.mnt / "sub" / "iptc.jpg.meta").is_file(), 5)
    listing = os.listdir(mount.mnt / "sub")
    assert sorted(listing) == ["iptc.jpg", "iptc.jpg.meta"]
    assert (mount.mnt / "sub" / "iptc.jpg.meta").read_text() == "my own notes\n"
    backup = tmp_path / "backup"
    res = subprocess.run(["rsync", "-a", f"{mount.mnt}/sub/", f"{backup}/"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (backup / "iptc.jpg.meta").read_text() == "my own notes\n"
    assert ("sub/iptc.jpg: no .meta folder: SOURCE has its own sub/iptc.jpg.meta, shown as "
            "it is") in mount.status()
    # the file can be removed through the mount; then the photo's tags show again
    os.unlink(mount.mnt / "sub" / "iptc.jpg.meta")
    assert not (mount.src / "sub" / "iptc.jpg.meta").exists()
    assert until(lambda: (mount.mnt / "sub" / "iptc.jpg.meta").is_dir(), 5)
    assert "iptc" in os.listdir(mount.mnt / "sub" / "iptc.jpg.meta")


# -- a real .metafs folder in SOURCE ----------------------------------------------------------


@mounts
def test_a_real_metafs_folder_is_reported(tmp_path: Path) -> None:
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    shutil.copy2(FIXTURES / "photo.jpg", src / "photo.jpg")
    (src / ".metafs").mkdir()
    (src / ".metafs" / "mine.txt").write_text("x\n")
    res = start_daemon(src, mnt, "--debounce", "200")
    try:
        assert res.returncode == 0, res.stderr
        note = (f"{src}/.metafs is hidden by the mount's control folder .metafs/ "
                "(rename it to see it through the mount)")
        assert res.stderr == f"metafs: note: {note}\n"
        assert f"note: {note}" in (mnt / ".metafs" / "status").read_text()
        assert os.listdir(mnt / ".metafs") == ["status"]
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)


# -- metafs's own temporary files -------------------------------------------------------------


@mounts
def test_temporary_files_are_not_photos(mount: Mount) -> None:
    tmp = ".photo.jpg.metafs-k2x9.tmp"
    shutil.copy2(FIXTURES / "photo.jpg", mount.src / tmp)
    names = os.listdir(mount.mnt)
    assert tmp in names and tmp + ".meta" not in names
    assert not os.path.exists(mount.mnt / (tmp + ".meta"))


# -- renaming a .meta folder --------------------------------------------------------------------


@mounts
def test_mv_of_a_meta_folder_is_refused_cleanly(mount: Mount) -> None:
    shutil.copy2(FIXTURES / "photo.jpg", mount.src / "c.jpg")
    res = mount.sh("mv photo.jpg.meta c.jpg.meta", check=False)
    assert res.returncode == 1
    assert "Operation not permitted" in res.stderr, res.stderr
    res = mount.sh("mv photo.jpg.meta other.meta", check=False)
    assert "Operation not permitted" in res.stderr, res.stderr
    assert (mount.meta / "Make").read_text() == "MetaFS Test Camera Co.\n"
    assert (mount.mnt / "c.jpg.meta" / "Make").read_text() == "MetaFS Test Camera Co.\n"
    assert "photo.jpg.meta: a .meta folder cannot be renamed" in mount.status()


# -- the status file: escaped, and only what each user could see --------------------------------


@mounts
def test_status_lines_are_escaped(mount: Mount) -> None:
    evil = "evil\npending: 0 edits in 0 photos.jpg"
    shutil.copy2(FIXTURES / "photo.jpg", mount.src / evil)
    (mount.mnt / f"{evil}.meta" / "Artist").write_text("x\n")
    status = mount.status()
    assert "  evil\\npending: 0 edits in 0 photos.jpg: Artist" in status
    assert "\npending: 0" not in status
    mount.sh("printf 'bad\\nvalue\\n' > photo.jpg.meta/ISO", check=False)
    assert all(not line.startswith("value") for line in mount.status().splitlines())


@mounts
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts as root, reads as another user")
def test_status_shows_other_users_only_their_photos(mount: Mount) -> None:
    private = mount.src / "private"
    private.mkdir(mode=0o700)
    shutil.copy2(FIXTURES / "photo.jpg", private / "secret.jpg")
    (mount.mnt / "private" / "secret.jpg.meta" / "Artist").write_text("Hidden Name\n")
    (mount.meta / "Artist").write_text("Open Name\n")
    res = subprocess.run(["bash", "-c", "echo 99999999 > private/secret.jpg.meta/ISO"],
                         cwd=mount.mnt, capture_output=True, text=True)
    assert res.returncode != 0
    mine = mount.status()
    assert "private/secret.jpg: Artist" in mine and "photo.jpg: Artist" in mine
    assert "private/secret.jpg.meta/ISO" in mine
    code = (
        "import os, sys\n"
        f"d = os.open({str(mount.mnt)!r}, os.O_RDONLY)\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "fd = os.open('.metafs/status', os.O_RDONLY, dir_fd=d)\n"
        "sys.stdout.write(os.read(fd, 1 << 20).decode())\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    theirs = res.stdout
    assert "photo.jpg: Artist" in theirs
    assert "secret" not in theirs and "ISO" not in theirs
    assert "pending: 2 edits in 2 photos" in theirs  # counts only
    assert "shown: the lines about photos you can read" in theirs


# -- the status file, without a mount -------------------------------------------------------


def _render(status: Status, viewer: object = None, pending: dict | None = None) -> str:
    return status.render(source="/s", mountpoint="/m", read_only=False, debounce=0.3,
                         pending=pending or {}, commits=0, failures=0,
                         viewer=viewer).decode()  # type: ignore[arg-type]


def test_escape() -> None:
    assert escape("plain name.jpg") == "plain name.jpg"
    assert escape("a\nb\tc\\d\x1b\x7f\u2028") == "a\\nb\\tc\\\\d\\x1b\\x7f\\u2028"
    assert escape(os.fsdecode(b"caf\xe9.jpg")) == "caf\\xe9.jpg"  # not UTF-8


def test_status_notices_and_what_others_see() -> None:
    st = Status()
    st.note("a.jpg", "Artist copied to XMP-dc:creator and IPTC:By-line")
    st.note("private/b.jpg", "IPTC:Caption-Abstract cut to 2000 bytes")
    st.error("private/b.jpg.meta/ISO", "not a number: 'x\ny'")
    st.error("journal: dropping the edits of a.jpg", "disk full")
    pending = {"a.jpg": ["Artist"], "private/b.jpg": ["ISO"]}
    full = _render(st, pending=pending)
    assert "notices: 2\n" in full and "errors: 2\n" in full
    assert "a.jpg: Artist copied to XMP-dc:creator and IPTC:By-line" in full
    assert "private/b.jpg.meta/ISO: not a number: 'x\\ny'" in full
    theirs = _render(st, viewer=lambda photo: photo == "a.jpg", pending=pending)
    assert "notices: 1\n" in theirs and "errors: 0\n" in theirs
    assert "private" not in theirs and "journal" not in theirs
    assert "  a.jpg: Artist\n" in theirs
    assert "pending: 2 edits in 2 photos" in theirs


def test_a_source_named_through_a_symlink_is_the_folder_it_names(tmp_path: Path) -> None:
    """`metafs mount ~/Pictures ...` where ~/Pictures is a symlink to the library: the
    daemon (which never follows a symlink inside SOURCE) serves the folder it names."""
    real = tmp_path / "library"
    real.mkdir()
    (tmp_path / "src").symlink_to(real)
    mount = Mount(tmp_path, 50)
    try:
        assert (mount.meta / "Make").read_text() == "MetaFS Test Camera Co.\n"
        (mount.meta / "Artist").write_text("Through a symlink\n")
        mount.commit()
        assert mount.exif("photo.jpg")["IFD0:Artist"] == "Through a symlink"
        assert f"source: {real}\n" in mount.status()
        assert (real / ".originals" / "photo.jpg").exists()
    finally:
        mount.close()


def test_extended_attributes_pass_through_and_generated_files_have_none(
        mount: Mount) -> None:
    """A photo's own xattrs (a photo manager's user.* tags) read and write through the
    mount; a .meta folder or tag file has none (answered by the shim when it is loaded)."""
    via = mount.mnt / "photo.jpg"
    try:
        os.setxattr(via, "user.rating", b"5")
    except OSError as e:
        pytest.skip(f"no user xattrs on this filesystem: {e}")
    assert os.getxattr(mount.src / "photo.jpg", "user.rating") == b"5"
    assert os.getxattr(via, "user.rating") == b"5"
    assert "user.rating" in os.listxattr(via)
    asked = re.compile(r"\b(get|list)xattr (\d+)")
    before = asked.findall(mount.status())
    for generated in (mount.meta, mount.meta / "Make", mount.meta / "xmp", mount.mnt / ".metafs"):
        assert os.listxattr(generated) == []
        with pytest.raises(OSError) as e:
            os.getxattr(generated, "user.rating")
        assert e.value.errno == errno.ENODATA
        with pytest.raises(OSError) as e:
            os.getxattr(generated, "system.posix_acl_access")
        assert e.value.errno in (errno.ENODATA, errno.EOPNOTSUPP)
    if "kernel directory cache: on" in mount.status():  # the shim is loaded
        assert asked.findall(mount.status()) == before  # none reached the daemon
