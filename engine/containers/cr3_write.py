"""Canon CR3 writer: the rewrite plan for EXIF and XMP edits (ExifTool's approach).

A CR3 file is ``ftyp``, ``moov`` (a ``uuid`` Canon box holding the TIFF blocks CMT1 = IFD0,
CMT2 = ExifIFD, CMT3 = maker notes, CMT4 = GPS, the thumbnail THMB and the offset table CTBO;
then one ``trak`` per stream), a top-level XMP ``uuid`` box, the preview ``uuid`` box (PRVW)
and ``mdat`` with the raw image, the JPEG and the timed metadata, which each track's chunk
offsets (``stco``/``co64``) point into.

An EXIF edit patches the block its IFD lives in (engine.exif.block.patch_block, the first IFD
read as IFD0: the three blocks hold one IFD each); a GPS edit in a file without CMT4 adds one
at the end of the Canon box, and deleting every GPS tag drops it, as ExifTool does.  CMT3 is
copied as it is.  An XMP edit rewrites the XMP box (a new one goes just before ``mdat``, where
ExifTool puts it).  ``moov`` changes size, so every box after it moves (``mdat`` too, as
ExifTool moves it): each chunk offset is shifted by the move of the box it points into, and
CTBO gets the new offsets and sizes of the XMP box (id 1), the preview (2) and ``mdat`` (3).
A file with any other place holding file offsets (movie fragments, ``iloc``, ``saio``...), a
chunk offset outside the boxes metafs moves whole, or an offset table it cannot read is
refused.  IPTC has no place in CR3 (ExifTool leaves such a file unchanged): refused.
"""

from __future__ import annotations

import struct

from engine.containers import isobmff as B
from engine.containers.cr3 import (
    PRVW_UUID,
    canon_box,
    chunk_offsets,
    chunk_spans,
    media_here,
    minfs,
)
from engine.errors import WriteError
from engine.write.changes import Edits

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.safewrite.safety import Piece

_CMT = {"IFD0": b"CMT1", "ExifIFD": b"CMT2", "GPS": b"CMT4"}  # the block each IFD lives in
# Boxes that hold (or index by) file offsets metafs does not update, anywhere in the file.
_REFUSED = frozenset({b"moof", b"mfra", b"sidx", b"ssix", b"saio", b"iloc", b"gps ", b"meco"})
_NEW_GPS = ("IFD0", "GPSVersionID", "2.3.0.0")  # ExifTool adds it to a GPS IFD it creates
# Containers that must parse as boxes: a chunk offset table may be inside.
_MUST_PARSE = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})


def _refuse(path: str, why: str) -> WriteError:
    return WriteError(f"CR3: {why}; refusing to write", path=path)


def plan_cr3(data, edits: Edits, path: str) -> list[Piece]:
    """The rewrite plan of the CR3 file ``data`` for ``edits``."""
    if edits.iptc:
        raise WriteError("CR3 has no place for IPTC; use the XMP equivalents; nothing was "
                         "written", path=path)
    parsed = B.parse_boxes(data, path, lazy=B.LAZY_TYPES)
    if parsed.warnings or parsed.tail_offset != len(data):
        why = parsed.warnings[0].split(": ", 1)[-1] if parsed.warnings else "trailing bytes"
        raise _refuse(path, f"the file is damaged ({why})")
    tops = parsed.boxes
    _check_boxes(tops, path)
    cmts = _new_blocks(data, tops, edits, path) if edits.exif else {}
    xmp = _new_xmp(data, tops, edits) if edits.xmp else None
    return _Layout(data, tops, path).pieces(cmts, xmp)


