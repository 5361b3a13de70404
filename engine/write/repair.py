"""`metafs write --repair`: fix the EXIF damage ExifTool fixes with a "[minor]" note.

The damage check (engine.write.damage) refuses to build on an EXIF block the tolerant reader
had to patch up.  With ``repair`` the block is first repaired from what is readable, in place
(nothing that was readable moves, so maker notes and thumbnails keep their offsets):

- an EXIF block split over several APP1 segments is joined into one ("multi-segment EXIF");
- an EXIF identifier other than ``Exif\\0\\0`` (garbage before it, a missing second NUL) is
  written as ``Exif\\0\\0``; a block with no readable TIFF header is dropped (the write then
  creates a new one);
- an IFD's entries are sorted by tag ("out of sequence") and a duplicate tag keeps its first
  entry;
- an entry that cannot be read (unknown type, zero count, value outside the block or inside the
  TIFF header) or a sub-IFD pointer that leads outside the block or back into a loop is dropped;
- a next-IFD link that leads outside the block or into a loop is cut;
- a directory table (or a maker-note pointer) that reaches past the block's end gets zero
  bytes up to where it ends, so a write that grows the block cannot make it read new data.

The EXIF of a JPEG (APP1), of a TIFF (the file's own IFDs), of a PNG (eXIf chunk) or WebP
(EXIF chunk: lengths, CRC and RIFF size follow) and of a HEIF (Exif item, when its size stays)
is repaired this way.  Each repair and each dropped entry is one note (WriteResult.notes).
Pure functions on bytes.
"""

from __future__ import annotations

import struct

from engine.errors import WriteError
from engine.exif.types import LAST_CLASSIC_TYPE, SUB_IFD_TAGS, TIFF_MAGICS, TYPE_SIZES, ifd_size

MAX_PASSES = 8  # a repair can uncover the next problem (an IFD read only once a loop is cut)


def repair_jpeg(data, path: str) -> tuple[bytes, list[str]] | None:
    """The JPEG with its EXIF repaired and the notes saying what changed, or None when there
    is nothing to repair."""
    from engine.containers import jpeg as J

    segs = J.parse_jpeg(data, path).segments
    idx = J.find_kind(segs, "exif")
    if not idx:
        return None
    first = segs[idx[0]]
    hlen = J.exif_header_len(first) or len(J.EXIF_HEADER)
    notes: list[str] = []
    if first.payload[:hlen] != J.EXIF_HEADER:
        notes.append(f"repaired: the EXIF identifier {bytes(first.payload[:hlen])!r} of the APP1 "
                     f"segment at offset {first.offset} is now 'Exif\\0\\0'")
    tiff = bytes(first.payload[hlen:])
    joined = [first]
    for k in idx[1:]:
        seg = segs[k]
        h = J.exif_header_len(seg) or len(J.EXIF_HEADER)
        if k != idx[0] + len(joined) or seg.payload[h : h + 4] in TIFF_MAGICS:
            break  # not a continuation (ExifTool: the next segment, without a TIFF header)
        tiff += bytes(seg.payload[h:])
        joined.append(seg)
    if len(joined) > 1:
        notes.append(f"repaired: the EXIF block split over {len(joined)} APP1 segments "
                     f"(offsets {', '.join(str(s.offset) for s in joined)}) is now one segment")
    from engine.errors import EngineError

    try:
        fixed, tnotes = repair_tiff(tiff)
    except EngineError as e:  # no TIFF header to read anything from: the block goes
        where = ", ".join(str(s.offset) for s in joined)
        notes.append(f"dropped: the EXIF block (APP1 at offset {where}): {e.reason}")
        return bytes(data[: first.offset]) + bytes(data[joined[-1].end :]), notes
    notes += tnotes
    if not notes:
        return None
    payload = J.EXIF_HEADER + fixed
    if len(payload) > J.MAX_PAYLOAD:
        raise WriteError(f"the repaired EXIF block ({len(fixed)} bytes) does not fit in one "
                         "APP1 segment; refusing to write", path=path, offset=first.offset)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return bytes(data[: first.offset]) + app1 + bytes(data[joined[-1].end :]), notes


