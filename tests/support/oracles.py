"""ExifTool as the outside judge: one process, its JSON as dicts.  (The corpus comparison,
which keeps JSON numbers as their literal text, is ``support.exiftool_compat``.)"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path


def exiftool(path: Path, *args: str, check: bool = True) -> dict:
    """``exiftool -j ARGS PATH`` as a dict.  ``check``: a failing ExifTool raises; without
    it an empty answer is ``{}``."""
    out = subprocess.run(["exiftool", "-j", *args, str(path)], capture_output=True, text=True,
                         check=check).stdout
    return json.loads(out)[0] if check or out.strip() else {}


def exiftool_files(paths: Iterable[Path], *args: str,
                   listfile: Path | None = None) -> dict[str, dict]:
    """``exiftool -j ARGS FILES`` (with ``listfile``: the names passed in it, ``-@``), one
    dict per SourceFile; a failing ExifTool gives what it printed."""
    names = [str(p) for p in paths]
    if listfile is not None:
        listfile.write_text("".join(f"{n}\n" for n in names))
        names = ["-@", str(listfile)]
    out = subprocess.run(["exiftool", "-j", *args, *names], capture_output=True, text=True,
                         check=False).stdout
    return {d.get("SourceFile", ""): d for d in json.loads(out)} if out.strip() else {}


def as_exiftool_json(tags: Iterable, path: str, file_type: str) -> dict:
    """Decoded tags as ``exiftool -j -G1`` shows them (no SourceFile), to compare with it."""
    from engine.model import Metadata

    md = Metadata(path, file_type)
    for t in tags:
        md.add(t)
    out = md.to_json(exiftool_keys=True)
    del out["SourceFile"]
    return out
