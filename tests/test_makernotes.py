"""Issue 14, item 1: maker notes, read only, decoded as ExifTool decodes them.

Built maker notes (Canon: offsets from the TIFF header, binary sub-tables; Nikon type 3: its
own TIFF header; Apple: offsets from the maker note) checked against what ExifTool prints;
bad data (offsets past the end, loops, counts past the end, an unknown maker, random damage)
gives warnings, never an error or a hang.  The corpus comparison with ExifTool is in
test_makernotes_corpus.py."""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

from engine.reader import PARTS, read_metadata_from

sys.path.insert(0, str(Path(__file__).parent))
from support.builders import segment  # noqa: E402
from support.makernote_builders import NOTE_AT, ifd, makernotes, tiff_with_note  # noqa: E402,F401

MAKERNOTES = PARTS | {"makernotes"}
def canon_note(pos: int) -> bytes:
    settings = struct.pack("<8h", 16, 1, 0, 3, 0, 2, 0, 0)  # MacroMode, SelfTimer, Quality...
    return ifd([(0x0001, 8, 8, settings), (0x0006, 2, 12, b"IMG:EOS JPG\0"),
                (0x0008, 4, 1, struct.pack("<I", 1171771))], pos)


def test_canon_ifd_and_camera_settings() -> None:
    tags, warnings = makernotes(tiff_with_note("Canon", canon_note))
    assert warnings == []
    assert tags["MacroMode"] == "Macro"
    assert tags["SelfTimer"] == "Off"
    assert tags["Quality"] == "Fine"
    assert tags["CanonFlashMode"] == "Off"
    assert tags["CanonImageType"] == "IMG:EOS JPG"
    assert tags["FileNumber"] == "117-1771"


def nikon_note(_pos: int) -> bytes:
    inner = ifd([(0x0001, 7, 4, b"0210"), (0x0002, 3, 2, struct.pack("<HH", 0, 200)),
                 (0x0004, 2, 8, b"FINE   \0")], 8)
    return b"Nikon\0\x02\x10\0\0" + b"II*\0" + struct.pack("<I", 8) + inner


def test_nikon_type3_own_tiff_header() -> None:
    tags, warnings = makernotes(tiff_with_note("NIKON CORPORATION", nikon_note))
    assert warnings == []
    assert tags == {"MakerNoteVersion": "2.10", "ISO": "200", "Quality": "Fine"}


def apple_note(_pos: int) -> bytes:
    body = ifd([(0x0001, 9, 1, struct.pack(">i", 14)),
                (0x0008, 10, 3, struct.pack(">6i", 1, 2, 3, 4, 5, 6))], 14, ">")
    return b"Apple iOS\0\0\x01MM" + body


def test_apple_offsets_from_the_note() -> None:
    tags, warnings = makernotes(tiff_with_note("Apple", apple_note, ">"))
    assert warnings == []
    assert tags["MakerNoteVersion"] == "14"
    assert tags["AccelerationVector"] == "0.5 0.75 0.8333333333"


def test_default_read_leaves_maker_notes_out() -> None:
    data = b"\xff\xd8" + segment(0xE1, b"Exif\0\0" + tiff_with_note("Canon", canon_note))
    data += b"\xff\xd9"
    plain = read_metadata_from(data, "x.jpg")
    assert not any(p.startswith("makernotes/") for p in plain.tags)
    full = read_metadata_from(data, "x.jpg", MAKERNOTES)
    assert full.tags["makernotes/MacroMode"].value == "Macro"
    assert full.tags["makernotes/MacroMode"].group == "Canon"
    assert not full.tags["makernotes/MacroMode"].writable
    assert full.tags["Make"].value == "Canon"


# --- bad data -------------------------------------------------------------------------------


def test_value_offset_past_the_end() -> None:
    def note(pos: int) -> bytes:
        good = ifd([(0x0006, 2, 4, b"abc\0")], pos)
        bad = struct.pack("<HHII", 0x0009, 2, 40, 1 << 30)  # OwnerName far past the end
        return struct.pack("<H", 2) + bad + good[2:]
    tags, warnings = makernotes(tiff_with_note("Canon", note))
    assert tags == {"CanonImageType": "abc"}
    assert warnings == ["x.tif: MakerNotes: Canon::Main tag 0x0009: value at offset "
                        "1073741824 (40 bytes) is outside the EXIF data"]


def test_entry_count_past_the_end() -> None:
    def note(pos: int) -> bytes:
        return struct.pack("<H", 0xFFF0) + ifd([(0x0006, 2, 4, b"abc\0")], pos)[2:]
    tags, warnings = makernotes(tiff_with_note("Canon", note))
    assert tags["CanonImageType"] == "abc"
    assert warnings[0].startswith("x.tif: MakerNotes: Canon::Main at offset 72 claims 65520 "
                                  "entries, only ")


def test_sub_ifd_read_once() -> None:
    # Nikon PreviewIFD (0x11) is an IFD at an offset: pointers that come back to one already
    # read (a loop, or the same pointer again) are not followed twice
    def note(_pos: int) -> bytes:
        ptr = (0x0011, 13, 1, struct.pack("<I", 44))
        inner = ifd([ptr, ptr, ptr], 8)  # 8 + 2 + 36 + 4 = 50... PreviewIFD at 44 (inside)
        preview = ifd([(0x0103, 3, 1, struct.pack("<H", 6))], 52)
        return (b"Nikon\0\x02\x10\0\0" + b"II*\0" + struct.pack("<I", 8) + inner[:36]
                + struct.pack("<HI", 0, 0) + b"\0\0" + preview)
    tags, warnings = makernotes(tiff_with_note("NIKON", note))
    assert warnings.count("x.tif: MakerNotes: Nikon::PreviewIFD at offset 126 was already "
                          "read (loop), ignored") == 2


def test_unknown_maker_and_text_note() -> None:
    tags, warnings = makernotes(tiff_with_note("Acme", lambda pos: b"\x01\x02garbage" * 4))
    assert (tags, warnings) == ({}, [])
    tags, warnings = makernotes(tiff_with_note("Canon", lambda pos: b"\x07"))
    assert tags == {}
    assert warnings == ["x.tif: MakerNotes: Canon maker note of 1 bytes is too short"]


def test_random_damage_never_raises() -> None:
    good = tiff_with_note("Canon", canon_note)
    nikon = tiff_with_note("NIKON", nikon_note)
    rng = random.Random(14)
    for base in (good, nikon) * 150:
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(NOTE_AT, len(data))] = rng.randrange(256)
        data = bytes(data[: rng.randint(NOTE_AT, len(data))])
        tags, warnings = makernotes(data)
        assert all(isinstance(v, str) for v in tags.values())
