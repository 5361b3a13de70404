"""Canon CR3 writing (issue 16): EXIF into the CMT blocks, XMP into its uuid box, and every
offset into what moves (chunk offsets, CTBO) fixed in the same write, as ExifTool does.

Checked on a small CR3 built here (two tracks, one ``co64`` and one ``stco``, a thumbnail, a
preview, CTBO) and on a temporary copy of the corpus CanonRaw.cr3 when it is there; ExifTool
is the judge: what was written reads back, everything else reads as before, no new warning,
and the bytes every chunk offset points at are the bytes it pointed at before.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from support.builders import box, full_box, xmp_packet
from support.mount import needs_mount
from support.mutants import BUGS, judge_write, mutate
from support.oracles import exiftool
from support.refuse import assert_refused
from support.tiff_builder import build

import engine
from engine.containers.cr3 import PRVW_UUID, chunk_spans, stbls
from engine.containers.isobmff import CANON_UUID, LAZY_TYPES, XMP_UUID, parse_boxes
from engine.errors import WriteError

CORPUS_CR3 = (Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "exiftool"
              / "t" / "images" / "CanonRaw.cr3")
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool")

RAW = bytes(range(256)) * 3  # the chunks in mdat: a "raw image" and a "JPEG"
JPEG = b"\xff\xd8\xff\xdb" + b"jpeg-data " * 40 + b"\xff\xd9"
SERIAL = "SN-OLD-7731-QX"  # a value that is nowhere else in the file


def _ctbo(entries: list[tuple[int, int, int]]) -> bytes:
    return box(b"CTBO", struct.pack(">I", len(entries)) +
               b"".join(struct.pack(">IQQ", *e) for e in entries))


def _trak(table: bytes, sizes: list[int], ref: tuple[int, int] = (1, 1)) -> bytes:
    """A track whose chunks are where its data reference says: ``ref`` (the index its sample
    description names, the flags of the one reference: 1 = in this file)."""
    stsd = full_box(b"stsd", 0, struct.pack(">I", 1) + box(b"CRAW", bytes(6) +
                                                         struct.pack(">H", ref[0])))
    stsc = full_box(b"stsc", 0, struct.pack(">IIII", 1, 1, 1, 1))
    stsz = full_box(b"stsz", 0, struct.pack(">II", 0, len(sizes)) +
                    struct.pack(f">{len(sizes)}I", *sizes))
    dref = full_box(b"dref", 0, struct.pack(">I", 1) + full_box(b"url ", 0, b"", ref[1]))
    return box(b"trak", box(b"mdia", box(b"minf", box(b"dinf", dref) +
                                         box(b"stbl", stsd + stsc + stsz + table))))


def build_cr3(*, gps: bool = True, xmp: bool = True, extra_stbl: bytes = b"",
              ctbo_extra: tuple[int, int, int] | None = None, chunk_shift: int = 0,
              chunk_at: int | None = None, jpeg_ref: tuple[int, int] = (1, 1)) -> bytes:
    """A small CR3 as cameras lay it out; CTBO and the chunk offsets say where things are.
    ``chunk_shift`` (added to it) or ``chunk_at``: the first chunk offset, pointed elsewhere."""
    cmt1 = build([[(0x10F, 2, "Canon"), (0x110, 2, "Canon EOS Test"),
                   (0x132, 2, "2020:01:02 03:04:05"), (0x13B, 2, "Old Artist")]])
    cmt2 = build([[(0x8827, 3, [100]), (0x9003, 2, "2020:01:02 03:04:05"),
                   (0xA431, 2, SERIAL)]])
    cmt3 = build([[(0x6, 2, "Canon EOS Test"), (0x7, 2, "Firmware Version 1.0.0")]])
    cmt4 = build([[(0x0, 1, [2, 3, 0, 0]), (0x1, 2, "S")]])
    xmp_box = box(b"uuid", XMP_UUID + xmp_packet('xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
                                                 'xmp:Rating="3"')) if xmp else b""
    prvw = box(b"uuid", PRVW_UUID + bytes(8) + box(b"PRVW", bytes(8) + JPEG))

    def layout(ctbo: bytes, co64: int, stco: int) -> bytes:
        canon = box(b"uuid", CANON_UUID + box(b"CNCV", b"CanonCR3_001/00.09.00/00.00.00")
                    + ctbo + box(b"CMT1", cmt1) + box(b"CMT2", cmt2) + box(b"CMT3", cmt3)
                    + (box(b"CMT4", cmt4) if gps else b"") + box(b"THMB", bytes(16) + JPEG))
        traks = (_trak(full_box(b"co64", 0, struct.pack(">IQ", 1, co64)) + extra_stbl,
                       [len(RAW)])
                 + _trak(full_box(b"stco", 0, struct.pack(">II", 1, stco)), [len(JPEG)],
                         jpeg_ref))
        ftyp = box(b"ftyp", b"crx " + struct.pack(">I", 1) + b"crx isom")
        return ftyp + box(b"moov", canon + full_box(b"mvhd", 0, bytes(96)) + traks)

    head = layout(_ctbo([(0, 0, 0)] * (5 if ctbo_extra else 4)), 0, 0)
    xmp_at, prvw_at = len(head), len(head) + len(xmp_box)
    mdat_at = prvw_at + len(prvw)
    mdat = box(b"mdat", RAW + JPEG)
    entries = [(1, xmp_at if xmp else 0, len(xmp_box)), (2, prvw_at, len(prvw)),
               (3, mdat_at, len(mdat)), (4, 0, 0)] + ([ctbo_extra] if ctbo_extra else [])
    first = mdat_at + 8 + chunk_shift if chunk_at is None else chunk_at
    head = layout(_ctbo(entries), first, mdat_at + 8 + len(RAW))
    return head + xmp_box + prvw + mdat


def chunks(data: bytes) -> list[bytes]:
    """The bytes each track's chunks cover, in track order."""
    moov = next(b for b in parse_boxes(data, lazy=LAZY_TYPES).boxes if b.type == b"moov")
    return [data[a : a + n] for stbl in stbls(moov) for a, n in chunk_spans(stbl) or ()]


