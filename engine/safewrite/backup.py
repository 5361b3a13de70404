"""The first original of each photo, kept under ``.originals`` (engine.safewrite.names).

On each backup, the identity (device, inode, size, mtime) of the file metafs last wrote at
that path: a fast "still the same photo" check.  When the file there is another one (a
program such as ExifTool rewrote it, or a new photo was copied in under the same name),
the image data decide (engine.safewrite.identity): the same image data is the same photo,
edited elsewhere, whose first original is kept; other image data is another photo, and
the backup of the earlier one is moved aside (``NAME.replaced-<time>``).

Every system call goes through the write's SysOps (engine.safewrite.sysops).
"""

from __future__ import annotations

import os
import stat
import time

from engine.errors import NoBackupError, WriteError
from engine.safewrite import paths
from engine.safewrite.copying import copy_range
from engine.safewrite.names import BACKUP_DIR, TMP_SUFFIX, backup_path_for, random_tag
from engine.safewrite.sysops import REAL, SysOps

WRITTEN_XATTR = "user.metafs.written"
IMAGE_XATTR = "user.metafs.image"  # digest of the backup's image data, kept once computed
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _identity(st: os.stat_result) -> bytes:
    # inode numbers are reused at once on ext4, so size and mtime take part (a rename, which
    # the daemon does to follow the user, changes neither)
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()


