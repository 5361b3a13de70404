"""Hypothesis mutates the fixtures, then we write to them: the engine either refuses with an
EngineError and leaves the file byte-identical, or writes a file that reads back with the
change and without new warnings.  Never anything else (strict writing)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import EngineError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir())
           if p.suffix.lower() in (".jpg", ".tif", ".png", ".webp", ".heic", ".avif")}
CHANGES = [{"Artist": "fuzz"}, {"xmp/dc:title": "fuzz"}, {"Make": None},
           {"Artist": "fuzz", "xmp/dc:title": "t", "iptc/City": "Rome"}]


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SAMPLES)))
    data = bytearray(SAMPLES[name])
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["flip", "cut", "zero", "ff"]))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[max(pos, 16):]
        elif kind == "zero":
            data[pos : pos + 4] = b"\0\0\0\0"
        else:
            data[pos : pos + 4] = b"\xff\xff\xff\xff"
    return name, bytes(data)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutated(), st.sampled_from(CHANGES))
def test_write_to_mutated_files_is_all_or_nothing(sample, changes) -> None:
    name, data = sample
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            before = engine.read_metadata(path)
        except EngineError:
            before = None
        try:
            result = engine.write_metadata(path, changes)
        except EngineError:
            assert path.read_bytes() == data  # refused: untouched
            assert [p.name for p in Path(tmp).iterdir() if p.name.startswith(".")
                    and p.name != ".originals"] == []
            return
        if result.unchanged:
            assert path.read_bytes() == data
            return
        after = engine.read_metadata(path)
        assert before is not None
        for tag, text in changes.items():
            if text is None:
                assert tag not in after.tags
            else:
                assert tag in after.tags
        assert len(after.warnings) <= len(before.warnings)
        assert (Path(tmp) / ".originals" / name).read_bytes() == data
