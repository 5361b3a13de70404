"""Issue 14, item 1 (continued): the maker-note data outside the EXIF MakerNote, read as
ExifTool reads it: FLIR thermal data (JPEG APP1 "FLIR" chunks, FLIR.pm), Canon CIFF records
(JPEG APP0 "HEAPJPGM", CanonRaw.pm), Minolta MRW blocks (MinoltaRaw.pm), Qualcomm camera
attributes (JPEG APP7, Qualcomm.pm), Canon CR3 timed metadata (CTMD, Canon.pm); and the
few-line Perl conversions of ExifTool's tables (engine.makernotes.perl_stmt).  Bad data gives
warnings, never an error or a hang."""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

import pytest

from engine.errors import EngineError
from engine.reader import PARTS, read_metadata_from

sys.path.insert(0, str(Path(__file__).parent))
from support.builders import segment  # noqa: E402

MAKERNOTES = PARTS | {"makernotes", "flir"}


def jpeg(*segments: bytes) -> bytes:
    return b"\xff\xd8" + b"".join(segments) + b"\xff\xd9"


def tags_of(data: bytes, prefix: str = "makernotes/") -> dict[str, tuple[str, str]]:
    md = read_metadata_from(data, "x.jpg", MAKERNOTES)
    return {t.name: (t.group, t.value) for t in md.tags.values() if t.path.startswith(prefix)}


# --- Perl conversions with statements --------------------------------------------------------


@pytest.mark.parametrize(("code", "value", "shown"), [
    ("my @v = split ' ', $val; return 'n/a' if $v[0] == 65535 or not $v[1]; "
     "sprintf \"%.2g %.2g\", $v[0]/$v[1], $v[2]/$v[3];", "160 320 120 240", "0.5 0.5"),
    ("my @v = split ' ', $val; return 'n/a' if $v[0] == 65535 or not $v[1]; 1",
     "65535 0 0 0", "n/a"),
    ('sprintf("%.2d:%.2d",split(" ", $val))', "5 25", "05:25"),
    ('my @v=split(" ",$val); $_/=1000 foreach @v; sprintf("%.2f %.2f",$v[0],$v[1])',
     "1500 -250", "1.50 -0.25"),
    ('join(" ", reverse split(" ", $val))', "5760 8640", "8640 5760"),
    ('unpack "H*", pack "C*", split " ", $val', "0 0 106 13", "00006a0d"),
    ('$val=sprintf("%x",$val);$val=~s/(.{3})$/\\.$1/;$val', "4098", "1.002"),
    ('my @v=split " ",$val; "$v[0] (min $v[1], max $v[2])"', "0 -2 2", "0 (min -2, max 2)"),
    ('$val =~ /^(\\d{4})(\\d{2})(\\d{2})$/ and return "$1:$2:$3"; return "Unknown ($val)";',
     "20070913", "2007:09:13"),
    ('$val =~ /^(\\d{4})(\\d{2})(\\d{2})$/ and return "$1:$2:$3"; return "Unknown ($val)";',
     "x", "Unknown (x)"),
    ("my %a = (1 => 'Left', 2 => 'Right'); my ($a, $b) = split ' ', $val; "
     "return 'Off' unless $a; $a{$a} || \"Unknown ($a)\"", "2 0", "Right"),
    ("my @v = split ' ', $val; my @n = ('Normal', 'Fast'); $val = $n[$v[0]] || 'x'; "
     "$val .= \", Sequence: $v[1]\"; return $val;", "1 7", "Fast, Sequence: 7"),
    ("my %t = (1 => 'SQ', 2 => 'HQ'); my $c = $$self{Type} =~ /^SX/ ? \\%t : \\%t; "
     "return $$c{$val} ? $$c{$val} : \"Unknown ($val)\";", "2", "HQ"),
    ("$_ = $val ? DecodeBits($val, { 0 => 'MF', 1 => 'D', 2 => 'G' }) : 'AF'; "
     "s/,//g; s/\\bD G\\b/G/; $_", "6", "G"),
    ("if ($val > 2) { return 'big' } elsif ($val > 1) { 'mid' } else { 'small' }", "1.5",
     "mid"),
])
def test_perl_statements(code: str, value: str, shown: str) -> None:
    import engine.makernotes.convert  # noqa: F401 - the helper functions
    from engine.makernotes.perl import _s, compile_code

    fn = compile_code(code)
    assert fn is not None
    assert _s(fn(value, {})) == shown


