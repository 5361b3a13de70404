"""Canon CR3: ISO base media boxes holding TIFF blocks.

CR3 keeps its TIFF blocks in ``moov/uuid(Canon)`` boxes ``CMT1`` (IFD0), ``CMT2`` (ExifIFD),
``CMT3`` (maker notes), ``CMT4`` (GPS), and its XMP in a top-level ``uuid`` box.  It is sniffed
by its ``ftyp`` brand (``crx ``) with the HEIF brands and read through ``HeifFormat``; written
by engine.containers.cr3_write, validated with ``cr3_invariants``.
"""

from __future__ import annotations

import struct

from engine.containers.isobmff import CANON_UUID, LAZY_TYPES, XMP_UUID, Box, parse_boxes
from engine.model import Blocks

CR3_TIFF_BOXES = {b"CMT1": "IFD0", b"CMT2": "ExifIFD", b"CMT3": "MakerNotes", b"CMT4": "GPS"}


def canon_box(boxes: list[Box]) -> Box | None:
    """The first ``moov/uuid(Canon)`` box (its children parsed), if any."""
    for top in boxes:
        for c in (top.children or ()) if top.type == b"moov" else ():
            if c.type == b"uuid" and c.uuid == CANON_UUID:
                return c
    return None


def _canon_boxes(boxes: list[Box]) -> list[Box]:
    canon = canon_box(boxes)
    return list(canon.children or ()) if canon is not None else []


def cr3_tiff_blocks(data: bytes, boxes: list[Box]) -> dict[str, tuple[bytes, int]]:
    """CR3: the TIFF blocks in ``moov/uuid(Canon)``, by what their first IFD is (IFD0,
    ExifIFD, MakerNotes, GPS): {name: (bytes starting with a TIFF header, file offset)}."""
    out: dict[str, tuple[bytes, int]] = {}
    for cmt in _canon_boxes(boxes):
        name = CR3_TIFF_BOXES.get(cmt.type)
        if name and name not in out:
            out[name] = (cmt.body(data), cmt.data_offset)
    return out


def cr3_blocks(data: bytes, boxes: list[Box], b: Blocks, warn: list[str]) -> None:
    for top in boxes:
        if top.type == b"uuid" and top.uuid == XMP_UUID and b.xmp is None:
            b.xmp = top.body(data)
    tiffs = cr3_tiff_blocks(data, boxes)
    if "IFD0" in tiffs and b.exif is None:
        b.exif, b.exif_offset = tiffs["IFD0"]
    for name in ("ExifIFD", "GPS"):  # CMT2 and CMT4; CMT3 (maker notes) is not decoded
        if name in tiffs:
            blob, offset = tiffs[name]
            b.extra_exif.append((blob, offset, name))


# --- what a rewrite must keep (the write validation, engine.containers.cr3_write) ------------

PRVW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")  # the preview's top-level box
_U32 = struct.Struct(">I")


def _u32s(payload: bytes, pos: int, count: int) -> list[int]:
    """``count`` big-endian 32-bit words from ``pos``; [] when they run past the end."""
    if count < 0 or pos + 4 * count > len(payload):
        return []
    return list(struct.unpack_from(f">{count}I", payload, pos))


def chunk_offsets(box: Box) -> list[int] | None:
    """The chunk offsets of an ``stco`` or ``co64`` payload; None when it is cut short."""
    p = box.payload or b""
    wide = box.type == b"co64"
    if len(p) < 8:
        return None
    n = _U32.unpack_from(p, 4)[0]
    if 8 + n * (8 if wide else 4) > len(p):
        return None
    if wide:
        return list(struct.unpack_from(f">{n}Q", p, 8))
    return _u32s(p, 8, n)


def _sample_sizes(stsz: bytes) -> list[int] | None:
    if len(stsz) < 12:
        return None
    size, count = struct.unpack_from(">II", stsz, 4)
    if size:
        return [size] * min(count, 1 << 20)
    sizes = _u32s(stsz, 12, count)
    return sizes if len(sizes) == count else None


