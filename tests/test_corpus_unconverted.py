"""``metafs read -n`` against ``exiftool -n`` over the corpus (issue 14): per family-0 group,
the share of ExifTool's unconverted EXIF, XMP and IPTC values metafs shows, and shows
exactly (``scripts/compat.py -n`` prints every group)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from support.exiftool_compat import Figures, compare, corpus_files, load_json  # noqa: E402
from support.group_compat import exiftool, split_families  # noqa: E402

GROUPS = ("EXIF", "XMP", "IPTC")
TARGET = 0.995  # present and exact, as the printed values (issue 14)


def unconverted_rows(files: list[str]) -> dict[str, dict]:
    """``metafs read -j -n -G1`` of EXIF, XMP and IPTC (the parts it converts back)."""
    import engine
    from metafs.jsonout import dumps, row

    rows = []
    for f in files:
        try:
            md = engine.read_metadata(f, engine.PARTS | {"iptc2"})
        except engine.EngineError:
            rows.append({"SourceFile": json.dumps(f)})
            continue
        rows.append(row(engine.unconvert(md), "1"))
    return {d["SourceFile"]: d for d in load_json(dumps(rows))}


@pytest.fixture(scope="module")
def figures(corpus_dir: Path) -> Figures:
    with contextlib.chdir(corpus_dir):  # SourceFile names relative to the corpus
        files = [str(p) for p in corpus_files(Path("."))]
        ref, family0 = split_families(exiftool(files, "-n", "-a", "-G0:1", "-EXIF:all",
                                               "-XMP:all", "-IPTC:all"))
        ours = unconverted_rows(files)
    return compare(ref, ours, files, scope=lambda g: family0.get(g, g) in GROUPS,
                   family=lambda g: family0.get(g, g))


@pytest.mark.parametrize("group", GROUPS)
def test_unconverted_group(group: str, figures: Figures, record_property) -> None:
    record_property("summary", "metafs read -j -n vs exiftool -j -n:\n" + figures.report())
    assert figures.total[group] > (300 if group == "IPTC" else 1000)  # the comparison ran
    present, exact = figures.ratio(figures.present, group), figures.ratio(figures.exact, group)
    assert (present, exact) >= (TARGET, TARGET), figures.report(20, group)
