"""A persistent metadata index: what the mount shows of each photo, kept across walks and mounts.

One row per photo (path relative to SOURCE), keyed by what proves the photo unchanged: device,
inode, size, mtime_ns and ctime_ns.  A row whose key matches the photo's stat now stands for a
decode of the photo (the metadata exactly as the engine read it: tag paths, printed values,
writability, warnings); any other row is ignored and replaced at the next decode.  A commit
through metafs, or any rewrite by another program, changes the ctime at least, so no stale row
can match.  The photo file is always the truth: a corrupt, foreign or other-version index
(another schema, another engine build) is rebuilt, and any sqlite error makes the daemon decode
the photo as if there were no index.

Rows are serialised with ``marshal`` (stdlib, fast) and zlib, and checked field by field when
loaded: a row is data, never trusted to have the right shape.  Writes are batched: one
transaction per ``BATCH`` photos or per ``BATCH_SECONDS``, so a first walk of a library is
not a walk of commits.  Rows written but not committed yet are served from memory.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import sqlite3
import stat
import threading
import time
import zlib
from typing import Any

from engine import Metadata, TagValue

log = logging.getLogger(__name__)

SCHEMA = 1
APPLICATION_ID = 0x6D666978  # "mfix": a database of another program is not ours
FILE_NAME = "index.sqlite"
BATCH = 256
BATCH_SECONDS = 0.1
Key = tuple[int, int, int, int, int]  # dev, ino, size, mtime_ns, ctime_ns
Entry = tuple[Metadata | None, str | None]  # (metadata, why unreadable)
# Filesystems whose inode numbers keep naming the same file across mounts.  On the others
# (vfat and exfat number files by where their directory entry sits, FUSE and network
# filesystems by session) a photo is known by size, mtime and a hash of its head and tail,
# where the metadata blocks live (JPEG, PNG, HEIF, WebP: the head; TIFF writers append).
STABLE_INODES = frozenset(
    "ext2 ext3 ext4 xfs btrfs f2fs jfs reiserfs nilfs2 bcachefs zfs tmpfs ramfs ntfs3 "
    "hfsplus udf".split())
HEAD, TAIL = 1 << 20, 1 << 16


def key_of(st: os.stat_result, path: str | None = None) -> Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def content_key(st: os.stat_result, path: str) -> Key:
    """The key where inode numbers are not stable: no device or inode, and in place of the
    ctime (which such filesystems often do not keep) a hash of the photo's first 1 MiB and
    last 64 KiB (-1 when it cannot be read: that row never matches)."""
    h = hashlib.blake2b(digest_size=7)
    try:
        with open(path, "rb") as f:
            h.update(f.read(HEAD))
            if st.st_size > HEAD:
                f.seek(max(HEAD, st.st_size - TAIL))
                h.update(f.read(TAIL))
    except OSError:
        return (0, 0, st.st_size, st.st_mtime_ns, -1)
    return (0, 0, st.st_size, st.st_mtime_ns, int.from_bytes(h.digest(), "big"))


def inodes_stable(source: str) -> tuple[bool, str]:
    """Whether SOURCE's filesystem keeps inode numbers, and its type (from mountinfo)."""
    from metafs.watch import filesystem_type

    try:
        with open("/proc/self/mountinfo") as f:
            kind = filesystem_type(os.path.realpath(source), f.read())
    except OSError:
        kind = None
    return kind in STABLE_INODES, kind or "unknown"


# Engine modules that only write: what the reader decodes does not depend on them.
_WRITE_ONLY = ("write", "writer.py", "exif_encode.py", "iptc_edit.py", "xmp_edit.py")


