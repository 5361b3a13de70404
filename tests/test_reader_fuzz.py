"""Hypothesis mutates the fixtures: the reader returns or raises EngineError, quickly."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import EngineError
from engine.reader import read_metadata_from

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir())
           if p.suffix.lower() in (".jpg", ".tif", ".png", ".webp", ".heic", ".avif")}


@st.composite
def mutated(draw) -> bytes:
    name = draw(st.sampled_from(sorted(SAMPLES)))
    data = bytearray(SAMPLES[name])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "dup", "zero", "ff"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[pos:]
        elif kind == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 64))]
        elif kind == "zero":
            data[pos : pos + 4] = b"\0\0\0\0"
        else:
            data[pos : pos + 4] = b"\xff\xff\xff\xff"
    # keep a recognisable header so the decoders, not just the sniffer, get exercised
    if len(data) < 16:
        data = bytearray(SAMPLES[name][:16]) + data
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_fixtures_never_crash_or_hang(data: bytes) -> None:
    t0 = time.perf_counter()
    try:
        read_metadata_from(data, "mutated")
    except EngineError:
        pass
    assert time.perf_counter() - t0 < 1.0
