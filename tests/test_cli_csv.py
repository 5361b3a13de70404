"""Spreadsheet round trips (issue 15): ``metafs read --csv`` out, one cell edited, ``metafs
write --csv FILE`` back in changes that one tag, checked with ExifTool; the same with
``--json``.  Empty cells leave tags alone, ``-`` deletes, a bad row refuses its file only."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import engine
from metafs.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="no exiftool")


def copies(tmp_path: Path) -> list[Path]:
    out = []
    for name in ("photo.jpg", "exif_le.jpg"):
        shutil.copyfile(FIXTURES / name, tmp_path / name)
        out.append(tmp_path / name)
    return out


def export(capsys, *argv: str) -> str:
    assert main(["read", *argv]) == 0
    return capsys.readouterr().out


def exiftool(p: Path) -> dict:
    r = subprocess.run(["exiftool", "-j", "-G1", "-a", str(p)], capture_output=True, text=True,
                       check=True)
    return {k: v for k, v in json.loads(r.stdout)[0].items()
            if not k.startswith(("System:", "File:", "ExifTool:"))}


def edit_csv(text: str, source: str, column: str, value: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    col = rows[0].index(column)
    for row in rows[1:]:
        if row[0] == source:
            row[col] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def test_csv_layout(tmp_path: Path, capsys) -> None:
    a, b = copies(tmp_path)
    rows = list(csv.reader(io.StringIO(export(capsys, "--csv", str(a), str(b)))))
    assert rows[0][0] == "SourceFile" and rows[0][1:] == sorted(rows[0][1:])
    assert [r[0] for r in rows[1:]] == [str(a), str(b)]
    keywords = rows[1][rows[0].index("iptc/Keywords")]
    assert keywords == ", ".join(engine.read_metadata(a).tags["iptc/Keywords"].value)


@needs_exiftool
def test_csv_round_trip_changes_one_tag(tmp_path: Path, capsys) -> None:
    a, b = copies(tmp_path)
    before = {p: exiftool(p) for p in (a, b)}
    table = edit_csv(export(capsys, "--csv", str(a), str(b)), str(a), "Software", "Edited")
    (tmp_path / "t.csv").write_text(table)
    assert main(["write", "--csv", str(tmp_path / "t.csv"), str(a), str(b)]) == 0
    assert capsys.readouterr().err.splitlines() == ["    1 image files updated",
                                                    "    1 image files unchanged"]
    after = exiftool(a)
    changed = {k for k in set(before[a]) | set(after) if before[a].get(k) != after.get(k)}
    assert changed == {"IFD0:Software"} and after["IFD0:Software"] == "Edited"
    assert exiftool(b) == before[b]


def test_csv_delete_marker_empty_cell_and_lists(tmp_path: Path, capsys) -> None:
    a, b = copies(tmp_path)
    table = export(capsys, "--csv", str(a), str(b))
    table = edit_csv(table, str(a), "Software", "-")
    table = edit_csv(table, str(a), "Artist", "")  # left alone
    table = edit_csv(table, str(a), "iptc/Keywords", "one, two, three")
    (tmp_path / "t.csv").write_text(table)
    assert main(["write", "--csv", str(tmp_path / "t.csv"), str(a), "--no-sync"]) == 0
    md = engine.read_metadata(a)
    assert "Software" not in md.tags and md.tags["Artist"].value == "Jane Doe"
    assert md.tags["iptc/Keywords"].value == ["one", "two", "three"]


def test_bad_row_refuses_its_file_only(tmp_path: Path, capsys) -> None:
    a, b = copies(tmp_path)
    table = export(capsys, "--csv", str(a), str(b))
    table = edit_csv(table, str(a), "ISO", "abc")
    table = edit_csv(table, str(b), "Software", "Fine")
    (tmp_path / "t.csv").write_text(table)
    original = a.read_bytes()
    assert main(["write", "--csv", str(tmp_path / "t.csv"), str(a), str(b)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"metafs: write failed: {a}: tag ISO: 'abc' does not fit")
    assert err[1:] == ["    1 image files updated", "    1 files weren't updated due to errors"]
    assert a.read_bytes() == original
    assert engine.read_metadata(b).tags["Software"].value == "Fine"


def test_file_without_a_row_is_refused(tmp_path: Path, capsys) -> None:
    a, b = copies(tmp_path)
    (tmp_path / "t.csv").write_text(f"SourceFile,Software\n{a},X\n")
    assert main(["write", "-q", "--csv", str(tmp_path / "t.csv"), str(a), str(b)]) == 1
    assert capsys.readouterr().err == f"metafs: write failed: {b}: no row for this file in " \
        f"{tmp_path / 't.csv'}\n"
    assert engine.read_metadata(a).tags["Software"].value == "X"


@needs_exiftool
def test_json_round_trip_changes_one_tag(tmp_path: Path, capsys) -> None:
    a, b = copies(tmp_path)
    before = exiftool(a)
    rows = json.loads(export(capsys, "--json", str(a), str(b)))
    rows[0]["xmp/dc:title"] = "From JSON"
    rows[0]["iptc/Keywords"] = ["k1", "k2"]
    (tmp_path / "t.json").write_text(json.dumps(rows))
    assert main(["write", "-q", "--json", str(tmp_path / "t.json"), str(a), str(b),
                 "--no-sync"]) == 0
    after = exiftool(a)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {"XMP-dc:Title", "IPTC:Keywords"}, changed
    assert after["XMP-dc:Title"] == "From JSON" and after["IPTC:Keywords"] == ["k1", "k2"]


def test_csv_with_set_is_a_usage_error(tmp_path: Path, capsys) -> None:
    a, _ = copies(tmp_path)
    (tmp_path / "t.csv").write_text("SourceFile\n")
    assert main(["write", "--csv", str(tmp_path / "t.csv"), str(a), "--set", "Artist=X"]) == 2


def test_group_name_columns_import_too(tmp_path: Path, capsys) -> None:
    a, _ = copies(tmp_path)
    table = edit_csv(export(capsys, "--csv", "-G1", str(a)), str(a), "IFD0:Software", "Grouped")
    (tmp_path / "t.csv").write_text(table)
    assert main(["write", "--csv", str(tmp_path / "t.csv"), str(a)]) == 0
    assert engine.read_metadata(a).tags["Software"].value == "Grouped"