def _check_boxes(tops: list[B.Box], path: str) -> None:
    """One readable ``moov`` and an ``mdat``; no box that holds offsets metafs cannot fix; no
    container left unparsed (it could hide a chunk offset table)."""
    moovs = [b for b in tops if b.type == b"moov"]
    if len(moovs) != 1 or moovs[0].children is None:
        raise _refuse(path, f"the file has {len(moovs)} readable moov boxes, not one")
    if not any(b.type == b"mdat" for b in tops):
        raise _refuse(path, "the file has no mdat box")
    if sum(1 for b in tops if _is_xmp(b)) > 1:
        raise _refuse(path, "the file holds more than one XMP box")
    todo = [(b, False) for b in tops]
    for b, in_moov in todo:  # (grows as it goes: every box of the file)
        name = b.type.decode("latin-1")
        if b.type in _REFUSED:
            raise _refuse(path, f"the file has a {name!r} box (offset {b.offset}) that holds "
                          "file offsets metafs cannot update")
        canon = b.type == b"uuid" and b.uuid == B.CANON_UUID
        if (b.type in _MUST_PARSE or canon) and b.children is None:
            raise _refuse(path, f"the {name!r} box at offset {b.offset} does not parse as boxes")
        if in_moov and b.form == 2:  # size 0, "to the end": readers disagree on it there
            raise _refuse(path, f"the {name!r} box at offset {b.offset} has size 0 inside moov")
        todo += [(c, in_moov or b.type == b"moov") for c in b.children or ()]


# --- the TIFF blocks and the XMP box ----------------------------------------------------------


def _new_blocks(data, tops: list[B.Box], edits: Edits, path: str) -> dict[bytes, bytes | None]:
    """The new body of each CMT box an edit is in (None: the box goes)."""
    from engine.exif.block import patch_block
    from engine.exif.ifd import parse_tiff
    from engine.write.damage import check_exif_structure

    canon = canon_box(tops)
    if canon is None or canon.children is None:
        raise _refuse(path, "the file has no readable Canon box (moov/uuid 85c0b687...) "
                      "holding its EXIF")
    by_box: dict[bytes, list[tuple[str, str, str | None]]] = {}
    for ifd, name, text in edits.exif:
        if ifd not in _CMT:
            raise WriteError(f"CR3 files keep no {ifd}; only IFD0, ExifIFD and GPS tags can "
                             "be written; nothing was written", path=path, tag=name)
        by_box.setdefault(_CMT[ifd], []).append(("IFD0", name, text))
    out: dict[bytes, bytes | None] = {}
    for btype, wanted in by_box.items():
        found = [c for c in canon.children if c.type == btype]
        if len(found) > 1:
            raise _refuse(path, f"the Canon box holds {len(found)} {btype.decode()} boxes")
        old = found[0].body(data) if found else None
        what = f"the {btype.decode()} block"
        if old is not None:
            check_exif_structure(old, path, what, found[0].data_offset)
            first = {b"CMT2": "ExifIFD", b"CMT4": "GPS"}.get(btype, "IFD0")
            if len(parse_tiff(old, path=path, first_ifd=first).ifds) != \
                    len(parse_tiff(old, path=path).ifds):
                raise _refuse(path, f"{what} holds sub-directories metafs cannot rewrite")
        elif all(text is None for _i, _n, text in wanted):
            continue  # deleting what the file does not have
        elif btype != b"CMT4":
            raise _refuse(path, f"the file has no {btype.decode()} box for the "
                          f"{wanted[0][1]} tag")
        elif not any(n == "GPSVersionID" for _i, n, _t in wanted):
            wanted = [_NEW_GPS, *wanted]
        new = patch_block(old if old is not None else _empty_tiff(canon, data), wanted, path)
        out[btype] = None if btype == b"CMT4" and _no_entries(new) else new
    return out


def _empty_tiff(canon: B.Box, data) -> bytes:
    """A TIFF header and an empty IFD, in the byte order of the file's CMT1 (ExifTool's)."""
    cmt1 = canon.find(b"CMT1")
    big = cmt1 is not None and cmt1.body(data)[:2] == b"MM"
    return (b"MM\0*\0\0\0\x08" if big else b"II*\0\x08\0\0\0") + bytes(6)


def _no_entries(tiff: bytes) -> bool:
    bo = ">" if tiff[:2] == b"MM" else "<"
    first = struct.unpack_from(bo + "I", tiff, 4)[0]
    return struct.unpack_from(bo + "H", tiff, first)[0] == 0