def ctbo(data: bytes) -> list[tuple[int, int, int]]:
    at = data.index(b"CTBO") + 4
    n = struct.unpack_from(">I", data, at)[0]
    return [struct.unpack_from(">IQQ", data, at + 4 + 20 * k) for k in range(n)]


def top_boxes(data: bytes) -> list[tuple[bytes, bytes | None, int, int]]:
    return [(b.type, b.uuid, b.offset, b.header_len + b.body_len)
            for b in parse_boxes(data, lazy=LAZY_TYPES).boxes]


def canon_children(data: bytes) -> list[bytes]:
    moov = next(b for b in parse_boxes(data, lazy=LAZY_TYPES).boxes if b.type == b"moov")
    canon = next(c for c in moov.children if c.type == b"uuid" and c.uuid == CANON_UUID)
    return [c.type for c in canon.children]


def check_ctbo(data: bytes) -> None:
    """CTBO says where the XMP box, the preview and mdat are, as ExifTool keeps it."""
    where = {}
    for t, u, off, size in top_boxes(data):
        key = {XMP_UUID: 1, PRVW_UUID: 2}.get(u) if t == b"uuid" else 3 if t == b"mdat" else 0
        where.setdefault(key, (off, size))
    for cid, off, size in ctbo(data):
        if cid in (1, 2, 3):
            assert (off, size) == where.get(cid, (0, 0)), (cid, off, size, where)


def et_tags(path: Path) -> dict:
    """``exiftool -a -G1`` without the file system's tags and the ones a move changes."""
    out = exiftool(path, "-a", "-G1")
    return {k: v for k, v in out.items() if k.split(":")[0] not in ("System", "File")
            and k not in ("SourceFile", "QuickTime:MediaDataOffset", "ExifTool:Warning")}


def warnings_of(path: Path) -> list[str]:
    out = exiftool(path, "-a", "-Warning", "-Error")
    return sorted(str(v) for k, v in out.items() if k != "SourceFile")


