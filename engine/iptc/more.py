"""The IIM blocks after the first (the read-only "iptc2" part): ExifTool shows each IPTC
directory it meets after the standard one under family-1 groups IPTC2, IPTC3... (IPTC.pm
ProcessIPTC: a directory outside the standard place, or a second one in it, is numbered).

Where they are met, in ExifTool's reading order:
- a Nikon Capture record 0x9ef5f6e0 (``IPTCData``) in maker-note tag 0x0e01 (NikonCapture.pm;
  read in the EXIF, before the JPEG's APP13);
- every Photoshop resource 0x0404 of the image resources (JPEG APP13, TIFF tag 0x8649) but
  the one the writer edits (the first; in TIFF, none when IFD0 tag 0x83bb holds the IPTC);
- a FotoStation trailer's record 1 (FotoStation.pm), after the JPEG's EOI.
The first block stays in ``iptc/`` (written by metafs); these are shown, never written, with
paths ``iptc2/<Name>`` (a name of a later block numbered by engine.model.Metadata.add).
"""

from __future__ import annotations

import struct

PART = "iptc2"
IPTC_RESOURCE, IPTC_TIFF_TAG = 0x0404, 0x83BB
NIKON_CAPTURE_TAG, NIKON_CAPTURE_IPTC = 0x0E01, 0x9EF5F6E0
FOTOSTATION_SIG, FOTOSTATION_IPTC = b"\xa1\xb2\xc3\xd4", 1
MAX_RECORDS = 1000


def read(data, blocks, md) -> tuple[list, list[str]]:
    from engine.iptc.iim import decode_iptc

    out: list = []
    warnings: list[str] = []
    for n, iim in enumerate(later_blocks(data, blocks, md), start=2):
        tags, warns = decode_iptc(iim, path=md.path, group=f"IPTC{n}", folder=PART)
        out += tags
        warnings += warns
    return out, warnings


def later_blocks(data, blocks, md) -> list[bytes]:
    """The IIM blocks after the first, in ExifTool's order."""
    found = nikon_capture_iptc(blocks)
    irb_blocks = photoshop_iptc(data, blocks, md)
    from engine.groups.common import AS_TIFF

    has_tiff_iptc = md.format in AS_TIFF and _ifd0_entry(blocks, IPTC_TIFF_TAG) is not None
    found += irb_blocks if has_tiff_iptc else irb_blocks[1:]
    return found + fotostation_iptc(data, blocks, md)


def photoshop_iptc(data, blocks, md) -> list[bytes]:
    """The IIM of every 0x0404 resource of the file's image resources, in order."""
    from engine.groups.common import AS_TIFF, jpeg_segments
    from engine.groups.photoshop_irb import resources

    irbs: list[bytes] = []
    segments = jpeg_segments(data, blocks, md)
    if segments is not None:
        from engine.containers.jpeg import find_kind, photoshop_block

        covered = 0  # a run of APP13 segments is one block: its later segments are in it
        for i in find_kind(segments, "photoshop"):
            if i >= covered:
                irb, n = photoshop_block(segments, i)
                irbs.append(irb)
                covered = i + n
    elif md.format in AS_TIFF:
        irb = _ifd0_entry(blocks, 0x8649)
        irbs = [irb] if irb else []
    return [value for irb in irbs for rid, value in resources(irb) if rid == IPTC_RESOURCE]


def _ifd0_entry(blocks, tag_id: int) -> bytes | None:
    from engine.groups.common import tiff_structure

    st = tiff_structure(blocks)
    ifd0 = st.ifds[0] if st is not None and st.ifds else None
    return next((e.raw for e in ifd0.entries if e.tag == tag_id and e.raw), None) if ifd0 else None


def nikon_capture_iptc(blocks) -> list[bytes]:
    """The IIM of a Nikon Capture record in a Nikon (type 3) maker note."""
    from engine.errors import EngineError
    from engine.exif.ifd import parse_tiff
    from engine.groups.common import tiff_structure
    from engine.makernotes.custom import nikon_capture

    st = tiff_structure(blocks)
    exif_ifd = next((i for i in st.ifds if i.name == "ExifIFD"), None) if st else None
    note = next((e.raw for e in exif_ifd.entries if e.tag == 0x927C), b"") if exif_ifd else b""
    if not note.startswith(b"Nikon\0\x02") or len(note) < 18:
        return []
    try:
        inner = parse_tiff(note[10:])
    except EngineError:
        return []
    for e in inner.ifds[0].entries if inner.ifds else ():
        if e.tag == NIKON_CAPTURE_TAG and e.raw:
            return [v for tag, _fmt, v in nikon_capture(e.raw, {}) if tag == NIKON_CAPTURE_IPTC]
    return []


def fotostation_iptc(data, blocks, md) -> list[bytes]:
    """The IIM of a FotoStation trailer's IPTC record (records read from the end back, as
    ExifTool reads them)."""
    from engine.containers.trailers import find_trailers
    from engine.groups.common import jpeg_segments

    segments = jpeg_segments(data, blocks, md)
    if not segments or md.file_type == "RAF":
        return []
    last = segments[-1]
    trailers, _ = find_trailers(data, last.payload_offset + len(last.payload))
    out = []
    for t in trailers:
        if t.kind != "FotoStation":
            continue
        pos = t.end
        for _ in range(MAX_RECORDS):
            if pos - 10 < t.start or bytes(data[pos - 4:pos]) != FOTOSTATION_SIG:
                break
            rec, size = struct.unpack_from(">HI", data, pos - 10)
            if size < 10 or pos - size < t.start:
                break
            if rec == FOTOSTATION_IPTC:
                out.append(bytes(data[pos - size:pos - 10]))
            pos -= size
    return out
