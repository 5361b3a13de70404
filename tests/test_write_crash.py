"""Issue 3, "Done when" 3: a write stopped anywhere leaves the old file or the new one, whole.

- fault injection at each stage of ``engine.safewrite.safety.safe_rewrite`` (the write's system
  calls told each stage: ``engine.safewrite.sysops.AtStage``), through the public
  ``engine.write_metadata``; tests/test_fault_injection.py fails every system call in turn;
- SIGKILL of a process that writes in a loop to a ~2 MB JPEG, at random moments;
- a write on a nearly full filesystem (a small tmpfs; skipped where mounting is not allowed).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engine
from engine.containers import jpeg as J
from engine.errors import WriteError
from engine.safewrite import safety
from engine.safewrite.sysops import AtStage

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
BEFORE_RENAME = ["backup", "written", "fsynced", "validated"]
AFTER_RENAME = ["renamed", "dir-fsynced"]


def temps(d: Path) -> list[str]:
    found = [n for n in os.listdir(d) if safety.is_temp_name(n) or ".metafs-" in n]
    backups = d / ".originals"
    if backups.is_dir():
        found += [f".originals/{n}" for n in os.listdir(backups) if ".metafs-" in n]
    return found


def tail(data: bytes) -> bytes:
    return data[J.parse_jpeg(data).tail_offset :]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    p = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", p)
    p.chmod(0o640)
    return p


# -- fault injection at each step -----------------------------------------------------------------

@pytest.mark.parametrize("step", BEFORE_RENAME)
@pytest.mark.parametrize("fault", ["oserror", "exception"])
def test_fault_before_rename_leaves_the_original(photo: Path, step: str, fault: str) -> None:
    original = photo.read_bytes()

    class Boom(Exception):
        pass

    def hook(name: str) -> None:
        if name == step:
            raise OSError(5, "simulated I/O error") if fault == "oserror" else Boom(name)

    expected = WriteError if fault == "oserror" else Boom
    with pytest.raises(expected) as info:
        engine.write_metadata(photo, {"Artist": "Crash Test", "xmp/dc:title": "T"},
                              ops=AtStage(hook))
    if fault == "oserror":
        msg = str(info.value)
        assert msg.startswith(f"{photo}: ") and "the original file is untouched" in msg, msg
        assert "\n" not in msg
    assert photo.read_bytes() == original
    assert photo.stat().st_mode & 0o777 == 0o640
    assert temps(photo.parent) == []
    assert not (photo.parent / ".originals" / "photo.jpg").exists()  # no stray backup
    engine.write_metadata(photo, {"Artist": "After"})  # and the next write works
    assert engine.read_metadata(photo).tags["Artist"].value == "After"


@pytest.mark.parametrize("step", AFTER_RENAME)
def test_fault_after_rename_keeps_the_complete_new_file(photo: Path, step: str) -> None:
    original = photo.read_bytes()

    def hook(name: str) -> None:
        if name == step:
            raise OSError(5, "simulated I/O error")

    with pytest.raises(WriteError, match="the new file is in place but may not survive"):
        engine.write_metadata(photo, {"Artist": "Crash Test"}, ops=AtStage(hook))
    md = engine.read_metadata(photo)
    assert md.tags["Artist"].value == "Crash Test" and md.warnings == []
    assert tail(photo.read_bytes()) == tail(original)
    assert (photo.parent / ".originals" / "photo.jpg").read_bytes() == original
    assert temps(photo.parent) == []


def test_every_step_is_reached_in_order(photo: Path) -> None:
    seen: list[str] = []
    engine.write_metadata(photo, {"Artist": "Steps"}, ops=AtStage(seen.append))
    assert seen == BEFORE_RENAME + AFTER_RENAME


def test_validation_failure_changes_nothing(photo: Path) -> None:
    """A temp file damaged between writing and validating is caught by the re-parse."""
    original = photo.read_bytes()

    def hook(name: str) -> None:
        if name == "fsynced":
            (tmp,) = [photo.parent / n for n in os.listdir(photo.parent)
                      if safety.is_temp_name(n)]
            tmp.write_bytes(tmp.read_bytes()[:-100])  # lose the end of the scan data

    with pytest.raises(engine.ValidationError, match="nothing was written"):
        engine.write_metadata(photo, {"Artist": "Crash Test"}, ops=AtStage(hook))
    assert photo.read_bytes() == original
    assert temps(photo.parent) == []
    assert not (photo.parent / ".originals" / "photo.jpg").exists()


# -- SIGKILL at random moments ------------------------------------------------------------------

WRITER = r"""
import sys, itertools
sys.path.insert(0, sys.argv[2])
import engine
path = sys.argv[1]
for i in itertools.count():
    # alternate sizes so the EXIF block grows and shrinks
    engine.write_metadata(path, {"Artist": f"run {i}", "xmp/dc:title": "t" * (i % 7 * 300),
                                 "ImageDescription": "d" * (i % 5 * 1000 + 1)},
                         sync_related=False)
    if i == 0:
        print("ready", flush=True)
