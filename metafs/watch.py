"""Watching SOURCE (inotify) for changes other programs make while it is mounted.

The kernel keeps what the mount showed (listings, tag sizes, contents) for up to 10 s; the
daemon pushes out what it changes itself, and this watcher what everybody else changes: a
photo rewritten by ExifTool or an editor, files copied in, renamed or deleted.  It only
reports paths (``on_change``); deciding what they mean is the Operations' job.

Best effort by design: a filesystem without inotify (network mounts), or more folders than
``fs.inotify.max_user_watches`` allows, leaves the timeouts to do the work, as before.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import struct
from collections.abc import Callable, Iterable

import trio

log = logging.getLogger(__name__)

IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

# What can change what the mount shows: contents (written and closed), names (created,
# removed, renamed) and modes (a photo's mode is its .meta folder's).  IN_MODIFY is left out:
# it comes with every write() and the file is not complete before IN_CLOSE_WRITE.
MASK = (IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
        | IN_DELETE_SELF | IN_ONLYDIR)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name
# Events are handled as soon as they come (a program that rewrote a photo may stat its tag
# files next); during a burst (a copy of many files: BURST events or more at a time) the
# watcher waits COALESCE seconds between batches, so that the burst comes in few of them.
BURST = 32
COALESCE = 0.02

Event = tuple[int, int, str]  # wd, mask, name ("" for the watched folder itself)

# Filesystems whose every change goes through this kernel, so inotify reports it.  Network
# and FUSE filesystems (nfs, cifs, sshfs...) change on other machines unseen: not listed.
LOCAL_FILESYSTEMS = frozenset(
    "ext2 ext3 ext4 xfs btrfs f2fs jfs reiserfs nilfs2 bcachefs zfs tmpfs ramfs vfat exfat "
    "msdos ntfs3 hfsplus udf iso9660 overlay".split()
)


def parse_events(buf: bytes) -> list[Event]:
    """The events in one read() of an inotify descriptor (a torn tail is dropped)."""
    out: list[Event] = []
    pos = 0
    while pos + _EVENT.size <= len(buf):
        wd, mask, _cookie, n = _EVENT.unpack_from(buf, pos)
        pos += _EVENT.size
        if pos + n > len(buf):
            break
        name = os.fsdecode(buf[pos : pos + n].split(b"\0", 1)[0])
        pos += n
        out.append((wd, mask, name))
    return out


def filesystem_type(path: str, mountinfo: str) -> str | None:
    """The type of the filesystem ``path`` (absolute, symlinks resolved) is on, from the
    text of /proc/self/mountinfo: the mount with the longest mount point above it."""
    best, kind = -1, None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or not tail:
            continue
        point = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best:  # later mounts over the same point win
            best, kind = len(point), tail[0]
    return kind


def is_local(path: str) -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            text = f.read()
    except OSError:
        return False
    return filesystem_type(os.path.realpath(path), text) in LOCAL_FILESYSTEMS


def max_watches() -> str:
    try:
        with open("/proc/sys/fs/inotify/max_user_watches") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


class _Inotify:
    """The three system calls, through ctypes (the standard library has no binding)."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        self.fd = fd

    def add(self, path: str) -> int:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), MASK)
        if wd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), path)
        return wd

    def close(self) -> None:
        os.close(self.fd)


