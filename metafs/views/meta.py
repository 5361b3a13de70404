"""A photo's ``NAME.meta`` view: its folders (``MetaView``: the root, ``xmp/``, a structure)
and its tag files (``TagView``), made from the photo's metadata with the pending edits and
scratch files on top (metafs.pending).  What edits mean is metafs.editing and
metafs.tagio; what the kernel may keep of the tag files, metafs.kernel."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Awaitable, Callable
from typing import Any

import pyfuse3
from pyfuse3 import EntryAttributes, FileInfo, RequestContext, SetattrFields

from metafs import passthrough as pt
from metafs.editing import MetaEditor, join
from metafs.errors import fail
from metafs.extraparts import part_of
from metafs.inodes import InodeTable, Kind, Node
from metafs.kernel import KernelCache, store
from metafs.photos import Signature, dir_mode, file_mode, signature
from metafs.tagfiles import TagHandle
from metafs.tagio import TagFiles
from metafs.views.base import NO_RELEASE, Entry, Handles, Refusing, View

# Contents bigger than this (a binary tag's bytes: PreviewImage, JpgFromRaw) are read through
# an open handle, not kept with the inode (``Node.page``): the daemon would otherwise hold the
# bytes of every large file read until the kernel forgets its inode.
PAGE_KEPT_MAX = 256 * 1024


# Lookups whose content waits for the open that usually follows (``_fresh``): only the
# last few matter, and a walk whose opens the shim answers would otherwise keep one per tag.
FRESH_KEPT = 4096

def refuse_read_only(editor: MetaEditor, photo: str, sub: str) -> None:
    """Any change inside a read-only part's folder (``makernotes/``...): EROFS, and a status
    line naming the folder."""
    why = editor.photos.group_refusal(None, sub) if part_of(sub) is not None else None
    if why is not None:
        editor.status.error(f"{photo}.meta/{sub}", f"{why}; the photo is unchanged")
        raise fail(errno.EROFS)


async def load_part(photos: Any, photo: str, md: Any, sub: str) -> None:
    """Decode the read-only part ``sub`` is in (in a thread), when it is in one."""
    part = part_of(sub)
    if part is not None:
        await photos.extra.load(photo, md, part)


class TagView(Refusing):
    """Tag files (and editors' scratch files) in a .meta folder."""

    def __init__(self, inodes: InodeTable, editor: MetaEditor, kernel: KernelCache,
                 handles: Handles, *, read_only: bool) -> None:
        self.inodes, self.editor, self.kernel, self.handles = inodes, editor, kernel, handles
        self.photos, self.pending = editor.photos, editor.pending
        self.files = TagFiles(editor)
        self.read_only = read_only
        # TAG inode -> the photo's signature when its page (``Node.page``) was made
        self._page_sig: dict[int, Signature] = {}
        # TAG inode -> (the photo's signature, the content, the node's key) its last lookup
        # found (a rename in .meta gives the inode another key)
        self._fresh: dict[int, tuple[Signature, bytes, Any]] = {}

    def forgotten(self, node: Node) -> None:
        self._page_sig.pop(node.inode, None)
        self._fresh.pop(node.inode, None)

    async def attr(self, node: Node) -> EntryAttributes:
        attr = await self._attr(node)
        node.told = attr.st_size
        self._note_fresh(node)
        return attr

    async def _attr(self, node: Node) -> EntryAttributes:
        photo, tag, timeout = node.rel, node.sub, self.kernel.timeout
        scratch = self.pending.scratch(photo, tag)
        if scratch is not None:
            return pt.synth_attr(node.inode, stat.S_IFREG | scratch.mode, len(scratch.data),
                                 os.stat(self.photos.path(photo)), mtime_ns=scratch.mtime_ns,
                                 timeout=timeout)
        md = await self.editor.md(photo, recent=True)
        await load_part(self.photos, photo, md, tag)
        st = self.photos.stat(photo)
        content = self.photos.value_content(photo, md, tag)
        if content is None:
            return self._vanished_attr(node, md, st)
        size, mtime = len(content), None
        buf = self.pending.writing(photo, tag)
        if buf is not None:
            size, mtime = len(buf.data), buf.mtime_ns
        writable = not self.read_only and self.photos.writable(md, tag)
        return pt.synth_attr(node.inode, file_mode(st, writable), size, st, mtime_ns=mtime,
                             timeout=timeout)

    def _vanished_attr(self, node: Node, md: Any, st: os.stat_result) -> EntryAttributes:
        """A tag the photo no longer has, on an inode the kernel still holds: its name is
        being invalidated (the tag was emptied or deleted a moment ago).  The GETATTR the
        kernel sends before `echo x > Tag` opens it again must not fail with ENOENT, so a
        tag that can be written again is an empty file, not cached; a lookup says ENOENT."""
        if self.read_only or not self.photos.writable(md, node.sub):
            raise fail(errno.ENOENT)
        return pt.synth_attr(node.inode, file_mode(st, True), 0, st, timeout=0)

    def _note_fresh(self, node: Node) -> None:
        """What a tag file's lookup found, for the open that usually follows (``open``)."""
        photo = self.photos.cached(node.rel)
        if photo is None or photo.sig is None or not self.photos.clean(node.rel):
            return
        content = self.photos.value_content(node.rel, photo.md, node.sub)
        if content is not None and len(content) <= PAGE_KEPT_MAX:
            fresh = self._fresh
            fresh[node.inode] = (photo.sig, content, node.key)
            if len(fresh) > FRESH_KEPT:  # the shim answered the open: nothing pops them
                del fresh[next(iter(fresh))]

    async def setattr(self, node: Node, attr: EntryAttributes, fields: SetattrFields,
                      handle: object) -> EntryAttributes:
        refuse_read_only(self.editor, node.rel, node.sub)
        await self.files.setattr(node, attr, fields, handle)
        self.kernel.forget_vanished(node.rel)
        if fields.update_size and attr.st_size == 0:
            try:
                return await self.attr(node)
            except pyfuse3.FUSEError:
                # `truncate -s 0 Make` deleted the tag: the call still succeeded, on a
                # file that is empty now (and gone at the next lookup)
                st = self.photos.stat(node.rel)
                return pt.synth_attr(node.inode, stat.S_IFREG | 0o644, 0, st, timeout=0)
        return await self.attr(node)

    # -- opening: readers go through the kernel's page cache ------------------------------

    def _unchanged(self, node: Node, sig: Signature) -> bool:
        """The tag file of a photo whose signature is still ``sig``, with nothing pending."""
        if not self.handles.features.stateless_readers:
            return False
        if (not self.photos.clean(node.rel)
                or self.pending.scratch(node.rel, node.sub) is not None):
            return False
        try:
            return signature(os.stat(self.photos.path(node.rel))) == sig
        except OSError:
            return False

    def _page_current(self, node: Node) -> bool:
        """A reader's open of a tag file whose page the kernel holds, made from the photo as
        it is now (same inode, size, mtime, ctime) with nothing pending on it: the page is
        the answer, no metadata is needed (a walk's opens cost a stat each)."""
        sig = self._page_sig.get(node.inode)
        return sig is not None and node.page is not None and self._unchanged(node, sig)

    async def open(self, node: Node, flags: int, ctx: RequestContext) -> FileInfo:
        writing = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND))
        if writing:
            refuse_read_only(self.editor, node.rel, node.sub)
        info = self._open_cached(node, writing)
        if info is not None:
            self._push_siblings(node)
            return info
        if part_of(node.sub) is not None:
            await load_part(self.photos, node.rel, await self.editor.md(node.rel), node.sub)
        handle = await self.files.open(node.rel, node.sub, flags)
        if not isinstance(handle, TagHandle) or handle.buf is not None:
            return FileInfo(fh=self.handles.add(self, handle), direct_io=True)
        if len(handle.snapshot) > PAGE_KEPT_MAX:  # read from the handle, dropped at close
            return FileInfo(fh=self.handles.add(self, handle))
        keep = self.kernel.cache_page(node, handle)
        cached = self.photos.cached(node.rel)
        if cached is not None and cached.sig is not None and node.page is not None:
            self._page_sig[node.inode] = cached.sig
        self._push_siblings(node)
        if self.handles.features.stateless_readers:
            return FileInfo(fh=NO_RELEASE | node.inode, keep_cache=keep)
        return FileInfo(fh=self.handles.add(self, handle), keep_cache=keep)

    def _open_cached(self, node: Node, writing: bool) -> FileInfo | None:
        """A reader's open answered without the photo's metadata: from the page the kernel
        holds, or from what a lookup a moment ago found (which any open uses up)."""
        if not writing and self._page_current(node):
            node.read_before = True
            return FileInfo(fh=NO_RELEASE | node.inode, keep_cache=True)
        fresh = self._fresh.pop(node.inode, None)
        if (writing or fresh is None or fresh[2] != node.key
                or not self._unchanged(node, fresh[0])):
            return None
        # Looked up a moment ago (the photo as it is now, nothing pending): the content
        # then is the content now; no need to load the photo's metadata again.
        keep = self.kernel.cache_page(node, TagHandle(node.rel, node.sub, fresh[1]))
        self._page_sig[node.inode] = fresh[0]
        return FileInfo(fh=NO_RELEASE | node.inode, keep_cache=keep)

    # -- handles: a TagHandle or ScratchHandle, or the Node of a NO_RELEASE reader ---------

    async def read(self, handle: Any, off: int, size: int) -> bytes:
        if isinstance(handle, Node):
            return await self._read_page(handle, off, size)
        return self.files.read(handle, off, size)

    async def _read_page(self, node: Node, off: int, size: int) -> bytes:
        """A read of a tag file opened read-only (NO_RELEASE): the content its last open
        showed, which the kernel caches (the page goes only with a rename in .meta).  When
        the kernel opens files without asking, there was no open: the photo as it is now."""
        if self.kernel.no_open and not self._page_current(node):
            await self._page_now(node)
        elif node.page is None:
            handle = await self.files.open(node.rel, node.sub, os.O_RDONLY)
            if not isinstance(handle, TagHandle):
                raise fail(errno.EIO)
            self.kernel.cache_page(node, handle)
        return bytes(node.page[off : off + size]) if node.page is not None else b""

    def _push_siblings(self, node: Node) -> None:
        """A reader opened a tag file whose folder the kernel listed: `grep -r`, say, which
        reads the others too.  The pages of those not read yet go to the kernel now and
        their opens to the shim, so the first `grep -r` over a tree costs a request per
        folder, not one per file.  (Not at the listing itself: `find` or `ls -R` read no
        file, and a page a file is a lot of memory for a library's tags.)"""
        folder = os.path.dirname(node.sub)
        siblings = [n for n in self.inodes.nodes_of_photo(node.rel)
                    if n.kind is Kind.TAG and not n.read_before and n.lookups > 0
                    and n is not node and os.path.dirname(n.sub) == folder]
        if siblings:
            self._pages_of_listed(node.rel, siblings)

    def _pages_of_listed(self, photo: str, nodes: list[Node]) -> None:
        """Tag files never read, whose content is known (the photo's metadata as it is
        now).  Pushed from this handler, before the reply: no one opened them (an open of
        one waits for this loop before it reads), so no reader holds their page locks, as
        with the first reader's page in ``KernelCache.cache_page``."""
        if not self.kernel.notify or self.kernel.clean_opens is None:
            return
        cached = self.photos.cached(photo)
        if cached is None or cached.sig is None or not self.photos.clean(photo):
            return
        pushed: list[tuple[int, bytes]] = []
        for node in nodes:
            if (node.read_before or self.inodes.get(node.inode) is not node
                    or self.pending.scratch(photo, node.sub) is not None):
                continue
            content = self.photos.listed_content(photo, cached.md, node.sub)
            if content is None or len(content) > PAGE_KEPT_MAX or len(content) != node.told:
                continue
            node.page, node.read_before = content, True
            self._page_sig[node.inode] = cached.sig
            self.kernel.opened_clean(node, self.kernel.generation)
            pushed.append((node.inode, content))
        if pushed:
            store(pushed)

    async def _page_now(self, node: Node) -> None:
        """The tag's content as the photo holds it now, kept as the node's page.  Never
        handed to the kernel from here (``cache_page`` may): this runs in a READ, and a
        store would wait for the page lock that very READ's reader holds."""
        if part_of(node.sub) is not None:
            await load_part(self.photos, node.rel, await self.editor.md(node.rel), node.sub)
        handle = await self.files.open(node.rel, node.sub, os.O_RDONLY)
        if not isinstance(handle, TagHandle):
            raise fail(errno.EIO)
        node.page, node.read_before = handle.snapshot, True
        cached = self.photos.cached(node.rel)
        if cached is not None and cached.sig is not None:
            self._page_sig[node.inode] = cached.sig

    async def write(self, handle: Any, off: int, buf: bytes) -> int:
        if isinstance(handle, Node):
            raise fail(errno.EBADF)
        return await self.files.write(handle, off, buf)

    async def flush(self, handle: Any) -> None:
        await self._closing(handle, self.files.flush)

    async def release(self, handle: Any) -> None:
        await self._closing(handle, self.files.release)

    async def _closing(self, handle: Any, step: Callable[[TagHandle], Awaitable[None]]) -> None:
        """A writer's flush or release: an emptied tag is a deleted one (`: > Tag`), whose
        name the kernel must forget."""
        if not isinstance(handle, TagHandle):
            return
        try:
            await step(handle)
        finally:
            if handle.buf is not None:
                self.kernel.forget_vanished(handle.photo)

    async def fsync(self, handle: Any, datasync: bool) -> None:
        if isinstance(handle, Node):
            # A reader: POSIX fsync flushes the file whatever the descriptor, so the
            # photo's pending edits are committed, as for a writer.
            await self.editor.commit_photo(handle.rel, handle.sub)
            return
        await self.files.fsync(handle)


