"""Per-format rewrite plans: which bytes of the original are kept, which are new.

A plan is a list of pieces for ``safety.safe_rewrite``: literal bytes, or ``(offset, length)``
ranges of the original (image data is always a range: copied by the kernel, never decoded).
"""

from __future__ import annotations

from engine.errors import UnsupportedFormatError, WriteError
from engine.formats import jpeg as J
from engine.tiff.ifd import parse_tiff
from engine.tiff.patch import NewEntry, TiffPatch
from engine.write.changes import Edits
from engine.write.exif_block import patch_block, patch_file
from engine.write.safety import Piece
from engine.xmp_edit import edit_packet

XMP_TAG, IPTC_TAG = 700, 33723


def _xmp_packet(old: bytes | None, edits: Edits, limit: int, path: str) -> bytes:
    packet = edit_packet(old, edits.xmp)
    if len(packet) > limit:
        from engine.xmp_edit import parse_packet, serialise

        packet = serialise(parse_packet(packet), pad=0)
    if len(packet) > limit:
        raise WriteError(
            f"the XMP packet would be {len(packet)} bytes, over the {limit}-byte segment limit; "
            "nothing was written", path=path)
    return packet


def _iptc_iim(old: bytes | None, edits: Edits, path: str) -> bytes:
    from engine.iptc_edit import edit_iim

    return edit_iim(old, edits.iptc, path=path)


def plan_jpeg(data, edits: Edits, path: str) -> list[Piece]:
    layout = J.parse_jpeg(data, path)
    if layout.sos_offset is None:
        raise WriteError("the JPEG has no image data (truncated or corrupt: no SOS marker); "
                         "refusing to write", path=path)
    segs = list(layout.segments)
    changed = False
    if edits.exif:
        idx = J.find_kind(segs, "exif")
        if len(idx) > 1:
            raise WriteError("EXIF spread over several APP1 segments; refusing to rewrite it",
                             path=path)
        old, header = None, J.EXIF_HEADER
        if idx:
            seg = segs[idx[0]]
            hlen = J.exif_header_len(seg) or len(J.EXIF_HEADER)
            old, header = seg.payload[hlen:], seg.payload[:hlen]  # keep odd headers as found
        block = patch_block(old, edits.exif, path)
        payload = header + block
        if len(payload) > J.MAX_PAYLOAD:
            raise WriteError(f"the EXIF block would be {len(payload)} bytes, over the JPEG "
                             "segment limit; nothing was written", path=path)
        _put(segs, idx[0] if idx else None, J.APP1, payload, J.insert_index(segs))
        changed = True
    if edits.xmp:
        idx = J.find_kind(segs, "xmp")
        old = segs[idx[0]].payload[len(J.XMP_HEADER):] if idx else None
        packet = _xmp_packet(old, edits, J.MAX_PAYLOAD - len(J.XMP_HEADER), path)
        after = J.find_kind(segs, "exif")
        where = (after[-1] + 1) if after else J.insert_index(segs)
        _put(segs, idx[0] if idx else None, J.APP1, J.XMP_HEADER + packet, where)
        changed = True
    if edits.iptc:
        _jpeg_iptc(segs, edits, path)
        changed = True
    if not changed:
        return [(0, len(data))]
    head = b"".join(s.render() for s in segs)
    return [head, (layout.tail_offset, len(data) - layout.tail_offset)]


def _put(segs, index: int | None, marker: int, payload: bytes, insert_at: int) -> None:
    seg = J.make_segment(marker, payload)
    if index is None:
        segs.insert(insert_at, seg)
    else:
        seg.prefix = segs[index].prefix
        segs[index] = seg


