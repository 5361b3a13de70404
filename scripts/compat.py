#!/usr/bin/env python3
"""Read-compatibility figures vs ExifTool over a directory (default: ../shared/corpus).

    scripts/compat.py [--group ExifIFD] [--show 40] [--cli] [DIR]

In-process by default (fast to iterate); ``--cli`` goes through ``metafs read --json -G``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.exiftool_compat import compare, corpus_files, exiftool_json, load_json  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--group")
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--cli", action="store_true")
    args = ap.parse_args()
    os.chdir(args.dir)
    files = [str(p.relative_to(".")) for p in corpus_files(Path("."))]
    ref = exiftool_json(files)
    ours: dict[str, dict] = {}
    if args.cli:
        out = subprocess.run(
            [str(ROOT / ".venv/bin/metafs"), "read", "--json", "-G", *files],
            capture_output=True, text=True, check=False,
        ).stdout
        ours = {d["SourceFile"]: d for d in load_json(out)}
    else:
        import engine

        for f in files:
            try:
                ours[f] = engine.read_metadata(f).to_json(exiftool_keys=True)
            except engine.EngineError:
                ours[f] = {}
    print(compare(ref, ours, files).report(args.show, args.group))
    return 0


if __name__ == "__main__":
    sys.exit(main())