class Watcher:
    """Reports, in batches, the SOURCE paths (relative; "" is SOURCE) that changed:
    ``on_change(paths, folders)`` where ``folders`` are the folders whose list of names
    changed and ``paths`` the entries that did (or may have).  ``on_overflow()`` when the
    kernel dropped events: anything may have changed.  ``on_trust(True)`` once every folder
    of a local SOURCE is watched (every change will be reported), ``on_trust(False)`` if
    that stops being so (out of watches)."""

    def __init__(self, source: str, skip: Iterable[str],
                 on_change: Callable[[set[str], set[str]], None],
                 on_overflow: Callable[[], None],
                 on_trust: Callable[[bool], None] = lambda trusted: None) -> None:
        self.source = source
        self.skip = frozenset(skip)  # top-level names not to watch (.originals)
        self.on_change = on_change
        self.on_overflow = on_overflow
        self.on_trust = on_trust
        self.trusted = False
        self._ino: _Inotify | None = None
        self._dirs: dict[int, str] = {}  # wd -> folder, relative to SOURCE
        self._full = False  # out of watches: said once

    @property
    def watching(self) -> int:
        return len(self._dirs)

    def describe(self) -> str:
        """The status file's account of what the watcher sees, and what that means."""
        if self._ino is None:
            return "off: changes other programs make show at the next open of a photo"
        said = f"{self.watching} folder(s)"
        if self._full:
            return (f"{said}, out of inotify watches (fs.inotify.max_user_watches is "
                    f"{max_watches()}): changes other programs make show at the next open "
                    "of a photo")
        if not self.trusted:
            return (f"{said}, not a local filesystem: changes other programs make show at "
                    "the next open of a photo")
        return said

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            self._ino = _Inotify()
        except (OSError, AttributeError) as e:  # AttributeError: a libc without inotify
            log.warning("not watching %s (%s): changes by other programs show within 10 s",
                        self.source, e)
            task_status.started()
            return
        try:
            self._dirs.update(await trio.to_thread.run_sync(self._watch_tree, ""))
            if not self._full and await trio.to_thread.run_sync(is_local, self.source):
                self.trusted = True
                self.on_trust(True)
            task_status.started()
            await self._loop()
        finally:
            self._ino.close()
            self._ino = None

    async def _loop(self) -> None:
        assert self._ino is not None
        fd = self._ino.fd
        while True:
            await trio.lowlevel.wait_readable(fd)
            events: list[Event] = []
            while True:
                try:
                    buf = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                events += parse_events(buf)
            await self._handle(events)
            if len(events) >= BURST:
                await trio.sleep(COALESCE)

    async def _handle(self, events: list[Event]) -> None:
        paths: set[str] = set()
        folders: set[str] = set()
        new_dirs: list[str] = []
        for wd, mask, name in events:
            if mask & IN_Q_OVERFLOW:
                self.on_overflow()
                continue
            if mask & (IN_IGNORED | IN_DELETE_SELF):
                self._dirs.pop(wd, None)  # the folder is gone (its parent reports the name)
                continue
            base = self._dirs.get(wd)
            if base is None or not name:
                continue
            if not base and name in self.skip:
                continue
            rel = os.path.join(base, name) if base else name
            paths.add(rel)
            if mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO):
                folders.add(base)
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                new_dirs.append(rel)
            if mask & IN_ISDIR and mask & IN_MOVED_FROM:
                self._forget_tree(rel)
        for rel in new_dirs:  # a folder moved or copied in: watch it and what is inside
            self._dirs.update(await trio.to_thread.run_sync(self._watch_tree, rel))
        if self._full and self.trusted:
            self.trusted = False
            self.on_trust(False)
        if paths or folders:
            self.on_change(paths, folders)

    def _forget_tree(self, rel: str) -> None:
        """A folder was renamed away: its watches now report under a stale name.  Drop
        them from the map; its new name (IN_MOVED_TO) watches it again."""
        for wd, d in list(self._dirs.items()):
            if d == rel or d.startswith(rel + "/"):
                del self._dirs[wd]

    def _watch_tree(self, top: str) -> dict[int, str]:
        """Watch ``top`` and every folder below it (blocking: run in a thread)."""
        assert self._ino is not None
        found: dict[int, str] = {}
        root = os.path.join(self.source, top) if top else self.source
        for here, dirs, _files in os.walk(root):
            rel = os.path.relpath(here, self.source)
            rel = "" if rel == "." else rel
            if not rel:
                dirs[:] = [d for d in dirs if d not in self.skip]
            try:
                found[self._ino.add(here)] = rel
            except OSError as e:
                if e.errno == errno.ENOSPC:  # fs.inotify.max_user_watches
                    if not self._full:
                        log.warning("watching %s: out of inotify watches at %d folders; "
                                    "changes by other programs in the rest show within 10 s",
                                    self.source, len(self._dirs) + len(found))
                        self._full = True
                    break
                dirs[:] = []  # gone or unreadable: nothing below it to watch either
        return found
