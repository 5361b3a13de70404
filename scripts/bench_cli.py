"""``scripts/bench --section cli``: the command line against ExifTool (issue 15).

(d) a one-tag write (Artist, kept in step with dc:creator) to a real camera JPEG with EXIF
    and XMP from the corpus, given a dc:creator and dc:rights: `metafs write` vs
    `exiftool -Artist=`, alternating runs;
(e) a batch over every corpus JPEG ExifTool validates (copied twice to reach 100+ files):
    one `metafs write` process vs one `exiftool` process, both keeping backups (metafs:
    fsync included);
(f) `metafs write --csv` of a 1,000-row spreadsheet onto 1,000 photos (one process).
"""

from __future__ import annotations

import csv
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
EXE = str(ROOT / ".venv" / "bin" / "metafs")


def _inventory() -> list[dict[str, str]]:
    with open(CORPUS / "inventory.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def camera_jpeg_with_xmp() -> Path | None:
    """The largest corpus JPEG with a camera's EXIF (Make) and XMP that ExifTool validates."""
    rows = [r for r in _inventory() if r["FileType"] == "JPEG" and r["has_xmp"] == "yes"
            and r["Make"] and r["validate"] == "OK"]
    rows.sort(key=lambda r: -int(r["size_bytes"]))
    return CORPUS / rows[0]["path"] if rows else None


def batch_jpegs() -> list[Path]:
    return [CORPUS / r["path"] for r in _inventory()
            if r["FileType"] == "JPEG" and r["validate"] == "OK"]


def _env() -> dict[str, str]:
    # As installed: a bytecode cache (kept out of the repository).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "metafs-bench-pycache")
    return env


def _time(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, env=env, check=False)
    return time.perf_counter() - t0


def one_tag(d: Path, src: Path, repeat: int) -> tuple[float, float]:
    mine, theirs = d / "m.jpg", d / "e.jpg"
    shutil.copyfile(src, mine)
    # Artist is kept in step with dc:creator where the photo has one (as a photo a
    # photographer's camera or Lightroom has signed does): give it one, both copies alike.
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Creator=Photographer",
                    "-XMP-dc:Rights=(c) Photographer", str(mine)], check=True)
    os.chmod(mine, 0o644)
    shutil.copyfile(mine, theirs)
    env = _env()
    m, e = [], []
    for i in range(-1, 2 * repeat):  # alternating; the first pair is a warm-up
        tm = _time([EXE, "write", str(mine), "--set", f"Artist=Bench {i}"], env)
        te = _time(["exiftool", "-q", "-overwrite_original", f"-Artist=Bench {i}", str(theirs)])
        if i >= 0:
            m.append(tm)
            e.append(te)
    return statistics.median(m) * 1000, statistics.median(e) * 1000


def batch(d: Path, files: list[Path], repeat: int) -> tuple[float, float, int]:
    env = _env()
    m, e = [], []
    count = 0
    for i in range(repeat):
        for side in ("m", "e"):
            work = d / f"{side}{i}"
            work.mkdir()
            names = []
            for n, f in enumerate(files * 2):
                dst = work / f"{n:04d}{f.suffix}"
                shutil.copyfile(f, dst)
                names.append(str(dst))
            count = len(names)
            if side == "m":
                m.append(_time([EXE, "write", "-q", *names, "--set", "Artist=Batch"], env))
            else:  # keeps FILE_original backups, as metafs keeps .originals/
                e.append(_time(["exiftool", "-q", "-Artist=Batch", *names]))
            shutil.rmtree(work)
    return statistics.median(m), statistics.median(e), count


def csv_import(d: Path, rows: int = 1000) -> float:
    photos = d / "csv"
    photos.mkdir()
    sheet = d / "t.csv"
    with open(sheet, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["SourceFile", "Artist", "xmp/dc:title", "iptc/Keywords"])
        for n in range(rows):
            p = photos / f"{n:04d}.jpg"
            shutil.copyfile(ROOT / "fixtures" / "photo.jpg", p)
            w.writerow([str(p), f"Artist {n}", f"Title {n}", f"k{n}, batch"])
    return _time([EXE, "write", "-q", "--csv", str(sheet), str(photos)], _env())


def run(repeat: int) -> None:
    if shutil.which("exiftool") is None or not CORPUS.is_dir():
        print("\n## cli: n/a (needs exiftool and the corpus)")
        return
    src = camera_jpeg_with_xmp()
    with tempfile.TemporaryDirectory(prefix="metafs-bench-cli-") as tmp:
        d = Path(tmp)
        lines = []
        if src is not None:
            mine, theirs = one_tag(d, src, repeat)
            lines.append((f"(d) write Artist, {src.name} ({src.stat().st_size / 1e6:.1f} MB, "
                          "EXIF+XMP, dc:creator)", f"{mine:.0f} ms", f"{theirs:.0f} ms",
                          f"{theirs / mine:.1f}x", ">= 5x"))
        files = batch_jpegs()
        bm, be, count = batch(d, files, max(1, min(repeat, 3)))
        lines.append((f"(e) batch: {count} corpus JPEGs, one process", f"{bm:.2f} s",
                      f"{be:.2f} s", f"{be / bm:.1f}x", ">= 2x"))
        t = csv_import(d)
        lines.append(("(f) write --csv, 1,000 rows", f"{t:.2f} s", "", "", "(info)"))
    print("\n## cli: the command line vs ExifTool (medians, runs alternating)\n")
    print(f"| {'what':<58} | {'metafs':>8} | {'exiftool':>8} | {'ratio':>6} | target |")
    print(f"| {'-' * 58} | {'-' * 8} | {'-' * 8} | {'-' * 6} | ------ |")
    for what, m, e, r, target in lines:
        print(f"| {what:<58} | {m:>8} | {e:>8} | {r:>6} | {target:<6} |")
