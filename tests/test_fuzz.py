"""Fuzzing the reader and the writer with damaged files (issue #10, items 7 to 9).

Reading never raises anything but EngineError, whatever the values (every TIFF type, extreme
values: 0, negative, denormal, Inf, NaN, huge, zero denominators), and prints them as ExifTool
does.  Seeded structural mutants of the fixtures and of the corpus (tests/support/mutants.py):
reading raises only EngineError, a one-tag write either is refused with the file byte-identical or
reads back with every tag readable before unchanged, and no case hangs (a per-case alarm).
The large run judged by ExifTool is scripts/fuzz.py.
"""

from __future__ import annotations

import math
import random
import signal
import struct
from pathlib import Path

import pytest
from support.mutants import BUGS, Hang, judge_mutant, mutate
from support.tiff_builder import build

import engine
from engine.exif import conversions as C
from engine.exif import overrides as O
from engine.exif import printing as V
from engine.exif.tables import EXIF_TAGS, GPS_TAGS, VALUES
from engine.printconv import Binary, Val

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
SUFFIXES = (".jpg", ".tif", ".png", ".webp", ".heic", ".heif", ".avif", ".nef", ".dng")

# -- every conversion, every type, extreme values --------------------------------------------

NUMBERS = {
    "B": [0, 255], "b": [-128, 127, -1], "H": [0, 65535], "h": [-32768, 32767, -1],
    "I": [0, 0xFFFFFFFF, 1], "i": [-(1 << 31), 0x7FFFFFFF, -1], "Q": [0, (1 << 64) - 1],
    "q": [-(1 << 63), (1 << 63) - 1],
    "f": [0.0, -0.0, 1e-45, math.inf, -math.inf, math.nan, 3.4e38, -3.4e38, -1.0],
    "d": [0.0, -0.0, 5e-324, math.inf, -math.inf, math.nan, 1.7e308, -1.7e308, -1.0, 1e-300],
}
TEXTS = [b"", b"\0", b"\xff" * 9, b"ASCII\0\0\0\xff\xfe", b"UNICODE\0\xff", b"\0\0\0\0\xff\xff",
         bytes(range(256))]


def _raw_values(fmt: str) -> list[bytes]:
    code, _size = V.FORMATS[fmt]
    if code == "s":
        return TEXTS
    if fmt.startswith("rational"):
        nums = NUMBERS[code]
        raws = [struct.pack("<" + code * 2, a, b) for a in nums for b in nums]
    else:
        raws = [struct.pack("<" + code, a) for a in NUMBERS[code]]
    return raws + [r * 3 for r in raws[:4]] + [r * 4 for r in raws[:4]]


def _tag_names() -> dict[str, str | None]:
    names: dict[str, str | None] = dict.fromkeys(set(O.RULES) | set(O.PANASONIC_RULES))
    for table in (EXIF_TAGS, GPS_TAGS):
        for variants in table.values():
            for v in variants:
                names[v[0]] = names.get(v[0]) or v[5]
    return names


def test_every_conversion_takes_extreme_values_of_every_type() -> None:
    names = _tag_names()
    failures = []
    for fmt in V.FORMATS:
        for raw in _raw_values(fmt):
            for bo in "<>":
                value = V.read_value(fmt, raw, bo)
                for name, key in names.items():
                    for panasonic in (False, True):
                        v: Val = value
                        try:
                            conv = C.CONVERSIONS.get(O.rule(name, panasonic).conv or "")
                            if conv is not None:  # every step, even of a binary tag
                                v = conv.show(v, VALUES.get(key) if key else None, bo)
                            out = C.convert(name, value, key, bo, panasonic)
                        except Exception as e:  # noqa: BLE001 - collected, reported below
                            failures.append(f"{name} {fmt} {value!r}: {type(e).__name__}: {e}")
                            continue
                        assert isinstance(out, str | Binary)
    assert failures == [], "\n".join(failures[:20])


