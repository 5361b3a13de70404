"""What a .meta view shows beyond the photo's metadata, owned here and changed only through
these methods: edits not committed yet (the batcher's overlay), tags being created and tag
files being written, editors' scratch files, and folders made with mkdir (an XMP structure
to fill: it exists in the view only until a field written inside makes it real)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from metafs.tagfiles import ScratchFile, WriteBuffer

Changes = dict[str, str | None]


class Pending:
    def __init__(self, overlay: Callable[[str], Changes] = lambda rel: {}) -> None:
        # photo -> its edits waiting for a commit (tag -> text, None: deleted)
        self.overlay = overlay
        self._scratch: dict[str, dict[str, ScratchFile]] = {}
        self._creating: dict[str, Counter[str]] = {}  # photo -> tags created, not flushed
        self._made: dict[str, set[str]] = {}
        # (photo, tag) -> the buffer of the handle writing it (its size and mtime show)
        self._writing: dict[tuple[str, str], WriteBuffer] = {}

    def clean(self, photo: str) -> bool:
        """Nothing pending, no scratch file, made folder or tag being created: the photo's
        view is its metadata alone."""
        return not (self.overlay(photo) or self._scratch.get(photo) or self._made.get(photo)
                    or photo in self._creating)

    # -- scratch files ------------------------------------------------------------------

    def scratch(self, photo: str, tag: str) -> ScratchFile | None:
        files = self._scratch.get(photo)
        return files.get(tag) if files else None

    def scratch_names(self, photo: str) -> list[str]:
        return list(self._scratch.get(photo, ()))

    def add_scratch(self, photo: str, tag: str, f: ScratchFile) -> None:
        self._scratch.setdefault(photo, {})[tag] = f

    def drop_scratch(self, photo: str, tag: str) -> ScratchFile | None:
        files = self._scratch.get(photo)
        f = files.pop(tag, None) if files else None
        if files is not None and not files:
            del self._scratch[photo]
        return f

    # -- tags being created -------------------------------------------------------------

    def begin_create(self, photo: str, tag: str) -> None:
        self._creating.setdefault(photo, Counter())[tag] += 1

    def end_create(self, photo: str, tag: str) -> None:
        tags = self._creating.get(photo)
        if tags is None:
            return
        tags[tag] -= 1
        if tags[tag] <= 0:
            del tags[tag]
        if not tags:
            del self._creating[photo]

    def creating(self, photo: str, tag: str) -> bool:
        tags = self._creating.get(photo)
        return tags is not None and tag in tags

    def created_tags(self, photo: str) -> list[str]:
        return list(self._creating.get(photo, ()))

    # -- tag files being written --------------------------------------------------------

    def writing(self, photo: str, tag: str) -> WriteBuffer | None:
        return self._writing.get((photo, tag))

    def start_writing(self, photo: str, tag: str, buf: WriteBuffer) -> None:
        self._writing[(photo, tag)] = buf

    def stop_writing(self, photo: str, tag: str, buf: WriteBuffer) -> None:
        if self._writing.get((photo, tag)) is buf:
            del self._writing[(photo, tag)]

    # -- folders made with mkdir --------------------------------------------------------

    def made_dirs(self, photo: str) -> frozenset[str]:
        return frozenset(self._made.get(photo, ()))

    def make_dir(self, photo: str, sub: str) -> None:
        self._made.setdefault(photo, set()).add(sub)

    def unmake_dir(self, photo: str, sub: str) -> bool:
        """Forget a made folder (rmdir); False when ``sub`` was not made here."""
        made = self._made.get(photo)
        if made is None or sub not in made:
            return False
        made.discard(sub)
        if not made:
            del self._made[photo]
        return True

    def settle_dirs(self, photo: str, real: Iterable[str]) -> None:
        """Made folders the photo's metadata now has (``real``) are real: forget them."""
        made = self._made.get(photo)
        if made:
            made.difference_update(real)
            if not made:
                del self._made[photo]

    def forget(self, rel: str) -> None:
        """The photo (or folder) ``rel`` was removed or renamed: its scratch files and made
        folders go (pending edits are the batcher's)."""
        for table in (self._scratch, self._made):
            for key in [k for k in table if k == rel or k.startswith(rel + "/")]:
                del table[key]
