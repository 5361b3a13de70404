"""The attacks of issue 10 (items 1, 2, 3, 6) and the full disk of issue 11 (item 1), run as
the issue ran them: a planted journal, symlinked journal files, a photo swapped for a
symlink within the debounce through a real root mount used by an unprivileged user, two
writers at once (tests/test_writer_lock.py), backups of private photos.  Each is refused
and nothing outside SOURCE changes (bytes and mtime of a file outside are compared)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.files import small_tmpfs

import engine
from engine.safewrite import paths
from engine.safewrite.sysops import AtStage
from metafs.journal import RESERVE, Journal, JournalUnsafeError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
NOBODY = 65534

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, other users)")
fuse = [
    pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse"),
    pytest.mark.skipif(shutil.which("fusermount3") is None, reason="no fusermount3"),
]


def fingerprint(p: Path) -> tuple[bytes, int]:
    return p.read_bytes(), p.stat().st_mtime_ns


@pytest.fixture
def world() -> Iterator[Path]:
    """A folder other users can enter (pytest's own tmp folders are root's, 0700)."""
    base = Path(tempfile.mkdtemp(prefix="metafs-sec-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(base / "mnt")], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def as_nobody(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as uid 65534 (Python starts as root: its own files are root's; it drops
    its privileges before anything else)."""
    drop = f"import os\nos.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})\n"
    return subprocess.run([sys.executable, "-c", drop + code], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def opens_as_nobody(files: list[str], cwd: Path) -> list[str]:
    """What uid 65534 gets opening each file for reading: 'read' or the error's text."""
    res = as_nobody(
        f"for p in {files!r}:\n"
        "    try:\n"
        "        os.close(os.open(p, os.O_RDONLY)); print('read')\n"
        "    except OSError as e:\n"
        "        print(e.strerror)\n", cwd=cwd)
    return res.stdout.split("\n")[:len(files)]


# -- writes confined to a root -------------------------------------------------------------


def test_paths_outside_the_root_are_refused(tmp_path: Path) -> None:
    src, outside = tmp_path / "src", tmp_path / "outside.jpg"
    src.mkdir()
    shutil.copyfile(FIXTURES / "photo.jpg", outside)
    before = fingerprint(outside)
    for bad in (str(outside), str(src / ".." / "outside.jpg"), "", "a\0b"):
        with pytest.raises(engine.WriteError, match="refusing to write"):
            engine.write_metadata(bad, {"Artist": "X"}, root=src)
    (src / "link.jpg").symlink_to(outside)
    (src / "dir").symlink_to(tmp_path)
    for bad in ("link.jpg", "dir/outside.jpg"):
        with pytest.raises(engine.WriteError, match="symbolic link"):
            engine.write_metadata(src / bad, {"Artist": "X"}, root=src)
    assert fingerprint(outside) == before
    assert not (src / ".originals").exists() or not any((src / ".originals").rglob("*.jpg"))


def test_a_symlink_planted_in_originals_is_refused(tmp_path: Path) -> None:
    # Without a root too (the CLI on the user's own files): never followed in .originals.
    outside = tmp_path / "outside.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", outside)
    before = fingerprint(outside)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    photo = src / "sub" / "p.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    (src / ".originals").mkdir()
    (src / ".originals" / "sub").symlink_to(tmp_path)  # backup of sub/p.jpg would go out
    with pytest.raises(engine.WriteError, match="backup tree is a symbolic link"):
        engine.write_metadata(photo, {"Artist": "X"}, backups=src / ".originals")
    (src / ".originals" / "sub").unlink()
    (src / ".originals" / "sub").mkdir()
    (src / ".originals" / "sub" / "p.jpg").symlink_to(outside)
    with pytest.raises(engine.WriteError, match="is a symbolic link or not a file"):
        engine.write_metadata(photo, {"Artist": "X"}, backups=src / ".originals")
    with pytest.raises(engine.WriteError, match="symbolic link"):
        engine.restore(photo, backups=src / ".originals")
    assert fingerprint(outside) == before
    assert engine.read_metadata(photo).tags["Artist"].value != "X"


