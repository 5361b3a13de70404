"""What a daemon is told once, at construction: its folders, its mode, what it may push to
the kernel (``DaemonConfig``); and what the FUSE session it serves turned out to support
(``SessionFeatures``, asked once the session exists: see ``DaemonConfig.session``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metafs.fuse_shim import CleanOpens


@dataclass(frozen=True)
class SessionFeatures:
    """What metafs/fuse_shim.c does for this session (metafs.fuse_shim.features())."""

    # The kernel sends no OPENDIR: readdir and fsyncdir get the folder's inode as fh.
    dirs_by_inode: bool = False
    # The shim answers RELEASE for NO_RELEASE handles: readers of tag files get an fh
    # naming the inode, not a handle.
    stateless_readers: bool = False
    # The shim answers read-only opens of inodes the daemon marked clean (KernelCache).
    clean_opens: CleanOpens | None = None
    # The shim answers GETXATTR/LISTXATTR of inodes marked generated (no extended
    # attributes: everything but SOURCE paths) without the daemon.
    mark_generated: Callable[[int], int] | None = None
    # A read-only mount: the kernel opens and closes files without asking (no OPEN, FLUSH or
    # RELEASE); reads come with the inode as fh, as NO_RELEASE readers' do.
    no_open: bool = False


def no_shim() -> SessionFeatures:
    return SessionFeatures()


@dataclass(frozen=True)
class DaemonConfig:
    source: str
    mountpoint: str = ""
    read_only: bool = False
    # Push changes to the kernel (invalidations, stored pages): False when no kernel
    # serves the Operations (tests calling handlers directly).
    notify_kernel: bool = True
    # Watch SOURCE for changes other programs make (metafs.watch), with notify_kernel.
    watch_source: bool = False
    debounce: float = 0.3  # seconds edits of a photo wait for more before a commit
    sync: bool = True  # EXIF, XMP and IPTC copies kept in step (False: --no-sync)
    notes: tuple[str, ...] = ()  # about the mount itself, shown in the status file
    # Asked when the daemon starts serving (after pyfuse3.init() made the session).
    session: Callable[[], SessionFeatures] = field(default=no_shim)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", os.path.abspath(self.source))


CONTROL = ".metafs"  # the daemon's folder at the mount's root (status, fsync to commit)
JOURNAL_DIR = ".journal"  # inside SOURCE/.originals, hidden from every view
