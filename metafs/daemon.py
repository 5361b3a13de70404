"""Running the mount in the background: fork, wait until the mount is up (or could not be),
and in the child a daemon with its own session, no terminal, and its log beside the journal.

The child tells the parent through a pipe: ``note: TEXT`` lines (what the user should know
about this mount), then ``ok`` once it serves, or the reason it could not mount.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import engine
from metafs.fs import JOURNAL_DIR
from metafs.preflight import source_read_only

log = logging.getLogger("metafs")

Ready = Callable[[str | None], None]  # None: mounted; else why it could not be
Note = Callable[[str], None]
Serve = Callable[[Ready, Note], int]  # mounts, calls ready(), serves until unmounted


def daemonize(serve: Serve, source: str, read_only: bool, tell: Note) -> int:
    """``serve`` in a daemon process; this one returns once the mount is up (0) or failed
    (1, the reason on stderr), having passed the daemon's notes to ``tell``."""
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        return _wait_until_mounted(rfd, pid, tell)
    os.close(rfd)
    _run_daemon(serve, wfd, source, read_only)  # never returns


def _wait_until_mounted(rfd: int, pid: int, tell: Note) -> int:
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


def _run_daemon(serve: Serve, wfd: int, source: str, read_only: bool) -> NoReturn:
    """The daemon: own session, no terminal, logs in the journal folder; exits when
    ``serve`` returns."""
    code = 1
    try:
        os.setsid()
        _detach(source, read_only or source_read_only(source) is not None)

        def signal_note(text: str) -> None:
            os.write(wfd, f"note: {' '.join(text.split())}\n".encode())

        def signal_ready(err: str | None) -> None:
            os.write(wfd, b"ok\n" if err is None else err.encode())
            os.close(wfd)

        code = serve(signal_ready, signal_note)
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
    try:
        root = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        folder = engine.open_folder(root, [engine.BACKUP_DIR, JOURNAL_DIR], source)
    except (OSError, engine.EngineError):
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
