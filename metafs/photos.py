"""What a photo's .meta folder holds: cached metadata, with what ``metafs.pending`` holds
(pending edits, scratch files, tags being created, made folders) on top.

The engine is reached through ``EngineFacade`` so tests can give the daemon a fake one.
Metadata is cached per photo together with the photo's (inode, size, mtime, ctime); any change
of those (another program rewrote the photo, or we did) makes the next access read it again.
Reading it goes to the persistent index first (metafs.index): a photo whose (device, inode,
size, mtime, ctime) match its row is not decoded again, across walks and mounts.  So the
daemon keeps only a bounded working set of photos in memory (``CACHE_SIZE``): a walk of a
library larger than that costs an index lookup per photo, not a decode.
What is derived from the metadata alone (tag file contents, folder listings) is memoized per
photo until the metadata changes; it is used only while the photo has no pending edit, no
scratch file and no tag being created (``clean``), so what it says is always exact.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

import engine
from engine import EngineError, Metadata
from metafs.extraparts import ExtraParts, part_names, part_of
from metafs.facade import EngineFacade, real_engine, sniff_image  # noqa: F401 (their home once)
from metafs.index import MetaIndex
from metafs.pending import Pending
from metafs.tagfiles import encode_text, tag_content

log = logging.getLogger(__name__)

Signature = tuple[int, int, int, int]
Read = tuple[Signature, Metadata | None, str | None]

# Folders every .meta shows even when empty, so new tags of these families can be created.
DEFAULT_DIRS = ("iptc", "xmp")
# Photos kept decoded in memory (with their memoized tag contents and listings): the working
# set of the walks in progress (a walk is done with a photo a moment after it came to it).
# The index holds the rest; RSS does not grow with the library.  A decoded photo holds up
# to about 100 KB: 1,024 of them were a third of the daemon's peak at 100,000 photos.
CACHE_SIZE = 256
META_SUFFIX = ".meta"  # NAME.meta/: the folder of a photo's tags
# Lookups, getattr and listings trust the photo's last stat for this long (the kernel itself
# caches attributes for a second); opening a tag file always looks at the photo again.
STAT_WINDOW = 0.2
NAME_MAX = 255  # bytes in one file name on the filesystems a mount is copied to


def meta_name_fits(name: str) -> bool:
    """Whether ``NAME.meta`` is a name other filesystems can hold (rsync, cp -r, tar x):
    a photo whose name is too long for it has no .meta folder (``metafs read`` still works)."""
    return len(os.fsencode(name)) + len(META_SUFFIX) <= NAME_MAX


def dir_mode(photo: os.stat_result, writable: bool) -> int:
    """Mode of a .meta folder: who may read the photo may list it, who may write the photo
    may add and remove its tags (``default_permissions`` makes the kernel check this)."""
    read = stat.S_IMODE(photo.st_mode) & 0o444
    mode = read | (read >> 2)
    if writable:
        mode |= stat.S_IMODE(photo.st_mode) & 0o222
    return stat.S_IFDIR | mode


def file_mode(photo: os.stat_result, writable: bool) -> int:
    """Mode of a tag file: the photo's read bits, and its write bits for a writable tag."""
    return stat.S_IFREG | (stat.S_IMODE(photo.st_mode) & (0o666 if writable else 0o444))


def signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(eq=False)
class Photo:
    md: Metadata | None = None
    sig: Signature | None = None
    error: str | None = None  # why the metadata could not be read
    lock: trio.Lock = field(default_factory=trio.Lock)
    dirs: set[str] | None = None  # folder prefixes of md's tags (cached)
    st: os.stat_result | None = None  # the photo's last stat, taken at ``checked``
    checked: float = -1e9
    memo: dict[Any, Any] = field(default_factory=dict)  # derived from md alone

    def reset(self) -> None:
        self.dirs = None
        self.memo = {}


