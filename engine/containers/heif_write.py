"""HEIF/HEIC/AVIF writer: the rewrite plan for EXIF and XMP edits (ExifTool's approach).

The Exif and XMP metadata of a HEIF file are *items* of the ``meta`` box, their bytes placed
by ``iloc``.  An edited item gets its new bytes in a new ``mdat`` box at the end of the file and
its ``iloc`` entry points there (one extent, construction method 0); the old bytes are zeroed
where they were (in ``mdat`` or ``idat``, wherever no other item uses them), so a deleted value
is gone from the file and every other item keeps its offset.  A trailing ``mdat`` that holds
nothing but Exif/XMP items (one this writer appended before) is rebuilt instead, so repeated
edits do not grow the file.

The ``meta`` box changes size with ``iloc`` (and ``iinf``/``iref`` when an item is added), and
every box after it moves: each ``iloc`` entry that gives absolute file offsets (construction
method 0) is shifted by its box's move, and the offset/length field sizes grow when a value no
longer fits.  Image data is never read: every other box is a range of the original file.
An Exif/XMP extent of length 0 is an empty item (ExifTool empties an item so): it moves and
stays 0, and an edit fills it anew; only an image item's length 0 ("to the end of the file")
becomes an explicit length, since the file grows after it (heif.extent_spans).

Files whose other boxes hold absolute offsets (``moov`` sequences, movie fragments) are
refused (unknown top-level vendor boxes are kept and moved), as are protected or encoded
metadata items and items located through the data reference box (CR3: cr3_write).  The Exif item
keeps its 4-byte TIFF-header offset prefix (repaired when it does not point at the TIFF header
the reader found); the TIFF block itself is always rebuilt by ``exif_block.patch_block``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from engine.containers import heif as H
from engine.containers.base import Layout, Slot
from engine.containers.heif import image_items  # noqa: F401  (the validation's invariant)
from engine.containers.isobmff import box_header
from engine.containers.pieces import coalesce, piece_len
from engine.errors import CorruptFileError, UnsupportedFormatError, WriteError
from engine.exif.block import patch_block
from engine.safewrite.safety import Piece
from engine.write.changes import Edits

# Top-level boxes that hold (or index by) file offsets metafs does not update: movie sample
# tables, fragments and their indexes.  Every other top-level box is kept byte for byte and
# moves with its neighbours: vendor boxes (Samsung ``sefd``...) hold no file offsets, and an
# ``iloc`` extent inside any kept box is shifted with it (``_check_extents``).
_TOP_REFUSED = frozenset({b"moov", b"moof", b"mfra", b"sidx", b"ssix", b"meco"})
# A new Exif item: offset 6 to the TIFF header, past "Exif\0\0" (as ExifTool and Apple write).
NEW_EXIF_PREFIX = b"\0\0\0\x06Exif\0\0"
_MAX_ROUNDS = 8


@dataclass(slots=True)
class _Meta:
    """The parsed parts of the ``meta`` box the writer needs."""

    box: H.Box
    infos: list[H.ItemInfo]
    iloc: H.Iloc
    idat: H.Box | None
    kinds: dict[int, str | None] = field(default_factory=dict)  # item id -> "exif"/"xmp"/None


_refuse = H.refuse


def _layout(data, parsed: H.BoxList, kind: str, path: str) -> tuple[list[H.Box], int, _Meta]:
    if parsed.warnings or parsed.tail_offset != len(data):
        why = parsed.warnings[0].split(": ", 1)[-1] if parsed.warnings else "trailing bytes"
        raise _refuse(path, f"the {kind} file is damaged ({why})")
    tops = parsed.boxes
    for b in tops:
        if b.type in _TOP_REFUSED:
            raise _refuse(path, f"the {kind} file has a top-level {_name(b.type)} box (offset "
                          f"{b.offset}) that may hold file offsets metafs cannot update")
    metas = [i for i, b in enumerate(tops) if b.type == b"meta"]
    if len(metas) != 1 or tops[metas[0]].children is None:
        raise _refuse(path, f"the {kind} file has {len(metas)} readable top-level meta boxes, "
                      "not one")
    meta = tops[metas[0]]
    kids = [c.type for c in meta.children or ()]
    for t in (b"iinf", b"iloc", b"iref", b"pitm", b"idat"):
        if kids.count(t) > 1:
            raise _refuse(path, f"the meta box holds {kids.count(t)} {_name(t)} boxes")
    iinf, iloc_box = meta.find(b"iinf"), meta.find(b"iloc")
    if iinf is None or iloc_box is None:
        raise _refuse(path, f"the meta box (offset {meta.offset}) has no "
                      f"{'iinf' if iinf is None else 'iloc'} box")
    warns: list[str] = []
    infos = H.parse_iinf(iinf.body(data), warns)
    if warns:
        raise _refuse(path, f"the item info box is damaged ({warns[0]})")
    stray = _non_infe(iinf.body(data))
    if stray is not None:
        # its size takes in the boxes after it: a new item entry would land among them
        raise _refuse(path, f"the item info box (offset {iinf.offset}) is damaged (it holds "
                      f"a {_name(stray)} box, not only item entries)")
    raw = iloc_box.body(data)
    try:
        iloc = H.parse_iloc(raw)
    except CorruptFileError as e:
        raise _refuse(path, f"the item location box (offset {iloc_box.offset}) is damaged "
                      f"({e.reason})") from None
    if H.render_iloc(iloc) != raw:
        raise _refuse(path, f"the item location box (offset {iloc_box.offset}) has bytes "
                      "metafs does not understand")
    ids = [it.item_id for it in iloc.items]
    if len(set(ids)) != len(ids) or len({i.item_id for i in infos}) != len(infos):
        raise _refuse(path, "the meta box lists an item twice")
    for it in iloc.items:
        if it.construction_method == 0 and it.data_reference_index != 0:
            raise _refuse(path, f"item {it.item_id}'s data is placed through the data "
                          "reference box")
    m = _Meta(meta, infos, iloc, meta.find(b"idat"))
    m.kinds = {i.item_id: H.metadata_kind(i) for i in infos}
    return tops, metas[0], m


def _non_infe(iinf: bytes) -> bytes | None:
    """The type of the first box in an ``iinf`` payload that is not an ``infe``, if any."""
    pos = 6 if iinf[:1] == b"\0" else 8
    while pos + 8 <= len(iinf):
        size, btype = struct.unpack_from(">I4s", iinf, pos)
        if btype != b"infe":
            return btype
        if size < 8:
            break
        pos += size
    return None


def _name(t: bytes) -> str:
    return repr(t.decode("latin-1"))


def _old_item(located: Layout, which: str, path: str) -> Slot | None:
    """The one item slot holding ``which`` ("exif"/"xmp"), as the reader located it."""
    slots = located.of(which)
    if len(slots) > 1:
        what = {"exif": "Exif", "xmp": "XMP"}[which]
        raise _refuse(path, f"the file holds {len(slots)} {what} items (ids "
                      f"{', '.join(str(s.where) for s in slots)}); metafs would write one and "
                      "leave the others different")
    if slots and slots[0].problem:
        raise _refuse(path, slots[0].problem)
    return slots[0] if slots else None


def _exif_payload(slot: Slot | None, edits: Edits, path: str) -> bytes:
    if slot is None or not slot.header:  # no Exif item, or an empty one
        return NEW_EXIF_PREFIX + patch_block(None, edits.exif, path)
    # The offset prefix is repaired when the reader had to look for the header (a wrong
    # offset hides the whole EXIF from ExifTool, and so would hide what we write)
    head = slot.header
    prefix = struct.pack(">I", len(head) - 4) + head[4:]
    return prefix + patch_block(slot.data, edits.exif, path)


def _xmp_payload(old: bytes | None, edits: Edits) -> bytes:
    from engine.xmp.edit import edit_tree, serialise

    # No padding: the item is always rewritten whole.
    return serialise(edit_tree(old, edits.xmp), pad=0)


def plan_heif(data, edits: Edits, path: str, located: Layout | None = None) -> list[Piece]:
    kind = H.brand_type(bytes(data[:16]))
    if kind is None:
        raise UnsupportedFormatError("writing this ISO media files is not supported; the "
                                     "file was left as it is", path=path)
    if kind == "CR3":  # same boxes, its own layout (engine.containers.cr3_write)
        from engine.containers.cr3_write import plan_cr3

        return plan_cr3(data, edits, path)
    if edits.iptc:
        raise WriteError(f"{kind} has no place for IPTC; use the XMP equivalents; nothing was "
                         "written", path=path)
    located = located or H.HeifFormat.locate(data, path)
    tops, meta_at, m = _layout(data, located.parsed, kind, path)
    new_data: dict[int, bytes] = {}  # item id -> its new bytes
    added: list[tuple[str, bytes]] = []  # ("exif"/"xmp", bytes) for items to create
    for which, wanted in (("exif", edits.exif), ("xmp", edits.xmp)):
        if not wanted:
            continue
        slot = _old_item(located, which, path)
        payload = (_exif_payload(slot, edits, path) if which == "exif" else
                   _xmp_payload(slot.data if slot else None, edits))
        if slot is None:
            added.append((which, payload))
        else:
            new_data[slot.where] = payload
    return _Rewrite(data, tops, meta_at, m, path).plan(new_data, added)


# --- the rewrite ------------------------------------------------------------------------------


class _Rewrite:
    """Lays the file out again: boxes before and after ``meta`` as ranges, a new ``meta``, and
    a trailing ``mdat`` with the relocated items."""

    def __init__(self, data, tops: list[H.Box], meta_at: int, m: _Meta, path: str) -> None:
        self.data, self.tops, self.meta_at, self.m, self.path = data, tops, meta_at, m, path
        self.size = len(data)
        self.zero: list[tuple[int, int]] = []  # old bytes of replaced items (file spans)
        self.idat_body: bytes | None = None  # idat with those bytes zeroed, when it held some

    def _end(self, b: H.Box) -> int:
        return b.offset + b.header_len + b.body_len

    def _literal(self, loc: H.ItemLocation) -> bool:
        """Whether an extent length 0 of this item means empty (Exif/XMP: H.extent_spans)."""
        return self.m.kinds.get(loc.item_id) is not None

    def _abs_extents(self, loc: H.ItemLocation) -> list[tuple[int, int]]:
        """(start, length) in the file of each extent of a construction-method-0 item."""
        return H.extent_spans(loc, self.size, self._literal(loc))

    def _box_of(self, pos: int, empty: bool = False) -> int | None:
        """The top-level box holding file offset ``pos``; ``empty``: the box an empty extent
        at ``pos`` belongs to (its data starts at or before ``pos`` and ends at or after it)."""
        for i, b in enumerate(self.tops):
            if b.data_offset <= pos <= self._end(b) if empty else b.offset <= pos < self._end(b):
                return i
        return None

    def _owned_tail(self) -> tuple[bool, list[int]]:
        """Whether the last box is an ``mdat`` holding only Exif/XMP items (to be rebuilt),
        and the ids of the items in it."""
        last = self.tops[-1]
        if last.type != b"mdat" or len(self.tops) - 1 == self.meta_at:
            return False, []
        lo, hi = last.data_offset, self._end(last)
        inside = []
        for loc in self.m.iloc.items:
            if loc.construction_method != 0:
                continue
            exts = self._abs_extents(loc)
            if not any(lo <= s <= hi if n == 0 else s < hi and s + n > last.offset
                       for s, n in exts):
                continue
            if self.m.kinds.get(loc.item_id) is None:
                return False, []
            if not all(lo <= s and s + n <= hi for s, n in exts):
                return False, []
            inside.append(loc.item_id)
        return bool(inside), inside  # an mdat nothing points at is not ours to drop

    def plan(self, new_data: dict[int, bytes], added: list[tuple[str, bytes]]) -> list[Piece]:
        drop_last, carried = self._owned_tail()
        kept = self.tops[:-1] if drop_last else list(self.tops)
        # The new mdat's contents: item id -> pieces (new bytes, or ranges of carried items).
        moved: dict[int, list[Piece]] = {}
        for loc in self.m.iloc.items:
            if loc.item_id in new_data:
                moved[loc.item_id] = [new_data[loc.item_id]]
            elif loc.item_id in carried:
                moved[loc.item_id] = [(s, n) for s, n in self._abs_extents(loc)]
        new_ids, iinf, iref = self._added_items(added)
        for (_which, payload), iid in zip(added, new_ids, strict=True):
            moved[iid] = [payload]
        boxes_of = self._check_extents(moved, kept)
        self._left_behind(set(new_data))
        return self._settle(kept, moved, boxes_of, iinf, iref)

    def _left_behind(self, replaced: set[int]) -> None:
        """The old bytes of the replaced items, to be zeroed where no other item uses them:
        in the file (``self.zero``, absolute spans) and in ``idat`` (``self.idat_body``)."""
        from engine.exif.scrub import subtract

        spans: dict[int, list[tuple[int, int]]] = {0: [], 1: []}  # by construction method
        others: dict[int, list[tuple[int, int]]] = {0: [], 1: []}
        idat = self.m.idat
        for loc in self.m.iloc.items:
            if loc.construction_method not in (0, 1) or not loc.extents:
                continue
            size = self.size if loc.construction_method == 0 else (
                idat.body_len if idat is not None else 0)
            exts = [(a, a + n) for a, n in H.extent_spans(loc, size, self._literal(loc)) if n]
            (spans if loc.item_id in replaced else others)[loc.construction_method].extend(exts)
        # box headers are structure, never an item's bytes, whatever a damaged iloc says
        others[0] += [(b.offset, b.data_offset) for b in self.tops]
        self.zero = subtract(spans[0], others[0])
        self.idat_body = None
        if idat is not None and spans[1]:
            body = bytearray(idat.body(self.data))
            for a, b in subtract(spans[1], others[1]):
                body[a:b] = bytes(len(body[a:b]))
            self.idat_body = bytes(body)

    def _check_extents(self, moved: dict[int, list[Piece]], kept: list[H.Box]) -> dict:
        """The kept box each extent of every unmoved method-0 item lies in (by item id)."""
        out: dict[int, list[int]] = {}
        meta = self.tops[self.meta_at]
        kept_ids = {id(b) for b in kept}
        for loc in self.m.iloc.items:
            if loc.construction_method != 0 or loc.item_id in moved:
                continue
            where = []
            for s, n in self._abs_extents(loc):
                a, b = ((self._box_of(s, empty=True),) * 2 if n == 0 else
                        (self._box_of(s), self._box_of(s + n - 1)))
                if a is None or a != b or self.tops[a] is meta or id(self.tops[a]) not in kept_ids:
                    raise _refuse(self.path, f"item {loc.item_id}'s data (offset {s}, {n} "
                                  "bytes) does not lie inside one box metafs can move")
                where.append(a)
            out[loc.item_id] = where
        return out

    def _added_items(self, added: list[tuple[str, bytes]]) -> tuple[list[int], bytes, bytes]:
        """Ids for new items and the new iinf/iref payloads (unchanged if nothing is added)."""
        meta, data = self.m.box, self.data
        iinf_box, iref_box = meta.find(b"iinf"), meta.find(b"iref")
        iinf = iinf_box.body(data) if iinf_box else b""
        iref = iref_box.body(data) if iref_box else b""
        if not added:
            return [], iinf, iref
        pitm = meta.find(b"pitm")
        body = pitm.body(data) if pitm else b""
        if len(body) < (6 if body[:1] == b"\0" else 8):
            raise _refuse(self.path, "the file has no primary item (pitm) to attach new "
                          "metadata to")
        primary = struct.unpack_from(">H" if body[0] == 0 else ">I", body, 4)[0]
        used = {i.item_id for i in self.m.infos} | {it.item_id for it in self.m.iloc.items}
        ids: list[int] = []
        for which, payload in added:
            iid = 1
            while iid in used:
                iid += 1
            used.add(iid)
            ids.append(iid)
            if iid > 0xFFFF:
                raise _refuse(self.path, "no free 16-bit item id for a new metadata item")
            iinf = H.add_infe(iinf, iid, which, self.path)
            iref = H.add_cdsc(iref, iid, primary, self.path)
            # placed by _settle, like every moved item (the iloc parsed for this write)
            self.m.iloc.items.append(H.ItemLocation(iid, 0, 0, 0, [(0, 0, len(payload))]))
        return ids, iinf, iref

    def _settle(self, kept, moved, boxes_of, iinf: bytes, iref: bytes) -> list[Piece]:
        """Render meta until its size (and so every shifted offset) stops changing."""
        old = self.m.iloc
        body_len = sum(piece_len(p) for ps in moved.values() for p in ps)
        mdat_head = box_header(b"mdat", body_len)
        prev = None
        for _ in range(_MAX_ROUNDS):
            meta_bytes = self._render_meta(old if prev is None else prev, iinf, iref)
            new_pos, pos = {}, 0
            for b in kept:
                new_pos[id(b)] = pos
                pos += len(meta_bytes) if b is self.m.box else self._end(b) - b.offset
            start = pos + len(mdat_head)
            items, rel = [], 0
            for loc in old.items:
                if loc.item_id in moved:
                    n = sum(piece_len(p) for p in moved[loc.item_id])
                    # one extent of the file (an item that was in idat leaves it)
                    items.append(H.ItemLocation(loc.item_id, 0, 0, 0, [(0, start + rel, n)]))
                    rel += n
                elif loc.construction_method == 0:
                    shift = {new_pos[id(self.tops[i])] - self.tops[i].offset
                             for i in boxes_of[loc.item_id]}
                    items.append(self._shifted(loc, shift))
                else:
                    items.append(loc)
            iloc = _fit(old, items, self.path)
            if iloc == prev:
                return self._pieces(kept, meta_bytes, mdat_head, moved, old)
            prev = iloc
        raise _refuse(self.path, "the item offsets do not settle")

    def _shifted(self, loc: H.ItemLocation, shifts: set[int]) -> H.ItemLocation:
        if not loc.extents:
            return loc
        if len(shifts) != 1:
            raise _refuse(self.path, f"item {loc.item_id}'s extents lie in boxes that move "
                          "differently")
        s = shifts.pop()
        # explicit lengths for "to the end of the file": the file grows after them (an
        # Exif/XMP extent of length 0 is empty and stays so)
        exts = [(i, off, ln or (0 if self._literal(loc) else
                                max(self.size - loc.base_offset - off, 0)))
                for i, off, ln in loc.extents]
        if loc.base_offset:
            return H.ItemLocation(loc.item_id, loc.construction_method, 0,
                                  loc.base_offset + s, exts)
        return H.ItemLocation(loc.item_id, loc.construction_method, 0, 0,
                              [(i, off + s, ln) for i, off, ln in exts])

    def _render_meta(self, iloc: H.Iloc, iinf: bytes, iref: bytes) -> bytes:
        meta = self.m.box
        new_body = {b"iloc": H.render_iloc(iloc), b"iinf": iinf, b"iref": iref}
        if self.idat_body is not None:  # the replaced items' old bytes zeroed
            new_body[b"idat"] = self.idat_body
        kids: list[H.Box] = []
        for c in meta.children or ():
            body = new_body.get(c.type)
            # an unchanged box is kept as it was (header form included)
            kids.append(c if body is None or body == c.body(self.data) else
                        H.Box(c.type, -1, body))
            if c.type == b"iinf" and meta.find(b"iref") is None and iref:
                kids.append(H.Box(b"iref", -1, iref))  # a new iref goes after iinf
        form = 0 if meta.form == 2 else meta.form
        new = H.Box(b"meta", -1, None, kids, prefix=meta.prefix, form=form)
        return new.render(self.data)

    def _pieces(self, kept, meta_bytes: bytes, mdat_head: bytes, moved, old: H.Iloc):
        pieces: list[Piece] = []
        for b in kept:
            if b is self.m.box:
                pieces.append(meta_bytes)
            elif b.form == 2:  # "to the end of the file" no longer is: give its size
                if b.header_len != 8 or 8 + b.body_len > 0xFFFFFFFF:
                    raise _refuse(self.path, f"the open-ended {_name(b.type)} box at offset "
                                  f"{b.offset} is too large to close")
                pieces += [struct.pack(">I", 8 + b.body_len) + b.type,
                           (b.data_offset, b.body_len)]
            else:
                pieces.append((b.offset, self._end(b) - b.offset))
        pieces.append(mdat_head)
        for loc in old.items:
            pieces += moved.get(loc.item_id, [])
        return coalesce(_blank(pieces, self.zero))


def _blank(pieces: list[Piece], zero: list[tuple[int, int]]) -> list[Piece]:
    """``pieces`` with the bytes of the original in ``zero`` (sorted, disjoint spans)
    replaced by zeros: the old bytes of a replaced item stay unreadable where they were."""
    if not zero:
        return pieces
    out: list[Piece] = []
    for p in pieces:
        if not isinstance(p, tuple):
            out.append(p)
            continue
        pos, stop = p[0], p[0] + p[1]
        for a, b in zero:
            if b <= pos or a >= stop:
                continue
            if a > pos:
                out.append((pos, a - pos))
            out.append(bytes(min(b, stop) - max(a, pos)))
            pos = min(b, stop)
        if pos < stop:
            out.append((pos, stop - pos))
    return out


def _fit(old: H.Iloc, items: list[H.ItemLocation], path: str) -> H.Iloc:
    """The iloc with ``items``, its field sizes grown where a value no longer fits."""
    def size(current: int, values) -> int:
        top = max(values, default=0)
        for n in (current, 4, 8):
            if n >= current and top < (1 << (8 * n)):
                return n
        raise _refuse(path, "an item offset does not fit in 64 bits")

    osz = size(old.offset_size, (o for it in items for _i, o, _n in it.extents))
    lsz = size(old.length_size, (n for it in items for _i, _o, n in it.extents))
    bsz = size(old.base_offset_size, (it.base_offset for it in items))
    return H.Iloc(old.version, old.flags, osz, lsz, bsz, old.index_size, items)
