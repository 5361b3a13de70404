"""Edit IFDs of a TIFF/EXIF block by patching, never by moving what was not edited.

Why patch instead of rebuilding: maker notes, thumbnails, previews and unknown data are full of
offsets we do not understand.  If none of them moves, none of their offsets can break.  So an
edited value goes back into its old slot when it fits, else to the end of the block; an IFD that
grows (a tag added) is written at the end and its parent's pointer updated; everything else
keeps its bytes and its offset.  Space freed at the very end of the block (our own earlier
appends) is reused, so editing the same tag again does not grow the file.  The bytes an edit
leaves behind (a deleted value, the old slot of a value that moved, the entry table of an IFD
rewritten at the end) are zeroed wherever nothing else still points at them (engine.exif.scrub):
a deleted GPS position or name must not stay readable in the file.

All offsets here are relative to the TIFF header.  Pure functions, no I/O.
"""

from __future__ import annotations

import struct

from engine.errors import WriteError
from engine.exif.ifd import Entry, Ifd
from engine.exif.types import CHILD_POINTERS, ifd_size
from engine.record import FrozenRecord, Record


class NewEntry(FrozenRecord):
    __slots__ = ("tag", "type", "count", "raw")
    tag: int
    type: int
    count: int
    raw: bytes  # value bytes in the block's byte order, exactly count * type size

    def __init__(self, tag: int, type: int, count: int, raw: bytes) -> None:
        self._init(tag, type, count, raw)


class IfdEdit(Record):
    __slots__ = ("put", "drop")
    put: dict[int, NewEntry]  # tag -> new entry (add or replace)
    drop: set[int]  # tags to delete

    def __init__(self, put: dict[int, NewEntry] | None = None,
                 drop: set[int] | None = None) -> None:
        self.put = {} if put is None else put
        self.drop = set() if drop is None else drop


class TiffPatch(Record):
    """``overwrites`` apply to the first ``keep`` bytes of the old block, ``tail`` follows."""

    __slots__ = ("keep", "overwrites", "tail")
    keep: int
    overwrites: list[tuple[int, bytes]]
    tail: bytes

    def __init__(self, keep: int, overwrites: list[tuple[int, bytes]], tail: bytes) -> None:
        self._init(keep, overwrites, tail)

    def apply(self, data: bytes) -> bytes:
        buf = bytearray(data[: self.keep])
        buf += bytes(self.keep - len(buf))  # alignment padding after an odd-sized block
        for off, b in self.overwrites:
            buf[off : off + len(b)] = b
        return bytes(buf) + self.tail

    @property
    def new_size(self) -> int:
        return self.keep + len(self.tail)


class _Slot(Record):
    """One entry of an IFD being rendered."""

    __slots__ = ("tag", "type", "count", "raw", "offset", "orig", "home")
    tag: int
    type: int
    count: int
    raw: bytes
    offset: int | None  # where an out-of-line value already lives (kept) or was placed
    orig: bytes | None  # the entry's 12 bytes as found, rendered as they were
    home: tuple[int, int] | None  # the old value range, if it may be laid out afresh

    def __init__(self, tag: int, type: int, count: int, raw: bytes, offset: int | None,
                 orig: bytes | None = None, home: tuple[int, int] | None = None) -> None:
        self._init(tag, type, count, raw, offset, orig, home)


def _value_ranges(structure) -> list[tuple[int, int]]:
    out = []
    for ifd in structure.ifds:
        out.append((ifd.offset, ifd.offset + ifd_size(len(ifd.entries))))
        for e in ifd.entries:
            if e.value_offset is not None:
                out.append((e.value_offset, e.value_offset + e.size))
    return out


# Values that hold no offsets into their own bytes, so they may be moved as they are (a maker
# note or DNG private data may hold such offsets: type undefined/byte blobs never move).
MOVABLE_TYPES = frozenset({2, 3, 4, 5, 8, 9, 10, 11, 12, 13})
SELF_CONTAINED = frozenset({700, 33723, 34377, 34675})  # XMP, IPTC, Photoshop, ICC profile


def reclaim_end(end: int, ranges: list[tuple[int, int]]) -> int:
    """Walk back from ``end`` over ranges that reach it (a word-alignment byte apart at most):
    the new end, before which everything else stays."""
    changed = True
    while changed:
        changed = False
        for a, b in ranges:
            if a < end <= b + 1:
                end = a
                changed = True
    return end


