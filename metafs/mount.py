"""Mounting: checks with clear messages, journal replay, daemonising once the mount is ready,
and a clean end (pending edits committed first on SIGTERM/SIGINT, ``metafs umount`` and
``fusermount3 -u``)."""

from __future__ import annotations

# isort: off
from metafs import fuse_shim  # first: it must be loaded before pyfuse3 is (see there)
# isort: on
import argparse
import errno
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pyfuse3
import trio

from engine.errors import EngineError
from metafs.fs import CONTROL, JOURNAL_DIR, ORIGINALS, Operations
from metafs.journal import Journal, JournalError, RefusedRecordError, unsafe_photo_path
from metafs.photos import EngineFacade, real_engine

log = logging.getLogger("metafs")


class MountError(Exception):
    """A reason not to mount, phrased for the user."""


def check_fuse() -> None:
    if not os.path.exists("/dev/fuse"):
        raise MountError("FUSE is not available: /dev/fuse is missing (load the fuse module)")
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        raise MountError("FUSE is not available: no permission to open /dev/fuse")
    if os.geteuid() != 0 and shutil.which("fusermount3") is None:
        raise MountError("FUSE is not available: fusermount3 not found (install fuse3)")


def _unescape_mountinfo(field: str) -> str:
    """/proc/self/mountinfo writes space, tab, newline and backslash as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def dead_fuse_mount(mountpoint: str) -> str | None:
    """The type (``fuse.metafs``...) of a FUSE mount at ``mountpoint`` whose daemon is gone,
    else None.  ``stat`` is no test: the kernel answers it from its attribute cache for a
    while after the daemon died; statfs always asks the daemon (ENOTCONN, ECONNABORTED)."""
    path = os.path.realpath(mountpoint)  # as mountinfo has it (a dead mount resolves too)
    fstype = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields, _, rest = line.partition(" - ")
                parts = fields.split()
                if len(parts) >= 5 and _unescape_mountinfo(parts[4]) == path:
                    kind = rest.split(" ", 1)[0]
                    fstype = kind if kind.startswith("fuse") else None  # the last one wins
    except OSError:
        return None
    if fstype is None:
        return None
    try:
        os.statvfs(path)
    except OSError as e:
        if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
            return fstype
    return None


def clear_dead_mount(mountpoint: str) -> bool:
    """A metafs mount left at ``mountpoint`` by a daemon that died (``kill -9``, a crash,
    the OOM killer) is unmounted lazily, so that mounting again works (and replays the
    journal the dead daemon left).  Any other dead mount is the user's to deal with."""
    if dead_fuse_mount(mountpoint) != "fuse.metafs":
        return False
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    cmd = [tool, "-u", "-z", mountpoint] if tool else ["umount", "-l", mountpoint]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise MountError(
            f"{mountpoint}: a dead metafs mount is still there and could not be cleared "
            f"({res.stderr.strip() or 'unmount failed'}); run 'fusermount3 -u -z {mountpoint}'"
        )
    log.info("%s: cleared the mount left by a metafs daemon that died", mountpoint)
    return True


def source_read_only(source: str) -> str | None:
    """Why metafs cannot write in SOURCE (a read-only filesystem: a read-only bind mount, a
    NAS share, a DVD), or None."""
    try:
        if os.statvfs(source).f_flag & os.ST_RDONLY:
            return f"{source} is on a read-only filesystem"
    except OSError:
        return None
    if not os.access(source, os.W_OK) and not os.access(os.path.join(source, ORIGINALS),
                                                         os.W_OK):
        return f"{source} is not writable by you"
    return None


def check_paths(source: str, mountpoint: str) -> None:
    if not os.path.isdir(source):
        raise MountError(f"{source}: source is not a folder")
    try:
        os.stat(mountpoint)
    except OSError as e:
        if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
            raise MountError(
                f"{mountpoint}: a dead FUSE mount is still there; run "
                f"'metafs umount {mountpoint}' (or 'fusermount3 -u {mountpoint}') first"
            ) from None
        raise MountError(f"{mountpoint}: mount point does not exist") from None
    if not os.path.isdir(mountpoint):
        raise MountError(f"{mountpoint}: mount point is not a folder")
    if os.path.ismount(mountpoint):
        raise MountError(f"{mountpoint}: mount point is busy (something is mounted there)")
    if os.listdir(mountpoint):
        raise MountError(f"{mountpoint}: mount point is not empty")
    src, mnt = os.path.realpath(source), os.path.realpath(mountpoint)
    if mnt == src or mnt.startswith(src + os.sep) or src.startswith(mnt + os.sep):
        raise MountError("source and mount point must not contain each other")


