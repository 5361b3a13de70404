"""pyfuse3 Operations: each handler resolves the node (or open file) a request names and
hands it to the view of that node's kind (metafs.views: SOURCE passed through, a photo's
``NAME.meta`` folders and tag files, ``.originals/``, ``.metafs/``).  What the kernel caches,
and how it is kept true, is metafs.kernel (``KernelCache``, given to the views); what a
.meta view shows beyond the metadata, metafs.pending.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import pyfuse3
import trio
from pyfuse3 import (
    EntryAttributes,
    FileHandleT,
    FileInfo,
    FileNameT,
    FlagT,
    InodeT,
    ModeT,
    ReaddirToken,
    RequestContext,
    SetattrFields,
    StatvfsData,
    XAttrNameT,
)

from engine import BACKUP_DIR
from metafs import passthrough as pt
from metafs.batcher import Batcher
from metafs.config import CONTROL, JOURNAL_DIR, DaemonConfig
from metafs.editing import MetaEditor
from metafs.errors import fail, handler
from metafs.index import MetaIndex
from metafs.inodes import InodeTable, Kind, Node
from metafs.journal import Journal
from metafs.kernel import KernelCache
from metafs.landing import land
from metafs.pending import Pending
from metafs.photos import EngineFacade, PhotoViews, real_engine
from metafs.status import Status
from metafs.views.base import NO_RELEASE, Entry, Handles, View
from metafs.views.control import ControlView
from metafs.views.meta import MetaView, TagView
from metafs.views.originals import OriginalsView
from metafs.views.source import SourceView
from metafs.watch import Watcher

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

MAX_LISTINGS = 64  # folder listings kept between the pieces of a readdir


def changes(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """A request that may change what a file shows: once it is answered, no open is
    answered by the shim before the daemon looked again (``KernelCache.changed``)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        finally:
            ops = args[0]
            assert isinstance(ops, Operations)
            ops.kernel.changed()

    return wrapper