class _Allocator:
    def __init__(self, end: int) -> None:
        self.end = end
        self.keep = self.end
        self.keep += self.keep & 1
        self.cursor = self.keep
        self.chunks: list[tuple[int, bytes]] = []

    def alloc(self, data: bytes) -> int:
        off = self.cursor
        self.chunks.append((off, data))
        self.cursor += len(data) + (len(data) & 1)
        return off

    def reserve(self, size: int) -> int:
        off = self.cursor
        self.cursor += size + (size & 1)
        return off

    def tail(self) -> bytearray:
        return bytearray(self.cursor - self.keep)


def plan_patch(data: bytes, structure, edits: dict[str, IfdEdit],
               chain_room: bool = True, end: int | None = None) -> TiffPatch:
    """Work out the overwrites and appended tail that apply ``edits`` to the block ``data``.

    ``chain_room``: the block is read as one buffer (EXIF in JPEG, PNG, WebP, HEIF), so IFD0
    needs room after it for the IFD1 chain (_chain_room); a TIFF file's IFDs are read from the
    file one by one and need none.

    Four phases: the new entry list of each edited IFD (values that fit go back in their old
    slots), where each edited IFD and moved value goes (in place, or in the appended tail),
    the pointers to IFDs that moved, and the rendering of the edited IFDs.  ``end``: where
    the block's own bytes end when something follows them in the file (a TIFF's trailer, moved
    after the new tail by the caller); the tail then starts there."""
    if getattr(structure, "bigtiff", False):
        raise WriteError("writing BigTIFF is not supported; the file was left as it is")
    plan = _Plan(data, structure)
    plan.end = len(data) if end is None else end
    edits = plan.with_pointers(edits)
    slots = {name: plan.entry_list(name, ed) for name, ed in edits.items()}
    plan.refuse_moves_in_a_loop(slots)
    alloc, pos, in_place = plan.place(slots, chain_room)
    plan.point_at_moved(slots, pos, in_place)
    return plan.render(slots, alloc, pos, in_place)


