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
import time
from collections.abc import Callable, Sequence

from engine.errors import (
    EngineError,
    FileChangedError,
    NoBackupError,
    ValidationError,
    WriteError,
)

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
# that path.  If
# the file there is no longer that one (a new photo was copied in under the same name), the
# backup belongs to an earlier photo: it is moved aside and the new photo gets its own.
WRITTEN_XATTR = "user.metafs.written"


def _identity(st: os.stat_result) -> bytes:
    # inode numbers are reused at once on ext4, so size and mtime take part (a rename, which
    # the daemon does to follow the user, changes neither)
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()


def record_written(backup: str | None, *files: os.stat_result) -> None:
    """Record which files may stand at the path: during a rewrite both the old and the new one
    (a crash between the rename and the next record must not look like a replaced photo)."""
    if backup is None:
        return
    value = b"|".join(_identity(st) for st in files)
    try:
        os.setxattr(backup, WRITTEN_XATTR, value, follow_symlinks=False)
    except OSError:
        pass  # no user xattrs here: the check below is then skipped


def backup_is_stale(backup: str, path: str) -> bool:
    """True when the file at ``path`` is none of the ones metafs last wrote there."""
    try:
        written = os.getxattr(backup, WRITTEN_XATTR, follow_symlinks=False)
        return _identity(os.stat(path)) not in written.split(b"|")
    except OSError:
        return False  # never written by metafs, or no xattrs: the backup is this file's


