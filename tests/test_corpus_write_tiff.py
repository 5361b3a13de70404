"""Issue 4, "Done when" 1: write two tags to a copy of every TIFF, DNG and TIFF-based RAW file of
the corpus with the CLI and let ExifTool judge the result (tests/support/write_compat.py, the
judge of scripts/write_survey.py; image data compared by tests/support/tiff_compare.py: every
strip, tile and JPEG range, and the pixels Pillow decodes).  Files that are not TIFF inside
(X3F) and BigTIFF must be refused with one clear line and left byte-identical; RAF, MRW and
CR3 are written by containers of their own.
"""

from __future__ import annotations

import csv
import shutil
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.write_compat import Outcome, write_and_judge  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
METAFS = REPO / ".venv" / "bin" / "metafs"
# ExifTool's FileType strings (inventory.tsv) of the files written through the TIFF writer.
TIFF_TYPES = {"TIFF", "DNG", "CR2", "NEF", "ARW", "ORF", "RW2", "RAW", "IIQ", "PEF", "SRW",
              "ERF", "3FR", "NRW", "BTF"}
# RAW files that are not a TIFF at the top level: refused, or written by a container of
# their own (engine.containers.raf, mrw and cr3_write: the JPEG and TIFF writers inside, issue
# 16).
REFUSED_TYPES = {"X3F"}
OTHER_WRITTEN = {"RAF", "MRW", "CR3"}
SETS = {"Artist": "metafs test", "xmp/dc:title": "Hello metafs"}
EXPECT = {"IFD0:Artist": "metafs test", "XMP-dc:Title": "Hello metafs"}
ALLOWED = {"XMP-dc:Creator", "IPTC:By-line", "IPTC:ObjectName", "Photoshop:IPTCDigest"}
EXIFTOOL_CLEAN = 19  # ExifTool's own score on this test (it damages 1; exiv2: 20 and 8)

pytestmark = [
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus absent: {CORPUS}"),
    pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed"),
]


def corpus_files(types: set[str]) -> list[tuple[str, Path]]:
    with open(CORPUS / "inventory.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [(r["FileType"], CORPUS / r["path"]) for r in rows if r["FileType"] in types]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Outcome]]:
    work = tmp_path_factory.mktemp("corpus_write_tiff")
    files = corpus_files(TIFF_TYPES | REFUSED_TYPES | OTHER_WRITTEN)

    def one(item: tuple[int, tuple[str, Path]]) -> tuple[str, Outcome]:
        i, (kind, src) = item
        return kind, write_and_judge(src, work / str(i), str(METAFS), SETS, EXPECT, ALLOWED)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, enumerate(files)))


def figures(outcomes: list[tuple[str, Outcome]]) -> str:
    tiff = [o for k, o in outcomes if k in TIFF_TYPES]
    c = Counter(o.status for o in tiff)
    others = Counter(o.status for k, o in outcomes if k in REFUSED_TYPES)
    own = Counter(o.status for k, o in outcomes if k in OTHER_WRITTEN)
    return (f"corpus TIFF/RAW write: {len(tiff)} files: clean {c['clean']}, refused "
            f"{c['refused']}, damaged {c['damaged']}, unclear {c['error']} (ExifTool: clean "
            f"{EXIFTOOL_CLEAN}, damaged 1); RAF/MRW/CR3: {dict(own)}; X3F: {dict(others)}")


def listing(outcomes: list[tuple[str, Outcome]], *statuses: str) -> str:
    return "\n".join(f"  {o.status:8} {k:5} {o.file}: {o.detail[:300]}"
                     for k, o in outcomes if o.status in statuses)


def test_figures(outcomes, record_property) -> None:
    record_property("summary", figures(outcomes))
    assert len([1 for k, _ in outcomes if k in TIFF_TYPES]) >= 30


def test_no_file_damaged(outcomes) -> None:
    assert not any(o.status == "damaged" for _, o in outcomes), (
        f"{figures(outcomes)}\n{listing(outcomes, 'damaged')}")


def test_refusals_are_one_clear_line(outcomes) -> None:
    assert not any(o.status == "error" for _, o in outcomes), (
        f"{figures(outcomes)}\n{listing(outcomes, 'error')}")
    for _, o in outcomes:
        if o.status == "refused":
            assert o.detail.startswith("metafs: write failed: "), o
            assert "internal error" not in o.detail, o


def test_non_tiff_raw_and_bigtiff_refused(outcomes) -> None:
    for kind, o in outcomes:
        if kind in REFUSED_TYPES or kind == "BTF":
            assert o.status == "refused", (kind, o)


def test_raf_mrw_and_cr3_written_cleanly(outcomes) -> None:
    written = [(kind, o) for kind, o in outcomes if kind in OTHER_WRITTEN]
    assert written and all(o.status == "clean" for _, o in written), written


def test_clean_count_beats_exiftool(outcomes) -> None:
    clean = sum(o.status == "clean" for k, o in outcomes if k in TIFF_TYPES)
    assert clean > EXIFTOOL_CLEAN, f"{figures(outcomes)}\n{listing(outcomes, 'refused')}"