def repair_tiff(block: bytes, whole_file: bool = False) -> tuple[bytes, list[str]]:
    """The TIFF/EXIF block with its IFD tables repaired in place, and the notes.

    ``whole_file``: the block is a TIFF file.  A directory whose entry count is wrong (its
    table runs past the end, or over its own values) is then a "Bad IFD" error to ExifTool,
    not a minor one: more likely a truncated file than a miscount, so nothing is repaired."""
    from engine.exif.ifd import parse_tiff

    buf = bytearray(block)
    notes: list[str] = []
    if whole_file and _miscounted(buf, parse_tiff(block)):
        return block, []
    for _ in range(MAX_PASSES):
        st = parse_tiff(bytes(buf))
        limits, bogus = _layout(buf, st)
        changed = False
        for ifd in st.ifds:
            if ifd.offset not in bogus:
                changed |= _repair_ifd(buf, st, ifd, notes, limits[ifd.offset], bogus)
        if not changed:
            break
    _pad_dangling(buf, notes)
    return bytes(buf), notes


def _miscounted(buf: bytearray, st) -> bool:
    """Whether an IFD's stored entry count is not the size of its table (_table_size)."""
    limits, bogus = _layout(buf, st)
    for ifd in st.ifds:
        stored = struct.unpack_from(st.byte_order + "H", buf, ifd.offset)[0]
        fit = min(stored, (len(buf) - ifd.offset - 2) // 12)
        if ifd.offset not in bogus and _table_size(buf, st.byte_order, ifd.offset, fit,
                                                   limits[ifd.offset]) != stored:
            return True
    return False


MAX_PAD = 1 << 16  # a pointer further past the end is not one a camera cut off


def _pad_dangling(buf: bytearray, notes: list[str]) -> None:
    """Extend the block with zero bytes over what a directory table or a maker-note pointer
    reaches past its end (engine.exif.block.dangling_floor): a write that grows the block
    would otherwise make that pointer read its new data.  A table then reads whole (its
    missing entries or next-IFD link as zeros), a maker-note directory as empty."""
    from engine.exif.block import dangling_floor
    from engine.exif.ifd import parse_tiff

    size = len(buf)
    for _ in range(MAX_PASSES):
        floor = dangling_floor(bytes(buf), parse_tiff(bytes(buf)))
        if floor is None:
            break
        bo = "<" if buf[:2] == b"II" else ">"
        at = max(floor.offset, 8)
        n = struct.unpack_from(bo + "H", buf, at)[0] if at + 2 <= len(buf) else 0
        need = max(at + ifd_size(n), len(buf) + 2)
        if need - size > MAX_PAD:
            return
        buf += bytes(need - len(buf))
        notes.append(f"repaired: {floor.why}; the block now ends with zero bytes up to offset "
                     f"{need}")


def _layout(buf: bytearray, st) -> tuple[dict[int, int], set[int]]:
    """For each IFD: where the next structure of another IFD starts (its table cannot run
    past it), and the IFDs whose table starts inside one read before (a pointer gone wrong:
    rewriting that "IFD" would overwrite the other one)."""
    import bisect

    starts = sorted({(i.offset, id(i)) for i in st.ifds}
                    | {(e.value_offset, id(i)) for i in st.ifds for e in i.entries
                       if e.value_offset is not None})
    keys = [o for o, _ in starts]
    limits: dict[int, int] = {}
    bogus: set[int] = set()
    regions: list[tuple[int, int]] = []
    for ifd in st.ifds:
        lim = len(buf) + 4
        for o, owner in starts[bisect.bisect_right(keys, ifd.offset):]:
            if owner != id(ifd):
                lim = o
                break
        limits[ifd.offset] = lim
        if any(a <= ifd.offset < b for a, b in regions):
            bogus.add(ifd.offset)
            continue
        stored = struct.unpack_from(st.byte_order + "H", buf, ifd.offset)[0]
        m = _table_size(buf, st.byte_order, ifd.offset,
                        min(stored, (len(buf) - ifd.offset - 2) // 12), lim)
        regions.append((ifd.offset, ifd.offset + ifd_size(m)))
    return limits, bogus


def _table_size(buf: bytearray, bo: str, off: int, m: int, limit: int) -> int:
    """How many of the ``m`` stored entries are the IFD's table: an inflated entry count makes
    the table run over the values of its first entries, which start right after the real
    table (and its next-IFD link).  Entries read from there are value bytes, not entries."""
    def unreadable(k: int) -> bool:
        typ, count = struct.unpack_from(bo + "HI", buf, off + 2 + 12 * k + 2)
        return not count or typ not in TYPE_SIZES or typ > LAST_CLASSIC_TYPE

    first_value = limit
    cut = m
    for k in range(m + 1):
        if off + 2 + 12 * k + 4 > first_value:
            cut = max(k - 1, 0)
            break
        if k == m:
            break
        _tag, typ, count, voff = struct.unpack_from(bo + "HHII", buf, off + 2 + 12 * k)
        unit = TYPE_SIZES.get(typ, 0) if typ <= LAST_CLASSIC_TYPE else 0
        if count and unit and count * unit > 4 and off < voff < first_value:
            first_value = voff
    # Only a count that reads garbage past the cut was inflated; a single value offset that
    # points into the table (valid entries after it) is not a reason to drop entries.
    if cut < m and any(unreadable(k) for k in range(cut, m)):
        return cut
    return m


def _repair_ifd(buf: bytearray, st, ifd, notes: list[str], limit: int,
                bogus: set[int]) -> bool:
    """Rewrite the table of ``ifd`` in place without its unreadable and duplicate entries,
    sorted by tag, its next-IFD link cut when it leads nowhere readable; True if it changed."""
    bo, size = st.byte_order, len(buf)
    off = ifd.offset
    stored = struct.unpack_from(bo + "H", buf, off)[0]
    m = _table_size(buf, bo, off, min(stored, (size - off - 2) // 12), limit)
    at = f"{ifd.name} at offset {off}"
    kept = _readable_entries(buf, st, ifd, m, bogus, notes)
    if list(kept) != sorted(kept):
        notes.append(f"repaired: the entries of {at} were out of sequence; sorted by tag")
    nxt = _next_link(buf, st, ifd, m, bogus, notes)
    if stored != m:
        notes.append(f"repaired: {at} claims {stored} entries; its table holds {m} (the rest "
                     "would be read from past the block's end or from its own values)")
    table = struct.pack(bo + "H", len(kept)) + b"".join(kept[t] for t in sorted(kept))
    table += struct.pack(bo + "I", nxt)
    old_len = ifd_size(m)  # the real table: what lies past it (values) is left alone
    if off + old_len > size:
        buf += bytes(off + old_len - size)  # the next-IFD link was cut off by the block's end
        notes.append(f"repaired: the table of {at} was cut off by the block's end; the block "
                     f"now ends with zero bytes up to offset {off + old_len}")
    new = table + bytes(old_len - len(table))
    if bytes(buf[off : off + old_len]) == new:
        return False
    buf[off : off + old_len] = new
    return True


def _readable_entries(buf: bytearray, st, ifd, m: int, bogus: set[int],
                      notes: list[str]) -> dict[int, bytes]:
    """The 12-byte entries of the first ``m`` of ``ifd``'s table that can be read, by tag in
    table order (a duplicate tag keeps its first entry); a note for each one dropped."""
    bo, size, off = st.byte_order, len(buf), ifd.offset
    # Where the parser read each sub-IFD: a pointer elsewhere was not read (outside the
    # block, a loop, a bad type), or read over another IFD (bogus).
    read_from = {(i.parent, i.parent_tag, i.offset) for i in st.ifds
                 if i.parent is not None and i.offset not in bogus}
    kept: dict[int, bytes] = {}
    for k in range(m):
        pos = off + 2 + 12 * k
        raw = bytes(buf[pos : pos + 12])
        tag, typ, count = struct.unpack_from(bo + "HHI", raw)
        unit = TYPE_SIZES.get(typ) if typ <= LAST_CLASSIC_TYPE else None
        why = None
        if unit is None:
            why = f"unknown type {typ}"
        elif count == 0:
            why = "zero count"
        elif count * unit > 4:
            voff = struct.unpack_from(bo + "I", raw, 8)[0]
            if voff < 8 or voff + count * unit > size:
                why = f"value at offset {voff} ({count * unit} bytes) outside the block"
        if why is None and tag in SUB_IFD_TAGS and typ in (4, 13) and count == 1:
            sub = struct.unpack_from(bo + "I", raw, 8)[0]
            if (ifd.name, tag, sub) not in read_from:
                why = f"{SUB_IFD_TAGS[tag]} pointer to offset {sub}, which cannot be read there"
        if why is None and tag in kept:
            why = "duplicate of an earlier entry"
        if why is not None:
            notes.append(f"dropped: {ifd.name} at offset {off}, tag 0x{tag:04x} (entry at "
                         f"offset {pos}): {why}")
            continue
        kept[tag] = raw
    return kept


def _next_link(buf: bytearray, st, ifd, m: int, bogus: set[int], notes: list[str]) -> int:
    """The next-IFD link of ``ifd`` (table of ``m`` entries) to write: cut (0) when it leads
    where the parser did not read the next IFD of the chain."""
    size, nxt_at = len(buf), ifd.offset + 2 + 12 * m
    nxt = struct.unpack_from(st.byte_order + "I", buf, nxt_at)[0] if nxt_at + 4 <= size else 0
    if ifd.parent is None and nxt:
        chain = [i for i in st.ifds if i.parent is None]
        k = chain.index(ifd) if ifd in chain else -1
        follows = chain[k + 1].offset if 0 <= k < len(chain) - 1 else None
        if nxt != follows or nxt in bogus:
            notes.append(f"dropped: the link from {ifd.name} at offset {ifd.offset} to the next "
                         f"IFD at offset {nxt}, which cannot be read there")
            nxt = 0
    return nxt


def repaired_view(data, path: str) -> tuple[bytes, list[str]]:
    """``data`` (the file) with its EXIF repaired, and the notes; ``data`` itself and no notes
    when there is nothing this module repairs."""
    fixed = repair_file(data, path)
    if fixed is None:
        return data, []
    return fixed


def repair_file(data, path: str) -> tuple[bytes, list[str]] | None:
    """The file with its EXIF repaired and the notes, or None (nothing to repair): a JPEG's
    APP1 is rebuilt (repair_jpeg); a TIFF's IFD tables are repaired in place; the EXIF block
    of a PNG or WebP file is repaired in its chunk (length, CRC, RIFF size follow), of a HEIF
    file in place when it keeps its size (iloc is not rewritten here)."""
    from engine.containers.tiff import tiff_header

    if bytes(data[:2]) == b"\xff\xd8":
        return repair_jpeg(data, path)
    if tiff_header(bytes(data[:16])) is not None:
        fixed, notes = repair_tiff(bytes(data), whole_file=True)
        return (fixed, notes) if notes else None
    from engine.errors import EngineError
    from engine.registry import sniff

    try:
        fmt = sniff(bytes(data[:64]), path)
        if fmt.name not in ("PNG", "WEBP", "HEIF"):
            return None
        slot = fmt.locate(data, path).first("exif")
    except EngineError:
        return None
    if slot is None or slot.data is None:
        return None
    off, block = slot.offset, bytes(slot.data)
    if bytes(data[off : off + len(block)]) != block:
        return None  # compressed or hex-encoded: not repaired in place
    fixed, notes = repair_tiff(block)
    if not notes:
        return None
    if fmt.name == "HEIF":  # an item's extent: its size stays (iloc is not rewritten here)
        if len(fixed) != len(block):
            return None
        return bytes(data[:off]) + fixed + bytes(data[off + len(block) :]), notes
    if fmt.name == "PNG":
        return _png_chunk(data, slot.where[0], off, len(block), fixed), notes
    return _webp_chunk(data, slot.where, off, len(block), fixed), notes


def _png_chunk(data, index: int, off: int, old: int, fixed: bytes) -> bytes:
    """The PNG with the block at ``off`` (``old`` bytes, in chunk number ``index``) replaced
    by ``fixed``: the chunk's length and CRC follow."""
    import zlib

    from engine.containers.png import parse_png

    c = parse_png(data).chunks[index]
    size = struct.unpack_from(">I", data, c.offset)[0]
    body = bytes(data[c.offset + 8 : off]) + fixed + bytes(data[off + old : c.offset + 8 + size])
    ctype = bytes(data[c.offset + 4 : c.offset + 8])
    chunk = struct.pack(">I", len(body)) + ctype + body + struct.pack(
        ">I", zlib.crc32(ctype + body))
    return bytes(data[: c.offset]) + chunk + bytes(data[c.offset + 12 + size :])


def _webp_chunk(data, index: int, off: int, old: int, fixed: bytes) -> bytes:
    """The WebP with the block at ``off`` (``old`` bytes, in chunk number ``index``) replaced
    by ``fixed``: the chunk's size, its pad byte and the RIFF size follow."""
    from engine.containers.webp import parse_webp

    c = parse_webp(data).chunks[index]
    size = struct.unpack_from("<I", data, c.offset + 4)[0]
    body = bytes(data[c.offset + 8 : off]) + fixed + bytes(data[off + old : c.offset + 8 + size])
    chunk = c.fourcc + struct.pack("<I", len(body)) + body + bytes(len(body) & 1)
    out = bytearray(data[: c.offset]) + chunk + bytes(data[c.offset + 8 + size + len(c.pad) :])
    riff = struct.unpack_from("<I", out, 4)[0] + len(chunk) - (8 + size + len(c.pad))
    struct.pack_into("<I", out, 4, riff)
    return bytes(out)


def repair_hint(data, path: str) -> str:
    """For a refusal: what ``--repair`` would change in this file, or "" when nothing."""
    try:
        fixed = repair_file(data, path)
    except Exception:  # noqa: BLE001 - a hint must never hide the refusal it completes
        return ""
    if fixed is None:
        return ""
    notes = fixed[1]
    more = f"; and {len(notes) - 3} more" if len(notes) > 3 else ""
    return f"; metafs write --repair would fix it ({'; '.join(notes[:3])}{more})"
