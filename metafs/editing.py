"""Edits through a .meta folder: what each file operation means for the photo's tags.

- writing a tag file and closing it sets the tag (value checked at write() when the text is
  one complete line, else at flush); ``>>`` appends a list item because the new content is
  the old items plus one line (refused on a tag that holds one value);
- edits of a photo the engine cannot write (CR3, RAF..., unreadable metadata) are refused at
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
import logging
import os
import re
import stat
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyfuse3

from engine.errors import (
    EngineError,
    FileChangedError,
    TagError,
    TagValueError,
    WriteError,
)
from metafs import passthrough as pt
from metafs.batcher import Batcher, CommitFailed
from metafs.errors import errno_for, fail, fuse_error
from metafs.inodes import Kind, Node
from metafs.journal import Journal
from metafs.photos import PhotoViews, dir_mode, file_mode
from metafs.tagfiles import (
    ScratchFile,
    WriteBuffer,
    complete_line,
    decode,
    is_scratch_name,
    truncate,
)

log = logging.getLogger(__name__)


@dataclass(eq=False)
class TagHandle:
    photo: str
    tag: str
    snapshot: bytes  # content when opened (what a reader sees, consistently)
    buf: WriteBuffer | None = None  # set when opened for writing
    created: bool = False
    # Opened through the kernel's page cache: reads fill the cache of the inode, so they
    # serve the content the inode shows now (``Node.page``), whichever handle asks.
    node: Node | None = None


@dataclass(eq=False)
class ScratchHandle:
    file: ScratchFile
    append: bool = False


@dataclass(eq=False)
class StaticHandle:
    data: bytes


@dataclass
class Status:
    """What ``.metafs/status`` says.  Every entry is one line: names and values are escaped
    (a newline in a tag value or a photo name cannot forge a line).  Other users than the
    one who mounted (and root) see the lines about photos they could read anyway, and the
    counts; see ``render(viewer=)``."""

    # (photo the entry is about, or None; the line)
    errors: deque[tuple[str | None, str]] = field(default_factory=lambda: deque(maxlen=50))
    # What the engine did beyond the edit asked: copies made (Artist to XMP-dc:creator and
    # IPTC By-line...), values cut to IPTC's length limits.
    notices: deque[tuple[str | None, str]] = field(default_factory=lambda: deque(maxlen=50))
    rewrites: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)  # about the mount itself (set at mount)
    sync: bool = True  # False with --no-sync
    _once: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def error(self, where: str, reason: object, *, photo: str | None = None) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.errors.append((photo or _photo_of(where), f"{stamp} {where}: {reason}"))
        log.warning("%s: %s", escape(where), escape(str(reason)))

    def note_once(self, photo: str, text: str) -> None:
        """A note about the tree (not about a commit): told once per mount."""
        if (photo, text) in self._once:
            return
        if len(self._once) >= 10_000:
            self._once.clear()
        self._once.add((photo, text))
        self.note(photo, text)

    def note(self, photo: str, text: str) -> None:
        """A copy or truncation the engine reports for a commit that succeeded."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.notices.append((photo, f"{stamp} {photo}: {text}"))
        log.info("%s: %s", escape(photo), escape(text))

    def render(
        self,
        *,
        source: str,
        mountpoint: str,
        read_only: bool,
        debounce: float,
        pending: dict[str, list[str]],
        commits: int,
        failures: int,
        extra: tuple[str, ...] = (),
        viewer: Callable[[str], bool] | None = None,
    ) -> bytes:
        """``viewer(photo)``: whether the reader may see lines about that photo (None: the
        mounting user or root, who see everything)."""

        def shown(photo: str | None) -> bool:
            return viewer is None or (photo is not None and viewer(photo))

        mine = {photo: tags for photo, tags in pending.items() if shown(photo)}
        errors = [line for photo, line in self.errors if shown(photo)]
        notices = [line for photo, line in self.notices if shown(photo)]
        lines = [
            f"pid: {os.getpid()}",
            f"source: {source}",
            f"mountpoint: {mountpoint}",
            f"read-only: {'yes' if read_only else 'no'}",
            "sync: " + ("EXIF, XMP and IPTC copies kept in step" if self.sync
                        else "off (--no-sync)"),
        ]
        lines += [f"note: {n}" for n in self.notes]
        lines += [
            f"debounce-ms: {round(debounce * 1000)}",
            f"pending: {sum(len(v) for v in pending.values())} edits in {len(pending)} photos",
        ]
        lines += [f"  {photo}: {', '.join(tags)}" for photo, tags in sorted(mine.items())]
        lines.append(
            f"commits: {commits} (rewrites {self.rewrites}, unchanged {self.unchanged}, "
            f"failed {failures})"
        )
        lines += extra
        if viewer is not None:
            lines.append("shown: the lines about photos you can read")
        lines.append(f"notices: {len(notices)}")
        lines += [f"  {n}" for n in notices]
        lines.append(f"errors: {len(errors)}")
        lines += [f"  {e}" for e in errors]
        return ("\n".join(escape(line) for line in lines) + "\n").encode()


