"""The temporary file is flushed (fsync) in a thread while the write is validated.

The rename still waits for both: a failed flush leaves the original as it was, and a file
changed after the check is not renamed into place.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

import engine
from engine.safewrite import newfile, safety
from engine.safewrite.sysops import AtStage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def temps(d: Path) -> list[str]:
    return [n for n in os.listdir(d) if safety.is_temp_name(n)]


def test_a_failed_flush_leaves_the_original(photo: Path, monkeypatch) -> None:
    original = photo.read_bytes()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "simulated I/O error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(engine.WriteError, match="while flushing the temporary file to disk; "
                                                "the original file is untouched"):
        engine.write_metadata(photo, {"Make": "Never"})
    assert photo.read_bytes() == original
    assert temps(photo.parent) == []


def test_the_flush_waits_for_a_failed_validation(photo: Path, monkeypatch) -> None:
    original = photo.read_bytes()
    done: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        done.append("fsync")

    def bad(tmp: str) -> None:
        raise engine.ValidationError("no", path=tmp)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(engine.ValidationError):
        safety.safe_rewrite(str(photo), [b"new"], validate=bad, backup=False)
    assert done == ["fsync"]  # over before the temporary file was removed
    assert photo.read_bytes() == original and temps(photo.parent) == []


def test_without_threads_the_flush_is_done_in_place(photo: Path, monkeypatch) -> None:
    def no_thread(*args, **kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(newfile._thread, "start_new_thread", no_thread)
    engine.write_metadata(photo, {"Make": "No Thread"})
    assert engine.read_metadata(photo)["Make"] == "No Thread"


def test_a_file_changed_after_the_check_is_not_renamed(photo: Path) -> None:
    original = photo.read_bytes()

    def hook(step: str) -> None:
        if step == "fsynced":  # the check is over by now: append to the checked file
            (tmp,) = temps(photo.parent)
            with open(photo.parent / tmp, "ab") as f:
                f.write(b"garbage")

    with pytest.raises(engine.ValidationError, match="changed while it was being checked"):
        engine.write_metadata(photo, {"Make": "Changed"}, ops=AtStage(hook))
    assert photo.read_bytes() == original and temps(photo.parent) == []