def test_a_swap_after_opening_is_caught_before_the_rename(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The swap lands between planning and rename: the name no longer refers to the file
    # that was read, so the write plans again, from the symlink, and is refused.
    src, outside = tmp_path / "src", tmp_path / "r.jpg"
    src.mkdir()
    shutil.copyfile(FIXTURES / "photo.jpg", outside)
    photo = src / "u.jpg"
    shutil.copyfile(FIXTURES / "exif_le.jpg", photo)
    before = fingerprint(outside)

    def swap(step: str) -> None:
        if step == "written" and not photo.is_symlink():
            photo.rename(src / "u.bak")
            photo.symlink_to(outside)

    with pytest.raises(engine.WriteError, match="symbolic link"):
        engine.write_metadata(photo, {"Artist": "Evil"}, root=src, backups=src / ".originals",
                              ops=AtStage(swap))
    assert fingerprint(outside) == before
    # the backup made for the abandoned attempt was dropped; no copy of r.jpg was made
    assert [p for p in (src / ".originals").rglob("*") if not p.is_dir()] == []
    assert (src / "u.bak").read_bytes() == (FIXTURES / "exif_le.jpg").read_bytes()


# -- backups as private as what they back up -----------------------------------------------


@as_root
def test_backups_of_private_photos_stay_private(world: Path) -> None:
    src = world / "src"
    (src / "alice").mkdir(parents=True)
    src.chmod(0o755)
    private = src / "alice"
    photo = private / "p.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    os.chown(private, 1234, 1234)
    os.chown(photo, 1234, 1234)
    private.chmod(0o700)
    photo.chmod(0o644)  # readable, but inside a private folder
    lone = src / "lone.jpg"  # a private photo in a shared folder
    shutil.copyfile(FIXTURES / "photo.jpg", lone)
    os.chown(lone, 1234, 1234)
    lone.chmod(0o600)
    for p in (photo, lone):
        engine.write_metadata(p, {"Artist": "Alice"}, root=src, backups=src / ".originals")
    folder = src / ".originals" / "alice"
    st = folder.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o700, 1234, 1234)
    st = (src / ".originals" / "lone.jpg").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, 1234)
    st = (src / ".originals").stat()
    assert stat.S_IMODE(st.st_mode) == 0o755  # as SOURCE: others' backups stay reachable
    got = opens_as_nobody(['.originals/alice/p.jpg', '.originals/lone.jpg', '.originals/alice'],
                          src)
    assert got == ["Permission denied"] * 3, got


@as_root
def test_a_copied_backup_keeps_mode_owner_and_an_existing_folder_is_tightened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    (src / "priv").mkdir(parents=True)
    (src / ".originals" / "priv").mkdir(parents=True, mode=0o755)  # made by an older metafs
    (src / ".originals" / "priv").chmod(0o755)
    photo = src / "priv" / "p.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    os.chown(photo, 1234, 99)
    photo.chmod(0o640)
    (src / "priv").chmod(0o750)
    real_link = os.link

    def no_links(*a: object, **k: object) -> None:
        raise OSError(errno.EXDEV, "no links here")

    monkeypatch.setattr(os, "link", no_links)
    engine.write_metadata(photo, {"Artist": "X"}, root=src, backups=src / ".originals")
    monkeypatch.setattr(os, "link", real_link)
    b = src / ".originals" / "priv" / "p.jpg"
    st = b.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_nlink) == (0o640, 1234, 99, 1)
    assert stat.S_IMODE(b.parent.stat().st_mode) == 0o750


# -- the journal ---------------------------------------------------------------------------