def _new_xmp(data, tops: list[B.Box], edits: Edits) -> bytes | None:
    """The new XMP packet (None: no box to make, the edits only delete)."""
    from engine.xmp.edit import edit_tree, serialise

    old = next((b for b in tops if _is_xmp(b)), None)
    if old is None and all(v is None for v in edits.xmp.values()):
        return None
    return serialise(edit_tree(old.body(data) if old is not None else None, edits.xmp))


# --- the new layout ---------------------------------------------------------------------------


class _Layout:
    """The top-level boxes laid out again: ``moov`` and the XMP box rebuilt, every other box a
    range of the original, moved by what changed size before it."""

    def __init__(self, data, tops: list[B.Box], path: str) -> None:
        self.data, self.tops, self.path = data, tops, path
        self.moov = next(b for b in tops if b.type == b"moov")

    def pieces(self, cmts: dict[bytes, bytes | None], xmp: bytes | None) -> list[Piece]:
        order = self._order(xmp)
        moov = self._moov(cmts, {})  # offset tables keep their size: the layout is known
        xmp_box = B.Box(b"uuid", -1, xmp, uuid=B.XMP_UUID).render() if xmp is not None else b""
        sizes = [len(moov) if b is self.moov else len(xmp_box) if xmp_box and _is_xmp(b)
                 else _end(b) - b.offset for b in order]
        where, pos = {}, 0
        for b, n in zip(order, sizes, strict=True):
            where[id(b)], pos = pos, pos + n
        tables = self._fixed_offsets(where, order, sizes)
        if len(new_moov := self._moov(cmts, tables)) != len(moov):
            raise _refuse(self.path, "the moov box changed size when its offsets were fixed")
        out: list[Piece] = []
        for b in order:
            if b is self.moov:
                out.append(new_moov)
            elif xmp_box and _is_xmp(b):
                out.append(xmp_box)
            else:
                out.append((b.offset, _end(b) - b.offset))
        return out

    def _order(self, xmp: bytes | None) -> list[B.Box]:
        """The top-level boxes in their new order: a new XMP box goes before ``mdat``."""
        order = list(self.tops)
        if xmp is not None and not any(_is_xmp(b) for b in order):
            at = next(i for i, b in enumerate(order) if b.type == b"mdat")
            order.insert(at, B.Box(b"uuid", -1, xmp, uuid=B.XMP_UUID))
        for b in order[:-1]:
            if b.form == 2:  # "to the end of the file" would take in what follows it
                raise _refuse(self.path, f"the open-ended {b.type.decode('latin-1')!r} box at "
                              f"offset {b.offset} is not last")
        return order

    def _fixed_offsets(self, where: dict[int, int], order: list[B.Box],
                       sizes: list[int]) -> dict[int, bytes]:
        """The new payload of every chunk offset table and of CTBO (by box id)."""
        out: dict[int, bytes] = {}
        for minf in minfs(self.moov):
            here, stbl = media_here(minf), minf.find(b"stbl")
            if here is None or stbl is None:
                raise _refuse(self.path, f"the track at offset {minf.offset} does not say "
                              "whether its media data is in this file (no readable data "
                              "reference)")
            co = next((c for c in stbl.children or () if c.type in (b"stco", b"co64")), None)
            if co is not None and here:  # (offsets into another file stay as they are)
                out[id(co)] = self._shifted(co, stbl, where)
        canon = canon_box(self.tops)
        ctbo = canon.find(b"CTBO") if canon is not None else None
        if ctbo is not None:
            out[id(ctbo)] = self._ctbo(ctbo, where, order, sizes)
        return out

    def _shifted(self, co: B.Box, stbl: B.Box, where: dict[int, int]) -> bytes:
        offsets, spans = chunk_offsets(co), chunk_spans(stbl)
        if offsets is None or spans is None:
            raise _refuse(self.path, f"the sample tables at offset {stbl.offset} cannot be "
                          "read, so their chunks cannot be moved")
        new = []
        for start, n in spans:
            i = next((i for i, b in enumerate(self.tops) if b.data_offset <= start < _end(b)),
                     None)
            box = self.tops[i] if i is not None else None
            if box is None or box is self.moov or _is_xmp(box):
                raise _refuse(self.path, f"a chunk at offset {start} lies outside the boxes "
                              "metafs moves whole")
            if start + n > _end(box) and i != len(self.tops) - 1:
                raise _refuse(self.path, f"the chunk at offset {start} ({n} bytes) runs past "
                              f"the end of its {box.type.decode('latin-1')!r} box")
            new.append(start + where[id(box)] - box.offset)
        wide = co.type == b"co64"
        if not wide and max(new, default=0) > 0xFFFFFFFF:
            raise _refuse(self.path, f"a chunk offset no longer fits the stco box at offset "
                          f"{co.offset}")
        p = co.payload or b""
        body = struct.pack(f">{len(new)}{'Q' if wide else 'I'}", *new)
        return p[:8] + body + p[8 + len(body):]

    def _ctbo(self, ctbo: B.Box, where: dict[int, int], order: list[B.Box],
              sizes: list[int]) -> bytes:
        """CTBO with the new place of the XMP box (1), the preview (2) and ``mdat`` (3)."""
        p = bytearray(ctbo.payload or b"")
        n = struct.unpack_from(">I", p, 0)[0] if len(p) >= 4 else -1
        if n < 0 or 4 + 20 * n > len(p):
            raise _refuse(self.path, f"the CTBO box at offset {ctbo.offset} is cut short")
        place: dict[int, tuple[int, int | None]] = {1: (0, 0), 2: (0, 0)}
        for b, size in zip(order, sizes, strict=True):
            key = {B.XMP_UUID: 1, PRVW_UUID: 2}.get(b.uuid or b"") if b.type == b"uuid" else (
                3 if b.type == b"mdat" else None)
            if key is not None and (key != 3 or 3 not in place):
                place[key] = (where[id(b)], None if key == 3 else size)
        for k in range(n):
            cid, _off, size = struct.unpack_from(">IQQ", p, 4 + 20 * k)
            if cid not in (1, 2) and not size:
                continue  # an unused entry (ExifTool leaves it)
            if cid not in place:
                raise _refuse(self.path, f"the CTBO box holds an entry {cid} metafs does not "
                              "know how to update")
            off, new_size = place[cid]
            struct.pack_into(">Q", p, 4 + 20 * k + 4, off)
            if new_size is not None:
                struct.pack_into(">Q", p, 4 + 20 * k + 12, new_size)
        return bytes(p)

    def _moov(self, cmts: dict[bytes, bytes | None], tables: dict[int, bytes]) -> bytes:
        return _rebuilt(self.moov, cmts, tables).render(self.data)


