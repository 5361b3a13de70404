"""The temporary file that becomes a photo: the one sequence every replacement of a photo
goes through (a rewrite with new metadata, a restore of the backup).

    with NewFile(target, describe) as new:
        new.create(); new.fill(...); new.take_attributes(...)
        new.flush(validate)   # fsync, in a thread while ``validate`` re-parses the file
        new.commit(photo_st)  # rename over the photo, then fsync the folder

Created beside the photo (a hidden ``.NAME.metafs-XXXXXXXX.tmp``, relative to the folder's
descriptor, ``O_EXCL | O_NOFOLLOW``) and flock()ed while in use, so that a write of the same
photo by another process sees it is not stale.  ``state`` (a Stage) says how far the write
has gone: on any failure before RENAMED the temporary file is removed and the backup this
write made (``kept``) dropped; an OSError leaves as the EngineError ``describe`` makes of it.
"""

from __future__ import annotations

import _thread
import fcntl
import os
from collections.abc import Callable, Sequence

from engine.errors import EngineError, ValidationError
from engine.safewrite.backup import Original, lstat_at, unlink_quietly
from engine.safewrite.copying import Piece, write_plan
from engine.safewrite.names import TMP_SUFFIX, temp_name, temp_prefix
from engine.safewrite.paths import Target
from engine.safewrite.sysops import Stage, SysOps

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

# What the write was doing (``NewFile.doing``), as error messages say it.
BACKUP, WRITE, ATTRIBUTES, MTIME, VALIDATE, FLUSH, RENAME, DIR_SYNC = (
    "making the backup", "writing the temporary file", "keeping the file's mode and owner",
    "keeping the file's modification time", "validating the new file",
    "flushing the temporary file to disk", "renaming the new file into place",
    "syncing the directory after the rename")


