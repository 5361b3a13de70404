"""``metafs read --json`` as a drop-in for ``exiftool -j`` (issue 14, item 5): the same keys
(names, ``-G`` family 0, ``-G1`` family 1), numbers as JSON numbers with ExifTool's text,
lists as ExifTool prints them, tag selection (``-Make -LensID``, ``-GROUP:all``,
``--TAG``), the groups read only on request (``-a``, a selection) and File:System."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import engine
import engine.reader as reader
from engine.model import TagValue
from metafs.cli import main
from metafs.jsonout import file_size, json_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NAMES = ("photo.jpg", "xmp.jpg", "iptc.jpg", "exif_le.jpg", "exif_xmp.png")
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="no exiftool")
CALLS: list[str] = []


def stub_part(data, blocks, md) -> tuple[list[TagValue], list[str]]:
    """A read-only part as M1/M2 add them (engine.reader.EXTRA_PARTS), counting its calls."""
    CALLS.append(md.path)
    return [TagValue("stub/LensID", "StubGroup", "LensID", "EF24-70mm f/2.8L", False),
            TagValue("stub/ShutterCount", "StubGroup", "ShutterCount", "1234", False)], []


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Only the stub part is read on request (the real ones are tested by their owners)."""
    parts = {"stub": (__name__, "stub_part")}
    # (engine's first: its lazy export, looked up now, must be kept as the real one)
    monkeypatch.setattr(engine, "EXTRA_PARTS", parts)
    monkeypatch.setattr(reader, "EXTRA_PARTS", parts)
    CALLS.clear()
    return CALLS