def test_perl_statement_sets_the_readers_state_only_through_self() -> None:
    import engine.makernotes.convert  # noqa: F401
    from engine.makernotes.perl import compile_code

    state = {"FILE_TYPE": "MRW"}
    fn = compile_code('my $x = 3; $$self{Seen} = $x if $$self{FILE_TYPE} eq "MRW"; $val')
    assert fn is not None and fn("v", state) == "v"
    assert state == {"FILE_TYPE": "MRW", "Seen": 3.0}  # ($x stays local)


def test_conversion_lists_one_per_value() -> None:
    # PrintConv => [\\%disableEnable, 'sprintf("Max %.0f",$val)'] (CanonCustom), ValueConv
    # => [undef, '...']: value i by conversion i, the values after the list as read
    from engine.makernotes.decode import Walker, run_each
    from engine.makernotes.tables import MAPS

    disable = next(i for i, m in enumerate(MAPS) if m == {"0": "Disable", "1": "Enable"})
    walker = Walker(b"", "x")
    shown = walker.print_each(("%", 'sprintf("Max %.0f",$val)'), "0 3200.4 7", disable)
    assert shown == "Disable; Max 3200; 7"
    assert walker.print_each(("%", "REPEAT"), "1 0", disable) == "Enable; Disable"
    assert run_each((None, "$val * 2"), "1 2 3", {}, " ") == "1 4 3"


def test_unknown_perl_is_left_out() -> None:
    from engine.makernotes.perl import compile_code

    assert compile_code("foreach my $x (@a) { $y .= $x }") is None
    assert compile_code("while (1) { }") is None
    from engine.makernotes.convert import run

    assert run("$val =~ tr/a-z/A-Z/; $val", "abc", {}) == "abc"  # (tr ranges: as read)


# --- FLIR (APP1) -----------------------------------------------------------------------------


def fff_block() -> bytes:
    """An FFF block (big-endian) with a CameraInfo record (little-endian, as FLIR cameras
    write it) and a PaletteInfo record."""
    info = bytearray(0x470)
    struct.pack_into("<H", info, 0, 2)  # byte-order check word (2 in the record's order)
    struct.pack_into("<f", info, 0x20, 0.95)  # Emissivity
    struct.pack_into("<f", info, 0x24, 1.5)  # ObjectDistance
    struct.pack_into("<f", info, 0x28, 293.15)  # ReflectedApparentTemperature (K)
    info[0xD4:0xD4 + 8] = b"FLIR_i7\0"  # CameraModel
    struct.pack_into("<IIh", info, 0x384, 1328969828, 253, -60)  # DateTimeOriginal
    palette = bytearray(0x70)
    palette[0] = 224  # PaletteColors
    palette[0x50:0x55] = b"Iron\0"  # PaletteName
    head = bytearray(0x40)
    head[:4] = b"FFF\0"
    head[4:8] = b"Cam\0"
    struct.pack_into(">III", head, 0x14, 100, 0x40, 2)
    records = [(0x20, bytes(info)), (0x22, bytes(palette))]
    directory, body, at = b"", b"", 0x40 + 0x20 * len(records)
    for rtype, rec in records:
        directory += struct.pack(">HHIIII", rtype, 1, 100, 1, at + len(body), len(rec))
        directory += b"\0" * 12
        body += rec
    return bytes(head) + directory + body


