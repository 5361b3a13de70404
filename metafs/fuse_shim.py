"""Load metafs/fuse_shim.c (built by scripts/setup) so that the kernel caches directories.

The shim sits between pyfuse3 and libfuse (see the C file for what it changes and why).  It
is loaded RTLD_GLOBAL when this module is imported, which must happen before pyfuse3 is
imported (Python loads extension modules RTLD_NOW: pyfuse3's calls into libfuse are bound
then); metafs.mount imports this module first.  ``active()`` says after pyfuse3.init()
whether the session went through the shim (then readdir/fsyncdir get an inode number in
place of a directory handle), and ``features().clean_opens`` lets the daemon mark files whose
read-only opens the shim answers itself (metafs.kernel.KernelCache.opened_clean/changed).
Without the built library nothing changes.
"""

from __future__ import annotations

import ctypes
import logging
import os

from metafs.config import SessionFeatures

log = logging.getLogger(__name__)

LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_fuse_shim.so")
_lib: ctypes.CDLL | None = None


def load(path: str = LIBRARY) -> bool:
    """Load the shim once; False (and a log line) when it is not there or does not load."""
    global _lib
    if _lib is not None:
        return True
    if os.environ.get("METAFS_NO_FUSE_SHIM"):
        return False
    try:
        _lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as e:
        log.info("no kernel directory cache (%s); run scripts/setup to build %s",
                 e, os.path.basename(path))
        return False
    return True


def active() -> bool:
    """Did the FUSE session of this process go through the shim?"""
    if _lib is None:
        return False
    return bool(ctypes.c_int.in_dll(_lib, "metafs_shim_active").value)


def releases_readers() -> bool:
    """Does the shim answer RELEASE for handles marked NO_RELEASE (item 4 of the C file)?
    (A library built from an older fuse_shim.c does not.)"""
    return _feature(1)


def ask_no_open() -> bool:
    """Before the session is made (a read-only mount): the shim answers OPEN and FLUSH with
    ENOSYS (item 8 of the C file).  False when this build cannot."""
    if _lib is None:
        return False
    try:
        flag = ctypes.c_int.in_dll(_lib, "metafs_no_open")
    except ValueError:  # a library built from an older fuse_shim.c
        return False
    flag.value = 1
    return True


def answer_statfs(source: str) -> bool:
    """Before the session is made: the shim answers STATFS with statvfs() of ``source``
    (item 9 of the C file), as ``Operations.statfs`` does.  False when this build cannot."""
    if _lib is None:
        return False
    try:
        setter = _lib.metafs_set_statfs_source
    except AttributeError:  # a library built from an older fuse_shim.c
        return False
    setter.argtypes = [ctypes.c_char_p]
    setter.restype = ctypes.c_int
    return bool(setter(os.fsencode(source)))


def watch_loop() -> bool:
    """From the trio loop, once it serves: the shim's wait between requests it answers
    ends when the loop has other work too (its epoll descriptor), and only then may it
    poll without sleeping (see the C file).  trio keeps that descriptor private: False,
    and no such polling, when it is not where this trio keeps it."""
    if _lib is None or not active():
        return False
    try:
        from trio._core._run import GLOBAL_RUN_CONTEXT

        fd = GLOBAL_RUN_CONTEXT.runner.io_manager._epoll.fileno()
        setter = _lib.metafs_set_loop_fd
    except (AttributeError, ImportError):
        log.info("trio's loop descriptor not found: the shim waits between requests "
                 "without polling")
        return False
    setter.argtypes = [ctypes.c_int]
    setter.restype = ctypes.c_int
    return bool(setter(fd))


def _no_open() -> bool:
    try:
        return _feature(8) and bool(ctypes.c_int.in_dll(_lib, "metafs_no_open").value)
    except ValueError:
        return False


def _feature(bit: int) -> bool:
    if not active():
        return False
    try:
        return bool(ctypes.c_int.in_dll(_lib, "metafs_shim_features").value & bit)
    except ValueError:  # a library built from an older fuse_shim.c
        return False


class CleanOpens:
    """Item 5 of the C file: opens of inodes marked clean are answered by the shim.  Used
    from the thread that runs the FUSE session only (the trio loop)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._mark = lib.metafs_mark_clean
        self._mark.argtypes = [ctypes.c_ulong]
        self._mark.restype = ctypes.c_int
        self._stale = lib.metafs_marks_stale
        self._stale.argtypes = []
        self._stale.restype = None
        self._opens = ctypes.c_ulong.in_dll(lib, "metafs_shim_opens")

    def mark(self, inode: int) -> None:
        """Until the next ``stale()``, the shim answers read-only opens of ``inode``."""
        self._mark(inode)

    def stale(self) -> None:
        """Every mark ends: the next open of each file is the daemon's again."""
        self._stale()

    def opens(self) -> int:
        """How many opens the shim answered."""
        return int(self._opens.value)


def features() -> SessionFeatures:
    """What the shim does for the session of this process (once pyfuse3.init() made it)."""
    clean = CleanOpens(_lib) if _lib is not None and _feature(2) else None
    generated = None
    if _lib is not None and _feature(4):  # item 7: xattrs of generated inodes
        generated = _lib.metafs_mark_generated
        generated.argtypes = [ctypes.c_ulong]
        generated.restype = ctypes.c_int
    return SessionFeatures(dirs_by_inode=active(), stateless_readers=releases_readers(),
                           clean_opens=clean, mark_generated=generated, no_open=_no_open())


load()