class _Plan:
    """The state plan_patch builds up: the old structure, and the overwrites, freed ranges and
    dead entries (whose old values nothing keeps) found so far."""

    def __init__(self, data: bytes, structure) -> None:
        self.data = data
        self.structure = structure
        self.bo = structure.byte_order
        self.ifds = {ifd.name: ifd for ifd in structure.ifds}
        self.ranges = _value_ranges(structure)
        self.overwrites: list[tuple[int, bytes]] = []
        self.freed: list[tuple[int, int]] = []
        self.dead: set[int] = set()  # entry offsets of the entries whose old value nothing keeps
        self.tables: dict[str, tuple[int, int]] = {}  # old tables of the edited IFDs
        self.end = len(data)  # where the tail starts (plan_patch's ``end``)

    def with_pointers(self, edits: dict[str, IfdEdit]) -> dict[str, IfdEdit]:
        """The edits that change something, plus the pointer entry a new child IFD needs in
        its parent (which may itself be new); refuses IFDs that cannot be created here."""
        ifds = self.ifds
        edits = {k: v for k, v in edits.items() if v.put or v.drop}
        for child in ("InteropIFD", "GPS", "ExifIFD"):
            if child in edits and child not in ifds:
                parent, ptag = CHILD_POINTERS[child]
                edits.setdefault(parent, IfdEdit()).put[ptag] = NewEntry(ptag, 4, 1, bytes(4))
        for name in edits:
            if name not in ifds and name not in CHILD_POINTERS:
                raise WriteError(f"cannot create {name} in this file")
            if name not in ifds and name in CHILD_POINTERS:
                parent, ptag = CHILD_POINTERS[name]
                pointer = next((e for e in ifds[parent].entries if e.tag == ptag), None) if (
                    parent in ifds) else None
                if pointer is not None:
                    # The pointer is there but leads nowhere readable: replacing it would lose
                    # whatever it pointed at.
                    raise WriteError(f"the {name} pointer in {parent} points outside the data; "
                                     f"refusing to replace {name}", offset=pointer.entry_offset)
        if "IFD0" not in ifds:
            raise WriteError("the EXIF block has no IFD0")
        return edits

    def shared(self, own: tuple[int, int]) -> bool:
        # ``own`` is in ``ranges`` once for the entry asking; any other overlap, including an
        # identical range of another entry pointing at the same bytes, means shared.
        a, b = own
        return sum(1 for r in self.ranges if r[0] < b and a < r[1]) > 1

    def entry_list(self, name: str, ed: IfdEdit) -> list[_Slot]:
        """Phase 1: the new entries of IFD ``name``, sorted by tag."""
        old = self.ifds.get(name)
        cur: dict[int, _Slot] = {}
        old_by_tag: dict[int, Entry] = {}
        if old is not None:
            self._check_rewritable(old)
            for e in old.entries:
                old_by_tag.setdefault(e.tag, e)
                cur.setdefault(e.tag, self._kept(e))
        for tag in ed.drop:
            e = old_by_tag.get(tag)
            if e is not None:
                self.dead.add(e.entry_offset)
            if e is not None and e.value_offset is not None:
                own = (e.value_offset, e.value_offset + e.size)
                if own[1] <= len(self.data) and not self.shared(own):
                    self.freed.append(own)
            cur.pop(tag, None)
        for tag, ne in ed.put.items():
            cur[tag] = self._put(tag, ne, old_by_tag.get(tag))
        return sorted(cur.values(), key=lambda s: s.tag)

    def _check_rewritable(self, old: Ifd) -> None:
        stored = struct.unpack_from(self.bo + "H", self.data, old.offset)[0]
        tags = [e.tag for e in old.entries]
        if stored != len(old.entries) or len(set(tags)) != len(tags):
            # The reader skipped entries it could not understand; rewriting this IFD would
            # drop them.  Refuse rather than lose data.
            raise WriteError(f"{old.name} at offset {old.offset} has unreadable or duplicate "
                             "entries; refusing to rewrite it (metafs write --repair drops "
                             "them)", offset=old.offset)

    def _kept(self, e: Entry) -> _Slot:
        """An entry the edit keeps, as it was; its value may be laid out afresh (``home``)
        when it holds no offsets and no other entry shares its bytes."""
        orig = bytes(self.data[e.entry_offset : e.entry_offset + 12])
        slot = _Slot(e.tag, e.type, e.count, e.raw, e.value_offset, orig)
        if e.value_offset is not None and len(e.raw) == e.size and (
                e.type in MOVABLE_TYPES or e.tag in SELF_CONTAINED):
            own = (e.value_offset, e.value_offset + e.size)
            if own[1] <= len(self.data) and not self.shared(own):
                slot.home = own
        return slot

    def _put(self, tag: int, ne: NewEntry, e: Entry | None) -> _Slot:
        """A new or replaced entry: its value goes back in the old slot when it fits there."""
        off = None
        if e is not None and e.value_offset is not None:
            own = (e.value_offset, e.value_offset + e.size)
            # Reuse the old slot only when it is wholly inside the data (a truncated file
            # can point past its end) and not shared with another value.
            whole = len(e.raw) == e.size and own[1] <= len(self.data)
            if len(ne.raw) > 4 and len(ne.raw) <= e.size and whole and not self.shared(own):
                off = e.value_offset  # fits in the old slot: overwrite in place
                self.overwrites.append((off, ne.raw + bytes(e.size - len(ne.raw))))
            elif whole and not self.shared(own):
                self.freed.append(own)
        if e is not None and off is None:
            self.dead.add(e.entry_offset)
        slot = _Slot(tag, ne.type, ne.count, ne.raw, off if len(ne.raw) > 4 else None)
        if off is not None:
            slot.home = (off, off + e.size)
        if len(ne.raw) > 4 and off is None:
            slot.offset = -1  # to allocate
        return slot

    def refuse_moves_in_a_loop(self, slots: dict[str, list[_Slot]]) -> None:
        if not any("(IFD loop)" in w for w in self.structure.warnings):
            return
        for name, sl in slots.items():
            old = self.ifds.get(name)
            if old is None or len(sl) > len(old.entries):
                # Moving an IFD leaves its old copy where the loop points: readers would then
                # follow the loop through stale data.  Refuse rather than change what they see.
                raise WriteError("the IFD chain loops back on itself; refusing to move an IFD "
                                 "in it", offset=None if old is None else old.offset)

    def place(self, slots: dict[str, list[_Slot]],
              chain_room: bool) -> tuple[_Allocator, dict[str, int], set[str]]:
        """Phase 2: where each edited IFD goes: in place if it did not grow, else at the end.
        Whatever lies at the very end and belongs only to the IFDs being rewritten (typically
        our own earlier appends) is laid out afresh, so editing again does not grow the file."""
        alloc, moved = self._reclaim(slots, chain_room)
        pos: dict[str, int] = {}
        in_place: set[str] = set()
        # IFD0 first in the tail: ExifTool reads the IFD0 -> IFD1 chain with the length from
        # IFD0's start to the block's end (see _chain_room), so IFD0 wants as much after it as
        # it can get.
        for name in sorted(slots, key=lambda n: n != "IFD0"):
            sl = slots[name]
            old = self.ifds.get(name)
            if old is not None and len(sl) <= len(old.entries) and name not in moved:
                pos[name] = old.offset
                in_place.add(name)
            else:
                pos[name] = alloc.reserve(ifd_size(len(sl)))
            for s in sl:
                if s.offset == -1:
                    s.offset = alloc.alloc(s.raw)
        ifd0_at = pos.get("IFD0", self.ifds["IFD0"].offset)
        short = _chain_room(self.data, self.structure, slots) - (alloc.cursor - ifd0_at)
        if short > 0 and chain_room:
            alloc.reserve(short)  # zeros after our own data, reclaimed by the next edit of IFD0
        return alloc, pos, in_place

    def _reclaim(self, slots: dict[str, list[_Slot]], chain_room: bool) -> tuple[_Allocator,
                                                                                 set[str]]:
        """The allocator for the tail, starting where the reclaimable end of the block
        begins, and the edited IFDs whose old table lies in that end (they move)."""
        for name in slots:
            old = self.ifds.get(name)
            if old is not None:
                self.tables[name] = (old.offset, old.offset + ifd_size(len(old.entries)))
                if len(slots[name]) > len(old.entries):
                    self.freed.append(self.tables[name])
        homes = [s.home for sl in slots.values() for s in sl if s.home is not None]
        pad = _own_padding(self.data, self.structure, self.ranges) if (
            "IFD0" in slots and chain_room) else []
        end = reclaim_end(self.end, self.freed + homes + list(self.tables.values()) + pad)
        for sl in slots.values():
            for s in sl:
                if s.home is not None and s.home[0] >= end:
                    s.offset, s.orig = -1, None  # moves (unchanged bytes) to the new tail
        return _Allocator(end), {name for name, t in self.tables.items() if t[0] >= end}

    def point_at_moved(self, slots: dict[str, list[_Slot]], pos: dict[str, int],
                       in_place: set[str]) -> None:
        """Phase 3: the pointers to moved or new IFDs."""
        for name, p in pos.items():
            if name in in_place:
                continue
            if name == "IFD0":
                self.overwrites.append((4, struct.pack(self.bo + "I", p)))
            elif name == "IFD1":
                if "IFD0" not in slots:
                    # the next-IFD pointer follows every stored entry, including any the reader
                    # skipped (unknown type), so count them from the data, not from ``entries``
                    i0 = self.ifds["IFD0"]
                    n0 = struct.unpack_from(self.bo + "H", self.data, i0.offset)[0]
                    self.overwrites.append((i0.offset + 2 + 12 * n0,
                                            struct.pack(self.bo + "I", p)))
            else:
                self._set_pointer(slots, *CHILD_POINTERS[name], p)

    def _set_pointer(self, slots: dict[str, list[_Slot]], parent: str, tag: int,
                     value: int) -> None:
        raw = struct.pack(self.bo + "I", value)
        if parent in slots:
            for s in slots[parent]:
                if s.tag == tag:
                    s.raw, s.type, s.count = raw, 4 if s.type not in (4, 13) else s.type, 1
                    s.offset, s.orig = None, None
            return
        for e in self.ifds[parent].entries:
            if e.tag == tag:
                self.overwrites.append((e.entry_offset + 8, raw))
                return

    def render(self, slots: dict[str, list[_Slot]], alloc: _Allocator, pos: dict[str, int],
               in_place: set[str]) -> TiffPatch:
        """Phase 4: the edited IFDs rendered in place or into the tail, and the bytes the edit
        leaves behind zeroed."""
        tail = alloc.tail()
        for off, b in alloc.chunks:
            tail[off - alloc.keep : off - alloc.keep + len(b)] = b
        overwrites = self.overwrites
        for name, sl in slots.items():
            old = self.ifds.get(name)
            nxt = old.next_offset if old is not None else 0
            if name == "IFD0" and "IFD1" in pos:
                nxt = pos["IFD1"]
            blob = _render_ifd(sl, nxt, self.bo)
            p = pos[name]
            if old is not None and name in in_place:
                overwrites.append((p, blob + bytes(ifd_size(len(old.entries)) - len(blob))))
            else:
                tail[p - alloc.keep : p - alloc.keep + len(blob)] = blob
        left = [t for n, t in self.tables.items() if n not in in_place]  # moved IFDs' tables
        overwrites += _scrub(self.data, self.structure, self.dead, left, overwrites, alloc.end)
        overwrites = [(o, b) for o, b in overwrites if o < alloc.end]  # reclaimed: dropped
        crossing = [o for o, b in overwrites if o + len(b) > alloc.end]
        if crossing:
            raise WriteError("overlapping values at the end of the block; refusing to rewrite "
                             "it", offset=crossing[0])
        return TiffPatch(alloc.keep, overwrites, bytes(tail))