def _plant(journal_dir: Path, records: list[dict[str, object]]) -> None:
    journal_dir.mkdir(parents=True, exist_ok=True)
    journal_dir.chmod(0o700)
    (journal_dir / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


# The replay logs each refused record, and each photo it could not write, as an ERROR.
@pytest.mark.expect_error_log(r"^journal \S+journal\.jsonl: record \d names .*; refused, "
                              r"not applied$",
                              r"^journal: could not apply edits to (link\.jpg|up/outside\.jpg): .*"
                              r"refusing to follow it \(kept for the next mount\)$")
def test_journal_records_outside_source_are_refused_and_reported(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    outside = tmp_path / "outside.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", outside)
    shutil.copyfile(FIXTURES / "photo.jpg", src / "photo.jpg")
    (src / "link.jpg").symlink_to(outside)
    (src / "up").symlink_to(tmp_path)
    before = fingerprint(outside)
    bad = [str(outside), "../outside.jpg", "sub/../../outside.jpg", "", "a\u0000b", "/"]
    _plant(src / ".originals" / ".journal", [
        *({"seq": i + 1, "photo": p, "changes": {"Artist": "Pwned"}} for i, p in enumerate(bad)),
        {"seq": 20, "photo": "link.jpg", "changes": {"Artist": "Pwned"}},
        {"seq": 21, "photo": "up/outside.jpg", "changes": {"Artist": "Pwned"}},
        {"seq": 22, "photo": "photo.jpg", "changes": {"Artist": "Legit"}},
    ])
    from metafs.mount import replay_journal
    from metafs.photos import real_engine

    with Journal(src / ".originals" / ".journal", root=src) as j:
        outstanding = j.load()
        assert sorted(j.refused) == sorted(bad)
        assert sorted(outstanding) == ["link.jpg", "photo.jpg", "up/outside.jpg"]
        replay_journal(j, str(src), real_engine())
        # the symlinks inside SOURCE are refused by the confined write, kept for the user
        assert sorted(j.load()) == ["link.jpg", "up/outside.jpg"]
    assert fingerprint(outside) == before
    assert engine.read_metadata(src / "photo.jpg").tags["Artist"].value == "Legit"
    assert sorted(p.name for p in (src / ".originals").iterdir()) == [".journal", "photo.jpg"]


@pytest.mark.parametrize("name", ["journal.jsonl", "lock"])
def test_symlinked_journal_files_are_not_followed(tmp_path: Path, name: str) -> None:
    src = tmp_path / "src"
    jdir = src / ".originals" / ".journal"
    jdir.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"34 bytes of someone's precious data")
    before = fingerprint(victim)
    (jdir / name).symlink_to(victim)
    with pytest.raises(JournalUnsafeError, match=f"{name}: cannot be opened as a file"):
        Journal(jdir, root=src).open()
    assert fingerprint(victim) == before


def test_a_symlinked_journal_folder_is_not_followed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / ".originals").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (src / ".originals" / ".journal").symlink_to(elsewhere)
    with pytest.raises(JournalUnsafeError, match="is a symbolic link or not a folder"):
        Journal(src / ".originals" / ".journal", root=src).open()
    (src / ".originals" / ".journal").unlink()
    (src / ".originals").rmdir()
    (src / ".originals").symlink_to(elsewhere)
    with pytest.raises(JournalUnsafeError, match="metafs keeps its journal there"):
        Journal(src / ".originals" / ".journal", root=src).open()
    assert os.listdir(elsewhere) == []


@as_root
def test_a_journal_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    jdir = src / ".originals" / ".journal"
    _plant(jdir, [{"seq": 1, "photo": "photo.jpg", "changes": {"Artist": "Pwned"}}])
    os.chown(jdir / "journal.jsonl", NOBODY, NOBODY)
    with pytest.raises(JournalUnsafeError, match="not a regular file of uid 0"):
        Journal(jdir, root=src).open()
    os.chown(jdir / "journal.jsonl", 0, 0)
    os.chown(jdir, NOBODY, NOBODY)
    with pytest.raises(JournalUnsafeError, match="the journal folder belongs to uid 65534"):
        Journal(jdir, root=src).open()


