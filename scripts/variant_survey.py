#!/usr/bin/env python3
"""Files nobody here has seen (issue 16): make variants the corpus does not have
(scripts/variant_makers.py: ExifTool and Pillow write them into a temporary folder), then
write a one-tag edit and a delete to each with metafs and with ExifTool, and judge both
results the same way (tests/support/write_compat.py: ExifTool reads the result, every change
must be one asked for, no new warning, the image data kept).

    .venv/bin/python scripts/variant_survey.py [--only NAME_PART] [--show 40] [--keep DIR]

Prints per format family, for each tool and each operation, how many writes were clean,
refused or damaged (``error``: an unclear refusal), then every write that was not clean.
Nothing is committed: the variants live in a temporary folder (``--keep``: in DIR).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from support.write_compat import (  # noqa: E402
    conversion_allowed,
    exiftool_all,
    image_tail,
    problems_of_write,
)
from variant_makers import makers, shared_inputs  # noqa: E402

SET = ("Artist", "metafs test", "IFD0:Artist")  # metafs path, value, ExifTool's tag
# What to delete: the first of these the variant has (ExifTool tag, metafs path)
DELETES = (("IFD0:Software", "Software"), ("ExifIFD:DateTimeOriginal", "DateTimeOriginal"),
           ("XMP-dc:Title", "xmp/dc:title"))
# metafs keeps EXIF, XMP and IPTC copies of a value in step; ExifTool rewrites its toolkit
# name into an XMP packet it edits
ALLOWED = {"XMP-dc:Creator", "IPTC:By-line", "IPTC:ObjectName", "Photoshop:IPTCDigest",
           "XMP-x:XMPToolkit", "XMP-exif:DateTimeOriginal", "XMP-photoshop:DateCreated"}
# The tags a writer adds with a new IFD0 or ExifIFD (ExifTool's "mandatory" tags)
MANDATORY = {"IFD0:XResolution", "IFD0:YResolution", "IFD0:ResolutionUnit",
             "IFD0:YCbCrPositioning", "ExifIFD:ExifVersion", "ExifIFD:ComponentsConfiguration",
             "ExifIFD:FlashpixVersion", "ExifIFD:ColorSpace"}
METAFS = str(ROOT / ".venv" / "bin" / "metafs")


def tail_of(path: Path) -> bytes:
    """image_tail, or for the containers it does not know (EXV, CR3's own boxes...) the whole
    file's image-bearing bytes cannot be told: compare nothing there."""
    try:
        return image_tail(path)
    except Exception:  # noqa: BLE001 - an unknown container: no image data to compare
        return b""


def run_tool(tool: str, dst: Path, op: tuple[str, str, str | None]) -> subprocess.CompletedProcess:
    tag, path, value = op
    if tool == "metafs":
        args = [METAFS, "write", str(dst)] + (
            ["--delete", path] if value is None else ["--set", f"{path}={value}"])
    else:
        (dst.parent / ".originals").mkdir(exist_ok=True)  # the judge looks for a backup
        shutil.copyfile(dst, dst.parent / ".originals" / dst.name)
        args = ["exiftool", "-overwrite_original", f"-{tag}={value or ''}", str(dst)]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def judge(tool: str, src: Path, before: dict, work: Path,
          op: tuple[str, str, str | None]) -> tuple[str, str]:
    """(status, detail) of one write of ``src`` by ``tool``."""
    work.mkdir(parents=True)
    dst = work / src.name
    shutil.copyfile(src, dst)
    original = src.read_bytes()
    r = run_tool(tool, dst, op)
    said = (r.stderr + r.stdout).strip().replace("\n", " | ")
    if r.returncode != 0 or dst.read_bytes() == original:
        if dst.read_bytes() != original:
            return "damaged", f"refused but the file changed: {said[-200:]}"
        if tool == "metafs" and ("Traceback" in said or "internal error" in said):
            return "error", said[-300:]
        return "refused", said[-300:]
    after = exiftool_all(dst)
    tag, _, value = op
    # mandatory tags come with a new IFD, and go with the last tag deleted from one
    mandatory = {k for k in MANDATORY if k not in before or (value is None and k not in after)}
    allowed = ALLOWED | conversion_allowed(before, after) | mandatory | dropped(before, after)
    expect = {} if value is None else {tag: value}
    problems = problems_of_write(src, dst, before, after, expect, allowed | {tag}, tail_of)
    if value is None and tag in after:
        problems.append(f"{tag} still there after deleting it")
    return ("damaged", "; ".join(problems[:4])) if problems else ("clean", "")


def dropped(before: dict, after: dict) -> set[str]:
    """A delete that empties a WebP's EXIF or XMP chunk removes it, and its VP8X flag."""
    old, new = ({f for f in str(d.get("RIFF:WebP_Flags", "")).split(", ") if f}
                for d in (before, after))
    return {"RIFF:WebP_Flags"} if new <= old and old - new <= {"EXIF", "XMP"} else set()


def ops_for(before: dict) -> list[tuple[str, str, str | None]]:
    ops: list[tuple[str, str, str | None]] = [(SET[2], SET[0], SET[1])]
    gone = next(((t, p) for t, p in DELETES if t in before), None)
    if gone is not None:
        ops.append((gone[0], gone[1], None))
    return ops


def make_all(folder: Path, only: str | None) -> list[tuple[str, Path]]:
    """Every variant made (family, path); a maker that fails is said and skipped."""
    src = folder / "inputs"
    shared_inputs(src)
    out = []
    for family, name, make in makers():
        if only and only not in name:
            continue
        d = folder / "variants" / family
        d.mkdir(parents=True, exist_ok=True)
        ext = {"JPEG": "jpg", "HEIF": "heic" if "heic" in name else "avif"}.get(
            family, family.lower())
        p = d / f"{name}.{ext}"
        try:
            make(src, p)
        except Exception as e:  # noqa: BLE001 - said, the survey goes on
            print(f"  could not make {family} {name}: {e}", file=sys.stderr)
            continue
        out.append((family, p))
    return out


def survey(folder: Path, only: str | None) -> list[tuple[str, str, str, str, str, str]]:
    variants = make_all(folder, only)
    jobs = []
    for family, p in variants:
        before = exiftool_all(p)
        for op in ops_for(before):
            kind = "set" if op[2] is not None else "delete"
            for tool in ("metafs", "exiftool"):
                jobs.append((family, p, before, op, kind, tool))

    def one(ix_job):
        ix, (family, p, before, op, kind, tool) = ix_job
        status, detail = judge(tool, p, before, folder / "work" / str(ix), op)
        return family, p.name, kind, tool, status, detail

    with ThreadPoolExecutor(2) as ex:
        return list(ex.map(one, enumerate(jobs)))


def report(results, show: int) -> None:
    counts: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    files: dict[str, set[str]] = defaultdict(set)
    for family, name, kind, tool, status, _ in results:
        counts[family, kind, tool][status] += 1
        files[family].add(name)
    print(f"{'family':8} {'files':>5} {'op':6}  metafs clean/refused/damaged/error"
          "   exiftool clean/refused/damaged/error")
    for family in sorted(files):
        for kind in ("set", "delete"):
            row = [counts[family, kind, t] for t in ("metafs", "exiftool")]
            if not any(row):
                continue
            cells = ["/".join(str(c[s]) for s in ("clean", "refused", "damaged", "error"))
                     for c in row]
            print(f"{family:8} {len(files[family]):5} {kind:6}  {cells[0]:>32}   {cells[1]:>34}")
    total = Counter((tool, status) for *_, tool, status, _ in results)
    print("total: " + ", ".join(f"{t} {s} {n}" for (t, s), n in sorted(total.items())))
    shown = 0
    for family, name, kind, tool, status, detail in sorted(results):
        if status != "clean" and shown < show:
            print(f"  {tool:8} {status:8} {family}/{name} {kind}: {detail[:260]}")
            shown += 1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="only the variants whose name contains this")
    ap.add_argument("--show", type=int, default=60)
    ap.add_argument("--keep", type=Path, help="make the variants in this folder, kept")
    args = ap.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        report(survey(args.keep, args.only), args.show)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        report(survey(Path(tmp), args.only), args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
