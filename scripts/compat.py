#!/usr/bin/env python3
"""Read-compatibility figures vs ExifTool over a directory (default: ../shared/corpus).

    scripts/compat.py [--group ExifIFD] [--show 40] [--cli] [--family1] [-n] [DIR]
    scripts/compat.py --json-diff [--keys G0|G1] [--show 20] [-n] [DIR]

``-n``: the unconverted values (``metafs read -n`` against ``exiftool -n``).

Figures: every group ExifTool shows (``exiftool -j -a -G0:1``, its own ExifTool group
left out), per family-0 group (``--family1``: per family-1 group, XMP-* as one): the share
of its tags metafs shows (present) and shows with ExifTool's printed value (exact; numbers
compared as ExifTool's text, binary values left out), metafs reading every part
(``read_metadata(parts=ALL_PARTS)``, as ``metafs read -j -a -G1``).  In-process by
default (fast to iterate); ``--cli`` goes through the ``metafs`` command.

``--json-diff``: what a consumer of ``exiftool -j`` sees when given ``metafs read -j -a``
instead (``--keys G0``/``G1``: ``-G``/``-G1`` keys): per group (family 1 with ``G1``, else
family 0), the keys both show
alike, the keys missing, the keys only metafs shows, the values of another JSON type
(number/string/list) and the other values differing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.exiftool_compat import compare, corpus_files, load_json  # noqa: E402
from support.group_compat import (  # noqa: E402
    NOT_PHOTO,
    exiftool,
    metafs_rows,
    split_families,
)


def ours_in_process(files: list[str], keys: str | None, parse=load_json,
                    unconverted: bool = False) -> dict[str, dict]:
    errors: list[str] = []
    rows = metafs_rows(files, keys, parse, errors, unconverted)
    for line in errors:
        print(line, file=sys.stderr)
    return rows


def ours_cli(files: list[str], keys: str | None, parse=load_json,
             unconverted: bool = False) -> dict[str, dict]:
    option = {None: [], "0": ["-G0"], "1": ["-G1"]}[keys] + (["-n"] if unconverted else [])
    out = subprocess.run([str(ROOT / ".venv/bin/metafs"), "read", "-j", "-a", *option, *files],
                         capture_output=True, text=True, check=False).stdout
    return {d["SourceFile"]: d for d in parse(out)}


def figures(args: argparse.Namespace, files: list[str]) -> str:
    n = ["-n"] if args.unconverted else []
    ref, family0 = split_families(exiftool(files, "-a", "-G0:1", *n))
    ours = (ours_cli if args.cli else ours_in_process)(files, "1",
                                                      unconverted=args.unconverted)

    def by_family0(group: str) -> str:
        return family0.get(group, group)

    def by_family1(group: str) -> str:
        return "XMP" if group.startswith("XMP-") else group

    def scope(group: str) -> bool:
        return by_family0(group) not in NOT_PHOTO

    fig = compare(ref, ours, files, scope=scope,
                  family=by_family1 if args.family1 else by_family0)
    return fig.report(args.show, args.group)


def kind(value: object) -> str:
    return {bool: "boolean", int: "number", float: "number", list: "list"}.get(
        type(value), "string")


def json_diff(args: argparse.Namespace, files: list[str]) -> str:
    """Per family-0 group: how ``metafs read -j -a`` differs from ``exiftool -j``."""
    keys = {"plain": None, "G0": "0", "G1": "1"}[args.keys]
    option = {None: [], "0": ["-G0"], "1": ["-G1"]}[keys] + (["-n"] if args.unconverted else [])
    ref = exiftool(files, *option, parse=json.loads)
    ours = (ours_cli if args.cli else ours_in_process)(files, keys, parse=json.loads,
                                                      unconverted=args.unconverted)
    groups = exiftool(files, "-a", "-G0", parse=json.loads) if keys is None else {}
    counts: dict[str, Counter] = {}
    samples: list[str] = []
    for name in files:
        theirs, mine = ref.get(name, {}), ours.get(name, {})
        for key in sorted(set(theirs) | set(mine)):
            if key == "SourceFile":
                continue
            group = _group_of(key, groups.get(name, {}), theirs, mine)
            if group in NOT_PHOTO:
                continue
            what = _difference(theirs, mine, key)
            counts.setdefault(group, Counter())[what] += 1
            if what != "same" and (args.group is None or group.startswith(args.group)):
                samples.append(f"  {what:<8} {name}  {key}: exiftool "
                               f"{json.dumps(theirs.get(key))[:60]} metafs "
                               f"{json.dumps(mine.get(key))[:60]}")
    columns = ("same", "missing", "extra", "type", "value")
    lines = [f"{'group':<14}" + "".join(f"{c:>9}" for c in columns)]
    total: Counter = Counter()
    for group in sorted(counts):
        total.update(counts[group])
        lines.append(f"{group:<14}" + "".join(f"{counts[group][c]:>9}" for c in columns))
    lines.append(f"{'all':<14}" + "".join(f"{total[c]:>9}" for c in columns))
    return "\n".join(lines + samples[:args.show])


def _group_of(key: str, grouped: dict, theirs: dict, mine: dict) -> str:
    """The family-0 group of a key: its own (``-G``), else the group ExifTool shows the
    value of this name in (the first group holding that value, else the first group)."""
    if ":" in key:
        return key.split(":", 1)[0]
    value = theirs.get(key, mine.get(key))
    found = [k.split(":", 1)[0] for k in grouped if k.split(":", 1)[-1] == key]
    same = [k.split(":", 1)[0] for k in grouped
            if k.split(":", 1)[-1] == key and grouped[k] == value]
    return (same or found or ["(metafs only)"])[0]


def _difference(theirs: dict, mine: dict, key: str) -> str:
    if key not in mine:
        return "missing"
    if key not in theirs:
        return "extra"
    a, b = theirs[key], mine[key]
    if a == b and kind(a) == kind(b):
        return "same"
    return "type" if kind(a) != kind(b) and str(a) == str(b) else (
        "type" if kind(a) != kind(b) and _as_text(a) == _as_text(b) else "value")


def _as_text(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--group", help="--show only this group's tags (a prefix)")
    ap.add_argument("--show", type=int, default=0, help="show N differing tags")
    ap.add_argument("--cli", action="store_true", help="through the metafs command")
    ap.add_argument("--family1", action="store_true", help="figures per family-1 group")
    ap.add_argument("-n", action="store_true", dest="unconverted",
                    help="unconverted values: metafs read -n against exiftool -n")
    ap.add_argument("--json-diff", action="store_true",
                    help="differences from exiftool -j, as a consumer sees them")
    ap.add_argument("--keys", choices=("plain", "G0", "G1"), default="plain",
                    help="--json-diff: the keys compared (-j, -j -G, -j -G1)")
    args = ap.parse_args()
    os.chdir(args.dir)
    files = [str(p.relative_to(".")) for p in corpus_files(Path("."))]
    print(json_diff(args, files) if args.json_diff else figures(args, files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
