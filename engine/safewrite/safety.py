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

The pieces: engine.safewrite.names (names of backups and temporary files), .paths (opening
without following symlinks), .backup (the first original), .newfile (the temporary file that
becomes the photo, shared by rewrite and restore), .copying (plans to bytes), .sysops (the
system calls, passed down so that a test can fail any of them).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence

from engine.errors import EngineError, FileChangedError, NoBackupError, WriteError
from engine.safewrite import paths
from engine.safewrite.backup import (
    Original,
    backup_is_stale,
    keep_original,
    list_backups,
    make_backup,
    open_backup,
    record_written,
    stale_at,
)
from engine.safewrite.copying import Piece
from engine.safewrite.names import BACKUP_DIR, backup_path_for, is_temp_name
from engine.safewrite.newfile import RENAME, NewFile, remove_stale_at
from engine.safewrite.sysops import REAL, Stage, SysOps

__all__ = [  # what the rest of the engine (and engine/__init__.py) uses
    "BACKUP_DIR", "Piece", "backup_is_stale", "backup_path_for", "fsync_dir", "is_temp_name",
    "list_backups", "make_backup", "record_written", "remove_stale_temps", "restore_file",
    "safe_rewrite",
]


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_oserror(e: OSError, what: str) -> str:
    if e.errno == errno.ENOSPC:
        return f"no space left on the device while {what}; free some space and retry"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied while {what} ({e.strerror})"
    return f"{e.strerror or e} while {what}"


def remove_stale_temps(path: str) -> None:
    """Remove the ``.NAME.metafs-*.tmp`` files an interrupted write of ``path`` left (the
    lock of a write still going on, in another process, keeps its file)."""
    d, name = os.path.split(os.path.abspath(path))
    try:
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        remove_stale_at(REAL, dfd, name)
    finally:
        os.close(dfd)


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
    ops: SysOps | None = None,
) -> str | None:
    """Replace ``path`` by the file ``plan`` describes; returns the backup path (or None).

    ``keep_mtime`` (``exiftool -P``): the new file carries the old one's modification time
    (its access time is the one the kernel gave the new file).

    ``planned_from`` is the file's stat when the plan was made: if the file changed since
    (another program wrote it), the rewrite is abandoned rather than undo that change.
    ``target`` is the photo opened (and locked) by the caller, from which the plan was made
    (its ``ops`` are the write's system calls); without it the file is opened here, with
    ``ops``, confined to ``root`` when given (no symlink followed from ``root`` down; without
    ``root``, a symlink the caller named is written through, never replaced)."""
    if target is not None:
        return _rewrite(target, plan, validate, backup, backups, planned_from, keep_mtime)
    with paths.Target(path, root, ops=ops) as target:
        target.lock()
        return _rewrite(target, plan, validate, backup, backups, planned_from, keep_mtime)


def _rewrite_error(e: OSError, new: NewFile) -> EngineError:
    outcome = ("the new file is in place but may not survive a power loss"
               if new.state >= Stage.RENAMED else "the original file is untouched")
    return WriteError(f"{describe_oserror(e, new.doing)}; {outcome}", path=new.target.path)


def _unchanged(target: paths.Target, since: os.stat_result | None, message: str) -> os.stat_result:
    """The photo's stat, after checking its name still refers to it and, with ``since``,
    that it was not written since then (mtime and inode)."""
    st = target.ops.fstat(target.fd)
    if not target.still_there() or (since is not None and (
            since.st_mtime_ns, since.st_ino) != (st.st_mtime_ns, st.st_ino)):
        raise FileChangedError(message, path=target.path)
    return st


def _rewrite(target: paths.Target, plan: Sequence[Piece], validate: Callable[[str], None],
             backup: bool, backups: str | os.PathLike[str] | None,
             planned_from: os.stat_result | None, keep_mtime: bool) -> str | None:
    remove_stale_at(target.ops, target.dir_fd, target.name)
    with NewFile(target, _rewrite_error) as new:
        st = _unchanged(target, planned_from,
                        "the file changed while the write was being prepared; retry")
        if backup:
            new.kept = keep_original(target, backups)
        new.reach(Stage.BACKED_UP)
        new.create()
        new.fill(target.fd, plan)
        new.take_attributes(st, st if keep_mtime else None)
        new.flush(validate)
        # The name must still be the file that was read (and locked): not replaced by
        # another file or a symlink, not written in place meanwhile.
        new.doing = RENAME
        st = _unchanged(target, st, "the file changed while it was being rewritten; retry")
        new.commit(st)
        return new.kept.shown if new.kept is not None else None


def _restore_error(e: OSError, new: NewFile) -> EngineError:
    if new.state >= Stage.RENAMED:
        outcome = "the backup is back in place but may not survive a power loss"
    else:
        outcome = "nothing was changed"
    return WriteError(f"{describe_oserror(e, 'restoring')}; {outcome}", path=new.target.path)


def restore_file(path: str, backups: str | os.PathLike[str] | None = None,
                 root: str | None = None, keep_mtime: bool = False,
                 ops: SysOps | None = None) -> str:
    """Copy the backup back over ``path`` atomically; the backup stays in place.  Returns
    the backup's path.  Confined to ``root`` like safe_rewrite; the photo's lock is held.
    ``keep_mtime``: the restored file keeps the modification time of the file it replaces
    (when there is one).  ``ops``: the system calls (engine.safewrite.sysops)."""
    with paths.Target(path, root, missing_ok=True, ops=ops) as target:
        target.lock()
        with NewFile(target, _restore_error) as new:
            # the backup's folder (told at the rename which files stand at the name; not
            # made by this write: never dropped) and the backup
            new.kept, fd = open_backup(target, backups)
            try:
                return _restore(new, new.kept, fd, keep_mtime)
            finally:
                os.close(fd)


def _restore(new: NewFile, kept: Original, fd: int, keep_mtime: bool) -> str:
    target = new.target
    path, src, ops = target.path, kept.shown, target.ops
    bst = ops.fstat(fd)
    if not stat.S_ISREG(bst.st_mode):
        raise WriteError(f"the backup {src} is not a file; nothing restored", path=path)
    if target.fd >= 0:
        if stale_at(ops, kept.dir_fd, target.name, target.fd):
            raise NoBackupError(
                f"the file was replaced since metafs wrote it, so the backup at {src} "
                "belongs to an earlier file; nothing restored (copy it back by hand if "
                "that is what you want)", path=path)
        if (bst.st_dev, bst.st_ino) == (target.st.st_dev, target.st.st_ino):
            return src  # never written since the backup was made
    new.reach(Stage.BACKED_UP)
    new.create()
    new.fill(fd, [(0, bst.st_size)])
    photo = ops.fstat(target.fd) if target.fd >= 0 else None
    new.take_attributes(bst, photo if keep_mtime else None)
    new.flush(None)
    new.doing = RENAME
    if photo is not None:
        photo = _unchanged(target, None, "the file changed while it was being restored; "
                           "retry")
    elif _lstat(target) is not None:
        raise FileChangedError("a file appeared while the backup was being restored; "
                               "retry", path=path)
    new.commit(photo)
    return src


def _lstat(target: paths.Target) -> os.stat_result | None:
    try:
        return target.ops.lstat_at(target.dir_fd, target.name)
    except FileNotFoundError:
        return None
