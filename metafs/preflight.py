"""Before mounting: FUSE usable, a dead mount cleared, SOURCE and the mount point fit to use.

Each check raises ``MountError`` with a message for the user (what is wrong, what to run), or
says what the mount must do about it (a read-only SOURCE is mounted read-only).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import subprocess

import engine

log = logging.getLogger("metafs")


class MountError(Exception):
    """A reason not to mount, phrased for the user."""


def check_fuse() -> None:
    if not os.path.exists("/dev/fuse"):
        raise MountError("FUSE is not available: /dev/fuse is missing (load the fuse module)")
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        raise MountError("FUSE is not available: no permission to open /dev/fuse")
    if os.geteuid() != 0 and shutil.which("fusermount3") is None:
        raise MountError("FUSE is not available: fusermount3 not found (install fuse3)")


def _unescape_mountinfo(field: str) -> str:
    """/proc/self/mountinfo writes space, tab, newline and backslash as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _fuse_type_at(path: str) -> str | None:
    """The type (``fuse.metafs``...) of the FUSE mount at ``path`` in /proc/self/mountinfo
    (the last one mounted there), None when none is."""
    fstype = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields, _, rest = line.partition(" - ")
                parts = fields.split()
                if len(parts) >= 5 and _unescape_mountinfo(parts[4]) == path:
                    kind = rest.split(" ", 1)[0]
                    fstype = kind if kind.startswith("fuse") else None  # the last one wins
    except OSError:
        return None
    return fstype


def dead_fuse_mount(mountpoint: str) -> str | None:
    """The type (``fuse.metafs``...) of a FUSE mount at ``mountpoint`` whose daemon is gone,
    else None.  ``stat`` is no test: the kernel answers it from its attribute cache for a
    while after the daemon died; statfs always asks the daemon (ENOTCONN, ECONNABORTED)."""
    path = os.path.realpath(mountpoint)  # as mountinfo has it (a dead mount resolves too)
    fstype = _fuse_type_at(path)
    if fstype is None:
        return None
    try:
        os.statvfs(path)
    except OSError as e:
        if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
            return fstype
    return None


def clear_dead_mount(mountpoint: str) -> bool:
    """A metafs mount left at ``mountpoint`` by a daemon that died (``kill -9``, a crash,
    the OOM killer) is unmounted lazily, so that mounting again works (and replays the
    journal the dead daemon left).  Any other dead mount is the user's to deal with."""
    if dead_fuse_mount(mountpoint) != "fuse.metafs":
        return False
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    cmd = [tool, "-u", "-z", mountpoint] if tool else ["umount", "-l", mountpoint]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise MountError(
            f"{mountpoint}: a dead metafs mount is still there and could not be cleared "
            f"({res.stderr.strip() or 'unmount failed'}); run 'fusermount3 -u -z {mountpoint}'"
        )
    log.info("%s: cleared the mount left by a metafs daemon that died", mountpoint)
    return True


def source_read_only(source: str) -> str | None:
    """Why metafs cannot write in SOURCE (a read-only filesystem: a read-only bind mount, a
    NAS share, a DVD), or None."""
    try:
        if os.statvfs(source).f_flag & os.ST_RDONLY:
            return f"{source} is on a read-only filesystem"
    except OSError:
        return None
    if not os.access(source, os.W_OK) and not os.access(os.path.join(source, engine.BACKUP_DIR),
                                                         os.W_OK):
        return f"{source} is not writable by you"
    return None


def check_paths(source: str, mountpoint: str) -> None:
    if not os.path.isdir(source):
        raise MountError(f"{source}: source is not a folder")
    try:
        os.stat(mountpoint)
    except OSError as e:
        if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
            raise MountError(
                f"{mountpoint}: a dead FUSE mount is still there; run "
                f"'metafs umount {mountpoint}' (or 'fusermount3 -u {mountpoint}') first"
            ) from None
        raise MountError(f"{mountpoint}: mount point does not exist") from None
    if not os.path.isdir(mountpoint):
        raise MountError(f"{mountpoint}: mount point is not a folder")
    if os.path.ismount(mountpoint):
        raise MountError(f"{mountpoint}: mount point is busy (something is mounted there)")
    if os.listdir(mountpoint):
        raise MountError(f"{mountpoint}: mount point is not empty")
    src, mnt = os.path.realpath(source), os.path.realpath(mountpoint)
    if mnt == src or mnt.startswith(src + os.sep) or src.startswith(mnt + os.sep):
        raise MountError("source and mount point must not contain each other")