def _open_at(ops: SysOps, dir_fd: int, name: str) -> int | None:
    try:
        return ops.open(name, paths.FILE_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None


def lstat_at(ops: SysOps, dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return ops.lstat_at(dir_fd, name)
    except FileNotFoundError:
        return None


def unlink_quietly(ops: SysOps, dir_fd: int, name: str) -> None:
    try:
        ops.unlink_at(dir_fd, name)
    except OSError:
        pass


def record_at(ops: SysOps, dir_fd: int, name: str, *files: os.stat_result) -> None:
    fd = _open_at(ops, dir_fd, name)
    if fd is None:
        return
    try:
        ops.setxattr(fd, WRITTEN_XATTR, b"|".join(_identity(st) for st in files))
    except OSError:
        pass  # no user xattrs here: the image data decide alone
    finally:
        os.close(fd)


def record_written(backup: str | None, *files: os.stat_result) -> None:
    """Record which files may stand at the path: during a rewrite both the old and the new one
    (a crash between the rename and the next record must not look like a replaced photo)."""
    if backup is None:
        return
    d, name = os.path.split(backup)
    try:
        dfd = os.open(d, _DIR)
    except OSError:
        return
    try:
        record_at(REAL, dfd, name, *files)
    finally:
        os.close(dfd)


def _digest(ops: SysOps, fd: int) -> bytes | None:
    import mmap

    from engine.safewrite.identity import image_digest

    try:
        if ops.fstat(fd).st_size == 0:
            return None
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
            return image_digest(data)
    except (OSError, ValueError):
        return None


def _backup_digest(ops: SysOps, fd: int) -> bytes | None:
    """The digest of the backup's image data: kept in an attribute once computed."""
    try:
        return ops.getxattr(fd, IMAGE_XATTR)
    except OSError:
        pass
    theirs = _digest(ops, fd)
    if theirs is not None:
        try:
            ops.setxattr(fd, IMAGE_XATTR, theirs)
        except OSError:
            pass  # computed again next time
    return theirs


def stale_at(ops: SysOps, dir_fd: int, name: str, photo_fd: int) -> bool:
    """True when the photo open at ``photo_fd`` is not the one backed up as ``name``."""
    fd = _open_at(ops, dir_fd, name)
    if fd is None:
        return False
    try:
        try:
            written: bytes | None = ops.getxattr(fd, WRITTEN_XATTR)
        except OSError:
            written = None
        if written is not None and _identity(ops.fstat(photo_fd)) in written.split(b"|"):
            return False  # the file metafs wrote: the fast, common case
        mine = _digest(ops, photo_fd)
        if mine is not None:
            theirs = _backup_digest(ops, fd)
            if theirs is not None:
                return mine != theirs
        return written is not None  # not an image we know: metafs's record decides
    finally:
        os.close(fd)


def backup_is_stale(backup: str, path: str) -> bool:
    """True when the file at ``path`` is not the photo ``backup`` is the original of."""
    d, name = os.path.split(backup)
    try:
        dfd = os.open(d, _DIR)
    except OSError:
        return False
    try:
        pfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        os.close(dfd)
        return False
    try:
        return stale_at(REAL, dfd, name, pfd)
    finally:
        os.close(pfd)
        os.close(dfd)


def _set_aside_at(ops: SysOps, dir_fd: int, name: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = f"{name}.replaced-{stamp}"
    n = 1
    while lstat_at(ops, dir_fd, aside) is not None:
        n += 1
        aside = f"{name}.replaced-{stamp}-{n}"
    ops.rename_at(dir_fd, name, aside)
    return aside


def _anchor(target: paths.Target, anchor: str, shown: str) -> int:
    """A descriptor of the folder that holds the backup root, confined like the photo."""
    if anchor == os.path.dirname(target.path):
        return os.dup(target.dir_fd)
    if target.root is not None and (anchor + os.sep).startswith(
            os.path.abspath(target.root) + os.sep):
        up = os.path.relpath(anchor, target.root)
        return paths.walk(target.root_fd, [] if up == "." else up.split(os.sep), shown)
    return target.ops.open(anchor, _DIR)


def backup_folder(target: paths.Target, backups: str | os.PathLike[str] | None,
                  create: bool) -> tuple[int, str]:
    """The descriptor of the folder the backup of ``target`` lives in, and the backup's
    path (to show).  Created with the mode and owner of the folders it mirrors; no symlink
    is followed inside the backup tree (nor, for a root-confined write, above it)."""
    photo_dir = os.path.dirname(target.path)
    broot = (os.path.join(photo_dir, BACKUP_DIR) if backups is None
             else os.path.abspath(backups))
    anchor, first = os.path.split(broot)
    rel = os.path.relpath(photo_dir, anchor)
    dirs = [] if rel == "." else rel.split(os.sep)
    outside = bool(dirs) and dirs[0] == ".."
    if outside:
        dirs = []  # kept by its name alone (see backup_path_for)
    shown = os.path.join(broot, *dirs, target.name)
    anchor_fd = _anchor(target, anchor, shown)
    try:
        # outside the tree the backup root is shared with other trees: left as it is
        like = None if outside else paths.folder_stats(anchor_fd, dirs, target.ops)
        return paths.open_folder(anchor_fd, [first, *dirs], shown, like, create,
                                 target.ops), shown
    finally:
        os.close(anchor_fd)


def _copy_durably(target: paths.Target, dir_fd: int, name: str) -> bool:
    """A copy of the file open at ``target.fd`` under ``name``, with its mode, owner and
    times, on disk before it takes the name.  False when a backup appeared meanwhile."""
    ops, st = target.ops, target.ops.fstat(target.fd)
    tmp = f"{name}.metafs-{random_tag()}{TMP_SUFFIX}"
    dst = ops.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                   0o600, dir_fd=dir_fd)
    try:
        copy_range(target.fd, dst, 0, st.st_size, 0, ops)
        if os.geteuid() == 0:
            ops.fchown(dst, st.st_uid, st.st_gid)
        ops.fchmod(dst, st.st_mode & 0o7777)
        ops.utime(dst, (st.st_atime_ns, st.st_mtime_ns))
        ops.fsync(dst)
        os.close(dst)
        dst = -1
        if lstat_at(ops, dir_fd, name) is not None:
            ops.unlink_at(dir_fd, tmp)
            return False
        ops.rename_at(dir_fd, tmp, name)
    except BaseException:
        if dst >= 0:
            os.close(dst)
        unlink_quietly(ops, dir_fd, tmp)
        raise
    return True


def _link_or_copy(target: paths.Target, dir_fd: int, name: str) -> bool:
    """Put the file open at ``target.fd`` (the one that was checked) under ``name``: a hard
    link where possible, else a durable copy.  False when a backup appeared meanwhile."""
    try:
        target.ops.link_fd(target.fd, dir_fd, name)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass  # another filesystem, no /proc, protected_hardlinks: a copy
    return _copy_durably(target, dir_fd, name)


class Original:
    """The backup of a photo being written: its folder's descriptor, its path (to show),
    and whether this write made it (then a write that fails before its rename drops it)."""

    __slots__ = ("shown", "created", "dir_fd", "name", "ops")

    def __init__(self, shown: str, created: bool, dir_fd: int, name: str,
                 ops: SysOps) -> None:
        self.shown, self.created, self.dir_fd, self.name, self.ops = (
            shown, created, dir_fd, name, ops)

    def record(self, *files: os.stat_result) -> None:
        """Which files may stand at the photo's name (see record_written)."""
        record_at(self.ops, self.dir_fd, self.name, *files)

    def drop(self) -> None:
        """Nothing changed: drop the backup made for this failed write, so it cannot be
        mistaken for (or later diverge from) the true original."""
        if self.created:
            unlink_quietly(self.ops, self.dir_fd, self.name)
            self.created = False

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1


def keep_original(target: paths.Target,
                  backups: str | os.PathLike[str] | None) -> Original:
    """Keep the first original of the photo (the file open at ``target.fd``).

    An existing backup is never overwritten; one that belongs to an earlier photo of the
    same name is renamed ``NAME.replaced-<time>``; a symlink (or anything but a file) in
    its place is refused."""
    ops, name = target.ops, target.name
    dir_fd, shown = backup_folder(target, backups, create=True)
    kept = Original(shown, False, dir_fd, name, ops)
    try:
        st = lstat_at(ops, dir_fd, name)
        if st is not None:
            if not stat.S_ISREG(st.st_mode):
                raise WriteError(f"the backup {shown} is a symbolic link or not a file; "
                                 "refusing to use it (remove it to write)", path=target.path)
            if not stale_at(ops, dir_fd, name, target.fd):
                return kept
            _set_aside_at(ops, dir_fd, name)
        kept.created = _link_or_copy(target, dir_fd, name)
        ops.fsync(dir_fd)
        return kept
    except BaseException:
        kept.drop()
        kept.close()
        raise


def make_backup(path: str, backups: str | os.PathLike[str] | None) -> tuple[str, bool]:
    """Keep the first original of ``path``; returns (backup path, created now)."""
    with paths.Target(path, None) as target:
        kept = keep_original(target, backups)
        kept.close()
        return kept.shown, kept.created


def open_backup(target: paths.Target,
                backups: str | os.PathLike[str] | None) -> tuple[Original, int]:
    """The backup to restore ``target`` from: (its folder, a descriptor of the file)."""
    try:
        dir_fd, shown = backup_folder(target, backups, create=False)
    except FileNotFoundError:
        shown = backup_path_for(target.path, backups)
        raise NoBackupError(f"no backup at {shown}; nothing to restore",
                            path=target.path) from None
    kept = Original(shown, False, dir_fd, target.name, target.ops)
    try:
        return kept, target.ops.open(target.name, paths.FILE_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        kept.close()
        raise NoBackupError(f"no backup at {shown}; nothing to restore",
                            path=target.path) from None
    except OSError as e:
        kept.close()
        raise WriteError(f"the backup {shown} is a symbolic link or cannot be read "
                         f"({e.strerror}); nothing restored", path=target.path) from e


def list_backups(path: str, backups: str | os.PathLike[str] | None = None,
                 root: str | None = None) -> list[tuple[str, os.stat_result]]:
    """The backups of ``path``: its original first, then the originals of earlier photos
    that had its name (``NAME.replaced-<time>``), oldest first."""
    from engine.safewrite.names import is_temp_name

    with paths.Target(path, root, missing_ok=True) as target:
        try:
            dir_fd, shown = backup_folder(target, backups, create=False)
        except FileNotFoundError:
            return []
        try:
            names = [n for n in os.listdir(dir_fd) if n == target.name
                     or (n.startswith(target.name + ".replaced-") and not is_temp_name(n))]
            out = []
            for n in sorted(names, key=lambda n: (n != target.name, n)):
                st = lstat_at(REAL, dir_fd, n)
                if st is not None and stat.S_ISREG(st.st_mode):
                    out.append((os.path.join(os.path.dirname(shown), n), st))
            return out
        finally:
            os.close(dir_fd)
