"""pyfuse3 Operations: thin handlers that route each request by the kind of node it names.

SOURCE is passed through (``SRC`` nodes); ``NAME.meta/`` folders are generated from the
photo's metadata (``META``/``TAG`` nodes, logic in ``metafs.editing``); ``.originals/`` is a
read-only view of the backups; ``.metafs/status`` tells what the daemon is doing.  What the
kernel caches of all this, and how it is kept true, is ``metafs.kernel``.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import stat
from typing import Any

import pyfuse3
import trio

from engine.errors import EngineError
from engine.safewrite.safety import backup_path_for, is_temp_name
from metafs import passthrough as pt
from metafs.batcher import Batcher
from metafs.editing import MetaEditor, StaticHandle, TagHandle, land
from metafs.errors import fail, fuse_error, handler, requests
from metafs.index import MetaIndex
from metafs.inodes import InodeTable, Kind, Node
from metafs.journal import Journal
from metafs.kernel import KernelSync, _invalidate
from metafs.passthrough import SrcHandle
from metafs.photos import (
    META_SUFFIX,
    EngineFacade,
    PhotoViews,
    dir_mode,
    meta_name_fits,
    real_engine,
    signature,
)
from metafs.tagfiles import ScratchFile
from metafs.watch import Watcher

log = logging.getLogger(__name__)

ORIGINALS = ".originals"
CONTROL = ".metafs"
JOURNAL_DIR = ".journal"  # inside SOURCE/.originals, hidden from every view
DIR_RO = stat.S_IFDIR | 0o555
# An fh with this bit names the inode of a tag file opened read-only: no handle is kept, reads
# serve the inode's page, and metafs/fuse_shim.c answers the RELEASE (METAFS_NO_RELEASE).
NO_RELEASE = 1 << 62
MAX_LISTINGS = 64  # folder listings kept between the pieces of a readdir


class Operations(KernelSync, pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(
        self,
        source: str,
        *,
        engine: EngineFacade | None = None,
        journal: Journal | None = None,
        debounce: float = 0.3,
        read_only: bool = False,
        notify_kernel: bool = True,
        mountpoint: str = "",
        watch_source: bool = False,
        index: MetaIndex | None = None,
    ) -> None:
        super().__init__()
        self.source = os.path.abspath(source)
        self.backups = os.path.join(self.source, ORIGINALS)
        self.read_only = read_only
        self.notify_kernel = notify_kernel
        self.mountpoint = mountpoint
        self.terminated_by_signal = False  # then the daemon unmounts itself at the end
        self.inodes = InodeTable()
        self.views = PhotoViews(engine or real_engine(), self.source)
        self.views.index = index
        self.batcher = Batcher(self._commit_sync, debounce=debounce, on_done=self._committed)
        self.views.overlay = self.batcher.overlay
        self.views.on_change = self._photo_changed
        self.editor = MetaEditor(self.views, self.batcher, journal, read_only=read_only)
        self._handles: dict[int, Any] = {}
        self._next_fh = 1
        self._dirs: dict[int, tuple[Node, list[tuple[str, Node, Any]]]] = {}
        # With metafs/fuse_shim.c the kernel sends no OPENDIR: readdir and fsyncdir get the
        # folder's inode as fh, and a listing is kept per inode while the kernel reads it in
        # pieces (it caches the listing itself afterwards).  Set by mount.run().
        self.dirs_by_inode = False
        # With the shim's RELEASE answer (fuse_shim.releases_readers()): readers of tag files
        # get an fh naming the inode, not a handle.  Set by mount.run().
        self.stateless_readers = False
        self._listings: dict[int, list[tuple[str, Node, Any]]] = {}
        # SRC inode -> the file's (inode, size, mtime, ctime) at its last read-only open
        self._src_seen: dict[int, tuple[int, int, int, int] | None] = {}
        # TAG inode -> the photo's signature when its page (``Node.page``) was made
        self._page_sig: dict[int, tuple[int, int, int, int]] = {}
        # TAG inode -> (the photo's signature, the content, the node's key) its last lookup
        # found (a rename in .meta gives the inode another key)
        self._fresh: dict[int, tuple[tuple[int, int, int, int], bytes, Any]] = {}
        # Inodes whose cached attributes, pages and listings the kernel must drop; sent by
        # a task of its own, never from a handler (the kernel may be waiting on that very
        # handler while it invalidates).
        self._stale_send, self._stale_recv = trio.open_memory_channel(math.inf)
        # Changes other programs make in SOURCE, pushed to the kernel as they happen (else
        # they show when the kernel's cache times out: up to GENERATED_TIMEOUT).
        self.watcher: Watcher | None = None
        if watch_source and notify_kernel:
            self.watcher = Watcher(self.source, (ORIGINALS,), self._source_changed,
                                   self._source_overflow, self._watch_trusted)

    def start(self, nursery: trio.Nursery) -> None:
        self.batcher.start(nursery)
        if self.notify_kernel:
            nursery.start_soon(self._send_invalidations)
        if self.watcher is not None:
            nursery.start_soon(self.watcher.run)
        if self.views.index is not None:
            nursery.start_soon(self._flush_index)

    async def _flush_index(self) -> None:
        """Rows decoded at the end of a walk reach the index within a fraction of a second
        (a batch is otherwise written when the next one fills)."""
        index = self.views.index
        assert index is not None
        while True:
            await trio.sleep(0.25)
            if index.due():
                await trio.to_thread.run_sync(index.flush)

    # -- paths and nodes ----------------------------------------------------------------

    def _node(self, inode: int) -> Node:
        node = self.inodes.get(inode)
        if node is None:
            raise fail(errno.ESTALE)
        return node

    def _src(self, rel: str) -> str:
        return os.path.join(self.source, rel) if rel else self.source

    def _orig(self, rel: str) -> str:
        return os.path.join(self.backups, rel) if rel else self.backups

    def _fh(self, handle: Any) -> int:
        fh = self._next_fh
        self._next_fh += 1
        self._handles[fh] = handle
        return fh

    def _handle(self, fh: int) -> Any:
        h = self._handles.get(fh)
        if h is None:
            raise fail(errno.EBADF)
        return h

    async def _child(self, parent: Node, name: str) -> Node:
        """The node ``name`` in ``parent`` names (not counted as a lookup)."""
        if parent.kind is Kind.SRC:
            if not parent.rel and name == ORIGINALS:
                return self.inodes.node(Kind.ORIG, "")
            if not parent.rel and name == CONTROL:
                return self.inodes.node(Kind.CTL, "")
            rel = os.path.join(parent.rel, name) if parent.rel else name
            if self._is_view(rel):
                return self.inodes.node(Kind.META, rel[: -len(META_SUFFIX)], "")
            os.lstat(self._src(rel))
            return self.inodes.node(Kind.SRC, rel)
        if parent.kind is Kind.META:
            sub = f"{parent.sub}/{name}" if parent.sub else name
            kind = await self.editor.entry_kind(parent.rel, sub)
            if kind is None:
                raise fail(errno.ENOENT)
            return self.inodes.node(Kind.META if kind == "dir" else Kind.TAG, parent.rel, sub)
        if parent.kind is Kind.ORIG:
            if not parent.rel and name == JOURNAL_DIR:
                raise fail(errno.ENOENT)
            rel = os.path.join(parent.rel, name) if parent.rel else name
            os.lstat(self._orig(rel))
            return self.inodes.node(Kind.ORIG, rel)
        if parent.kind is Kind.CTL and not parent.sub and name == "status":
            return self.inodes.node(Kind.CTL, "", "status")
        raise fail(errno.ENOENT)

    def _is_photo(self, rel: str) -> bool:
        # lstat, as listings do: a symlink has no .meta (its target may lie outside SOURCE;
        # a link inside SOURCE shows the photo's tags at the photo itself).
        try:
            st = os.lstat(self._src(rel))
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode) and self._has_view(rel, st)

    def _has_view(self, rel: str, st: os.stat_result) -> bool:
        """A regular file gets a NAME.meta view when it is an image, but never a write's
        temporary file (``.x.jpg.metafs-XXXX.tmp``, left by a crash or being renamed)."""
        name = os.path.basename(rel)
        return meta_name_fits(name) and not is_temp_name(name) and self.views.is_image(rel, st)

    def _is_view(self, rel: str) -> bool:
        """Whether SOURCE path ``rel`` names a photo's generated NAME.meta folder.  A real
        SOURCE entry of that name wins: it is passed through, the photo shows no view."""
        if not rel.endswith(META_SUFFIX) or len(os.path.basename(rel)) <= len(META_SUFFIX):
            return False
        photo = rel[: -len(META_SUFFIX)]
        if not self._is_photo(photo):
            return False
        if os.path.lexists(self._src(rel)):
            self._shadowed(photo)
            return False
        return True

    def _shadowed(self, photo: str) -> None:
        self.editor.status.note_once(
            photo, f"no .meta folder: SOURCE has its own {photo}{META_SUFFIX}, shown as it is"
        )

    async def _attr(self, node: Node) -> pyfuse3.EntryAttributes:
        if node.kind is Kind.TAG:
            attr = await self.editor.attr(node)
            node.told = attr.st_size
            self._note_fresh(node)
            return attr
        if node.kind is Kind.SRC:
            return pt.attr_from_stat(node.inode, os.lstat(self._src(node.rel)))
        if node.kind is Kind.ORIG:
            if not node.rel and not os.path.isdir(self.backups):
                return pt.synth_attr(node.inode, DIR_RO, 0, os.stat(self.source))
            return pt.attr_from_stat(node.inode, os.lstat(self._orig(node.rel)), read_only=True)
        if node.kind is Kind.CTL:
            like = os.stat(self.source)
            if node.sub == "status":
                size = len(self.status_text())
                return pt.synth_attr(node.inode, stat.S_IFREG | 0o444, size, like,
                                     timeout=pt.TIMEOUT)
            return pt.synth_attr(node.inode, DIR_RO, 0, like, timeout=pt.TIMEOUT)
        return await self.editor.attr(node)

    # -- lookups ------------------------------------------------------------------------

    @handler
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: Any = None
    ) -> pyfuse3.EntryAttributes:
        node = await self._child(self._node(parent_inode), os.fsdecode(name))
        attr = await self._attr(node)
        self.inodes.remember(node)
        return attr

    @handler
    async def forget(self, inode_list: Any) -> None:
        for inode, n in inode_list:
            self.inodes.forget(inode, n)
            if self.inodes.get(inode) is None:
                self._src_seen.pop(inode, None)
                self._page_sig.pop(inode, None)
                self._fresh.pop(inode, None)

    def _page_current(self, node: Node) -> bool:
        """A reader's open of a tag file whose page the kernel holds, made from the photo as
        it is now (same inode, size, mtime, ctime) with nothing pending on it: the page is
        the answer, no metadata is needed (a walk's opens cost a stat each)."""
        sig = self._page_sig.get(node.inode)
        return sig is not None and node.page is not None and self._unchanged(node, sig)

    def _unchanged(self, node: Node, sig: tuple[int, int, int, int]) -> bool:
        """The tag file of a photo whose signature is still ``sig``, with nothing pending."""
        if not self.stateless_readers or node.kind is not Kind.TAG:
            return False
        if not self.views.clean(node.rel) or node.sub in self.views.scratch.get(node.rel, {}):
            return False
        try:
            return signature(os.stat(self._src(node.rel))) == sig
        except OSError:
            return False

    def _note_fresh(self, node: Node) -> None:
        """What a tag file's lookup found, for the open that usually follows (``open``)."""
        photo = self.views.cached(node.rel)
        if photo is None or photo.sig is None or not self.views.clean(node.rel):
            return
        content = self.views.value_content(node.rel, photo.md, node.sub)
        if content is not None:
            self._fresh[node.inode] = (photo.sig, content, node.key)

    def _src_unchanged(self, node: Node, fd: int, writing: int) -> bool:
        """Whether the kernel may keep the pages it holds of this file (FOPEN_KEEP_CACHE):
        only while the file is the one the last open saw (inode, size, mtime, ctime), so a
        photo another program rewrote is read anew at its next open, watcher or not (the
        watcher and commits also drop the pages of a photo that changes while open)."""
        st = os.fstat(fd)
        sig = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        keep = not writing and self._src_seen.get(node.inode) == sig
        self._src_seen[node.inode] = None if writing else sig
        return keep

    @handler
    async def getattr(self, inode: int, ctx: Any = None) -> pyfuse3.EntryAttributes:
        return await self._attr(self._node(inode))

    @handler
    async def setattr(
        self, inode: int, attr: Any, fields: Any, fh: int | None, ctx: Any = None
    ) -> Any:
        node = self._node(inode)
        if node.kind is Kind.SRC:
            self._writable()
            fd = (
                self._handles[fh].fd
                if fh in self._handles and isinstance(self._handles[fh], SrcHandle)
                else None
            )
            await trio.to_thread.run_sync(pt.set_attributes, self._src(node.rel), fd, attr, fields)
            if fields.update_size:
                self._folder_changed(Kind.SRC, node.rel)
        elif node.kind is Kind.TAG:
            await self.editor.setattr(node, attr, fields, self._handles.get(fh) if fh else None)
            self._forget_vanished(node.rel)
            if fields.update_size and attr.st_size == 0:
                try:
                    return await self._attr(node)
                except pyfuse3.FUSEError:
                    # `truncate -s 0 Make` deleted the tag: the call still succeeded, on a
                    # file that is empty now (and gone at the next lookup)
                    st = self.views.stat(node.rel)
                    return pt.synth_attr(node.inode, stat.S_IFREG | 0o644, 0, st, timeout=0)
        elif fields.update_size or fields.update_mode or fields.update_uid or fields.update_gid:
            raise fail(errno.EROFS if node.kind is Kind.ORIG else errno.EPERM)
        return await self._attr(node)

    @handler
    async def readlink(self, inode: int, ctx: Any = None) -> bytes:
        node = self._node(inode)
        base = self._src if node.kind is Kind.SRC else self._orig
        if node.kind not in (Kind.SRC, Kind.ORIG):
            raise fail(errno.EINVAL)
        return os.fsencode(os.readlink(base(node.rel)))

    # -- directories --------------------------------------------------------------------

    @handler
    async def opendir(self, inode: int, ctx: Any = None) -> int:
        node = self._node(inode)
        fh = self._next_fh
        self._next_fh += 1
        self._dirs[fh] = (node, await self._listing(node))
        return fh

    async def _listing(self, node: Node) -> list[tuple[str, Node, Any]]:
        """Snapshot of a folder: (name, node key as a Node template, how to make its
        attributes: an lstat result, a (mode, size, like, mtime) tuple, or None)."""
        out: list[tuple[str, Node, Any]] = []
        if node.kind is Kind.SRC:
            entries = await trio.to_thread.run_sync(self._scan_src, node.rel)
            for name, kind, rel, st in entries:
                proto = st if kind is Kind.SRC else (dir_mode(st, not self.read_only), 0, st, None)
                out.append((name, Node(0, kind, rel), proto))
            if not node.rel:
                out.append((ORIGINALS, Node(0, Kind.ORIG, ""), None))
                out.append((CONTROL, Node(0, Kind.CTL, ""), None))
        elif node.kind is Kind.META:
            return await self.editor.listing(node.rel, node.sub)  # sorted; maybe memoized
        elif node.kind is Kind.ORIG:
            path = self._orig(node.rel)
            entries = await trio.to_thread.run_sync(pt.scan, path) if os.path.isdir(path) else []
            for name, _st in entries:
                if node.rel or name != JOURNAL_DIR:
                    rel = os.path.join(node.rel, name) if node.rel else name
                    out.append((name, Node(0, Kind.ORIG, rel), None))
        elif node.kind is Kind.CTL and not node.sub:
            out.append(("status", Node(0, Kind.CTL, "", "status"), None))
        else:
            raise fail(errno.ENOTDIR)
        out.sort(key=lambda e: e[0])
        return out

    async def _entry_attr(self, node: Node, proto: Any) -> pyfuse3.EntryAttributes:
        if proto is None:
            return await self._attr(node)
        if isinstance(proto, os.stat_result):
            return pt.attr_from_stat(node.inode, proto)
        mode, size, like, mtime = proto
        return pt.synth_attr(node.inode, mode, size, like, mtime_ns=mtime,
                             timeout=self.editor.timeout)

    def _scan_src(self, rel: str) -> list[tuple[str, Kind, str, os.stat_result]]:
        """Blocking: a SOURCE folder plus a NAME.meta entry for each photo."""
        out = []
        entries = pt.scan(self._src(rel))
        names = {name for name, _st in entries}
        for name, st in entries:
            if not rel and name in (ORIGINALS, CONTROL):
                continue
            path = os.path.join(rel, name) if rel else name
            out.append((name, Kind.SRC, path, st))
            if stat.S_ISREG(st.st_mode) and self._has_view(path, st):
                if name + META_SUFFIX in names:
                    self._shadowed(path)  # the real NAME.meta is listed instead
                else:
                    out.append((name + META_SUFFIX, Kind.META, path, st))
        return out

    async def _entries(self, fh: int, start_id: int) -> list[tuple[str, Node, Any]]:
        if not self.dirs_by_inode:
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
    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
        entries = await self._entries(fh, start_id)
        node_of = self.inodes.node
        for i in range(start_id, len(entries)):
            entry = entries[i]
            name, tmpl, proto = entry
            node = node_of(tmpl.kind, tmpl.rel, tmpl.sub)
            attr = node.attr if node.attr_of is entry else None
            if attr is None:
                try:
                    attr = await self._entry_attr(node, proto)
                except (OSError, pyfuse3.FUSEError):
                    self.inodes.forget(node.inode, 0)
                    continue  # vanished since opendir
                if proto is not None:  # made from the snapshot: reusable with it
                    node.attr, node.attr_of = attr, entry
            if not pyfuse3.readdir_reply(token, os.fsencode(name), attr, i + 1):
                if node.lookups == 0:
                    self.inodes.forget(node.inode, 0)
                return
            if node.kind is Kind.TAG:
                node.told = attr.st_size
            node.lookups += 1
        if self.dirs_by_inode and start_id >= len(entries):
            self._listings.pop(fh, None)  # the end: the kernel has it all

    @handler
    async def releasedir(self, fh: int) -> None:
        self._dirs.pop(fh, None)

    @handler
    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        # fsync on a .meta folder commits its photo; on .metafs/ (what `metafs umount`
        # uses) or a SOURCE folder, every pending edit.
        if self.dirs_by_inode:
            node = self._node(fh)
        elif fh in self._dirs:
            node = self._dirs[fh][0]
        else:
            raise fail(errno.EBADF)
        if node.kind is Kind.META:
            await self.editor.commit_photo(node.rel)
        elif node.kind in (Kind.CTL, Kind.SRC):
            await self.commit_all()

    @handler
    async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any) -> Any:
        meta = self._node(parent_inode)
        if meta.kind is Kind.META:
            sub = await self.editor.mkdir(meta, os.fsdecode(name))
            return await self._new_entry(Kind.META, meta.rel, sub)
        parent = self._src_parent(parent_inode)
        rel = self._join(parent.rel, name)
        os.mkdir(self._src(rel), mode)
        _give_to_caller(self._src(rel), ctx)
        return await self._new_entry(Kind.SRC, rel)

    @handler
    async def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent = self._node(parent_inode)
        if parent.kind is Kind.META:
            await self.editor.rmdir(parent, os.fsdecode(name))
            return
        parent = self._src_parent(parent_inode)
        rel = self._join(parent.rel, name)
        os.rmdir(self._src(rel))
        self.inodes.drop_key(Kind.SRC, rel)

    # -- names: create, remove, rename, link --------------------------------------------

    def _src_parent(self, inode: int) -> Node:
        node = self._node(inode)
        if node.kind is Kind.ORIG:
            raise fail(errno.EROFS)
        if node.kind is not Kind.SRC:
            raise fail(errno.EPERM)
        self._writable()
        return node

    def _writable(self) -> None:
        if self.read_only:
            raise fail(errno.EROFS)

    @staticmethod
    def _join(rel: str, name: bytes) -> str:
        n = os.fsdecode(name)
        if not rel and n in (ORIGINALS, CONTROL):
            raise fail(errno.EPERM)
        return os.path.join(rel, n) if rel else n

    async def _new_entry(self, kind: Kind, rel: str, sub: str = "") -> pyfuse3.EntryAttributes:
        node = self.inodes.node(kind, rel, sub)
        attr = await self._attr(node)
        self.inodes.remember(node)
        return attr

    @handler
    async def mknod(self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: Any) -> Any:
        parent = self._src_parent(parent_inode)
        rel = self._join(parent.rel, name)
        os.mknod(self._src(rel), mode, rdev)
        _give_to_caller(self._src(rel), ctx)
        return await self._new_entry(Kind.SRC, rel)

    @handler
    async def symlink(self, parent_inode: int, name: bytes, target: bytes, ctx: Any) -> Any:
        parent = self._src_parent(parent_inode)
        rel = self._join(parent.rel, name)
        os.symlink(target, self._src(rel))
        _give_to_caller(self._src(rel), ctx)
        return await self._new_entry(Kind.SRC, rel)

    @handler
    async def link(self, inode: int, new_parent_inode: int, new_name: bytes, ctx: Any) -> Any:
        node = self._node(inode)
        parent = self._src_parent(new_parent_inode)
        if node.kind is not Kind.SRC:
            raise fail(errno.EXDEV)
        rel = self._join(parent.rel, new_name)
        os.link(self._src(node.rel), self._src(rel), follow_symlinks=False)
        return await self._new_entry(Kind.SRC, rel)

    @handler
    async def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent = self._node(parent_inode)
        if parent.kind is Kind.META:
            sub = await self.editor.unlink(parent, os.fsdecode(name))
            self.inodes.drop_key(Kind.TAG, parent.rel, sub)
            return
        parent = self._src_parent(parent_inode)
        rel = self._join(parent.rel, name)
        os.unlink(self._src(rel))
        self.batcher.discard(rel)
        if self.editor.journal is not None:
            try:
                await self.editor.journal.drop(rel)
            except OSError as e:  # the photo is gone all the same; say so
                self.editor.status.error(f"journal: dropping the edits of {rel}", e)
        self.views.forget(rel)
        self._meta_gone(parent_inode, name, rel)
        self.inodes.drop_key(Kind.SRC, rel)
        self.inodes.drop_key(Kind.META, rel)

    @handler
    async def rename(
        self, p_old: int, name_old: bytes, p_new: int, name_new: bytes, flags: int, ctx: Any
    ) -> None:
        old_parent, new_parent = self._node(p_old), self._node(p_new)
        if old_parent.kind is Kind.SRC:
            view = self._join(old_parent.rel, name_old)
            if self._is_view(view):
                # EPERM, not EXDEV: mv would then copy every tag into the target and remove
                # them all from this photo.  Not EIO: nothing went wrong.
                self.editor.status.error(
                    view, "a .meta folder cannot be renamed: it is the view of its photo "
                    "(rename the photo; its tags go with it)", photo=view[: -len(META_SUFFIX)]
                )
                raise fail(errno.EPERM)
        if old_parent.kind is Kind.META or new_parent.kind is Kind.META:
            if old_parent.kind is not Kind.META or new_parent.kind is not Kind.META:
                raise fail(errno.EXDEV)
            if old_parent.rel != new_parent.rel:
                raise fail(errno.EXDEV)
            src, dst = await self.editor.rename(
                old_parent, os.fsdecode(name_old), new_parent, os.fsdecode(name_new), flags
            )
            moved = self.inodes.find(Kind.TAG, old_parent.rel, src)
            self.inodes.drop_key(Kind.TAG, old_parent.rel, dst)
            if moved is not None:
                self.inodes.move(moved, old_parent.rel, dst)
            return
        if flags:
            raise fail(errno.EINVAL)  # RENAME_NOREPLACE / EXCHANGE: not passed through
        old_parent, new_parent = self._src_parent(p_old), self._src_parent(p_new)
        old, new = self._join(old_parent.rel, name_old), self._join(new_parent.rel, name_new)
        # Pending edits belong to the photo under its old name: land them first.
        if self.batcher.busy():
            await self.commit_all()
        os.rename(self._src(old), self._src(new))
        self._move_backups(old, new)
        self.views.forget(old)
        self.views.forget(new)
        self._meta_gone(p_old, name_old, old)
        self.inodes.rekey(Kind.SRC, old, new)
        if self.editor.journal is not None:
            try:
                await self.editor.journal.rename(old, new)
            except OSError as e:
                self.editor.status.error(f"journal: rename {old} -> {new}", e)

    def _move_backups(self, old: str, new: str) -> None:
        """The originals of a renamed photo, or of the photos of a renamed folder, move with
        it, so that restoring the new name finds them.  Done before the next await: no
        commit of the new name can make a backup there first."""
        if JOURNAL_DIR in (old.split("/")[0], new.split("/")[0]):
            return  # .originals/.journal is the journal, not a backup
        src = backup_path_for(self._src(old), self.backups)
        dst = backup_path_for(self._src(new), self.backups)
        if not os.path.lexists(src):
            return  # never edited here: no original kept
        try:
            left = pt.move_backups(src, dst, root=os.fspath(self.backups))
        except (OSError, EngineError) as e:
            self.editor.status.error(f"{old} -> {new}", f"the original was not moved: {e}")
            return
        for path in left:
            rel = os.path.relpath(path, self.backups)
            there = new + rel[len(old) :]
            self.editor.status.error(
                f"{old} -> {new}",
                f"the original stays at {ORIGINALS}/{rel}: {ORIGINALS}/{there} exists already "
                f"(kept; restoring {there} uses that one)",
            )
        if not left:  # the .originals view shows the move at once
            up = self.inodes.find(Kind.ORIG, os.path.dirname(old))
            if self.notify_kernel and up is not None:
                name = os.fsencode(os.path.basename(old))
                pyfuse3.invalidate_entry_async(up.inode, name, ignore_enoent=True)
            self.inodes.rekey(Kind.ORIG, old, new)
        # Both folders list other names now (the kernel may hold their listings).
        self._stale([self.inodes.find(Kind.ORIG, os.path.dirname(p)) for p in (old, new)])

    # -- files --------------------------------------------------------------------------

    @handler
    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        node = self._node(inode)
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND)
        if node.kind is Kind.SRC:
            if writing:
                self._writable()
            fd = os.open(self._src(node.rel), flags & ~(os.O_CREAT | os.O_EXCL | os.O_NOCTTY))
            return pyfuse3.FileInfo(fh=self._fh(SrcHandle(fd, node.rel)),
                                    keep_cache=self._src_unchanged(node, fd, writing))
        if node.kind is Kind.ORIG:
            if writing:
                raise fail(errno.EROFS)
            fd = os.open(self._orig(node.rel), os.O_RDONLY)
            return pyfuse3.FileInfo(fh=self._fh(SrcHandle(fd, node.rel)))
        if node.kind is Kind.CTL:
            if writing:
                raise fail(errno.EACCES)
            data = self.status_text(ctx)
            return pyfuse3.FileInfo(fh=self._fh(StaticHandle(data)), direct_io=True)
        if node.kind is Kind.META:
            raise fail(errno.EISDIR)
        if not writing and self._page_current(node):
            node.read_before = True
            return pyfuse3.FileInfo(fh=NO_RELEASE | node.inode, keep_cache=True)
        fresh = self._fresh.pop(node.inode, None)
        if (not writing and fresh is not None and fresh[2] == node.key
                and self._unchanged(node, fresh[0])):
            # Looked up a moment ago (the photo as it is now, nothing pending): the content
            # then is the content now; no need to load the photo's metadata again.
            keep = self._cache_page(node, TagHandle(node.rel, node.sub, fresh[1]))
            self._page_sig[node.inode] = fresh[0]
            return pyfuse3.FileInfo(fh=NO_RELEASE | node.inode, keep_cache=keep)
        handle = await self.editor.open(node, flags)
        if not isinstance(handle, TagHandle) or handle.buf is not None:
            return pyfuse3.FileInfo(fh=self._fh(handle), direct_io=True)
        keep = self._cache_page(node, handle)
        cached = self.views.cached(node.rel)
        if cached is not None and cached.sig is not None and node.page is not None:
            self._page_sig[node.inode] = cached.sig
        if self.stateless_readers:
            return pyfuse3.FileInfo(fh=NO_RELEASE | node.inode, keep_cache=keep)
        return pyfuse3.FileInfo(fh=self._fh(handle), keep_cache=keep)

    @handler
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: Any) -> Any:
        parent = self._node(parent_inode)
        if parent.kind is Kind.META:
            sub, handle = await self.editor.create(parent, os.fsdecode(name), mode, flags)
            attr = await self._new_entry(Kind.TAG, parent.rel, sub)
            return pyfuse3.FileInfo(fh=self._fh(handle), direct_io=True), attr
        parent = self._src_parent(parent_inode)
        rel = self._join(parent.rel, name)
        path = self._src(rel)
        try:  # O_EXCL: only a file made here is given to the caller, never one that was there
            fd, made = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode), True
        except FileExistsError:
            if flags & os.O_EXCL:
                raise
            fd, made = os.open(path, flags & ~os.O_CREAT), False
        try:
            if made:
                _give_to_caller(path, ctx)
            attr = await self._new_entry(Kind.SRC, rel)
        except BaseException:
            os.close(fd)
            raise
        return pyfuse3.FileInfo(fh=self._fh(SrcHandle(fd, rel))), attr

    @handler
    async def read(self, fh: int, off: int, size: int) -> bytes:
        if fh & NO_RELEASE:
            return await self._read_page(self._node(fh & ~NO_RELEASE), off, size)
        h = self._handle(fh)
        if isinstance(h, SrcHandle):
            return await trio.to_thread.run_sync(os.pread, h.fd, size, off)
        return self.editor.read(h, off, size)

    async def _read_page(self, node: Node, off: int, size: int) -> bytes:
        """A read of a tag file opened read-only (NO_RELEASE): the content its last open
        showed, which the kernel caches (the page goes only with a rename in .meta)."""
        if node.page is None:
            handle = await self.editor.open(node, os.O_RDONLY)
            if not isinstance(handle, TagHandle):
                raise fail(errno.EIO)
            self._cache_page(node, handle)
        return bytes(node.page[off : off + size]) if node.page is not None else b""

    @handler
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        h = self._handle(fh)
        if isinstance(h, SrcHandle):
            h.written = True
            return await trio.to_thread.run_sync(os.pwrite, h.fd, buf, off)
        return await self.editor.write(h, off, buf)

    @handler
    async def flush(self, fh: int) -> None:
        if fh & NO_RELEASE:
            return
        h = self._handle(fh)
        if isinstance(h, TagHandle):
            try:
                await self.editor.flush(h)
            finally:
                if h.buf is not None:
                    self._forget_vanished(h.photo)  # an emptied tag is a deleted one

    @handler
    async def release(self, fh: int) -> None:
        h = self._handles.pop(fh, None)
        if isinstance(h, SrcHandle):
            os.close(h.fd)
            if h.written:
                self._folder_changed(Kind.SRC, h.rel)
        elif isinstance(h, TagHandle):
            try:
                await self.editor.release(h)
            finally:
                if h.buf is not None:
                    self._forget_vanished(h.photo)  # `: > Tag` deletes it

    @handler
    async def fsync(self, fh: int, datasync: bool) -> None:
        if fh & NO_RELEASE:
            # A reader: POSIX fsync flushes the file whatever the descriptor, so the
            # photo's pending edits are committed, as for a writer.
            node = self._node(fh & ~NO_RELEASE)
            await self.editor.commit_photo(node.rel, node.sub)
            return
        h = self._handle(fh)
        if isinstance(h, SrcHandle):
            await trio.to_thread.run_sync(os.fdatasync if datasync else os.fsync, h.fd)
        elif isinstance(h, TagHandle):
            await self.editor.fsync(h)

    @handler
    async def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        return pt.statfs(self.source)

    # -- extended attributes: passed through for SOURCE, none elsewhere -------------------

    @handler
    async def getxattr(self, inode: int, name: bytes, ctx: Any) -> bytes:
        node = self._node(inode)
        if node.kind is not Kind.SRC:
            raise fail(pyfuse3.ENOATTR)
        try:
            return os.getxattr(self._src(node.rel), name, follow_symlinks=False)
        except OSError as e:
            raise fail(
                pyfuse3.ENOATTR if e.errno == errno.ENODATA else e.errno or errno.EIO
            ) from None

    @handler
    async def listxattr(self, inode: int, ctx: Any) -> list[bytes]:
        node = self._node(inode)
        if node.kind is not Kind.SRC:
            return []
        return [os.fsencode(n) for n in os.listxattr(self._src(node.rel), follow_symlinks=False)]

    @handler
    async def setxattr(self, inode: int, name: bytes, value: bytes, ctx: Any) -> None:
        node = self._node(inode)
        if node.kind is not Kind.SRC:
            raise fail(errno.ENOTSUP)
        self._writable()
        os.setxattr(self._src(node.rel), name, value, follow_symlinks=False)

    @handler
    async def removexattr(self, inode: int, name: bytes, ctx: Any) -> None:
        node = self._node(inode)
        if node.kind is not Kind.SRC:
            raise fail(errno.ENOTSUP)
        self._writable()
        os.removexattr(self._src(node.rel), name, follow_symlinks=False)

    # -- commits ------------------------------------------------------------------------

    async def commit_all(self) -> None:
        failures = await self.batcher.commit_all()
        if failures:  # the disk's errno when it is the cause (ENOSPC...), else EIO
            raise fuse_error(failures[0].cause, unknown_tag=errno.EIO)

    def _commit_sync(self, photo: str, changes: dict[str, str | None]) -> Any:
        """Worker thread: one engine write of the photo, then its metadata read afresh.
        An edit the engine refuses is left out and the rest written (``editing.land``):
        one bad value, or the edits of other programs in the same debounce window, must
        not sink the others."""
        path = self.views.path(photo)

        def write(todo: dict[str, str | None]) -> Any:
            return self.views.engine.write_metadata(path, todo, backups=self.backups,
                                                    root=self.source)

        result, refused = land(write, changes, self.views.sync_partners)
        return result, self.views.read_fresh(photo), refused

    async def _committed(self, photo: str, changes: Any, seq: int, result: Any, error: Any) -> None:
        await self.editor.committed(photo, changes, seq, result, error)
        self._forget_vanished(photo)
        if self.notify_kernel:
            # The photo's tags, and the .originals folders a new backup appears in.
            nodes: list[Node | None] = list(self.inodes.nodes_of_photo(photo))
            folder = os.path.dirname(photo)
            while True:
                nodes.append(self.inodes.find(Kind.ORIG, folder))
                if not folder:
                    break
                folder = os.path.dirname(folder)
            await trio.to_thread.run_sync(_invalidate, [n.inode for n in nodes if n])

    # -- status -------------------------------------------------------------------------

    def status_text(self, ctx: Any = None) -> bytes:
        """Everything for the mounting user and root; for another user (``ctx``, the
        request's) the lines about photos they could read on the disk itself."""
        counts = ", ".join(f"{op} {n}" for op, n in sorted(requests.items()))
        viewer = None
        if ctx is not None and ctx.uid not in (0, os.geteuid()):
            uid, groups = ctx.uid, pt.caller_groups(ctx)
            viewer = lambda photo: pt.may_read(self.source, photo, uid, groups)  # noqa: E731
        return self.editor.status.render(
            viewer=viewer,
            source=self.source,
            mountpoint=self.mountpoint,
            read_only=self.read_only,
            debounce=self.batcher.debounce,
            pending=self.batcher.pending_photos(),
            commits=self.batcher.commits,
            failures=self.batcher.failures,
            extra=(
                f"kernel directory cache: {'on' if self.dirs_by_inode else 'off'}",
                "watching SOURCE: "
                + (f"{self.watcher.watching} folder(s)" if self.watcher else "off")
                + f"; generated entries cached {self.editor.timeout:g} s",
                f"requests: {sum(requests.values())} ({counts})",
                self._index_line(),
            ),
        )


    def _index_line(self) -> str:
        index = self.views.index
        where = f"{index.shown}, {index.state}" if index is not None else "none"
        hits = index.hits if index is not None else 0
        return (f"index: {where}; photos decoded {self.views.decodes}, "
                f"from the index {hits}")


def _give_to_caller(path: str, ctx: Any) -> None:
    """A daemon run by root creates SOURCE entries for whoever asked: they are theirs, as
    on the disk itself (else a user's new file belongs to root and they cannot write it)."""
    if os.geteuid() != 0 or ctx is None or (ctx.uid, ctx.gid) == (0, 0):
        return
    os.lchown(path, ctx.uid, ctx.gid)


__all__ = ["Operations", "ScratchFile"]