def test_a_torn_or_zero_filled_tail_is_no_record(tmp_path: Path) -> None:
    with Journal(tmp_path / "j") as j:
        j.append_sync("a.jpg", {"Make": "A"})
        end = j._end
    with open(tmp_path / "j" / "journal.jsonl", "r+b") as f:  # a crash mid-record
        f.seek(end)
        f.write(b'{"seq":2,"photo":"b.jpg","chan\0\0\0ges":{"Make":"B"}}\n')
    with Journal(tmp_path / "j") as j:
        assert j.load() == {"a.jpg": {"Make": "A"}}
        j.append_sync("c.jpg", {"Make": "C"})
        assert j.load() == {"a.jpg": {"Make": "A"}, "c.jpg": {"Make": "C"}}
        assert (tmp_path / "j" / "journal.jsonl").stat().st_size == RESERVE


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "small", "3m") as mnt:
        yield mnt


def _fill(d: Path) -> None:
    with open(d / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\1" * 65536)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC
    for n in range(1000):  # the last crumbs
        try:
            (d / f"crumb{n}").write_bytes(b"x" * 512)
        except OSError:
            break


def test_a_full_disk_never_loses_a_journal_record_silently(small_fs: Path) -> None:
    # issue 11 item 1: the edit is in the reserve, or append_sync raises ENOSPC
    with Journal(small_fs / ".originals" / ".journal") as j:
        _fill(small_fs)
        seq = j.append_sync("photo.jpg", {"Artist": "Jane"})
        assert j.load() == {"photo.jpg": {"Artist": "Jane"}}
        j.done_sync("photo.jpg", seq)
        assert j.load() == {}
        acked = {}
        big = "x" * 60_000
        with pytest.raises(OSError) as info:
            for n in range(10 * RESERVE // len(big)):
                j.append_sync(f"p{n}.jpg", {"ImageDescription": big})
                acked[f"p{n}.jpg"] = {"ImageDescription": big}
        assert info.value.errno == errno.ENOSPC
        assert "the edit could not be recorded" in str(info.value)
        assert len(acked) >= 10  # the reserve held those
        assert j.load() == acked  # the refused record left no trace
    with Journal(small_fs / ".originals" / ".journal") as j:
        assert j.load() == acked


# -- the daemon: a photo swapped for a symlink within the debounce ---------------------------


def _mount(src: Path, mnt: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "metafs.mount", str(src), str(mnt), *args],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr


def _umount(mnt: Path) -> None:
    from metafs.mount import main_umount

    if os.path.ismount(mnt) and main_umount(str(mnt), timeout=30) != 0:
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)


@as_root
@fuse[0]
@fuse[1]
def test_photo_swapped_for_a_symlink_within_the_debounce(world: Path) -> None:
    src, mnt, secret = world / "src", world / "mnt", world / "rootonly"
    for d in (src / "u", mnt, secret):
        d.mkdir(parents=True)
    src.chmod(0o755)
    secret.chmod(0o700)
    r = secret / "r.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", r)
    r.chmod(0o600)
    before = fingerprint(r)
    u = src / "u" / "u.jpg"
    shutil.copyfile(FIXTURES / "exif_le.jpg", u)
    for p in (src / "u", u):
        os.chown(p, NOBODY, NOBODY)
    _mount(src, mnt, "--debounce", "1500")
    try:
        res = as_nobody(
            "import os, time\n"
            f"with open({str(mnt / 'u' / 'u.jpg.meta' / 'Artist')!r}, 'w') as f:\n"
            "    f.write('Evil\\n')\n"
            f"os.rename({str(u)!r}, {str(src / 'u' / 'u.bak')!r})\n"
            f"os.symlink({str(r)!r}, {str(u)!r})\n"
            "print('swapped')\n")
        assert res.stdout == "swapped\n", res.stderr
        fd = os.open(mnt / ".metafs", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)  # commit now (it may fail: the photo is a symlink now)
        except OSError:
            pass
        finally:
            os.close(fd)
        time.sleep(0.5)
    finally:
        _umount(mnt)
    assert fingerprint(r) == before
    copies = [p for p in (src / ".originals").rglob("*") if p.is_file() and not p.is_symlink()
              and p.read_bytes() == before[0]] if (src / ".originals").exists() else []
    assert copies == []


