"""Issue 11 item 9: values people type are taken and stored as ExifTool stores them, and a
value exactly as metafs displays it writes back as a no-op."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount

import engine
from engine.exif.decode import find_jpeg_exif
from engine.exif.encode import encode, printed, rationalize
from engine.exif.ifd import parse_tiff

# (tag, what a person types): each is accepted by ExifTool 12.57
TYPED = [
    ("ExposureTime", "1/3"), ("ExposureTime", "2/3"), ("ExposureTime", "0.3"),
    ("ExposureTime", "1/125"), ("ExposureTime", "2.5"),
    ("ExposureCompensation", "1/6"), ("ExposureCompensation", "+1/3"),
    ("ExposureCompensation", "-0.7"),
    ("GPSLatitude", "37 46 29.64"), ("GPSLatitude", "37.5"), ("GPSLatitude", "-122.4194"),
    ("GPSLatitude", "37 deg 46' 29.64\""),
    ("GPSVersionID", "2.0.0.0"), ("GPSVersionID", "2 2 0 0"),
    ("DigitalZoomRatio", "undef"), ("DigitalZoomRatio", "inf"), ("DigitalZoomRatio", "1.5"),
    ("BrightnessValue", "0.1661196364"), ("FNumber", "2.8"), ("FocalLength", "4.2 mm"),
    ("LensInfo", "3.99mm f/1.8"), ("LensInfo", "3.99-6.6mm f/1.8-2.8"),
    ("LensInfo", "24 70 2.8 2.8"),
    ("GPSHPositioningError", "65 m"), ("GPSAltitude", "16.5 m"),
    ("FileSource", "Digital Camera"), ("SceneType", "Directly photographed"),
    ("ISO", "400"), ("Flash", "Fired"), ("XResolution", "72"), ("ShutterSpeedValue", "1/60"),
    ("ApertureValue", "5.6"), ("MaxApertureValue", "2.8"),
]


def _entries(jpeg: bytes) -> dict[int, tuple[str, object]]:
    start, end = find_jpeg_exif(jpeg)
    st = parse_tiff(jpeg[start:end])
    return {(ifd.name == "GPS", e.tag): e for ifd in st.ifds for e in ifd.entries} | {
        "bo": st.byte_order}


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_typed_values_stored_as_exiftool_stores_them(tmp_path: Path, fixtures_dir: Path) -> None:
    # one exiftool run per round, each round holding one value per tag
    rounds: list[list[tuple[str, str]]] = []
    for tag, value in TYPED:
        for r in rounds:
            if all(t != tag for t, _ in r):
                r.append((tag, value))
                break
        else:
            rounds.append([(tag, value)])
    mismatches = []
    for n, assignments in enumerate(rounds):
        f = tmp_path / f"r{n}.jpg"
        shutil.copyfile(fixtures_dir / "photo.jpg", f)
        subprocess.run(["exiftool", "-q", "-q", "-overwrite_original",
                        *(f"-{t}={v}" for t, v in assignments), str(f)], check=True)
        entries = _entries(f.read_bytes())
        bo = entries.pop("bo")
        for tag, value in assignments:
            ours = encode(tag, value, bo)[0][1]
            theirs = entries.get((tag.startswith("GPS"), ours.tag))
            if theirs is None or (theirs.type, theirs.raw) != (ours.type, ours.raw):
                mismatches.append((tag, value, theirs and theirs.raw.hex(), ours.raw.hex()))
    assert mismatches == []


@pytest.mark.parametrize(("tag", "value", "shown"), [
    ("ExposureTime", "1/3", "0.3"), ("ExposureTime", "2/3", "0.7"),
    ("ExposureTime", "1/3.2", "0.3"), ("ExposureCompensation", "1/6", "+0.167"),
    ("GPSLatitude", "37 46 29.64", "37 deg 46' 29.64\""), ("GPSVersionID", "2.0.0.0", "2.0.0.0"),
])
def test_typed_value_commits(photo: Path, tag: str, value: str, shown: str) -> None:
    engine.write_metadata(photo, {tag: value}, backup=False)
    assert engine.read_metadata(photo).tags[tag].value == shown


@pytest.mark.parametrize(("tag", "shown"), [
    ("FileSource", "Digital Camera"), ("SceneType", "Directly photographed"),
    ("GPSVersionID", "2.2.0.0"), ("DNGVersion", "1.4.0.0"), ("LensInfo", "3.99-6.6mm f/1.8-2.8"),
    ("LensInfo", "4.25mm f/1.8"), ("LensInfo", "1mm f/?"), ("GPSHPositioningError", "65 m"),
    ("DigitalZoomRatio", "undef"), ("SubjectDistance", "undef"),
    ("Sharpness", "Unknown (65535)"), ("GPSImgDirectionRef", "Unknown ()"),
    ("DateTimeOriginal", "    :  :     :  :  "), ("CFAPattern", "[Red,Green][Green,Blue]"),
    ("AmbientTemperature", "21.5 C"), ("FileSource", "Sigma Digital Camera"),
])
def test_displayed_value_encodes_and_prints_the_same(tag: str, shown: str) -> None:
    assert printed(tag, shown) == shown


def test_lossy_print_is_exiftools() -> None:
    # ExifTool keeps 10 digits when printing and 8 when rationalizing: a long decimal
    # written back stores ExifTool's rational, which prints slightly differently
    assert printed("BrightnessValue", "0.1661196364") == "0.1661196369"


def test_rationalize_matches_exiftool_examples() -> None:
    # Writer.pl's own example: pi to 15 digits -> 104348/33215
    assert rationalize(3.14159265358979, 0x7FFFFFFF) == (104348, 33215)
    assert rationalize(1 / 3, 0xFFFFFFFF) == (1, 3)
    assert rationalize(0.3, 0xFFFFFFFF) == (3, 10)
    assert rationalize(1e12, 0x7FFFFFFF) == (0x7FFFFFFF, 1)


# -- every displayed value written back: a no-op (fixtures always, the corpus when present) --

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"

# Displayed values that cannot be written back as they are, by cause (error class and a part
# of its message, or a test on the tag): each is refused for a reason, never a crash.
NOT_WRITABLE_BACK = [
    ("empty", "an empty value deletes the tag (as exiftool -TAG= does)"),
    ("TagValueError", "IPTC allows at most", "longer than the IPTC limit (written by another "
     "program): a value typed is refused, not cut"),
    ("TagValueError", "does not fit: expected a whole number", "more values than the tag "
     "holds (ExifImageWidth '100 0'): ExifTool refuses it too"),
    ("TagValueError", "'Unknown ()' does not fit", "a numeric entry with no value (damaged)"),
    ("ReadOnlyTagError", "binary, derived or structural", "a tag ExifTool writes to a SubIFD "
     "only, found in IFD0 (DNG data)"),
    ("rw2", "RW2/RWL IFD0 uses ExifTool's PanasonicRaw table, which metafs does not write"),
    ("subifd", "metafs writes IFD0, ExifIFD, GPS, InteropIFD and IFD1 only"),
    # XMP values that break their schema, and namespaces metafs has no schema for (#11.10)
    ("UnknownTagError", "unknown XMP namespace prefix", "a namespace without a known schema"),
    ("TagValueError", "is not an integer", "XMP text where the schema says integer; "
     "ExifTool refuses it too"),
    ("TagValueError", "has an unreadable time zone", "an XMP date with a malformed zone"),
    ("TagValueError", "is not a number", "XMP text where the schema says rational ('1/60 "
     "sec.'); ExifTool refuses it too"),
    ("ReadOnlyTagError", "this is a structure", "an XMP structure stored as a plain value"),
]


def _allowed(path: str, text: str, err: Exception | None, file_type: str) -> bool:
    if text == "" or (file_type in ("RW2", "RWL") and "/" not in path):
        return True
    if "/" in path and not path.startswith(("xmp/", "iptc/", "ifd1/")):
        return True  # subifd/, ifd2/...
    return err is not None and any(
        len(rule) == 3 and type(err).__name__ == rule[0] and rule[1] in str(err)
        for rule in NOT_WRITABLE_BACK)


def _writable_files() -> list[Path]:
    from engine.write.planners import planner_for

    files = sorted(p for p in (REPO / "fixtures").iterdir() if p.suffix != ".md")
    if CORPUS.is_dir():
        files += sorted(p for p in CORPUS.rglob("*") if p.is_file()
                        and p.suffix not in (".tsv", ".md", ".txt"))
    out = []
    for f in files:
        try:
            md = engine.read_metadata(f)
            planner_for(md.format, str(f), md.file_type)
        except engine.EngineError:
            continue
        out.append(f)
    return out


def test_displayed_values_write_back_unchanged(tmp_path: Path) -> None:
    from engine.write.writer import check_value

    failures = []
    files = _writable_files()
    for n, f in enumerate(files):
        copy = tmp_path / f"{n}{f.suffix}"
        shutil.copyfile(f, copy)
        try:
            changes = engine.template_changes(copy)
            result = engine.write_metadata(copy, changes, backup=False)
        except Exception as e:  # noqa: BLE001 - collected, reported below
            failures.append((str(f), "write back", f"{type(e).__name__}: {e}"))
            continue
        if not result.unchanged:
            failures.append((str(f), "write back", f"changed {sorted(result.written)}"))
        md = engine.read_metadata(copy)
        for path, tag in md.tags.items():
            if "#" in path or "[" in path or not tag.writable or tag.is_binary:
                continue
            text = "\n".join(tag.value) if isinstance(tag.value, list) else tag.value
            err = None
            try:
                check_value(path, text)
            except engine.EngineError as e:
                err = e
            except Exception as e:  # noqa: BLE001 - an internal error: always a failure
                failures.append((str(f), path, f"{type(e).__name__}: {e}"))
                continue
            if err is not None and not _allowed(path, text, err, md.file_type):
                failures.append((str(f), path, f"{type(err).__name__}: {err}"))
        copy.unlink()
    assert len(files) >= 15
    assert failures == []


@needs_mount
def test_typed_and_displayed_values_through_the_mount(mount: Mount) -> None:
    mount.sh("cd photo.jpg.meta && echo 1/3 > ExposureTime && echo 1/6 > ExposureCompensation"
         " && echo '37 46 29.64' > GPSLatitude && echo 2.0.0.0 > GPSVersionID"
         " && cat FNumber > FNumber.new && mv FNumber.new FNumber")
    mount.commit(mount.meta)
    assert "\nerrors: 0\n" in mount.status()
    out = subprocess.run(["exiftool", "-j", "-n", "-ExposureTime", "-ExposureCompensation",
                          "-GPS:GPSLatitude", "-GPSLatitudeRef", "-GPSVersionID", "-FNumber",
                          str(mount.src / "photo.jpg")], capture_output=True, text=True,
                         check=True).stdout
    got = json.loads(out)[0]
    assert (got["ExposureTime"], got["ExposureCompensation"]) == (0.3333333333,
                                                                    0.1666666667)
    assert (got["GPSLatitude"], got["GPSLatitudeRef"]) == (37.7749, "N")
    assert (got["GPSVersionID"], got["FNumber"]) == ("2 0 0 0", 5.6)
