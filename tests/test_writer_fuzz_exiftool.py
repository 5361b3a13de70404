"""Damaged inputs, judged by ExifTool: flip a few bits of each fixture, write two tags, and
whenever the engine accepts the write, ExifTool must see only those changes (no new warning,
no other tag changed: maker notes included).  Seeded, so every run checks the same cases."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from support.oracles import exiftool_files

import engine
from engine import EngineError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir())
           if p.suffix.lower() in (".jpg", ".tif", ".png", ".webp", ".heic", ".avif")}
CHANGES = {"Artist": "fuzz", "xmp/dc:title": "x"}
# What the write may change (the two tags, their synchronised copies) and what ExifTool
# derives from file positions (offsets, HEIF's last-mdat summary).
ALLOWED = {"IFD0:Artist", "XMP-dc:Title", "XMP-dc:Creator", "IPTC:By-line", "IPTC:ObjectName",
           "Photoshop:IPTCDigest", "QuickTime:MediaData", "QuickTime:MediaDataSize",
           "QuickTime:MediaDataOffset", "RIFF:WebP_Flags"}
IGNORED_GROUPS = {"System", "File", "ExifTool", "Composite", "SourceFile"}
CASES = 240


def _differences(a: dict, b: dict) -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        group = k.partition(":")[0]
        if group in IGNORED_GROUPS or k in ALLOWED or a.get(k) == b.get(k):
            continue
        if group[:3] == "IFD" and group[3:].isdigit() and f"IFD0:{k.partition(':')[2]}" in ALLOWED:
            continue  # an IFD chain looping back to IFD0: ExifTool shows IFD0 again as IFDn
        if k.endswith(("Offset", "Offsets", "Start")) and k in a and k in b:
            continue
        if group in ("IFD0", "ExifIFD", "GPS") and k not in a:
            continue  # an IFD created for the new tag may bring its required tags
        out.append(f"{k}: {a.get(k)!r} -> {b.get(k)!r}")
    return out


def test_accepted_writes_to_damaged_files_change_only_what_was_asked(tmp_path: Path) -> None:
    if subprocess.run(["which", "exiftool"], capture_output=True).returncode:
        pytest.skip("exiftool not installed")
    rnd = random.Random(20261124)
    written: list[tuple[Path, Path]] = []
    for i in range(CASES):
        name = rnd.choice(sorted(SAMPLES))
        data = bytearray(SAMPLES[name])
        for _ in range(rnd.randint(1, 3)):
            data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        d = tmp_path / str(i)
        d.mkdir()
        path = d / name
        path.write_bytes(data)
        try:
            result = engine.write_metadata(path, CHANGES)
        except EngineError:
            assert path.read_bytes() == data
            continue
        if not result.unchanged:
            written.append((d / ".originals" / name, path))
    assert len(written) > CASES // 3  # most damage is in image data: those writes go ahead
    before = exiftool_files([a for a, _ in written], "-G1", "-a", "-u")
    after = exiftool_files([b for _, b in written], "-G1", "-a", "-u")
    bad = []
    for a, b in written:
        ea, eb = before.get(str(a), {}), after.get(str(b), {})
        warn_a = {str(v) for k, v in ea.items() if "Warning" in k}
        warn_b = {str(v) for k, v in eb.items() if "Warning" in k}
        problems = _differences(ea, eb) + [f"new warning {w!r}" for w in warn_b - warn_a]
        if problems:
            bad.append(f"{b.parent.name}/{b.name}: {problems[:3]}")
    assert bad == [], "\n".join(bad)