# (value kind, tag, ExifTool 12.57's print of it), checked on crafted files
EXIFTOOL_PRINTS = [
    ("denorm", "ExposureTime", "1/Inf"), ("denorm", "ApertureValue", "1.0"),
    ("denorm", "ExposureCompensation", "+Inf"), ("denorm", "FocalLength", "0.0 mm"),
    ("denorm", "GPSTimeStamp", "00:00:00"), ("denorm", "GPSLatitude", "0 deg 0' 0.00\""),
    ("inf", "ExposureTime", "Inf"), ("inf", "ApertureValue", "Inf"),
    ("inf", "ExposureCompensation", "0"), ("inf", "FocalLength", "Inf mm"),
    ("inf", "GPSTimeStamp", "Inf:NaN:000000000NaN"), ("inf", "GPSLatitude", ""),
    ("nan", "ExposureTime", "NaN"), ("nan", "ApertureValue", "NaN"),
    ("nan", "FocalLength", "NaN mm"), ("nan", "GPSTimeStamp", "NaN:NaN:000000000NaN"),
    ("nhuge", "ApertureValue", "0.0"), ("nhuge", "ExposureCompensation", "-699"),
    ("nhuge", "GPSTimeStamp", "-Inf:NaN:000000000NaN"),
    ("nhuge", "GPSLatitude", "-1 deg 0' 0.00\""),
    ("neg", "ExposureTime", "-2.5"), ("neg", "ApertureValue", "0.4"),
    ("neg", "FocalLength", "-2.5 mm"), ("neg", "GPSTimeStamp", "-02:-32:-32.5"),
    ("neg", "GPSLatitude", "2 deg 32' 32.50\""),
    ("r00", "ExposureTime", "undef"), ("r00", "ApertureValue", "1.0"),
    ("r00", "ExposureCompensation", "0"), ("r00", "FocalLength", "0.0 mm"),
    ("r00", "GPSLatitude", ""),
    ("r10", "ExposureTime", "inf"), ("r10", "ApertureValue", "Inf"),
    ("r10", "ExposureCompensation", "+Inf"), ("r10", "FocalLength", "Inf mm"),
    ("r10", "GPSTimeStamp", "Inf:NaN:000000000NaN"),
    ("tiny30", "ExposureTime", "1/-1"), ("tiny30", "ExposureCompensation", "-0.0187"),
]
KINDS = {"denorm": (12, [5e-324]), "inf": (12, [math.inf]), "nan": (12, [math.nan]),
         "nhuge": (12, [-1.7e308]), "neg": (12, [-2.5]), "r00": (5, [(0, 0)]),
         "r10": (5, [(1, 0)]), "tiny30": (12, [1e-30])}
TAG_IDS = {"ExposureTime": 0x829A, "ApertureValue": 0x9202, "ExposureCompensation": 0x9204,
           "FocalLength": 0x920A, "GPSTimeStamp": 0x0007, "GPSLatitude": 0x0002}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_extreme_values_print_as_exiftool_does(tmp_path: Path, kind: str) -> None:
    typ, value = KINDS[kind]
    exif = [(TAG_IDS[n], typ, value) for n in
            ("ExposureTime", "ApertureValue", "ExposureCompensation", "FocalLength")]
    gps = [(TAG_IDS[n], typ, value * 3) for n in ("GPSLatitude", "GPSTimeStamp")]
    path = tmp_path / f"{kind}.tif"
    path.write_bytes(build([[(0x0100, 4, [1]), (0x0101, 4, [1]), ("sub", 0x8769, exif),
                             ("sub", 0x8825, gps)]]))
    md = engine.read_metadata(path)
    for k, name, printed in EXIFTOOL_PRINTS:
        if k == kind:
            assert md.get(name) == printed, name


def test_exposure_time_retyped_to_a_denormal_double_reads(tmp_path: Path) -> None:
    """The issue's case: exiftool/t/images/Nikon.nef, entry 0x829a (offset 1396) retyped
    from RATIONAL to DOUBLE; its 8 value bytes (5/100) read as a denormal."""
    src = CORPUS / "exiftool" / "t" / "images" / "Nikon.nef"
    if not src.exists():
        pytest.skip("corpus not available")
    data = bytearray(src.read_bytes())
    assert data[1396:1400] == bytes.fromhex("9a820500")
    data[1398] = 12
    path = tmp_path / "Nikon.nef"
    path.write_bytes(data)
    md = engine.read_metadata(path)
    assert md.get("ExposureTime") == "1/Inf"  # ExifTool 12.57 prints the same
    assert md.get("Make") == "NIKON CORPORATION"


# -- seeded structural mutants ---------------------------------------------------------------

CASES = 300
SEED = 20261203
TIMEOUT = 10  # seconds per case: far above any real case (a few ms); a hang is a failure


def _sources() -> list[Path]:
    out = [p for p in sorted(FIXTURES.iterdir()) if p.suffix.lower() in SUFFIXES]
    if CORPUS.is_dir():
        rnd = random.Random(SEED)
        small = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in SUFFIXES
                       and p.is_file() and p.stat().st_size < 400_000)
        out += rnd.sample(small, min(60, len(small)))
    return out


def _alarm(_sig, _frame):
    raise Hang()


def test_mutants_read_and_write_safely(tmp_path: Path) -> None:
    rnd = random.Random(SEED)
    files = _sources()
    originals = {p: p.read_bytes() for p in files}
    changes = [{"Artist": "fuzz"}, {"xmp/dc:title": "fuzz"}]
    bugs, seen = [], 0
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for i in range(CASES):
            src = rnd.choice(files)
            got = mutate(rnd, originals[src])
            change = rnd.choice(changes)
            if got is None:
                continue
            what, data = got
            status, detail = judge_mutant(tmp_path / str(i), src.name, data, change, TIMEOUT)
            seen += 1
            if status in BUGS:
                bugs.append(f"{status}: {src.name} [{what}] {change}: {detail[:200]}")
    finally:
        signal.signal(signal.SIGALRM, old)
    assert seen > CASES * 0.9
    assert bugs == [], "\n".join(bugs)
