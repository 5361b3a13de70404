"""What every view answers (``View``), the answers of a kind that has no such thing
(``Refusing``), and the table of open files (``Handles``).

Names arrive decoded (``os.fsdecode``); a handle is whatever the view's ``open`` or
``create`` put in the table, handed back to the same view's read, write, flush, release
and fsync.
"""

from __future__ import annotations

import errno
from typing import Any, Protocol

import pyfuse3
from pyfuse3 import EntryAttributes, FileInfo, RequestContext, SetattrFields

from metafs.config import SessionFeatures
from metafs.errors import fail
from metafs.inodes import Node

# (name, the entry's node key as a Node template, how to make its attributes: an lstat
# result, a (mode, size, like, mtime) tuple, or None to ask the entry's view)
Entry = tuple[str, Node, Any]
# An fh with this bit names the inode of a tag file opened read-only: no handle is kept, reads
# serve the inode's page, and metafs/fuse_shim.c answers the RELEASE (METAFS_NO_RELEASE).
NO_RELEASE = 1 << 62


class View(Protocol):
    # Names in a .meta folder: a rename between them and any other folder is EXDEV.
    in_meta: bool
    refusal: int  # errno for a change of names this view does not make (EPERM, EROFS)

    async def child(self, parent: Node, name: str) -> Node: ...
    async def attr(self, node: Node) -> EntryAttributes: ...
    async def setattr(self, node: Node, attr: EntryAttributes, fields: SetattrFields,
                      handle: object) -> EntryAttributes: ...
    async def readlink(self, node: Node) -> bytes: ...
    async def listing(self, node: Node) -> list[Entry]: ...
    async def fsyncdir(self, node: Node) -> None: ...
    async def mkdir(self, parent: Node, name: str, mode: int,
                    ctx: RequestContext) -> EntryAttributes: ...
    async def rmdir(self, parent: Node, name: str) -> None: ...
    async def mknod(self, parent: Node, name: str, mode: int, rdev: int,
                    ctx: RequestContext) -> EntryAttributes: ...
    async def symlink(self, parent: Node, name: str, target: bytes,
                      ctx: RequestContext) -> EntryAttributes: ...
    async def link(self, node: Node, parent: Node, name: str) -> EntryAttributes: ...
    async def unlink(self, parent: Node, name: str) -> None: ...
    async def rename(self, old: Node, name_old: str, new_view: View, new: Node,
                     name_new: str, flags: int) -> None: ...
    async def open(self, node: Node, flags: int, ctx: RequestContext) -> FileInfo: ...
    async def create(self, parent: Node, name: str, mode: int, flags: int,
                     ctx: RequestContext) -> tuple[FileInfo, EntryAttributes]: ...
    async def read(self, handle: Any, off: int, size: int) -> bytes: ...
    async def write(self, handle: Any, off: int, buf: bytes) -> int: ...
    async def flush(self, handle: Any) -> None: ...
    async def release(self, handle: Any) -> None: ...
    async def fsync(self, handle: Any, datasync: bool) -> None: ...
    async def getxattr(self, node: Node, name: bytes) -> bytes: ...
    async def listxattr(self, node: Node) -> list[bytes]: ...
    async def setxattr(self, node: Node, name: bytes, value: bytes) -> None: ...
    async def removexattr(self, node: Node, name: bytes) -> None: ...
    def forgotten(self, node: Node) -> None: ...


