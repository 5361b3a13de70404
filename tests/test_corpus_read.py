"""Issue 2's bar: `metafs read --json -G` agrees with `exiftool -j -G1 -a` over the corpus,
and no corpus file makes the reader raise anything but an EngineError or take over a second."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import EngineError, read_metadata

sys.path.insert(0, str(Path(__file__).parent))
from support.exiftool_compat import compare, corpus_files, exiftool_json, load_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
METAFS = REPO / ".venv" / "bin" / "metafs"

PRESENT_MIN, EXACT_MIN = 0.98, 0.97


def test_read_compat_with_exiftool(corpus_dir: Path, monkeypatch, record_property) -> None:
    monkeypatch.chdir(corpus_dir)
    files = [str(p) for p in corpus_files(Path("."))]
    ref = exiftool_json(files)
    metafs = str(METAFS) if METAFS.exists() else "metafs"
    out = subprocess.run([metafs, "read", "--json", "-G1", *files],
                         capture_output=True, text=True, check=False, env=os.environ).stdout
    ours = {d["SourceFile"]: d for d in load_json(out)}
    figures = compare(ref, ours, files)
    report = figures.report(show=10)
    record_property("summary", "corpus read compat vs exiftool -j -G1 -a:\n"
                    + figures.report(show=0))
    present, exact = figures.ratio(figures.present), figures.ratio(figures.exact)
    assert present >= PRESENT_MIN and exact >= EXACT_MIN, report


def test_every_corpus_file_reads_quickly_or_fails_cleanly(corpus_dir: Path) -> None:
    slow = []
    for f in corpus_files(corpus_dir):
        t0 = time.perf_counter()
        try:
            read_metadata(f)
        except EngineError:
            pass
        dt = time.perf_counter() - t0
        if dt > 1.0:
            slow.append((f.name, round(dt, 2)))
    assert slow == []


def test_unsupported_and_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(EngineError, match="empty.jpg: empty file"):
        read_metadata(empty)
    text = tmp_path / "notes.jpg"
    text.write_bytes(b"just some text, not an image" * 4)
    with pytest.raises(EngineError, match="not an image format metafs can read"):
        read_metadata(text)