def engine_build(tops: list[str] | None = None) -> str:
    """Names, sizes and mtimes of the engine's reading modules: another engine may decode
    differently, so an index written by it is rebuilt."""
    if tops is None:
        import engine

        tops = list(engine.__path__)
    lines = []
    for top in tops:
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if folder != top or d not in _WRITE_ONLY]
            for name in files:
                if name.endswith(".py") and (folder != top or name not in _WRITE_ONLY):
                    st = os.stat(os.path.join(folder, name))
                    lines.append(f"{folder[len(top):]}/{name}:{st.st_size}:{st.st_mtime_ns}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()[:32]


def pack(md: Metadata | None, err: str | None) -> bytes:
    if md is None:
        body: Any = (None, err or "")
    else:
        tags = tuple((t.path, t.group, t.name, t.value, t.writable, t.binary_size)
                     for t in md.tags.values())
        body = (md.format, md.file_type, list(md.warnings), tags)
    return zlib.compress(marshal.dumps(body), 1)


class BadRow(ValueError):
    pass


def _str(v: Any) -> str:
    if type(v) is not str:
        raise BadRow("not text")
    return v


def unpack(blob: bytes, path: str) -> Entry:
    """The entry a row holds; BadRow when it is not one this module wrote."""
    try:
        body = marshal.loads(zlib.decompress(blob))
    except (ValueError, EOFError, TypeError, zlib.error) as e:
        raise BadRow(str(e)) from None
    if type(body) is not tuple:
        raise BadRow("not a row")
    if len(body) == 2:
        if body[0] is not None:
            raise BadRow("not a row")
        return None, _str(body[1]) or None
    if len(body) != 4 or type(body[2]) is not list or type(body[3]) is not tuple:
        raise BadRow("not a row")
    fmt, file_type, warnings, rows = body
    md = Metadata(path, _str(fmt), {}, [_str(w) for w in warnings], _str(file_type))
    tags = md.tags
    for row in rows:
        if type(row) is not tuple or len(row) != 6:
            raise BadRow("not a tag")
        tpath, group, name, value, writable, size = row
        if type(value) is not str:
            if type(value) is not list or not all(type(item) is str for item in value):
                raise BadRow("not a value")
        if (type(tpath) is not str or type(group) is not str or type(name) is not str
                or type(writable) is not bool or (size is not None and type(size) is not int)):
            raise BadRow("not a tag")
        tags[tpath] = TagValue(tpath, group, name, value, writable, size)
    return md, None


class MetaIndex:
    """Thread-safe (one lock): lookups run in the daemon's worker threads."""

    def __init__(self, path: str, *, dir_fd: int | None = None, shown: str | None = None) -> None:
        """``dir_fd``: the (checked) folder the index lives in, held open; the file is then
        reached through it, so no symlink on the way is followed.  ``shown``: its name in
        messages and the status file."""
        self.dir_fd = dir_fd
        self.path = f"/proc/self/fd/{dir_fd}/{path}" if dir_fd is not None else path
        self.shown = shown or path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, tuple[Key, bytes | None]] = {}  # None: drop the row
        self._since = 0.0
        self.hits = 0
        self.misses = 0
        self.state = "closed"
        self.key = key_of  # what proves a photo unchanged (``keyed_for``)
        self.keys_note = ""

    def keyed_for(self, source: str) -> None:
        """Rows keyed as SOURCE's filesystem allows: by inode where inode numbers are
        stable, else by content (``content_key``), which the status file says."""
        stable, kind = inodes_stable(source)
        if not stable:
            self.key = content_key
            self.keys_note = (f"; inode numbers on {kind} are not stable: photos are known "
                              "by size, mtime and a hash of their first 1 MiB and last 64 KiB")

    # -- life cycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Open (or rebuild) the index; on failure the daemon runs without one."""
        build = engine_build()
        for attempt in (0, 1):
            try:
                self._check_file()
                self._db = self._connect()
                if self._valid(build):
                    self.state = "ok"
                    return
                if self._empty():  # a new file
                    self._create(build)
                    self.state = "ok (new)"
                    return
                why = "from another version or program"
            except sqlite3.OperationalError as e:
                if "locked" in str(e) or "busy" in str(e):  # in use: not ours to rebuild
                    self._close_db()
                    self.state = f"off: {e}"
                    log.warning("metadata index %s: %s; photos are decoded", self.shown, e)
                    return
                why = f"unusable ({e})"
            except (sqlite3.Error, OSError, BadRow) as e:
                why = f"unusable ({e})"
            self._close_db()
            if attempt:
                break
            log.warning("metadata index %s is %s: rebuilding it", self.shown, why)
            try:
                self._remove()
                self._db = self._connect()
                self._create(build)
                self.state = "ok (rebuilt)"
                return
            except (sqlite3.Error, OSError) as e:
                why = f"unusable ({e})"
                self._close_db()
        self.state = f"off: {why}"
        log.warning("metadata index %s: %s; photos are decoded at every mount", self.shown, why)

    def _check_file(self) -> None:
        """The file, when it exists, must be a regular file of ours (no symlink)."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise BadRow("not a regular file of the mounting user")

    def _connect(self) -> sqlite3.Connection:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.path, flags, 0o600)  # create it ourselves: mode 600, no symlink
        os.close(fd)
        db = sqlite3.connect(self.path, timeout=2, isolation_level=None,
                             check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _valid(self, build: str) -> bool:
        assert self._db is not None
        db = self._db
        app = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if app != APPLICATION_ID or version != SCHEMA:
            return False
        row = db.execute("SELECT value FROM meta WHERE name = 'engine'").fetchone()
        return row is not None and row[0] == build

    def _empty(self) -> bool:
        assert self._db is not None
        return self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0

    def _create(self, build: str) -> None:
        assert self._db is not None
        db = self._db
        db.execute("BEGIN")
        db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute("CREATE TABLE photos (rel TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, "
                   "size INTEGER, mtime INTEGER, ctime INTEGER, data BLOB) WITHOUT ROWID")
        db.execute("INSERT INTO meta VALUES ('engine', ?)", (build,))
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA}")
        db.execute("COMMIT")

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(self.path + suffix)
            except FileNotFoundError:
                pass

    def _close_db(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._close_db()
            self.state = "closed"
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    def _failed(self, e: Exception) -> None:
        """Any sqlite error in use: the daemon goes on without the index (decoding)."""
        log.warning("metadata index %s: %s; going on without it", self.shown, e)
        self.state = f"off: {e}"
        self._pending.clear()
        self._close_db()

    # -- rows ---------------------------------------------------------------------------

    def get(self, rel: str, key: Key, path: str) -> Entry | None:
        """The entry of ``rel`` when its row's key is ``key``, else None (decode it)."""
        with self._lock:
            hit = self._pending.get(rel)
            blob = None
            if hit is not None:
                blob = hit[1] if hit[0] == key else None
            elif self._db is not None:
                try:
                    row = self._db.execute(
                        "SELECT dev, ino, size, mtime, ctime, data FROM photos WHERE rel = ?",
                        (rel,)).fetchone()
                except sqlite3.Error as e:
                    self._failed(e)
                    row = None
                if row is not None and tuple(row[:5]) == key:
                    blob = row[5]
            if blob is None or type(blob) is not bytes:
                self.misses += 1
                return None
        try:
            entry = unpack(blob, path)
        except BadRow:
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, rel: str, key: Key, md: Metadata | None, err: str | None) -> None:
        blob = pack(md, err)
        with self._lock:
            if self._db is None:
                return
            if not self._pending:
                self._since = time.monotonic()
            self._pending[rel] = (key, blob)
            due = (len(self._pending) >= BATCH
                   or time.monotonic() - self._since >= BATCH_SECONDS)
        if due:
            self.flush()

    def drop(self, rel: str) -> None:
        """The photo is gone (or renamed): its row goes at the next flush."""
        with self._lock:
            if self._db is None:
                return
            if not self._pending:
                self._since = time.monotonic()
            self._pending[rel] = ((0, 0, 0, 0, 0), None)

    def due(self) -> bool:
        return bool(self._pending) and time.monotonic() - self._since >= BATCH_SECONDS

    def flush(self) -> None:
        """Write what is pending in one transaction."""
        with self._lock:
            if not self._pending or self._db is None:
                return
            todo, self._pending = self._pending, {}
            db = self._db
            try:
                db.execute("BEGIN")
                db.executemany("DELETE FROM photos WHERE rel = ?",
                               [(rel,) for rel, (_, blob) in todo.items() if blob is None])
                db.executemany("INSERT OR REPLACE INTO photos VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [(rel, *key, blob) for rel, (key, blob) in todo.items()
                                if blob is not None])
                db.execute("COMMIT")
            except sqlite3.Error as e:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                self._failed(e)

    def count(self) -> int:
        with self._lock:
            if self._db is None:
                return 0
            try:
                return int(self._db.execute("SELECT count(*) FROM photos").fetchone()[0])
            except sqlite3.Error:
                return 0


def open_beside_journal(journal_dir: str, source: str) -> MetaIndex:
    """The index in SOURCE/.originals/.journal, its folder walked and checked as the journal's
    is (no symlink followed, the mounting user's own, mode 700)."""
    from metafs.journal import Journal

    dir_fd = Journal(journal_dir, root=source).open_dir()
    index = MetaIndex(FILE_NAME, dir_fd=dir_fd, shown=os.path.join(journal_dir, FILE_NAME))
    index.open()
    return index


def cache_index_path(source: str) -> str:
    """Where the index of a read-only SOURCE goes: $XDG_CACHE_HOME/metafs/, one per source."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    name = hashlib.sha256(os.fsencode(os.path.abspath(source))).hexdigest()[:16]
    return os.path.join(base, "metafs", f"index-{name}.sqlite")


def open_at(path: str) -> MetaIndex:
    """The index at ``path`` (``--index``, or the cache folder's), its folder made 700."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    index = MetaIndex(path)
    index.open()
    return index
