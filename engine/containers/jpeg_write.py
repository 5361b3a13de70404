"""JPEG: rebuild the metadata segments, copy everything from the first SOS on as a range.

EXIF is patched (engine.exif.block), XMP edited in place with Extended XMP split when
needed, IPTC edited inside the Photoshop APP13 block; other segments and their order, the scan
data and any trailer stay byte for byte.  MPF offsets follow images that move; so do the
absolute offsets inside trailers and maker-note pointers to previews after EOI
(engine.containers.trailers_write).
"""

from __future__ import annotations

import struct

from engine.containers import jpeg as J
from engine.containers.base import Layout
from engine.errors import WriteError
from engine.exif.block import patch_block
from engine.exif.ifd import parse_tiff
from engine.safewrite.safety import Piece
from engine.write.changes import Edits, iptc_iim


def _xmp_segments(segs, edits: Edits, path: str) -> None:
    """Edit the main XMP packet; split into Extended XMP when it outgrows one segment."""
    idx = J.find_kind(segs, "xmp")
    if edits.xmp_quick is not None:  # edited linearly (engine.xmp.quick), size checked there
        old, new = edits.xmp_quick
        if len(idx) != 1 or segs[idx[0]].payload[len(J.XMP_HEADER):] != old:
            raise WriteError("the XMP packet is not the one planned from", path=path)
        _put(segs, idx[0], J.APP1, J.XMP_HEADER + new, idx[0])
        return
    from engine.xmp.edit import edit_tree, extended_touched, split_extended

    old = segs[idx[0]].payload[len(J.XMP_HEADER):] if idx else None
    limit = J.MAX_PAYLOAD - len(J.XMP_HEADER)
    ext_idx = J.find_kind(segs, "xmp_ext")
    guid = J.extended_xmp_guid(old) if old is not None and ext_idx else None
    old_ext = J.assemble_extended_xmp(segs, guid, []) if guid else None
    if old_ext is not None and not extended_touched(old_ext, edits.xmp):
        old_ext = None  # the Extended XMP stays as it is
    root = edit_tree(old, edits.xmp, old_ext)
    main, ext = split_extended(root, limit)
    if old_ext is not None:  # merged into the main tree: its segments go (its bytes too)
        segs[:] = [s for i, s in enumerate(segs) if i not in set(ext_idx)]
        idx = J.find_kind(segs, "xmp")
    elif ext is not None and ext_idx:
        raise WriteError("the XMP would need a new Extended XMP part but the file already has "
                         "one; refusing to merge them", path=path)
    after = J.find_kind(segs, "exif")
    where = (after[-1] + 1) if after else J.insert_index(segs)
    _put(segs, idx[0] if idx else None, J.APP1, J.XMP_HEADER + main, where)
    if ext is not None:
        at = J.find_kind(segs, "xmp")[0] + 1
        _guid, ext_segs = J.extended_xmp_segments(ext)
        _insert(segs, at, ext_segs)


def plan_jpeg(data, edits: Edits, path: str, located: Layout | None = None) -> list[Piece]:
    located = located or J.JpegFormat.locate(data, path)
    layout = located.parsed
    if layout.sos_offset is None:
        raise WriteError("the JPEG has no image data (truncated or corrupt: no SOS marker); "
                         "refusing to write", path=path)
    segs = list(layout.segments)
    changed = False
    if edits.exif:
        slots = located.of("exif")
        if len(slots) > 1:
            raise WriteError("EXIF spread over several APP1 segments; refusing to rewrite it",
                             path=path)
        slot = slots[0] if slots else None
        old, header = (slot.data, slot.header) if slot else (None, J.EXIF_HEADER)
        payload = header + patch_block(old, edits.exif, path)  # odd headers kept as found
        if len(payload) > J.MAX_PAYLOAD:
            raise WriteError(f"the EXIF block would be {len(payload)} bytes, over the JPEG "
                             "segment limit; nothing was written", path=path)
        _put(segs, slot.where if slot else None, J.APP1, payload, J.insert_index(segs))
        changed = True
    if edits.xmp:
        _xmp_segments(segs, edits, path)
        changed = True
    if edits.iptc:
        _jpeg_iptc(segs, edits, path)
        changed = True
    if not changed:
        return [(0, len(data))]
    _fix_mpf(layout.segments, segs, path)
    head = b"".join(s.render() for s in segs)
    delta = len(head) - layout.tail_offset
    if delta == 0:
        return [head, (layout.tail_offset, len(data) - layout.tail_offset)]
    from engine.containers.trailers_write import move_tail

    return move_tail(data, layout, segs, delta, path)