def _is_xmp(b: B.Box) -> bool:
    return b.type == b"uuid" and b.uuid == B.XMP_UUID


def _end(b: B.Box) -> int:
    return b.offset + b.header_len + b.body_len


def _rebuilt(box: B.Box, cmts: dict[bytes, bytes | None], tables: dict[int, bytes]) -> B.Box:
    """``box`` with the new CMT bodies (in the Canon box) and offset tables; the same object
    where nothing under it changed (rendered from the original bytes)."""
    if id(box) in tables:
        return B.Box(box.type, -1, tables[id(box)], form=box.form)
    if box.children is None:
        return box
    canon = box.type == b"uuid" and box.uuid == B.CANON_UUID
    kids: list[B.Box] = []
    for c in box.children:
        if canon and c.type in cmts:
            body = cmts[c.type]
            if body is not None:
                kids.append(B.Box(c.type, -1, body))
        else:
            kids.append(_rebuilt(c, cmts, tables))
    if canon and b"CMT4" in cmts and cmts[b"CMT4"] is not None and box.find(b"CMT4") is None:
        kids.append(B.Box(b"CMT4", -1, cmts[b"CMT4"]))  # at the end, where ExifTool adds it
    if all(a is b for a, b in zip(kids, box.children, strict=False)) and \
            len(kids) == len(box.children):
        return box
    return B.Box(box.type, -1, None, kids, prefix=box.prefix, uuid=box.uuid,
                 form=0 if box.form == 2 else box.form)