def replay_journal(journal: Journal, source: str, engine: EngineFacade) -> None:
    """Apply the journal's outstanding edits, each confined to SOURCE (records naming a
    path outside it are refused by the journal, and the write follows no symlink)."""
    backups = os.path.join(source, ORIGINALS)

    def apply(photo: str, changes: dict[str, str | None]) -> None:
        if unsafe_photo_path(photo):  # the journal refuses these already: never applied
            raise ValueError(f"journal record names {photo!r}, outside the source; refused")
        path = os.path.join(source, photo)
        if not os.path.lexists(path):
            log.warning("journal: %s is gone; dropping its edits %s", photo, sorted(changes))
            return
        engine.write_metadata(path, changes, backups=backups, root=source)
        log.info("journal: applied %d edit(s) to %s", len(changes), photo)

    for photo, err in journal.replay(apply).items():
        if isinstance(err, RefusedRecordError):
            log.error("journal %s: %s", journal.path, err)  # planted, or damaged: dropped
            continue
        log.error("journal: could not apply edits to %s: %s (kept for the next mount)", photo, err)


async def _serve(ops: Operations) -> None:
    async with trio.open_nursery() as nursery:
        ops.start(nursery)
        nursery.start_soon(_on_signals, ops)
        await pyfuse3.main()
        # Unmounted (fusermount3 -u, metafs umount or a signal): land what is pending.
        failures = await ops.batcher.commit_all()
        for f in failures:
            log.error("pending edits of %s could not be committed: %s", f.photo, f.cause)
        nursery.cancel_scope.cancel()


async def _on_signals(ops: Operations) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for signum in signals:
            log.info("signal %d: committing pending edits, then unmounting", signum)
            await ops.batcher.commit_all()
            ops.terminated_by_signal = True
            pyfuse3.terminate()
            return


def run(
    source: str,
    mountpoint: str,
    *,
    debounce_ms: int = 300,
    read_only: bool = False,
    engine: EngineFacade | None = None,
    sync: bool = True,
    keep_mtime: bool = False,
    ready: Callable[[str | None], None] = lambda err: None,
    note: Callable[[str], None] = lambda text: None,
    index_path: str | None = None,
) -> int:
    """Mount and serve until unmounted (in this process).  ``ready(None)`` once the mount
    is up, ``ready(message)`` when it could not be; ``note(text)`` before it, for what the
    user should know about this mount (also in the status file)."""
    source, mountpoint = os.path.abspath(source), os.path.abspath(mountpoint)
    engine = engine or real_engine()
    if not sync:
        engine = _without_sync(engine)
    if keep_mtime:
        engine = _with_write_option(engine, "keep_mtime", True)
    journal = None
    index = None
    notes: list[str] = []
    try:
        check_fuse()
        if clear_dead_mount(mountpoint):
            notes.append(f"cleared the dead metafs mount at {mountpoint} (its daemon had died); "
                         "edits it had acknowledged are replayed from the journal")
        check_paths(source, mountpoint)
        if os.path.lexists(os.path.join(source, CONTROL)):
            # The control folder keeps its name (metafs umount and scripts use it).
            notes.append(f"{os.path.join(source, CONTROL)} is hidden by the mount's control "
                         f"folder {CONTROL}/ (rename it to see it through the mount)")
        why = None if read_only else source_read_only(source)
        if why is not None:
            read_only = True
            notes.append(f"{why}: mounted read-only (tags can be read, not changed)")
        if not read_only:
            journal = Journal(os.path.join(source, ORIGINALS, JOURNAL_DIR), root=source)
            journal.open()
            replay_journal(journal, source, engine)
        index = open_index(source, read_only, index_path, notes)
        ops = Operations(
            source,
            index=index,
            engine=engine,
            journal=journal,
            debounce=debounce_ms / 1000,
            read_only=read_only,
            mountpoint=mountpoint,
            watch_source=True,
        )
        ops.editor.status.notes = notes
        ops.editor.status.sync = sync
        options = set(pyfuse3.default_options) | {"fsname=metafs", "subtype=metafs"}
        if os.geteuid() == 0:
            # Root serves a folder other users own photos in: let them in, and let the kernel
            # apply the permission bits (default_permissions), as on the disk itself.
            options.add("allow_other")
        if read_only:
            options.add("ro")
        try:
            pyfuse3.init(ops, mountpoint, options)
        except RuntimeError as e:
            raise MountError(f"{mountpoint}: mounting failed ({e}); is FUSE usable here?") from None
        ops.dirs_by_inode = fuse_shim.active()
        ops.stateless_readers = fuse_shim.releases_readers()
    except (MountError, JournalError) as e:
        if journal is not None:
            journal.close()
        if index is not None:
            index.close()
        ready(str(e))
        return 1
    except (OSError, EngineError) as e:  # SOURCE's state folder cannot be made, say
        if journal is not None:
            journal.close()
        if index is not None:
            index.close()
        if isinstance(e, OSError):
            why = f"{e.filename}: {e.strerror}" if e.filename else str(e.strerror or e)
        else:
            why = str(e)
        ready(f"{why}; metafs keeps its journal and the originals in "
              f"{os.path.join(source, ORIGINALS)} (mount with --read-only to only read)")
        return 1
    for text in notes:
        log.info("note: %s", text)
        note(text)
    ready(None)
    log.info("serving %s at %s (kernel directory cache: %s)", source, mountpoint,
             "on" if ops.dirs_by_inode else "off")
    ops.terminated_by_signal = False
    try:
        trio.run(_serve, ops)
    finally:
        pyfuse3.close(unmount=ops.terminated_by_signal)
        if journal is not None:
            journal.close()
        if index is not None:
            index.close()
    log.info("unmounted %s", mountpoint)
    return 0