def flir_segments(block: bytes, parts: int = 2) -> list[bytes]:
    step = -(-len(block) // parts)
    chunks = [block[i:i + step] for i in range(0, len(block), step)]
    return [segment(0xE1, b"FLIR\0\x01" + bytes([n, len(chunks) - 1]) + c)
            for n, c in enumerate(chunks)]


def test_flir_app1_chunks() -> None:
    tags = tags_of(jpeg(*flir_segments(fff_block())), "flir/")
    assert tags["CreatorSoftware"] == ("FLIR", "Cam")
    assert tags["Emissivity"] == ("FLIR", "0.95")
    assert tags["ObjectDistance"][1] == "1.50 m"
    assert tags["ReflectedApparentTemperature"][1] == "20.0 C"
    assert tags["CameraModel"][1] == "FLIR_i7"
    assert tags["DateTimeOriginal"][1] == "2012:02:11 15:17:08.253+01:00"  # (UTC 14:17)
    assert tags["PaletteColors"][1] == "224"
    assert tags["PaletteName"][1] == "Iron"
    assert "CameraInfoByteOrder" not in tags  # (hidden, as ExifTool hides it)


def test_flir_chunks_that_disagree_are_not_read() -> None:
    segs = flir_segments(fff_block(), 3)
    bad = segs[1][:11] + b"\x07" + segs[1][12:]  # another chunk count
    assert tags_of(jpeg(segs[0], bad, segs[2]), "flir/") == {}


# --- Canon CIFF (APP0) -----------------------------------------------------------------------


def ciff_segment() -> bytes:
    """A CIFF heap: the root holds an ImageDescription heap (0x2804) with
    CanonFileDescription, the MakeModel record, and ShutterReleaseMethod in its entry."""
    sub_values = b"A description\0\0\0"
    sub_dir = struct.pack("<H", 1) + struct.pack("<HII", 0x0805, len(sub_values), 0)
    sub = sub_values + sub_dir + struct.pack("<I", len(sub_values))
    make_model = b"Canon\0Canon PowerShot A5\0"
    values = sub + make_model
    entries = [struct.pack("<HII", 0x2804, len(sub), 0),
               struct.pack("<HII", 0x080A, len(make_model), len(sub)),
               struct.pack("<HHHHH", 0x5010, 2, 0, 0, 0)]  # in the entry: int16u 2
    root = values + struct.pack("<H", len(entries)) + b"".join(entries)
    root += struct.pack("<I", len(values))
    return segment(0xE0, b"II" + struct.pack("<I", 14) + b"HEAPJPGM" + root)


def test_ciff_records() -> None:
    tags = tags_of(jpeg(ciff_segment()))
    assert tags["CanonFileDescription"] == ("CIFF", "A description")
    assert tags["Make"] == ("CIFF", "Canon")
    assert tags["Model"] == ("CIFF", "Canon PowerShot A5")
    assert tags["ShutterReleaseMethod"] == ("CIFF", "Continuous Shooting")


# --- Minolta MRW, Qualcomm APP7, Canon CTMD --------------------------------------------------


def mrw_file() -> bytes:
    prd = b"27200001" + struct.pack(">HHHHBBB", 2456, 3272, 2448, 3264, 12, 12, 0x59)
    prd += b"\0" * 4 + b"\x01"
    blocks = b"\0PRD" + struct.pack(">I", len(prd)) + prd
    return b"\0MRM" + struct.pack(">I", len(blocks)) + blocks


def test_mrw_blocks() -> None:
    from engine.makernotes.mrw import decode_mrw

    tags, warnings = decode_mrw(mrw_file(), "x.mrw", {"FILE_TYPE": "MRW"})
    shown = {t.name: (t.group, t.value) for t in tags}
    assert warnings == []
    assert shown["FirmwareID"] == ("MinoltaRaw", "27200001")
    assert shown["SensorWidth"][1] == "3272"
    assert shown["StorageMethod"][1] == "Linear"
    assert shown["BayerPattern"][1] == "RGGB"


def qualcomm_segment() -> bytes:
    out = b"\x1aQualcomm Camera Attributes"
    for name, fmt, raw in ((b"aec_current_sensor_luma", 0, b"\x16"),
                           (b"asf5_exposure_index_1", 2, struct.pack("<H", 180)),
                           (b"awb_cct[2]", 5, struct.pack("<i", -7))):
        out += struct.pack("<HB", len(raw), len(name)) + name + bytes([fmt]) + b"\x01\0\x01\0"
        out += raw
    return segment(0xE7, out)


def test_qualcomm_attributes() -> None:
    tags = tags_of(jpeg(qualcomm_segment()))
    assert tags == {"AECCurrentSensorLuma": ("Qualcomm", "22"),
                    "ASF5ExposureIndex1": ("Qualcomm", "180"),
                    "AWBCct02": ("Qualcomm", "-7")}


def ctmd_sample() -> bytes:
    stamp = struct.pack("<HHBBBBBB", 0, 2018, 2, 21, 12, 8, 56, 21)
    focal = struct.pack("<HH", 15, 1)
    records = [(1, stamp), (4, focal), (99, b"????")]
    return b"".join(struct.pack("<IH", 12 + len(r), t) + b"\0\0\0\x01\xff\xff" + r
                    for t, r in records)


def test_ctmd_records() -> None:
    from engine.makernotes.ctmd import decode_ctmd

    tags, warnings = decode_ctmd(ctmd_sample(), "Track4", "x.cr3", {})
    assert warnings == []
    assert {t.name: (t.group, t.value) for t in tags} == {
        "TimeStamp": ("Track4", "2018:02:21 12:08:56.21"),
        "FocalLength": ("Track4", "15.0 mm")}


# --- bad data --------------------------------------------------------------------------------


def test_random_damage_never_raises() -> None:
    from engine.makernotes.ctmd import decode_ctmd
    from engine.makernotes.mrw import decode_mrw

    rng = random.Random(14)
    blocks = {"flir": fff_block(), "ciff": ciff_segment(), "mrw": mrw_file(),
              "qualcomm": qualcomm_segment(), "ctmd": ctmd_sample(), "sr2": sony_raw(7)}
    for _ in range(60):
        for kind, good in blocks.items():
            data = bytearray(good)
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data[: rng.randint(1, len(data))])
            if kind == "flir":
                found = tags_of(jpeg(*flir_segments(data)), "flir/")
            elif kind in ("ciff", "qualcomm"):
                found = tags_of(jpeg(data))
            elif kind == "sr2":
                try:  # (a damaged TIFF header is the container's EngineError)
                    md = read_metadata_from(data, "x.arw", MAKERNOTES)
                except EngineError:
                    continue
                found = {t.name: t.value for t in md.tags.values()}
            elif kind == "mrw":
                found = {t.name: t.value for t in decode_mrw(data, "x", {})[0]}
            else:
                found = {t.name: t.value for t in decode_ctmd(data, "Track1", "x", {})[0]}
            assert all(isinstance(v, str | tuple) for v in found.values())


