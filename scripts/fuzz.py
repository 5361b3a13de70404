#!/usr/bin/env python3
"""Large fuzz run: mutate corpus files (tests/support/mutants.py), read and write each mutant,
and judge accepted writes with our reader and, with --exiftool, with ExifTool.

    scripts/fuzz.py [--cases 5000] [--seed 1] [--exiftool] [--max-size 3000000] [--show 20]

A mutant is a bug when reading raises something other than EngineError, the write raises
something other than EngineError (or an "internal error" refusal), a refusal leaves the file
changed, a case runs longer than --timeout seconds, or an accepted write reads worse than
before: with our reader, a tag readable before lost or changed, or a new warning; with
ExifTool, a tag lost or changed (file positions aside) or a new warning or error.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.mutants import BUGS, Hang, judge_mutant, mutate  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
CHANGES = [{"Artist": "fuzz"}, {"xmp/dc:title": "fuzz"}]
SUFFIXES = (".jpg", ".jpeg", ".tif", ".tiff", ".png", ".webp", ".heic", ".heif", ".avif",
            ".nef", ".cr2", ".dng", ".arw", ".orf", ".rw2", ".pef")
IGNORED_GROUPS = {"System", "File", "ExifTool", "Composite", "SourceFile"}
# ExifTool tags a write may change besides the ones written (file positions, HEIF's new mdat,
# WebP flags of an added chunk, synchronised copies); and the tags ExifTool's -validate
# requires in a new IFD0 we create (XResolution...) are not asked of us
ET_ALLOWED = {"IFD0:Artist", "XMP-dc:Title", "XMP-dc:Creator", "IPTC:By-line",
              "IPTC:ObjectName", "Photoshop:IPTCDigest", "QuickTime:MediaDataSize",
              "QuickTime:MediaData", "QuickTime:MediaDataOffset", "RIFF:WebP_Flags",
              "XMP-x:XMPToolkit"}


def sources(max_size: int, corpus: Path = CORPUS) -> list[Path]:
    out = [p for p in sorted((ROOT / "fixtures").iterdir()) if p.suffix.lower() in SUFFIXES]
    if (corpus / "inventory.tsv").exists():
        with open(corpus / "inventory.tsv") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                p = corpus / row["path"]
                if int(row["size_bytes"]) <= max_size and p.suffix.lower() in SUFFIXES:
                    out.append(p)
    return out


def _alarm(_sig, _frame):
    raise Hang()


def run(args) -> int:
    rnd = random.Random(args.seed)
    files = sources(args.max_size, Path(args.corpus))
    originals = {p: p.read_bytes() for p in files}
    signal.signal(signal.SIGALRM, _alarm)
    counts: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    accepted: list[tuple[Path, Path, str]] = []
    work = Path(tempfile.mkdtemp(prefix="metafs-fuzz-", dir=args.dir))
    for i in range(args.cases):
        src = rnd.choice(files)
        got = mutate(rnd, originals[src])
        if got is None:
            continue
        what, data = got
        changes = rnd.choice(CHANGES)
        d = work / str(i)
        path = d / src.name
        status, detail = judge_mutant(d, src.name, data, changes, args.timeout)
        counts[status] += 1
        if status in BUGS:
            samples.setdefault(status, []).append(
                f"{src.relative_to(src.parents[1])} [{what}] {changes}: {detail[:160]}")
            (d / "mutant").write_bytes(data)
        if status == "accepted" and args.exiftool:
            before = d / ("before" + src.suffix)
            before.write_bytes(data)
            accepted.append((before, path, next(iter(changes))))
        elif status not in BUGS:
            for p in d.iterdir():
                p.unlink()
            d.rmdir()
    if accepted:
        worse = judge_exiftool(accepted)
        counts["et_worse"] = len(worse)
        samples["et_worse"] = worse
    print(f"{args.cases} cases over {len(files)} files, seed {args.seed}; work dir {work}")
    for k, v in sorted(counts.items()):
        print(f"  {k:16} {v}{'   <- bug' if k in BUGS or k == 'et_worse' else ''}")
    for k, lines in samples.items():
        print(f"{k}: {len(lines)}")
        for line in lines[: args.show]:
            print("   ", line)
    return 1 if any(counts[k] for k in (*BUGS, "et_worse")) else 0


def _exiftool(files: list[Path], batch: int = 200) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for k in range(0, len(files), batch):
        part = files[k : k + batch]
        try:
            r = subprocess.run(["exiftool", "-j", "-G1:4", "-a", "-u", "-all", "-validate",
                                "-warning", *map(str, part)], capture_output=True, text=True,
                               check=False, errors="replace", timeout=30 * len(part),
                               preexec_fn=_limit_memory)
            got = json.loads(r.stdout, strict=False, parse_float=str) if r.stdout.strip() else []
        except (ValueError, subprocess.TimeoutExpired):
            # one file broke the JSON output (or made ExifTool run out of its memory limit or
            # time): read that batch file by file; a file ExifTool cannot read is left out
            if batch > 1:
                out.update(_exiftool(part, 1))
            continue
        out.update({d["SourceFile"]: d for d in got})
    return out


def _copies(d: dict, plain: str) -> list[str]:
    """The values of every copy of a tag (``Group:Name``, ``Group:CopyN:Name``)."""
    group, _, name = plain.partition(":")
    copy = re.compile(rf"{re.escape(group)}:Copy\d+:{re.escape(name)}")
    return sorted(str(v) for k, v in d.items() if k == plain or copy.fullmatch(k))


def _limit_memory() -> None:
    import resource

    # some mutants (a huge count) make ExifTool allocate gigabytes: cap it at 1 GB
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _warnings(d: dict) -> set[str]:
    return {str(v) for k, v in d.items() if k.startswith("ExifTool:") and ("Warning" in k
                                                                         or "Error" in k)}


def judge_exiftool(pairs: list[tuple[Path, Path, str]]) -> list[str]:
    """Accepted writes ExifTool reads as worse: a new warning or error, a tag lost or
    changed (file positions and the written tags aside), or the written tag not seen."""
    et = _exiftool([p for a, b, _ in pairs for p in (a, b)])
    bad = []
    for a, b, tag in pairs:
        if str(a) not in et and str(b) not in et:
            continue  # ExifTool reads neither (it ran out of memory or time on the mutant)
        ea, eb = et.get(str(a), {}), et.get(str(b), {})
        problems = [f"new {w!r}" for w in sorted(_warnings(eb) - _warnings(ea))
                    if not (w.startswith("Missing required") and "IFD0:Artist" not in ea)]
        for k in sorted(set(ea) | set(eb)):
            group, _, name = k.partition(":")
            plain = re.sub(r":Copy\d+:", ":", k)
            if group in IGNORED_GROUPS or plain in ET_ALLOWED or ea.get(k) == eb.get(k):
                continue
            if name.endswith(("Offset", "Offsets", "Start", "Length")) and k in ea and k in eb:
                continue
            if group[:3] == "IFD" and k not in ea and f"IFD0:{name}" in ET_ALLOWED:
                continue
            if group in ("IFD0", "ExifIFD") and k not in ea:
                continue  # a new IFD brings its required tags
            if k.startswith("ExifTool:"):
                continue  # warnings: compared above
            if plain != k and k not in ea and eb[k] == ea.get(plain):
                continue  # a second copy of a value (WebP: VP8X repeats the VP8L size)
            if _copies(ea, plain) == _copies(eb, plain):
                continue  # the same values, numbered in another order (Copy1 <-> Copy0)
            problems.append(f"{k}: {str(ea.get(k))[:30]!r} -> {str(eb.get(k))[:30]!r}")
        want = "IFD0:Artist" if tag == "Artist" else "XMP-dc:Title"
        if eb.get(want) != "fuzz":
            problems.append(f"{want} reads as {eb.get(want)!r}")
        if problems:
            bad.append(f"{b}: {'; '.join(problems[:3])}")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-size", type=int, default=3_000_000)
    ap.add_argument("--timeout", type=int, default=20, help="seconds per case")
    ap.add_argument("--exiftool", action="store_true", help="judge accepted writes with ExifTool")
    ap.add_argument("--dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None)
    ap.add_argument("--show", type=int, default=20)
    ap.add_argument("--corpus", default=str(CORPUS))
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
