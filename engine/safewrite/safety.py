"""The one module that writes files: backup, temp file, validate, fsync, rename, dir fsync.

A rewrite is described as a *plan*: a list of pieces, each either literal ``bytes`` or a
``(offset, length)`` range copied from the original file.  Unchanged image data is therefore
copied by the kernel (``os.copy_file_range``) and never held in memory.

Crash safety: the original is only ever replaced by ``rename`` of a complete, fsynced and
re-parsed temporary file in the same directory, so a crash at any instant leaves the old file
or the new one.  The re-parse reads the temporary file while a thread flushes it to disk (the
same bytes, from the page cache); the rename waits for both, and for the file to be, by its
size and times, still the one that was re-parsed.  Temporary files are hidden
(``.NAME.metafs-XXXXXXXX.tmp``) and removed by the next write of the same file.
"""

from __future__ import annotations

import _thread
import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable, Sequence

from engine.errors import (
    EngineError,
    FileChangedError,
    NoBackupError,
    ValidationError,
    WriteError,
)
from engine.safewrite import paths

Piece = bytes | tuple[int, int]
BACKUP_DIR = ".originals"
TMP_SUFFIX = ".tmp"
_CHUNK = 1 << 20

# Test hook: called with a step name at each stage, so fault-injection tests can stop the
# pipeline anywhere.  Production code never sets it.
fault_hook: Callable[[str], None] | None = None


def _random_tag() -> str:
    """8 random hex digits for a temporary name (os.urandom: ``secrets`` costs an import
    of hashlib/hmac for the same bytes)."""
    return os.urandom(4).hex()


