"""Attributes for the kernel and the blocking helpers of the SOURCE passthrough."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Any

import pyfuse3
import trio

TIMEOUT = 1.0  # seconds the kernel may cache entries and attributes of SOURCE paths
# ... and of generated entries (.meta folders, tag files): every change the daemon makes or
# sees is pushed to the kernel (invalidations), so only a photo changed by another program
# and not yet looked at again can show its old tag list or sizes, for at most this long.
# Long enough that repeated walks of a tree (grep -r, find) are served by the kernel.
GENERATED_TIMEOUT = 10.0
# ... and while metafs/watch.py sees every change to SOURCE (a local filesystem, all of it
# watched): then nothing changes unannounced (every change the daemon makes or sees is
# pushed to the kernel; lost events drop everything), so the kernel may keep entries as long
# as it likes.  An hour: the first walk of a library of 100,000 photos takes 10 minutes, and
# with 120 s the second walk found none of the entries of its start (LOOKUP again, 15x
# ExifTool instead of 150x).
WATCHED_TIMEOUT = 3600.0
WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def attr_from_stat(
    inode: int, st: os.stat_result, *, read_only: bool = False, timeout: float = TIMEOUT
) -> pyfuse3.EntryAttributes:
    a = pyfuse3.EntryAttributes()
    a.st_ino = inode
    a.generation = 0
    a.entry_timeout = timeout
    a.attr_timeout = timeout
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


async def pread(h: SrcHandle, off: int, size: int) -> bytes:
    return await trio.to_thread.run_sync(os.pread, h.fd, size, off)


async def pwrite(h: SrcHandle, off: int, buf: bytes) -> int:
    h.written = True
    return await trio.to_thread.run_sync(os.pwrite, h.fd, buf, off)


async def fsync(h: SrcHandle, datasync: bool) -> None:
    await trio.to_thread.run_sync(os.fdatasync if datasync else os.fsync, h.fd)


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


def move_backups(old: str, new: str, root: str | None = None) -> list[str]:
    """Blocking: the backup ``old`` (a photo's original, or a folder of them) follows its photo
    or folder to ``new``.  Nothing is overwritten: where ``new`` exists, a folder is merged
    entry by entry and a file is left where it is.  Returns the backups left behind.

    Backup folders belong to the owners of the folders they mirror, who could swap one for a
    symlink: every folder below ``root`` (the ``.originals`` tree) is opened without following
    one, and the moves are made relative to those descriptors (a WriteError else)."""
    root = root or os.path.commonpath([old, new])
    o = os.path.relpath(old, root).split(os.sep)
    n = os.path.relpath(new, root).split(os.sep)
    if ".." in o or ".." in n:
        raise OSError(errno.EXDEV, f"{old} -> {new}: not inside {root}")
    rfd = os.open(root, _DIR_NOFOLLOW)
    try:
        return _move(rfd, o, n, root)
    finally:
        os.close(rfd)


_DIR_NOFOLLOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _lstat_at(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _move(rfd: int, o: list[str], n: list[str], root: str) -> list[str]:
    from engine import open_folder

    shown = os.path.join(root, *o)
    try:
        ofd = open_folder(rfd, o[:-1], shown, create=False)
    except FileNotFoundError:
        return []
    try:
        ost = _lstat_at(ofd, o[-1])
        if ost is None:
            return []
        nfd = open_folder(rfd, n[:-1], shown)  # made private: a write gives it its mode
        try:
            nst = _lstat_at(nfd, n[-1])
            if nst is None:
                os.rename(o[-1], n[-1], src_dir_fd=ofd, dst_dir_fd=nfd)
                os.fsync(nfd)
                if o[:-1] != n[:-1]:
                    os.fsync(ofd)
                return []
            if not (stat.S_ISDIR(ost.st_mode) and stat.S_ISDIR(nst.st_mode)):
                return [os.path.join(root, *o)]
            inner = os.open(o[-1], _DIR_NOFOLLOW, dir_fd=ofd)
            try:
                names = sorted(os.listdir(inner))
            finally:
                os.close(inner)
        finally:
            os.close(nfd)
        left: list[str] = []
        for name in names:
            left += _move(rfd, [*o, name], [*n, name], root)
        if not left:
            try:
                os.rmdir(o[-1], dir_fd=ofd)
            except OSError:
                pass  # something arrived meanwhile: it stays
        return left
    finally:
        os.close(ofd)


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


def caller_groups(ctx: Any) -> frozenset[int]:
    """The groups of the process behind a request (its gid and supplementary groups)."""
    groups = {ctx.gid}
    try:
        with open(f"/proc/{ctx.pid}/status") as f:
            for line in f:
                if line.startswith("Groups:"):
                    groups.update(int(g) for g in line.split()[1:])
                    break
    except (OSError, ValueError):
        pass  # gone already: its gid only
    return frozenset(groups)


def may_read(source: str, rel: str, uid: int, groups: frozenset[int]) -> bool:
    """Whether ``uid`` could read SOURCE/``rel`` on the disk itself: search permission on
    every folder from SOURCE down, read permission on the file (permission bits; an ACL
    that grants more is not consulted, so this errs on the side of showing less)."""
    if uid == 0:
        return True
    path = source
    parts = [p for p in rel.split("/") if p]
    if not parts or ".." in parts:
        return False
    try:
        for part in parts:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or not _allowed(st, uid, groups, 0o1):
                return False  # a symlinked folder: its target's bits are not checked here
            path = os.path.join(path, part)
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and _allowed(st, uid, groups, 0o4)


def _allowed(st: os.stat_result, uid: int, groups: frozenset[int], bit: int) -> bool:
    if st.st_uid == uid:
        return bool(st.st_mode & (bit << 6))
    if st.st_gid in groups:
        return bool(st.st_mode & (bit << 3))
    return bool(st.st_mode & bit)


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
