"""Judge a write the way the corpus test does: ExifTool reads the result, diffs it with the
original, and every difference must be one we asked for (or an offset that had to move)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

IGNORED_GROUPS = ("System", "File", "ExifTool", "Composite", "SourceFile")
# Pointers and offsets ExifTool prints as values; they may move with a rewrite.
OFFSET_RE = re.compile(r"(Offset|Offsets|Start|ByteCounts?|Pointer|IFD|Length)$")


@dataclass
class Outcome:
    file: str
    status: str  # clean | refused | damaged | error
    detail: str = ""


def exiftool_all(path: Path) -> dict:
    out = subprocess.run(["exiftool", "-j", "-G1", "-a", "-u", str(path)],
                         capture_output=True, text=True, check=False).stdout
    return json.loads(out)[0] if out.strip() else {}


def warnings_of(d: dict) -> set[str]:
    return {str(v) for k, v in d.items() if k.startswith("ExifTool:") and "Warning" in k}


def diff(before: dict, after: dict, allowed: set[str]) -> list[str]:
    bad = []
    for k in sorted(set(before) | set(after)):
        group, _, name = k.partition(":")
        if group in IGNORED_GROUPS or not name:
            continue
        if before.get(k) == after.get(k) or k in allowed:
            continue
        if OFFSET_RE.search(name) and k in before and k in after:
            continue
        bad.append(f"{k}: {str(before.get(k))[:50]!r} -> {str(after.get(k))[:50]!r}")
    return bad


def image_tail(path: Path) -> bytes:
    """JPEG: the bytes from the first SOS on (scan data and trailers); TIFF: a digest of every
    strip/tile/preview range and of the decoded pixels (tests/tiff_compare.py)."""
    from engine.formats.jpeg import parse_jpeg

    data = path.read_bytes()
    if data[:2] in (b"II", b"MM"):
        from tiff_compare import tiff_digest

        return tiff_digest(data)
    return data[parse_jpeg(data).tail_offset :]


def write_and_judge(src: Path, work: Path, metafs: str, sets: dict[str, str],
                    expect: dict[str, str], allowed: set[str], tail=image_tail) -> Outcome:
    work.mkdir(parents=True, exist_ok=True)
    dst = work / src.name
    shutil.copyfile(src, dst)
    original = src.read_bytes()
    args = [metafs, "write", str(dst)]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        if dst.read_bytes() != original:
            return Outcome(src.name, "damaged", "refused but the file changed")
        msg = r.stderr.strip()
        if not msg or "Traceback" in msg or len(msg.splitlines()) != 1:
            return Outcome(src.name, "error", f"unclear refusal: {msg[-300:]}")
        return Outcome(src.name, "refused", msg)
    before, after = exiftool_all(src), exiftool_all(dst)
    problems = diff(before, after, allowed | set(expect))
    new_warn = warnings_of(after) - warnings_of(before)
    if new_warn:
        problems.append(f"new ExifTool warning: {sorted(new_warn)}")
    for k, v in expect.items():
        if str(after.get(k)) != v:
            problems.append(f"{k} reads back as {after.get(k)!r}, expected {v!r}")
    backup = work / ".originals" / src.name
    if not backup.exists() or backup.read_bytes() != original:
        problems.append("backup missing or not the original")
    try:
        if tail(src) != tail(dst):
            problems.append("image data changed")
    except Exception as e:  # noqa: BLE001 - judged, not hidden
        problems.append(f"cannot compare image data: {e}")
    if problems:
        return Outcome(src.name, "damaged", "; ".join(problems[:5]))
    return Outcome(src.name, "clean")
