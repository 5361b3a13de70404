"""``metafs umount``: commit the pending edits, unmount, wait for the daemon to finish."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time

from metafs.fs import CONTROL


def daemon_pid(mountpoint: str) -> int | None:
    try:
        with open(os.path.join(mountpoint, CONTROL, "status")) as f:
            for line in f:
                if line.startswith("pid:"):
                    return int(line.split(":", 1)[1])
    except (OSError, ValueError):
        return None
    return None


def main_umount(mountpoint: str, *, timeout: float = 30.0) -> int:
    """Commit pending edits, unmount, wait for the daemon to finish."""
    mountpoint = os.path.abspath(mountpoint)
    why = _not_mounted(mountpoint)
    if why is not None:
        print(f"metafs: cannot unmount: {why}", file=sys.stderr)
        return 1
    pid = daemon_pid(mountpoint)
    failed = pid is not None and not _commit_pending(mountpoint)
    if not _unmount(mountpoint):
        return 1
    if pid is not None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
    return 1 if failed else 0


def _commit_pending(mountpoint: str) -> bool:
    """fsync on .metafs/ commits every pending edit and reports failures: False (said on
    stderr) when some could not be committed."""
    try:
        fd = os.open(os.path.join(mountpoint, CONTROL), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        print(
            f"metafs: some pending edits could not be committed ({e.strerror}); "
            f"see {mountpoint}/{CONTROL}/status",
            file=sys.stderr,
        )
        return False
    return True


def _unmount(mountpoint: str) -> bool:
    """fusermount3 -u (umount without it); False, said on stderr, when it failed."""
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    cmd = [tool, "-u", mountpoint] if tool else ["umount", mountpoint]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode == 0:
        return True
    why = res.stderr.strip()
    if "busy" in why.lower():
        why = f"{mountpoint} is busy: a process still uses it (see 'fuser -m {mountpoint}')"
    print(f"metafs: cannot unmount: {why}", file=sys.stderr)
    return False


def _not_mounted(mountpoint: str) -> str | None:
    """Why ``metafs umount`` has nothing to do there (None: something is mounted there, or
    a dead mount that fusermount3 -u clears)."""
    try:
        os.stat(mountpoint)
    except OSError as e:
        if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
            return None
        return f"{mountpoint}: {e.strerror}"
    if os.path.ismount(mountpoint):
        return None
    return f"{mountpoint} is not a mount point (nothing is mounted there)"


def _alive(pid: int) -> bool:
    try:  # a zombie has finished (our parent may be gone, and PID 1 may not reap it)
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
