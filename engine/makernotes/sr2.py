"""Sony's SR2 private data of ARW/SR2 files, read as ExifTool reads it (``Sony.pm``
ProcessSR2, Decrypt; ``Exif.pm`` IFD0 tag 0xc634): family-0 group MakerNotes, family-1
groups SR2, SR2SubIFD, SR2DataIFD (SR2DataIFD1...).

In a Sony TIFF-based raw file, IFD0 tag 0xc634 (DNGPrivateData) is the offset of the
SR2Private IFD.  Its tags give the offset, length and key of the SR2SubIFD, which is
encrypted: ExifTool's Decrypt (a pad of 127 words from the key, each data word, big-endian,
XORed with the next pad word) gives an IFD whose value offsets are file offsets.
"""

from __future__ import annotations

import struct

from engine.model import TagValue

SR2_PRIVATE = 0xC634
MAX_SR2 = 1 << 22


def read_sr2(blocks, path: str, state: dict) -> tuple[list[TagValue], list[str]]:
    """The SR2 tags of the EXIF block (the whole file for a Sony raw), none if it has none."""
    from engine.groups.common import tiff_structure
    from engine.makernotes.decode import Walker

    tiff, st = blocks.exif, tiff_structure(blocks)
    entry = next((e for e in st.ifds[0].entries if e.tag == SR2_PRIVATE), None) \
        if st is not None and st.ifds else None
    if entry is None or len(entry.raw) != 4:
        return [], []
    bo = st.byte_order
    walker = Walker(tiff, path)
    walker.state.update(state)
    walker.ifd("Sony::SR2Private", struct.unpack_from(bo + "I", entry.raw)[0], 0, bo)
    tags, warnings = walker.finish(), walker.warnings
    found = _numbers(walker.state, "SR2SubIFDOffset", "SR2SubIFDLength", "SR2SubIFDKey")
    if found is None:
        return tags, warnings
    offset, length, key = found
    if not 0 < length <= MAX_SR2 or offset + length > len(tiff):
        return tags, warnings + [f"{path}: MakerNotes: SR2SubIFD at offset {offset} "
                                 f"({length} bytes) is outside the file"]
    inner = Walker(decrypt(bytes(tiff[offset : offset + length]), key), path)
    inner.state.update(state)
    inner.ifd("Sony::SR2SubIFD", 0, -offset, bo)
    return tags + inner.finish(), warnings + inner.warnings


def _numbers(state: dict, *names: str) -> tuple[int, ...] | None:
    out = []
    for name in names:
        text = str(state.get(name) or "").split()
        if not text or not text[0].isdigit():
            return None
        out.append(int(text[0]))
    return tuple(out)


def decrypt(data: bytes, key: int) -> bytes:
    """ExifTool's Sony Decrypt of ``data`` (whole big-endian words; a tail is kept)."""
    pad = [0] * 128
    for i in range(4):
        lo = (key & 0xFFFF) * 0x0EDD + 1
        hi = (key >> 16) * 0x0EDD + (key & 0xFFFF) * 0x02E9 + (lo >> 16)
        key = ((hi & 0xFFFF) << 16) + (lo & 0xFFFF)
        pad[i] = key
    pad[3] = (pad[3] << 1 | (pad[0] ^ pad[2]) >> 31) & 0xFFFFFFFF
    for i in range(4, 0x7F):
        pad[i] = ((pad[i - 4] ^ pad[i - 2]) << 1 | (pad[i - 3] ^ pad[i - 1]) >> 31) & 0xFFFFFFFF
    words = len(data) // 4
    values = list(struct.unpack_from(f">{words}I", data))
    for j in range(words):
        i = 0x7F + j
        pad[i & 0x7F] = pad[(i + 1) & 0x7F] ^ pad[(i + 65) & 0x7F]
        values[j] ^= pad[i & 0x7F]
    return struct.pack(f">{words}I", *values) + data[4 * words:]
