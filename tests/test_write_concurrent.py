"""Another program writes the photo while metafs rewrites it: metafs never overwrites that
change.  It plans again from the new file (its changes are whole values, which apply as
well to it), and gives up, file untouched, when the file keeps changing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import engine
from engine.safewrite import safety
from engine.safewrite.sysops import AtStage
from engine.write.writer import CHANGED_RETRIES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def other_program(photo: Path, n: int) -> None:
    """A rewrite by someone else (not through the hooked pipeline)."""
    engine.write_metadata(photo, {"Model": f"Outside {n}"}, backup=False)


@pytest.mark.parametrize("step", ["backup", "written", "fsynced", "validated"])
def test_a_change_made_meanwhile_is_kept_and_the_write_lands_on_it(
        photo: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    seen: list[str] = []

    def hook(name: str) -> None:
        seen.append(name)
        if name == step and seen.count(step) == 1:
            other_program(photo, 1)

    result = engine.write_metadata(photo, {"Artist": "Ours"}, ops=AtStage(hook))
    md = engine.read_metadata(photo)
    assert (md["Artist"], md["Model"]) == ("Ours", "Outside 1")
    assert seen.count("dir-fsynced") == 1 and seen.count(step) == 2  # planned twice
    assert result.backup is not None
    assert [n for n in os.listdir(photo.parent) if safety.is_temp_name(n)] == []


def test_a_file_that_keeps_changing_is_left_to_the_other_program(
        photo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = iter(range(100))

    def hook(name: str) -> None:
        if name == "written":
            other_program(photo, next(count))

    with pytest.raises(engine.FileChangedError,
                       match="the file changed while it was being rewritten; retry"):
        engine.write_metadata(photo, {"Artist": "Ours"}, ops=AtStage(hook))
    md = engine.read_metadata(photo)
    assert md["Model"] == f"Outside {CHANGED_RETRIES - 1}" and md["Artist"] == "Jane Doe"
    assert [n for n in os.listdir(photo.parent) if safety.is_temp_name(n)] == []