class Refusing:
    """A view of nodes that are neither SOURCE folders nor files: changes of names in them
    are refused with ``refusal`` (EPERM; EROFS for the read-only .originals), they have no
    links, no listing and no extended attributes.  Views override what they do have."""

    in_meta = False
    refusal = errno.EPERM

    async def child(self, parent: Node, name: str) -> Node:
        raise fail(errno.ENOENT)

    async def attr(self, node: Node) -> EntryAttributes:
        raise NotImplementedError

    async def setattr(self, node: Node, attr: EntryAttributes, fields: SetattrFields,
                      handle: object) -> EntryAttributes:
        if fields.update_size or fields.update_mode or fields.update_uid or fields.update_gid:
            raise fail(self.refusal)
        return await self.attr(node)

    async def readlink(self, node: Node) -> bytes:
        raise fail(errno.EINVAL)

    async def listing(self, node: Node) -> list[Entry]:
        raise fail(errno.ENOTDIR)

    async def fsyncdir(self, node: Node) -> None:
        return None

    async def mkdir(self, parent: Node, name: str, mode: int,
                    ctx: RequestContext) -> EntryAttributes:
        raise fail(self.refusal)

    async def rmdir(self, parent: Node, name: str) -> None:
        raise fail(self.refusal)

    async def mknod(self, parent: Node, name: str, mode: int, rdev: int,
                    ctx: RequestContext) -> EntryAttributes:
        raise fail(self.refusal)

    async def symlink(self, parent: Node, name: str, target: bytes,
                      ctx: RequestContext) -> EntryAttributes:
        raise fail(self.refusal)

    async def link(self, node: Node, parent: Node, name: str) -> EntryAttributes:
        raise fail(self.refusal)

    async def unlink(self, parent: Node, name: str) -> None:
        raise fail(self.refusal)

    async def rename(self, old: Node, name_old: str, new_view: View, new: Node,
                     name_new: str, flags: int) -> None:
        if new_view.in_meta:
            raise fail(errno.EXDEV)
        if flags:
            raise fail(errno.EINVAL)  # RENAME_NOREPLACE / EXCHANGE: not passed through
        raise fail(self.refusal)

    async def open(self, node: Node, flags: int, ctx: RequestContext) -> FileInfo:
        raise fail(errno.EISDIR)

    async def create(self, parent: Node, name: str, mode: int, flags: int,
                     ctx: RequestContext) -> tuple[FileInfo, EntryAttributes]:
        raise fail(self.refusal)

    async def read(self, handle: Any, off: int, size: int) -> bytes:
        raise fail(errno.EBADF)

    async def write(self, handle: Any, off: int, buf: bytes) -> int:
        raise fail(errno.EBADF)

    async def flush(self, handle: Any) -> None:
        return None

    async def release(self, handle: Any) -> None:
        return None

    async def fsync(self, handle: Any, datasync: bool) -> None:
        return None

    async def getxattr(self, node: Node, name: bytes) -> bytes:
        raise fail(pyfuse3.ENOATTR)

    async def listxattr(self, node: Node) -> list[bytes]:
        return []

    async def setxattr(self, node: Node, name: bytes, value: bytes) -> None:
        raise fail(errno.ENOTSUP)

    async def removexattr(self, node: Node, name: bytes) -> None:
        raise fail(errno.ENOTSUP)

    def forgotten(self, node: Node) -> None:
        return None


class Handles:
    """Open files: fh -> (the view that opened it, its handle).  ``features`` says what the
    FUSE session supports (set when the daemon starts serving)."""

    def __init__(self) -> None:
        self._open: dict[int, tuple[View, Any]] = {}
        self._next = 1
        self.features = SessionFeatures()

    def add(self, view: View, handle: Any) -> int:
        fh = self._next
        self._next += 1
        self._open[fh] = (view, handle)
        return fh

    def get(self, fh: int) -> tuple[View, Any]:
        hit = self._open.get(fh)
        if hit is None:
            raise fail(errno.EBADF)
        return hit

    def handle(self, fh: int | None) -> Any:
        """The handle of ``fh`` if it is open, else None."""
        hit = self._open.get(fh) if fh else None
        return hit[1] if hit is not None else None

    def pop(self, fh: int) -> tuple[View, Any] | None:
        return self._open.pop(fh, None)

    def new_fh(self) -> int:
        """An fh that names no file (a directory handle)."""
        fh = self._next
        self._next += 1
        return fh