"""


def big_jpeg(dst: Path) -> Path:
    """~2 MB: noise (so it does not compress) plus the metadata of fixtures/photo.jpg."""
    from PIL import Image

    rnd = random.Random(3)
    img = Image.frombytes("RGB", (1000, 800), rnd.randbytes(1000 * 800 * 3))
    img.save(dst, quality=95, subsampling=0)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-tagsfromfile",
                    str(FIXTURES / "photo.jpg"), "-all:all", str(dst)], check=True)
    return dst


def exiftool_error(path: Path) -> str | None:
    r = subprocess.run(["exiftool", "-j", "-Error", "-Warning", "-Artist", str(path)],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        return r.stderr.strip() or "exiftool failed"
    import json

    d = json.loads(r.stdout)[0]
    return d.get("Error") or d.get("Warning")


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    p = big_jpeg(tmp_path / "big.jpg")
    assert 1_500_000 < p.stat().st_size < 3_000_000
    original = p.read_bytes()
    image = tail(original)
    rnd = random.Random(int(os.environ.get("METAFS_CRASH_SEED", "42")))
    outcomes = {"original": 0, "new": 0, "temp left": 0}
    for kill in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(p), str(REPO)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "ready\n", proc.stderr.read() if proc.stderr else line
        time.sleep(rnd.uniform(0.0, 0.3))
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "writer died"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert proc.stderr is not None
        proc.stderr.close()

        data = p.read_bytes()
        where = f"after kill {kill}"
        if data == original:
            outcomes["original"] += 1
        else:  # a completely written version: every part reads, the image data is the same
            outcomes["new"] += 1
            md = engine.read_metadata(p)
            assert md.warnings == [], where
            assert md.tags["Artist"].value.startswith("run "), where
            assert tail(data) == image, where
            assert exiftool_error(p) is None, where
        assert (tmp_path / ".originals" / "big.jpg").read_bytes() == original, where
        if temps(tmp_path):
            outcomes["temp left"] += 1
        # the next successful write removes whatever temp file the kill left behind
        engine.write_metadata(p, {"Artist": f"after kill {kill}"})
        assert temps(tmp_path) == [], where
        assert engine.read_metadata(p).tags["Artist"].value == f"after kill {kill}"
    assert outcomes["new"] > 0, outcomes


# -- nearly full filesystem ---------------------------------------------------------------------

@pytest.fixture
def small_fs(tmp_path: Path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(d: Path, leave: int) -> None:
    """Fill the filesystem of ``d`` up to about ``leave`` free bytes."""
    filler = d / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))


@pytest.mark.parametrize("backup", [True, False])
def test_nearly_full_filesystem_fails_cleanly(small_fs: Path, backup: bool) -> None:
    p = small_fs / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", p)
    original = p.read_bytes()
    fill(small_fs, leave=len(original) // 2)
    with pytest.raises(WriteError) as info:
        engine.write_metadata(p, {"Artist": "Full Disk"}, backup=backup)
    msg = str(info.value)
    assert msg.startswith(f"{p}: ") and "\n" not in msg
    assert "no space left on the device" in msg and "the original file is untouched" in msg, msg
    assert p.read_bytes() == original
    assert temps(small_fs) == []
    assert not (small_fs / ".originals" / "photo.jpg").exists()
    (small_fs / "filler").unlink()  # with room again the same write succeeds
    engine.write_metadata(p, {"Artist": "Full Disk"}, backup=backup)
    assert engine.read_metadata(p).tags["Artist"].value == "Full Disk"