def check_write(path: Path, changes: dict, expect: dict[str, object],
                gone: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """Write ``changes``: ExifTool reads ``expect`` (``None``: the tag is gone), every other
    tag as before, no new warning; every chunk holds its old bytes; CTBO is right."""
    before, old = path.read_bytes(), et_tags(path)
    old_warnings = warnings_of(path)
    engine.write_metadata(path, changes)
    after, new = path.read_bytes(), et_tags(path)
    assert chunks(after) == chunks(before)
    check_ctbo(after)
    assert warnings_of(path) == old_warnings
    for key, value in expect.items():
        assert new.get(key) == value, (key, new.get(key))
    same = {k: v for k, v in old.items() if k not in expect and not k.startswith("Composite:")}
    assert {k: new.get(k) for k in same} == same
    assert set(new) - set(old) - set(expect) <= {k for k in new if k.startswith("Composite:")}
    for text in gone:
        assert text.encode() not in after
    return old, new


WRITES = {"Make": "Maker Co", "Artist": "Jane Doe, a much longer artist name",
          "DateTimeOriginal": "2024:05:06 07:08:09", "ISO": "400", "GPSLatitude": "10.5",
          "GPSLatitudeRef": "N", "SerialNumber": None, "xmp/dc:title": "Hello CR3"}
READS = {"IFD0:Make": "Maker Co", "IFD0:Artist": "Jane Doe, a much longer artist name",
         "ExifIFD:DateTimeOriginal": "2024:05:06 07:08:09", "ExifIFD:ISO": 400,
         "GPS:GPSLatitude": "10 deg 30' 0.00\"", "GPS:GPSLatitudeRef": "North",
         "ExifIFD:SerialNumber": None, "XMP-dc:Title": "Hello CR3"}


# -- a CR3 built here -------------------------------------------------------------------------


@needs_exiftool
def test_edits_land_in_their_blocks_and_every_offset_follows(tmp_path: Path) -> None:
    path = tmp_path / "x.cr3"
    path.write_bytes(data := build_cr3())
    assert exiftool(path)["SerialNumber"] == SERIAL
    check_write(path, WRITES, READS, gone=(SERIAL,))
    new = path.read_bytes()
    assert top_boxes(new)[-1][2] != top_boxes(data)[-1][2]  # mdat moved, as ExifTool moves it
    # the maker notes, the thumbnail and the preview are copied byte for byte
    for part in (build([[(0x6, 2, "Canon EOS Test"), (0x7, 2, "Firmware Version 1.0.0")]]),
                 bytes(16) + JPEG, box(b"PRVW", bytes(8) + JPEG)):
        assert part in new
    # and the file we wrote is written again
    check_write(path, {"Artist": "Short", "xmp/dc:title": None},
                {"IFD0:Artist": "Short", "XMP-dc:Title": None})


@needs_exiftool
def test_new_cmt4_and_xmp_box_go_where_exiftool_puts_them(tmp_path: Path) -> None:
    path, theirs = tmp_path / "x.cr3", tmp_path / "theirs.cr3"
    path.write_bytes(build_cr3(gps=False, xmp=False))
    shutil.copy(path, theirs)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-GPSLatitude=10.5",
                    "-GPSLatitudeRef=N", "-XMP-dc:Title=Hi", str(theirs)], check=True)
    check_write(path, {"GPSLatitude": "10.5", "GPSLatitudeRef": "N", "xmp/dc:title": "Hi"},
                {"GPS:GPSVersionID": "2.3.0.0", "GPS:GPSLatitude": "10 deg 30' 0.00\"",
                 "GPS:GPSLatitudeRef": "North", "XMP-dc:Title": "Hi"})
    ours, ref = path.read_bytes(), theirs.read_bytes()
    assert canon_children(ours) == canon_children(ref)  # CMT4 after THMB
    assert [(t, u) for t, u, _o, _n in top_boxes(ours)] == \
        [(t, u) for t, u, _o, _n in top_boxes(ref)]  # the XMP box just before mdat
    assert {k: v for k, v in et_tags(path).items() if k.startswith(("GPS:", "XMP-dc:"))} == \
        {k: v for k, v in et_tags(theirs).items() if k.startswith(("GPS:", "XMP-dc:"))}


@needs_exiftool
def test_deleting_every_gps_tag_drops_cmt4_as_exiftool_does(tmp_path: Path) -> None:
    path = tmp_path / "x.cr3"
    path.write_bytes(build_cr3())
    check_write(path, {"GPSVersionID": None, "GPSLatitudeRef": None},
                {"GPS:GPSVersionID": None, "GPS:GPSLatitudeRef": None})
    assert b"CMT4" not in canon_children(path.read_bytes())


