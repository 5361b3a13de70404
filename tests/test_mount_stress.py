"""A few seconds of everything at once through a real mount: writers, readers, walkers,
another program rewriting a photo, deletions by emptying.  Nothing may hang, every photo
must stay a valid file, and the last value written through the mount must be in the photo
(where the other program does not write)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

from support.mount import FIXTURES, Mount, needs_mount

pytestmark = needs_mount

SECONDS = 4.0
PHOTOS = ("a.jpg", "b.jpg", "c.jpg")
# ExifTool rewrites this one now and then.  It does not look for changes made while it
# works, so a commit of metafs landing between its read and its rename is undone by it:
# the last value written through the mount is checked in the other photos only.
OUTSIDE = "c.jpg"


def _writer(mount: Mount, stop: float, last: dict[str, str]) -> None:
    """Artist and one other tag of a random photo, written (or emptied) through the mount."""
    rng = random.Random(1)
    n = 0
    while time.monotonic() < stop:
        photo = rng.choice(PHOTOS)
        n += 1
        (mount.mnt / f"{photo}.meta" / "Artist").write_text(f"Writer {n}\n")
        if photo != OUTSIDE:  # the outsider's rewrites may undo edits of its photo
            last[photo] = f"Writer {n}"
        tag = rng.choice(["Software", "xmp/dc:title", "iptc/Keywords"])
        path = mount.mnt / f"{photo}.meta" / tag
        if rng.random() < 0.2:
            path.write_text("")  # emptied: deleted
        else:
            path.write_text(f"value {n}\n")


def _reader(mount: Mount, stop: float, last: dict[str, str]) -> None:
    while time.monotonic() < stop:
        for root, _dirs, files in os.walk(mount.mnt):
            for f in files:
                try:
                    Path(root, f).read_bytes()
                except FileNotFoundError:
                    pass  # deleted between the listing and the read


def _outsider(mount: Mount, stop: float, last: dict[str, str]) -> None:
    rng = random.Random(2)
    while time.monotonic() < stop:
        subprocess.run(["exiftool", "-q", "-overwrite_original",
                        f"-Model=Outside {rng.randrange(1000)}", str(mount.src / OUTSIDE)],
                       check=True, capture_output=True)
        time.sleep(0.2)


def _run_together(mount: Mount, last: dict[str, str]) -> list[str]:
    """The writer, two readers and the outsider at once for SECONDS; what they raised."""
    stop = time.monotonic() + SECONDS
    errors: list[str] = []

    def guarded(fn):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                fn(mount, stop, last)
                fn(mount, stop, last)
            except Exception as e:  # noqa: BLE001 - collected, asserted by the caller
                errors.append(f"{fn.__name__}: {e!r} {getattr(e, 'filename', '')}")
        return run

    threads = [threading.Thread(target=guarded(f))
               for f in (_writer, _reader, _reader, _outsider)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "the mount stopped answering"
    return errors


def test_everything_at_once(tmp_path: Path) -> None:
    mount = Mount(tmp_path, 50)
    try:
        for name in PHOTOS:
            shutil.copy2(FIXTURES / "photo.jpg", mount.src / name)
        last: dict[str, str] = {}  # photo -> last Artist written through the mount
        errors = _run_together(mount, last)
        assert errors == [], mount.status()
        mount.commit()
        for name in PHOTOS:
            tags = mount.exif(name)
            assert not any(k.endswith(":Error") or k.endswith(":Warning") for k in tags), tags
            if name in last:
                assert tags["IFD0:Artist"] == last[name], mount.status()
        assert "internal error" not in mount.status()
    finally:
        mount.close()
