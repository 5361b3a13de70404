"""Mounting: checks with clear messages, journal replay, daemonising once the mount is ready,
and a clean end (pending edits committed first on SIGTERM/SIGINT, ``metafs umount`` and
``fusermount3 -u``)."""

from __future__ import annotations

# isort: off
from metafs import fuse_shim  # first: it must be loaded before pyfuse3 is (see there)
# isort: on
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pyfuse3
import trio

from engine import BACKUP_DIR, EngineError
from metafs.config import DaemonConfig
from metafs.daemon import daemonize
from metafs.fs import CONTROL, JOURNAL_DIR, Operations
from metafs.journal import Journal, JournalError, RefusedRecordError, unsafe_photo_path
from metafs.photos import EngineFacade, real_engine
from metafs.preflight import (
    MountError,
    check_fuse,
    check_paths,
    clear_dead_mount,
    dead_fuse_mount,
    source_read_only,
)
from metafs.umount import daemon_pid, main_umount

# Also reached from here by scripts and tests (their modules: preflight, umount).
__all__ = ["MountError", "MountOptions", "daemon_pid", "dead_fuse_mount", "main_mount",
           "main_umount", "replay_journal", "run"]

log = logging.getLogger("metafs")


def replay_journal(journal: Journal, source: str, engine: EngineFacade) -> None:
    """Apply the journal's outstanding edits, each confined to SOURCE (records naming a
    path outside it are refused by the journal, and the write follows no symlink)."""
    backups = os.path.join(source, BACKUP_DIR)

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
        fuse_shim.watch_loop()  # (in the loop: its epoll descriptor exists now)
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


@dataclass(frozen=True)
class MountOptions:
    """What the mount was asked for (``metafs mount``'s options)."""

    debounce_ms: int = 300  # an edit is written this long after the last change
    read_only: bool = False
    sync: bool = True  # False (--no-sync): edits change no EXIF/XMP/IPTC copy of a tag
    keep_mtime: bool = False  # -P: photos keep their modification time
    index_path: str | None = None  # --index: the metadata index file
    repair: bool = False  # --repair: EXIF damage a write would refuse is repaired first


def run(
    source: str,
    mountpoint: str,
    options: MountOptions = MountOptions(),
    *,
    engine: EngineFacade | None = None,
    ready: Callable[[str | None], None] = lambda err: None,
    note: Callable[[str], None] = lambda text: None,
) -> int:
    """Mount and serve until unmounted (in this process).  ``ready(None)`` once the mount
    is up, ``ready(message)`` when it could not be; ``note(text)`` before it, for what the
    user should know about this mount (also in the status file)."""
    # A SOURCE named through a symlink (~/Pictures -> /data/Pictures) is the folder it names
    # now: the daemon never follows a symlink inside SOURCE, so it holds the real path.
    source, mountpoint = os.path.realpath(source), os.path.abspath(mountpoint)
    engine = _mount_engine(engine or real_engine(), options)
    held: list[Any] = []  # the journal and the index, once opened: closed at the end
    notes: list[str] = []
    try:
        ops = _set_up(source, mountpoint, options, engine, held, notes)
    except (MountError, JournalError) as e:
        _close(held)
        ready(str(e))
        return 1
    except (OSError, EngineError) as e:  # SOURCE's state folder cannot be made, say
        _close(held)
        ready(_no_state_folder(e, source))
        return 1
    for text in notes:
        log.info("note: %s", text)
        note(text)
    ready(None)
    log.info("serving %s at %s (kernel directory cache: %s)", source, mountpoint,
             "on" if fuse_shim.active() else "off")
    ops.terminated_by_signal = False
    try:
        trio.run(_serve, ops)
    finally:
        pyfuse3.close(unmount=ops.terminated_by_signal)
        _close(held)
    log.info("unmounted %s", mountpoint)
    return 0


def _set_up(source: str, mountpoint: str, options: MountOptions, engine: EngineFacade,
            held: list[Any], notes: list[str]) -> Operations:
    """Checks, the journal replayed, the index, then the mount itself; what was opened is
    added to ``held``, what the user should know to ``notes``."""
    read_only = _checked(source, mountpoint, options.read_only, notes)
    journal = None
    if not read_only:
        journal = Journal(os.path.join(source, BACKUP_DIR, JOURNAL_DIR), root=source)
        held.append(journal)
        journal.open()
        replay_journal(journal, source, engine)
    index = open_index(source, read_only, options.index_path, notes)
    if index is not None:
        held.append(index)
    config = DaemonConfig(source, mountpoint=mountpoint, read_only=read_only,
                          debounce=options.debounce_ms / 1000, watch_source=True,
                          sync=options.sync, notes=tuple(notes), session=fuse_shim.features)
    ops = Operations(config, index=index, engine=engine, journal=journal)
    _init_fuse(ops, mountpoint, read_only, source)
    return ops