def _photo_of(where: str) -> str | None:
    """The photo a status entry is about, from how entries name it: ``PHOTO.meta/TAG``,
    ``PHOTO: ...`` or ``PHOTO``.  A guess that fails only hides the entry from other users
    (render checks the guess names a photo they can read)."""
    if ".meta/" in where:
        return where.rpartition(".meta/")[0]
    return where.split(": ", 1)[0] or None


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """One status line: a backslash, control characters (a newline would start a line of
    its own), and bytes that are not UTF-8 (from os.fsdecode) as backslash escapes."""
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif "\udc80" <= ch <= "\udcff":  # a byte of a name that is not UTF-8
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def _reason(e: BaseException) -> str:
    """An engine error without the photo's path (status lines name the photo already)."""
    if isinstance(e, EngineError):
        return f"tag {e.tag}: {e.reason}" if e.tag else e.reason
    return str(e)


def _lasting(e: BaseException) -> bool:
    """A failure trying again cannot fix: the value or the photo itself is the problem
    (not the disk: full, read-only, I/O error)."""
    if not isinstance(e, EngineError):
        return False
    cause = e.__cause__
    for _ in range(8):  # the engine may wrap its own error once more
        if cause is None or isinstance(cause, OSError):
            break
        cause = cause.__cause__
    return not isinstance(cause, OSError)


def _disk(e: BaseException) -> OSError | None:
    """The OSError behind a failure (the disk: full, read-only, I/O), if any."""
    for _ in range(8):
        if e is None or isinstance(e, OSError):
            return e
        e = e.__cause__  # type: ignore[assignment]
    return None


def _splittable(e: BaseException) -> bool:
    """A failure that may come from one edit among several (a value the checks let through,
    a copy it makes that the other block cannot hold, a tag that does not read back), not
    from the photo itself (damaged, a format metafs does not write) nor from the disk."""
    return (isinstance(e, (TagError, WriteError)) and not isinstance(e, FileChangedError)
            and _disk(e) is None)


