"""Tag files as files: what open, write, flush, release, fsync and truncate of a tag file (or
of an editor's scratch file) mean, on top of ``MetaEditor``'s rules and edits.

A value written as one complete line (``echo x > Tag``) is judged and journaled at write(),
so that a refusal or a full disk fails the write() a shell reports; anything else at close.
"""

from __future__ import annotations

import errno
import os
import stat

import pyfuse3

from engine import TagError
from metafs.editing import MetaEditor, join
from metafs.errors import fail
from metafs.inodes import Node
from metafs.tagfiles import (
    ScratchFile,
    ScratchHandle,
    TagHandle,
    WriteBuffer,
    complete_line,
    decode,
    truncate,
)

Handle = TagHandle | ScratchHandle


def writes(flags: int) -> bool:
    """Whether an open with ``flags`` may change the file."""
    return (flags & os.O_ACCMODE) != os.O_RDONLY or bool(flags & (os.O_TRUNC | os.O_APPEND))


class TagFiles:
    def __init__(self, editor: MetaEditor) -> None:
        self.editor = editor
        self.photos = editor.photos
        self.pending = editor.pending

    async def open(self, photo: str, tag: str, flags: int) -> Handle:
        scratch = self.pending.scratch(photo, tag)
        if scratch is not None:
            if flags & os.O_TRUNC:
                scratch.truncate(0)
            return ScratchHandle(scratch, append=bool(flags & os.O_APPEND))
        md = await self.editor.md(photo)
        content = self.photos.value_content(photo, md, tag)
        if content is None:
            if not writes(flags):
                raise fail(errno.ENOENT)
            # The kernel still knows the name of a tag deleted since (emptied, or by a
            # commit) and opens it rather than create it: `echo x > Tag` makes it again.
            return self._create(photo, md, tag, flags)
        if not writes(flags):
            return TagHandle(photo, tag, content)
        self.editor.can_change(photo, md, tag)
        if flags & os.O_APPEND and not flags & os.O_TRUNC and content.strip(b"\n"):
            self._append_is_list(photo, tag)
        # O_TRUNC changes nothing until the last close: bash flushes the descriptor it
        # dup2()s before the first write, and an empty value is not what `echo x > Make`
        # means.  Closed without a write (`: > Make`), the file was emptied: see release().
        trunc = bool(flags & os.O_TRUNC)
        buf = WriteBuffer(
            bytearray() if trunc else bytearray(content), append=bool(flags & os.O_APPEND),
            emptied=trunc,
        )
        return TagHandle(photo, tag, content, buf)

    def _append_is_list(self, photo: str, tag: str) -> None:
        """``>>`` adds a line, which is a new item of a list tag; on a tag that holds one
        value it would glue a second line to it, so it is refused with a clear reason."""
        spec = self.editor.spec(tag)
        if spec is not None and not spec.is_list:
            self.editor.status.error(
                f"{photo}.meta/{tag}",
                "holds one value, not a list: '>>' cannot add an item; "
                "write the whole value with '>'",
            )
            raise fail(errno.EINVAL)

    async def create(self, parent: Node, name: str, mode: int, flags: int) -> tuple[str, Handle]:
        self.editor.require_writable()
        photo, sub = parent.rel, join(parent.sub, name)
        kind = await self.editor.entry_kind(photo, sub)
        if kind == "dir":
            raise fail(errno.EISDIR)
        if kind is not None:
            if flags & os.O_EXCL:
                raise fail(errno.EEXIST)
            return sub, await self.open(photo, sub, flags)
        if self.editor.scratch_name(photo, sub, name):
            f = ScratchFile(mode=stat.S_IMODE(mode))
            self.pending.add_scratch(photo, sub, f)
            return sub, ScratchHandle(f, append=bool(flags & os.O_APPEND))
        return sub, self._create(photo, await self.editor.md(photo), sub, flags)

    def _create(self, photo: str, md: object, tag: str, flags: int) -> TagHandle:
        """A writer of a tag the photo does not have (yet)."""
        self.editor.can_add(photo, md, tag)
        self.pending.begin_create(photo, tag)
        buf = WriteBuffer(bytearray(), append=bool(flags & os.O_APPEND))
        return TagHandle(photo, tag, b"", buf, created=True)

    @staticmethod
    def read(h: Handle, off: int, size: int) -> bytes:
        data: bytes | bytearray
        if isinstance(h, ScratchHandle):
            data = h.file.data
        elif h.buf is not None:
            data = h.buf.data
        elif h.node is not None and h.node.page is not None:
            data = h.node.page
        else:
            data = h.snapshot
        return bytes(data[off : off + size])

    async def write(self, h: Handle, off: int, data: bytes) -> int:
        if isinstance(h, ScratchHandle):
            return h.file.write(len(h.file.data) if h.append else off, data)
        if h.buf is None:
            raise fail(errno.EBADF)
        new = h.buf.preview(off, data)
        line = complete_line(new)
        if line is None and new.endswith(b"\n") and new.count(b"\n") == 1:
            try:  # a complete line that is not text can never be a value
                decode(new)
            except TagError as e:
                h.buf.refused = True
                raise self.editor.refuse(h.photo, h.tag, e) from None
        handed_on = line is not None and await self._judge_line(h, h.buf, line)
        h.buf.commit_write(new)
        if handed_on:
            h.buf.dirty, h.buf.handed_on = False, True
        self.pending.start_writing(h.photo, h.tag, h.buf)
        return len(data)

    async def _judge_line(self, h: TagHandle, buf: WriteBuffer, line: str) -> bool:
        """`echo abc > ISO`: the shell ignores close() errors, so a complete single value is
        judged now, while the error still reaches the user; and made durable now, for the
        same reason: a full disk fails this write() (ENOSPC), which the shell reports.
        (Handed on at once too: the journal's order is the batcher's.)  True when it was."""
        spec = self.editor.spec(h.tag)
        if spec is not None and spec.is_list:
            return False
        try:
            self.editor.check(h.photo, h.tag, line)
        except pyfuse3.FUSEError:
            buf.refused = True
            raise
        if not line or self.editor.journal is None:
            return False
        try:
            await self.editor.edit(h.photo, {h.tag: line})
        except pyfuse3.FUSEError:
            buf.refused = True  # nor is the file emptied (`>`) at release
            raise
        return True

    async def flush(self, h: Handle) -> None:
        if isinstance(h, ScratchHandle):
            return
        buf = h.buf
        if buf is None or not buf.dirty or buf.refused:
            return
        buf.dirty = False
        try:
            text = decode(buf.data)
        except TagError as e:
            buf.refused = True
            raise self.editor.refuse(h.photo, h.tag, e) from None
        if text:
            self.editor.check(h.photo, h.tag, text)  # a later write may still fix the value
            await self.editor.edit(h.photo, {h.tag: text})
        elif not h.created or buf.handed_on:  # emptied: deleted, as `exiftool -TAG=` does
            await self.editor.edit(h.photo, {h.tag: None})
        self.pending.stop_writing(h.photo, h.tag, buf)

    async def release(self, h: Handle) -> None:
        if isinstance(h, ScratchHandle):
            return
        buf = h.buf
        try:
            if buf is not None and buf.emptied and not buf.refused and not h.created:
                # Opened to be emptied and closed without a write: `: > Make`.  Nothing
                # is what the file holds now, so the tag goes (as with `exiftool -Make=`).
                buf.emptied = False
                await self.editor.edit(h.photo, {h.tag: None})
            await self.flush(h)
        except pyfuse3.FUSEError:
            pass  # reported at flush already; release errors go nowhere
        finally:
            if buf is not None:
                self.pending.stop_writing(h.photo, h.tag, buf)
            if h.created:
                self.pending.end_create(h.photo, h.tag)

    async def fsync(self, h: Handle) -> None:
        if isinstance(h, ScratchHandle):
            return
        await self.flush(h)
        await self.editor.commit_photo(h.photo, h.tag)

    async def setattr(
        self, node: Node, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields,
        h: object,
    ) -> None:
        scratch = self.pending.scratch(node.rel, node.sub)
        if scratch is not None:
            if fields.update_size:
                scratch.truncate(attr.st_size)
            if fields.update_mode:
                scratch.mode = stat.S_IMODE(attr.st_mode)
            return
        if not fields.update_size:
            return  # chmod/chown/utimens of a tag file: accepted, nothing to store
        if isinstance(h, TagHandle) and h.buf is not None:
            h.buf.truncate(attr.st_size)
            self.pending.start_writing(h.photo, h.tag, h.buf)
            return
        md = await self.editor.md(node.rel)
        content = self.photos.value_content(node.rel, md, node.sub)
        if content is None and attr.st_size == 0:
            return  # `truncate -s 0` of a tag deleted a moment ago: still deleted
        if content is None:
            raise fail(errno.ENOENT)
        self.editor.can_change(node.rel, md, node.sub)
        data = bytearray(content)
        truncate(data, attr.st_size)
        await self.editor.set_from(node.rel, node.sub, bytes(data))
