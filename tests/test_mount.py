"""Real mounts through /dev/fuse, edited with real programs, checked with ExifTool.

Each test mounts a fresh copy of fixtures with the real engine (``python -m metafs.mount``, as
a daemon) and unmounts it in a finalizer, lazily if need be, even when the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.mount import FIXTURES, REPO, Mount, alive, needs_mount, start_daemon, until

from metafs.cli import main as cli_main
from metafs.mount import main_umount

pytestmark = needs_mount


# -- what the mount shows -----------------------------------------------------------------


def test_tree_and_tag_files(mount: Mount) -> None:
    names = set(os.listdir(mount.mnt))
    assert {"photo.jpg", "photo.jpg.meta", "notes.txt", "sub", ".originals", ".metafs"} <= names
    assert "notes.txt.meta" not in names
    assert (mount.meta / "Make").read_text() == "MetaFS Test Camera Co.\n"
    assert os.stat(mount.meta / "Make").st_size == len("MetaFS Test Camera Co.\n")
    assert (mount.meta / "iptc" / "Keywords").read_text().splitlines()[0] == "sunset"
    assert os.stat(mount.meta / "ifd1" / "ThumbnailImage").st_mode & 0o777 == 0o444
    assert (mount.mnt / "sub" / "iptc.jpg.meta" / "iptc" / "Keywords").exists()
    res = mount.sh("grep -r 'MetaFS Test Camera' --include=Make . ; find . -name Make -size -100c")
    assert "./photo.jpg.meta/Make:MetaFS Test Camera Co." in res.stdout
    assert "./photo.jpg.meta/Make\n" in res.stdout
    assert "pid:" in mount.status()


def test_shell_set_append_delete_add(mount: Mount) -> None:
    mount.sh(
        "echo 'Test Camera' > photo.jpg.meta/Make && "
        "echo 'new kw' >> photo.jpg.meta/iptc/Keywords && "
        "rm photo.jpg.meta/Artist && "
        "echo Texas > photo.jpg.meta/xmp/photoshop:State"
    )
    assert (mount.meta / "Make").read_text() == "Test Camera\n"  # pending, already visible
    mount.commit(mount.meta)
    tags = mount.exif()
    assert tags["IFD0:Make"] == "Test Camera"
    assert tags["IPTC:Keywords"][-1] == "new kw"
    assert "IFD0:Artist" not in tags
    assert tags["XMP-photoshop:State"] == "Texas"
    assert (mount.src / ".originals" / "photo.jpg").read_bytes() == (
        FIXTURES / "photo.jpg"
    ).read_bytes()
    assert (mount.mnt / ".originals" / "photo.jpg").read_bytes() == (
        FIXTURES / "photo.jpg"
    ).read_bytes()
    assert ".journal" not in os.listdir(mount.mnt / ".originals")


def test_bad_value_refused_by_shell(mount: Mount) -> None:
    res = mount.sh("echo abc > photo.jpg.meta/ISO", check=False)
    assert res.returncode != 0 and "Invalid argument" in res.stderr
    res = mount.sh("echo x > photo.jpg.meta/Maek", check=False)
    assert res.returncode != 0 and "Invalid argument" in res.stderr
    res = mount.sh("echo 5 > photo.jpg.meta/ifd1/ThumbnailOffset", check=False)
    assert res.returncode != 0
    mount.commit()
    assert (mount.src / "photo.jpg").read_bytes() == (FIXTURES / "photo.jpg").read_bytes()
    status = mount.status()
    assert "photo.jpg.meta/ISO" in status and "Maek" in status
    assert (mount.meta / "ISO").read_text() == "200\n"


def test_emptied_tag_files_delete_their_tags(mount: Mount) -> None:
    """An empty tag file is a deleted tag, as `exiftool -TAG=` deletes; each way of emptying
    one succeeds in the shell."""
    m = "photo.jpg.meta"
    mount.sh(f": > {m}/Software && echo > {m}/xmp/dc:title && truncate -s 0 {m}/Model && "
             f"vim -u NONE -N -e -s -c '%d' -c wq {m}/LensModel")
    mount.commit()
    tags = mount.exif()
    for gone in ("IFD0:Software", "XMP-dc:Title", "IFD0:Model", "ExifIFD:LensModel"):
        assert gone not in tags
    assert tags["IFD0:Make"] == "MetaFS Test Camera Co."
    assert not {"Software", "Model", "LensModel"} & set(os.listdir(mount.meta))
    # Bytes that are not text are refused while the shell still hears of it.
    res = mount.sh(f"printf '\\377\\376\\n' > {m}/Artist", check=False)
    assert res.returncode != 0 and "Invalid argument" in res.stderr
    assert (mount.meta / "Artist").read_text() == "Jane Doe\n"


def test_structures_made_with_mkdir_and_copied_with_cp(mount: Mount) -> None:
    """A structure the photo lacks: mkdir its folder and write its fields, or copy the folder
    from another photo (cp -r); both land as ExifTool reads structures."""
    shutil.copy2(FIXTURES / "iptc.jpg", mount.src / "other.jpg")
    other = "other.jpg.meta/xmp"
    contact = "Iptc4xmpCore:CreatorContactInfo"
    assert contact not in os.listdir(mount.mnt / other)
    mount.sh(f"cp -r photo.jpg.meta/xmp/{contact} {other}/")
    mount.sh(f"mkdir -p {other}/xmpMM:History[1] && "
             f"echo created > {other}/xmpMM:History[1]/stEvt:action")
    mount.sh(f"mkdir {other}/mwg-rs:Regions && rmdir {other}/mwg-rs:Regions")
    res = mount.sh(f"mkdir {other}/dc:title", check=False)
    assert res.returncode != 0 and "Operation not permitted" in res.stderr
    mount.commit()
    tags = json.loads(subprocess.run(
        ["exiftool", "-j", "-G1", "-struct", str(mount.src / "other.jpg")],
        capture_output=True, text=True, check=True).stdout)[0]
    assert tags["XMP-iptcCore:CreatorContactInfo"] == {
        "CiAdrCity": "Paris", "CiEmailWork": "jane@example.com"}
    assert tags["XMP-xmpMM:History"] == [{"Action": "created"}]
    assert "XMP-mwg-rs:Regions" not in tags
    assert sorted(os.listdir(mount.mnt / other / contact)) == [
        "Iptc4xmpCore:CiAdrCity", "Iptc4xmpCore:CiEmailWork"]


def test_vim_sed_rsync_cp_tee_python(mount: Mount, tmp_path: Path) -> None:
    (tmp_path / "model.txt").write_text("Rsync Model One\n")
    (tmp_path / "soft.txt").write_text("Inplace Software\n")
    (tmp_path / "lens.txt").write_text("Copied Lens\n")
    m = "photo.jpg.meta"
    mount.sh(f"vim -u NONE -N -e -s -c '%s/MetaFS Test/Vim/' -c wq {m}/Make")
    mount.sh(f"sed -i 's/Jane/Sed/' {m}/Copyright")
    mount.sh(f"rsync -I {tmp_path}/model.txt {m}/Model")
    mount.sh(f"rsync --inplace -I {tmp_path}/soft.txt {m}/Software")
    mount.sh(f"cp {tmp_path}/lens.txt {m}/LensModel")
    mount.sh(f"echo 'Tee Artist' | tee {m}/Artist > /dev/null")
    code = (
        "import os\n"
        f"with open('{m}/.desc.tmp', 'w') as f: f.write('Python description\\n')\n"
        f"os.replace('{m}/.desc.tmp', '{m}/ImageDescription')\n"
    )
    mount.sh(f'{sys.executable} -c "{code}"')
    leftovers = [n for n in os.listdir(mount.meta) if n[0] in ".~0123456789s" or n.endswith("~")]
    assert leftovers == []
    mount.commit(mount.meta)
    tags = mount.exif()
    assert tags["IFD0:Make"] == "Vim Camera Co."
    assert tags["IFD0:Copyright"] == "(c) 2020 Sed Doe"
    assert tags["IFD0:Model"] == "Rsync Model One"
    assert tags["IFD0:Software"] == "Inplace Software"
    assert tags["ExifIFD:LensModel"] == "Copied Lens"
    assert tags["IFD0:Artist"] == "Tee Artist"
    assert tags["IFD0:ImageDescription"] == "Python description"


@pytest.mark.mount_args(60_000)
def test_five_quick_edits_one_rewrite(mount: Mount) -> None:
    # A debounce far longer than the edits can take on a loaded machine: the count of
    # rewrites must not depend on the scheduler.  fsync commits at once.
    _five_quick_edits(mount)


def _five_quick_edits(mount: Mount) -> None:
    mount.sh(
        "cd photo.jpg.meta && echo A > Make && echo B > Model && echo C > Artist && "
        "echo D > Software && echo 400 > ISO"
    )
    mount.commit(mount.meta)
    assert "commits: 1 (rewrites 1" in mount.status()
    tags = mount.exif()
    assert (tags["IFD0:Make"], tags["IFD0:Model"], tags["ExifIFD:ISO"]) == ("A", "B", 400)


def test_two_processes_at_once(mount: Mount) -> None:
    m = mount.meta
    procs = [
        subprocess.Popen(["bash", "-c", f"for i in 1 2 3 4 5; do echo Make$i > {m}/Make; done"]),
        subprocess.Popen(["bash", "-c", f"for i in 1 2 3 4 5; do echo Model$i > {m}/Model; done"]),
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    mount.commit()
    tags = mount.exif()
    assert (tags["IFD0:Make"], tags["IFD0:Model"]) == ("Make5", "Model5")


@pytest.mark.mount_args(60_000)
def test_external_modification(mount: Mount) -> None:
    # A long debounce: ExifTool and the daemon must not rewrite the photo at the same time
    # (two writers racing on one file lose one edit whatever anyone does).
    _external_modification(mount)


def _external_modification(mount: Mount) -> None:
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-Model=Outside", str(mount.src / "photo.jpg")],
        check=True,
    )
    assert until(lambda: (mount.meta / "Model").read_text() == "Outside\n")
    mount.sh("echo 'On top' > photo.jpg.meta/Make")
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-Artist=Outsider", str(mount.src / "photo.jpg")],
        check=True,
    )
    mount.commit()
    tags = mount.exif()
    assert (tags["IFD0:Make"], tags["IFD0:Model"], tags["IFD0:Artist"]) == (
        "On top",
        "Outside",
        "Outsider",
    )


def test_reads_exact_when_photo_changes_keeping_mtime(mount: Mount) -> None:
    # Readers go through the kernel's page cache; a change that keeps the photo's mtime
    # (exiftool -P) and the tag's size, or makes it longer, must still read back exactly.
    make = mount.meta / "Make"
    assert make.read_text() == "MetaFS Test Camera Co.\n"
    for value in ("A camera maker name much longer than the old one", "Short", "Shorx"):
        subprocess.run(
            ["exiftool", "-q", "-P", "-overwrite_original", f"-Make={value}",
             str(mount.src / "photo.jpg")],
            check=True,
        )
        assert make.read_text() == value + "\n"
        assert make.read_text() == value + "\n"  # from the page cache this time
        assert os.stat(make).st_size == len(value) + 1


@pytest.mark.mount_args(60_000)
def test_unmount_commits_pending(mount: Mount) -> None:
    mount.sh("echo Pending > photo.jpg.meta/Make")
    assert "pending: 1 edits" in mount.status()
    assert main_umount(str(mount.mnt)) == 0
    assert not os.path.ismount(mount.mnt)
    assert mount.exif()["IFD0:Make"] == "Pending"
    assert until(lambda: not alive(mount.pid))


@pytest.mark.mount_args(60_000)
def test_fusermount_unmount_commits_pending(mount: Mount) -> None:
    mount.sh("echo ViaFusermount > photo.jpg.meta/Make")
    subprocess.run(["fusermount3", "-u", str(mount.mnt)], check=True)
    assert until(lambda: not alive(mount.pid))
    assert mount.exif()["IFD0:Make"] == "ViaFusermount"


@pytest.mark.mount_args(60_000)
def test_sigkill_after_close_then_remount(mount: Mount) -> None:
    mount.sh(
        "echo Survivor > photo.jpg.meta/Make && echo 'kept kw' >> photo.jpg.meta/iptc/Keywords"
    )
    os.kill(mount.pid, signal.SIGKILL)
    assert until(lambda: not alive(mount.pid))
    assert mount.exif()["IFD0:Make"] == "MetaFS Test Camera Co."  # never committed
    subprocess.run(["fusermount3", "-u", "-z", str(mount.mnt)], check=True)
    mount.start()  # replays the journal before serving
    tags = mount.exif()
    assert tags["IFD0:Make"] == "Survivor"
    assert tags["IPTC:Keywords"][-1] == "kept kw"
    assert "Warning" not in tags and "ExifTool:Warning" not in tags
    assert (mount.meta / "Make").read_text() == "Survivor\n"


@pytest.mark.mount_args(60_000)
def test_signal_commits_and_unmounts(mount: Mount) -> None:
    mount.sh("echo Signalled > photo.jpg.meta/Make")
    os.kill(mount.pid, signal.SIGTERM)
    assert until(lambda: not alive(mount.pid))
    assert not os.path.ismount(mount.mnt)
    assert mount.exif()["IFD0:Make"] == "Signalled"


@pytest.mark.mount_args(200, "--read-only")
def test_read_only_mount(mount: Mount) -> None:
    res = mount.sh("echo x > photo.jpg.meta/Make", check=False)
    assert res.returncode != 0 and "Read-only" in res.stderr
    assert (mount.meta / "Make").read_text() == "MetaFS Test Camera Co.\n"


def test_mount_refusals(mount: Mount, tmp_path: Path) -> None:
    res = start_daemon(mount.src, mount.mnt)
    assert res.returncode != 0 and "busy" in res.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    res = start_daemon(mount.src, full)
    assert res.returncode != 0 and "not empty" in res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = start_daemon(mount.src, empty)  # a second daemon on the same SOURCE
    assert res.returncode != 0 and "another metafs daemon" in res.stderr
    res = start_daemon(mount.src, tmp_path / "missing")
    assert res.returncode != 0 and "does not exist" in res.stderr


# -- audit: what a user meets ---------------------------------------------------------------

CORPUS = REPO.parent / "shared" / "corpus"


def test_refusals_reach_the_shell(mount: Mount) -> None:
    res = mount.sh("echo more >> photo.jpg.meta/Model", check=False)
    assert res.returncode != 0 and "Invalid argument" in res.stderr
    mount.sh("echo 'kw two' >> photo.jpg.meta/iptc/Keywords")
    assert (mount.meta / "Model").read_text() == "Fixture One\n"
    assert "photo.jpg.meta/Model: holds one value, not a list" in mount.status()
    btf = CORPUS / "exiftool" / "t" / "images" / "BigTIFF.btf"
    if btf.exists():  # a format metafs reads but does not write: refused at once
        shutil.copy(btf, mount.src / "big.btf")
        res = mount.sh("echo Me > big.btf.meta/Artist", check=False)
        assert res.returncode != 0 and "Permission denied" in res.stderr
        assert "big.btf.meta/Artist: metafs reads BigTIFF files" in mount.status()
    mount.commit()
    assert mount.exif()["IPTC:Keywords"][-1] == "kw two"


def test_rename_photo_and_folder_moves_the_originals(mount: Mount) -> None:
    orig = mount.src / ".originals"
    photo, iptc = (FIXTURES / "photo.jpg").read_bytes(), (FIXTURES / "iptc.jpg").read_bytes()
    mount.sh("echo Renamed > photo.jpg.meta/Make")
    mount.commit(mount.meta)
    view = mount.mnt / ".originals"
    assert until(lambda: "photo.jpg" in os.listdir(view))
    mount.sh("echo 'kw moved' >> sub/iptc.jpg.meta/iptc/Keywords")  # left pending: mv commits
    mount.sh("mv photo.jpg sub/renamed.jpg && mv sub album")
    assert until(lambda: sorted(os.listdir(view)) == ["album"], 5)
    assert not (orig / "photo.jpg").exists() and not (orig / "sub").exists()
    assert (orig / "album" / "renamed.jpg").read_bytes() == photo
    assert (orig / "album" / "iptc.jpg").read_bytes() == iptc
    assert sorted(os.listdir(mount.mnt / ".originals" / "album")) == ["iptc.jpg", "renamed.jpg"]
    assert mount.exif("album/renamed.jpg")["IFD0:Make"] == "Renamed"
    assert mount.exif("album/iptc.jpg")["IPTC:Keywords"][-1] == "kw moved"
    # `metafs restore NEWNAME` finds the original.
    new = mount.src / "album" / "renamed.jpg"
    assert cli_main(["restore", str(new), "--backups", str(orig)]) == 0
    assert new.read_bytes() == photo
    make = mount.mnt / "album" / "renamed.jpg.meta" / "Make"
    assert until(lambda: make.read_text() == "MetaFS Test Camera Co.\n"), make.read_text()
    assert "errors: 0" in mount.status()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts as root, reads as another user")
def test_other_users_see_what_the_disk_lets_them(mount: Mount) -> None:
    shutil.copy(FIXTURES / "photo.jpg", mount.src / "private.jpg")
    os.chmod(mount.src / "private.jpg", 0o600)
    # As nobody, from a folder opened as root (pytest's tmp folders are root's own).
    code = (
        "import os, sys\n"
        f"d = os.open({str(mount.mnt)!r}, os.O_RDONLY)\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "def try_(path, flags):\n"
        "    try:\n"
        "        os.close(os.open(path, flags, dir_fd=d)); return 'ok'\n"
        "    except OSError as e:\n"
        "        return e.strerror\n"
        "print(try_('photo.jpg.meta/Make', os.O_RDONLY))\n"
        "print(try_('photo.jpg.meta/Make', os.O_WRONLY))\n"
        "print(try_('private.jpg.meta/Make', os.O_RDONLY))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert res.stdout.splitlines() == ["ok", "Permission denied", "Permission denied"], res


def test_umount_of_what_is_not_mounted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_umount(str(tmp_path)) == 1
    assert "is not a mount point" in capsys.readouterr().err
    assert main_umount(str(tmp_path / "missing")) == 1
    assert "No such file or directory" in capsys.readouterr().err
