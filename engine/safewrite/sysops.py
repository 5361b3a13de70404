"""The system calls a write makes, as one object passed down the write.

``SysOps`` is what engine.safewrite calls instead of ``os``/``fcntl`` directly: opening,
reading, writing, copying, flushing, renaming, unlinking, locking, and the extended
attributes of backups.  The default, ``REAL``, calls the operating system.  A test passes its
own (a subclass) to fail the N-th call with ENOSPC or EIO, as mutagen's fault-injecting file
object does (tests/test_fault_injection.py: a full disk without root), or to act at a stage
of the write (``reached``: another program changing the photo between two steps).

Each method looks its ``os`` function up when called, so a test that patches ``os.fsync``
still reaches it.
"""

from __future__ import annotations

import enum
import fcntl
import os
from collections.abc import Callable


class Stage(enum.IntEnum):
    """How far a write has gone, in order (``NewFile.state``).  Only from RENAMED on is the
    photo the new file; before it, a failure leaves the original as it was."""

    NOTHING = 0
    BACKED_UP = 1  # the original is kept under .originals (or no backup was asked for)
    WRITTEN = 2  # the new content is in the temporary file
    FLUSHED = 3  # ... on disk, and the re-parse found it right
    VALIDATED = 4  # ... and it is still the file that was re-parsed
    RENAMED = 5  # the temporary file is the photo now
    DIR_SYNCED = 6  # ... and the rename is on disk

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = ("nothing", "backup", "written", "fsynced", "validated", "renamed", "dir-fsynced")


class SysOps:
    """The real system calls (see the module docstring).  Names and arguments follow ``os``;
    names relative to a folder take its descriptor."""

    __slots__ = ()

    def reached(self, stage: Stage) -> None:
        """Not a system call: told each Stage as the write reaches it."""

    def open(self, name: str, flags: int, mode: int = 0o777, dir_fd: int | None = None) -> int:
        return os.open(name, flags, mode, dir_fd=dir_fd)

    def fstat(self, fd: int) -> os.stat_result:
        return os.fstat(fd)

    def lstat_at(self, dir_fd: int, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)

    def listdir(self, dir_fd: int) -> list[str]:
        return os.listdir(dir_fd)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        return os.write(fd, data)

    def preadv(self, fd: int, buffers: list[memoryview], offset: int) -> int:
        return os.preadv(fd, buffers, offset)

    def copy_file_range(self, src: int, dst: int, count: int, offset_src: int) -> int:
        return os.copy_file_range(src, dst, count, offset_src)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fchmod(self, fd: int, mode: int) -> None:
        os.fchmod(fd, mode)

    def fchown(self, fd: int, uid: int, gid: int) -> None:
        os.fchown(fd, uid, gid)

    def utime(self, fd: int, ns: tuple[int, int]) -> None:
        os.utime(fd, ns=ns)

    def flock(self, fd: int, operation: int) -> None:
        fcntl.flock(fd, operation)

    def rename_at(self, dir_fd: int, src: str, dst: str) -> None:
        os.rename(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)

    def unlink_at(self, dir_fd: int, name: str) -> None:
        os.unlink(name, dir_fd=dir_fd)

    def link_fd(self, fd: int, dir_fd: int, name: str) -> None:
        """A new name for the file open at ``fd`` (through /proc: the file that was checked,
        not whatever its name refers to now)."""
        os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd)

    def mkdir_at(self, dir_fd: int, name: str, mode: int) -> None:
        os.mkdir(name, mode, dir_fd=dir_fd)

    def getxattr(self, fd: int, name: str) -> bytes:
        return os.getxattr(fd, name)

    def setxattr(self, fd: int, name: str, value: bytes) -> None:
        os.setxattr(fd, name, value)


REAL = SysOps()


class AtStage(SysOps):
    """The real calls, and ``hook(stage.label)`` at each stage: for a test that acts between
    two steps of a write (another program changing the photo, a fault at a stage)."""

    __slots__ = ("hook",)

    def __init__(self, hook: Callable[[str], None]) -> None:
        self.hook = hook

    def reached(self, stage: Stage) -> None:
        self.hook(stage.label)
