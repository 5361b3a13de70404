"""Issue 16: Panasonic RW2/RWL writes (engine/containers/rw2_write.py), judged by ExifTool.

ExifTool writes the EXIF of an RW2 into the JPEG embedded as JpgFromRaw (IFD0, ExifIFD, GPS),
and ExifIFD/GPS tags (and Make, Model, Orientation) into the RW2's own IFDs as well; the raw
data runs from RawDataOffset to the end of the file and moves after the new data.  metafs must
read back as ExifTool's own write of the same tags does (``-G3:1``: both documents), keep the
raw data and the JpgFromRaw's image byte for byte, and refuse what ExifTool refuses.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.oracles import exiftool
from support.refuse import assert_refused
from support.rw2_builder import RAW, build_rw2
from support.tiff_compare import tiff_digest
from support.write_compat import warnings_of

import engine
from engine.containers.rw2_write import raw_pointers
from engine.errors import WriteError
from engine.exif.ifd import parse_tiff

sys.path.insert(0, str(Path(__file__).resolve().parent))

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")

SETS = {"Artist": "A B", "DateTimeOriginal": "2021:02:03 04:05:06", "GPSLatitude": "10.5",
        "GPSLatitudeRef": "N", "xmp/dc:title": "T"}
ET_SETS = ["-Artist=A B", "-DateTimeOriginal=2021:02:03 04:05:06", "-GPSLatitude=10.5",
           "-GPSLatitudeRef=N", "-XMP-dc:Title=T"]
# Where things lie in the file, and what only ExifTool's writer adds
LAYOUT = ("RawDataOffset", "StripOffsets", "JpgFromRaw", "XMPToolkit", "FileSize",
          "FileModifyDate", "FileAccessDate", "FileInodeChangeDate", "FileName", "Directory",
          "SourceFile", "Validate", "ThumbnailOffset")


def _rw2(tmp_path: Path, variant: str = "sentinel", **kw) -> Path:
    p = tmp_path / f"{variant}.rw2"
    p.write_bytes(build_rw2(variant, **kw))
    return p


def _read(p: Path) -> dict:
    return {k: v for k, v in exiftool(p, "-a", "-G3:1").items()
            if not k.endswith(LAYOUT)}


def _raw_of(data: bytes) -> bytes:
    start, _ = raw_pointers(parse_tiff(data))
    return data[start:]


@pytest.mark.parametrize("variant", ["sentinel", "strips", "both"])
def test_reads_back_as_exiftools_own_write(tmp_path: Path, variant: str) -> None:
    ours = _rw2(tmp_path, variant)
    theirs = tmp_path / "et" / ours.name
    theirs.parent.mkdir()
    shutil.copyfile(ours, theirs)
    original = ours.read_bytes()
    engine.write_metadata(ours, SETS)
    subprocess.run(["exiftool", "-q", "-overwrite_original", *ET_SETS, str(theirs)], check=True)
    got, want = _read(ours), _read(theirs)
    assert got == want
    assert got["Doc1:IFD0:Artist"] == "A B"
    assert got["Doc1:ExifIFD:DateTimeOriginal"] == got["ExifIFD:DateTimeOriginal"]
    assert got["GPS:GPSLatitude"] == got["Doc1:GPS:GPSLatitude"]
    new = ours.read_bytes()
    assert _raw_of(new) == RAW == _raw_of(original)  # moved whole, its pointers with it
    assert tiff_digest(new) == tiff_digest(original)  # raw data and JpgFromRaw pixels
    assert warnings_of(exiftool(ours, "-a", "-G1")) == warnings_of(exiftool(theirs, "-a", "-G1"))
    assert exiftool(ours, "-validate")["Validate"] == exiftool(theirs, "-validate")["Validate"]


def test_pointers_follow_the_raw_data(tmp_path: Path) -> None:
    """'both': RawDataOffset and StripOffsets (StripByteCounts 0) move together."""
    p = _rw2(tmp_path, "both")
    engine.write_metadata(p, {"Artist": "x" * 300})
    st = parse_tiff(p.read_bytes())
    start, pointers = raw_pointers(st)
    assert len(pointers) == 2 and start > len(build_rw2("both")) - len(RAW)
    assert p.read_bytes()[start:] == RAW


def test_repeated_writes_do_not_grow_and_deletes_reach_both_places(tmp_path: Path) -> None:
    p = _rw2(tmp_path)
    engine.write_metadata(p, {"Artist": "first value"})
    size = p.stat().st_size
    engine.write_metadata(p, {"Artist": "other value"})
    assert p.stat().st_size == size
    engine.write_metadata(p, {"DateTimeOriginal": None, "Orientation": "Rotate 90 CW"})
    got = _read(p)
    assert not any(k.endswith("DateTimeOriginal") for k in got)
    assert got["IFD0:Orientation"] == got["Doc1:IFD0:Orientation"] == "Rotate 90 CW"
    md = engine.read_metadata(p)
    assert md.tags["Artist"].value == "other value" and "DateTimeOriginal" not in md.tags
    assert _raw_of(p.read_bytes()) == RAW


def test_the_embedded_jpeg_keeps_its_image(tmp_path: Path) -> None:
    from engine.containers.jpeg import parse_jpeg

    def scan(data: bytes) -> bytes:
        ifd0 = parse_tiff(data).get("IFD0")
        jpeg = next(e.raw for e in ifd0.entries if e.tag == 0x2E)
        return jpeg[parse_jpeg(jpeg).sos_offset :]

    p = _rw2(tmp_path)
    before = scan(p.read_bytes())
    engine.write_metadata(p, {"ImageDescription": "d" * 2000})
    assert scan(p.read_bytes()) == before


def test_written_lists_only_what_was_asked(tmp_path: Path, capsys) -> None:
    """The JpgFromRaw the write rebuilds is the container's business (validation lets it
    change): neither WriteResult.written nor `metafs write`'s output names it."""
    from metafs.cli import main

    p = _rw2(tmp_path)
    result = engine.write_metadata(p, {"Artist": "A B", "DateTimeOriginal": None})
    assert result.written == {"Artist": "A B", "DateTimeOriginal": None}
    q = _rw2(tmp_path, "both")
    assert main(["write", str(p), str(q), "--set", "Artist=C D"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err.split() == ["2", "image", "files", "updated"]
    assert _read(p)["Doc1:IFD0:Artist"] == _read(q)["Doc1:IFD0:Artist"] == "C D"


def test_refuses_what_exiftool_refuses(tmp_path: Path) -> None:
    p = _rw2(tmp_path, "unsupported")
    assert_refused(p, {"Artist": "x"}, "unsupported Panasonic/Leica RAW variant",
                   error=WriteError)
    r = subprocess.run(["exiftool", "-Artist=x", str(p)], capture_output=True, text=True)
    assert "Unsupported Panasonic/Leica RAW variant" in r.stderr


def test_without_jpg_from_raw(tmp_path: Path) -> None:
    """IFD0 tags have no place (refused, file unchanged); ExifIFD tags and XMP go in the RW2's
    own IFDs."""
    p = _rw2(tmp_path, jpeg=False)
    assert_refused(p, {"Artist": "x"}, "JpgFromRaw", error=WriteError)
    engine.write_metadata(p, {"DateTimeOriginal": "2022:01:01 00:00:00", "xmp/dc:title": "T"})
    got = _read(p)
    assert got["ExifIFD:DateTimeOriginal"] == "2022:01:01 00:00:00"
    assert got["XMP-dc:Title"] == "T"
    assert _raw_of(p.read_bytes()) == RAW


def test_jpg_from_raw_without_exif_gets_an_app1(tmp_path: Path) -> None:
    """A JpgFromRaw with no APP1 Exif segment: ExifTool creates one (after APP0) for IFD0
    and ExifIFD tags; metafs does too, through the JPEG writer, and reads back as ExifTool's
    write does for the tags asked (ExifTool also adds its mandatory XResolution...)."""
    from engine.containers.jpeg import parse_jpeg

    ours = _rw2(tmp_path, exif=False)
    theirs = tmp_path / "et.rw2"
    shutil.copyfile(ours, theirs)
    original = ours.read_bytes()
    engine.write_metadata(ours, {"Artist": "A B", "DateTimeOriginal": "2021:02:03 04:05:06"})
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Artist=A B",
                    "-DateTimeOriginal=2021:02:03 04:05:06", str(theirs)], check=True)
    got, want = _read(ours), _read(theirs)
    for k in ("Doc1:IFD0:Artist", "Doc1:ExifIFD:DateTimeOriginal", "ExifIFD:DateTimeOriginal"):
        assert got[k] == want[k]
    assert engine.read_metadata(ours).tags["Artist"].value == "A B"
    ifd0 = parse_tiff(ours.read_bytes()).get("IFD0")
    jpeg = bytes(next(e.raw for e in ifd0.entries if e.tag == 0x2E))
    assert [s.marker for s in parse_jpeg(jpeg).segments][:3] == [0xD8, 0xE0, 0xE1]
    assert tiff_digest(ours.read_bytes()) == tiff_digest(original)
    assert warnings_of(exiftool(ours, "-a", "-G1")) == warnings_of(exiftool(theirs, "-a", "-G1"))


