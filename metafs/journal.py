"""Edits acknowledged by close() survive a crash: an append-only journal, fsynced per record.

One JSON object per line.  ``{"seq": 7, "photo": "a/b.jpg", "changes": {...}}`` is an edit
(values are whole value texts, so replaying one twice does no harm); ``{"seq": 9, "done":
"a/b.jpg", "upto": 8}`` says the photo now holds every edit up to seq 8.  A torn last line is
an edit that was never acknowledged and is skipped.  A lock file keeps two daemons from
sharing one SOURCE.

A full disk must not lose an acknowledged edit: the file is preallocated (``RESERVE`` bytes
of zeros) at open, records are written at the logical end inside that space, and "nothing
outstanding" zeroes the records instead of truncating, so the reserve stays.  The content is
what precedes the first NUL byte; a torn or zero-filled tail reads as no record.  A record
that cannot be made durable raises OSError (ENOSPC, EIO) and leaves no trace.

The journal is replayed by root over folders other users write to: the folders and files are
opened without following symlinks, must be the mounting user's own (else the mount is
refused), and a record whose photo path is absolute, has ``..`` or a NUL, or is empty, is
refused and reported, never applied.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import stat
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import trio

import engine

log = logging.getLogger(__name__)

Changes = dict[str, str | None]


class JournalError(OSError):
    """The journal cannot be used; the message says why and what to do."""


class JournalBusyError(JournalError):
    """Another daemon holds the journal of this SOURCE."""


class JournalUnsafeError(JournalError):
    """A journal file or folder is not the mounting user's own (or is a symlink)."""


class RefusedRecordError(ValueError):
    """A journal record names a photo outside SOURCE: refused, never applied."""


RESERVE = 1 << 20  # bytes kept allocated for records, so they fit when the disk fills up
_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def unsafe_photo_path(photo: str) -> bool:
    """A journal record's photo must be a relative path inside SOURCE."""
    return (not photo or "\0" in photo or photo.startswith("/")
            or ".." in photo.split("/"))