def _fix_mpf(old_segs, segs, path: str) -> None:
    """MPF offsets count from the MPF header to images after EOI: when segments after the
    MPF segment change size, those images move and every non-zero offset must follow."""
    idx = J.find_kind(segs, "mpf")
    if not idx:
        return
    mpf = segs[idx[0]]
    # (by position in the file: _insert may have put a copy of it in ``segs``)
    old_i = next((i for i, s in enumerate(old_segs) if s is mpf or s.offset == mpf.offset >= 0),
                 None)
    if old_i is None:
        return
    old_after = sum(len(s.render()) for s in old_segs[old_i + 1 :])
    new_after = sum(len(s.render()) for s in segs[idx[0] + 1 :])
    delta = new_after - old_after
    if delta == 0:
        return
    tiff = bytearray(mpf.payload[4:])
    structure = parse_tiff(bytes(tiff), path=path)
    ifd = structure.get("IFD0")
    entry = next((e for e in ifd.entries if e.tag == 0xB002), None) if ifd else None
    if entry is None or entry.value_offset is None or len(entry.raw) % 16:
        raise WriteError("the MPF (multi-picture) index cannot be updated; refusing to move "
                         "the images after EOI", path=path)
    table = (ifd.offset, ifd.offset + 2 + 12 * len(ifd.entries) + 4)
    start, end = entry.value_offset, entry.value_offset + len(entry.raw)
    if structure.warnings or start < 8 or (start < table[1] and end > table[0]):
        # ExifTool: "Invalid offset for MPF0 tag 0xb002"; updating the entries there would
        # write over the MPF header or its directory
        why = (structure.warnings[0].split("EXIF: ", 1)[-1] if structure.warnings else
               f"its image list at offset {start} overlaps the MPF header or directory")
        raise WriteError(f"the MPF (multi-picture) index in APP2 at offset {mpf.offset} is "
                         f"damaged ({why}); refusing to move the images after EOI",
                         path=path, offset=mpf.offset)
    bo = structure.byte_order
    for k in range(len(entry.raw) // 16):
        at = entry.value_offset + 16 * k + 8
        off = struct.unpack_from(bo + "I", tiff, at)[0]
        if off:
            struct.pack_into(bo + "I", tiff, at, off + delta)
    segs[idx[0]] = J.make_segment(mpf.marker, mpf.payload[:4] + bytes(tiff))
    segs[idx[0]].prefix = mpf.prefix


def _insert(segs, at: int, new: list) -> None:
    """Insert ``new`` segments before ``segs[at]``.  Unknown bytes found before that segment
    stay where they were, right after the segment before them (so they are not described
    as following our new segment: ExifTool names the segment garbage follows)."""
    if new and at < len(segs) and segs[at].prefix:
        old = segs[at]
        new[0].prefix = old.prefix
        segs[at] = J.Segment(old.marker, old.offset, old.payload)  # a copy: the layout's own
    segs[at:at] = new                                               # segments stay as read


def _put(segs, index: int | None, marker: int, payload: bytes, insert_at: int) -> None:
    seg = J.make_segment(marker, payload)
    if index is None:
        _insert(segs, insert_at, [seg])
    else:
        seg.prefix = segs[index].prefix
        segs[index] = seg


def _jpeg_iptc(segs, edits: Edits, path: str) -> None:
    from engine.iptc.photoshop import replace_iptc

    idx = J.find_kind(segs, "photoshop")
    irb, count = J.photoshop_block(segs, idx[0]) if idx else (b"", 0)
    if any(i >= idx[0] + count for i in idx):
        raise WriteError("Photoshop resources in several separate APP13 runs; refusing to "
                         "rewrite them", path=path)
    irb, _changed = replace_iptc(irb, lambda old: iptc_iim(old, edits, path), path,
                                 "the Photoshop APP13 block is damaged ({why}); refusing to "
                                 "rewrite it")
    new_segs = J.photoshop_segments(irb)
    if idx:
        new_segs[0].prefix = segs[idx[0]].prefix
        segs[idx[0] : idx[0] + count] = new_segs
        return
    where = J.insert_index(segs)
    for i in J.find_kind(segs, "xmp") + J.find_kind(segs, "exif"):
        where = max(where, i + 1)
    _insert(segs, where, new_segs)
