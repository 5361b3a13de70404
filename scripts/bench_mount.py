#!/usr/bin/env python3
"""Benchmark of the mount (issue 5, "Done when" item 4), all figures from one run, same files.

    .venv/bin/python scripts/bench_mount.py [-n 1000] [-r 3]

Reading: a tree of N copies of fixtures/photo.jpg (20 folders of N/20) in a temp dir, mounted
with ``python -m metafs.mount``.  Timed, each as one shell command in the mount point:

- ``cat */*.meta/Make``: the Make of every photo (glob over the mount);
- ``grep -r --include=Make "Test Camera" .``: which photos have that maker (walks every
  folder, .meta folders included, and reads every ``Make`` file);
- ``grep -r "Test Camera" */*.meta``: every tag file of every photo searched (~80 tag files a
  photo: the "find this text in any tag" search; informative, ExifTool would need ``-a -G1``);

each cold (the first command after a fresh mount; daemon and kernel caches empty, one mount
per repeat) and warm (repeated on a live mount).  Against, on the SOURCE tree: ``exiftool -Make
-r SRC`` and ``exiv2 -g Exif.Image.Make -Pv FILE...``, both warm (one untimed run first).

Writing: a ~5 MB JPEG (Pillow noise 2000x1500 at quality 95, metadata of fixtures/photo.jpg
copied by ExifTool).  Through the mount: open ``Make``, write a new value, ``os.fsync`` (commits
the photo, durable when it returns), close.  In-process: ``engine.write_metadata(path, {"Make":
value})`` on a copy of the same file.  One untimed write each first (it makes the backup).

``run()`` returns (label, median seconds, note) rows; run standalone it prints a table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metafs.mount import daemon_pid, main_umount  # noqa: E402

PHOTO = ROOT / "fixtures" / "photo.jpg"
FOLDERS = 20
Row = tuple[str, float, str]


def _median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _sh(cmd: str, cwd: Path) -> None:
    # grep exits 1 when nothing matched: the commands here always match, so any other
    # code means something broke.
    res = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{cmd!r} in {cwd} failed ({res.returncode}): {res.stderr[-300:]}")


def make_tree(src: Path, n_photos: int) -> None:
    per = max(1, n_photos // FOLDERS)
    for i in range(n_photos):
        folder = src / f"d{i // per:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PHOTO, folder / f"p{i % per:03d}.jpg")


def make_big_jpeg(path: Path) -> None:
    """~5 MB of noise at quality 95, with the metadata of fixtures/photo.jpg."""
    from PIL import Image

    # Three independent noise channels, no chroma subsampling: it does not compress.
    channels = [Image.effect_noise((2000, 1500), 32) for _ in range(3)]
    Image.merge("RGB", channels).save(path, quality=95, subsampling=0)
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-TagsFromFile", str(PHOTO), "-all:all",
         str(path)],
        check=True,
    )


@contextmanager
def mounted(src: Path, mnt: Path, debounce_ms: int = 300, *extra: str) -> Iterator[Path]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "metafs.mount", str(src), str(mnt), "--debounce",
           str(debounce_ms), *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"mount failed: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        pid = daemon_pid(str(mnt))
        if main_umount(str(mnt), timeout=60) != 0:
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)
            if pid is not None:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass


def _read_rows(tmp: Path, n_photos: int, repeats: int) -> list[Row]:
    src, mnt = tmp / "src", tmp / "mnt"
    mnt.mkdir()
    make_tree(src, n_photos)
    files = sorted(str(p) for p in src.rglob("*.jpg"))
    rows: list[Row] = []

    def et() -> None:
        subprocess.run(["exiftool", "-Make", "-r", str(src)], capture_output=True, check=True)

    et_warm = _median_time(et, repeats)
    rows.append(("exiftool -Make -r SRC (warm)", et_warm, "reference"))
    if shutil.which("exiv2"):
        def ex2() -> None:
            subprocess.run(["exiv2", "-g", "Exif.Image.Make", "-Pv", *files],
                           capture_output=True, check=True)

        t = _median_time(ex2, repeats)
        rows.append(("exiv2 -g Exif.Image.Make -Pv (warm)", t, _vs(et_warm, t)))

    commands = [  # (label, command, repeats: the all-tag-files grep is long, timed once)
        ("cat */*.meta/Make", "cat */*.meta/Make > /dev/null", repeats),
        ("grep -r --include=Make", "grep -r --include=Make -l 'Test Camera' . > /dev/null",
         repeats),
        ("grep -r */*.meta (all tag files)", "grep -r 'Test Camera' */*.meta > /dev/null", 1),
    ]
    for label, cmd, n in commands:
        cold = []
        for _ in range(n):
            with mounted(src, mnt):
                t0 = time.perf_counter()
                _sh(cmd, mnt)
                cold.append(time.perf_counter() - t0)
        t = statistics.median(cold)
        rows.append((f"mount: {label} (cold)", t, _vs(et_warm, t)))
        with mounted(src, mnt):
            t = _median_time(lambda c=cmd: _sh(c, mnt), n)
        rows.append((f"mount: {label} (warm)", t, _vs(et_warm, t)))
    return rows


def _write_rows(tmp: Path, repeats: int) -> list[Row]:
    import engine

    src, mnt, solo = tmp / "wsrc", tmp / "wmnt", tmp / "solo"
    for d in (src, mnt, solo):
        d.mkdir()
    make_big_jpeg(src / "big.jpg")
    shutil.copy2(src / "big.jpg", solo / "big.jpg")
    size_mb = (src / "big.jpg").stat().st_size / 1e6
    counter = iter(range(10**6))

    def inproc() -> None:
        engine.write_metadata(solo / "big.jpg", {"Make": f"x{next(counter)}"},
                              backups=solo / ".originals")

    t_engine = _median_time(inproc, repeats)
    rows: list[Row] = [
        (f"engine.write_metadata Make ({size_mb:.1f} MB JPEG)", t_engine, "reference")
    ]
    with mounted(src, mnt):
        tagfile = mnt / "big.jpg.meta" / "Make"

        def through_mount() -> None:
            fd = os.open(tagfile, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, f"x{next(counter)}\n".encode())
                os.fsync(fd)
            finally:
                os.close(fd)

        t = _median_time(through_mount, repeats)
    note = f"{t / t_engine:.2f}x the engine (target <= 2x)"
    rows.append(("mount: echo x > Make; fsync", t, note))
    return rows


def _vs(ref: float, t: float) -> str:
    return f"{ref / t:.1f}x faster than exiftool" if t > 0 else ""


def run(n_photos: int = 1000, repeats: int = 3) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_mount."))
    try:
        return _read_rows(tmp, n_photos, repeats) + _write_rows(tmp, repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--photos", type=int, default=1000)
    p.add_argument("-r", "--repeats", type=int, default=3)
    a = p.parse_args(argv)
    rows = run(a.photos, a.repeats)
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'median s':>9}  note")
    for label, secs, note in rows:
        print(f"{label:<{width}}  {secs:9.3f}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
