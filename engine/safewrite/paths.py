"""Opening a photo, its folder and its backup folders without following symlinks.

The daemon runs as root over folders other users write to: a path it was given may have
been swapped for a symlink (or a folder of it for a symlink) between the moment it was
checked and the moment it is used.  So every step works on descriptors: the folders from
the root down are opened one by one with ``O_NOFOLLOW`` (``..`` is refused before any
opening), the photo with ``O_NOFOLLOW`` from its folder's descriptor, and what is read,
backed up, and replaced is that descriptor and names relative to the folder's.

Writers of one photo take an advisory lock (``flock``) on the photo itself, from planning
to rename; every metafs path (CLI, library, daemons) takes it, so they serialise.
"""

from __future__ import annotations

import _thread
import errno
import fcntl
import os
import stat
import time

from engine.errors import EngineError, WriteError
from engine.safewrite.sysops import REAL, SysOps

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_DIR_NOFOLLOW = _DIR | os.O_NOFOLLOW
# O_NONBLOCK: a FIFO planted under the photo's name must not hang the open
FILE_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
LOCK_WAIT = 120.0  # seconds a writer waits for another writer of the same photo

# (dev, ino) -> thread holding its lock: a write nested in another of the same photo, in the
# same thread (test hooks simulating another program), must not wait for itself.
_held: dict[tuple[int, int], int] = {}


def components(root: str, path: str) -> list[str]:
    """The names from ``root`` down to ``path``; refuses a path that leaves ``root``."""
    if not path or "\0" in path:
        raise WriteError("an empty path or one with a NUL byte; refusing to write", path=path)
    rel = os.path.relpath(os.path.abspath(os.path.join(root, path)), os.path.abspath(root))
    parts = rel.split(os.sep)
    if rel == "." or ".." in parts or os.path.isabs(rel):
        raise WriteError(f"the path is outside {root}; refusing to write", path=path)
    return parts


_OPENAT2 = 437  # the syscall's number, the same on every Linux architecture
_RESOLVE_NO_SYMLINKS, _RESOLVE_BENEATH = 0x04, 0x08
_openat2_usable: list[object] = []  # [ctypes function] once probed; [None]: not here


def _openat2(dir_fd: int, rel: str, flags: int) -> int | None:
    """openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), Linux 5.6+: the whole path in one
    call, no symlink followed, nothing outside ``dir_fd``.  None where unavailable."""
    if not _openat2_usable:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _openat2_usable.append((ctypes, libc.syscall))
        except (OSError, AttributeError, ImportError):
            _openat2_usable.append(None)
    found = _openat2_usable[0]
    if found is None:
        return None
    ctypes, syscall = found  # type: ignore[misc]
    how = (ctypes.c_uint64 * 3)(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS)
    fd = syscall(ctypes.c_long(_OPENAT2), ctypes.c_int(dir_fd), ctypes.c_char_p(os.fsencode(rel)),
                 ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd >= 0:
        return fd
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EPERM, errno.E2BIG, errno.EINVAL):
        _openat2_usable[0] = None  # not here (old kernel, seccomp): walk instead
        return None
    raise OSError(err, os.strerror(err), rel)


def walk(dir_fd: int, names: list[str], shown: str) -> int:
    """A new descriptor of the folder ``names`` below ``dir_fd``, no symlink followed."""
    if names:
        try:
            fd = _openat2(dir_fd, os.sep.join(names), _DIR_NOFOLLOW)
        except OSError as e:
            raise _refusal(e, shown) from e
        if fd is not None:
            return fd
    fd = os.dup(dir_fd)
    for name in names:
        try:
            nxt = os.open(name, _DIR_NOFOLLOW, dir_fd=fd)
        except OSError as e:
            os.close(fd)
            raise _refusal(e, shown) from e
        os.close(fd)
        fd = nxt
    return fd


def _refusal(e: OSError, shown: str) -> EngineError:
    if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV):
        return WriteError("a folder or the file on its path is a symbolic link (or not what "
                          "it should be); refusing to follow it", path=shown)
    return EngineError(f"cannot read: {e.strerror or e}", path=shown)


