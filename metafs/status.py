"""What ``.metafs/status`` says: the daemon's state, its refusals and notices, one escaped
line each."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


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