@as_root
@fuse[0]
@fuse[1]
def test_planted_journals_through_a_real_mount(world: Path) -> None:
    # As the issue ran it: SOURCE/.originals/.journal planted before root mounts SOURCE.
    src, mnt = world / "src", world / "mnt"
    src.mkdir()
    mnt.mkdir()
    shutil.copyfile(FIXTURES / "photo.jpg", src / "photo.jpg")
    outside = world / "outside.jpg"
    shutil.copyfile(FIXTURES / "exif_le.jpg", outside)
    victim = world / "victim.txt"
    victim.write_bytes(b"34 bytes of someone's precious data")
    before = fingerprint(outside), fingerprint(victim)
    jdir = src / ".originals" / ".journal"
    jdir.mkdir(parents=True, mode=0o700)
    (jdir / "journal.jsonl").symlink_to(victim)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "metafs.mount", str(src), str(mnt)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1 and not os.path.ismount(mnt)
    assert f"{jdir / 'journal.jsonl'}: cannot be opened as a file" in r.stderr
    (jdir / "journal.jsonl").unlink()
    _plant(jdir, [
        {"seq": 1, "photo": str(outside), "changes": {"Artist": "Pwned"}},
        {"seq": 2, "photo": "../outside.jpg", "changes": {"Artist": "Pwned"}},
        {"seq": 3, "photo": "photo.jpg", "changes": {"Artist": "Legit"}},
        {"seq": 4, "photo": "priv/p.jpg", "changes": {"Artist": "Alice"}},
    ])
    priv = src / "priv"  # another user's private folder: its backup stays private
    priv.mkdir()
    shutil.copyfile(FIXTURES / "photo.jpg", priv / "p.jpg")
    for p in (priv, priv / "p.jpg"):
        os.chown(p, 1234, 1234)
    priv.chmod(0o700)
    _mount(src, mnt)
    try:
        assert (mnt / "photo.jpg.meta" / "Artist").read_text() == "Legit\n"
        got = opens_as_nobody(["src/.originals/priv/p.jpg", "mnt/.originals/priv/p.jpg"], world)
        assert got == ["Permission denied"] * 2, got
    finally:
        _umount(mnt)
    assert (fingerprint(outside), fingerprint(victim)) == before
    assert sorted(p.name for p in (src / ".originals").iterdir()) == [
        ".journal", "photo.jpg", "priv"]
    assert engine.read_metadata(priv / "p.jpg").tags["Artist"].value == "Alice"
    log = (jdir / "metafs.log").read_text()
    assert log.count("a path outside the source (absolute, with '..' or a NUL, or empty); "
                     "refused, not applied") == 2


# -- helpers the tests above rely on --------------------------------------------------------


def test_components_refuses_what_leaves_the_root() -> None:
    assert paths.components("/s", "/s/a/b.jpg") == ["a", "b.jpg"]
    assert paths.components("/s", "a/./b.jpg") == ["a", "b.jpg"]
    for bad in ("/s/../t.jpg", "/t.jpg", "../t.jpg", "/s", "a/../../t.jpg"):
        with pytest.raises(engine.WriteError, match="outside /s"):
            paths.components("/s", bad)


@pytest.mark.parametrize("plant", ["symlink", "hardlink"])
def test_a_planted_log_file_is_not_appended_to(tmp_path: Path, plant: str) -> None:
    """The daemon's log beside the journal is opened with no symlink followed and only when
    it is a file of its own with one name: a planted link gets no line."""
    from metafs.daemon import _open_log_beside_journal

    src = tmp_path / "src"
    jdir = src / ".originals" / ".journal"
    jdir.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"34 bytes of someone's precious data")
    before = fingerprint(victim)
    if plant == "symlink":
        (jdir / "metafs.log").symlink_to(victim)
    else:
        os.link(victim, jdir / "metafs.log")
    assert _open_log_beside_journal(str(src)) is None
    assert fingerprint(victim) == before
    (jdir / "metafs.log").unlink()
    log_file = _open_log_beside_journal(str(src))
    assert log_file is not None
    log_file.write("a line\n")
    log_file.close()
    assert (jdir / "metafs.log").read_text() == "a line\n"
