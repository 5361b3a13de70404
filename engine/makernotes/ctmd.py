"""Canon Timed MetaData of a CR3 file (its "CTMD" track), read as ExifTool reads it
(``Canon.pm`` ProcessCTMD, ProcessExifInfo; ``QuickTime.pm`` for the track's sample):
family-0 group MakerNotes, family-1 group "TrackN" (the track's number).

The track's sample description is ``CTMD``; its first sample (``stsz``, ``stco``/``co64``)
holds little-endian records: size (int32u, header included), type (int16u), 6 more header
bytes, then the record's data.  Types 1 (TimeStamp), 4 and 5 (binary tables) are in the
generated ``Canon::CTMD`` table; types 7, 8 and 9 (ExifInfo) hold TIFF blocks, each as size
(int32u), tag (int32u), then the block: tag 0x927c is a Canon maker note (``Canon::Main``).
"""

from __future__ import annotations

import struct

from engine.model import TagValue

EXIF_INFO = (7, 8, 9)
MAKERNOTE = 0x927C
MAX_SAMPLE = 1 << 24


def ctmd_sample(data, boxes) -> tuple[bytes, int] | None:
    """(the first sample of the CTMD track, the track's number), or None."""
    for top in boxes:
        if top.type != b"moov":
            continue
        tracks = [c for c in top.children or () if c.type == b"trak"]
        for number, trak in enumerate(tracks, 1):
            stbl = _path(trak, (b"mdia", b"minf", b"stbl"))
            stsd = stbl.find(b"stsd") if stbl is not None else None
            if stsd is None or stsd.body(data)[12:16] != b"CTMD":
                continue
            sample = _first_sample(data, stbl)
            return (sample, number) if sample is not None else None
    return None


def _path(box, names):
    for name in names:
        box = box.find(name) if box is not None else None
    return box


def _first_sample(data, stbl) -> bytes | None:
    stsz, stco, co64 = stbl.find(b"stsz"), stbl.find(b"stco"), stbl.find(b"co64")
    if stsz is None or (stco is None and co64 is None):
        return None
    sizes = stsz.body(data)
    chunks = (stco or co64).body(data)
    if len(sizes) < 12 or len(chunks) < (12 if stco is not None else 16):
        return None
    size = struct.unpack_from(">I", sizes, 4)[0]  # (0: each sample's size follows)
    if size == 0 and len(sizes) >= 16:
        size = struct.unpack_from(">I", sizes, 12)[0]
    offset = struct.unpack_from(">Q", chunks, 8)[0] if stco is None else \
        struct.unpack_from(">I", chunks, 8)[0]
    if size > MAX_SAMPLE or offset + size > len(data):
        return None
    return bytes(data[offset : offset + size])


def decode_ctmd(sample: bytes, group: str, path: str,
                state: dict) -> tuple[list[TagValue], list[str]]:
    from engine.makernotes.decode import Walker

    walker = Walker(sample, path)
    walker.group = group
    walker.state.update(state)
    tags: list[TagValue] = []
    warnings: list[str] = []
    pos = 0
    while pos + 6 < len(sample):
        size, rtype = struct.unpack_from("<IH", sample, pos)
        if size < 12 or pos + size > len(sample):
            walker.warn("short or truncated CTMD record")
            break
        body = sample[pos + 12 : pos + size]
        if rtype in EXIF_INFO:
            more = _exif_info(body, group, path, walker.state)
            tags, warnings = tags + more[0], warnings + more[1]
        else:
            _record(walker, rtype, body, pos + 12)
        pos += size
    return walker.finish() + tags, walker.warnings + warnings


def _record(walker, rtype: int, body: bytes, pos: int) -> None:
    from engine.makernotes.tables import TABLES

    table = TABLES["Canon::CTMD"]
    for cond, sub, where in table[5].get(rtype, ()):
        if walker.holds(cond):
            walker.subdir(sub, where, body, pos, 0, "<")
            return
    variant = walker.choose(table[4].get(rtype, ()))
    if variant is not None:
        walker.state["$byte_order"] = "<"
        walker.add("Canon::CTMD", variant[0], "undef", body, "<", variant[3], variant[4])


def _exif_info(body: bytes, group: str, path: str,
               state: dict) -> tuple[list[TagValue], list[str]]:
    """The Canon maker notes of an ExifInfo record (TIFF blocks with a size and a tag)."""
    from engine.makernotes.decode import Walker

    tags: list[TagValue] = []
    warnings: list[str] = []
    pos = 0
    while pos + 8 < len(body):
        size, tag = struct.unpack_from("<II", body, pos)
        if size < 8 or pos + size > len(body) or tag not in (MAKERNOTE, 0x8769):
            break
        tiff = body[pos + 8 : pos + size]
        if tag == MAKERNOTE and len(tiff) >= 8 and tiff[:2] in (b"II", b"MM"):
            bo = "<" if tiff[:2] == b"II" else ">"
            walker = Walker(tiff, path)
            walker.group = group
            walker.state.update(state)
            walker.ifd("Canon::Main", struct.unpack_from(bo + "I", tiff, 4)[0], 0, bo)
            tags += walker.finish()
            warnings += walker.warnings
        pos += size
    return tags, warnings
