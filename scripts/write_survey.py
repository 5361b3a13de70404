#!/usr/bin/env python3
"""Write survey: write two tags to a copy of every corpus file of some types and judge the result
with ExifTool (the same judge as tests/test_corpus_write.py).

    scripts/write_survey.py [--types JPEG,MPO] [--show 30]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.write_compat import write_and_judge  # noqa: E402

SETS = {"Artist": "metafs test", "xmp/dc:title": "Hello metafs"}
EXPECT = {"IFD0:Artist": "metafs test", "XMP-dc:Title": "Hello metafs"}
ALLOWED = {"XMP-dc:Creator", "IPTC:By-line", "IPTC:ObjectName", "Photoshop:IPTCDigest"}


def corpus_by_type(corpus: Path, types: set[str]) -> list[Path]:
    with open(corpus / "inventory.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [corpus / r["path"] for r in rows if r["FileType"] in types]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--types", default="JPEG")
    ap.add_argument("--show", type=int, default=30)
    args = ap.parse_args()
    corpus = ROOT.parent / "shared" / "corpus"
    files = corpus_by_type(corpus, set(args.types.split(",")))
    metafs = str(ROOT / ".venv" / "bin" / "metafs")
    with tempfile.TemporaryDirectory() as tmp:
        def one(ix_f):
            ix, f = ix_f
            return write_and_judge(f, Path(tmp) / str(ix), metafs, SETS, EXPECT, ALLOWED)

        with ThreadPoolExecutor(2) as ex:
            outcomes = list(ex.map(one, enumerate(files)))
    counts = Counter(o.status for o in outcomes)
    print(f"{len(files)} files: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for o in outcomes:
        if o.status != "clean":
            print(f"  {o.status:8} {o.file}: {o.detail[:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
