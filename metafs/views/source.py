"""SOURCE passed through: every file, folder and link as it is on the disk, plus a
``NAME.meta`` entry beside each photo (the photo's view, see ``views.meta``).  A real SOURCE
entry of that name wins and is shown as it is."""

from __future__ import annotations

import errno
import os
import stat
from typing import Any

import pyfuse3
import trio
from pyfuse3 import EntryAttributes, FileInfo, RequestContext, SetattrFields

import engine
from metafs import passthrough as pt
from metafs.config import CONTROL, DaemonConfig
from metafs.editing import MetaEditor
from metafs.errors import fail
from metafs.inodes import InodeTable, Kind, Node
from metafs.kernel import KernelCache
from metafs.photos import META_SUFFIX, PhotoViews, dir_mode, meta_name_fits
from metafs.views.base import NO_RELEASE, Entry, Handles, Refusing, View
from metafs.views.originals import OriginalsView

Scanned = tuple[str, Kind, str, os.stat_result]


class SourceView(Refusing):
    def __init__(
        self,
        config: DaemonConfig,
        inodes: InodeTable,
        photos: PhotoViews,
        editor: MetaEditor,
        kernel: KernelCache,
        handles: Handles,
        originals: OriginalsView,
    ) -> None:
        self.source = config.source
        self.read_only = config.read_only
        self.inodes, self.photos, self.editor = inodes, photos, editor
        self.kernel, self.handles = kernel, handles
        self.originals = originals
        # SRC inode -> the file's (inode, size, mtime, ctime) at its last read-only open
        self._seen: dict[int, tuple[int, int, int, int] | None] = {}

    def path(self, rel: str) -> str:
        return os.path.join(self.source, rel) if rel else self.source

    def _writable(self) -> None:
        if self.read_only:
            raise fail(errno.EROFS)

    def _join(self, parent: Node, name: str) -> str:
        """A new name in SOURCE folder ``parent``: never one of the mount's own folders."""
        self._writable()
        if not parent.rel and name in (engine.BACKUP_DIR, CONTROL):
            raise fail(errno.EPERM)
        return os.path.join(parent.rel, name) if parent.rel else name

    # -- photos and their views ---------------------------------------------------------

    def _is_photo(self, rel: str) -> bool:
        # lstat, as listings do: a symlink has no .meta (its target may lie outside SOURCE;
        # a link inside SOURCE shows the photo's tags at the photo itself).
        try:
            st = os.lstat(self.path(rel))
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode) and self._has_view(rel, st)

    def _has_view(self, rel: str, st: os.stat_result) -> bool:
        """A regular file gets a NAME.meta view when it is an image, but never a write's
        temporary file (``.x.jpg.metafs-XXXX.tmp``, left by a crash or being renamed)."""
        name = os.path.basename(rel)
        return (meta_name_fits(name) and not engine.is_temp_name(name)
                and self.photos.is_image(rel, st))

    def is_view(self, rel: str) -> bool:
        """Whether SOURCE path ``rel`` names a photo's generated NAME.meta folder.  A real
        SOURCE entry of that name wins: it is passed through, the photo shows no view."""
        if not rel.endswith(META_SUFFIX) or len(os.path.basename(rel)) <= len(META_SUFFIX):
            return False
        photo = rel[: -len(META_SUFFIX)]
        if not self._is_photo(photo):
            return False
        if os.path.lexists(self.path(rel)):
            self._shadowed(photo)
            return False
        return True

    def _shadowed(self, photo: str) -> None:
        self.editor.status.note_once(
            photo, f"no .meta folder: SOURCE has its own {photo}{META_SUFFIX}, shown as it is"
        )

    # -- nodes --------------------------------------------------------------------------

    async def child(self, parent: Node, name: str) -> Node:
        if not parent.rel and name == engine.BACKUP_DIR:
            return self.inodes.node(Kind.ORIG, "")
        if not parent.rel and name == CONTROL:
            return self.inodes.node(Kind.CTL, "")
        rel = os.path.join(parent.rel, name) if parent.rel else name
        if self.is_view(rel):
            return self.inodes.node(Kind.META, rel[: -len(META_SUFFIX)], "")
        os.lstat(self.path(rel))
        return self.inodes.node(Kind.SRC, rel)

    async def attr(self, node: Node) -> EntryAttributes:
        return pt.attr_from_stat(node.inode, os.lstat(self.path(node.rel)),
                                 timeout=self.kernel.source_timeout)

    async def _new_entry(self, rel: str) -> EntryAttributes:
        node = self.inodes.node(Kind.SRC, rel)
        attr = await self.attr(node)
        self.inodes.remember(node)
        return attr

    def forgotten(self, node: Node) -> None:
        self._seen.pop(node.inode, None)

    async def setattr(self, node: Node, attr: EntryAttributes, fields: SetattrFields,
                      handle: object) -> EntryAttributes:
        self._writable()
        fd = handle.fd if isinstance(handle, pt.SrcHandle) else None
        await trio.to_thread.run_sync(pt.set_attributes, self.path(node.rel), fd, attr, fields)
        if fields.update_size:
            self.kernel.folder_changed(Kind.SRC, node.rel)
        return await self.attr(node)

    async def readlink(self, node: Node) -> bytes:
        return os.fsencode(os.readlink(self.path(node.rel)))

    async def getxattr(self, node: Node, name: bytes) -> bytes:
        try:
            return os.getxattr(self.path(node.rel), name, follow_symlinks=False)
        except OSError as e:
            raise fail(
                pyfuse3.ENOATTR if e.errno == errno.ENODATA else e.errno or errno.EIO
            ) from None

    async def listxattr(self, node: Node) -> list[bytes]:
        names = os.listxattr(self.path(node.rel), follow_symlinks=False)
        return [os.fsencode(n) for n in names]

    async def setxattr(self, node: Node, name: bytes, value: bytes) -> None:
        self._writable()
        os.setxattr(self.path(node.rel), name, value, follow_symlinks=False)

    async def removexattr(self, node: Node, name: bytes) -> None:
        self._writable()
        os.removexattr(self.path(node.rel), name, follow_symlinks=False)

    # -- folders ------------------------------------------------------------------------

    async def listing(self, node: Node) -> list[Entry]:
        out: list[Entry] = []
        entries = await trio.to_thread.run_sync(self._scan, node.rel)
        for name, kind, rel, st in entries:
            proto = st if kind is Kind.SRC else (dir_mode(st, not self.read_only), 0, st, None)
            out.append((name, Node(0, kind, rel), proto))
        if not node.rel:
            out.append((engine.BACKUP_DIR, Node(0, Kind.ORIG, ""), None))
            out.append((CONTROL, Node(0, Kind.CTL, ""), None))
        out.sort(key=lambda e: e[0])
        return out

    def _scan(self, rel: str) -> list[Scanned]:
        """Blocking: a SOURCE folder plus a NAME.meta entry for each photo."""
        out: list[Scanned] = []
        entries = pt.scan(self.path(rel))
        names = {name for name, _st in entries}
        for name, st in entries:
            if not rel and name in (engine.BACKUP_DIR, CONTROL):
                continue
            path = os.path.join(rel, name) if rel else name
            out.append((name, Kind.SRC, path, st))
            if stat.S_ISREG(st.st_mode) and self._has_view(path, st):
                if name + META_SUFFIX in names:
                    self._shadowed(path)  # the real NAME.meta is listed instead
                else:
                    out.append((name + META_SUFFIX, Kind.META, path, st))
        return out

    async def fsyncdir(self, node: Node) -> None:
        await self.editor.commit_all()

    async def mkdir(self, parent: Node, name: str, mode: int,
                    ctx: RequestContext) -> EntryAttributes:
        rel = self._join(parent, name)
        os.mkdir(self.path(rel), mode)
        give_to_caller(self.path(rel), ctx)
        return await self._new_entry(rel)

    async def rmdir(self, parent: Node, name: str) -> None:
        rel = self._join(parent, name)
        os.rmdir(self.path(rel))
        self.inodes.drop_key(Kind.SRC, rel)

    async def mknod(self, parent: Node, name: str, mode: int, rdev: int,
                    ctx: RequestContext) -> EntryAttributes:
        rel = self._join(parent, name)
        os.mknod(self.path(rel), mode, rdev)
        give_to_caller(self.path(rel), ctx)
        return await self._new_entry(rel)

    async def symlink(self, parent: Node, name: str, target: bytes,
                      ctx: RequestContext) -> EntryAttributes:
        rel = self._join(parent, name)
        os.symlink(target, self.path(rel))
        give_to_caller(self.path(rel), ctx)
        return await self._new_entry(rel)

    async def link(self, node: Node, parent: Node, name: str) -> EntryAttributes:
        self._writable()
        if node.kind is not Kind.SRC:
            raise fail(errno.EXDEV)  # hard links join SOURCE files only
        rel = self._join(parent, name)
        os.link(self.path(node.rel), self.path(rel), follow_symlinks=False)
        return await self._new_entry(rel)

    # -- names that go or move ----------------------------------------------------------

    async def unlink(self, parent: Node, name: str) -> None:
        rel = self._join(parent, name)
        os.unlink(self.path(rel))
        await self.editor.photo_removed(rel)
        self.photos.forget(rel)
        self.kernel.meta_gone(parent, name, rel)
        self.inodes.drop_key(Kind.SRC, rel)
        self.inodes.drop_key(Kind.META, rel)

    async def rename(self, old: Node, name_old: str, new_view: View, new: Node,
                     name_new: str, flags: int) -> None:
        view = os.path.join(old.rel, name_old) if old.rel else name_old
        if self.is_view(view):
            # EPERM, not EXDEV: mv would then copy every tag into the target and remove
            # them all from this photo.  Not EIO: nothing went wrong.
            self.editor.status.error(
                view, "a .meta folder cannot be renamed: it is the view of its photo "
                "(rename the photo; its tags go with it)", photo=view[: -len(META_SUFFIX)]
            )
            raise fail(errno.EPERM)
        if new_view.in_meta:
            raise fail(errno.EXDEV)
        if flags:
            raise fail(errno.EINVAL)  # RENAME_NOREPLACE / EXCHANGE: not passed through
        self._writable()
        if new_view is not self:
            raise fail(new_view.refusal)
        src, dst = self._join(old, name_old), self._join(new, name_new)
        # Pending edits belong to the photo under its old name: land them first.
        if self.editor.batcher.busy():
            await self.editor.commit_all()
        os.rename(self.path(src), self.path(dst))
        self.originals.follow(src, dst)
        self.photos.forget(src)
        self.photos.forget(dst)
        self.kernel.meta_gone(old, name_old, src)
        self.inodes.rekey(Kind.SRC, src, dst)
        await self.editor.photo_renamed(src, dst)

    # -- files --------------------------------------------------------------------------

    async def open(self, node: Node, flags: int, ctx: RequestContext) -> FileInfo:
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND)
        if writing:
            self._writable()
        fd = os.open(self.path(node.rel), flags & ~(os.O_CREAT | os.O_EXCL | os.O_NOCTTY))
        keep = self._unchanged(node, fd, writing)
        if keep and self.handles.features.stateless_readers:
            # The kernel's pages are the file's: a reader needs no handle (the shim answers
            # its release, and its next opens once the kernel marked it clean).
            os.close(fd)
            return FileInfo(fh=NO_RELEASE | node.inode, keep_cache=True)
        return FileInfo(fh=self.handles.add(self, pt.SrcHandle(fd, node.rel)), keep_cache=keep)

    def _unchanged(self, node: Node, fd: int, writing: int) -> bool:
        """Whether the kernel may keep the pages it holds of this file (FOPEN_KEEP_CACHE):
        only while the file is the one the last open saw (inode, size, mtime, ctime), so a
        photo another program rewrote is read anew at its next open, watcher or not (the
        watcher and commits also drop the pages of a photo that changes while open)."""
        st = os.fstat(fd)
        sig = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        keep = not writing and self._seen.get(node.inode) == sig
        self._seen[node.inode] = None if writing else sig
        if not keep and self.kernel.notify:
            # The file may have been replaced since the kernel took its attributes (a
            # rename by another program the watcher has not reported yet): reads are cut
            # at the size the kernel holds, so that goes first (never blocks).
            try:
                pyfuse3.invalidate_inode(node.inode, attr_only=True)
            except OSError:
                pass  # the kernel does not know the inode: nothing cached
        return keep

    async def create(self, parent: Node, name: str, mode: int, flags: int,
                     ctx: RequestContext) -> tuple[FileInfo, EntryAttributes]:
        rel = self._join(parent, name)
        path = self.path(rel)
        try:  # O_EXCL: only a file made here is given to the caller, never one that was there
            fd, made = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode), True
        except FileExistsError:
            if flags & os.O_EXCL:
                raise
            fd, made = os.open(path, flags & ~os.O_CREAT), False
        try:
            if made:
                give_to_caller(path, ctx)
            attr = await self._new_entry(rel)
        except BaseException:
            os.close(fd)
            raise
        return FileInfo(fh=self.handles.add(self, pt.SrcHandle(fd, rel))), attr

    async def read(self, handle: Any, off: int, size: int) -> bytes:
        if isinstance(handle, Node):  # a reader without a handle (NO_RELEASE)
            return await trio.to_thread.run_sync(read_at, self.path(handle.rel), off, size)
        return await pt.pread(handle, off, size)

    async def write(self, handle: Any, off: int, buf: bytes) -> int:
        if isinstance(handle, Node):
            raise fail(errno.EBADF)
        return await pt.pwrite(handle, off, buf)

    async def release(self, handle: Any) -> None:
        os.close(handle.fd)
        if handle.written:
            self.kernel.folder_changed(Kind.SRC, handle.rel)

    async def fsync(self, handle: Any, datasync: bool) -> None:
        if isinstance(handle, Node):
            fd = os.open(self.path(handle.rel), os.O_RDONLY)
            try:
                await pt.fsync(pt.SrcHandle(fd, handle.rel), datasync)
            finally:
                os.close(fd)
            return
        await pt.fsync(handle, datasync)


def read_at(path: str, off: int, size: int) -> bytes:
    """Blocking: ``size`` bytes of the file ``path`` from ``off``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, off)
    finally:
        os.close(fd)


def give_to_caller(path: str, ctx: Any) -> None:
    """A daemon run by root creates SOURCE entries for whoever asked: they are theirs, as
    on the disk itself (else a user's new file belongs to root and they cannot write it)."""
    if os.geteuid() != 0 or ctx is None or (ctx.uid, ctx.gid) == (0, 0):
        return
    os.lchown(path, ctx.uid, ctx.gid)

