"""Where the committed sample images are, temp copies of them, and a small file system to
fill up."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


def copy_fixture(folder: Path, name: str) -> Path:
    """A copy of ``fixtures/NAME`` in ``folder`` (tests never change the fixtures)."""
    dst = folder / name
    shutil.copyfile(FIXTURES / name, dst)
    return dst


@contextlib.contextmanager
def small_tmpfs(mnt: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"64k"``, ``"3m"``) mounted on the new folder ``mnt``, to fill
    up (needs root; the test is skipped without); unmounted, lazily, at the end."""
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
