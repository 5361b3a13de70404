#!/usr/bin/env python3
"""Scale benchmark of the mount (issue 13): a library of N real photos, all figures from one run.

    .venv/bin/python scripts/bench_scale.py [-N 20000] [--grep-all]
    scripts/bench --section scale -N 20000

The library: real copies (distinct inodes) of the corpus's small JPEGs that have a Make, each
given an XMP packet by ExifTool when it has none (templates made once, in the temp dir), 100 to
a folder.  Timed, in one run: mount-ready time (``python -m metafs.mount`` returning, the daemon
serving); ``cat */*.meta/Make`` on the first walk of a library never seen (no index), the second
walk, and the walk after unmount + remount (the index on disk); ``grep -r`` over every tag
file of a 1,000-photo subset (scaled to N; ``--grep-all``: of every photo), first and warm,
and over a plain copy of the same files (the kernel's own time, the floor of the warm grep);
photo reads through the mount against direct reads (1,000 photos, warm); the same greps and
reads through a read-only mount of the library (the kernel opens files without asking); the
daemon's peak
RSS (VmHWM, largest of the mounts); the index's size.  ExifTool ``-Make -r`` and ``-a -r``
run on a 1,000-photo subset of the same library, and are scaled to N.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_mount import mounted  # noqa: E402

from metafs.mount import daemon_pid  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
PER_FOLDER = 100
SUBSET = 1000
Row = tuple[str, float | None, str]


def templates(tmp: Path) -> list[Path]:
    """Small corpus JPEGs with EXIF (a Make), each with XMP (added when missing)."""
    out = tmp / "templates"
    out.mkdir()
    with open(CORPUS / "inventory.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    picked = [r for r in rows if r["FileType"] == "JPEG" and r["Make"]
              and int(r["size_bytes"]) < 400_000]
    need_xmp = []
    for i, r in enumerate(picked):
        dst = out / f"t{i:03d}.jpg"
        shutil.copyfile(CORPUS / r["path"], dst)
        if r["has_xmp"] != "yes":
            need_xmp.append(str(dst))
    if need_xmp:
        subprocess.run(["exiftool", "-q", "-q", "-m", "-overwrite_original",
                        "-XMP-dc:Title=Scale bench", "-XMP-dc:Subject=library",
                        "-XMP-xmp:Rating=3", *need_xmp], capture_output=True)
    return sorted(out.glob("t*.jpg"))


def make_library(src: Path, n: int, kinds: list[Path]) -> None:
    datas = [k.read_bytes() for k in kinds]
    for i in range(n):
        folder = src / f"d{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"p{i % PER_FOLDER:03d}.jpg").write_bytes(datas[i % len(datas)])


def _sh(cmd: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True)
    t = time.perf_counter() - t0
    if res.returncode not in (0, 1):  # grep: 1 is "nothing matched"
        raise RuntimeError(f"{cmd!r} in {cwd} failed ({res.returncode}): {res.stderr[-300:]}")
    return t


def _hwm(mnt: Path) -> int:
    pid = daemon_pid(str(mnt))
    if pid is None:
        return 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _status_line(mnt: Path, head: str) -> str:
    text = (mnt / ".metafs" / "status").read_text()
    return next((x for x in text.splitlines() if x.startswith(head)), "")


SAY = functools.partial(print, flush=True)  # progress lines as they come (a long run)


def run(n: int, grep_all: bool = False, say=SAY) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale."))
    try:
        src, mnt = tmp / "src", tmp / "mnt"
        mnt.mkdir()
        kinds = templates(tmp)
        make_library(src, n, kinds)
        say(f"library: {n} photos from {len(kinds)} corpus JPEGs in {tmp}")
        return _Run(src, mnt, n, say).all(grep_all)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Run:
    """The timings of one library, in the order of the table."""

    def __init__(self, src: Path, mnt: Path, n: int, say) -> None:
        self.src, self.mnt, self.n, self.say = src, mnt, n, say
        self.sub_n = min(n, SUBSET)
        self.subset = [f"d{i:04d}" for i in range(self.sub_n // PER_FOLDER)]
        self.scale = n / self.sub_n
        self.rows: list[Row] = []
        self.peak = 0  # the daemon's peak RSS, largest of the mounts
        self.et = self.et_all = 0.0  # ExifTool's times, scaled to n

    def all(self, grep_all: bool) -> list[Row]:
        self.exiftool()
        with self.mount("new library"):
            self.cat_make("first walk")
            self.cat_make("second walk")
            self.say(_status_line(self.mnt, "index:"))
            self.peak = max(self.peak, _hwm(self.mnt))
        with self.mount("indexed library"):
            self.cat_make("after remount")
            self.say(_status_line(self.mnt, "index:"))
            self.grep(grep_all)
            self.read_photos()
            self.peak = max(self.peak, _hwm(self.mnt))
            self.say(_status_line(self.mnt, "requests:"))
        # A read-only mount: the kernel opens files without asking (no OPEN at all)
        with self.mount("read-only", "--read-only"):
            self.grep(grep_all, ", read-only mount", plain=False)
            self.read_photos(", read-only mount")
            self.peak = max(self.peak, _hwm(self.mnt))
        index = self.src / ".originals" / ".journal" / "index.sqlite"
        size = sum(os.path.getsize(f"{index}{s}") for s in ("", "-wal")
                   if os.path.exists(f"{index}{s}"))
        self.rows.append(("daemon peak RSS (MiB)", self.peak / 2**20, ""))
        self.rows.append(("index size per 1,000 photos (MB)", size / 1e6 / self.n * 1000, ""))
        return self.rows

    def exiftool(self) -> None:
        subset, what = " ".join(self.subset), f"{self.sub_n} scaled to {self.n}"
        _sh(f"exiftool -Make -r {subset} > /dev/null", self.src)  # untimed: warms the cache
        # the best of two runs: the machine may be busy with something else
        self.et = min(_sh(f"exiftool -Make -r {subset} > /dev/null", self.src)
                      for _ in range(2)) * self.scale
        self.rows.append((f"exiftool -Make -r ({what})", self.et, "reference"))
        self.et_all = min(_sh(f"exiftool -a -r {subset} > /dev/null", self.src)
                          for _ in range(2)) * self.scale
        self.rows.append((f"exiftool -a -r ({what})", self.et_all, "reference for grep"))

    @contextlib.contextmanager
    def mount(self, library: str, *extra: str) -> Iterator[None]:
        t0 = time.perf_counter()
        with mounted(self.src, self.mnt, 300, *extra):
            self.rows.append((f"mount ready ({library})", time.perf_counter() - t0, ""))
            yield

    def cat_make(self, walk: str) -> None:
        # `cat */*.meta/Make`, through xargs: 100,000 names are more than one command takes
        t = _sh("printf '%s\\0' */*.meta/Make | xargs -0 cat > /dev/null", self.mnt)
        self.rows.append((f"cat */*.meta/Make, {walk}", t, _vs(self.et, t)))
        self.say(self.rows[-1])

    def grep(self, grep_all: bool, where: str = "", plain: bool = True) -> None:
        """Every tag file of the subset's photos (about 100 a photo), scaled to N as
        ExifTool's figure is; ``grep_all``: of the whole library."""
        metas = "*/*.meta" if grep_all else " ".join(f"{d}/*.meta" for d in self.subset)
        what = f"{self.n}" if grep_all else f"{self.sub_n} scaled to {self.n}"
        times = [_sh(f"grep -r -l 'no such text anywhere' {metas} > /dev/null", self.mnt)
                 * (1 if grep_all else self.scale) for _ in range(2)]
        self.rows.append((f"grep -r every tag file, first ({what}){where}", times[0],
                          _vs(self.et_all, times[0])))
        self.rows.append((f"grep -r every tag file, warm ({what}){where}", times[1],
                          _vs(self.et_all, times[1])))
        self.say(self.rows[-1])
        if plain:
            self.grep_plain(metas, what, 1 if grep_all else self.scale)

    def grep_plain(self, metas: str, what: str, scale: float) -> None:
        """The same tag files copied to a plain folder beside SOURCE: what the kernel alone
        costs (the floor of the warm grep through the mount)."""
        plain = self.src.parent / "plain"
        plain.mkdir()
        _sh(f"cp -r --parents {metas} {plain}", self.mnt)
        cmd = f"grep -r -l 'no such text anywhere' {metas} > /dev/null"
        _sh(cmd, plain)
        t = min(_sh(cmd, plain) for _ in range(2)) * scale
        self.rows.append((f"grep -r the same files in a plain folder ({what})", t,
                          "the kernel alone"))
        shutil.rmtree(plain, ignore_errors=True)

    def read_photos(self, where: str = "") -> None:
        """The subset's photos read directly and through the mount, warm."""
        cmd = "cat " + " ".join(f"{d}/*.jpg" for d in self.subset) + " > /dev/null"
        _sh(cmd, self.src)
        direct = min(_sh(cmd, self.src) for _ in range(3))
        _sh(cmd, self.mnt)
        through = min(_sh(cmd, self.mnt) for _ in range(3))
        self.rows.append((f"read {self.sub_n} photos directly (warm)", direct, ""))
        self.rows.append((f"read {self.sub_n} photos through the mount (warm){where}", through,
                          f"{through / direct:.1f}x direct"))


def _vs(ref: float, t: float) -> str:
    return f"{ref / t:.1f}x faster than exiftool" if t else ""


def print_rows(rows: list[Row], n: int) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\n## scale: {n} photos through the mount\n")
    print(f"| {'what':<{width}} | {'value':>9} | note |")
    print(f"| {'-' * width} | {'-' * 9} | ---- |")
    for label, v, note in rows:
        print(f"| {label:<{width}} | {'n/a' if v is None else f'{v:9.3f}'} | {note} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-N", "--photos", type=int, default=20_000)
    p.add_argument("--grep-all", action="store_true",
                   help="grep every tag file of the whole library (long), not of 1,000 photos")
    a = p.parse_args(argv)
    rows = run(a.photos, a.grep_all)
    print_rows(rows, a.photos)
    return 0


if __name__ == "__main__":
    sys.exit(main())