def test_canon_sub_directory_read_only_if_its_size_word_holds() -> None:
    # Canon::Validate: CameraSettings' first int16u is its size in bytes (ExifTool warns
    # "Invalid CanonCameraSettings data" and skips it otherwise)
    from support.makernote_builders import ifd, makernotes, tiff_with_note

    def note(size_word: int):
        settings = struct.pack("<8h", size_word, 1, 0, 3, 0, 2, 0, 0)
        return lambda pos: ifd([(0x0001, 8, 8, settings)], pos)
    assert makernotes(tiff_with_note("Canon", note(16)))[0]["MacroMode"] == "Macro"
    assert "MacroMode" not in makernotes(tiff_with_note("Canon", note(99)))[0]


def sony_raw(key: int) -> bytes:
    """A little-endian TIFF: IFD0 (Make SONY, DNGPrivateData -> SR2Private IFD), the
    SR2Private IFD (offset, length and key of the SR2SubIFD) and the SR2SubIFD encrypted
    (ExifTool's Decrypt is its own inverse: the data XORed with a pad)."""
    from support.makernote_builders import ifd

    from engine.makernotes.sr2 import decrypt

    sub_at = 200
    sub = ifd([(0x7300, 3, 4, struct.pack("<4H", 512, 512, 512, 512))], sub_at)
    sub += b"\0" * (-len(sub) % 4)
    private = ifd([(0x7200, 4, 1, struct.pack("<I", sub_at)),
                   (0x7201, 4, 1, struct.pack("<I", len(sub))),
                   (0x7221, 4, 1, struct.pack("<I", key))], 100)
    ifd0 = ifd([(0x010F, 2, 5, b"SONY\0"), (0xC634, 1, 4, struct.pack("<I", 100))], 8)
    data = (b"II*\0" + struct.pack("<I", 8) + ifd0).ljust(100, b"\0") + private
    return data.ljust(sub_at, b"\0") + decrypt(sub, key)


def test_sony_sr2_private_and_encrypted_sub_ifd() -> None:
    from engine.makernotes.sr2 import decrypt

    assert decrypt(decrypt(b"12345678abc", 0x44332211), 0x44332211) == b"12345678abc"
    md = read_metadata_from(sony_raw(0x44332211), "x.arw", MAKERNOTES)
    shown = {t.name: (t.group, t.value) for t in md.tags.values()
             if t.path.startswith("makernotes/")}
    assert shown["SR2SubIFDKey"] == ("SR2", "0x44332211")
    assert shown["BlackLevel"] == ("SR2SubIFD", "512 512 512 512")