class PhotoViews:
    def __init__(
        self,
        facade: EngineFacade,
        source: str,
        pending: Pending,
        *,
        index: MetaIndex | None = None,
        on_change: Callable[[str], None] = lambda rel: None,
    ) -> None:
        self.engine = facade
        self.source = source
        self.pending = pending  # what the views show on top of the metadata
        self._photos: OrderedDict[str, Photo] = OrderedDict()
        self._is_image: OrderedDict[tuple[str, Signature], bool] = OrderedDict()
        # Called when a photo is found changed by someone else (its metadata read again).
        self.on_change = on_change
        # tag path -> (TagSpec, None) or (None, why the writer does not take it)
        self._specs: OrderedDict[str, tuple[Any, str | None]] = OrderedDict()
        # id(metadata) -> (metadata, the groups its format can hold)
        self._group_memo: dict[int, tuple[Metadata, frozenset[str]]] = {}
        self.index = index  # the persistent index of the mount (metafs.index), if any
        self.decodes = 0  # photos decoded by the engine (index misses included)
        self.extra = ExtraParts(facade.read_parts, facade.tag_bytes, self.path)

    def path(self, rel: str) -> str:
        return os.path.join(self.source, rel)

    # -- is it a photo? -----------------------------------------------------------------

    def is_image(self, rel: str, st: os.stat_result) -> bool:
        """Sniffs the header once per (path, signature).  Blocking: call from a thread for
        many files, or inline for one (a 64-byte read)."""
        key = (rel, signature(st))
        hit = self._is_image.get(key)
        if hit is None:
            hit = self.engine.can_read(self.path(rel))
            self._is_image[key] = hit
            if len(self._is_image) > 4 * CACHE_SIZE:
                self._is_image.popitem(last=False)
        return hit

    # -- metadata -----------------------------------------------------------------------

    async def metadata(self, rel: str, *, recent: bool = False) -> Metadata | None:
        """The photo's metadata, read again when the photo changed.  None when unreadable.
        ``recent``: a stat of the photo taken less than STAT_WINDOW ago will do."""
        photo = self._photos.get(rel)
        if photo is None:
            photo = self._photos[rel] = Photo()
            if len(self._photos) > CACHE_SIZE:
                self._evict()
        else:
            self._photos.move_to_end(rel)
            if recent and photo.sig is not None and not photo.lock.locked():
                if time.monotonic() - photo.checked < STAT_WINDOW:
                    return photo.md
        st = self._stat(photo, rel)  # FileNotFoundError -> ENOENT
        if photo.sig == signature(st):
            return photo.md
        async with photo.lock:
            st = self._stat(photo, rel)
            if photo.sig != signature(st):
                known = photo.sig is not None
                # The index inline (a point lookup in a file the page cache holds: cheaper
                # than the hop to a thread), the engine in a thread.
                hit = self._from_index(rel, st)
                if hit is not None:
                    sig, md, err = hit
                else:
                    sig, md, err = await trio.to_thread.run_sync(self._decode, rel)
                self.store(rel, md, sig, err)
                if known:
                    self.on_change(rel)
        return photo.md

    def _evict(self) -> None:
        """Drop the photo used longest ago (not one being read: its lock is held)."""
        for _ in range(len(self._photos)):
            rel, photo = self._photos.popitem(last=False)
            if not photo.lock.locked():
                return
            self._photos[rel] = photo

    def _stat(self, photo: Photo, rel: str) -> os.stat_result:
        st = os.stat(self.path(rel))
        photo.st, photo.checked = st, time.monotonic()
        return st

    def stat(self, rel: str) -> os.stat_result:
        """The photo's stat as last taken by ``metadata`` (taken now when there is none)."""
        photo = self._photos.get(rel)
        if photo is None or photo.st is None:
            return os.stat(self.path(rel))
        return photo.st

    def _from_index(self, rel: str, st: os.stat_result) -> Read | None:
        if self.index is None:
            return None
        path = self.path(rel)
        hit = self.index.get(rel, self.index.key(st, path), path)
        return None if hit is None else (signature(st), hit[0], hit[1])

    def _read(self, rel: str) -> Read:
        """Blocking: the photo's metadata from the index, else decoded."""
        hit = self._from_index(rel, os.stat(self.path(rel)))
        return hit if hit is not None else self._decode(rel)

    def _decode(self, rel: str) -> Read:
        """Blocking: the engine reads the photo; the index keeps what it found."""
        path = self.path(rel)
        st = os.stat(path)  # before reading: a change while reading reloads again
        sig = signature(st)
        index = self.index
        key = index.key(st, path) if index is not None else None  # before reading, as st
        self.decodes += 1
        md: Metadata | None = None
        err: str | None = None
        try:
            md = self.engine.read_metadata(path)
        except (EngineError, OSError) as e:  # an unreadable photo shows an empty .meta
            log.warning("cannot read metadata of %s: %s", path, e)
            err = str(e)
        if index is not None and key is not None:
            index.put(rel, key, md, err)
        return sig, md, err

    def read_fresh(self, rel: str) -> tuple[Signature, Metadata | None, str | None]:
        """Blocking read (used by the commit thread right after a write): decoded, and the
        index row replaced in the same step."""
        return self._decode(rel)

    def store(self, rel: str, md: Metadata | None, sig: Signature | None, err: str | None) -> None:
        photo = self._photos.setdefault(rel, Photo())
        photo.md, photo.sig, photo.error = md, sig, err
        photo.checked = -1e9  # the next access looks at the photo again
        photo.reset()

    def cached(self, rel: str) -> Photo | None:
        return self._photos.get(rel)

    def recheck(self, rel: str) -> None:
        """The photo is looked at again at its next access (it may have changed)."""
        photo = self._photos.get(rel)
        if photo is not None:
            photo.checked = -1e9

    def recheck_all(self) -> None:
        """Every photo is looked at again at its next access (SOURCE may have changed)."""
        for photo in self._photos.values():
            photo.checked = -1e9

    def settle_made_dirs(self, rel: str, md: Metadata | None) -> None:
        """Folders made with mkdir that the photo's metadata now has are real: forget them."""
        if md is not None:
            self.pending.settle_dirs(rel, _prefixes(md.tags))

    def forget(self, rel: str) -> None:
        """The photo was removed or renamed: drop its state (pending edits live elsewhere)."""
        for key in [k for k in self._photos if k == rel or k.startswith(rel + "/")]:
            del self._photos[key]
        if self.index is not None:
            self.index.drop(rel)
        self.pending.forget(rel)
        self.extra.forget(rel)

    # -- the tag tree -------------------------------------------------------------------

    def clean(self, rel: str) -> bool:
        """No pending edit, scratch file or tag being created: the view is md alone."""
        return self.pending.clean(rel)

    def memo(self, rel: str, md: Metadata | None) -> dict[Any, Any] | None:
        """The memo of a clean photo whose metadata is ``md`` (None: compute afresh)."""
        photo = self._photos.get(rel)
        if photo is None or photo.md is not md or md is None or not self.clean(rel):
            return None
        return photo.memo

    def value_content(self, rel: str, md: Metadata | None, tag: str) -> bytes | None:
        """File content of a tag (pending edits win), None when there is no such tag."""
        part = part_of(tag)
        if part is not None:  # a read-only part: no edit, no pending state
            found = self.extra.tags(rel, md, part).get(tag)
            return None if found is None else self.extra.content(rel, md, found, tag)
        t = md.tags.get(tag) if md is not None else None
        if t is not None and t.is_binary and tag not in self.pending.overlay(rel):
            return self.extra.content(rel, md, t, tag)  # bytes: never memoized here
        memo = self.memo(rel, md)
        if memo is not None and md is not None:
            key = ("content", tag)
            if key not in memo:
                memo[key] = tag_content(md.tags[tag]) if tag in md.tags else None
            content: bytes | None = memo[key]
            return content
        over = self.pending.overlay(rel)
        if tag in over:
            text = over[tag]
            if text is not None:
                return encode_text(text)
        elif md is not None and tag in md.tags:
            return tag_content(md.tags[tag])
        if self.pending.creating(rel, tag):  # created (vim: after renaming the old one away)
            return b""
        return None

    def still_has(self, rel: str, md: Metadata | None, tag: str) -> bool:
        """Whether the view may still show ``tag`` (``value_content`` not None), without
        reading a binary tag's bytes or decoding a read-only part not decoded yet (its
        names are never written, so one the kernel keeps a while harms no one)."""
        part = part_of(tag)
        if part is not None:
            found = self.extra.cached(rel, md, part)
            return found is None or tag in found
        if md is not None and tag in md.tags and tag not in self.pending.overlay(rel):
            return True
        return self.value_content(rel, md, tag) is not None

    def listed_size(self, rel: str, md: Metadata | None, tag: str) -> int:
        """A tag file's size as a folder listing shows it: a binary tag's bytes are not
        read for it (``extraparts``)."""
        part = part_of(tag)
        t = (self.extra.tags(rel, md, part) if part is not None
             else md.tags if md is not None else {}).get(tag)
        if t is not None and t.is_binary and tag not in self.pending.overlay(rel):
            return self.extra.listed_size(rel, md, t, tag)
        return len(self.value_content(rel, md, tag) or b"")

    def listed_content(self, rel: str, md: Metadata | None, tag: str) -> bytes | None:
        """A tag file's content when it is at hand (None for a binary tag, whose bytes a
        listing does not read from the photo: ``listed_size``)."""
        part = part_of(tag)
        t = (self.extra.tags(rel, md, part) if part is not None
             else md.tags if md is not None else {}).get(tag)
        if t is None or (t.is_binary and tag not in self.pending.overlay(rel)):
            return None
        return self.value_content(rel, md, tag)

    def spec(self, tag: str) -> Any:
        """The engine's TagSpec of a tag path, None for a name it cannot write (cached)."""
        return self._spec(tag)[0]

    def _spec(self, tag: str) -> tuple[Any, str | None]:
        hit = self._specs.get(tag)
        if hit is not None:
            self._specs.move_to_end(tag)
            return hit
        try:
            hit = (self.engine.tag_spec(tag), None)
        except (EngineError, NotImplementedError) as e:  # unknown, or cannot tell yet
            hit = (None, str(getattr(e, "reason", e)))
        self._specs[tag] = hit
        if len(self._specs) > 4 * CACHE_SIZE:
            self._specs.popitem(last=False)
        return hit

    def why_read_only(self, md: Metadata | None, tag: str) -> str:
        """Why ``writable(md, tag)`` is False, for the status file."""
        spec, why = self._spec(tag)
        if (md is None or tag not in md.tags or md.tags[tag].writable) and spec is None:
            return f"metafs cannot write this tag ({why})"
        return "tag is read-only (binary, derived or unsafe)"

    def writable(self, md: Metadata | None, tag: str) -> bool:
        """A tag the reader shows as writable and the writer takes (the reader shows some
        tags, such as XMP structure fields, that the writer cannot address yet), in a group
        the photo's format can hold."""
        if md is not None and md.file_type in engine.READ_ONLY_TYPES:
            return False
        if self.group_refusal(md, tag) is not None:
            return False
        if md is not None and tag in md.tags and not md.tags[tag].writable:
            return False
        spec = self.spec(tag)
        return spec is not None and bool(spec.writable)

    def group_refusal(self, md: Metadata | None, tag: str) -> str | None:
        """Why the photo's format cannot hold ``tag``'s group (IPTC in a WebP), else None."""
        part = part_of(tag)
        if part is not None:
            return (f"the {part}/ folder is read-only: metafs reads these tags (as ExifTool "
                    "does) but does not write them")
        if md is None:
            return None
        group = group_of(tag)
        if group in self._groups(md):
            return None
        why: str = engine.why_not_writable(md.format, group)
        return why

    def _groups(self, md: Metadata) -> frozenset[str]:
        hit = self._group_memo.get(id(md))
        if hit is not None and hit[0] is md:
            return hit[1]
        groups = engine.writable_groups(md.format, any(t.startswith("iptc/") for t in md.tags))
        if len(self._group_memo) >= 64:
            self._group_memo.clear()
        self._group_memo[id(md)] = (md, groups)
        return groups

    def sync_partners(self, tag: str) -> tuple[str, ...]:
        """The tags a write of ``tag`` also sets when the photo has them (Artist:
        xmp/dc:creator and iptc/By-line), as the engine keeps them in step."""
        return tuple(t for group in engine.SYNC_GROUPS if tag in group for t in group if t != tag)

    def write_refusal(self, rel: str, md: Metadata | None) -> tuple[int, str] | None:
        """(errno, reason) when no tag of this photo can be written, else None."""
        if md is None:
            photo = self._photos.get(rel)
            why = photo.error if photo is not None and photo.error else "unknown error"
            return errno.EIO, f"cannot read the photo's metadata, so it cannot be written: {why}"
        name = engine.READ_ONLY_TYPES.get(md.file_type)
        if name is not None:
            return errno.EACCES, f"metafs reads {name} files but cannot write them"
        return None

    def tag_paths(self, rel: str, md: Metadata | None) -> set[str]:
        paths = set(md.tags) if md is not None else set()
        for tag, text in self.pending.overlay(rel).items():
            if text is None:
                paths.discard(tag)
            else:
                paths.add(tag)
        paths.update(self.pending.created_tags(rel))
        return paths

    def is_dir(self, rel: str, md: Metadata | None, prefix: str) -> bool:
        if prefix in DEFAULT_DIRS:
            return True
        part = part_of(prefix)
        if part is not None and self.extra.read_parts is not None:
            return prefix == part or prefix in _prefixes(self.extra.tags(rel, md, part))
        photo = self._photos.get(rel)
        if photo is not None and photo.md is md and md is not None:
            if photo.dirs is None:
                photo.dirs = _prefixes(md.tags)
            if prefix in photo.dirs:
                return True
        pending = self.pending
        extra = list(pending.overlay(rel)) + pending.created_tags(rel)
        extra += pending.scratch_names(rel)
        made = pending.made_dirs(rel)
        return prefix in made or prefix in _prefixes(extra + [d + "/" for d in made])

    def children(self, rel: str, md: Metadata | None, prefix: str) -> list[tuple[str, bool]]:
        """(name, is_dir) of the entries of a folder of the .meta view, sorted by name."""
        memo = self.memo(rel, md)
        if memo is not None:
            key = ("children", prefix)
            if key not in memo:
                memo[key] = self._children(rel, md, prefix)
            kids: list[tuple[str, bool]] = memo[key]
            return kids
        return self._children(rel, md, prefix)

    def _children(self, rel: str, md: Metadata | None, prefix: str) -> list[tuple[str, bool]]:
        base = prefix + "/" if prefix else ""
        out: dict[str, bool] = {}
        part = part_of(prefix)
        if not prefix:  # a group's folder, as far as the photo's format can hold it
            held = self._groups(md) if md is not None else DEFAULT_DIRS
            out.update(dict.fromkeys((d for d in DEFAULT_DIRS if d in held), True))
            if md is not None and self.extra.read_parts is not None:  # not decoded for it
                out.update(dict.fromkeys(part_names(), True))
        if part is not None:
            names = set(self.extra.tags(rel, md, part))
        else:
            names = self.tag_paths(rel, md) | set(self.pending.scratch_names(rel))
            names |= {d + "/" for d in self.pending.made_dirs(rel)}  # a folder, however empty
        for path in names:
            if not path.startswith(base):
                continue
            rest = path[len(base) :]
            if not rest:
                continue  # the folder itself (made with mkdir)
            head, sep, _ = rest.partition("/")
            if sep:
                out[head] = True
            else:
                out.setdefault(head, False)
        return sorted(out.items())


def group_of(tag: str) -> str:
    """The metadata group of a tag path: "xmp", "iptc" or "exif"."""
    head = tag.partition("/")[0]
    return head if head in ("xmp", "iptc") else "exif"


def _prefixes(paths: Mapping[str, Any] | list[str]) -> set[str]:
    out = set()
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            out.add("/".join(parts[:i]))
    return out