def open_index(source: str, read_only: bool, path: str | None, notes: list[str]) -> Any:
    """The persistent metadata index (metafs.index): ``path`` (``--index``), else beside the
    journal in SOURCE/.originals/.journal, else (read-only SOURCE) in $XDG_CACHE_HOME/metafs.
    None when it cannot be had: photos are then decoded at every mount, and a note says so."""
    from metafs import index as mi

    try:
        if path is not None:
            return mi.open_at(path)
        if read_only:
            return mi.open_at(mi.cache_index_path(source))
        return mi.open_beside_journal(os.path.join(source, ORIGINALS, JOURNAL_DIR), source)
    except (OSError, EngineError) as e:
        notes.append(f"no metadata index ({e}): photos are decoded again at every mount")
        return None


def _without_sync(engine: EngineFacade) -> EngineFacade:
    """``--no-sync``: every write of this mount (commits and journal replay) changes only the
    tags named, no EXIF/XMP/IPTC copy of them, as ``metafs write --no-sync`` does."""
    return _with_write_option(engine, "sync_related", False)


def _with_write_option(engine: EngineFacade, name: str, value: Any) -> EngineFacade:
    """Every write of this mount (commits and journal replay) with ``name=value``
    (``--no-sync``, ``--keep-mtime``)."""
    import dataclasses

    write = engine.write_metadata

    def write_metadata(path: str, changes: Any, **kwargs: Any) -> Any:
        return write(path, changes, **{**kwargs, name: value})

    return dataclasses.replace(engine, write_metadata=write_metadata)


def main_mount(
    source: str,
    mountpoint: str,
    *,
    foreground: bool = False,
    debounce_ms: int = 300,
    read_only: bool = False,
    sync: bool = True,
    engine: EngineFacade | None = None,
    keep_mtime: bool = False,
    index_path: str | None = None,
) -> int:
    def report(err: str | None) -> None:
        if err is not None:
            print(f"metafs: {err}", file=sys.stderr)

    def tell(text: str) -> None:
        print(f"metafs: note: {text}", file=sys.stderr)

    if foreground:
        logging.basicConfig(level=logging.INFO, format="metafs: %(levelname)s %(message)s")
        return run(
            source,
            mountpoint,
            debounce_ms=debounce_ms,
            read_only=read_only,
            sync=sync,
            keep_mtime=keep_mtime,
            index_path=index_path,
            engine=engine,
            ready=report,
            note=tell,
        )
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        with os.fdopen(rfd, "rb") as r:
            msg = r.read().decode(errors="replace")
        # "note: TEXT" lines, then "ok" (mounted) or the reason it could not be
        lines = msg.split("\n")
        for line in lines:
            if line.startswith("note: "):
                tell(line[len("note: "):])
        rest = "\n".join(x for x in lines if not x.startswith("note: ")).strip()
        if rest == "ok":
            return 0
        os.waitpid(pid, 0)
        print(f"metafs: {rest or 'the daemon died while mounting'}", file=sys.stderr)
        return 1
    # The daemon: own session, no terminal, logs in the journal folder.
    os.close(rfd)
    code = 1
    try:
        os.setsid()
        _detach(source, read_only or source_read_only(source) is not None)

        def signal_note(text: str) -> None:
            os.write(wfd, f"note: {' '.join(text.split())}\n".encode())

        def signal_ready(err: str | None) -> None:
            os.write(wfd, b"ok\n" if err is None else err.encode())
            os.close(wfd)

        code = run(
            source,
            mountpoint,
            debounce_ms=debounce_ms,
            read_only=read_only,
            sync=sync,
            keep_mtime=keep_mtime,
            index_path=index_path,
            engine=engine,
            ready=signal_ready,
            note=signal_note,
        )
    except BaseException:
        log.exception("daemon failed")
    finally:
        logging.shutdown()
        os._exit(code)