class Target:
    """The photo being written: its folder's descriptor and its own, and its stat.  ``ops``:
    the system calls of the write (engine.safewrite.sysops), used by every step of it."""

    __slots__ = ("path", "dir_fd", "name", "fd", "st", "root", "root_fd", "parents", "locked",
                 "ops")

    def __init__(self, path: str, root: str | None, missing_ok: bool = False,
                 ops: SysOps | None = None) -> None:
        self.ops = REAL if ops is None else ops
        self.root = root
        self.st: os.stat_result | None = None
        self.fd = self.dir_fd = self.root_fd = -1
        self.locked = False
        if root is None:
            # the user's own files: writing through a symlink they named is fine
            self.path = os.path.realpath(path)
            d, self.name = os.path.split(self.path)
            self.parents: list[str] | None = None
            try:
                self.dir_fd = self.ops.open(d or os.sep, _DIR)
            except OSError as e:
                raise EngineError(f"cannot read: {e.strerror or e}", path=path) from e
        else:
            parts = components(root, path)
            self.path = os.path.join(os.path.abspath(root), *parts)
            self.parents, self.name = parts[:-1], parts[-1]
            try:
                self.root_fd = self.ops.open(root, _DIR)
            except OSError as e:
                raise EngineError(f"cannot read: {e.strerror or e}", path=root) from e
            try:
                self.dir_fd = walk(self.root_fd, self.parents, self.path)
            except BaseException:
                self.close()
                raise
        try:
            self._open()
        except FileNotFoundError:
            if not missing_ok:
                self.close()
                raise EngineError("cannot read: No such file or directory",
                                  path=self.path) from None
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        try:
            self.fd = self.ops.open(self.name, FILE_NOFOLLOW, dir_fd=self.dir_fd)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise _refusal(e, self.path) from e
        try:
            self.st = self.ops.fstat(self.fd)
        except OSError as e:
            raise _refusal(e, self.path) from e
        if not stat.S_ISREG(self.st.st_mode):
            raise WriteError("not a regular file; refusing to write", path=self.path)

    def still_there(self) -> bool:
        """The name still refers to the file that was opened (no rename or swap since).  An
        error other than the name being gone (EIO...) is raised: it is no answer."""
        try:
            now = self.ops.lstat_at(self.dir_fd, self.name)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if self.st is None:
            return False
        return (now.st_dev, now.st_ino) == (self.st.st_dev, self.st.st_ino)

    def lock(self, wait: float = LOCK_WAIT) -> None:
        """Hold the writers' lock of the photo: taken on the file itself, then checked that
        the name still refers to it (a writer that renamed a new file in meanwhile released
        a lock nobody else will ask for again): else the new file is opened and locked."""
        deadline = time.monotonic() + wait
        while self.st is not None:
            key = (self.st.st_dev, self.st.st_ino)
            if _held.get(key) == _thread.get_ident():
                return  # this thread holds it already (a nested write)
            if not self._try_lock(deadline):
                return  # no locks on this filesystem: the checks before the rename remain
            try:
                there = self.still_there()
            except OSError as e:
                raise _refusal(e, self.path) from e
            if there:
                _held[key] = _thread.get_ident()
                self.locked = True
                return
            os.close(self.fd)  # unlocks
            self.fd = -1
            try:
                self._open()
            except FileNotFoundError:
                raise EngineError("cannot read: No such file or directory",
                                  path=self.path) from None

    def _try_lock(self, deadline: float) -> bool:
        pause = 0.001
        while True:
            try:
                self.ops.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
            except OSError:
                return False
            if time.monotonic() > deadline:
                # an OSError cause: a passing condition, so the daemon keeps the edits
                # journaled rather than drop them (whoever holds the lock may be anyone
                # who can read the photo)
                raise WriteError("another program has been writing the file for too "
                                 "long (it holds the writers' lock); retry later",
                                 path=self.path) from BlockingIOError(
                                     errno.EAGAIN, "the writers' lock is held")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def close(self) -> None:
        if self.locked and self.st is not None:
            _held.pop((self.st.st_dev, self.st.st_ino), None)
            self.locked = False
        for fd in (self.fd, self.dir_fd, self.root_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.dir_fd = self.root_fd = -1

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_folder(start_fd: int, names: list[str], shown: str,
                like: list[os.stat_result] | None = None, create: bool = True,
                ops: SysOps = REAL) -> int:
    """Open (creating) the folders ``names`` below ``start_fd``, no symlink followed.  With
    ``like``, folder i takes the mode and owner of ``like[i]`` (the folder it mirrors), so
    a backup of a photo in a private folder is as private as the photo."""
    fd = os.dup(start_fd)
    try:
        for i, name in enumerate(names):
            try:
                nxt = ops.open(name, _DIR_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    ops.mkdir_at(fd, name, 0o700)
                except FileExistsError:
                    pass
                nxt = ops.open(name, _DIR_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if like is not None and i < len(like):
                _take_mode(fd, like[i], ops)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise WriteError("a folder of the backup tree is a symbolic link (or not a "
                             "folder); refusing to follow it", path=shown) from e
        raise
    return fd


def _take_mode(fd: int, like: os.stat_result, ops: SysOps) -> None:
    st = ops.fstat(fd)
    if (st.st_uid, st.st_gid) != (like.st_uid, like.st_gid) and os.geteuid() == 0:
        try:
            ops.fchown(fd, like.st_uid, like.st_gid)
        except OSError:
            pass
    if stat.S_IMODE(st.st_mode) != stat.S_IMODE(like.st_mode):
        try:
            ops.fchmod(fd, stat.S_IMODE(like.st_mode))
        except OSError:
            pass  # not ours to change


def folder_stats(start_fd: int, names: list[str], ops: SysOps = REAL) -> list[os.stat_result]:
    """The stat of ``start_fd`` and of each folder of ``names`` below it (as far as they
    open with no symlink followed; the last one found stands for the rest)."""
    out = [ops.fstat(start_fd)]
    fd = os.dup(start_fd)
    try:
        for name in names:
            try:
                nxt = ops.open(name, _DIR_NOFOLLOW, dir_fd=fd)
            except OSError:
                out += [out[-1]] * (len(names) + 1 - len(out))
                break
            os.close(fd)
            fd = nxt
            out.append(ops.fstat(fd))
    finally:
        os.close(fd)
    return out
