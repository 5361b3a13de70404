"""Edits through a .meta folder: what each file operation means for the photo's tags.

- writing a tag file and closing it sets the tag (value checked at write() when the text is
  one complete line, else at flush); ``>>`` appends a list item because the new content is
  the old items plus one line (refused on a tag that holds one value);
- edits of a photo the engine cannot write (CR3, BigTIFF..., unreadable metadata) are refused at
  open/create/unlink with a status line, not at commit where no one would hear; so are tags
  of a group the photo's format cannot hold (IPTC in a WebP: EROFS), whose folder is not listed;
- ``rm`` deletes the tag; creating a file whose name is a tag path adds the tag;
- editors' scratch files (see ``tagfiles.is_scratch_name``) live in memory; renaming one over a
  tag name is an edit of that tag, renaming a tag to a scratch name keeps its content there and
  deletes the tag (vim and emacs then write the new file under the old name: an edit).
Every accepted edit is journaled (fsynced) before the call returns, then handed to the batcher:
a value written as one complete line (``echo x > Tag``) at write(), so that a journal that
cannot take it (a full disk) fails the write() the shell reports; anything else at close.  A
commit judges each edit on its own (``land``): a refused one is named in the status file and
the others are written.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any

import pyfuse3

from engine import EngineError, TagError, TagValueError
from metafs.batcher import Batcher, CommitFailed
from metafs.errors import errno_for, fail, fuse_error
from metafs.inodes import Node
from metafs.journal import Journal
from metafs.landing import lasting, reason_of, splittable, tag_list
from metafs.photos import PhotoViews
from metafs.status import Status
from metafs.tagfiles import ScratchFile, decode, is_scratch_name

_ITEM = re.compile(r"\[[1-9][0-9]*\]$")


def join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


class MetaEditor:
    """The rules of .meta edits (who may change which tag, which values pass), the edits of
    names (rm, mkdir, rmdir, mv), and their way to the photo: journal, batcher, commit."""

    def __init__(
        self,
        photos: PhotoViews,
        batcher: Batcher,
        journal: Journal | None,
        status: Status,
        *,
        read_only: bool = False,
    ) -> None:
        self.photos = photos
        self.pending = photos.pending
        self.batcher = batcher
        self.journal = journal
        self.read_only = read_only
        self.status = status
        # (photo, tag) -> errno of its last edit, refused at commit while the photo's other
        # edits landed: an fsync of that tag file reports it
        self._refused: dict[tuple[str, str], int] = {}

    # -- helpers ------------------------------------------------------------------------

    async def md(self, photo: str, *, recent: bool = False) -> Any:
        return await self.photos.metadata(photo, recent=recent)

    def require_writable(self) -> None:
        if self.read_only:
            raise fail(errno.EROFS)

    def spec(self, tag: str) -> Any:
        return self.photos.spec(tag)

    def refuse(self, photo: str, tag: str, exc: BaseException) -> pyfuse3.FUSEError:
        self.status.error(f"{photo}.meta/{tag}", getattr(exc, "reason", exc))
        return fuse_error(exc, unknown_tag=errno.EINVAL)

    def check(self, photo: str, tag: str, text: str) -> None:
        try:
            self.photos.engine.check_value(tag, text)
        except EngineError as e:
            raise self.refuse(photo, tag, e) from None
        except NotImplementedError:
            return  # an engine without checks: the write itself will judge
        self._check_copies(photo, tag, text)

    def _check_copies(self, photo: str, tag: str, text: str) -> None:
        """The copies the engine keeps in step with ``tag`` (ImageDescription's in
        xmp/dc:description) must take the value too, or the commit would refuse it.  IPTC
        copies are cut to fit, not refused."""
        cached = self.photos.cached(photo)
        md = cached.md if cached is not None else None
        if md is None:
            return
        spec = self.spec(tag)
        for other in self.photos.sync_partners(tag):
            if other.startswith("iptc/") or other not in md.tags:
                continue
            value = text
            theirs = self.spec(other)
            if spec is not None and spec.is_list and not (theirs is not None and theirs.is_list):
                value = "; ".join(text.split("\n"))  # a list's copy in one value, as joined
            try:
                self.photos.engine.check_value(other, value)
            except TagValueError as e:
                reason = f"its copy {other} cannot take this value: {e.reason}"
                self.status.error(f"{photo}.meta/{tag}", reason)
                raise fail(errno.EINVAL) from None
            except (EngineError, NotImplementedError):
                continue  # not a value problem: the commit judges

    def _photo_writable(self, photo: str, md: Any, tag: str) -> None:
        """Refuse at once (not at commit, where the error reaches no one) edits of a photo
        the engine cannot write: a read-only format (CR3, BigTIFF...) or unreadable metadata."""
        self.require_writable()
        refusal = self.photos.write_refusal(photo, md)
        if refusal is not None:
            code, reason = refusal
            self.status.error(f"{photo}.meta/{tag}", f"{reason}; the photo is unchanged")
            raise fail(code)

    def _group_held(self, photo: str, md: Any, tag: str) -> None:
        """IPTC in a WebP, PNG or HEIF: the format has no place for the tag's group."""
        why = self.photos.group_refusal(md, tag)
        if why is not None:
            self.status.error(f"{photo}.meta/{tag}", f"{why}; the photo is unchanged")
            raise fail(errno.EROFS)

    def can_add(self, photo: str, md: Any, tag: str) -> None:
        """A new tag name must be one the engine knows and can write."""
        self._photo_writable(photo, md, tag)
        self._group_held(photo, md, tag)
        try:
            spec = self.photos.engine.tag_spec(tag)
        except EngineError as e:
            raise self.refuse(photo, tag, e) from None
        if not spec.writable:
            self.status.error(f"{photo}.meta/{tag}", "tag is read-only")
            raise fail(errno.EACCES)

    def can_change(self, photo: str, md: Any, tag: str) -> None:
        self._photo_writable(photo, md, tag)
        self._group_held(photo, md, tag)
        if not self.photos.writable(md, tag):
            self.status.error(f"{photo}.meta/{tag}", self.photos.why_read_only(md, tag))
            raise fail(errno.EACCES)

    async def edit(self, photo: str, changes: dict[str, str | None]) -> None:
        """Make the edit durable (journal) and hand it to the batcher."""
        self.batcher.submit(photo, changes, await self._journal(photo, changes))

    async def _journal(self, photo: str, changes: dict[str, str | None]) -> int:
        """Record the edit durably; when that cannot be done, the call fails with the
        disk's errno (ENOSPC...) and the status file says so: nothing is acknowledged that
        a crash could lose."""
        if self.journal is None:
            return 0
        try:
            return await self.journal.append(photo, changes)
        except OSError as e:
            code = e.errno or errno.EIO
            if code in (errno.ENOSPC, errno.EDQUOT):
                why = "no space left on SOURCE; free space and write again"
            else:
                why = (f"the edit could not be recorded in the journal ({os.strerror(code)}); "
                       "write again")
            self.status.error(f"{photo}.meta/{tag_list(changes)}", f"not written: {why}",
                              photo=photo)
            raise fail(code) from None

    # -- names --------------------------------------------------------------------------

    async def entry_kind(self, photo: str, sub: str) -> str | None:
        if self.pending.scratch(photo, sub) is not None:
            return "scratch"
        md = await self.md(photo, recent=True)
        if self.photos.value_content(photo, md, sub) is not None:
            return "tag"
        if self.photos.is_dir(photo, md, sub):
            return "dir"
        return None

    def scratch_name(self, photo: str, sub: str, name: str) -> bool:
        """Whether a new file ``name`` is an editor's or tool's scratch file: a name no tag
        can have (``tagfiles.is_scratch_name``: Artist.XXXX, tmp8x7k2, perl's XXAbC123...)
        that the engine does not know either.  A lowercase name that is a tag's but for
        its case (``model``) is a misspelt tag: refused, as ``Modle`` is at create."""
        if not is_scratch_name(name) or self.spec(sub) is not None:
            return False
        if name[:1].islower() and ":" not in name:
            folder = sub[: -len(name)]
            for guess in (name[0].upper() + name[1:], name.upper()):
                if self.spec(folder + guess) is not None:
                    self.status.error(f"{photo}.meta/{sub}", f"no such tag; did you mean {guess}?")
                    raise fail(errno.EINVAL)
        return True

    async def unlink(self, parent: Node, name: str) -> str:
        self.require_writable()
        photo, sub = parent.rel, join(parent.sub, name)
        if self.pending.drop_scratch(photo, sub) is not None:
            return sub
        md = await self.md(photo)
        if self.photos.value_content(photo, md, sub) is None:
            raise fail(errno.ENOENT)
        self.can_change(photo, md, sub)
        await self.edit(photo, {sub: None})
        return sub

    async def mkdir(self, parent: Node, name: str) -> str:
        """A folder for an XMP structure (or an item of a list of them) the photo does not
        have yet: `mkdir` then write its fields, or `cp -r` one from another photo."""
        self.require_writable()
        photo, sub = parent.rel, join(parent.sub, name)
        md = await self.md(photo)
        self._group_held(photo, md, sub)  # iptc/ of a WebP: not there to be made
        if await self.entry_kind(photo, sub) is not None:
            raise fail(errno.EEXIST)
        self._photo_writable(photo, md, sub)
        try:  # item N of a list of structures is a folder too
            spec = self.photos.engine.tag_spec(_ITEM.sub("", sub))
        except EngineError as e:
            raise self.refuse(photo, sub, e) from None
        if spec.kind != "struct":
            self.status.error(f"{photo}.meta/{sub}", "only an XMP structure (or item N of a "
                              "list of structures, as name[N]) can be a folder here")
            raise fail(errno.EPERM)
        self.pending.make_dir(photo, sub)
        return sub

    async def rmdir(self, parent: Node, name: str) -> None:
        self.require_writable()
        photo, sub = parent.rel, join(parent.sub, name)
        md = await self.md(photo)
        if not self.photos.is_dir(photo, md, sub):
            raise fail(errno.ENOENT)
        if self.photos.children(photo, md, sub):
            raise fail(errno.ENOTEMPTY)
        # A folder made with mkdir goes; an empty family folder (xmp/, iptc/) stays: there
        # is nothing to remove.
        self.pending.unmake_dir(photo, sub)

    async def rename(
        self, old: Node, name_old: str, new: Node, name_new: str, flags: int
    ) -> tuple[str, str]:
        self.require_writable()
        photo = old.rel
        src, dst = join(old.sub, name_old), join(new.sub, name_new)
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise fail(errno.EINVAL)
        dst_kind = await self.entry_kind(photo, dst)
        if dst_kind is not None and flags & pyfuse3.RENAME_NOREPLACE:
            raise fail(errno.EEXIST)
        if dst_kind == "dir":
            raise fail(errno.EISDIR)
        pending = self.pending
        to_scratch = (pending.scratch(photo, dst) is not None
                      or self.scratch_name(photo, dst, name_new))
        f = pending.scratch(photo, src)
        if f is not None:
            if not to_scratch:
                await self.set_from(photo, dst, bytes(f.data), extra={})
            pending.drop_scratch(photo, src)
            if to_scratch:
                pending.add_scratch(photo, dst, f)
            return src, dst
        md = await self.md(photo)
        content = self.photos.value_content(photo, md, src)
        if content is None:
            raise fail(errno.ENOENT)
        self.can_change(photo, md, src)
        if to_scratch:
            await self.edit(photo, {src: None})
            pending.add_scratch(photo, dst, ScratchFile(bytearray(content)))
        else:
            await self.set_from(photo, dst, content, extra={src: None})
        return src, dst

    async def set_from(
        self, photo: str, tag: str, content: bytes, extra: dict[str, str | None] | None = None
    ) -> None:
        """Set ``tag`` to a file's ``content`` (empty: delete it), with ``extra`` edits."""
        extra = extra or {}
        md = await self.md(photo)
        exists = self.photos.value_content(photo, md, tag) is not None
        if exists:
            self.can_change(photo, md, tag)
        else:
            self.can_add(photo, md, tag)
        try:
            text = decode(content)
        except TagError as e:
            raise self.refuse(photo, tag, e) from None
        if text:
            self.check(photo, tag, text)
            await self.edit(photo, {**extra, tag: text})
        elif exists or extra:  # emptied: deleted, as `exiftool -TAG=` does
            await self.edit(photo, {**extra, **({tag: None} if exists else {})})

    # -- commits ----------------------------------------------------------------------

    async def commit_all(self) -> None:
        failures = await self.batcher.commit_all()
        if failures:  # the disk's errno when it is the cause (ENOSPC...), else EIO
            raise fuse_error(failures[0].cause, unknown_tag=errno.EIO)

    async def photo_removed(self, photo: str) -> None:
        """The photo was removed from SOURCE: its pending edits go, in memory and in the
        journal."""
        self.batcher.discard(photo)
        if self.journal is not None:
            try:
                await self.journal.drop(photo)
            except OSError as e:  # the photo is gone all the same; say so
                self.status.error(f"journal: dropping the edits of {photo}", e)

    async def photo_renamed(self, old: str, new: str) -> None:
        """The photo (or folder) ``old`` is ``new`` now: so are its journaled edits."""
        if self.journal is not None:
            try:
                await self.journal.rename(old, new)
            except OSError as e:
                self.status.error(f"journal: rename {old} -> {new}", e)

    async def commit_photo(self, photo: str, tag: str | None = None) -> None:
        """Commit the photo's pending edits now (fsync); fails when they failed, or when
        ``tag``'s own edit was refused while the others landed."""
        try:
            await self.batcher.commit_now(photo)
        except CommitFailed as e:
            raise fuse_error(e.cause, unknown_tag=errno.EINVAL) from None
        code = self._refused.pop((photo, tag), None) if tag is not None else None
        if code is not None:
            raise fail(code)

    async def committed(
        self,
        photo: str,
        changes: dict[str, str | None],
        seq: int,
        result: Any,
        error: BaseException | None,
    ) -> None:
        if error is None:
            self._landed(photo, changes, result)
        else:
            self._failed(photo, changes, error)
        # A refused value or a photo the engine cannot write will never do: drop the edit
        # from the journal.  Failures of the disk (full, I/O) stay journaled and are tried
        # again at the next mount.
        if self.journal is not None and (error is None or lasting(error)):
            await self.journal.done(photo, seq)

    def _landed(self, photo: str, changes: dict[str, str | None], result: Any) -> None:
        written, (sig, md, err), refused = result
        self.photos.store(photo, md, sig, err)
        self.photos.settle_made_dirs(photo, md)
        if written is None:
            pass  # every edit was refused: the photo is unchanged
        elif getattr(written, "unchanged", False):
            self.status.unchanged += 1
        else:
            self.status.rewrites += 1
        for tag in changes:
            self._refused.pop((photo, tag), None)
        for note in getattr(written, "notes", ()):
            self.status.note(photo, note)
        rest = "the photo is unchanged" if written is None else (
            "the photo's other edits were written")
        for tag, e in refused.items():
            self.status.error(f"{photo}.meta/{tag}", f"not written: {reason_of(e)}; {rest}")
            self._refused[(photo, tag)] = errno_for(e, unknown_tag=errno.EINVAL)
            while len(self._refused) > 1000:
                del self._refused[next(iter(self._refused))]

    def _failed(self, photo: str, changes: dict[str, str | None], error: BaseException) -> None:
        self.photos.store(photo, None, None, None)  # read it again on next access
        if isinstance(error, TagError) or splittable(error):
            # the value was the problem (a batch of one edit), not the photo
            hint = "these edits are dropped; write a value the tag takes and try again"
        elif lasting(error):
            hint = "these edits are dropped (metafs cannot write this photo)"
        else:
            hint = "these edits stay in the journal and are tried again at the next mount"
        self.status.error(
            f"{photo}: {len(changes)} edit(s) not written ({tag_list(changes)})",
            f"{reason_of(error)}; the photo is unchanged; {hint}",
        )
