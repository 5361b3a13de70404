"""``.metafs/``: the daemon's control folder.  ``status`` tells what the daemon is doing
(each reader gets the text of their open); an fsync of the folder commits every pending
edit (what ``metafs umount`` does first)."""

from __future__ import annotations

import errno
import os
import stat
import time
from dataclasses import dataclass
from typing import Any

from pyfuse3 import EntryAttributes, FileInfo, RequestContext

from metafs import passthrough as pt
from metafs.batcher import Batcher
from metafs.config import DaemonConfig
from metafs.editing import MetaEditor
from metafs.errors import fail, requests
from metafs.inodes import InodeTable, Kind, Node
from metafs.kernel import KernelCache
from metafs.photos import PhotoViews
from metafs.views.base import Entry, Handles, Refusing
from metafs.watch import Watcher

DIR_RO = stat.S_IFDIR | 0o555


@dataclass(eq=False)
class StaticHandle:
    data: bytes


class ControlView(Refusing):
    def __init__(self, config: DaemonConfig, inodes: InodeTable, photos: PhotoViews,
                 editor: MetaEditor, kernel: KernelCache, handles: Handles,
                 watcher: Watcher | None) -> None:
        self.config = config
        self.inodes, self.photos, self.editor = inodes, photos, editor
        self.kernel, self.handles, self.watcher = kernel, handles, watcher
        # When the kernel opens files without asking (a read-only mount), the status text
        # the last GETATTR measured, which the READ that follows it serves
        self._status = b""

    async def child(self, parent: Node, name: str) -> Node:
        if not parent.sub and name == "status":
            return self.inodes.node(Kind.CTL, "", "status")
        raise fail(errno.ENOENT)

    async def attr(self, node: Node) -> EntryAttributes:
        like = os.stat(self.config.source)
        if node.sub == "status" and self.kernel.no_open:
            # No open to make each reader's text: the kernel asks for the attributes before
            # each read (timeout 0), a new mtime drops its pages, and the READ that follows
            # gets this text.  Its pages serve every user alike, so the lines other users
            # would not be shown are kept from them: only SOURCE's owner (and root) reads it.
            self._status = self.status_text()
            return pt.synth_attr(node.inode, stat.S_IFREG | 0o400, len(self._status), like,
                                 mtime_ns=time.time_ns(), timeout=0)
        if node.sub == "status":
            size = len(self.status_text())
            return pt.synth_attr(node.inode, stat.S_IFREG | 0o444, size, like,
                                 timeout=pt.TIMEOUT)
        return pt.synth_attr(node.inode, DIR_RO, 0, like, timeout=pt.TIMEOUT)

    async def listing(self, node: Node) -> list[Entry]:
        if node.sub:
            raise fail(errno.ENOTDIR)
        return [("status", Node(0, Kind.CTL, "", "status"), None)]

    async def fsyncdir(self, node: Node) -> None:
        await self.editor.commit_all()

    async def open(self, node: Node, flags: int, ctx: RequestContext) -> FileInfo:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            raise fail(errno.EACCES)
        data = self.status_text(ctx)
        return FileInfo(fh=self.handles.add(self, StaticHandle(data)), direct_io=True)

    async def read(self, handle: Any, off: int, size: int) -> bytes:
        data = self._status if isinstance(handle, Node) else handle.data
        return bytes(data[off : off + size])

    def status_text(self, ctx: Any = None) -> bytes:
        """Everything for the mounting user and root; for another user (``ctx``, the
        request's) the lines about photos they could read on the disk itself."""
        config, batcher = self.config, self.editor.batcher
        viewer = None
        if ctx is not None and ctx.uid not in (0, os.geteuid()):
            uid, groups = ctx.uid, pt.caller_groups(ctx)
            viewer = lambda photo: pt.may_read(config.source, photo, uid, groups)  # noqa: E731
        return self.editor.status.render(
            viewer=viewer,
            source=config.source,
            mountpoint=config.mountpoint,
            read_only=config.read_only,
            debounce=batcher.debounce,
            pending=batcher.pending_photos(),
            commits=batcher.commits,
            failures=batcher.failures,
            extra=self._extra(batcher),
        )

    def _extra(self, batcher: Batcher) -> tuple[str, ...]:
        counts = ", ".join(f"{op} {n}" for op, n in sorted(requests.items()))
        index = self.photos.index
        where = (f"{index.shown}, {index.state}{index.keys_note}" if index is not None
                 else "none")
        hits = index.hits if index is not None else 0
        return (
            f"kernel directory cache: {'on' if self.handles.features.dirs_by_inode else 'off'}",
            "watching SOURCE: "
            + (self.watcher.describe() if self.watcher else "off")
            + f"; generated entries cached {self.kernel.timeout:g} s",
            f"requests: {sum(requests.values())} ({counts})",
            self.kernel.opens_summary(),
            f"index: {where}; photos decoded {self.photos.decodes}, from the index {hits}",
            self.photos.extra.summary(),
        )
