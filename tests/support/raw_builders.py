"""Small raw files built from their documented layouts (tests of the MRW and RAF writers)."""

from __future__ import annotations

import random
import struct

from support.tiff_builder import build


def mrw_file(tiff: bytes | None = None, image: int = 6000) -> bytes:
    """A Minolta MRW as a DiMAGE writes it: the MRM header holding PRD, TTW (``tiff``), WBG,
    RIF and PAD blocks, then ``image`` bytes of raw data (MinoltaRaw.pm's layout)."""
    if tiff is None:
        tiff = build([[(0x10F, 2, "Konica Minolta Camera, Inc."), (0x110, 2, "DiMAGE A2"),
                       (0x131, 2, "DiMAGE A2 Ver.1.12"),
                       ("sub", 0x8769, [(0x829A, 5, [(1, 5)]),
                                        (0x9003, 2, "2004:11:18 23:14:58")])]], bo=">")
    prd = b"27200001" + struct.pack(">4H4B4x", 2456, 3272, 2448, 3264, 12, 12, 89, 0)
    blocks = [(b"\0PRD", prd), (b"\0TTW", tiff), (b"\0WBG", bytes(range(12))),
              (b"\0RIF", bytes(60)), (b"\0PAD", bytes(32))]
    body = b"".join(tag + struct.pack(">I", len(d)) + d for tag, d in blocks)
    raw = random.Random(7).randbytes(image)
    return b"\0MRM" + struct.pack(">I", len(body)) + body + raw


def raf_file(jpeg: bytes, raw: int = 6000, pad: int = 0) -> bytes:
    """A Fujifilm RAF (FujiFilm.pm's layout): the 0x94-byte header, the JPEG at 0x94 with
    ``pad`` zero bytes after it, a RAF directory (0x5c: RawImageFullSize), a FujiIFD TIFF
    (0x64: RawImageFullWidth) and ``raw`` bytes of CFA data."""
    jpos = 0x94
    nxt = jpos + len(jpeg) + pad
    rafdir = struct.pack(">IHHHH", 1, 0x100, 4, 2464, 3280)
    ifd = build([[(0xF001, 4, [3280]), (0xF002, 4, [2464])]], bo=">")
    ifd_at = nxt + len(rafdir)
    head = bytearray(b"FUJIFILMCCD-RAW 0201FF383501FinePix X100".ljust(0x3C, b"\0"))
    head += b"0100".ljust(84 - 0x3C, b"\0")
    head += struct.pack(">10I", jpos, len(jpeg), nxt, len(rafdir), ifd_at,
                        len(ifd) + raw, 0, 0, 0, 0)
    head = head.ljust(jpos, b"\0")
    body = rafdir + ifd + random.Random(9).randbytes(raw)
    return bytes(head) + jpeg + bytes(pad) + body