def _checked(source: str, mountpoint: str, read_only: bool, notes: list[str]) -> bool:
    """The checks before mounting (MountError when one fails); whether the mount is
    read-only (asked for, or SOURCE cannot be written)."""
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
        notes.append(f"{why}: mounted read-only (tags can be read, not changed)")
        return True
    return read_only


def _init_fuse(ops: Operations, mountpoint: str, read_only: bool, source: str) -> None:
    options = set(pyfuse3.default_options) | {"fsname=metafs", "subtype=metafs"}
    if os.geteuid() == 0:
        # Root serves a folder other users own photos in: let them in, and let the kernel
        # apply the permission bits (default_permissions), as on the disk itself.
        options.add("allow_other")
    if read_only:
        options.add("ro")
        # No writer can exist: the kernel may open and close files without asking (the
        # shim's item 8), and reads come from its page cache with no request at all.
        fuse_shim.ask_no_open()
    fuse_shim.answer_statfs(source)  # as Operations.statfs does, without a round trip
    try:
        pyfuse3.init(ops, mountpoint, options)
    except RuntimeError as e:
        raise MountError(f"{mountpoint}: mounting failed ({e}); is FUSE usable here?") from None


def _close(held: list[Any]) -> None:
    for thing in held:
        thing.close()


def _no_state_folder(e: OSError | EngineError, source: str) -> str:
    if isinstance(e, OSError):
        why = f"{e.filename}: {e.strerror}" if e.filename else str(e.strerror or e)
    else:
        why = str(e)
    return (f"{why}; metafs keeps its journal and the originals in "
            f"{os.path.join(source, BACKUP_DIR)} (mount with --read-only to only read)")


def open_index(source: str, read_only: bool, path: str | None, notes: list[str]) -> Any:
    """The persistent metadata index (metafs.index): ``path`` (``--index``), else beside the
    journal in SOURCE/.originals/.journal, else (read-only SOURCE) in $XDG_CACHE_HOME/metafs.
    None when it cannot be had: photos are then decoded at every mount, and a note says so."""
    from metafs import index as mi

    try:
        if path is not None:
            index = mi.open_at(path)
        elif read_only:
            index = mi.open_at(mi.cache_index_path(source))
        else:
            index = mi.open_beside_journal(os.path.join(source, BACKUP_DIR, JOURNAL_DIR),
                                           source)
    except (OSError, EngineError) as e:
        notes.append(f"no metadata index ({e}): photos are decoded again at every mount")
        return None
    index.keyed_for(source)
    return index


def _mount_engine(engine: EngineFacade, options: MountOptions) -> EngineFacade:
    """Every write of this mount (commits and journal replay) with the options asked for:
    ``--no-sync`` changes only the tags named, no EXIF/XMP/IPTC copy of them (as ``metafs
    write --no-sync`` does); ``--keep-mtime`` keeps the photo's mtime."""
    if not options.sync:
        engine = _with_write_option(engine, "sync_related", False)
    if options.keep_mtime:
        engine = _with_write_option(engine, "keep_mtime", True)
    if options.repair:  # (as ``metafs write --repair``: the notes say what was repaired)
        engine = _with_write_option(engine, "repair", True)
    return engine


def _with_write_option(engine: EngineFacade, name: str, value: Any) -> EngineFacade:
    write = engine.write_metadata

    def write_metadata(path: str, changes: Any, **kwargs: Any) -> Any:
        return write(path, changes, **{**kwargs, name: value})

    return replace(engine, write_metadata=write_metadata)


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
    repair: bool = False,
) -> int:
    """``metafs mount``: in the foreground (logging to stderr), or in a daemon once the
    mount is up (this process then returns)."""
    options = MountOptions(debounce_ms=debounce_ms, read_only=read_only, sync=sync,
                           keep_mtime=keep_mtime, index_path=index_path, repair=repair)

    def serve(ready: Callable[[str | None], None], note: Callable[[str], None]) -> int:
        return run(source, mountpoint, options, engine=engine, ready=ready, note=note)

    if not foreground:
        return daemonize(serve, source, read_only, _tell)
    logging.basicConfig(level=logging.INFO, format="metafs: %(levelname)s %(message)s")
    return serve(_report, _tell)


def _report(err: str | None) -> None:
    if err is not None:
        print(f"metafs: {err}", file=sys.stderr)


def _tell(text: str) -> None:
    print(f"metafs: note: {text}", file=sys.stderr)


def _main(argv: list[str] | None = None) -> int:
    """``python -m metafs.mount SOURCE MOUNTPOINT`` (the CLI is ``metafs mount``)."""
    import argparse

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
    p.add_argument("--repair", action="store_true")
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
        repair=a.repair,
        index_path=a.index,
    )


if __name__ == "__main__":
    sys.exit(_main())
