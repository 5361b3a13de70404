"""Fault injection for the safe-write path: every system call of a write, counted, and
each failed in turn (``fail_each_call``): the file must be the old or the new one, never
anything else, with no temporary file left and the backup only beside a new file."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import engine
from engine.safewrite.sysops import SysOps

CHANGE = {"Artist": "Fault Line"}
# the calls that can run out of space ("open+create": an open with O_CREAT); every call can
# fail with EIO
FILLING = {"open+create", "write", "copy_file_range", "fsync", "mkdir_at", "link_fd", "rename_at",
           "setxattr"}
CALLS = [n for n, v in vars(SysOps).items()
         if callable(v) and not n.startswith("_") and n != "reached"]


class Faulty(SysOps):
    """The real calls, counted; the ``fail_at``-th (from 1) raises OSError(``code``).
    ``links=False``: no hard link can be made here (EXDEV, not counted as a fault)."""

    def __init__(self, fail_at: int | None = None, code: int = errno.EIO,
                 links: bool = True) -> None:
        self.fail_at, self.code, self.links = fail_at, code, links
        self.calls: list[str] = []

    def link_fd(self, fd: int, dir_fd: int, name: str) -> None:
        if not self.links:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        self._call("link_fd", fd, dir_fd, name)

    def _call(self, name: str, *args, **kwargs):
        creates = name == "open" and args[1] & os.O_CREAT
        self.calls.append("open+create" if creates else name)
        if len(self.calls) == self.fail_at:
            raise OSError(self.code, os.strerror(self.code))
        return getattr(SysOps, name)(self, *args, **kwargs)  # type: ignore[operator]


def _forward(name: str):
    def call(self: Faulty, *args, **kwargs):
        return self._call(name, *args, **kwargs)

    call.__name__ = name
    return call


for _name in CALLS:
    if _name != "link_fd":
        setattr(Faulty, _name, _forward(_name))


def leftovers(d: Path) -> list[str]:
    """Temporary files anywhere below ``d`` (the backup tree included)."""
    return [str(p.relative_to(d)) for p in d.rglob("*") if ".metafs-" in p.name]


def check_error(e: BaseException, photo: Path, code: int) -> None:
    assert isinstance(e, engine.EngineError), repr(e)
    msg = str(e)
    assert msg.startswith(f"{photo}: ") and "\n" not in msg, msg
    if code == errno.ENOSPC and isinstance(e, engine.WriteError):
        assert "no space left on the device" in msg, msg
    else:
        assert os.strerror(code) in msg or "no space left on the device" in msg, msg


def fault_points(calls: list[str], code: int) -> list[int]:
    return [i + 1 for i, name in enumerate(calls) if code == errno.EIO or name in FILLING]


def fail_each_call(photo: Path, keep_mtime: bool = False, **options) -> list[str]:
    """Write CHANGE to ``photo`` once for each call of the write that can fail, failing it;
    returns the calls of the write."""
    original, mode = photo.read_bytes(), photo.stat().st_mode
    counted = Faulty(**options)
    engine.write_metadata(photo, CHANGE, ops=counted, keep_mtime=keep_mtime)  # no fault
    new = photo.read_bytes()
    assert new != original and "rename_at" in counted.calls
    backup = photo.parent / ".originals" / photo.name
    tried = 0
    for code in (errno.EIO, errno.ENOSPC):
        for n in fault_points(counted.calls, code):
            shutil.rmtree(photo.parent / ".originals", ignore_errors=True)
            photo.write_bytes(original)
            photo.chmod(mode)
            where = f"call {n} ({counted.calls[n - 1]}) fails with {errno.errorcode[code]}"
            try:
                engine.write_metadata(photo, CHANGE, ops=Faulty(n, code, **options),
                                      keep_mtime=keep_mtime)
            except BaseException as e:  # noqa: BLE001 - anything but an EngineError fails
                check_error(e, photo, code)
            data = photo.read_bytes()
            assert data in (original, new), where
            assert photo.stat().st_mode == mode, where
            assert leftovers(photo.parent) == [], where
            if data == new:
                assert backup.read_bytes() == original, where
            else:
                assert not backup.exists(), where
            tried += 1
    assert tried >= len(counted.calls)
    return counted.calls
