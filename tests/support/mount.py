"""A real metafs mount for tests: ``python -m metafs.mount`` as a daemon over a fresh SOURCE.

Tests take the ``mount`` fixture (tests/conftest.py), which unmounts in a finalizer, lazily if
need be, even when the test fails; tests that start and stop daemons themselves use ``Mount``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metafs.mount import daemon_pid, main_umount
from support.files import FIXTURES, REPO

# What a real mount needs (a test, or a module's ``pytestmark``).
needs_mount = pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None
    or shutil.which("exiftool") is None, reason="needs /dev/fuse, fusermount3 and exiftool")


def start_daemon(src: Path, mnt: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m metafs.mount SRC MNT ARGS`` (it returns once the daemon serves)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "metafs.mount", str(src), str(mnt), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def until(pred: object, timeout: float = 60.0) -> bool:
    """Poll until ``pred()`` holds.  The timeout is generous on purpose: CI runs these tests
    beside CPU-heavy ones on two cores; a healthy daemon answers within milliseconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


class Mount:
    """SOURCE ``tmp/src`` (photo.jpg, sub/iptc.jpg, notes.txt) mounted on ``tmp/mnt``."""

    def __init__(self, tmp: Path, debounce_ms: int = 200, *extra: str) -> None:
        self.src = tmp / "src"
        self.mnt = tmp / "mnt"
        self.src.mkdir(exist_ok=True)  # (or a file system mounted there: small_vfat)
        self.mnt.mkdir()
        (self.src / "sub").mkdir(exist_ok=True)
        shutil.copy2(FIXTURES / "photo.jpg", self.src / "photo.jpg")
        shutil.copy2(FIXTURES / "iptc.jpg", self.src / "sub" / "iptc.jpg")
        (self.src / "notes.txt").write_text("not a photo\n")
        self.args = ("--debounce", str(debounce_ms), *extra)
        self.pids: list[int] = []
        self.start()

    def start(self) -> None:
        res = start_daemon(self.src, self.mnt, *self.args)
        assert res.returncode == 0, res.stderr
        pid = daemon_pid(str(self.mnt))
        assert pid is not None
        self.pid = pid
        self.pids.append(pid)

    @property
    def meta(self) -> Path:
        return self.mnt / "photo.jpg.meta"

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            ["bash", "-c", script], cwd=self.mnt, capture_output=True, text=True, timeout=120
        )
        if check:
            assert res.returncode == 0, (script, res.stderr)
        return res

    def commit(self, folder: Path | None = None) -> None:
        fd = os.open(folder or self.mnt / ".metafs", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        except OSError as e:
            raise AssertionError(f"commit failed: {e}\n{self.status()}") from None
        finally:
            os.close(fd)

    def status(self) -> str:
        return (self.mnt / ".metafs" / "status").read_text()

    def exif(self, rel: str = "photo.jpg") -> dict[str, object]:
        out = subprocess.run(
            ["exiftool", "-j", "-G1", "-a", str(self.src / rel)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out)[0]

    def close(self) -> None:
        if os.path.ismount(self.mnt):
            if main_umount(str(self.mnt), timeout=10) != 0:
                subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)], capture_output=True)
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