def chunk_spans(stbl: Box) -> list[tuple[int, int]] | None:
    """(file offset, length) of each chunk a track's ``stbl`` places (stco/co64 + stsc +
    stsz); None when the tables are missing, cut short or disagree."""
    co = next((c for c in stbl.children or () if c.type in (b"stco", b"co64")), None)
    stsc, stsz = stbl.find(b"stsc"), stbl.find(b"stsz")
    if co is None or stsc is None or stsz is None:
        return None
    offsets, sizes = chunk_offsets(co), _sample_sizes(stsz.payload or b"")
    p = stsc.payload or b""
    runs = _u32s(p, 8, 3 * _U32.unpack_from(p, 4)[0]) if len(p) >= 8 else []
    if offsets is None or sizes is None or (offsets and not runs):
        return None
    firsts = runs[0::3]
    out, sample = [], 0
    for k in range(len(offsets)):
        i = max((j for j, f in enumerate(firsts) if f <= k + 1), default=None)
        if i is None:
            return None
        n = runs[3 * i + 1]
        if sample + n > len(sizes):
            return None
        out.append((offsets[k], sum(sizes[sample : sample + n])))
        sample += n
    return out


def stbls(box: Box) -> list[Box]:
    """Every ``stbl`` under ``box`` (the sample tables of its tracks), in file order."""
    return [m.find(b"stbl") for m in minfs(box) if m.find(b"stbl") is not None]


def minfs(box: Box) -> list[Box]:
    """Every ``minf`` under ``box`` (one per track), in file order."""
    out: list[Box] = []
    for c in box.children or ():
        out += [c] if c.type == b"minf" else minfs(c)
    return out


def media_here(minf: Box) -> bool | None:
    """Whether a track's chunks are in this file (True) or in another one (False), by the
    data reference each sample description names (ExifTool's rule: index 0, or a reference
    whose flags are 1, self-contained, is this file); None when that is mixed or unknown."""
    stbl, dinf = minf.find(b"stbl"), minf.find(b"dinf")
    stsd = stbl.find(b"stsd") if stbl is not None else None
    dref = dinf.find(b"dref") if dinf is not None else None
    refs: list[tuple[bytes, int]] = []
    p = (dref.payload or b"") if dref is not None else b""
    pos = 8
    while pos + 12 <= len(p) and len(refs) < (_U32.unpack_from(p, 4)[0] if len(p) >= 8 else 0):
        size, kind, flags = struct.unpack_from(">I4sI", p, pos)
        refs.append((kind, flags))
        pos += max(size, 12)
    d = (stsd.payload or b"") if stsd is not None else b""
    found, pos = 0, 8
    for _ in range(_U32.unpack_from(d, 4)[0] if len(d) >= 8 else 0):
        if pos + 16 > len(d) or not 16 <= _U32.unpack_from(d, pos)[0] <= len(d) - pos:
            return None
        idx = struct.unpack_from(">H", d, pos + 14)[0]
        if idx > len(refs):
            return None
        here = idx == 0 or (refs[idx - 1][1] == 1 and refs[idx - 1][0] != b"rsrc")
        found |= 1 if here else 2
        pos += _U32.unpack_from(d, pos)[0]
    return {1: True, 2: False}.get(found)


def cr3_invariants(data) -> dict[str, object]:
    """What a CR3 rewrite keeps: the bytes of every track's chunks (the raw image, the JPEG,
    the timed metadata), the preview and the thumbnail, and the maker notes (CMT3), which
    metafs never edits.  Digests, so a 30 MB raw image is not held twice."""
    import hashlib

    parsed = parse_boxes(data, lazy=LAZY_TYPES)
    chunks: list[object] = []
    for moov in (b for b in parsed.boxes if b.type == b"moov"):
        for minf in minfs(moov):
            if media_here(minf) is False or minf.find(b"stbl") is None:
                continue  # its chunks are in another file
            spans = chunk_spans(minf.find(b"stbl"))
            chunks.append(None if spans is None else [
                (n, hashlib.sha256(data[a : a + n]).hexdigest()) for a, n in spans])
    previews = [hashlib.sha256(b.body(data)).hexdigest() for b in parsed.boxes
                if b.type == b"uuid" and b.uuid == PRVW_UUID]
    for c in _canon_boxes(parsed.boxes):
        if c.type == b"THMB":
            previews.append(hashlib.sha256(c.body(data)).hexdigest())
    notes = cr3_tiff_blocks(data, parsed.boxes).get("MakerNotes", (b"", 0))[0]
    return {"image data changed": chunks, "the preview or thumbnail changed": previews,
            "the maker notes (CMT3) changed": hashlib.sha256(notes).hexdigest()}
