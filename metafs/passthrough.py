"""Attributes for the kernel and the blocking helpers of the SOURCE passthrough."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import pyfuse3

from engine.write.safety import fsync_dir

TIMEOUT = 1.0  # seconds the kernel may cache entries and attributes of SOURCE paths
# ... and of generated entries (.meta folders, tag files): every change the daemon makes or
# sees is pushed to the kernel (invalidations), so only a photo changed by another program
# and not yet looked at again can show its old tag list or sizes, for at most this long.
# Long enough that repeated walks of a tree (grep -r, find) are served by the kernel.
GENERATED_TIMEOUT = 10.0
# ... and while metafs/watch.py sees every change to SOURCE (a local filesystem, all of it
# watched): then nothing changes unannounced, and a walk of a big tree (`grep -r` over every
# tag file, 80,000 files in 7 s) still finds the entries of its start in the kernel.
WATCHED_TIMEOUT = 120.0
WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def attr_from_stat(
    inode: int, st: os.stat_result, *, read_only: bool = False
) -> pyfuse3.EntryAttributes:
    a = pyfuse3.EntryAttributes()
    a.st_ino = inode
    a.generation = 0
    a.entry_timeout = TIMEOUT
    a.attr_timeout = TIMEOUT
    a.st_mode = st.st_mode & ~WRITE_BITS if read_only else st.st_mode
    a.st_nlink = st.st_nlink
    a.st_uid = st.st_uid
    a.st_gid = st.st_gid
    a.st_rdev = st.st_rdev
    a.st_size = st.st_size
    a.st_blksize = 4096
    a.st_blocks = st.st_blocks
    a.st_atime_ns = st.st_atime_ns
    a.st_mtime_ns = st.st_mtime_ns
    a.st_ctime_ns = st.st_ctime_ns
    return a


def synth_attr(
    inode: int,
    mode: int,
    size: int,
    like: os.stat_result | None,
    *,
    mtime_ns: int | None = None,
    timeout: float = GENERATED_TIMEOUT,
) -> pyfuse3.EntryAttributes:
    """Attributes of a generated entry (tag file, .meta folder, control file): owner and
    times of the photo (``like``), exact size."""
    a = pyfuse3.EntryAttributes()
    a.st_ino = inode
    a.generation = 0
    a.entry_timeout = timeout
    a.attr_timeout = timeout
    a.st_mode = mode
    a.st_nlink = 2 if stat.S_ISDIR(mode) else 1
    a.st_uid = like.st_uid if like else os.getuid()
    a.st_gid = like.st_gid if like else os.getgid()
    a.st_size = size
    a.st_blksize = 4096
    a.st_blocks = (size + 511) // 512
    t = mtime_ns if mtime_ns is not None else (like.st_mtime_ns if like else 0)
    a.st_atime_ns = like.st_atime_ns if like else t
    a.st_mtime_ns = t
    a.st_ctime_ns = max(t, like.st_ctime_ns if like else 0)
    return a


@dataclass(eq=False)
class SrcHandle:
    fd: int
    rel: str
    written: bool = False  # then the folder's listing may change (a file became a photo)


def scan(path: str) -> list[tuple[str, os.stat_result]]:
    """Entries of a folder with their lstat (blocking)."""
    out = []
    with os.scandir(path) as it:
        for entry in it:
            try:
                out.append((entry.name, entry.stat(follow_symlinks=False)))
            except FileNotFoundError:
                continue
    out.sort(key=lambda e: e[0])
    return out


def move_backups(old: str, new: str) -> list[str]:
    """Blocking: the backup ``old`` (a photo's original, or a folder of them) follows its photo
    or folder to ``new``.  Nothing is overwritten: where ``new`` exists, a folder is merged
    entry by entry and a file is left where it is.  Returns the backups left behind."""
    if not os.path.lexists(old):
        return []
    if not os.path.lexists(new):
        os.makedirs(os.path.dirname(new), exist_ok=True)
        os.rename(old, new)
        fsync_dir(os.path.dirname(new))
        if os.path.dirname(old) != os.path.dirname(new):
            fsync_dir(os.path.dirname(old))
        return []
    if not (_real_dir(old) and _real_dir(new)):
        return [old]
    left: list[str] = []
    for name in sorted(os.listdir(old)):
        left += move_backups(os.path.join(old, name), os.path.join(new, name))
    if not left:
        try:
            os.rmdir(old)
        except OSError:
            pass  # something arrived meanwhile: it stays
    return left


def _real_dir(path: str) -> bool:
    return stat.S_ISDIR(os.lstat(path).st_mode)


def set_attributes(
    path: str, fd: int | None, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields
) -> None:
    """Apply a setattr request to a real file (blocking)."""
    if fields.update_size:
        if fd is not None:
            os.ftruncate(fd, attr.st_size)
        else:
            os.truncate(path, attr.st_size)
    if fields.update_mode:
        if fd is not None:
            os.fchmod(fd, stat.S_IMODE(attr.st_mode))
        else:
            if not os.path.islink(path):  # Linux cannot chmod a symlink
                os.chmod(path, stat.S_IMODE(attr.st_mode))
    if fields.update_uid or fields.update_gid:
        uid = attr.st_uid if fields.update_uid else -1
        gid = attr.st_gid if fields.update_gid else -1
        if fd is not None:
            os.fchown(fd, uid, gid)
        else:
            os.lchown(path, uid, gid)
    if fields.update_atime or fields.update_mtime:
        st = os.lstat(path) if fd is None else os.fstat(fd)
        atime = attr.st_atime_ns if fields.update_atime else st.st_atime_ns
        mtime = attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns
        if fd is not None:
            os.utime(fd, ns=(atime, mtime))
        else:
            os.utime(path, ns=(atime, mtime), follow_symlinks=False)


def statfs(path: str) -> pyfuse3.StatvfsData:
    sv = os.statvfs(path)
    out = pyfuse3.StatvfsData()
    for name in (
        "f_bsize",
        "f_frsize",
        "f_blocks",
        "f_bfree",
        "f_bavail",
        "f_files",
        "f_ffree",
        "f_favail",
        "f_namemax",
    ):
        setattr(out, name, getattr(sv, name))
    return out