class MetaView(Refusing):
    """The folders of a .meta view: the photo's root folder and those inside it."""

    in_meta = True

    def __init__(self, inodes: InodeTable, editor: MetaEditor, kernel: KernelCache,
                 handles: Handles, tags: TagView, *, read_only: bool) -> None:
        self.inodes, self.editor, self.kernel, self.handles = inodes, editor, kernel, handles
        self.photos, self.pending = editor.photos, editor.pending
        self.tags = tags
        self.read_only = read_only

    async def child(self, parent: Node, name: str) -> Node:
        sub = join(parent.sub, name)
        if part_of(sub) is not None and sub != part_of(sub):
            await load_part(self.photos, parent.rel,
                            await self.editor.md(parent.rel, recent=True), sub)
        kind = await self.editor.entry_kind(parent.rel, sub)
        if kind is None:
            raise fail(errno.ENOENT)
        return self.inodes.node(Kind.META if kind == "dir" else Kind.TAG, parent.rel, sub)

    async def attr(self, node: Node) -> EntryAttributes:
        st = os.stat(self.photos.path(node.rel))
        return pt.synth_attr(node.inode, dir_mode(st, not self.read_only), 0, st,
                             timeout=self.kernel.timeout)

    async def listing(self, node: Node) -> list[Entry]:
        """(name, node key as a Node template, attributes without the inode) of a .meta
        folder's entries, from one look at the photo: readdirplus over thousands of tag
        files must not cost a stat and a lookup each.  Memoized while the photo is clean
        (the same list object is returned: readdir reuses attributes made for its tuples)."""
        photo, prefix = node.rel, node.sub
        md = await self.editor.md(photo, recent=True)
        await load_part(self.photos, photo, md, prefix)
        memo = self.photos.memo(photo, md)
        if memo is None:
            return self._listing(photo, prefix, md)
        key = ("listing", prefix)
        if key not in memo:
            memo[key] = self._listing(photo, prefix, md)
        out: list[Entry] = memo[key]
        return out

    def _listing(self, photo: str, prefix: str, md: Any) -> list[Entry]:
        st = self.photos.stat(photo)
        folder = dir_mode(st, not self.read_only)
        out: list[Entry] = []
        for name, is_dir in self.photos.children(photo, md, prefix):
            sub = join(prefix, name)
            f = None if is_dir else self.pending.scratch(photo, sub)
            if is_dir:
                proto = (folder, 0, st, None)
            elif f is not None:
                proto = (stat.S_IFREG | f.mode, len(f.data), st, f.mtime_ns)
            else:
                size = self.photos.listed_size(photo, md, sub)
                writable = not self.read_only and self.photos.writable(md, sub)
                proto = (file_mode(st, writable), size, st, None)
            kind = Kind.META if is_dir else Kind.TAG
            out.append((name, Node(0, kind, photo, sub), proto))
        return out

    async def fsyncdir(self, node: Node) -> None:
        await self.editor.commit_photo(node.rel)

    async def _new_entry(self, kind: Kind, rel: str, sub: str) -> EntryAttributes:
        node = self.inodes.node(kind, rel, sub)
        attr = await (self.attr(node) if kind is Kind.META else self.tags.attr(node))
        self.inodes.remember(node)
        return attr

    async def mkdir(self, parent: Node, name: str, mode: int,
                    ctx: RequestContext) -> EntryAttributes:
        refuse_read_only(self.editor, parent.rel, join(parent.sub, name))
        sub = await self.editor.mkdir(parent, name)
        return await self._new_entry(Kind.META, parent.rel, sub)

    async def rmdir(self, parent: Node, name: str) -> None:
        refuse_read_only(self.editor, parent.rel, join(parent.sub, name))
        await self.editor.rmdir(parent, name)

    async def unlink(self, parent: Node, name: str) -> None:
        refuse_read_only(self.editor, parent.rel, join(parent.sub, name))
        sub = await self.editor.unlink(parent, name)
        self.inodes.drop_key(Kind.TAG, parent.rel, sub)

    async def rename(self, old: Node, name_old: str, new_view: View, new: Node,
                     name_new: str, flags: int) -> None:
        if new_view is not self or old.rel != new.rel:
            raise fail(errno.EXDEV)  # out of the photo's view: mv copies, as across disks
        refuse_read_only(self.editor, old.rel, join(old.sub, name_old))
        refuse_read_only(self.editor, new.rel, join(new.sub, name_new))
        src, dst = await self.editor.rename(old, name_old, new, name_new, flags)
        moved = self.inodes.find(Kind.TAG, old.rel, src)
        self.inodes.drop_key(Kind.TAG, old.rel, dst)
        if moved is not None:
            self.inodes.move(moved, old.rel, dst)

    async def create(self, parent: Node, name: str, mode: int, flags: int,
                     ctx: RequestContext) -> tuple[FileInfo, EntryAttributes]:
        refuse_read_only(self.editor, parent.rel, join(parent.sub, name))
        sub, handle = await self.tags.files.create(parent, name, mode, flags)
        attr = await self._new_entry(Kind.TAG, parent.rel, sub)
        return FileInfo(fh=self.handles.add(self.tags, handle), direct_io=True), attr
