"""Issue 3, "Done when" 1: write two tags to a copy of every corpus JPEG with the CLI and let
ExifTool judge the result (tests/support/write_compat.py is the judge, as in
scripts/write_survey.py).

Fast by batching: two ``metafs write`` processes (half the files each, in a thread pool of 2)
and one ``exiftool -j -G1 -a -u -@ LIST`` per side, instead of three processes per file.  The
outcome is computed once per session and shared by the tests below (under pytest-xdist through
a locked JSON file in the session's shared temporary directory).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.oracles import exiftool_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.write_compat import problems_of_write  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
METAFS = REPO / ".venv" / "bin" / "metafs"
TYPES = {"JPEG", "MPO"}
SETS = {"Artist": "metafs test", "xmp/dc:title": "Hello metafs"}
EXPECT = {"IFD0:Artist": "metafs test", "XMP-dc:Title": "Hello metafs"}
# Synchronised copies that may change with them (changes.SYNC_GROUPS) and the digest of the IIM.
ALLOWED = {"XMP-dc:Creator", "IPTC:By-line", "IPTC:ObjectName", "Photoshop:IPTCDigest"}
# Tags ExifTool itself adds when it creates a directory (its "mandatory" tags): allowed only in
# a file that had no such directory before.
CREATED_WITH = {
    "IFD0": {"IFD0:XResolution", "IFD0:YResolution", "IFD0:ResolutionUnit",
             "IFD0:YCbCrPositioning"},
    "GPS": {"GPS:GPSVersionID"},
    "IPTC": {"IPTC:ApplicationRecordVersion"},
}
EXIFTOOL_CLEAN = 176  # ExifTool's own score on this very test
MIN_CLEAN = EXIFTOOL_CLEAN + 1

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus absent: {CORPUS}")


def corpus_jpegs() -> list[Path]:
    with open(CORPUS / "inventory.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [CORPUS / r["path"] for r in rows if r["FileType"] in TYPES]


def _exiftool(paths: list[Path], listfile: Path) -> dict[str, dict]:
    return exiftool_files(paths, "-G1", "-a", "-u", listfile=listfile)


def _write(copies: list[Path]) -> dict[str, list[str]]:
    """Run ``metafs write`` over ``copies``; returns each copy's stderr lines (absent: none).

    A process that dies (a traceback: an engine bug, not a refusal) is retried file by file so
    the culprit gets the blame, not its neighbours.
    """
    args = [str(METAFS), "write", "-q", *map(str, copies)]  # -q: no summary; errors only
    for k, v in SETS.items():
        args += ["--set", f"{k}={v}"]
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    lines = r.stderr.splitlines()
    if "Traceback" in r.stderr or r.returncode not in (0, 1):
        if len(copies) > 1:
            out: dict[str, list[str]] = {}
            for c in copies:
                out.update(_write([c]))
            return out
        return {str(copies[0]): lines or [f"exit status {r.returncode}"]}
    if r.returncode == 0 and lines:
        return {"?": lines}  # success must be silent
    out = {}
    for line in lines:
        named = [str(c) for c in copies if f" {c}: " in line]
        out.setdefault(named[0] if len(named) == 1 else "?", []).append(line)
    if r.returncode == 1 and not out:
        out["?"] = ["exit status 1 without a message"]
    return out


def _judge(src: Path, dst: Path, before: dict, after: dict, errs: list[str] | None) -> dict:
    original = src.read_bytes()
    outcome = {"file": str(src.relative_to(CORPUS)), "status": "clean", "detail": ""}
    if errs is not None:
        if dst.read_bytes() != original:
            outcome.update(status="damaged", detail=f"refused but the file changed: {errs}")
        elif len(errs) != 1 or "Traceback" in "\n".join(errs) or str(dst) not in errs[0]:
            outcome.update(status="unclear", detail=" | ".join(errs)[-400:])
        else:
            outcome.update(status="refused", detail=errs[0])
        return outcome
    created = {k for g, keys in CREATED_WITH.items()
               if not any(key.startswith(g + ":") for key in before) for k in keys}
    problems = problems_of_write(src, dst, before, after, EXPECT, ALLOWED | created)
    if problems:
        outcome.update(status="damaged", detail="; ".join(problems[:5]))
    return outcome


def run_corpus(work: Path) -> list[dict]:
    files = corpus_jpegs()
    copies = []
    for i, src in enumerate(files):
        d = work / str(i)
        d.mkdir(parents=True)
        copies.append(d / src.name)
        shutil.copyfile(src, copies[-1])
    halves = [copies[0::2], copies[1::2]]
    with ThreadPoolExecutor(2) as pool:
        before_job = pool.submit(_exiftool, files, work / "before.args")
        errs: dict[str, list[str]] = {}
        for part in pool.map(_write, halves):
            errs.update(part)
        written = [c for c in copies if str(c) not in errs]
        after = _exiftool(written, work / "after.args")
        before = before_job.result()
    outcomes = [
        _judge(src, dst, before.get(str(src), {}), after.get(str(dst), {}), errs.get(str(dst)))
        for src, dst in zip(files, copies, strict=True)
    ]
    for line in errs.get("?", []):
        outcomes.append({"file": "?", "status": "unclear", "detail": f"unattributed: {line}"})
    return outcomes


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return run_corpus(tmp_path_factory.mktemp("corpus_write_jpeg"))
    # Several workers may need it: the first computes, the others wait and read.
    shared = tmp_path_factory.getbasetemp().parent
    result = shared / "corpus_write_jpeg.json"
    with open(shared / "corpus_write_jpeg.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            data = run_corpus(tmp_path_factory.mktemp("corpus_write_jpeg"))
            result.write_text(json.dumps(data))
        return json.loads(result.read_text())


def figures(outcomes: list[dict]) -> str:
    counts = Counter(o["status"] for o in outcomes)
    n = sum(1 for o in outcomes if o["file"] != "?")
    return (f"corpus JPEG write: {n} files: clean {counts['clean']}, refused {counts['refused']}, "
            f"damaged {counts['damaged']}, unclear {counts['unclear']} "
            f"(target: clean >= {MIN_CLEAN}, damaged 0)")


def _listing(outcomes: list[dict], *statuses: str) -> str:
    return "\n".join(f"  {o['status']:8} {o['file']}: {o['detail'][:300]}"
                     for o in outcomes if o["status"] in statuses)


def test_every_corpus_jpeg_is_judged(outcomes: list[dict], record_property) -> None:
    record_property("summary", figures(outcomes))
    assert len(corpus_jpegs()) >= 190, figures(outcomes)
    assert {o["status"] for o in outcomes} <= {"clean", "refused", "damaged", "unclear"}


def test_no_file_damaged(outcomes: list[dict]) -> None:
    bad = [o for o in outcomes if o["status"] == "damaged"]
    assert not bad, f"{figures(outcomes)}\n{_listing(outcomes, 'damaged')}"


def test_refusals_are_one_clear_line_and_leave_the_file(outcomes: list[dict]) -> None:
    # "refused" already means: byte-identical, exactly one stderr line naming the file.
    bad = [o for o in outcomes if o["status"] == "unclear"]
    assert not bad, f"{figures(outcomes)}\n{_listing(outcomes, 'unclear')}"
    for o in outcomes:
        if o["status"] == "refused":
            assert o["detail"].startswith("metafs: write failed: "), o
            assert "Traceback" not in o["detail"]


def test_clean_count_beats_exiftool(outcomes: list[dict]) -> None:
    clean = sum(o["status"] == "clean" for o in outcomes)
    assert clean >= MIN_CLEAN, (
        f"{figures(outcomes)}\n{_listing(outcomes, 'refused', 'damaged', 'unclear')}")
