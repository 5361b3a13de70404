"""Edits through the mount that a user can trust (issue #11): an acknowledged edit is never
lost (a full disk fails write() or close() and says so), one bad value does not sink the
others, a group the format cannot hold is not offered, tools' scratch files work, fsync on
any descriptor commits, and sizes stay true after other programs rewrite a photo.

Each test does what the user did, through a real mount (python -c where close() errors
matter, since shells ignore them), and checks the photo with ExifTool.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.mount import FIXTURES, Mount, alive, needs_mount, until

from metafs.mount import main_umount

pytestmark = needs_mount

NO_SPACE = "not written: no space left on SOURCE; free space and write again"


def _py(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120)


# A writer that hears close() errors (shells do not): exit 3 and the errno when one fails.
WRITE = (
    "import os, sys\n"
    "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n"
    "try:\n"
    "    os.write(fd, sys.argv[2].encode())\n"
    "    os.close(fd)\n"
    "except OSError as e:\n"
    "    print(e.errno)\n"
    "    sys.exit(3)\n"
)


# -- a full disk (#11.1) ------------------------------------------------------------------


class TmpfsMount(Mount):
    """SOURCE on a 3 MB tmpfs, so that a test can fill it."""

    def __init__(self, tmp: Path, debounce_ms: int = 200) -> None:
        self.src = tmp / "src"
        self.mnt = tmp / "mnt"
        self.src.mkdir()
        self.mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(self.src)],
                       check=True)
        shutil.copy2(FIXTURES / "photo.jpg", self.src / "photo.jpg")
        self.args = ("--debounce", str(debounce_ms))
        self.pids = []
        self.start()

    def close(self) -> None:
        super().close()
        until(lambda: not any(alive(p) for p in self.pids), 20)
        subprocess.run(["umount", "-l", str(self.src)], capture_output=True)


def _fill(folder: Path) -> Path:
    fill = folder / "fill"
    subprocess.run(["dd", "if=/dev/zero", f"of={fill}", "bs=64k"], capture_output=True)
    assert os.statvfs(folder).f_bavail == 0
    return fill


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_disk_edit_is_durable_or_refused(tmp_path: Path) -> None:
    """`echo Jane > Artist` on a full SOURCE: either the edit is durable when write() and
    close() succeed (it lands once there is space again), or one of them fails with ENOSPC
    and the status file says so.  Never a silent success that is lost."""
    m = TmpfsMount(tmp_path)
    try:
        fill = _fill(m.src)
        py = _py(WRITE, str(m.meta / "Artist"), "Jane Full\n")
        sh = m.sh("echo 'Shell Full' > photo.jpg.meta/Copyright", check=False)
        status = m.status()
        acknowledged = {}
        if py.returncode == 0:
            acknowledged["IFD0:Artist"] = "Jane Full"
        else:
            assert py.stdout.strip() == str(errno.ENOSPC), py.stderr
            assert f"photo.jpg.meta/Artist: {NO_SPACE}" in status
        if sh.returncode == 0:
            acknowledged["IFD0:Copyright"] = "Shell Full"
        else:
            assert "No space left on device" in sh.stderr
            assert f"photo.jpg.meta/Copyright: {NO_SPACE}" in status
        # Commit now, on the full disk: it fails for want of space, or there was nothing.
        fd = os.open(m.mnt / ".metafs", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        except OSError as e:
            assert acknowledged and e.errno == errno.ENOSPC
        finally:
            os.close(fd)
        # Space again: every acknowledged edit lands (from the journal at the next mount).
        fill.unlink()
        assert main_umount(str(m.mnt), timeout=20) == 0
        until(lambda: not alive(m.pid), 20)
        m.start()
        tags = m.exif()
        for tag, value in acknowledged.items():
            assert tags[tag] == value, (tag, m.status())
        for tag in {"IFD0:Artist", "IFD0:Copyright"} - set(acknowledged):
            assert "Full" not in str(tags.get(tag))
    finally:
        m.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_disk_before_mount_fails_the_shell_write(tmp_path: Path) -> None:
    """No room even for the journal's reserve: `echo` itself fails (the shell reports write()
    errors only), the status file says so once, and the tag is not emptied either."""
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(src)], check=True)
    try:
        shutil.copy2(FIXTURES / "photo.jpg", src / "photo.jpg")
        fill = _fill(src)
        m = Mount.__new__(Mount)
        m.src, m.mnt, m.pids = src, tmp_path / "mnt", []
        m.mnt.mkdir()
        m.args = ("--debounce", "200")
        m.start()
        try:
            res = m.sh("echo 'Jane Full' > photo.jpg.meta/Artist", check=False)
            assert res.returncode != 0 and "No space left on device" in res.stderr
            assert m.status().count(f"photo.jpg.meta/Artist: {NO_SPACE}") == 1
            assert (m.meta / "Artist").read_text() == "Jane Doe\n"
            fill.unlink()
            m.sh("echo 'Jane Again' > photo.jpg.meta/Artist")
            m.commit()
            assert m.exif()["IFD0:Artist"] == "Jane Again"
        finally:
            m.close()
            until(lambda: not any(alive(p) for p in m.pids), 20)
    finally:
        subprocess.run(["umount", "-l", str(src)], capture_output=True)


# -- one bad value (#11.4) ----------------------------------------------------------------


def test_a_bad_value_is_refused_at_write_and_the_rest_lands(mount: Mount) -> None:
    m = "photo.jpg.meta"
    res = mount.sh(f"echo 'Jane Trust' > {m}/Artist; printf 'abc\\0def\\n' > {m}/ImageDescription",
                   check=False)
    assert res.returncode != 0 and "Invalid argument" in res.stderr
    # A value ImageDescription takes but its XMP copy (dc:description) cannot: refused now,
    # not at commit.
    res = mount.sh(f"printf 'a\\001b\\n' > {m}/ImageDescription", check=False)
    assert res.returncode != 0 and "Invalid argument" in res.stderr
    status = mount.status()
    assert f"{m}/ImageDescription: not text: a NUL byte at byte 3" in status
    assert (f"{m}/ImageDescription: its copy xmp/dc:description cannot take this value: "
            "character U+0001") in status
    mount.commit()
    tags = mount.exif()
    assert tags["IFD0:Artist"] == "Jane Trust"
    assert tags["IFD0:ImageDescription"] == "A fixture image"


# One batch, as when cp is quicker than the debounce: on a loaded machine cp's writes can
# split over several commits, and a later dc:creator then rightly carries its list to Artist.
@pytest.mark.mount_args(60_000)
def test_cp_r_of_a_meta_folder_lands_every_good_edit(mount: Mount) -> None:
    shutil.copy2(FIXTURES / "xmp.jpg", mount.src / "b.jpg")
    mount.sh("cp -r photo.jpg.meta/. b.jpg.meta/", check=False)  # some tags are read-only
    mount.commit()
    status = mount.status()
    assert "cannot write this photo" not in status
    tags = mount.exif("b.jpg")
    for tag in ("IFD0:Make", "IFD0:Model", "IFD0:Artist", "ExifIFD:LensModel",
                "IFD0:Copyright"):
        assert tags[tag] == mount.exif()[tag], tag


# -- groups the format cannot hold (#11.5) ------------------------------------------------


@pytest.mark.parametrize("name", ["exif_xmp.png", "exif_xmp.webp", "exif_xmp.heic"])
def test_no_iptc_folder_where_the_format_holds_none(mount: Mount, name: str) -> None:
    shutil.copy2(FIXTURES / name, mount.src / name)
    meta = f"{name}.meta"
    assert "iptc" not in os.listdir(mount.mnt / meta)
    assert "xmp" in os.listdir(mount.mnt / meta)
    res = mount.sh(f"echo kw >> {meta}/iptc/Keywords", check=False)
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    # cp -r from a JPEG: the IPTC tags are refused one by one, everything else lands.
    mount.sh(f"cp -r photo.jpg.meta/iptc {meta}/", check=False)
    assert os.listdir(mount.mnt / meta / "iptc") == []
    mount.sh(f"echo 'Group Artist' > {meta}/Artist && echo 'Group title' > {meta}/xmp/dc:title")
    mount.commit()
    assert f"{meta}/iptc/Keywords: " in mount.status()
    assert "has no place for IPTC" in mount.status() or "not standard in PNG" in mount.status()
    tags = mount.exif(name)
    assert tags["IFD0:Artist"] == "Group Artist"
    assert tags["XMP-dc:Title"] == "Group title"
    assert not any(k.startswith("IPTC:") for k in tags)


# -- a tag name after a failed commit (#11.6) ---------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root")
def test_a_tag_can_be_created_again_after_a_failed_commit(tmp_path: Path) -> None:
    mount = Mount(tmp_path, 600_000)  # only fsync commits: B stays pending while checked
    sub = mount.src / "sub"
    subprocess.run(["mount", "--bind", str(sub), str(sub)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(sub)], check=True)
        meta = "sub/iptc.jpg.meta"
        mount.sh(f"echo R > {meta}/HostComputer")
        fd = os.open(mount.mnt / meta, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(OSError):
                os.fsync(fd)  # the commit fails: the folder is read-only
        finally:
            os.close(fd)
        # The name the kernel learnt at create must not stand for a tag that is not there.
        mount.sh(f"echo B > {meta}/HostComputer")
        assert (mount.mnt / meta / "HostComputer").read_text() == "B\n"
    finally:
        subprocess.run(["umount", "-l", str(sub)], capture_output=True)
        mount.close()


# -- tools' scratch files (#11.13) --------------------------------------------------------


def test_perl_mktemp_and_scratch_names_but_not_misspelt_tags(mount: Mount) -> None:
    m = "photo.jpg.meta"
    res = mount.sh(f"perl -pi -e 's/Fixture/Perl/' {m}/Model", check=False)
    assert res.returncode == 0 and res.stderr == ""
    mount.sh(f"t=$(mktemp {m}/Copyright.XXXX) && echo 'Mktemp Copyright' > $t && "
             f"mv $t {m}/Copyright")
    code = (
        "import os, sys\n"
        "m = sys.argv[1]\n"
        "for name in ('tmp8x7k2', 'Artist.XXXX'):\n"
        "    fd = os.open(f'{m}/{name}', os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)\n"
        "    os.write(fd, b'Scratch Artist\\n')\n"
        "    os.close(fd)\n"
        "os.replace(f'{m}/Artist.XXXX', f'{m}/Artist')\n"
        "os.unlink(f'{m}/tmp8x7k2')\n"
    )
    res = _py(code, str(mount.meta))
    assert res.returncode == 0, res.stderr
    for wrong in ("Modle", "model"):
        res = mount.sh(f"echo x > {m}/{wrong}", check=False)
        assert res.returncode != 0 and "Invalid argument" in res.stderr, wrong
    assert f"{m}/model: no such tag; did you mean Model?" in mount.status()
    assert not [n for n in os.listdir(mount.meta) if n[:2] in ("XX", "tm") or "." in n]
    mount.commit()
    tags = mount.exif()
    assert tags["IFD0:Model"] == "Perl One"
    assert tags["IFD0:Copyright"] == "Mktemp Copyright"
    assert tags["IFD0:Artist"] == "Scratch Artist"


# -- fsync on any descriptor (#11.14) -----------------------------------------------------


def test_fsync_of_a_tag_file_opened_read_only_commits(tmp_path: Path) -> None:
    mount = Mount(tmp_path, 600_000)  # only the fsync can commit within the test
    try:
        mount.sh("echo 'Synced Make' > photo.jpg.meta/Make")
        code = ("import os, sys\n"
                "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
                "os.fsync(fd)\n"
                "os.close(fd)\n")
        res = _py(code, str(mount.meta / "Model"))
        assert res.returncode == 0, res.stderr
        assert mount.exif()["IFD0:Make"] == "Synced Make"
        assert "pending: 0 edits" in mount.status()
    finally:
        mount.close()


# -- sizes after another program's rewrite (#11.16) ---------------------------------------


def test_size_and_content_agree_right_after_an_outside_rewrite(mount: Mount) -> None:
    tag = mount.meta / "Software"
    stale = []
    for i in range(12):
        value = f"Outside value {i} " + "x" * (3 * (i % 5)) + "end"
        tag.read_bytes()
        os.stat(tag)  # the kernel holds this tag's size and content
        subprocess.run(["exiftool", "-q", "-overwrite_original", f"-Software={value}",
                        str(mount.src / "photo.jpg")], check=True)
        size = os.stat(tag).st_size
        data = tag.read_bytes()
        if (size, data) != (len(value) + 1, (value + "\n").encode()):
            stale.append((i, size, data))
    assert stale == []
