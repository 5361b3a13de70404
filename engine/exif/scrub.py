"""Which bytes of a patched TIFF/EXIF block no longer belong to anything: zero them.

The patcher (engine.exif.patch) leaves every byte it does not need to change where it was, so a
deleted value, a value that moved because it grew, and the entry table of an IFD rewritten at
the end would otherwise stay in the file, unreferenced but readable with ``grep``.  People
delete GPS before sharing a photo: those bytes must go.

A byte is zeroed only when nothing still points at it: every value and entry table that stays
referenced, all image data (strips, tiles, the thumbnail), and whatever the maker note's
directory seems to point at (its base is guessed: the one that puts most of its values inside
the maker note) are kept, even where they overlap a freed range.  Pure functions on offsets.
"""

from __future__ import annotations

import struct

from engine.exif.types import (
    BOM_TAGS,
    BYTE_ORDERS,
    IMAGE_PAIRS,
    LAST_CLASSIC_TYPE,
    MAKERNOTE_HEADERS,
    MAKERNOTE_TAG,
    TYPE_SIZES,
    UINT_TYPES,
    unsigned_ints,
)

Span = tuple[int, int]  # [start, end)


def subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    """The parts of ``spans`` (merged) outside every hole."""
    out: list[Span] = []
    holes = sorted(h for h in holes if h[0] < h[1])
    for a, b in _merge(spans):
        for h0, h1 in holes:
            if h1 <= a:
                continue
            if h0 >= b:
                break
            if h0 > a:
                out.append((a, h0))
            a = max(a, h1)
            if a >= b:
                break
        if a < b:
            out.append((a, b))
    return out


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[0] < s[1]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def protected(data, structure) -> list[Span]:
    """Bytes nobody may zero whatever the edit: the header, image data, what the maker note's
    directory points at, and the first bytes of any directory a type-IFD entry points at."""
    bo = structure.byte_order
    out: list[Span] = [(0, 8)]
    for ifd in structure.ifds:
        by_tag = {e.tag: e for e in ifd.entries}
        for otag, ctag in IMAGE_PAIRS:
            if otag in by_tag and ctag in by_tag:
                offs = unsigned_ints(by_tag[otag].raw, by_tag[otag].type, bo, UINT_TYPES)
                lens = unsigned_ints(by_tag[ctag].raw, by_tag[ctag].type, bo, UINT_TYPES)
                out += [(o, o + n) for o, n in zip(offs, lens, strict=False)]
        for e in ifd.entries:
            if e.type == 13:  # IFD
                out += [(o, o + 2) for o in unsigned_ints(e.raw, 13, bo)]
            elif e.tag == MAKERNOTE_TAG and e.value_offset is not None:
                out += _makernote_targets(data, bo, e.value_offset,
                                          min(e.value_offset + e.size, len(data)))
    return out


def _makernote_targets(data, bo: str, start: int, end: int) -> list[Span]:
    """What the maker note's main directory points at, wherever its base may be: values
    inside the maker note are kept with it anyway; this catches the ones outside."""
    found = makernote_ifd(data, bo, start, end)
    if found is None:
        return []
    ents, inner = found
    bases = [0, start] + ([inner] if inner is not None else [])

    def inside(base: int) -> int:
        return sum(1 for t, c, v in ents if (n := c * TYPE_SIZES[t]) > 4
                   and start <= base + v and base + v + n <= end)

    counts = {b: inside(b) for b in bases}
    best = max(counts.values())
    out: list[Span] = []
    for base in bases:
        if counts[base] != best:
            continue
        for t, c, v in ents:
            n = c * TYPE_SIZES[t]
            if n > 4:
                out.append((base + v, base + v + n))
            elif t == 13:
                out.append((base + v, base + v + 2))
    return out


def makernote_ifd(data, bo: str, start: int, end: int, swapped: bool = True):
    """((type, count, value) of each entry, inner TIFF header offset or None) of the first
    plausible directory after one of the usual maker-note headers, or None.  The maker note
    starts at ``start`` and nothing of it is read at or past ``end``; ``swapped``: try the
    other byte order too when none is found in the block's (or the inner header's) order."""
    inner = None
    if bytes(data[start + 10 : start + 12]) in BYTE_ORDERS:  # Nikon type 3: own TIFF header
        inner = start + 10
        bo = BYTE_ORDERS[bytes(data[inner : inner + 2])]
    for order in (bo, "<" if bo == ">" else ">")[: 2 if swapped else 1]:
        for h in MAKERNOTE_HEADERS:
            at = start + h
            if at + 14 > end:  # not even one entry
                break
            n, tag, typ = struct.unpack_from(order + "HHH", data, at)
            # a byte-order mark where the first tag should be is an inner TIFF header
            if not 1 <= n <= 256 or at + 2 + 12 * n > end or not 1 <= typ <= LAST_CLASSIC_TYPE or (
                    tag in BOM_TAGS):
                continue
            ents = [struct.unpack_from(order + "HHII", data, at + 2 + 12 * k) for k in range(n)]
            if not all(1 <= t <= LAST_CLASSIC_TYPE for _g, t, _c, _v in ents):
                continue
            return [(t, c, v) for _g, t, c, v in ents], inner
    return None


def zero_overwrites(gone: list[Span], live: list[Span], limit: int) -> list[tuple[int, bytes]]:
    """Overwrites that zero the ``gone`` bytes below ``limit`` that no ``live`` range covers."""
    spans = subtract([(a, min(b, limit)) for a, b in gone if a < limit], live)
    return [(a, bytes(b - a)) for a, b in spans]
