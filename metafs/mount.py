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
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pyfuse3
import trio

from metafs.fs import CONTROL, JOURNAL_DIR, ORIGINALS, Operations
from metafs.journal import Journal, JournalBusyError
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


def check_paths(source: str, mountpoint: str) -> None:
    if not os.path.isdir(source):
        raise MountError(f"{source}: source is not a folder")
    try:
        os.stat(mountpoint)
    except OSError as e:
        if e.errno == errno.ENOTCONN:
            raise MountError(
                f"{mountpoint}: a dead metafs mount is still there; run "
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
    backups = os.path.join(source, ORIGINALS)

    def apply(photo: str, changes: dict[str, str | None]) -> None:
        path = os.path.join(source, photo)
        if not os.path.exists(path):
            log.warning("journal: %s is gone; dropping its edits %s", photo, sorted(changes))
            return
        engine.write_metadata(path, changes, backups=backups)
        log.info("journal: applied %d edit(s) to %s", len(changes), photo)

    for photo, err in journal.replay(apply).items():
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
    ready: Callable[[str | None], None] = lambda err: None,
) -> int:
    """Mount and serve until unmounted (in this process).  ``ready(None)`` once the mount
    is up, ``ready(message)`` when it could not be."""
    source, mountpoint = os.path.abspath(source), os.path.abspath(mountpoint)
    engine = engine or real_engine()
    journal = None
    try:
        check_fuse()
        check_paths(source, mountpoint)
        if not read_only:
            journal = Journal(os.path.join(source, ORIGINALS, JOURNAL_DIR))
            journal.open()
            replay_journal(journal, source, engine)
        ops = Operations(
            source,
            engine=engine,
            journal=journal,
            debounce=debounce_ms / 1000,
            read_only=read_only,
            mountpoint=mountpoint,
            watch_source=True,
        )
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
    except (MountError, JournalBusyError) as e:
        if journal is not None:
            journal.close()
        ready(str(e))
        return 1
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
    log.info("unmounted %s", mountpoint)
    return 0


def main_mount(
    source: str,
    mountpoint: str,
    *,
    foreground: bool = False,
    debounce_ms: int = 300,
    read_only: bool = False,
    engine: EngineFacade | None = None,
) -> int:
    def report(err: str | None) -> None:
        if err is not None:
            print(f"metafs: {err}", file=sys.stderr)

    if foreground:
        logging.basicConfig(level=logging.INFO, format="metafs: %(levelname)s %(message)s")
        return run(
            source,
            mountpoint,
            debounce_ms=debounce_ms,
            read_only=read_only,
            engine=engine,
            ready=report,
        )
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        with os.fdopen(rfd, "rb") as r:
            msg = r.read().decode(errors="replace")
        if msg.startswith("ok"):
            return 0
        os.waitpid(pid, 0)
        print(f"metafs: {msg.strip() or 'the daemon died while mounting'}", file=sys.stderr)
        return 1
    # The daemon: own session, no terminal, logs in the journal folder.
    os.close(rfd)
    code = 1
    try:
        os.setsid()
        _detach(source)

        def signal_ready(err: str | None) -> None:
            os.write(wfd, b"ok\n" if err is None else err.encode())
            os.close(wfd)

        code = run(
            source,
            mountpoint,
            debounce_ms=debounce_ms,
            read_only=read_only,
            engine=engine,
            ready=signal_ready,
        )
    except BaseException:
        log.exception("daemon failed")
    finally:
        logging.shutdown()
        os._exit(code)


def _detach(source: str) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    logdir = os.path.join(os.path.abspath(source), ORIGINALS, JOURNAL_DIR)
    handlers: list[logging.Handler] = []
    try:
        os.makedirs(logdir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(logdir, "metafs.log")))
    except OSError:
        handlers.append(logging.NullHandler())
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
        if e.errno == errno.ENOTCONN:
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
    p.add_argument("--umount", action="store_true")
    a = p.parse_args(argv)
    if a.umount:
        return main_umount(a.source)
    return main_mount(
        a.source,
        a.mountpoint,
        foreground=a.foreground,
        debounce_ms=a.debounce,
        read_only=a.read_only,
    )


if __name__ == "__main__":
    sys.exit(_main())