class NewFile:
    """See the module docstring."""

    __slots__ = ("target", "ops", "name", "fd", "state", "doing", "kept", "describe")

    def __init__(self, target: Target,
                 describe: Callable[[OSError, NewFile], EngineError]) -> None:
        self.target, self.ops, self.describe = target, target.ops, describe
        self.name: str | None = None  # the temporary file's, once created
        self.fd = -1
        self.state = Stage.NOTHING
        self.doing = BACKUP
        self.kept: Original | None = None

    def __enter__(self) -> NewFile:
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, tb: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # unlocks
            self.fd = -1
        if error is not None and self.state < Stage.RENAMED:
            if self.name is not None:
                unlink_quietly(self.ops, self.target.dir_fd, self.name)
            if self.kept is not None:
                self.kept.drop()
        if self.kept is not None:
            self.kept.close()
        if isinstance(error, OSError):
            raise self.describe(error, self) from error

    def reach(self, stage: Stage) -> None:
        self.state = stage
        self.ops.reached(stage)

    def create(self) -> None:
        """Create the temporary file, locked while it is written (a new file: always free;
        where there are no locks, some network filesystems, its name says whose it is)."""
        self.doing = WRITE
        self.name = temp_name(self.target.name)
        self.fd = self.ops.open(self.name, _NEW, 0o600, dir_fd=self.target.dir_fd)
        try:
            self.ops.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass

    def fill(self, src: int, plan: Sequence[Piece]) -> None:
        write_plan(src, self.fd, plan, self.ops)
        self.reach(Stage.WRITTEN)

    def take_attributes(self, st: os.stat_result, mtime: os.stat_result | None) -> None:
        """The owner and mode of ``st`` (the owner where allowed); with ``mtime``, its
        modification time too (the access time is the one the new file got)."""
        self.doing = ATTRIBUTES
        try:
            self.ops.fchown(self.fd, st.st_uid, st.st_gid)
        except PermissionError:
            pass
        self.ops.fchmod(self.fd, st.st_mode & 0o7777)
        if mtime is not None:
            self.doing = MTIME
            self.ops.utime(self.fd, (self.ops.fstat(self.fd).st_atime_ns, mtime.st_mtime_ns))

    def flush(self, validate: Callable[[str], None] | None) -> None:
        """Put the file on disk, re-parsed meanwhile by ``validate`` (given a path that opens
        exactly this file), then check it is still the file that was re-parsed."""
        self.doing = VALIDATE
        written = _version(self.ops.fstat(self.fd))
        if validate is None:
            self.doing = FLUSH
            self.ops.fsync(self.fd)
        else:
            flush = _Flush(self.ops, self.fd)
            try:
                validate(self._path())
            finally:
                failed = flush.wait()
            self.doing = FLUSH
            if failed is not None:
                raise failed
        self.reach(Stage.FLUSHED)
        self.doing = VALIDATE
        now = lstat_at(self.ops, self.target.dir_fd, str(self.name))
        held = self.ops.fstat(self.fd)
        if _version(held) != written or now is None or (
                now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            raise ValidationError("the temporary file changed while it was being checked; "
                                  "nothing was written", path=self.target.path)
        self.reach(Stage.VALIDATED)

    def _path(self) -> str:
        if os.path.isdir("/proc/self/fd"):
            return f"/proc/self/fd/{self.fd}"
        return os.path.join(os.path.dirname(self.target.path), str(self.name))

    def commit(self, photo: os.stat_result | None) -> None:
        """Rename the file over the photo (``photo``: the photo's stat, None when there is
        none), recording on the backup both files while either may stand at the name."""
        self.doing = RENAME
        new = self.ops.fstat(self.fd)
        if self.kept is not None:
            self.kept.record(*([photo] if photo is not None else []), new)
        self.ops.rename_at(self.target.dir_fd, str(self.name), self.target.name)
        self.state = Stage.RENAMED
        os.close(self.fd)  # the lock goes with it: the photo is the new file now
        self.fd = -1
        if self.kept is not None:
            self.kept.record(new)
        self.doing = DIR_SYNC
        self.ops.reached(Stage.RENAMED)
        self.ops.fsync(self.target.dir_fd)
        self.reach(Stage.DIR_SYNCED)


def _version(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class _Flush:
    """``fsync(fd)`` in a thread: the disk works while the caller re-parses the file.
    (``_thread``: the ``threading`` module costs an import for no more than this.)"""

    def __init__(self, ops: SysOps, fd: int) -> None:
        self._error: OSError | None = None
        self._done = _thread.allocate_lock()
        self._done.acquire()
        started = _thread.allocate_lock()
        started.acquire()
        try:
            _thread.start_new_thread(self._run, (ops, fd, started))
        except RuntimeError:  # no thread to be had: flush now
            self._run(ops, fd, started)
        # Wait for the thread to be running: else it waits for the GIL, which the caller's
        # re-parse holds, and flushes only after it.
        started.acquire()

    def _run(self, ops: SysOps, fd: int, started: _thread.LockType) -> None:
        try:
            started.release()
            ops.fsync(fd)
        except OSError as e:
            self._error = e
        finally:
            self._done.release()

    def wait(self) -> OSError | None:
        """Return when the flush is over, with its error if it failed."""
        with self._done:
            return self._error


def remove_stale_at(ops: SysOps, dir_fd: int, name: str) -> None:
    """Remove the temporary files an interrupted write of ``name`` left (the lock of a
    write still going on, in another process, keeps its file)."""
    prefix = temp_prefix(name)
    try:
        names = ops.listdir(dir_fd)
    except OSError:
        return
    for n in names:
        if not (n.startswith(prefix) and n.endswith(TMP_SUFFIX)):
            continue
        try:
            fd = ops.open(n, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                          dir_fd=dir_fd)
        except OSError:
            continue  # gone already, not ours to open, or a symlink
        try:
            ops.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # being written right now
        except OSError:
            pass  # no locks here: as before, an interrupted write's file
        finally:
            os.close(fd)
        unlink_quietly(ops, dir_fd, n)