def _chain_room(data, structure, slots: dict[str, list[_Slot]]) -> int:
    """How many bytes must follow IFD0's start for ExifTool to read the IFD1, IFD2... tables.

    ExifTool (Exif.pm ProcessExif) reads the IFDs after IFD0 with IFD0's directory length, the
    bytes from IFD0's start to the block's end, and under -validate warns "Short directory size
    for IFD1" when an IFD of the chain has more entries than that length holds."""
    bo = structure.byte_order
    room = 0
    for ifd in structure.ifds:
        if ifd.parent is not None or ifd.name == "IFD0" or not ifd.name.startswith("IFD"):
            continue
        if ifd.name in slots:
            n = len(slots[ifd.name])
        else:  # the stored count, as far as the data holds entries
            n = min(struct.unpack_from(bo + "H", data, ifd.offset)[0],
                    (len(data) - ifd.offset - 2) // 12)
        room = max(room, 2 + 12 * n)
    return room


def _own_padding(data, structure, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The zeros at the block's end that an earlier edit added for _chain_room (nothing points
    at them: after every value, table and image strip), as a range the edit may reclaim.

    Only where IFD0 lies after everything but its own values, as plan_patch leaves it: a
    camera's zero padding elsewhere may be the target of a pointer we cannot see."""
    from engine.exif.scrub import protected

    ifd0 = next(ifd for ifd in structure.ifds if ifd.name == "IFD0")
    own = {(e.value_offset, e.value_offset + e.size) for e in ifd0.entries
           if e.value_offset is not None}
    own.add((ifd0.offset, ifd0.offset + ifd_size(len(ifd0.entries))))
    spans = ranges + protected(data, structure)
    if any(b > ifd0.offset and (a, b) not in own for a, b in spans):
        return []
    last = max(b for _a, b in spans)
    last += last & 1
    if last >= len(data) or len(data) - last > 2 + 12 * 0xFFFF:
        return []
    if any(data[last:]):
        return []
    return [(last, len(data))]


def _scrub(data, structure, dead: set[int], tables: list[tuple[int, int]],
           overwrites: list[tuple[int, bytes]], end: int) -> list[tuple[int, bytes]]:
    """Zeroes for the bytes this edit leaves behind (deleted and moved values, the entry tables
    of IFDs rewritten at the end) that nothing else still points at (engine.exif.scrub)."""
    gone = list(tables)
    for ifd in structure.ifds:
        for e in ifd.entries:
            if e.entry_offset in dead and e.value_offset is not None:
                gone.append((e.value_offset, e.value_offset + e.size))
    if not gone:
        return []
    from engine.exif.scrub import protected, zero_overwrites

    bo = structure.byte_order
    live = protected(data, structure) + [(o, o + len(b)) for o, b in overwrites]
    for ifd in structure.ifds:
        if (ifd.offset, ifd.offset + ifd_size(len(ifd.entries))) not in tables:
            stored = struct.unpack_from(bo + "H", data, ifd.offset)[0]
            live.append((ifd.offset, ifd.offset + ifd_size(stored)))
        live += [(e.value_offset, e.value_offset + e.size) for e in ifd.entries
                 if e.value_offset is not None and e.entry_offset not in dead]
    return zero_overwrites(gone, live, end)


def _render_ifd(slots: list[_Slot], next_offset: int, bo: str) -> bytes:
    out = [struct.pack(bo + "H", len(slots))]
    for s in slots:
        if s.orig is not None:  # not edited: the entry exactly as it was
            out.append(s.orig)
            continue
        if s.offset is None:
            value = s.raw + bytes(4 - len(s.raw))
        else:
            value = struct.pack(bo + "I", s.offset)
        out.append(struct.pack(bo + "HHI", s.tag, s.type, s.count) + value)
    out.append(struct.pack(bo + "I", next_offset))
    return b"".join(out)