class Operations(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(
        self,
        config: DaemonConfig,
        *,
        engine: EngineFacade | None = None,
        journal: Journal | None = None,
        index: MetaIndex | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.source = config.source
        self.terminated_by_signal = False  # then the daemon unmounts itself at the end
        self.inodes = InodeTable()
        self.handles = Handles()
        self.batcher = Batcher(self._commit_sync, debounce=config.debounce,
                               on_done=self._committed)
        self.pending = Pending(self.batcher.overlay)
        self.photos = PhotoViews(engine or real_engine(), config.source, self.pending,
                                 index=index, on_change=self._photo_changed)
        self.kernel = KernelCache(self.inodes, self.photos, notify=config.notify_kernel)
        self.status = Status(notes=list(config.notes), sync=config.sync)
        self.editor = MetaEditor(self.photos, self.batcher, journal, self.status,
                                 read_only=config.read_only)
        # Changes other programs make in SOURCE, pushed to the kernel as they happen (else
        # they show when the kernel's cache times out: up to GENERATED_TIMEOUT).
        self.watcher: Watcher | None = None
        if config.watch_source and config.notify_kernel:
            self.watcher = Watcher(config.source, (BACKUP_DIR,),
                                   self.kernel.source_changed, self.kernel.source_overflow,
                                   self.kernel.watch_trusted)
        self.views = self._make_views()
        # Listings of folders whose pieces the kernel reads (by fh: an OPENDIR handle, or
        # with the shim the folder's inode, see metafs/fuse_shim.c)
        self._dirs: dict[int, tuple[Node, list[Entry]]] = {}
        self._listings: dict[int, list[Entry]] = {}
        self._writers: set[int] = set()  # fh of files opened to be written

    def _make_views(self) -> dict[Kind, View]:
        config, inodes, kernel, handles = self.config, self.inodes, self.kernel, self.handles
        ro = config.read_only
        tags = TagView(inodes, self.editor, kernel, handles, read_only=ro)
        originals = OriginalsView(config, inodes, kernel, handles, self.status)
        control = ControlView(config, inodes, self.photos, self.editor, kernel, handles,
                              self.watcher)
        return {
            Kind.SRC: SourceView(config, inodes, self.photos, self.editor, kernel, handles,
                                 originals),
            Kind.META: MetaView(inodes, self.editor, kernel, handles, tags, read_only=ro),
            Kind.TAG: tags,
            Kind.ORIG: originals,
            Kind.CTL: control,
        }

    def start(self, nursery: trio.Nursery) -> None:
        """Serve: called once the FUSE session exists (what it supports is known now)."""
        self.handles.features = self.config.session()
        self.batcher.start(nursery)
        self.kernel.start(nursery, self.handles.features)
        if self.watcher is not None:
            nursery.start_soon(self.watcher.run)
        if self.photos.index is not None:
            nursery.start_soon(self._flush_index)

    async def _flush_index(self) -> None:
        """Rows decoded at the end of a walk reach the index within a fraction of a second
        (a batch is otherwise written when the next one fills)."""
        index = self.photos.index
        assert index is not None
        while True:
            await trio.sleep(0.25)
            if index.due():
                await trio.to_thread.run_sync(index.flush)

    def _photo_changed(self, rel: str) -> None:
        self.kernel.photo_changed(rel)

    # -- nodes and files ----------------------------------------------------------------

    def _node(self, inode: int) -> Node:
        node = self.inodes.get(inode)
        if node is None:
            raise fail(errno.ESTALE)
        return node

    def _view(self, node: Node) -> View:
        return self.views[node.kind]

    def _file(self, fh: int) -> tuple[View, Any]:
        """The view and handle of an open file; a NO_RELEASE reader's handle is its node."""
        if fh & NO_RELEASE:
            node = self._node(fh & ~NO_RELEASE)
            return self._view(node), node
        return self.handles.get(fh)

    async def _attr(self, node: Node) -> EntryAttributes:
        return await self._view(node).attr(node)

    @handler
    async def lookup(self, parent_inode: InodeT, name: FileNameT,
                     ctx: RequestContext | None = None) -> EntryAttributes:
        parent = self._node(parent_inode)
        node = await self._view(parent).child(parent, os.fsdecode(name))
        attr = await self._attr(node)
        self.inodes.remember(node)
        return attr

    @handler
    async def forget(self, inode_list: list[tuple[InodeT, int]]) -> None:
        for inode, n in inode_list:
            node = self.inodes.get(inode)
            self.inodes.forget(inode, n)
            if node is not None and self.inodes.get(inode) is None:
                self._view(node).forgotten(node)

    @handler
    async def getattr(self, inode: InodeT, ctx: RequestContext | None = None) -> EntryAttributes:
        return await self._attr(self._node(inode))

    @handler
    @changes
    async def setattr(self, inode: InodeT, attr: EntryAttributes, fields: SetattrFields,
                      fh: FileHandleT | None, ctx: RequestContext | None = None
                      ) -> EntryAttributes:
        node = self._node(inode)
        handle = None if fh is None or fh & NO_RELEASE else self.handles.handle(fh)
        return await self._view(node).setattr(node, attr, fields, handle)

    @handler
    async def readlink(self, inode: InodeT, ctx: RequestContext | None = None) -> FileNameT:
        node = self._node(inode)
        return await self._view(node).readlink(node)

    # -- folders ------------------------------------------------------------------------

    async def _listing(self, node: Node) -> list[Entry]:
        """Snapshot of a folder, sorted by name (see views.base.Entry)."""
        return await self._view(node).listing(node)

    @handler
    async def opendir(self, inode: InodeT, ctx: RequestContext | None = None) -> FileHandleT:
        node = self._node(inode)
        fh = self.handles.new_fh()
        self._dirs[fh] = (node, await self._listing(node))
        return fh

    async def _entry_attr(self, node: Node, proto: Any) -> EntryAttributes:
        if proto is None:
            return await self._attr(node)
        if isinstance(proto, os.stat_result):
            timeout = self.kernel.source_timeout if node.kind is Kind.SRC else pt.TIMEOUT
            return pt.attr_from_stat(node.inode, proto, timeout=timeout)
        mode, size, like, mtime = proto
        return pt.synth_attr(node.inode, mode, size, like, mtime_ns=mtime,
                             timeout=self.kernel.timeout)

    async def _entries(self, fh: int, start_id: int) -> list[Entry]:
        if not self.handles.features.dirs_by_inode:
            if fh not in self._dirs:
                raise fail(errno.EBADF)
            return self._dirs[fh][1]
        # A listing starts at 0 and may go on in pieces: the pieces come from one snapshot.
        entries = self._listings.pop(fh, None) if start_id else None
        if entries is None:
            entries = await self._listing(self._node(fh))
        self._listings[fh] = entries
        while len(self._listings) > MAX_LISTINGS:  # readers that stopped half-way
            del self._listings[next(iter(self._listings))]
        return entries

    @handler
    async def readdir(self, fh: FileHandleT, start_id: int, token: ReaddirToken) -> None:
        entries = await self._entries(fh, start_id)
        node_of = self.inodes.node
        for i in range(start_id, len(entries)):
            entry = entries[i]
            name, tmpl, proto = entry
            node = node_of(tmpl.kind, tmpl.rel, tmpl.sub)
            # (made anew each time, not kept on the node: a library of 100,000 photos would
            # keep 200,000 attributes and listing entries alive for the rare re-listing)
            try:
                attr = await self._entry_attr(node, proto)
            except (OSError, pyfuse3.FUSEError):
                self.inodes.forget(node.inode, 0)
                continue  # vanished since opendir
            if not pyfuse3.readdir_reply(token, os.fsencode(name), attr, i + 1):
                if node.lookups == 0:
                    self.inodes.forget(node.inode, 0)
                return
            node.told = attr.st_size  # what the kernel was told (tag files: see kernel)
            node.lookups += 1
        if self.handles.features.dirs_by_inode and start_id >= len(entries):
            self._listings.pop(fh, None)  # the end: the kernel has it all

    @handler
    async def releasedir(self, fh: FileHandleT) -> None:
        self._dirs.pop(fh, None)

    @handler
    @changes
    async def fsyncdir(self, fh: FileHandleT, datasync: bool) -> None:
        # fsync on a .meta folder commits its photo; on .metafs/ (what `metafs umount`
        # uses) or a SOURCE folder, every pending edit.
        if self.handles.features.dirs_by_inode:
            node = self._node(fh)
        elif fh in self._dirs:
            node = self._dirs[fh][0]
        else:
            raise fail(errno.EBADF)
        await self._view(node).fsyncdir(node)

    @handler
    @changes
    async def mkdir(self, parent_inode: InodeT, name: FileNameT, mode: ModeT,
                    ctx: RequestContext) -> EntryAttributes:
        parent = self._node(parent_inode)
        return await self._view(parent).mkdir(parent, os.fsdecode(name), mode, ctx)

    @handler
    @changes
    async def rmdir(self, parent_inode: InodeT, name: FileNameT, ctx: RequestContext) -> None:
        parent = self._node(parent_inode)
        await self._view(parent).rmdir(parent, os.fsdecode(name))

    # -- names: create, remove, rename, link --------------------------------------------

    @handler
    @changes
    async def mknod(self, parent_inode: InodeT, name: FileNameT, mode: ModeT, rdev: int,
                    ctx: RequestContext) -> EntryAttributes:
        parent = self._node(parent_inode)
        return await self._view(parent).mknod(parent, os.fsdecode(name), mode, rdev, ctx)

    @handler
    @changes
    async def symlink(self, parent_inode: InodeT, name: FileNameT, target: FileNameT,
                      ctx: RequestContext) -> EntryAttributes:
        parent = self._node(parent_inode)
        return await self._view(parent).symlink(parent, os.fsdecode(name), target, ctx)

    @handler
    @changes
    async def link(self, inode: InodeT, new_parent_inode: InodeT, new_name: FileNameT,
                   ctx: RequestContext) -> EntryAttributes:
        node, parent = self._node(inode), self._node(new_parent_inode)
        return await self._view(parent).link(node, parent, os.fsdecode(new_name))

    @handler
    @changes
    async def unlink(self, parent_inode: InodeT, name: FileNameT, ctx: RequestContext) -> None:
        parent = self._node(parent_inode)
        await self._view(parent).unlink(parent, os.fsdecode(name))

    @handler
    @changes
    async def rename(self, parent_inode_old: InodeT, name_old: FileNameT,
                     parent_inode_new: InodeT, name_new: FileNameT, flags: FlagT,
                     ctx: RequestContext) -> None:
        old, new = self._node(parent_inode_old), self._node(parent_inode_new)
        await self._view(old).rename(old, os.fsdecode(name_old), self._view(new), new,
                                     os.fsdecode(name_new), flags)

    # -- files --------------------------------------------------------------------------

    @handler
    async def open(self, inode: InodeT, flags: FlagT, ctx: RequestContext) -> FileInfo:
        node = self._node(inode)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            try:
                info = await self._view(node).open(node, flags, ctx)
                self._writers.add(info.fh)
                return info
            finally:
                self.kernel.changed()
        generation = self.kernel.generation
        info = await self._view(node).open(node, flags, ctx)
        if info.keep_cache and info.fh & NO_RELEASE:
            self.kernel.opened_clean(node, generation)  # the next opens are the shim's
        return info

    @handler
    @changes
    async def create(self, parent_inode: InodeT, name: FileNameT, mode: ModeT, flags: FlagT,
                     ctx: RequestContext) -> tuple[FileInfo, EntryAttributes]:
        parent = self._node(parent_inode)
        info, attr = await self._view(parent).create(parent, os.fsdecode(name), mode, flags,
                                                     ctx)
        self._writers.add(info.fh)
        return info, attr

    @handler
    async def read(self, fh: FileHandleT, off: int, size: int) -> bytes:
        view, h = self._file(fh)
        return await view.read(h, off, size)

    @handler
    @changes
    async def write(self, fh: FileHandleT, off: int, buf: bytes) -> int:
        view, h = self._file(fh)
        return await view.write(h, off, buf)

    @handler
    @changes
    async def flush(self, fh: FileHandleT) -> None:
        if fh & NO_RELEASE:
            return  # a reader: nothing to write
        view, h = self._file(fh)
        await view.flush(h)

    @handler
    async def release(self, fh: FileHandleT) -> None:
        opened = self.handles.pop(fh)
        if opened is None:
            return
        try:
            await opened[0].release(opened[1])
        finally:
            if fh in self._writers:  # a reader's close changes nothing
                self._writers.discard(fh)
                self.kernel.changed()

    @handler
    @changes
    async def fsync(self, fh: FileHandleT, datasync: bool) -> None:
        view, h = self._file(fh)
        await view.fsync(h, datasync)

    @handler
    async def statfs(self, ctx: RequestContext) -> StatvfsData:
        return pt.statfs(self.source)

    # -- extended attributes: passed through for SOURCE, none elsewhere -------------------

    @handler
    async def getxattr(self, inode: InodeT, name: XAttrNameT, ctx: RequestContext) -> bytes:
        node = self._node(inode)
        return await self._view(node).getxattr(node, name)

    @handler
    async def listxattr(self, inode: InodeT, ctx: RequestContext) -> list[XAttrNameT]:
        node = self._node(inode)
        return await self._view(node).listxattr(node)

    @handler
    @changes
    async def setxattr(self, inode: InodeT, name: XAttrNameT, value: bytes,
                       ctx: RequestContext) -> None:
        node = self._node(inode)
        await self._view(node).setxattr(node, name, value)

    @handler
    @changes
    async def removexattr(self, inode: InodeT, name: XAttrNameT, ctx: RequestContext) -> None:
        node = self._node(inode)
        await self._view(node).removexattr(node, name)

    # -- commits and status -------------------------------------------------------------

    async def commit_all(self) -> None:
        await self.editor.commit_all()

    def _commit_sync(self, photo: str, changes: dict[str, str | None]) -> Any:
        """Worker thread: one engine write of the photo, then its metadata read afresh.
        An edit the engine refuses is left out and the rest written (``landing.land``):
        one bad value, or the edits of other programs in the same debounce window, must
        not sink the others."""
        path = self.photos.path(photo)
        backups = os.path.join(self.source, BACKUP_DIR)

        def write(todo: dict[str, str | None]) -> Any:
            return self.photos.engine.write_metadata(path, todo, backups=backups,
                                                     root=self.source)

        result, refused = land(write, changes, self.photos.sync_partners)
        return result, self.photos.read_fresh(photo), refused

    async def _committed(self, photo: str, changes: Any, seq: int, result: Any, error: Any) -> None:
        await self.editor.committed(photo, changes, seq, result, error)
        await self.kernel.committed(photo)

    def status_text(self, ctx: RequestContext | None = None) -> bytes:
        control = self.views[Kind.CTL]
        assert isinstance(control, ControlView)
        return control.status_text(ctx)


__all__ = ["CONTROL", "JOURNAL_DIR", "Operations"]
