"""What the kernel keeps of the mount, and how the daemon keeps it true.

The kernel caches listings, attributes, names and tag contents (see metafs/fuse_shim.c and
passthrough.GENERATED_TIMEOUT).  Every change the daemon makes or notices is pushed to it
from here: its own commits, changes other programs make in SOURCE (metafs.watch), tags that
vanish, photos that go.  Notifications that can block go through a task of their own, never
from a handler: the kernel may be waiting on that very handler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import pyfuse3
import trio

from engine.safewrite.safety import is_temp_name
from metafs import passthrough as pt
from metafs.editing import MetaEditor, TagHandle
from metafs.inodes import InodeTable, Kind, Node
from metafs.photos import META_SUFFIX, PhotoViews, signature

log = logging.getLogger(__name__)


class KernelSync:
    """Mixed into metafs.fs.Operations: the state it uses is set up there."""

    notify_kernel: bool
    source: str
    inodes: InodeTable
    views: PhotoViews
    editor: MetaEditor
    _stale_send: Any
    _stale_recv: Any
    _src: Callable[[str], str]

    async def _send_invalidations(self) -> None:
        async for inodes in self._stale_recv:
            await trio.to_thread.run_sync(_invalidate, inodes)

    def _stale(self, nodes: list[Node | None]) -> None:
        if self.notify_kernel:
            self._stale_send.send_nowait([n.inode for n in nodes if n is not None])

    def _photo_changed(self, rel: str) -> None:
        """Changed by another program: its .meta folders may list other tags now."""
        self._stale(self.inodes.nodes_of_photo(rel))
        self._forget_vanished(rel)

    def _forget_vanished(self, photo: str) -> None:
        """Tags the photo no longer has: the kernel must forget their names too.  Else it
        keeps them for the entry timeout, and `echo x > Tag`, which should make the tag
        again, fails there: the kernel opens the name it knows (and asks for attributes
        the daemon no longer has) instead of creating it."""
        if not self.notify_kernel:
            return
        cached = self.views.cached(photo)
        md = cached.md if cached is not None else None
        scratch = self.views.scratch.get(photo, {})
        for node in self.inodes.nodes_of_photo(photo):
            if node.kind is not Kind.TAG or node.sub in scratch:
                continue
            if self.views.value_content(photo, md, node.sub) is not None:
                continue
            folder, name = os.path.split(node.sub)
            parent = self.inodes.find(Kind.META, photo, folder)
            if parent is not None:
                pyfuse3.invalidate_entry_async(parent.inode, os.fsencode(name),
                                               ignore_enoent=True)

    def _source_changed(self, paths: set[str], folders: set[str]) -> None:
        """Entries of SOURCE changed (metafs.watch): drop what the kernel keeps of them.  A
        photo still the file this daemon last read (its own commit, say) needs nothing."""
        stale: list[Node | None] = []
        for rel in paths:
            if is_temp_name(os.path.basename(rel)):
                continue  # a rewrite's temporary file: the rename reports the photo
            photo = self.views.cached(rel)
            if photo is not None and photo.sig is not None:
                try:
                    now = signature(os.stat(self._src(rel)))
                except OSError:
                    now = None
                if now == photo.sig:
                    continue
                photo.checked = -1e9  # the next access looks at the file again
            nodes = self.inodes.nodes_of_photo(rel)
            self._sizes_stale(nodes)
            stale += nodes
            folders.add(os.path.dirname(rel))  # NAME.meta may come, go or change mode
            if rel.endswith(META_SUFFIX):
                # A real X.meta came or went: the name now means the file, or the view of
                # the photo X again (the kernel may hold either for the entry timeout).
                self._forget_name(rel)
        stale += [self.inodes.find(Kind.SRC, d) for d in folders]
        self._stale(stale)

    def _sizes_stale(self, nodes: list[Node]) -> None:
        """A photo changed: its tag files' sizes may have.  Their attributes go now (that
        never blocks), before anything else is awaited, so that a stat does not give the
        old size once the watcher woke; pages follow through ``_stale``'s task."""
        if not self.notify_kernel:
            return
        for node in nodes:
            if node.kind is Kind.TAG:
                try:
                    pyfuse3.invalidate_inode(node.inode, attr_only=True)
                except OSError:
                    pass  # the kernel does not know the inode: nothing cached

    def _forget_name(self, rel: str) -> None:
        parent = self.inodes.find(Kind.SRC, os.path.dirname(rel))
        if self.notify_kernel and parent is not None:
            pyfuse3.invalidate_entry_async(parent.inode, os.fsencode(os.path.basename(rel)),
                                           ignore_enoent=True)

    def _watch_trusted(self, trusted: bool) -> None:
        """The watcher sees every change to SOURCE (or no longer does): the kernel may keep
        generated entries long (or must fetch them again, now with the short timeout)."""
        was = self.editor.timeout
        self.editor.timeout = pt.WATCHED_TIMEOUT if trusted else pt.GENERATED_TIMEOUT
        if self.editor.timeout < was:
            self._stale(self.inodes.all_nodes())

    def _source_overflow(self) -> None:
        """The kernel dropped events: anything in SOURCE may have changed."""
        log.warning("watching %s: events were lost; dropping every cached view", self.source)
        self.views.recheck_all()
        self._stale(self.inodes.all_nodes())

    def _folder_changed(self, kind: Kind, rel: str) -> None:
        """A file in this folder was written: it may have become a photo (or stopped
        being one), which adds or removes its NAME.meta entry."""
        self._stale([self.inodes.find(kind, os.path.dirname(rel))])

    def _meta_gone(self, parent_inode: int, name: bytes, rel: str) -> None:
        """The photo ``rel`` was removed or renamed: its NAME.meta entry, which the kernel
        may hold for a second, goes too (else `ls NAME.meta` finds a folder it cannot open)."""
        if self.notify_kernel and self.inodes.find(Kind.META, rel) is not None:
            meta = name + META_SUFFIX.encode()
            pyfuse3.invalidate_entry_async(parent_inode, meta, ignore_enoent=True)

    def _cache_page(self, node: Node, handle: TagHandle) -> bool:
        """A reader goes through the kernel's page cache (no read request when it holds the
        content already).  The cache is kept only while the content is the one it was filled
        with; otherwise the open drops it, and attributes giving another size are
        invalidated first, so that reads are cut at the right length."""
        content = handle.snapshot
        handle.node = node
        if node.page == content:
            return True
        node.page = content
        if not self.notify_kernel:
            return False
        if node.told != len(content):
            try:
                pyfuse3.invalidate_inode(node.inode, attr_only=True)  # never blocks
            except OSError:
                pass  # the kernel does not know the inode: nothing cached
        first, node.read_before = not node.read_before, True
        if not first:
            return False  # the kernel drops its cache at this open and reads anew
        # The first reader: hand the kernel the content now.  No READ request follows, nor
        # the GETATTR a read costs later (a READ marks the atime stale, and the next stat
        # asks for it): a second walk of a tree costs one request per file, not two.  Only
        # for the first: the store waits for the page locks a reader holds while its READ
        # waits for this loop, and before this open there was no reader.
        try:
            pyfuse3.notify_store(node.inode, 0, content)
        except OSError:
            return False
        return True


def _invalidate(inodes: list[int]) -> None:
    for inode in inodes:
        try:
            pyfuse3.invalidate_inode(inode, attr_only=False)
        except OSError:  # the kernel forgot it already
            continue