def state_dir() -> str:
    """Where metafs keeps what it cannot keep in SOURCE: $XDG_STATE_HOME/metafs."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "metafs")


def _open_log_beside_journal(source: str) -> Any:
    """The log file in SOURCE/.originals/.journal, opened as the journal is: no symlink
    followed at any step, a regular file of our own (a daemon run by root must not append
    to a file someone planted there).  None when that cannot be had."""
    from engine.safewrite.paths import open_folder

    try:
        root = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        folder = open_folder(root, [ORIGINALS, JOURNAL_DIR], source)
    except (OSError, EngineError):
        return None
    finally:
        os.close(root)
    try:
        fd = os.open("metafs.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_CLOEXEC | os.O_NONBLOCK, 0o600, dir_fd=folder)
    except OSError:
        return None
    finally:
        os.close(folder)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_nlink != 1:
        os.close(fd)
        return None
    return os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace")


def _detach(source: str, read_only: bool = False) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    # The log goes beside the journal; a read-only mount writes nothing in SOURCE, so its
    # log goes to the state folder ($XDG_STATE_HOME/metafs/metafs.log).
    handlers: list[logging.Handler] = []
    log_file = None if read_only else _open_log_beside_journal(source)
    if log_file is None:
        try:
            os.makedirs(state_dir(), mode=0o700, exist_ok=True)
            handlers.append(logging.FileHandler(os.path.join(state_dir(), "metafs.log")))
        except OSError:
            handlers.append(logging.NullHandler())
    else:
        handlers.append(logging.StreamHandler(log_file))
    logging.basicConfig(
        level=logging.INFO,
        handlers=handlers,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def daemon_pid(mountpoint: str) -> int | None:
    try:
        with open(os.path.join(mountpoint, CONTROL, "status")) as f:
            for line in f:
                if line.startswith("pid:"):
                    return int(line.split(":", 1)[1])
    except (OSError, ValueError):
        return None
    return None


def main_umount(mountpoint: str, *, timeout: float = 30.0) -> int:
    """Commit pending edits, unmount, wait for the daemon to finish."""
    mountpoint = os.path.abspath(mountpoint)
    why = _not_mounted(mountpoint)
    if why is not None:
        print(f"metafs: cannot unmount: {why}", file=sys.stderr)
        return 1
    pid = daemon_pid(mountpoint)
    failed = False
    if pid is not None:
        try:  # fsync on .metafs/ commits every pending edit and reports failures
            fd = os.open(os.path.join(mountpoint, CONTROL), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            failed = True
            print(
                f"metafs: some pending edits could not be committed ({e.strerror}); "
                f"see {mountpoint}/{CONTROL}/status",
                file=sys.stderr,
            )
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    cmd = [tool, "-u", mountpoint] if tool else ["umount", mountpoint]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        why = res.stderr.strip()
        if "busy" in why.lower():
            why = f"{mountpoint} is busy: a process still uses it (see 'fuser -m {mountpoint}')"
        print(f"metafs: cannot unmount: {why}", file=sys.stderr)
        return 1
    if pid is not None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
    return 1 if failed else 0


def _not_mounted(mountpoint: str) -> str | None:
    """Why ``metafs umount`` has nothing to do there (None: something is mounted there, or
    a dead mount that fusermount3 -u clears)."""
    try:
        os.stat(mountpoint)
    except OSError as e:
        if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
            return None
        return f"{mountpoint}: {e.strerror}"
    if os.path.ismount(mountpoint):
        return None
    return f"{mountpoint} is not a mount point (nothing is mounted there)"


def _alive(pid: int) -> bool:
    try:  # a zombie has finished (our parent may be gone, and PID 1 may not reap it)
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _main(argv: list[str] | None = None) -> int:
    """``python -m metafs.mount SOURCE MOUNTPOINT`` (the CLI is ``metafs mount``)."""
    p = argparse.ArgumentParser(prog="python -m metafs.mount")
    p.add_argument("source")
    p.add_argument("mountpoint", nargs="?")
    p.add_argument("--foreground", action="store_true")
    p.add_argument("--debounce", type=int, default=300)
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--no-sync", action="store_true")
    p.add_argument("--keep-mtime", "-P", action="store_true")
    p.add_argument("--umount", action="store_true")
    p.add_argument("--index", metavar="PATH", help="the metadata index file to use")
    a = p.parse_args(argv)
    if a.umount:
        return main_umount(a.source)
    return main_mount(
        a.source,
        a.mountpoint,
        foreground=a.foreground,
        debounce_ms=a.debounce,
        read_only=a.read_only,
        sync=not a.no_sync,
        keep_mtime=a.keep_mtime,
        index_path=a.index,
    )


if __name__ == "__main__":
    sys.exit(_main())
