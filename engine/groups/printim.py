"""PrintIM (Epson Print Image Matching): ExifTool shows only its version (PrintIM.pm; the
other entries are undocumented).  The block is EXIF tag 0xC4A5, or sits in a maker note
(Olympus, Casio, Sanyo...), where ExifTool's maker-note tables find it."""

from __future__ import annotations

from engine.groups.common import jpeg_segments, tag, tiff_entry, tiff_structure

PART, GROUP = "printim", "PrintIM"
PRINTIM_TAG = 0xC4A5
MAKER_NOTE_TAG = 0x927C
MAGIC = b"PrintIM"


def read(data, blocks, md) -> tuple[list, list[str]]:
    block = tiff_entry(blocks, PRINTIM_TAG)
    for seg in jpeg_segments(data, blocks, md) or () if block is None else ():
        if seg.marker == 0xE6 and seg.payload.startswith(b"EPPIM\0"):  # Epson APP6: a TIFF
            pos = seg.payload.find(MAGIC)
            block = seg.payload[pos:pos + 16] if pos >= 0 else None
            break
    if block is None:
        note = maker_note(blocks)
        pos = note.find(MAGIC) if note else -1  # a maker note's PrintIM entry
        block = note[pos:pos + 16] if pos >= 0 else None
    if block is None or len(block) <= 15 or not block.startswith(MAGIC):
        return [], []
    version = block[8:12].decode("latin-1")
    return [tag(PART, GROUP, "PrintIMVersion", version)], []


def maker_note(blocks) -> bytes | None:
    st = tiff_structure(blocks)
    ifd = st.get("ExifIFD") if st is not None else None
    return next((e.raw for e in ifd.entries if e.tag == MAKER_NOTE_TAG), None) if ifd else None