def _jpeg_iptc(segs, edits: Edits, path: str) -> None:
    from engine.photoshop import IPTC_ID, Resource, parse_irb, render_irb
    from engine.write.iptc_digest import update_digest

    idx = J.find_kind(segs, "photoshop")
    if len(idx) > 1:
        raise WriteError("Photoshop resources spread over several APP13 segments; refusing to "
                         "rewrite them", path=path)
    header = J.PS_HEADER
    resources: list[Resource] = []
    if idx:
        payload = segs[idx[0]].payload
        header = J.PS_HEADER if payload.startswith(J.PS_HEADER) else J.PS_OLD_HEADER
        resources, warnings = parse_irb(payload[len(header):])
        if warnings:
            raise WriteError(f"the Photoshop APP13 block is damaged ({warnings[0]}); refusing "
                             "to rewrite it", path=path)
    old = next((r.data for r in resources if r.rid == IPTC_ID), None)
    iim = _iptc_iim(old, edits, path)
    if old is None:
        resources.append(Resource(b"8BIM", IPTC_ID, b"", iim))
    else:
        for r in resources:
            if r.rid == IPTC_ID:
                r.data = iim
                break
    update_digest(resources, old, iim)
    payload = header + render_irb(resources)
    where = J.insert_index(segs)
    for i in J.find_kind(segs, "xmp") + J.find_kind(segs, "exif"):
        where = max(where, i + 1)
    _put(segs, idx[0] if idx else None, J.APP13, payload, where)


def plan_tiff(data, edits: Edits, path: str) -> list[Piece]:
    structure = parse_tiff(data, path=path)
    if structure.bigtiff:
        raise WriteError("writing BigTIFF is not supported; the file was left as it is",
                         path=path)
    ifd0 = structure.get("IFD0")
    if ifd0 is None:
        raise WriteError("the TIFF has no readable IFD0; refusing to write", path=path)
    extra: dict[int, NewEntry] = {}
    old_entries = {e.tag: e for e in ifd0.entries}
    if edits.xmp:
        e = old_entries.get(XMP_TAG)
        packet = edit_packet(e.raw if e is not None else None, edits.xmp)
        t = e.type if e is not None and e.type in (1, 7) else 1
        extra[XMP_TAG] = NewEntry(XMP_TAG, t, len(packet), packet)
    if edits.iptc:
        e = old_entries.get(IPTC_TAG)
        iim = _iptc_iim(e.raw if e is not None else None, edits, path)
        t = e.type if e is not None else 7
        if t == 4:
            iim += bytes(-len(iim) % 4)
            extra[IPTC_TAG] = NewEntry(IPTC_TAG, 4, len(iim) // 4, iim)
        else:
            extra[IPTC_TAG] = NewEntry(IPTC_TAG, t if t in (1, 7) else 7, len(iim), iim)
    patch = patch_file(data, structure, edits.exif, path, extra)
    return patch_to_plan(patch, len(data))


def patch_to_plan(patch: TiffPatch, size: int) -> list[Piece]:
    plan: list[Piece] = []
    pos = 0
    keep = min(patch.keep, size)
    for off, b in sorted(patch.overwrites):
        if off < pos:
            raise WriteError("internal error: overlapping patches; nothing was written")
        if off > pos:
            plan.append((pos, off - pos))
        plan.append(b)
        pos = off + len(b)
    if keep > pos:
        plan.append((pos, keep - pos))
    if patch.keep > size:
        plan.append(bytes(patch.keep - size))
    if patch.tail:
        plan.append(patch.tail)
    return plan


PLANNERS = {"JPEG": plan_jpeg, "TIFF": plan_tiff}
TIFF_LIKE = {"TIFF", "DNG", "CR2", "NEF", "NRW", "ARW", "SR2", "PEF", "ORF", "RW2", "ERF",
             "SRW", "3FR", "DCR", "K25", "KDC", "MOS", "IIQ", "RWL"}


def planner_for(fmt_name: str, path: str):
    if fmt_name in PLANNERS:
        return PLANNERS[fmt_name]
    if fmt_name in TIFF_LIKE:
        return plan_tiff
    raise UnsupportedFormatError(f"writing {fmt_name} files is not supported yet; the file was "
                                 "left as it is", path=path)