def _step(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and ".metafs-" in name and name.endswith(TMP_SUFFIX)


def backup_path_for(path: str, backups: str | os.PathLike[str] | None = None) -> str:
    """Where the original of ``path`` is (or will be) kept.

    ``backups`` is the root of an ``.originals`` tree; the tree mirrors the paths below the
    folder that holds it.  Default: ``.originals`` beside the file.
    """
    path = os.path.abspath(path)
    if backups is None:
        return os.path.join(os.path.dirname(path), BACKUP_DIR, os.path.basename(path))
    root = os.path.abspath(backups)
    rel = os.path.relpath(path, os.path.dirname(root))
    if rel.startswith(".." + os.sep) or rel == "..":
        rel = os.path.basename(path)
    return os.path.join(root, rel)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe_oserror(e: OSError, what: str) -> str:
    if e.errno == errno.ENOSPC:
        return f"no space left on the device while {what}; free some space and retry"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied while {what} ({e.strerror})"
    return f"{e.strerror or e} while {what}"


# On each backup, the identity (device, inode, size, mtime) of the file metafs last wrote at
# that path: a fast "still the same photo" check.  When the file there is another one (a
# program such as ExifTool rewrote it, or a new photo was copied in under the same name),
# the image data decide (engine.safewrite.identity): the same image data is the same photo,
# edited elsewhere, whose first original is kept; other image data is another photo, and
# the backup of the earlier one is moved aside (``NAME.replaced-<time>``).
WRITTEN_XATTR = "user.metafs.written"
IMAGE_XATTR = "user.metafs.image"  # digest of the backup's image data, kept once computed


def _identity(st: os.stat_result) -> bytes:
    # inode numbers are reused at once on ext4, so size and mtime take part (a rename, which
    # the daemon does to follow the user, changes neither)
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()


def _open_at(dir_fd: int, name: str) -> int | None:
    try:
        return os.open(name, paths.FILE_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None


def _record_at(dir_fd: int, name: str, *files: os.stat_result) -> None:
    fd = _open_at(dir_fd, name)
    if fd is None:
        return
    try:
        os.setxattr(fd, WRITTEN_XATTR, b"|".join(_identity(st) for st in files))
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
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _record_at(dfd, name, *files)
    finally:
        os.close(dfd)


def _digest(fd: int) -> bytes | None:
    import mmap

    from engine.safewrite.identity import image_digest

    try:
        if os.fstat(fd).st_size == 0:
            return None
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
            return image_digest(data)
    except (OSError, ValueError):
        return None


def _stale_at(dir_fd: int, name: str, photo_fd: int) -> bool:
    """True when the photo open at ``photo_fd`` is not the one backed up as ``name``."""
    fd = _open_at(dir_fd, name)
    if fd is None:
        return False
    try:
        try:
            written: bytes | None = os.getxattr(fd, WRITTEN_XATTR)
        except OSError:
            written = None
        if written is not None and _identity(os.fstat(photo_fd)) in written.split(b"|"):
            return False  # the file metafs wrote: the fast, common case
        mine = _digest(photo_fd)
        if mine is not None:
            try:
                theirs: bytes | None = os.getxattr(fd, IMAGE_XATTR)
            except OSError:
                theirs = _digest(fd)
                if theirs is not None:
                    try:
                        os.setxattr(fd, IMAGE_XATTR, theirs)
                    except OSError:
                        pass  # computed again next time
            if theirs is not None:
                return mine != theirs
        return written is not None  # not an image we know: metafs's record decides
    finally:
        os.close(fd)


def backup_is_stale(backup: str, path: str) -> bool:
    """True when the file at ``path`` is not the photo ``backup`` is the original of."""
    d, name = os.path.split(backup)
    try:
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        pfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        os.close(dfd)
        return False
    try:
        return _stale_at(dfd, name, pfd)
    finally:
        os.close(pfd)
        os.close(dfd)


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _set_aside_at(dir_fd: int, name: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = f"{name}.replaced-{stamp}"
    n = 1
    while _lstat_at(dir_fd, aside) is not None:
        n += 1
        aside = f"{name}.replaced-{stamp}-{n}"
    os.rename(name, aside, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    return aside


def _backup_folder(target: paths.Target, backups: str | os.PathLike[str] | None,
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
    if anchor == photo_dir:
        anchor_fd = os.dup(target.dir_fd)
    elif target.root is not None and (anchor + os.sep).startswith(
            os.path.abspath(target.root) + os.sep):
        up = os.path.relpath(anchor, target.root)
        anchor_fd = paths.walk(target.root_fd, [] if up == "." else up.split(os.sep), shown)
    else:
        anchor_fd = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # outside the tree the backup root is shared with other trees: left as it is
        like = None if outside else paths.folder_stats(anchor_fd, dirs)
        return paths.open_folder(anchor_fd, [first, *dirs], shown, like, create), shown
    finally:
        os.close(anchor_fd)


def _link_or_copy(target: paths.Target, dir_fd: int, name: str) -> bool:
    """Put the file open at ``target.fd`` (the one that was checked) under ``name``: a hard
    link where possible, else a durable copy with its mode, owner and times.  False when a
    backup appeared meanwhile."""
    st = os.fstat(target.fd)
    try:
        os.link(f"/proc/self/fd/{target.fd}", name, dst_dir_fd=dir_fd)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass  # another filesystem, no /proc, protected_hardlinks: a copy
    tmp = f"{name}.metafs-{_random_tag()}{TMP_SUFFIX}"
    dst = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                  0o600, dir_fd=dir_fd)
    try:
        _copy_range(target.fd, dst, 0, st.st_size, 0)
        if os.geteuid() == 0:
            os.fchown(dst, st.st_uid, st.st_gid)
        os.fchmod(dst, st.st_mode & 0o7777)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.fsync(dst)
        os.close(dst)
        dst = -1
        if _lstat_at(dir_fd, name) is not None:
            os.unlink(tmp, dir_fd=dir_fd)
            return False
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        if dst >= 0:
            os.close(dst)
        _unlink_at(dir_fd, tmp)
        raise
    return True


def _unlink_at(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def _make_backup(target: paths.Target,
                 backups: str | os.PathLike[str] | None) -> tuple[str, bool, int]:
    """Keep the first original: (backup path, created now, descriptor of its folder).

    An existing backup is never overwritten; one that belongs to an earlier photo of the
    same name is renamed ``NAME.replaced-<time>``; a symlink (or anything but a file) in
    its place is refused."""
    dir_fd, shown = _backup_folder(target, backups, create=True)
    try:
        st = _lstat_at(dir_fd, target.name)
        if st is not None:
            if not stat.S_ISREG(st.st_mode):
                raise WriteError(f"the backup {shown} is a symbolic link or not a file; "
                                 "refusing to use it (remove it to write)", path=target.path)
            if not _stale_at(dir_fd, target.name, target.fd):
                return shown, False, dir_fd
            _set_aside_at(dir_fd, target.name)
        created = _link_or_copy(target, dir_fd, target.name)
        os.fsync(dir_fd)
        return shown, created, dir_fd
    except BaseException:
        os.close(dir_fd)
        raise


def make_backup(path: str, backups: str | os.PathLike[str] | None) -> tuple[str, bool]:
    """Keep the first original of ``path``; returns (backup path, created now)."""
    with paths.Target(path, None) as target:
        shown, created, dir_fd = _make_backup(target, backups)
        os.close(dir_fd)
        return shown, created


# How image data is copied (figures: 4.8 MB JPEG on ext4, Linux 6.18, tests/bench notes in
# README).  The kernel copies a range (copy_file_range falls back to splicing) 64 KiB at a time
# and caches files in large folios: chunks that start on a 64 KiB boundary of the source fill
# whole folios of the new file, 1.2 ms; starting at the end of a JPEG's metadata, at an odd
# offset, every chunk straddles two, 1.8 ms (and the fsync after it is 0.3 ms slower).  When
# the metadata changed size the new file's pages no longer line up with the source's, and
# splicing costs 3.0 ms; reading into a buffer and writing it costs 1.5 ms.
_SPLICE_ALIGN = 1 << 16
_PAGE = 4096


def _copy_range(src: int, dst: int, offset: int, length: int, at: int) -> None:
    """Copy ``length`` bytes at ``offset`` of ``src`` to ``dst``, whose position is ``at``."""
    if (at - offset) % _PAGE:
        _copy_buffered(src, dst, offset, length)
        return
    head = min(length, -offset % _SPLICE_ALIGN)
    rest = _copy_spliced(src, dst, offset, head)
    if rest == 0:
        rest = _copy_spliced(src, dst, offset + head, length - head)
    if rest:  # not supported here (another filesystem, ...): plain reads
        _copy_buffered(src, dst, offset + length - rest, rest)


def _copy_spliced(src: int, dst: int, offset: int, length: int) -> int:
    """copy_file_range as far as it goes; returns how much it left to copy."""
    while length > 0:
        try:
            n = os.copy_file_range(src, dst, min(length, 1 << 30), offset)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            n = 0
        if n == 0:
            break
        offset += n
        length -= n
    return length


def _copy_buffered(src: int, dst: int, offset: int, length: int) -> None:
    buf = memoryview(bytearray(min(length, _CHUNK)))
    while length > 0:
        n = os.preadv(src, [buf[: min(length, _CHUNK)]], offset)
        if n == 0:
            raise OSError(errno.EIO, "source file shrank during the write")
        _write_all(dst, buf[:n])
        offset += n
        length -= n


class _Flush:
    """``os.fsync(fd)`` in a thread: the disk works while the caller re-parses the file.
    (``_thread``: the ``threading`` module costs an import for no more than this.)"""

    def __init__(self, fd: int) -> None:
        self._error: OSError | None = None
        self._done = _thread.allocate_lock()
        self._done.acquire()
        started = _thread.allocate_lock()
        started.acquire()
        try:
            _thread.start_new_thread(self._run, (fd, started))
        except RuntimeError:  # no thread to be had: flush now
            self._run(fd, started)
        # Wait for the thread to be running: else it waits for the GIL, which the caller's
        # re-parse holds, and flushes only after it.
        started.acquire()

    def _run(self, fd: int, started: _thread.LockType) -> None:
        try:
            started.release()
            os.fsync(fd)
        except OSError as e:
            self._error = e
        finally:
            self._done.release()

    def wait(self) -> OSError | None:
        """Return when the flush is over, with its error if it failed."""
        with self._done:
            return self._error


def _version(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _new_temp(name: str, dir_fd: int) -> int:
    """Create the temporary file, locked while it is being written: a write of the same
    photo by another process (the daemon and the CLI, say) sees it is not stale."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=dir_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: always free
    except OSError:
        pass  # no locks here (some network filesystems): the name alone says whose it is
    return fd


def _remove_stale_at(dir_fd: int, name: str) -> None:
    prefix = f".{name}.metafs-"
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    for n in names:
        if not (n.startswith(prefix) and n.endswith(TMP_SUFFIX)):
            continue
        fd = _open_at(dir_fd, n)
        if fd is None:
            continue  # gone already, not ours to open, or a symlink
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # being written right now
        except OSError:
            pass  # no locks here: as before, an interrupted write's file
        finally:
            os.close(fd)
        _unlink_at(dir_fd, n)


def remove_stale_temps(path: str) -> None:
    """Remove the ``.NAME.metafs-*.tmp`` files an interrupted write of ``path`` left (the
    lock of a write still going on, in another process, keeps its file)."""
    d, name = os.path.split(os.path.abspath(path))
    try:
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _remove_stale_at(dfd, name)
    finally:
        os.close(dfd)


def _fd_path(fd: int, fallback: str) -> str:
    """A path that opens exactly the file open at ``fd`` (for the validation's reader)."""
    return f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else fallback


def safe_rewrite(
    path: str,
    plan: Sequence[Piece],
    *,
    validate: Callable[[str], None],
    backup: bool = True,
    backups: str | os.PathLike[str] | None = None,
    planned_from: os.stat_result | None = None,
    root: str | None = None,
    target: paths.Target | None = None,
    keep_mtime: bool = False,
) -> str | None:
    """Replace ``path`` by the file ``plan`` describes; returns the backup path (or None).

    ``keep_mtime`` (``exiftool -P``): the new file carries the old one's modification time
    (its access time is the one the kernel gave the new file).

    ``planned_from`` is the file's stat when the plan was made: if the file changed since
    (another program wrote it), the rewrite is abandoned rather than undo that change.
    ``target`` is the photo opened (and locked) by the caller, from which the plan was made;
    without it the file is opened here, confined to ``root`` when given (no symlink
    followed from ``root`` down; without ``root``, a symlink the caller named is written
    through, never replaced)."""
    if target is not None:
        return _rewrite(target, plan, validate, backup, backups, planned_from, keep_mtime)
    with paths.Target(path, root) as target:
        target.lock()
        return _rewrite(target, plan, validate, backup, backups, planned_from, keep_mtime)


def _keep_mtime(fd: int, st: os.stat_result) -> None:
    """Give the file at ``fd`` the modification time in ``st``; its access time stays."""
    os.utime(fd, ns=(os.fstat(fd).st_atime_ns, st.st_mtime_ns))


def _rewrite(target: paths.Target, plan: Sequence[Piece], validate: Callable[[str], None],
             backup: bool, backups: str | os.PathLike[str] | None,
             planned_from: os.stat_result | None, keep_mtime: bool = False) -> str | None:
    path, d_fd, name = target.path, target.dir_fd, target.name
    _remove_stale_at(d_fd, name)
    backup_file: str | None = None
    bdir: int | None = None
    created_backup = renamed = False
    tmp = f".{name}.metafs-{_random_tag()}{TMP_SUFFIX}"
    what = "making the backup"
    held: int | None = None
    try:
        st = os.fstat(target.fd)
        if not target.still_there() or (planned_from is not None and (
                planned_from.st_mtime_ns, planned_from.st_ino) != (st.st_mtime_ns, st.st_ino)):
            raise FileChangedError("the file changed while the write was being prepared; retry",
                                   path=path)
        if backup:
            backup_file, created_backup, bdir = _make_backup(target, backups)
        _step("backup")
        what = "writing the temporary file"
        src = target.fd
        dst = _new_temp(tmp, d_fd)
        held = os.dup(dst)  # keeps the lock (and the file ours) until the rename
        try:
            at = 0
            for piece in plan:
                if isinstance(piece, tuple):
                    _copy_range(src, dst, piece[0], piece[1], at)
                    at += piece[1]
                else:
                    _write_all(dst, piece)
                    at += len(piece)
            _step("written")
            what = "keeping the file's mode and owner"
            os.fchmod(dst, st.st_mode & 0o7777)
            try:
                os.fchown(dst, st.st_uid, st.st_gid)
            except PermissionError:
                pass
            if keep_mtime:
                what = "keeping the file's modification time"
                _keep_mtime(dst, st)
            written = _version(os.fstat(dst))
            flush = _Flush(dst)
            try:
                what = "validating the new file"
                validate(_fd_path(held, os.path.join(os.path.dirname(path), tmp)))
            finally:
                failed = flush.wait()
            what = "flushing the temporary file to disk"
            if failed is not None:
                raise failed
        finally:
            os.close(dst)
        _step("fsynced")
        what = "validating the new file"
        now = _lstat_at(d_fd, tmp)
        if _version(os.fstat(held)) != written or now is None or (
                now.st_dev, now.st_ino) != (os.fstat(held).st_dev, written[0]):
            raise ValidationError("the temporary file changed while it was being checked; "
                                  "nothing was written", path=path)
        _step("validated")
        what = "renaming the new file into place"
        # The name must still be the file that was read (and locked): not replaced by
        # another file or a symlink, not written in place meanwhile.
        if not target.still_there() or os.fstat(target.fd).st_mtime_ns != st.st_mtime_ns:
            raise FileChangedError("the file changed while it was being rewritten; retry",
                                   path=path)
        new_st = os.fstat(held)
        if bdir is not None:
            _record_at(bdir, name, st, new_st)
        os.rename(tmp, name, src_dir_fd=d_fd, dst_dir_fd=d_fd)
        renamed = True
        os.close(held)
        held = None
        if bdir is not None:
            _record_at(bdir, name, new_st)
        what = "syncing the directory after the rename"
        _step("renamed")
        os.fsync(d_fd)
        _step("dir-fsynced")
        return backup_file
    except BaseException as e:
        if not renamed:
            _unlink_at(d_fd, tmp)
        if held is not None:
            os.close(held)
        if created_backup and not renamed and bdir is not None:
            # Nothing changed: drop the backup made for this failed write, so it cannot be
            # mistaken for (or later diverge from) the true original.
            _unlink_at(bdir, name)
        if isinstance(e, EngineError):
            raise
        if isinstance(e, OSError):
            outcome = (
                "the new file is in place but may not survive a power loss"
                if renamed
                else "the original file is untouched"
            )
            raise WriteError(f"{_describe_oserror(e, what)}; {outcome}", path=path) from e
        raise
    finally:
        if bdir is not None:
            os.close(bdir)


def _backup_of(target: paths.Target, backups: str | os.PathLike[str] | None) -> tuple[int, str]:
    try:
        return _backup_folder(target, backups, create=False)
    except FileNotFoundError:
        shown = backup_path_for(target.path, backups)
        raise NoBackupError(f"no backup at {shown}; nothing to restore",
                            path=target.path) from None


def restore_file(path: str, backups: str | os.PathLike[str] | None = None,
                 root: str | None = None, keep_mtime: bool = False) -> str:
    """Copy the backup back over ``path`` atomically; the backup stays in place.  Returns
    the backup's path.  Confined to ``root`` like safe_rewrite; the photo's lock is held.
    ``keep_mtime``: the restored file keeps the modification time of the file it replaces
    (when there is one)."""
    with paths.Target(path, root, missing_ok=True) as target:
        target.lock()
        dir_fd, shown = _backup_of(target, backups)
        try:
            return _restore(target, dir_fd, shown, keep_mtime)
        finally:
            os.close(dir_fd)


def _restore(target: paths.Target, bdir: int, src: str, keep_mtime: bool = False) -> str:
    path, name = target.path, target.name
    try:
        fs = os.open(name, paths.FILE_NOFOLLOW, dir_fd=bdir)
    except FileNotFoundError:
        raise NoBackupError(f"no backup at {src}; nothing to restore", path=path) from None
    except OSError as e:
        raise WriteError(f"the backup {src} is a symbolic link or cannot be read "
                         f"({e.strerror}); nothing restored", path=path) from e
    tmp = f".{name}.metafs-{_random_tag()}{TMP_SUFFIX}"
    held: int | None = None
    try:
        bst = os.fstat(fs)
        if not stat.S_ISREG(bst.st_mode):
            raise WriteError(f"the backup {src} is not a file; nothing restored", path=path)
        if target.fd >= 0:
            if _stale_at(bdir, name, target.fd):
                raise NoBackupError(
                    f"the file was replaced since metafs wrote it, so the backup at {src} "
                    "belongs to an earlier file; nothing restored (copy it back by hand if "
                    "that is what you want)", path=path)
            if (bst.st_dev, bst.st_ino) == (target.st.st_dev, target.st.st_ino):
                return src  # never written since the backup was made
        dst = _new_temp(tmp, target.dir_fd)
        held = os.dup(dst)  # the lock, until the rename
        try:
            _copy_range(fs, dst, 0, bst.st_size, 0)
            if os.geteuid() == 0:
                os.fchown(dst, bst.st_uid, bst.st_gid)
            os.fchmod(dst, bst.st_mode & 0o7777)
            if keep_mtime and target.fd >= 0:
                _keep_mtime(dst, os.fstat(target.fd))
            os.fsync(dst)
        finally:
            os.close(dst)
        restored = os.fstat(held)
        if target.fd >= 0:
            if not target.still_there():
                raise FileChangedError("the file changed while it was being restored; retry",
                                       path=path)
            _record_at(bdir, name, os.fstat(target.fd), restored)
        elif _lstat_at(target.dir_fd, name) is not None:
            raise FileChangedError("a file appeared while the backup was being restored; "
                                   "retry", path=path)
        os.rename(tmp, name, src_dir_fd=target.dir_fd, dst_dir_fd=target.dir_fd)
        os.close(held)
        held = None
        _record_at(bdir, name, restored)  # the restored file is ours: its backup still applies
        os.fsync(target.dir_fd)
    except OSError as e:
        _unlink_at(target.dir_fd, tmp)
        reason = _describe_oserror(e, "restoring")
        raise WriteError(f"{reason}; nothing was changed", path=path) from e
    except BaseException:
        _unlink_at(target.dir_fd, tmp)
        raise
    finally:
        if held is not None:
            os.close(held)
        os.close(fs)
    return src


def list_backups(path: str, backups: str | os.PathLike[str] | None = None,
                 root: str | None = None) -> list[tuple[str, os.stat_result]]:
    """The backups of ``path``: its original first, then the originals of earlier photos
    that had its name (``NAME.replaced-<time>``), oldest first."""
    with paths.Target(path, root, missing_ok=True) as target:
        try:
            dir_fd, shown = _backup_folder(target, backups, create=False)
        except FileNotFoundError:
            return []
        try:
            names = [n for n in os.listdir(dir_fd) if n == target.name
                     or (n.startswith(target.name + ".replaced-") and not is_temp_name(n))]
            out = []
            for n in sorted(names, key=lambda n: (n != target.name, n)):
                st = _lstat_at(dir_fd, n)
                if st is not None and stat.S_ISREG(st.st_mode):
                    out.append((os.path.join(os.path.dirname(shown), n), st))
            return out
        finally:
            os.close(dir_fd)