def _set_aside(dest: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = f"{dest}.replaced-{stamp}"
    n = 1
    while os.path.lexists(aside):
        n += 1
        aside = f"{dest}.replaced-{stamp}-{n}"
    os.rename(dest, aside)
    return aside


def make_backup(path: str, backups: str | os.PathLike[str] | None) -> tuple[str, bool]:
    """Keep the first original: hard link where possible, else a durable copy.

    Returns (backup path, created now).  An existing backup is never overwritten; one that
    belongs to an earlier photo of the same name is renamed ``NAME.replaced-<time>``.
    """
    dest = backup_path_for(path, backups)
    if os.path.lexists(dest):
        if not backup_is_stale(dest, path):
            return dest, False
        _set_aside(dest)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    try:
        os.link(path, dest)
    except FileExistsError:
        return dest, False
    except OSError:
        tmp = f"{dest}.metafs-{_random_tag()}{TMP_SUFFIX}"
        import shutil

        try:
            shutil.copy2(path, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.rename(tmp, dest)
        except BaseException:
            _unlink_quietly(tmp)
            raise
    fsync_dir(os.path.dirname(dest))
    return dest, True


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


def _new_temp(tmp: str) -> int:
    """Create the temporary file, locked while it is being written: a write of the same
    photo by another process (the daemon and the CLI, say) sees it is not stale."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: always free
    except OSError:
        pass  # no locks here (some network filesystems): the name alone says whose it is
    return fd


def remove_stale_temps(path: str) -> None:
    """Remove the ``.NAME.metafs-*.tmp`` files an interrupted write of ``path`` left (the
    lock of a write still going on, in another process, keeps its file)."""
    d, name = os.path.split(os.path.abspath(path))
    prefix = f".{name}.metafs-"
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        if not (n.startswith(prefix) and n.endswith(TMP_SUFFIX)):
            continue
        stale = os.path.join(d, n)
        try:
            fd = os.open(stale, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone already, or not ours to open
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # being written right now
        except OSError:
            pass  # no locks here: as before, an interrupted write's file
        finally:
            os.close(fd)
        _unlink_quietly(stale)


def safe_rewrite(
    path: str,
    plan: Sequence[Piece],
    *,
    validate: Callable[[str], None],
    backup: bool = True,
    backups: str | os.PathLike[str] | None = None,
    planned_from: os.stat_result | None = None,
) -> str | None:
    """Replace ``path`` by the file ``plan`` describes; returns the backup path (or None).

    ``planned_from`` is the file's stat when the plan was made: if the file changed since
    (another program wrote it), the rewrite is abandoned rather than undo that change."""
    path = os.path.realpath(path)  # write through a symlink, never replace the link itself
    d, name = os.path.split(path)
    remove_stale_temps(path)
    backup_file: str | None = None
    created_backup = False
    tmp = os.path.join(d, f".{name}.metafs-{_random_tag()}{TMP_SUFFIX}")
    what = "making the backup"
    held: int | None = None
    try:
        st = os.stat(path)
        if planned_from is not None and (planned_from.st_mtime_ns, planned_from.st_ino) != (
            st.st_mtime_ns, st.st_ino
        ):
            raise FileChangedError("the file changed while the write was being prepared; retry",
                             path=path)
        if backup:
            backup_file, created_backup = make_backup(path, backups)
        _step("backup")
        what = "writing the temporary file"
        src = os.open(path, os.O_RDONLY)
        try:
            dst = _new_temp(tmp)
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
                written = _version(os.fstat(dst))
                flush = _Flush(dst)
                try:
                    what = "validating the new file"
                    validate(tmp)
                finally:
                    failed = flush.wait()
                what = "flushing the temporary file to disk"
                if failed is not None:
                    raise failed
            finally:
                os.close(dst)
        finally:
            os.close(src)
        _step("fsynced")
        what = "validating the new file"
        if _version(os.stat(tmp)) != written:
            raise ValidationError("the temporary file changed while it was being checked; "
                                  "nothing was written", path=path)
        _step("validated")
        what = "renaming the new file into place"
        if os.stat(path).st_mtime_ns != st.st_mtime_ns:
            raise FileChangedError("the file changed while it was being rewritten; retry",
                                   path=path)
        new_st = os.stat(tmp)
        record_written(backup_file, st, new_st)
        os.rename(tmp, path)
        os.close(held)
        held = None
        record_written(backup_file, new_st)
        what = "syncing the directory after the rename"
        _step("renamed")
        fsync_dir(d)
        _step("dir-fsynced")
        return backup_file
    except BaseException as e:
        renamed = not os.path.lexists(tmp) and what.startswith("syncing")
        if os.path.lexists(tmp):
            _unlink_quietly(tmp)
        if held is not None:
            os.close(held)
        if created_backup and backup_file and _same_file(backup_file, path):
            # Nothing changed: drop the backup made for this failed write, so it cannot be
            # mistaken for (or later diverge from) the true original.
            _unlink_quietly(backup_file)
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


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def restore_file(path: str, backups: str | os.PathLike[str] | None = None) -> str:
    """Copy the backup back over ``path`` atomically; the backup stays in place."""
    path = os.path.realpath(path) if os.path.exists(path) else os.path.abspath(path)
    src = backup_path_for(path, backups)
    if not os.path.exists(src):
        raise NoBackupError(f"no backup at {src}; nothing to restore", path=path)
    if os.path.exists(path) and backup_is_stale(src, path):
        raise NoBackupError(f"the file was replaced since metafs wrote it, so the backup at "
                            f"{src} belongs to an earlier file; nothing restored (copy it "
                            "back by hand if that is what you want)", path=path)
    size = os.path.getsize(src)
    if os.path.exists(path) and _same_file(src, path):
        return src  # never written since the backup was made
    d, name = os.path.split(path)
    tmp = os.path.join(d, f".{name}.metafs-{_random_tag()}{TMP_SUFFIX}")
    held: int | None = None
    try:
        fs = os.open(src, os.O_RDONLY)
        try:
            dst = _new_temp(tmp)
            held = os.dup(dst)  # the lock, until the rename
            try:
                _copy_range(fs, dst, 0, size, 0)
                st = os.fstat(fs)
                os.fchmod(dst, st.st_mode & 0o7777)
                os.fsync(dst)
            finally:
                os.close(dst)
        finally:
            os.close(fs)
        restored = os.stat(tmp)
        if os.path.exists(path):
            record_written(src, os.stat(path), restored)
        os.rename(tmp, path)
        os.close(held)
        held = None
        record_written(src, restored)  # the restored file is ours: its backup still applies
        fsync_dir(d)
    except OSError as e:
        _unlink_quietly(tmp)
        if held is not None:
            os.close(held)
        reason = _describe_oserror(e, "restoring")
        raise WriteError(f"{reason}; nothing was changed", path=path) from e
    return src