class Journal:
    def __init__(self, directory: str | os.PathLike[str],
                 root: str | os.PathLike[str] | None = None) -> None:
        """``root``: the folder ``directory`` lies in that the daemon trusts (SOURCE); the
        folders below it are opened without following symlinks."""
        self.dir = Path(directory)
        self.path = self.dir / "journal.jsonl"
        self.root = None if root is None else Path(root)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._seq = 0
        self._end = 0  # where the next record goes: the content's logical end
        self._live: dict[str, int] = {}  # photo -> highest seq not yet in the photo
        self.refused: dict[str, Exception] = {}  # records refused by the last load()

    # -- life cycle ---------------------------------------------------------------------

    def open(self) -> None:
        dir_fd = self.open_dir()
        try:
            lock_fd = self._open_own(dir_fd, "lock")
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock_fd)
                raise JournalBusyError(
                    f"{self.dir}: another metafs daemon is serving this source"
                ) from None
            self._lock_fd = lock_fd
            self._fd = self._open_own(dir_fd, "journal.jsonl")
            self._end = self._find_end()
            try:
                os.posix_fallocate(self._fd, 0, RESERVE)
            except OSError as e:  # a full disk now, or no such call here: records still go
                log.warning("%s: could not reserve journal space (%s)", self.path, e.strerror)
            os.fsync(self._fd)
            os.fsync(dir_fd)
        except BaseException:
            self.close()
            raise
        finally:
            os.close(dir_fd)

    def open_dir(self) -> int:
        """The journal folder, created 0700, walked from ``root`` (or from its parent's
        parent) without following a symlink; it must be ours and closed to others.  (The
        metadata index lives there too: metafs.index opens its folder with this.)"""
        if self.root is not None:
            start, names = self.root, list(self.dir.relative_to(self.root).parts)
        else:
            start, names = self.dir.parent.parent, [self.dir.parent.name, self.dir.name]
        start_fd = os.open(start, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # .originals mirrors SOURCE (mode, owner), as the backup code keeps it
            like = [os.fstat(start_fd)] if self.root is not None and len(names) == 2 else None
            fd = engine.open_folder(start_fd, names[:-1], str(self.dir), like)
        except (OSError, engine.EngineError) as e:
            raise JournalUnsafeError(f"{self.dir.parent}: {e}; metafs keeps its journal there: "
                                     "remove it (after checking what it holds) and mount "
                                     "again") from None
        finally:
            os.close(start_fd)
        try:
            try:
                os.mkdir(names[-1], 0o700, dir_fd=fd)
            except FileExistsError:
                pass
            dir_fd = os.open(names[-1], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                             | os.O_CLOEXEC, dir_fd=fd)
        except OSError as e:
            raise JournalUnsafeError(
                f"{self.dir}: is a symbolic link or not a folder ({e.strerror}); metafs "
                "keeps its journal there: remove it and mount again") from None
        finally:
            os.close(fd)
        st = os.fstat(dir_fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            os.close(dir_fd)
            raise JournalUnsafeError(
                f"{self.dir}: the journal folder belongs to uid {st.st_uid} or others may "
                f"write in it (mode {stat.S_IMODE(st.st_mode):o}); metafs replays what it "
                f"holds as uid {os.geteuid()}, so it must be that user's own, mode 700: "
                "remove it (after checking what it holds) and mount again")
        return dir_fd

    def _open_own(self, dir_fd: int, name: str) -> int:
        shown = self.dir / name
        try:
            fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=dir_fd)
        except OSError as e:
            raise JournalUnsafeError(
                f"{shown}: cannot be opened as a file ({e.strerror}: a symbolic link?); "
                "metafs will not follow it: remove it and mount again") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            os.close(fd)
            raise JournalUnsafeError(
                f"{shown}: not a regular file of uid {os.geteuid()} (the user mounting); "
                "metafs will not use it: check what it holds, remove it and mount again")
        os.set_blocking(fd, True)
        return fd

    def _content(self) -> bytes:
        """The records: the bytes before the first NUL (the reserve is zeros)."""
        if self._fd is None:
            return b""
        size = os.fstat(self._fd).st_size
        chunks, at = [], 0
        while at < size:
            chunk = os.pread(self._fd, min(size - at, 1 << 20), at)
            if not chunk:
                break
            cut = chunk.find(b"\0")
            if cut >= 0:
                chunks.append(chunk[:cut])
                break
            chunks.append(chunk)
            at += len(chunk)
        return b"".join(chunks)

    def _find_end(self) -> int:
        """After the last complete record; what follows (a torn record, bytes left beyond
        a NUL by a crash) is zeroed, so the next record cannot join it."""
        assert self._fd is not None
        data = self._content()
        end = data.rfind(b"\n") + 1
        size = os.fstat(self._fd).st_size
        at = end
        while at < size:
            chunk = os.pread(self._fd, min(size - at, 1 << 20), at)
            if not chunk:
                break
            if chunk.strip(b"\0"):
                os.pwrite(self._fd, bytes(len(chunk)), at)
            at += len(chunk)
        return end

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
        self.refused: dict[str, Exception] = {}
        text = self._content().decode("utf-8", "replace")
        for line in text.split("\n"):
            if not line:
                continue
            try:
                rec = json.loads(line)
                seq = int(rec["seq"])
                if "done" in rec:
                    done[str(rec["done"])] = max(done.get(str(rec["done"]), 0), int(rec["upto"]))
                else:
                    changes = {str(k): _opt_str(v) for k, v in dict(rec["changes"]).items()}
                    photo = rec["photo"]
                    if not isinstance(photo, str) or unsafe_photo_path(photo):
                        err = RefusedRecordError(
                            f"record {seq} names {photo!r}, a path outside the source "
                            "(absolute, with '..' or a NUL, or empty); refused, not applied")
                        self.refused[str(photo)] = err  # replay() reports it
                        continue
                    edits.append((seq, photo, changes))
            except (ValueError, KeyError, TypeError, AttributeError):
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
        outstanding = self.load()
        failed.update(self.refused)  # reported, never applied, not kept
        for photo, changes in outstanding.items():
            try:
                apply(photo, changes)
            except FileNotFoundError as e:
                failed[photo] = e  # the photo is gone: nothing left to apply the edit to
            except Exception as e:  # noqa: BLE001 - ``apply`` is the caller's callback (a
                # write through the engine): whatever it raises is reported, the edit kept
                failed[photo] = e
                kept[photo] = changes
        self._rewrite(kept)
        return failed

    def _rewrite(self, kept: Mapping[str, Changes]) -> None:
        assert self._fd is not None
        with self._lock:
            self._clear_locked()
            self._live.clear()
            for photo, changes in kept.items():
                self._append_locked({"photo": photo, "changes": changes})
                self._live[photo] = self._seq
            os.fsync(self._fd)

    # -- writing ------------------------------------------------------------------------

    def append_sync(self, photo: str, changes: Mapping[str, str | None]) -> int:
        """Record an edit and make it durable; returns its sequence number."""
        with self._lock:
            start = self._end
            try:
                seq = self._append_locked({"photo": photo, "changes": dict(changes)})
                assert self._fd is not None
                os.fsync(self._fd)
            except OSError as e:
                self._undo_locked(start)
                raise OSError(e.errno or errno.EIO,
                              f"the edit could not be recorded in {self.path} "
                              f"({e.strerror or e})") from e
            self._live[photo] = seq
            return seq

    def _undo_locked(self, start: int) -> None:
        """Zero a record that was not made durable (in space already allocated)."""
        assert self._fd is not None
        try:
            if self._end > start:
                os.pwrite(self._fd, bytes(self._end - start), start)
        except OSError:
            pass  # a torn record reads as a damaged line, skipped
        self._end = start

    def _clear_locked(self) -> None:
        """Nothing outstanding: zero the records, keeping the reserved space."""
        assert self._fd is not None
        if os.fstat(self._fd).st_size > RESERVE:
            os.ftruncate(self._fd, RESERVE)
        at, end = 0, min(self._end, RESERVE)
        while at < end:
            n = min(end - at, 1 << 16)
            os.pwrite(self._fd, bytes(n), at)
            at += n
        self._end = 0

    def done_sync(self, photo: str, upto: int) -> None:
        """The photo now holds every edit up to ``upto``."""
        with self._lock:
            if self._fd is None:
                return
            if self._live.get(photo, 0) <= upto:
                self._live.pop(photo, None)
            if not self._live:
                self._clear_locked()  # nothing outstanding: start afresh
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
                self._clear_locked()
            os.fsync(self._fd)

    def _append_locked(self, rec: dict[str, object]) -> int:
        assert self._fd is not None
        self._seq += 1
        rec = {"seq": self._seq, **rec}
        line = (json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view, start = memoryview(line), self._end
        try:
            while view:
                n = os.pwrite(self._fd, view, self._end)
                if n == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                self._end += n
                view = view[n:]
        except OSError:
            self._undo_locked(start)  # no half record for the next one to join
            raise
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
