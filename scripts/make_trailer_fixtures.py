#!/usr/bin/env python3
"""Generate ``fixtures/trailers/``: one small JPEG per trailer kind ExifTool knows.

    .venv/bin/python scripts/make_trailer_fixtures.py [--out DIR]

Each file is ``fixtures/exif_le.jpg`` with one trailer appended after EOI, built from the
layout ExifTool's modules document (AFCP.pm, CanonVRD.pm, FotoStation.pm, PhotoMechanic.pm,
MIE.pm, Samsung.pm, QuickTimeStream.pl for Insta360, Nikon.pm for NikonApp) or, for Google
motion photos, an XMP ``GCamera:MicroVideoOffset`` counted from the end of the file.  The
bytes are deterministic; ``tests/test_trailers.py`` grows APP1 past each one and lets
ExifTool judge.  (Maker-note previews after EOI need a camera's maker note: the test makes
them from corpus files with ExifTool at run time instead.)
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "fixtures" / "exif_le.jpg"


def _iim(record: int, dataset: int, value: bytes) -> bytes:
    return bytes((0x1C, record, dataset)) + struct.pack(">H", len(value)) + value


def afcp(at: int) -> bytes:
    """An AFCP trailer starting at file offset ``at``: an IPTC caption and a text entry,
    absolute offsets, big-endian (``AXS!``)."""
    values = [(b"IPTC", _iim(2, 120, b"AFCP caption")), (b"TEXT", b"AFCP text\0")]
    pos = at + 12 + 12 * len(values)
    dir_, vals = b"", b""
    for tag, val in values:
        dir_ += tag + struct.pack(">II", len(val), pos + len(vals))
        vals += val
    return (b"AXS!" + b"\x01\x00" + struct.pack(">HI", len(values), 0) + dir_ + vals
            + b"AXS!" + struct.pack(">II", at, 0))


def canon_vrd(_at: int) -> bytes:
    """An empty CanonVRD trailer (ExifTool's blank header and footer, no VRD blocks)."""
    header = b"CANON OPTIONAL DATA\0\0\x01\0\0\0\0\0\0"
    return header + b"CANON OPTIONAL DATA\0" + b"\0" * 42 + b"\xff\xd9"


def fotostation(_at: int) -> bytes:
    """One FotoStation record: IPTC (tag 1), 10-byte footer (tag, size, a1b2c3d4)."""
    data = _iim(2, 120, b"FotoStation caption")
    return data + struct.pack(">HI", 1, len(data) + 10) + b"\xa1\xb2\xc3\xd4"


def photo_mechanic(_at: int) -> bytes:
    """PhotoMechanic: IIM data (a caption), 4-byte size, ``cbipcbbl``."""
    data = _iim(2, 120, b"PhotoMechanic caption")
    return data + struct.pack(">I", len(data)) + b"cbipcbbl"


def _mie(tag: bytes, fmt: int, value: bytes) -> bytes:
    return b"~" + bytes((fmt, len(tag), len(value))) + tag + value


def mie(_at: int) -> bytes:
    """A MIE trailer: group 0MIE holding its type and the ``zmie`` signature, ended by a
    terminator element holding the trailer length (4 bytes, big endian)."""
    inner = _mie(b"0Type", 0x20, b"MIE") + _mie(b"zmie", 0, b"")
    body_len = len(inner) + 10  # with the terminator below
    head = b"~" + bytes((0x10, 4, body_len)) + b"0MIE"
    total = len(head) + body_len
    group = head + inner
    return group + b"~\0\0\x06" + struct.pack(">I", total) + b"\x10\x04"


def samsung(at: int) -> bytes:
    """A Samsung trailer: an Image_UTC_Data block, an audio block, the SEFH/SEFT directory
    and a QDIO block with the audio's ABSOLUTE start and end (``QDIOBS`` ending)."""
    blocks = [(0x0A01, b"Image_UTC_Data", b"1428432000000"),
              (0x0100, b"SoundShot_Meta_Info", b"RIFFfake-audio-data")]
    data, places = b"", []
    for typ, name, val in blocks:
        places.append((typ, len(data), 8 + len(name) + len(val)))
        data += struct.pack("<HHI", 0, typ, len(name)) + name + val
    dir_pos = len(data)
    sefh = b"SEFH" + struct.pack("<II", 101, len(blocks))
    for typ, off, size in places:
        sefh += struct.pack("<HHII", 0, typ, dir_pos - off, size)
    audio_start = at + places[1][1] + 8 + len(blocks[1][1])
    qdio = b"QDIO" + struct.pack("<IIII", 101, 1, audio_start, audio_start + len(blocks[1][2]))
    return (data + sefh + struct.pack("<I", len(sefh)) + b"SEFT"
            + qdio + struct.pack("<I", len(qdio)) + b"QDIO" + b"BS")


def insta360(_at: int) -> bytes:
    """An Insta360 trailer with no records: the 78-byte footer (length at 38, magic)."""
    footer = bytearray(78)
    struct.pack_into("<I", footer, 38, 78)
    footer[-32:] = b"8db42d694ccc418790edff439fe026bf"
    return bytes(footer)


def nikon_app(_at: int) -> bytes:
    """A NikonApp trailer: data, 4-byte big-endian total length, ``\\0 x6 /NIKON APP``."""
    data = b"NIKON APP test data\0" + b"\0" * 44
    total = len(data) + 20
    return data + struct.pack(">I", total) + b"\0\0\0\0\0\0/NIKON APP"


def motion_photo(base: bytes) -> bytes:
    """A Google motion photo: XMP GCamera:MicroVideo with the offset of a (fake) MP4 counted
    from the end of the file, the video appended after EOI."""
    video = struct.pack(">I", 24) + b"ftypisom" + b"\0\0\0\0isom" + b"mp42" + b"fake-mp4-data"
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:GCamera="http://ns.'
           b'google.com/photos/1.0/camera/" GCamera:MicroVideo="1" GCamera:MicroVideoVersion="1"'
           b' GCamera:MicroVideoOffset="' + str(len(video)).encode() + b'"'
           b' GCamera:MicroVideoPresentationTimestampUs="0"/></rdf:RDF></x:xmpmeta>')
    payload = b"http://ns.adobe.com/xap/1.0/\0" + xmp
    seg = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return base[:2] + seg + base[2:] + video


KINDS = {"afcp": afcp, "canon_vrd": canon_vrd, "fotostation": fotostation,
         "photo_mechanic": photo_mechanic, "mie": mie, "samsung": samsung,
         "insta360": insta360, "nikon_app": nikon_app}


def build(kind: str, base: bytes | None = None) -> bytes:
    base = BASE.read_bytes() if base is None else base
    if kind == "motion_photo":
        return motion_photo(base)
    return base + KINDS[kind](len(base))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "fixtures" / "trailers")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for kind in [*KINDS, "motion_photo"]:
        (args.out / f"{kind}.jpg").write_bytes(build(kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
