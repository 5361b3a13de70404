"""A tag as file content, write buffers, and the scratch files editors leave in .meta folders.

Content of a tag file is the printed value plus one newline; a list has one item per line.
Writing the file back gives the value text with one trailing newline dropped, which is what
the engine takes (list tags: one item per line).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from engine import TagValue, TagValueError
from engine.model import Value
from metafs.inodes import Node

# Names editors and tools use for their own files next to the one they save: vim's swap
# files and ``4913`` probe, backups ``Make~``, emacs ``#Make#`` and ``.#Make``, sed's
# ``sedXXXXXX``, rsync's ``.Make.XXXXXX``, perl -i's ``XXAbC123``, Python's ``tmpXXXXXXXX``,
# mktemp's ``Artist.XXXX`` and ``tmp.XXXXXXXXXX``, ``*.tmp``...  They live in memory and never
# reach the photo.  The rule: a name is a scratch name when no tag can have it, that is when
# it is hidden (``.x``), has a suffix after a dot (``Artist.XXXX``; tag names have no dot),
# ends in ``~``, is ``#x#``, is all digits, starts with a lowercase letter and has no ``:``
# (EXIF and IPTC names start with a capital letter, XMP names are ``prefix:Name``), or is
# perl's ``XX`` + 6 letters and digits.  Any other unknown name is a misspelt tag and refused
# (``Modle``); so is a lowercase name that is a tag's but for its first letter (``model``).
_SCRATCH = re.compile(
    r"""^(?:
        \..*                              # hidden: .Make.swp, .Make.AbC123, .#Make
      | .*~                               # backups
      | \#.*\#                            # emacs auto-save
      | \d+                               # vim's 4913 probe and friends
      | XX[A-Za-z0-9]{6}                  # perl -i
      | [a-z][^:]*                        # sedAbC123, tmp8x7k2, tmpab12cd_x
      | [^.]+\.[^:]*                      # Artist.XXXX, Make.tmp, x.swp, tmp.AbC12
    )$""",
    re.VERBOSE,
)


def is_scratch_name(name: str) -> bool:
    """Whether ``name`` cannot be a tag's (the engine may still know it: callers that can
    ask it do, see ``MetaEditor._scratch``)."""
    return bool(_SCRATCH.match(name))


def encode_value(value: Value) -> bytes:
    if isinstance(value, list):
        return "".join(item + "\n" for item in value).encode()
    return (value + "\n").encode()


def encode_text(text: str) -> bytes:
    """Content of a tag whose value is pending as ``text`` (the form the engine takes)."""
    return (text + "\n").encode()


def tag_content(tag: TagValue) -> bytes:
    return encode_value(tag.value)


def decode(data: bytes | bytearray) -> str:
    """Value text for file content: UTF-8, one trailing newline dropped (CRLF too)."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise TagValueError(f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    nul = text.find("\0")
    if nul >= 0:  # no tag holds one: EXIF text ends there, XML cannot carry it
        raise TagValueError(f"not text: a NUL byte at byte {len(text[:nul].encode())}")
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def complete_line(data: bytes | bytearray) -> str | None:
    """The value when ``data`` is one complete line (text ending in its only newline): what
    ``echo abc > ISO`` writes in one go.  Such a value can be judged at write() time."""
    if not data.endswith(b"\n") or data.count(b"\n") != 1:
        return None
    try:
        return decode(data)
    except TagValueError:
        return None


def now_ns() -> int:
    return time.time_ns()


@dataclass(eq=False)
class ScratchFile:
    """An editor's file inside a .meta folder, kept in memory only."""

    data: bytearray = field(default_factory=bytearray)
    mode: int = 0o644
    mtime_ns: int = field(default_factory=now_ns)
    ctime_ns: int = field(default_factory=now_ns)

    def write(self, off: int, buf: bytes) -> int:
        write_into(self.data, off, buf)
        self.mtime_ns = self.ctime_ns = now_ns()
        return len(buf)

    def truncate(self, size: int) -> None:
        truncate(self.data, size)
        self.mtime_ns = self.ctime_ns = now_ns()


@dataclass(eq=False)
class WriteBuffer:
    """What one open handle of a tag file has written so far."""

    data: bytearray
    append: bool = False  # opened with O_APPEND: every write goes to the end
    dirty: bool = False  # changed since the last time it was handed to the batcher
    refused: bool = False  # a write was refused: never submit this buffer
    emptied: bool = False  # opened with O_TRUNC, and nothing written or truncated since
    handed_on: bool = False  # a write() journaled a value and handed it to the batcher
    mtime_ns: int = field(default_factory=now_ns)

    def preview(self, off: int, buf: bytes) -> bytearray:
        """The content after writing ``buf`` at ``off`` (not applied yet)."""
        out = bytearray(self.data)
        write_into(out, len(out) if self.append else off, buf)
        return out

    def commit_write(self, new: bytearray) -> None:
        self.data = new
        self.dirty = True
        self.emptied = False
        self.mtime_ns = now_ns()

    def truncate(self, size: int) -> None:
        truncate(self.data, size)
        self.dirty = True
        self.emptied = False
        self.mtime_ns = now_ns()


MAX_TAG_FILE = 16 * 1024 * 1024  # bigger than any metadata block a photo can hold


def write_into(data: bytearray, off: int, buf: bytes) -> None:
    end = off + len(buf)
    if end > MAX_TAG_FILE:
        raise OSError(27, "tag file too large")  # EFBIG
    if off > len(data):
        data.extend(b"\0" * (off - len(data)))
    data[off:end] = buf


def truncate(data: bytearray, size: int) -> None:
    if size > MAX_TAG_FILE:
        raise OSError(27, "tag file too large")
    if size < len(data):
        del data[size:]
    else:
        data.extend(b"\0" * (size - len(data)))


@dataclass(eq=False)
class TagHandle:
    """An open tag file."""

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
    """An open scratch file."""

    file: ScratchFile
    append: bool = False