def test_iptc_and_ifds_cr3_lacks_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.cr3"
    path.write_bytes(build_cr3())
    assert_refused(path, {"iptc/Keywords": "x"}, "CR3 has no place for IPTC", "XMP")
    assert_refused(path, {"ifd1/Artist": "x"}, "IFD1", error=WriteError)


@pytest.mark.parametrize(("kw", "needle"), [
    ({"chunk_at": 100}, "a chunk at offset 100 lies outside the boxes metafs moves whole"),
    ({"chunk_shift": -400}, "(768 bytes) runs past the end of its 'uuid' box"),
    ({"ctbo_extra": (5, 12, 34)}, "CTBO box holds an entry 5"),
    ({"extra_stbl": full_box(b"saio", 0, bytes(8))}, "'saio' box"),
    ({"jpeg_ref": (2, 1)}, "does not say whether its media data is in this file"),
])
def test_offsets_it_cannot_fix_are_refused(tmp_path: Path, kw: dict, needle: str) -> None:
    path = tmp_path / "x.cr3"
    path.write_bytes(build_cr3(**kw))
    assert_refused(path, {"Artist": "x"}, "CR3:", needle, error=WriteError)


def test_offsets_into_another_file_stay(tmp_path: Path) -> None:
    path = tmp_path / "x.cr3"
    path.write_bytes(data := build_cr3(jpeg_ref=(1, 0)))  # the JPEG track: another file
    engine.write_metadata(path, {"Artist": "A much longer artist name than before"})
    new = path.read_bytes()
    assert chunks(new)[0] == chunks(data)[0] == RAW
    stco = data.index(b"stco") + 8
    assert new[new.index(b"stco") + 8 :][:8] == data[stco : stco + 8]  # not shifted


def test_a_cr3_brand_without_its_boxes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.cr3"
    path.write_bytes(build_cr3()[:24] + box(b"mdat", RAW))  # ftyp crx, no moov
    assert_refused(path, {"xmp/dc:title": "x"}, "0 readable moov boxes", error=WriteError)


# -- the corpus file --------------------------------------------------------------------------


@needs_exiftool
@pytest.mark.skipif(not CORPUS_CR3.exists(), reason="needs the shared corpus")
def test_corpus_cr3(tmp_path: Path) -> None:
    path = tmp_path / "CanonRaw.cr3"
    shutil.copy(CORPUS_CR3, path)
    path.chmod(0o644)
    old, new = check_write(path, WRITES, READS, gone=("613040000565",))
    assert str(old["ExifIFD:SerialNumber"]) == "613040000565"
    assert "XMP-xmp:Rating" in new and new["XMP-xmp:Rating"] == old["XMP-xmp:Rating"]


# -- through the mount ------------------------------------------------------------------------


@needs_mount
def test_one_tag_through_the_mount(mount) -> None:
    (mount.src / "raw.cr3").write_bytes(data := build_cr3())
    mount.sh("echo 'Mount User' > raw.cr3.meta/Artist")
    mount.commit()
    got = mount.exif("raw.cr3")
    assert got["IFD0:Artist"] == "Mount User"
    assert got["ExifIFD:SerialNumber"] == SERIAL
    assert chunks((mount.src / "raw.cr3").read_bytes()) == chunks(data)
    check_ctbo((mount.src / "raw.cr3").read_bytes())


def test_mutated_cr3_files_are_refused_or_written_right(tmp_path: Path) -> None:
    """A small seeded fuzz: a damaged CR3 is refused as it is, or written and read back with
    every other tag as before (support.mutants.judge_write); never a crash."""
    rnd, data = random.Random(16), build_cr3()
    for i in range(40):
        got = mutate(rnd, data)
        if got is None:
            continue
        kind, mutant = got
        path = tmp_path / f"m{i}.cr3"
        path.write_bytes(mutant)
        status, detail = judge_write(path, mutant, {"Artist": "Fuzz", "xmp/dc:title": "T"})
        assert status not in BUGS, (i, kind, status, detail)


def test_deleting_what_the_file_lacks_adds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.cr3"
    path.write_bytes(data := build_cr3(gps=False, xmp=False))
    result = engine.write_metadata(path, {"GPSLatitude": None, "xmp/dc:title": None})
    assert result.unchanged or path.read_bytes() == data
    assert path.read_bytes() == data