def read_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(["read", "-j", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def exiftool_j(files: list[Path], *args: str) -> list[dict]:
    import subprocess

    out = subprocess.run(["exiftool", "-j", *args, *map(str, files)], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


@pytest.fixture
def files() -> list[Path]:
    return [FIXTURES / n for n in NAMES]


@needs_exiftool
@pytest.mark.parametrize("keys", [(), ("-G",), ("-G1",)])
def test_keys_and_values_as_exiftool_j(keys, files, capsys, stub) -> None:
    """Every key metafs prints, ExifTool prints too, with the same JSON value and type.
    (Without -a metafs reads no Composite tag: ExifTool would show its GPSLatitude...)"""
    ours = read_json(capsys, *keys, *map(str, files))
    theirs = exiftool_j(files, *keys, "--Composite:all")
    assert [d["SourceFile"] for d in ours] == [d["SourceFile"] for d in theirs]
    differ = [(d["SourceFile"], k, v, t.get(k, "(none)")) for d, t in zip(ours, theirs, strict=True)
              for k, v in d.items() if (type(v), v) != (type(t.get(k)), t.get(k))]
    assert differ == []
    assert sum(len(d) for d in ours) > 150  # not an empty success
    assert list(ours[0])[0] == "SourceFile" and stub == []  # no extra part read


@needs_exiftool
@pytest.mark.parametrize("keys", [(), ("-G1",)])
def test_unconverted_values_as_exiftool_j_n(keys, files, capsys, stub) -> None:
    """``-n``: EXIF, XMP and IPTC values as ``exiftool -j -n`` gives them (numbers where it
    prints numbers: ExposureTime 0.008, Flash 16, GPSLatitude in signed degrees)."""
    ours = read_json(capsys, "-n", *keys, *map(str, files))
    theirs = exiftool_j(files, "-n", *keys, "--Composite:all")
    differ = [(d["SourceFile"], k, v, t.get(k, "(none)")) for d, t in zip(ours, theirs, strict=True)
              for k, v in d.items() if (type(v), v) != (type(t.get(k)), t.get(k))]
    assert differ == []
    photo = ours[0]
    key = "ExifIFD:ExposureTime" if keys else "ExposureTime"
    assert photo[key] == 0.008 and isinstance(photo["GPS:GPSLatitude" if keys else
                                                    "GPSLatitude"], float)
    printed = read_json(capsys, *keys, str(files[0]))[0]
    assert printed[key] == "1/125"  # without -n: as printed


@needs_exiftool
def test_unconverted_read_only_groups(files, capsys) -> None:
    """``-a -n``: File, System, JFIF, PNG, Composite... values as ``exiftool -a -n`` (value
    maps and the File group's printing undone, the composites' ValueConv values)."""
    skip = ("--FileAccessDate",)
    ours = read_json(capsys, "-n", "-a", "-G1", *skip, *map(str, files))
    theirs = exiftool_j(files, "-n", "-a", "-G1", *skip)
    differ = [(d["SourceFile"], k, v, t.get(k, "(none)")) for d, t in zip(ours, theirs, strict=True)
              for k, v in d.items() if (type(v), v) != (type(t.get(k)), t.get(k))]
    assert differ == []
    assert ours[0]["File:EncodingProcess"] == 0 and ours[0]["JFIF:JFIFVersion"] == "1 1"
    assert ours[0]["Composite:ImageSize"] == "64 48"


def test_values_as_exiftool_writes_json() -> None:
    assert json_text("5.60") == "5.60"  # a number, ExifTool's text kept
    assert json_text("300") == "300" and json_text("-2.5e-3") == "-2.5e-3"
    assert json_text("0220") == '"0220"'  # a leading zero: text
    assert json_text("1/125") == '"1/125"' and json_text("12345678901234567") == \
        '"12345678901234567"'  # too long for ExifTool's rule
    assert json_text("True") == "true" and json_text("FALSE") == "false"
    assert json_text(["only"]) == '"only"'  # a one-item list: its item (no -struct)
    assert json_text(["a", "2"]) == '["a",2]'
    assert json_text('say "é"\n') == '"say \\"é\\"\\n"'
    assert [file_size(n) for n in (1999, 2000, 30_000, 9_999_999, 3_000_000_000)] == \
        ["1999 bytes", "2.0 kB", "30 kB", "10.0 MB", "3.0 GB"]


@needs_exiftool
@pytest.mark.parametrize("argv", [
    ("-Model", "-Make", "-ISO"),
    ("-G1", "-EXIF:XResolution", "-Model", "-ExposureTime"),
    ("-G", "-IFD1:all"),
    ("-G1", "-EXIF:all", "--XResolution", "--Make"),
    ("-make", "-*Date*", "--Composite:all"),  # (the stub part stands for the others)
])
def test_tag_selection_as_exiftool(argv, files, capsys, stub) -> None:
    """The tags asked for, in the order asked, with ExifTool's keys."""
    ours = read_json(capsys, *argv, *map(str, files[:2]))
    assert ours == exiftool_j(files[:2], *argv)
    assert stub == [str(f) for f in files[:2]]  # a selection reads every part


def test_all_and_selection_read_the_extra_parts(capsys, stub) -> None:
    photo = str(FIXTURES / "photo.jpg")
    assert "LensID" not in read_json(capsys, photo)[0] and stub == []
    row = read_json(capsys, "-a", photo)[0]
    assert (row["LensID"], row["ShutterCount"]) == ("EF24-70mm f/2.8L", 1234)
    assert read_json(capsys, "-G", "-LensID", "-StubGroup:ShutterCount", photo) == [
        {"SourceFile": photo, "StubGroup:LensID": "EF24-70mm f/2.8L",
         "StubGroup:ShutterCount": 1234}]
    assert read_json(capsys, "-stub/lensid", photo) == [
        {"SourceFile": photo, "LensID": "EF24-70mm f/2.8L"}]  # a metafs tag path
    assert main(["read", "-G1", "-LensID", "-Make", photo]) == 0  # the text output too
    assert capsys.readouterr().out == ("StubGroup:LensID: EF24-70mm f/2.8L\n"
                                       "IFD0:Make: MetaFS Test Camera Co.\n")
    assert len(stub) == 4


@needs_exiftool
def test_file_system_tags_as_exiftool(tmp_path: Path, capsys, stub) -> None:
    photo = tmp_path / "a photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    photo.chmod(0o640)
    theirs = exiftool_j([photo], "-G1", "-System:all", "--FileAccessDate")
    assert read_json(capsys, "-G1", "-System:all", "--FileAccessDate", str(photo)) == theirs
    theirs = exiftool_j([photo], "-n", "-G1", "-System:all", "--FileAccessDate")
    ours = read_json(capsys, "-n", "-G1", "-System:all", "--FileAccessDate", str(photo))
    assert ours == theirs and ours[0]["System:FilePermissions"] == 100640  # -n: octal mode


def test_failures_and_refusals(tmp_path: Path, capsys, stub) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo at all" * 4)
    assert main(["read", "-j", str(bad)]) == 1
    out, err = capsys.readouterr()
    row = json.loads(out)[0]
    assert row["SourceFile"] == str(bad) and "not an image format" in row["Error"]


@pytest.mark.parametrize("keys", [(), ("-G",), ("-G1",), ("-a",)])
def test_exiftool_keyed_json_imports(keys, tmp_path: Path, capsys, stub) -> None:
    """``read -j`` out, one value edited, ``write --json`` in: that tag changes (keys of
    tags only read, as File:System or an extra part's, are left alone when unchanged)."""
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    rows = read_json(capsys, *keys, str(photo))
    key = {"-G": "EXIF:Artist", "-G1": "IFD0:Artist"}.get(keys[0] if keys else "", "Artist")
    rows[0][key] = "Edited"
    (tmp_path / "t.json").write_text(json.dumps(rows))
    assert main(["write", "-q", "--no-sync", "--json", str(tmp_path / "t.json"),
                 str(photo)]) == 0
    capsys.readouterr()
    after = engine.read_metadata(photo)
    assert after.tags["Artist"].value == "Edited"
    assert {p for p, t in after.tags.items()} == set(engine.read_metadata(
        FIXTURES / "photo.jpg").tags)
    if keys == ("-a",):  # a read-only tag changed: refused, by name
        rows[0]["ShutterCount"] = 99
        (tmp_path / "t.json").write_text(json.dumps(rows))
        assert main(["write", "-q", "--json", str(tmp_path / "t.json"), str(photo)]) == 1
        assert "column ShutterCount: a StubGroup tag, read-only" in capsys.readouterr().err


def test_csv_of_every_part_imports(tmp_path: Path, capsys, stub) -> None:
    """``read --csv -a`` (tag paths, read-only parts' too) out, one cell edited, back in."""
    import csv
    import io

    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    assert main(["read", "--csv", "-a", str(photo)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert "stub/LensID" in rows[0]
    rows[1][rows[0].index("Artist")] = "From CSV"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    (tmp_path / "t.csv").write_text(out.getvalue())
    assert main(["write", "-q", "--no-sync", "--csv", str(tmp_path / "t.csv"), str(photo)]) == 0
    assert engine.read_metadata(photo).tags["Artist"].value == "From CSV"
