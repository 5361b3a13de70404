"""Edits acknowledged by close() survive a crash: an append-only journal, fsynced per record.

One JSON object per line.  ``{"seq": 7, "photo": "a/b.jpg", "changes": {...}}`` is an edit
(values are whole value texts, so replaying one twice does no harm); ``{"seq": 9, "done":
"a/b.jpg", "upto": 8}`` says the photo now holds every edit up to seq 8.  A torn last line is
an edit that was never acknowledged and is skipped.  When no edit is outstanding the file is
truncated.  A lock file keeps two daemons from sharing one SOURCE.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import trio

from engine.write.safety import fsync_dir

log = logging.getLogger(__name__)

Changes = dict[str, str | None]


class JournalBusyError(OSError):
    """Another daemon holds the journal of this SOURCE."""


class Journal:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)
        self.path = self.dir / "journal.jsonl"
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._seq = 0
        self._live: dict[str, int] = {}  # photo -> highest seq not yet in the photo

    # -- life cycle ---------------------------------------------------------------------

    def open(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise JournalBusyError(
                f"{self.dir}: another metafs daemon is serving this source"
            ) from None
        self._lock_fd = lock_fd
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fsync_dir(os.fspath(self.dir))

    def close(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading and replay -------------------------------------------------------------

    def load(self) -> dict[str, Changes]:
        """Edits not yet in their photos, merged per photo in the order they were made."""
        edits: list[tuple[int, str, Changes]] = []
        done: dict[str, int] = {}
        try:
            text = self.path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return {}
        for line in text.splitlines():
            try:
                rec = json.loads(line)
                seq = int(rec["seq"])
                if "done" in rec:
                    done[str(rec["done"])] = max(done.get(str(rec["done"]), 0), int(rec["upto"]))
                else:
                    changes = {str(k): _opt_str(v) for k, v in dict(rec["changes"]).items()}
                    edits.append((seq, str(rec["photo"]), changes))
            except (ValueError, KeyError, TypeError):
                log.warning("%s: skipping a damaged journal line", self.path)
                continue
            self._seq = max(self._seq, seq)
        out: dict[str, Changes] = {}
        for seq, photo, changes in sorted(edits, key=lambda e: e[0]):
            if seq > done.get(photo, 0):
                out.setdefault(photo, {}).update(changes)
        return out

    def replay(self, apply: Callable[[str, Changes], None]) -> dict[str, Exception]:
        """Apply outstanding edits (before serving); edits that fail stay in the journal."""
        failed: dict[str, Exception] = {}
        kept: dict[str, Changes] = {}
        for photo, changes in self.load().items():
            try:
                apply(photo, changes)
            except FileNotFoundError as e:
                failed[photo] = e  # the photo is gone: nothing left to apply the edit to
            except Exception as e:  # noqa: BLE001 - reported to the caller, edit kept
                failed[photo] = e
                kept[photo] = changes
        self._rewrite(kept)
        return failed

    def _rewrite(self, kept: Mapping[str, Changes]) -> None:
        assert self._fd is not None
        with self._lock:
            os.ftruncate(self._fd, 0)
            self._live.clear()
            for photo, changes in kept.items():
                self._append_locked({"photo": photo, "changes": changes})
                self._live[photo] = self._seq
            os.fsync(self._fd)

    # -- writing ------------------------------------------------------------------------

    def append_sync(self, photo: str, changes: Mapping[str, str | None]) -> int:
        """Record an edit and make it durable; returns its sequence number."""
        with self._lock:
            seq = self._append_locked({"photo": photo, "changes": dict(changes)})
            assert self._fd is not None
            os.fsync(self._fd)
            self._live[photo] = seq
            return seq

    def done_sync(self, photo: str, upto: int) -> None:
        """The photo now holds every edit up to ``upto``."""
        with self._lock:
            if self._fd is None:
                return
            if self._live.get(photo, 0) <= upto:
                self._live.pop(photo, None)
            if not self._live:
                os.ftruncate(self._fd, 0)  # nothing outstanding: start afresh
                os.fsync(self._fd)
            else:
                self._append_locked({"done": photo, "upto": upto})

    def drop_sync(self, photo: str) -> None:
        """The photo was deleted: its outstanding edits go with it (kept, they would land on
        the next file to take its name, at the next mount)."""
        with self._lock:
            seq = self._live.get(photo)
        if seq is not None:
            self.done_sync(photo, seq)

    def rename_sync(self, old: str, new: str) -> None:
        """The photo (or folder) ``old`` is now ``new``: its outstanding edits follow it, and
        those of a photo the rename replaced are dropped (that photo is gone).  The edits are
        recorded under the new name, made durable, then marked done under the old one: a
        crash in between leaves both, and the old name has no photo left to apply them to."""
        with self._lock:
            if self._fd is None or old == new:
                return
            gone = {p: s for p, s in self._live.items() if p == new or p.startswith(new + "/")}
            moved = {p: s for p, s in self._live.items() if p == old or p.startswith(old + "/")}
            if not moved and not gone:
                return
            outstanding = self.load()
            for photo in [*gone, *moved]:
                del self._live[photo]
            for photo in moved:
                if photo in outstanding:
                    target = new + photo[len(old) :]
                    self._live[target] = self._append_locked(
                        {"photo": target, "changes": outstanding[photo]}
                    )
            os.fsync(self._fd)
            # "upto" the old sequence numbers: the records just made stay outstanding.
            for photo, seq in [*gone.items(), *moved.items()]:
                self._append_locked({"done": photo, "upto": seq})
            if not self._live:
                os.ftruncate(self._fd, 0)
            os.fsync(self._fd)

    def _append_locked(self, rec: dict[str, object]) -> int:
        assert self._fd is not None
        self._seq += 1
        rec = {"seq": self._seq, **rec}
        line = (json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        return self._seq

    async def append(self, photo: str, changes: Mapping[str, str | None]) -> int:
        return await trio.to_thread.run_sync(self.append_sync, photo, dict(changes))

    async def done(self, photo: str, upto: int) -> None:
        await trio.to_thread.run_sync(self.done_sync, photo, upto)

    async def drop(self, photo: str) -> None:
        await trio.to_thread.run_sync(self.drop_sync, photo)

    async def rename(self, old: str, new: str) -> None:
        await trio.to_thread.run_sync(self.rename_sync, old, new)


def _opt_str(v: object) -> str | None:
    return None if v is None else str(v)
