"""Every group ExifTool shows, compared with what metafs shows reading every part (shared by
tests/test_corpus_groups.py and scripts/compat.py).

ExifTool's side is ``exiftool -j -a -G0:1`` (keys ``EXIF:IFD0:Make``, or ``File:FileType``
when both families name one group); metafs's is ``metafs read -j -a -G1`` computed in
process (metafs.jsonout), numbers kept as their literal text on both sides.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from support.exiftool_compat import load_json

NOT_PHOTO = ("ExifTool",)  # ExifToolVersion, Warning, Error: about the run, not the file


def exiftool(files: list[str], *options: str, parse: Callable = load_json) -> dict[str, dict]:
    """``exiftool -j OPTIONS FILES``, one dict per SourceFile."""
    out = subprocess.run(["exiftool", "-j", *options, *files], capture_output=True,
                         text=True, check=False).stdout
    return {d["SourceFile"]: d for d in parse(out)} if out.strip() else {}


def split_families(ref01: dict[str, dict]) -> tuple[dict[str, dict], dict[str, str]]:
    """``-G0:1`` keys as ``-G1`` keys, and each family-1 group's family-0 group (the first
    seen: a few family-1 names, FLIR, serve two family-0 groups)."""
    ref1: dict[str, dict] = {}
    family0: dict[str, str] = {}
    for name, d in ref01.items():
        out = ref1[name] = {}
        for key, value in d.items():
            parts = key.split(":")
            if len(parts) == 3:
                family0.setdefault(parts[1], parts[0])
                out[f"{parts[1]}:{parts[2]}"] = value
            else:
                if len(parts) == 2:
                    family0.setdefault(parts[0], parts[0])
                out[key] = value
    return ref1, family0


def metafs_rows(files: list[str], keys: str | None = "1", parse: Callable = load_json,
                errors: list[str] | None = None, unconverted: bool = False) -> dict[str, dict]:
    """``metafs read -j -a`` (``keys``: None, "0" or "1" for -G/-G1; ``unconverted``: -n)
    without the command.  A file whose reading raises shows nothing (``errors`` gets a line
    for it)."""
    import engine
    from metafs.jsonout import dumps, row

    parts = engine.PARTS | frozenset(engine.EXTRA_PARTS)
    rows = []
    for f in files:
        try:
            md = engine.read_metadata(f, parts)
            rows.append(row(engine.unconvert(md) if unconverted else md, keys, system=True,
                            unconverted=unconverted))
        except Exception as e:  # noqa: BLE001 - counted as missing tags, and said
            if errors is not None and not isinstance(e, engine.EngineError):
                errors.append(f"{f}: {type(e).__name__}: {e}")
            rows.append({"SourceFile": json.dumps(f)})
    return {d["SourceFile"]: d for d in parse(dumps(rows))}
