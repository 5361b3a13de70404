"""``.originals/``: the backups of the photos edited here, read only (the journal folder
inside it is hidden).  Backups follow their photos when SOURCE entries are renamed."""

from __future__ import annotations

import errno
import os
import stat
from typing import Any

import trio
from pyfuse3 import EntryAttributes, FileInfo, RequestContext

import engine
from metafs import passthrough as pt
from metafs.config import JOURNAL_DIR, DaemonConfig
from metafs.errors import fail
from metafs.inodes import InodeTable, Kind, Node
from metafs.kernel import KernelCache
from metafs.status import Status
from metafs.views.base import Entry, Handles, Refusing

DIR_RO = stat.S_IFDIR | 0o555


class OriginalsView(Refusing):
    refusal = errno.EROFS

    def __init__(self, config: DaemonConfig, inodes: InodeTable, kernel: KernelCache,
                 handles: Handles, status: Status) -> None:
        self.source = config.source
        self.root = os.path.join(config.source, engine.BACKUP_DIR)
        self.inodes, self.kernel, self.handles, self.status = inodes, kernel, handles, status

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    async def child(self, parent: Node, name: str) -> Node:
        if not parent.rel and name == JOURNAL_DIR:
            raise fail(errno.ENOENT)
        rel = os.path.join(parent.rel, name) if parent.rel else name
        os.lstat(self.path(rel))
        return self.inodes.node(Kind.ORIG, rel)

    async def attr(self, node: Node) -> EntryAttributes:
        if not node.rel and not os.path.isdir(self.root):
            return pt.synth_attr(node.inode, DIR_RO, 0, os.stat(self.source))
        return pt.attr_from_stat(node.inode, os.lstat(self.path(node.rel)), read_only=True)

    async def readlink(self, node: Node) -> bytes:
        return os.fsencode(os.readlink(self.path(node.rel)))

    async def listing(self, node: Node) -> list[Entry]:
        path = self.path(node.rel)
        entries = await trio.to_thread.run_sync(pt.scan, path) if os.path.isdir(path) else []
        out: list[Entry] = []
        for name, _st in entries:
            if node.rel or name != JOURNAL_DIR:
                rel = os.path.join(node.rel, name) if node.rel else name
                out.append((name, Node(0, Kind.ORIG, rel), None))
        return out  # sorted by scan

    async def open(self, node: Node, flags: int, ctx: RequestContext) -> FileInfo:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            raise fail(errno.EROFS)
        fd = os.open(self.path(node.rel), os.O_RDONLY)
        return FileInfo(fh=self.handles.add(self, pt.SrcHandle(fd, node.rel)))

    async def read(self, handle: Any, off: int, size: int) -> bytes:
        return await pt.pread(handle, off, size)

    async def write(self, handle: Any, off: int, buf: bytes) -> int:
        return await pt.pwrite(handle, off, buf)  # opened read-only: EBADF

    async def release(self, handle: Any) -> None:
        os.close(handle.fd)

    async def fsync(self, handle: Any, datasync: bool) -> None:
        await pt.fsync(handle, datasync)

    def follow(self, old: str, new: str) -> None:
        """The originals of a renamed photo, or of the photos of a renamed folder, move with
        it, so that restoring the new name finds them.  Done before the next await: no
        commit of the new name can make a backup there first."""
        if JOURNAL_DIR in (old.split("/")[0], new.split("/")[0]):
            return  # .originals/.journal is the journal, not a backup
        src = engine.backup_path(os.path.join(self.source, old), self.root)
        dst = engine.backup_path(os.path.join(self.source, new), self.root)
        if not os.path.lexists(src):
            return  # never edited here: no original kept
        try:
            left = pt.move_backups(src, dst, root=self.root)
        except (OSError, engine.EngineError) as e:
            self.status.error(f"{old} -> {new}", f"the original was not moved: {e}")
            return
        for path in left:
            rel = os.path.relpath(path, self.root)
            there = new + rel[len(old) :]
            self.status.error(
                f"{old} -> {new}",
                f"the original stays at {engine.BACKUP_DIR}/{rel}: {engine.BACKUP_DIR}/{there} "
                f"exists already (kept; restoring {there} uses that one)",
            )
        if not left:  # the .originals view shows the move at once
            up = self.inodes.find(Kind.ORIG, os.path.dirname(old))
            self.kernel.forget_entry(up, os.path.basename(old))
            self.inodes.rekey(Kind.ORIG, old, new)
        # Both folders list other names now (the kernel may hold their listings).
        self.kernel.stale([self.inodes.find(Kind.ORIG, os.path.dirname(p)) for p in (old, new)])
