"""What the kernel keeps of the mount, and how the daemon keeps it true.

The kernel caches listings, attributes, names and tag contents (see metafs/fuse_shim.c and
passthrough.GENERATED_TIMEOUT).  Every change the daemon makes or notices is pushed to it
through ``KernelCache``, which the views are given: its own commits, changes other programs
make in SOURCE (metafs.watch), tags that vanish, photos that go.  Notifications that can
block go through a task of their own, never from a handler: the kernel may be waiting on
that very handler.
"""

from __future__ import annotations

import logging
import math
import os
from typing import TYPE_CHECKING

import pyfuse3
import trio

import engine
from metafs import passthrough as pt
from metafs.config import SessionFeatures
from metafs.inodes import InodeTable, Kind, Node
from metafs.photos import META_SUFFIX, PhotoViews, signature
from metafs.tagfiles import TagHandle

if TYPE_CHECKING:
    from metafs.fuse_shim import CleanOpens

log = logging.getLogger(__name__)


class KernelCache:
    def __init__(self, inodes: InodeTable, photos: PhotoViews, *, notify: bool) -> None:
        self.inodes = inodes
        self.photos = photos
        self.notify = notify  # False: no kernel to tell (handlers called directly)
        # How long the kernel may keep generated entries: raised while the SOURCE watcher
        # sees every change (``watch_trusted``)
        self.timeout = pt.GENERATED_TIMEOUT
        # Inodes whose cached attributes, pages and listings the kernel must drop; sent by
        # a task of its own, never from a handler (the kernel may be waiting on that very
        # handler while it invalidates).
        self._send, self._recv = trio.open_memory_channel(math.inf)
        # Opens the shim answers for files marked clean (metafs/fuse_shim.c, item 5)
        self.clean_opens: CleanOpens | None = None
        self.generation = 0  # how many times ``changed`` was called
        # The kernel opens files without asking (a read-only mount, the shim's item 8): a
        # read it cannot serve from its pages must show the photo as it is now
        self.no_open = False

    def start(self, nursery: trio.Nursery, features: SessionFeatures | None = None) -> None:
        if features is not None and self.notify:
            self.clean_opens = features.clean_opens
            self.no_open = features.no_open
            if features.mark_generated is not None:
                self.inodes.mark_generated(features.mark_generated)
        if self.notify:
            nursery.start_soon(self._send_invalidations)

    def opened_clean(self, node: Node, generation: int) -> None:
        """A reader was given ``node`` with the kernel's pages kept, made from the file as it
        was at ``generation``: unless something changed since, its next read-only opens are
        answered by the shim, until anything changes (``changed``).  Only while the watcher
        sees every change to SOURCE: then no open needs to look at the photo (else each open
        checks it, as ``SourceView`` and ``TagView`` do)."""
        if (self.clean_opens is not None and self.timeout == pt.WATCHED_TIMEOUT
                and generation == self.generation):
            self.clean_opens.mark(node.inode)

    @property
    def source_timeout(self) -> float:
        """How long the kernel may keep entries and attributes of SOURCE paths: long while
        the watcher sees every change (it drops what changed: ``source_changed``), so an
        image viewer's open of a photo costs no LOOKUP and its reads no GETATTR."""
        return pt.WATCHED_TIMEOUT if self.timeout == pt.WATCHED_TIMEOUT else pt.TIMEOUT

    def opens_summary(self) -> str:
        """For the status file: how many opens the shim answered, and how often its marks
        ended (``changed``)."""
        shim = self.clean_opens.opens() if self.clean_opens is not None else 0
        line = f"opens answered by the shim: {shim}; marks ended {self.generation} time(s)"
        if self.no_open:
            line += "; the kernel opens files without asking (read-only mount)"
        return line

    def changed(self) -> None:
        """Something may show other content now (a request that changes files, a commit,
        a change seen in SOURCE): no open is answered without the daemon until it looked."""
        self.generation += 1
        if self.clean_opens is not None:
            self.clean_opens.stale()

    async def _send_invalidations(self) -> None:
        async for inodes in self._recv:
            await trio.to_thread.run_sync(invalidate, inodes)

    def stale(self, nodes: list[Node | None]) -> None:
        self.changed()
        if self.notify:
            self._send.send_nowait([n.inode for n in nodes if n is not None])

    def forget_entry(self, parent: Node | None, name: str) -> None:
        """The kernel forgets ``name`` in ``parent`` (never blocks)."""
        if self.notify and parent is not None:
            pyfuse3.invalidate_entry_async(parent.inode, os.fsencode(name), ignore_enoent=True)

    def photo_changed(self, rel: str) -> None:
        """Changed by another program: its .meta folders may list other tags now."""
        self.changed()
        self.stale(list(self.inodes.nodes_of_photo(rel)))
        self.forget_vanished(rel)

    def forget_vanished(self, photo: str) -> None:
        """Tags the photo no longer has: the kernel must forget their names too.  Else it
        keeps them for the entry timeout, and `echo x > Tag`, which should make the tag
        again, fails there: the kernel opens the name it knows (and asks for attributes
        the daemon no longer has) instead of creating it."""
        if not self.notify:
            return
        cached = self.photos.cached(photo)
        md = cached.md if cached is not None else None
        pending = self.photos.pending
        for node in self.inodes.nodes_of_photo(photo):
            if node.kind is not Kind.TAG or pending.scratch(photo, node.sub) is not None:
                continue
            if self.photos.still_has(photo, md, node.sub):
                continue
            folder, name = os.path.split(node.sub)
            self.forget_entry(self.inodes.find(Kind.META, photo, folder), name)

    def source_changed(self, paths: set[str], folders: set[str]) -> None:
        """Entries of SOURCE changed (metafs.watch): drop what the kernel keeps of them.  A
        photo still the file this daemon last read (its own commit, say) needs nothing."""
        self.changed()
        stale: list[Node | None] = []
        for rel in paths:
            if engine.is_temp_name(os.path.basename(rel)):
                continue  # a rewrite's temporary file: the rename reports the photo
            if self._still_read(rel):
                continue
            nodes = self.inodes.nodes_of_photo(rel)
            self._sizes_stale(nodes)
            stale += nodes
            folders.add(os.path.dirname(rel))  # NAME.meta may come, go or change mode
            if rel.endswith(META_SUFFIX) or not os.path.lexists(self.photos.path(rel)):
                # A real X.meta came or went: the name now means the file, or the view of
                # the photo X again; or the entry is gone (the kernel may hold the name
                # for the entry timeout, which is long while the watcher is trusted).
                self.forget_entry(self.inodes.find(Kind.SRC, os.path.dirname(rel)),
                                  os.path.basename(rel))
        stale += [self.inodes.find(Kind.SRC, d) for d in folders]
        self.stale(stale)

    def _still_read(self, rel: str) -> bool:
        """Whether the photo ``rel`` is the file its cached metadata was read from (else the
        next access looks at it again)."""
        photo = self.photos.cached(rel)
        if photo is None or photo.sig is None:
            return False
        try:
            now = signature(os.stat(self.photos.path(rel)))
        except OSError:
            now = None
        if now == photo.sig:
            return True
        self.photos.recheck(rel)  # the next access looks at the file again
        return False

    def _sizes_stale(self, nodes: list[Node]) -> None:
        """A photo changed: its tag files' sizes may have.  Their attributes go now (that
        never blocks), before anything else is awaited, so that a stat does not give the
        old size once the watcher woke; pages follow through ``stale``'s task."""
        if not self.notify:
            return
        for node in nodes:
            if node.kind is Kind.TAG:
                try:
                    pyfuse3.invalidate_inode(node.inode, attr_only=True)
                except OSError:
                    pass  # the kernel does not know the inode: nothing cached

    def watch_trusted(self, trusted: bool) -> None:
        """The watcher sees every change to SOURCE (or no longer does): the kernel may keep
        generated entries long (or must fetch them again, now with the short timeout)."""
        self.changed()
        was = self.timeout
        self.timeout = pt.WATCHED_TIMEOUT if trusted else pt.GENERATED_TIMEOUT
        if self.timeout < was:
            self.stale(list(self.inodes.all_nodes()))

    def source_overflow(self) -> None:
        """The kernel dropped events: anything in SOURCE may have changed."""
        log.warning("watching %s: events were lost; dropping every cached view",
                    self.photos.source)
        self.photos.recheck_all()
        self.stale(list(self.inodes.all_nodes()))

    def folder_changed(self, kind: Kind, rel: str) -> None:
        """A file in this folder was written: it may have become a photo (or stopped
        being one), which adds or removes its NAME.meta entry."""
        self.stale([self.inodes.find(kind, os.path.dirname(rel))])

    def meta_gone(self, parent: Node, name: str, rel: str) -> None:
        """The photo ``rel`` was removed or renamed: its NAME.meta entry, which the kernel
        may hold for a second, goes too (else `ls NAME.meta` finds a folder it cannot open)."""
        if self.inodes.find(Kind.META, rel) is not None:
            self.forget_entry(parent, name + META_SUFFIX)

    async def committed(self, photo: str) -> None:
        """A commit of ``photo`` ended: its tags, and the .originals folders a new backup
        appears in, are read again."""
        self.changed()
        self.forget_vanished(photo)
        if not self.notify:
            return
        nodes: list[Node | None] = list(self.inodes.nodes_of_photo(photo))
        folder = os.path.dirname(photo)
        while True:
            nodes.append(self.inodes.find(Kind.ORIG, folder))
            if not folder:
                break
            folder = os.path.dirname(folder)
        await trio.to_thread.run_sync(invalidate, [n.inode for n in nodes if n])

    def cache_page(self, node: Node, handle: TagHandle) -> bool:
        """A reader goes through the kernel's page cache (no read request when it holds the
        content already).  The cache is kept only while the content is the one it was filled
        with; otherwise the open drops it, and attributes giving another size are
        invalidated first, so that reads are cut at the right length."""
        content = handle.snapshot
        handle.node = node
        if node.page == content:
            return True
        node.page = content
        if not self.notify:
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


def store(pages: list[tuple[int, bytes]]) -> None:
    """The kernel's pages of these files are these contents (see the callers for when a
    store may not wait on a reader's page lock)."""
    for inode, content in pages:
        try:
            pyfuse3.notify_store(inode, 0, content)
        except OSError:  # the kernel forgot it: the READ of a later open serves it
            continue


def invalidate(inodes: list[int]) -> None:
    for inode in inodes:
        try:
            pyfuse3.invalidate_inode(inode, attr_only=False)
        except OSError:  # the kernel forgot it already
            continue
