"""The read-only folders of a .meta view (``makernotes/``, ``composite/``, ``file/``, ``icc/``...:
one per part of ``engine.EXTRA_PARTS``), and the bytes of binary tags.

A part is decoded for a photo only when one of its folders is listed or one of its files
looked up or opened (``cat */*.meta/Make`` pays for none of them), once per photo and part
while the photo's metadata stays the same; they are not kept in the index (decoding a part
from the file costs about what reading the index row would).  A binary tag's file
(``ifd1/ThumbnailImage``, ``MakerNote``, ``PreviewImage``...) holds the tag's bytes, read from
the photo when the file is looked up or opened; its size in a folder listing is the size the
reader reports (``binary_size``).  When the bytes cannot be had, the file holds the text
ExifTool prints, "(Binary data N bytes)".
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

import trio

import engine
from engine import EngineError, Metadata, TagValue
from metafs.tagfiles import tag_content

log = logging.getLogger(__name__)

# A part that uses the tags of every part before it (ExifTool's composite tags).
USES_ALL = "composite"
# Photos whose decoded parts are kept: about 100 KB each with the maker notes, and a walk
# (`grep -r` over the group folders) reads a photo's folders one after the other.
PHOTOS_KEPT = 64
BYTES_KEPT = 16 * 1024 * 1024  # binary tag contents kept, in bytes (the kernel caches too)


def part_names() -> tuple[str, ...]:
    """The read-only parts, as the engine lists them now."""
    return tuple(engine.EXTRA_PARTS)


def has_bytes(path: str) -> bool:
    """Whether the engine can give the bytes of a binary tag at ``path`` (EXIF and the
    read-only parts; not XMP or IPTC, whose binary values are shown as text)."""
    return not path.startswith(("xmp/", "iptc/"))


def part_of(tag: str) -> str | None:
    """The read-only part a tag path (or folder) is in, else None."""
    head = tag.partition("/")[0]
    return head if head in engine.EXTRA_PARTS else None


class ExtraParts:
    """Decoded read-only parts per photo, and binary tag contents, both bounded."""

    def __init__(self, read_parts: Callable[..., Metadata] | None,
                 tag_bytes: Callable[[str, str], bytes | None] | None,
                 path_of: Callable[[str], str]) -> None:
        self.read_parts, self.tag_bytes, self.path_of = read_parts, tag_bytes, path_of
        # photo -> (the metadata the parts go with, part -> {tag path: TagValue})
        self._parts: OrderedDict[str, tuple[Metadata, dict[str, dict[str, TagValue]]]] = (
            OrderedDict())
        # (photo, tag) -> (the metadata it goes with, content)
        self._bytes: OrderedDict[tuple[str, str], tuple[Metadata, bytes]] = OrderedDict()
        self._bytes_size = 0
        self.decodes: dict[str, int] = {}  # part -> times decoded
        self.bytes_read = 0  # binary tag contents read from photos

    def forget(self, rel: str) -> None:
        self._parts.pop(rel, None)
        for key in [k for k in self._bytes if k[0] == rel]:
            self._bytes_size -= len(self._bytes.pop(key)[1])

    def summary(self) -> str:
        parts = ", ".join(f"{p} {n}" for p, n in sorted(self.decodes.items())) or "none"
        return f"read-only parts decoded: {parts}; binary tags read {self.bytes_read}"

    # -- parts ----------------------------------------------------------------------------

    def cached(self, rel: str, md: Metadata | None, part: str) -> dict[str, TagValue] | None:
        hit = self._parts.get(rel)
        if hit is None or hit[0] is not md:
            return None
        return hit[1].get(part)

    def tags(self, rel: str, md: Metadata | None, part: str) -> dict[str, TagValue]:
        """The tags of ``part`` of the photo whose metadata is ``md`` (decoded now if
        need be: blocking; async callers ``load`` first)."""
        hit = self.cached(rel, md, part)
        if hit is None:
            hit = self._keep_all(rel, md, part, self._decode(rel, self._wanted(rel, md, part)))
        return hit

    async def load(self, rel: str, md: Metadata | None, part: str) -> None:
        """Decode ``part`` in a thread, unless it is decoded already."""
        if md is None or self.cached(rel, md, part) is not None:
            return
        found = await trio.to_thread.run_sync(self._decode, rel, self._wanted(rel, md, part))
        self._keep_all(rel, md, part, found)

    def _wanted(self, rel: str, md: Metadata | None, part: str) -> frozenset[str]:
        """The parts to decode for ``part``: every one for the composite tags (they use
        them all) and once a second part of the photo is asked for (a walk of the group
        folders, `grep -r` say: one decode of the file then, not one a part)."""
        hit = self._parts.get(rel)
        if part == USES_ALL or (hit is not None and hit[0] is md and hit[1]):
            return frozenset(engine.EXTRA_PARTS)
        return frozenset({part})

    def _keep_all(self, rel: str, md: Metadata | None, part: str,
                  found: dict[str, dict[str, TagValue]]) -> dict[str, TagValue]:
        """Keep every part decoded (one already kept stays: its nodes show it); ``part``'s
        tags."""
        for other, tags in found.items():
            if other != part:
                self._keep(rel, md, other, tags)
        return self._keep(rel, md, part, found.get(part, {}))

    def _keep(self, rel: str, md: Metadata | None, part: str,
              found: dict[str, TagValue]) -> dict[str, TagValue]:
        if md is None:
            return {}
        hit = self._parts.get(rel)
        if hit is None or hit[0] is not md:
            hit = self._parts[rel] = (md, {})
        self._parts.move_to_end(rel)
        while len(self._parts) > PHOTOS_KEPT:
            self._parts.popitem(last=False)
        return hit[1].setdefault(part, found)

    def _decode(self, rel: str, wanted: frozenset[str]) -> dict[str, dict[str, TagValue]]:
        """Blocking: the photo's tags of the parts ``wanted``, by part (an unreadable part
        shows no tags)."""
        if self.read_parts is None:
            return {}
        for part in wanted:
            self.decodes[part] = self.decodes.get(part, 0) + 1
        what = "+".join(sorted(wanted))
        try:
            md = self.read_parts(self.path_of(rel), parts=engine.PARTS | wanted)
        except (EngineError, OSError) as e:
            log.warning("cannot read the %s tags of %s: %s", what, rel, e)
            return {}
        except Exception:  # a decoder's bug: that folder is empty, the rest of the mount works
            log.exception("decoding the %s tags of %s failed", what, rel)
            return {}
        found: dict[str, dict[str, TagValue]] = {part: {} for part in wanted}
        for p, t in md.tags.items():
            head = p.partition("/")[0]
            if head in found:
                found[head][p] = t
        return found

    # -- binary tags -------------------------------------------------------------------------

    def content(self, rel: str, md: Metadata | None, tag: TagValue, path: str) -> bytes:
        """File content of the tag at ``path``: its bytes when it is binary and they can be
        had, else its printed value."""
        if (tag.binary_size is None or self.tag_bytes is None or md is None
                or not has_bytes(path)):
            return tag_content(tag)
        key = (rel, path)
        hit = self._bytes.get(key)
        if hit is not None and hit[0] is md:
            self._bytes.move_to_end(key)
            return hit[1]
        self.bytes_read += 1
        try:
            data = self.tag_bytes(self.path_of(rel), path)
        except (EngineError, OSError) as e:
            log.warning("cannot read %s of %s: %s", path, rel, e)
            data = None
        if data is None or len(data) != tag.binary_size:
            data = tag_content(tag)
        self._remember(key, md, data)
        return data

    def listed_size(self, rel: str, md: Metadata | None, tag: TagValue, path: str) -> int:
        """Size a folder listing shows for a binary tag (no read of the photo)."""
        hit = self._bytes.get((rel, path))
        if hit is not None and hit[0] is md:
            return len(hit[1])
        if self.tag_bytes is None or tag.binary_size is None or not has_bytes(path):
            return len(tag_content(tag))
        return tag.binary_size

    def _remember(self, key: tuple[str, str], md: Metadata, data: bytes) -> None:
        if len(data) > BYTES_KEPT // 4:
            return
        old = self._bytes.pop(key, None)
        if old is not None:
            self._bytes_size -= len(old[1])
        self._bytes[key] = (md, data)
        self._bytes_size += len(data)
        while self._bytes_size > BYTES_KEPT:
            self._bytes_size -= len(self._bytes.popitem(last=False)[1][1])