def test_values_inside_the_raw_data_refused(tmp_path: Path) -> None:
    """A value placed after the raw data's start would be cut off by moving the raw data."""
    import struct

    data = bytearray(build_rw2())
    st = parse_tiff(bytes(data))
    start, _ = raw_pointers(st)
    make = next(e for e in st.get("IFD0").entries if e.tag == 0x010F)
    struct.pack_into("<I", data, make.entry_offset + 8, start + 16)
    p = tmp_path / "inside.rw2"
    p.write_bytes(bytes(data))
    assert_refused(p, {"Artist": "x"}, "inside the raw data", error=WriteError)


@pytest.mark.mount
def test_written_through_the_mount(mount) -> None:
    """The user's way: a tag file of the RW2 in the mount, written with the shell."""
    (mount.src / "p.rw2").write_bytes(build_rw2())
    mount.sh("cat p.rw2.meta/Make && echo 'Jane Doe' > p.rw2.meta/Artist")
    mount.commit(mount.mnt / "p.rw2.meta")
    got = _read(mount.src / "p.rw2")
    assert got["Doc1:IFD0:Artist"] == "Jane Doe"
    assert (mount.mnt / "p.rw2.meta" / "Artist").read_text() == "Jane Doe\n"
    assert _raw_of((mount.src / "p.rw2").read_bytes()) == RAW