def land(
    write: Callable[[dict[str, str | None]], Any],
    changes: dict[str, str | None],
    partners: Callable[[str], tuple[str, ...]] = lambda tag: (),
) -> tuple[Any, dict[str, BaseException]]:
    """Worker thread: write ``changes`` with ``write``, judging each edit on its own.

    Returns (the last write's result, None when nothing was written; {tag: why it was
    refused}).  A tag the engine names (or whose synchronised copy it names) is left out and
    the rest written again; a failure that names no tag is split in halves until the edit
    that causes it stands alone.  Failures of the photo or of the disk raise: they are the
    whole batch's, as is the failure of a batch of one edit."""
    if len(changes) <= 1:
        return write(dict(changes)), {}
    refused: dict[str, BaseException] = {}

    def one_go(todo: dict[str, str | None]) -> Any:
        while True:
            try:
                return write(todo)
            except EngineError as e:
                bad = _culprit(e, todo, partners) if _splittable(e) else None
                if bad is None or len(todo) == 1:
                    raise
                refused[bad] = e
                del todo[bad]

    def split(todo: dict[str, str | None]) -> Any:
        try:
            return one_go(todo)  # drops the edits named by the engine from todo
        except EngineError as e:
            if not _splittable(e):
                raise
            if len(todo) == 1:
                refused.update(dict.fromkeys(todo, e))
                return None
        names = sorted(todo)
        result = None
        for part in (names[: len(names) // 2], names[len(names) // 2 :]):
            got = split({k: todo[k] for k in part})
            result = got if got is not None else result
        return result

    return split(dict(changes)), refused


def _culprit(
    e: EngineError, todo: dict[str, str | None], partners: Callable[[str], tuple[str, ...]]
) -> str | None:
    """The edit of ``todo`` the engine's error is about: the tag it names, or the edit
    whose synchronised copy it names (ImageDescription for xmp/dc:description)."""
    if not isinstance(e, TagError) or not e.tag:
        return None
    if e.tag in todo:
        return e.tag
    found = [t for t in todo if e.tag in partners(t)]
    return found[0] if len(found) == 1 else None


def _tags(changes: dict[str, str | None], most: int = 4) -> str:
    names = sorted(changes)
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


_ITEM = re.compile(r"\[[1-9][0-9]*\]$")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


class MetaEditor:
    def __init__(
        self,
        views: PhotoViews,
        batcher: Batcher,
        journal: Journal | None,
        *,
        read_only: bool = False,
    ) -> None:
        self.views = views
        self.batcher = batcher
        self.journal = journal
        self.read_only = read_only
        self.status = Status()
        self._writing: dict[tuple[str, str], WriteBuffer] = {}
        # (photo, tag) -> errno of its last edit, refused at commit while the photo's other
        # edits landed: an fsync of that tag file reports it
        self._refused: dict[tuple[str, str], int] = {}
        # How long the kernel may keep generated entries (Operations raises it while the
        # SOURCE watcher sees every change)
        self.timeout = pt.GENERATED_TIMEOUT

    # -- helpers ------------------------------------------------------------------------

    async def _md(self, photo: str, *, recent: bool = False) -> Any:
        return await self.views.metadata(photo, recent=recent)

    def _writable(self) -> None:
        if self.read_only:
            raise fail(errno.EROFS)

    def _spec(self, tag: str) -> Any:
        return self.views.spec(tag)

    def _refuse(self, photo: str, tag: str, exc: BaseException) -> pyfuse3.FUSEError:
        self.status.error(f"{photo}.meta/{tag}", getattr(exc, "reason", exc))
        return fuse_error(exc, unknown_tag=errno.EINVAL)

    def _check(self, photo: str, tag: str, text: str) -> None:
        try:
            self.views.engine.check_value(tag, text)
        except EngineError as e:
            raise self._refuse(photo, tag, e) from None
        except NotImplementedError:
            return  # an engine without checks: the write itself will judge
        self._check_copies(photo, tag, text)

    def _check_copies(self, photo: str, tag: str, text: str) -> None:
        """The copies the engine keeps in step with ``tag`` (ImageDescription's in
        xmp/dc:description) must take the value too, or the commit would refuse it.  IPTC
        copies are cut to fit, not refused."""
        cached = self.views.cached(photo)
        md = cached.md if cached is not None else None
        if md is None:
            return
        spec = self._spec(tag)
        for other in self.views.sync_partners(tag):
            if other.startswith("iptc/") or other not in md.tags:
                continue
            value = text
            theirs = self._spec(other)
            if spec is not None and spec.is_list and not (theirs is not None and theirs.is_list):
                value = "; ".join(text.split("\n"))  # a list's copy in one value, as joined
            try:
                self.views.engine.check_value(other, value)
            except TagValueError as e:
                reason = f"its copy {other} cannot take this value: {e.reason}"
                self.status.error(f"{photo}.meta/{tag}", reason)
                raise fail(errno.EINVAL) from None
            except (EngineError, NotImplementedError):
                continue  # not a value problem: the commit judges

    def _photo_writable(self, photo: str, md: Any, tag: str) -> None:
        """Refuse at once (not at commit, where the error reaches no one) edits of a photo
        the engine cannot write: a read-only format (CR3, RAF...) or unreadable metadata."""
        self._writable()
        refusal = self.views.write_refusal(photo, md)
        if refusal is not None:
            code, reason = refusal
            self.status.error(f"{photo}.meta/{tag}", f"{reason}; the photo is unchanged")
            raise fail(code)

    def _group_held(self, photo: str, md: Any, tag: str) -> None:
        """IPTC in a WebP, PNG or HEIF: the format has no place for the tag's group."""
        why = self.views.group_refusal(md, tag)
        if why is not None:
            self.status.error(f"{photo}.meta/{tag}", f"{why}; the photo is unchanged")
            raise fail(errno.EROFS)

    def _can_add(self, photo: str, md: Any, tag: str) -> None:
        """A new tag name must be one the engine knows and can write."""
        self._photo_writable(photo, md, tag)
        self._group_held(photo, md, tag)
        try:
            spec = self.views.engine.tag_spec(tag)
        except EngineError as e:
            raise self._refuse(photo, tag, e) from None
        if not spec.writable:
            self.status.error(f"{photo}.meta/{tag}", "tag is read-only")
            raise fail(errno.EACCES)

    def _can_change(self, photo: str, md: Any, tag: str) -> None:
        self._photo_writable(photo, md, tag)
        self._group_held(photo, md, tag)
        if not self.views.writable(md, tag):
            self.status.error(f"{photo}.meta/{tag}", self.views.why_read_only(md, tag))
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
            self.status.error(f"{photo}.meta/{_tags(changes)}", f"not written: {why}",
                              photo=photo)
            raise fail(code) from None

    # -- names --------------------------------------------------------------------------

    async def entry_kind(self, photo: str, sub: str) -> str | None:
        if sub in self.views.scratch.get(photo, {}):
            return "scratch"
        md = await self._md(photo, recent=True)
        if self.views.value_content(photo, md, sub) is not None:
            return "tag"
        if self.views.is_dir(photo, md, sub):
            return "dir"
        return None

    async def attr(self, node: Node) -> pyfuse3.EntryAttributes:
        if node.kind is Kind.META:
            st = os.stat(self.views.path(node.rel))
            return pt.synth_attr(node.inode, dir_mode(st, not self.read_only), 0, st,
                                 timeout=self.timeout)
        scratch = self.views.scratch.get(node.rel, {}).get(node.sub)
        if scratch is not None:
            return pt.synth_attr(
                node.inode,
                stat.S_IFREG | scratch.mode,
                len(scratch.data),
                os.stat(self.views.path(node.rel)),
                mtime_ns=scratch.mtime_ns,
                timeout=self.timeout,
            )
        md = await self._md(node.rel, recent=True)
        st = self.views.stat(node.rel)
        content = self.views.value_content(node.rel, md, node.sub)
        if content is None:
            raise fail(errno.ENOENT)
        size, mtime = len(content), None
        buf = self._writing.get((node.rel, node.sub))
        if buf is not None:
            size, mtime = len(buf.data), buf.mtime_ns
        writable = not self.read_only and self.views.writable(md, node.sub)
        return pt.synth_attr(node.inode, file_mode(st, writable), size, st, mtime_ns=mtime,
                             timeout=self.timeout)

    async def listing(self, photo: str, prefix: str) -> list[tuple[str, Node, Any]]:
        """(name, node key as a Node template, attributes without the inode) of a .meta
        folder's entries, from one look at the photo: readdirplus over thousands of tag
        files must not cost a stat and a lookup each.  Memoized while the photo is clean
        (the same list object is returned: readdir reuses attributes made for its tuples)."""
        md = await self._md(photo, recent=True)
        memo = self.views.memo(photo, md)
        if memo is not None:
            key = ("listing", prefix)
            if key not in memo:
                memo[key] = self._listing(photo, prefix, md)
            out: list[tuple[str, Node, Any]] = memo[key]
            return out
        return self._listing(photo, prefix, md)

    def _listing(self, photo: str, prefix: str, md: Any) -> list[tuple[str, Node, Any]]:
        st = self.views.stat(photo)
        scratch = self.views.scratch.get(photo, {})
        folder = dir_mode(st, not self.read_only)
        out = []
        for name, is_dir in self.views.children(photo, md, prefix):
            sub = _join(prefix, name)
            if is_dir:
                proto = (folder, 0, st, None)
            elif sub in scratch:
                f = scratch[sub]
                proto = (stat.S_IFREG | f.mode, len(f.data), st, f.mtime_ns)
            else:
                content = self.views.value_content(photo, md, sub) or b""
                writable = not self.read_only and self.views.writable(md, sub)
                proto = (file_mode(st, writable), len(content), st, None)
            kind = Kind.META if is_dir else Kind.TAG
            out.append((name, Node(0, kind, photo, sub), proto))
        return out

    async def unlink(self, parent: Node, name: str) -> str:
        self._writable()
        photo, sub = parent.rel, _join(parent.sub, name)
        scratch = self.views.scratch.get(photo, {})
        if sub in scratch:
            del scratch[sub]
            return sub
        md = await self._md(photo)
        if self.views.value_content(photo, md, sub) is None:
            raise fail(errno.ENOENT)
        self._can_change(photo, md, sub)
        await self.edit(photo, {sub: None})
        return sub

    async def mkdir(self, parent: Node, name: str) -> str:
        """A folder for an XMP structure (or an item of a list of them) the photo does not
        have yet: `mkdir` then write its fields, or `cp -r` one from another photo."""
        self._writable()
        photo, sub = parent.rel, _join(parent.sub, name)
        md = await self._md(photo)
        self._group_held(photo, md, sub)  # iptc/ of a WebP: not there to be made
        if await self.entry_kind(photo, sub) is not None:
            raise fail(errno.EEXIST)
        self._photo_writable(photo, md, sub)
        try:  # item N of a list of structures is a folder too
            spec = self.views.engine.tag_spec(_ITEM.sub("", sub))
        except EngineError as e:
            raise self._refuse(photo, sub, e) from None
        if spec.kind != "struct":
            self.status.error(f"{photo}.meta/{sub}", "only an XMP structure (or item N of a "
                              "list of structures, as name[N]) can be a folder here")
            raise fail(errno.EPERM)
        self.views.made_dirs.setdefault(photo, set()).add(sub)
        return sub

    async def rmdir(self, parent: Node, name: str) -> None:
        self._writable()
        photo, sub = parent.rel, _join(parent.sub, name)
        md = await self._md(photo)
        if not self.views.is_dir(photo, md, sub):
            raise fail(errno.ENOENT)
        if self.views.children(photo, md, sub):
            raise fail(errno.ENOTEMPTY)
        made = self.views.made_dirs.get(photo)
        if made is not None and sub in made:
            made.discard(sub)
            if not made:
                del self.views.made_dirs[photo]
            return
        # An empty family folder (xmp/, iptc/) stays: there is nothing to remove.

    async def rename(
        self, old: Node, name_old: str, new: Node, name_new: str, flags: int
    ) -> tuple[str, str]:
        self._writable()
        photo = old.rel
        src, dst = _join(old.sub, name_old), _join(new.sub, name_new)
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise fail(errno.EINVAL)
        dst_kind = await self.entry_kind(photo, dst)
        if dst_kind is not None and flags & pyfuse3.RENAME_NOREPLACE:
            raise fail(errno.EEXIST)
        if dst_kind == "dir":
            raise fail(errno.EISDIR)
        scratches = self.views.scratch_of(photo)
        to_scratch = dst in scratches or self._scratch(photo, dst, name_new)
        if src in scratches:
            f = scratches[src]
            if to_scratch:
                del scratches[src]
                scratches[dst] = f
                return src, dst
            await self._set_from(photo, dst, bytes(f.data), extra={})
            del scratches[src]
            return src, dst
        md = await self._md(photo)
        content = self.views.value_content(photo, md, src)
        if content is None:
            raise fail(errno.ENOENT)
        self._can_change(photo, md, src)
        if to_scratch:
            await self.edit(photo, {src: None})
            scratches[dst] = ScratchFile(bytearray(content))
        else:
            await self._set_from(photo, dst, content, extra={src: None})
        return src, dst

    async def _set_from(
        self, photo: str, tag: str, content: bytes, extra: dict[str, str | None]
    ) -> None:
        md = await self._md(photo)
        exists = self.views.value_content(photo, md, tag) is not None
        if exists:
            self._can_change(photo, md, tag)
        else:
            self._can_add(photo, md, tag)
        try:
            text = decode(content)
        except TagError as e:
            raise self._refuse(photo, tag, e) from None
        if text:
            self._check(photo, tag, text)
            await self.edit(photo, {**extra, tag: text})
        elif exists or extra:  # emptied: deleted, as `exiftool -TAG=` does
            await self.edit(photo, {**extra, **({tag: None} if exists else {})})

    # -- files --------------------------------------------------------------------------

    async def open(self, node: Node, flags: int) -> TagHandle | ScratchHandle:
        photo, tag = node.rel, node.sub
        writing = (flags & os.O_ACCMODE) != os.O_RDONLY or flags & (os.O_TRUNC | os.O_APPEND)
        scratch = self.views.scratch.get(photo, {}).get(tag)
        if scratch is not None:
            if flags & os.O_TRUNC:
                scratch.truncate(0)
            return ScratchHandle(scratch, append=bool(flags & os.O_APPEND))
        md = await self._md(photo)
        content = self.views.value_content(photo, md, tag)
        if content is None:
            if not writing:
                raise fail(errno.ENOENT)
            # The kernel still knows the name of a tag deleted since (emptied, or by a
            # commit) and opens it rather than create it: `echo x > Tag` makes it again.
            return self._create(photo, md, tag, flags)
        if not writing:
            return TagHandle(photo, tag, content)
        self._can_change(photo, md, tag)
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
        spec = self._spec(tag)
        if spec is not None and not spec.is_list:
            self.status.error(
                f"{photo}.meta/{tag}",
                "holds one value, not a list: '>>' cannot add an item; "
                "write the whole value with '>'",
            )
            raise fail(errno.EINVAL)

    async def create(self, parent: Node, name: str, mode: int, flags: int) -> tuple[str, Any]:
        self._writable()
        photo, sub = parent.rel, _join(parent.sub, name)
        kind = await self.entry_kind(photo, sub)
        if kind == "dir":
            raise fail(errno.EISDIR)
        if kind is not None:
            if flags & os.O_EXCL:
                raise fail(errno.EEXIST)
            return sub, await self.open(Node(0, Kind.TAG, photo, sub), flags)
        if self._scratch(photo, sub, name):
            f = ScratchFile(mode=stat.S_IMODE(mode))
            self.views.scratch_of(photo)[sub] = f
            return sub, ScratchHandle(f, append=bool(flags & os.O_APPEND))
        return sub, self._create(photo, await self._md(photo), sub, flags)

    def _scratch(self, photo: str, sub: str, name: str) -> bool:
        """Whether a new file ``name`` is an editor's or tool's scratch file: a name no tag
        can have (``tagfiles.is_scratch_name``: Artist.XXXX, tmp8x7k2, perl's XXAbC123...)
        that the engine does not know either.  A lowercase name that is a tag's but for
        its case (``model``) is a misspelt tag: refused, as ``Modle`` is at create."""
        if not is_scratch_name(name) or self._spec(sub) is not None:
            return False
        if name[:1].islower() and ":" not in name:
            folder = sub[: -len(name)]
            for guess in (name[0].upper() + name[1:], name.upper()):
                if self._spec(folder + guess) is not None:
                    self.status.error(f"{photo}.meta/{sub}", f"no such tag; did you mean {guess}?")
                    raise fail(errno.EINVAL)
        return True

    def _create(self, photo: str, md: Any, tag: str, flags: int) -> TagHandle:
        """A writer of a tag the photo does not have (yet)."""
        self._can_add(photo, md, tag)
        key = (photo, tag)
        self.views.creating[key] = self.views.creating.get(key, 0) + 1
        buf = WriteBuffer(bytearray(), append=bool(flags & os.O_APPEND))
        return TagHandle(photo, tag, b"", buf, created=True)

    def read(self, h: Any, off: int, size: int) -> bytes:
        if isinstance(h, ScratchHandle):
            data: Any = h.file.data
        elif isinstance(h, TagHandle):
            if h.buf is not None:
                data = h.buf.data
            elif h.node is not None and h.node.page is not None:
                data = h.node.page
            else:
                data = h.snapshot
        else:
            data = h.data
        return bytes(data[off : off + size])

    async def write(self, h: Any, off: int, data: bytes) -> int:
        if isinstance(h, ScratchHandle):
            return h.file.write(len(h.file.data) if h.append else off, data)
        if not isinstance(h, TagHandle) or h.buf is None:
            raise fail(errno.EBADF)
        new = h.buf.preview(off, data)
        line = complete_line(new)
        if line is None and new.endswith(b"\n") and new.count(b"\n") == 1:
            try:  # a complete line that is not text can never be a value
                decode(new)
            except TagError as e:
                h.buf.refused = True
                raise self._refuse(h.photo, h.tag, e) from None
        handed_on = False
        if line is not None:
            spec = self._spec(h.tag)
            if spec is None or not spec.is_list:
                # `echo abc > ISO`: the shell ignores close() errors, so judge a complete
                # single value now, while the error still reaches the user.
                try:
                    self._check(h.photo, h.tag, line)
                except pyfuse3.FUSEError:
                    h.buf.refused = True
                    raise
                if line and self.journal is not None:
                    # And make it durable now, for the same reason: a full disk fails this
                    # write() (ENOSPC), which the shell reports.  (Handed on at once too: the
                    # journal's order is the batcher's.)
                    try:
                        await self.edit(h.photo, {h.tag: line})
                    except pyfuse3.FUSEError:
                        h.buf.refused = True  # nor is the file emptied (`>`) at release
                        raise
                    handed_on = True
        h.buf.commit_write(new)
        if handed_on:
            h.buf.dirty, h.buf.handed_on = False, True
        self._writing[(h.photo, h.tag)] = h.buf
        return len(data)

    async def flush(self, h: TagHandle) -> None:
        buf = h.buf
        if buf is None or not buf.dirty or buf.refused:
            return
        buf.dirty = False
        try:
            text = decode(buf.data)
        except TagError as e:
            buf.refused = True
            raise self._refuse(h.photo, h.tag, e) from None
        if text:
            self._check(h.photo, h.tag, text)  # a later write may still fix the value
            await self.edit(h.photo, {h.tag: text})
        elif not h.created or buf.handed_on:  # emptied: deleted, as `exiftool -TAG=` does
            await self.edit(h.photo, {h.tag: None})
        if self._writing.get((h.photo, h.tag)) is buf:
            del self._writing[(h.photo, h.tag)]

    async def release(self, h: TagHandle) -> None:
        buf = h.buf
        try:
            if buf is not None and buf.emptied and not buf.refused and not h.created:
                # Opened to be emptied and closed without a write: `: > Make`.  Nothing
                # is what the file holds now, so the tag goes (as with `exiftool -Make=`).
                buf.emptied = False
                await self.edit(h.photo, {h.tag: None})
            await self.flush(h)
        except pyfuse3.FUSEError:
            pass  # reported at flush already; release errors go nowhere
        finally:
            if h.buf is not None and self._writing.get((h.photo, h.tag)) is h.buf:
                del self._writing[(h.photo, h.tag)]
            if h.created:
                key = (h.photo, h.tag)
                n = self.views.creating.get(key, 0) - 1
                if n > 0:
                    self.views.creating[key] = n
                else:
                    self.views.creating.pop(key, None)

    async def fsync(self, h: TagHandle) -> None:
        await self.flush(h)
        await self.commit_photo(h.photo, h.tag)

    async def setattr(self, node: Node, attr: Any, fields: Any, h: Any) -> None:
        scratch = self.views.scratch.get(node.rel, {}).get(node.sub)
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
            self._writing[(h.photo, h.tag)] = h.buf
            return
        md = await self._md(node.rel)
        content = self.views.value_content(node.rel, md, node.sub)
        if content is None:
            raise fail(errno.ENOENT)
        self._can_change(node.rel, md, node.sub)
        data = bytearray(content)
        truncate(data, attr.st_size)
        await self._set_from(node.rel, node.sub, bytes(data), extra={})

    # -- commits ------------------------------------------------------------------------

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
            written, (sig, md, err), refused = result
            self.views.store(photo, md, sig, err)
            self.views.settle_made_dirs(photo, md)
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
                self.status.error(f"{photo}.meta/{tag}", f"not written: {_reason(e)}; {rest}")
                self._refused[(photo, tag)] = errno_for(e, unknown_tag=errno.EINVAL)
                while len(self._refused) > 1000:
                    del self._refused[next(iter(self._refused))]
        else:
            self.views.store(photo, None, None, None)  # read it again on next access
            if isinstance(error, TagError) or _splittable(error):
                # the value was the problem (a batch of one edit), not the photo
                hint = "these edits are dropped; write a value the tag takes and try again"
            elif _lasting(error):
                hint = "these edits are dropped (metafs cannot write this photo)"
            else:
                hint = "these edits stay in the journal and are tried again at the next mount"
            self.status.error(
                f"{photo}: {len(changes)} edit(s) not written ({_tags(changes)})",
                f"{_reason(error)}; the photo is unchanged; {hint}",
            )
        # A refused value or a photo the engine cannot write will never do: drop the edit
        # from the journal.  Failures of the disk (full, I/O) stay journaled and are tried
        # again at the next mount.
        if self.journal is not None and (error is None or _lasting(error)):
            await self.journal.done(photo, seq)
