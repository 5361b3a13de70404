"""``assert_refused``: the one check that a write was refused as a user must see it."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.errors import EngineError


def assert_refused(path: Path, changes: dict, *needles: str,
                   error: type[EngineError] = EngineError) -> str:
    """``write_metadata(path, changes)`` raises ``error`` with one line that names the file,
    holds every needle and is no internal error; the file is byte-identical and no backup
    was made.  Returns the message."""
    data = path.read_bytes()
    with pytest.raises(error) as info:
        engine.write_metadata(path, changes)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    assert "internal error" not in msg, msg
    for n in needles:
        assert n in msg, msg
    assert path.read_bytes() == data
    assert not (path.parent / ".originals" / path.name).exists()
    return msg
