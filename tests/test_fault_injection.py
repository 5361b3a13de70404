"""Every system call of a write fails in turn (issue 12, item 5): a full disk without root.

The write's system calls are an object passed down the write (engine.safewrite.sysops):
``Faulty`` counts them and makes the N-th raise ENOSPC or EIO, as mutagen's fault-injecting
file object does.  For every N of a one-tag write to every writable format, and of a restore:
the photo is byte for byte the original or the complete new file (never anything else), no
temporary file is left, the backup is the original or absent, and a failure is an EngineError
whose one-line message names the file and the cause.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from support.faults import CHANGE, Faulty, check_error, fail_each_call, fault_points, leftovers

import engine
from engine.safewrite import safety

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# (photo name, fixture, how it is made): "dng" is the TIFF made a DNG by the engine itself
FORMATS = [
    ("photo.jpg", "photo.jpg", None),
    ("strips.tif", "strips_le.tif", None),
    ("camera.dng", "tiles_be.tif", "dng"),
    ("photo.png", "exif_xmp.png", None),
    ("photo.webp", "exif_xmp.webp", None),
    ("photo.heic", "exif_xmp.heic", None),  # AVIF: the same writer, the same calls
]
def make(tmp_path: Path, name: str, fixture: str, how: str | None) -> Path:
    d = tmp_path / "src"
    d.mkdir(exist_ok=True)
    p = d / name
    shutil.copyfile(FIXTURES / fixture, p)
    p.chmod(0o640)
    if how == "dng":
        engine.write_metadata(p, {"DNGVersion": "1.4.0.0"}, backup=False)
        assert engine.read_metadata(p).file_type == "DNG"
    return p



@pytest.mark.parametrize(("name", "fixture", "how"), FORMATS, ids=[f[0] for f in FORMATS])
def test_every_failing_call_of_a_write_leaves_old_or_new(tmp_path: Path, name: str, fixture: str,
                                                         how: str | None) -> None:
    fail_each_call(make(tmp_path, name, fixture, how))


def test_the_same_where_backups_are_copies(tmp_path: Path) -> None:
    """No hard links (another filesystem, protected_hardlinks): the backup is a copy, made
    with its own temporary file, mode and times; every call of that fails in turn too (and
    of keeping the photo's modification time)."""
    photo = make(tmp_path, "photo.jpg", "photo.jpg", None)
    calls = fail_each_call(photo, keep_mtime=True, links=False)
    assert calls.count("utime") == 2 and calls.count("open+create") == 2


@pytest.mark.parametrize("name", ["photo.jpg", "photo.heic"])
def test_every_failing_call_of_a_restore_leaves_old_or_new(tmp_path: Path, name: str) -> None:
    fixture = {f[0]: f[1] for f in FORMATS}[name]
    photo = make(tmp_path, name, fixture, None)
    original = photo.read_bytes()
    engine.write_metadata(photo, CHANGE)
    edited = photo.read_bytes()
    counted = Faulty()
    safety.restore_file(str(photo), ops=counted)
    assert photo.read_bytes() == original and "rename_at" in counted.calls
    backup = photo.parent / ".originals" / name
    for code in (errno.EIO, errno.ENOSPC):
        for n in fault_points(counted.calls, code):
            engine.write_metadata(photo, CHANGE)  # the edited file back in place
            assert photo.read_bytes() == edited
            where = f"{name}: call {n} ({counted.calls[n - 1]}) fails with {errno.errorcode[code]}"
            try:
                safety.restore_file(str(photo), ops=Faulty(n, code))
            except BaseException as e:  # noqa: BLE001 - anything but an EngineError fails
                check_error(e, photo, code)
            assert photo.read_bytes() in (edited, original), where
            assert backup.read_bytes() == original, where
            assert leftovers(photo.parent) == [], where
