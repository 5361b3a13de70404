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

Span = tuple[int, int]  # [start, end)

# (offsets tag, byte counts tag) pairs that point at image data: strips, tiles, JPEG images.
IMAGE_PAIRS = ((0x0111, 0x0117), (0x0144, 0x0145), (0x0201, 0x0202))
_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
# Where a maker note's directory may start (after its maker's header), as ExifTool finds them.
_MAKERNOTE_HEADERS = (0, 6, 8, 10, 12, 14, 16, 18)
_MAKERNOTE = 0x927C


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


def _ints(raw: bytes, typ: int, bo: str) -> list[int]:
    fmt = {3: "H", 4: "I", 13: "I"}.get(typ)
    if fmt is None:
        return []
    n = len(raw) // _SIZES[typ]
    return list(struct.unpack_from(f"{bo}{n}{fmt}", raw))


def protected(data, structure) -> list[Span]:
    """Bytes nobody may zero whatever the edit: the header, image data, what the maker note's
    directory points at, and the first bytes of any directory a type-IFD entry points at."""
    bo = structure.byte_order
    out: list[Span] = [(0, 8)]
    for ifd in structure.ifds:
        by_tag = {e.tag: e for e in ifd.entries}
        for otag, ctag in IMAGE_PAIRS:
            if otag in by_tag and ctag in by_tag:
                offs = _ints(by_tag[otag].raw, by_tag[otag].type, bo)
                lens = _ints(by_tag[ctag].raw, by_tag[ctag].type, bo)
                out += [(o, o + n) for o, n in zip(offs, lens, strict=False)]
        for e in ifd.entries:
            if e.type == 13:
                out += [(o, o + 2) for o in _ints(e.raw, 13, bo)]
            elif e.tag == _MAKERNOTE and e.value_offset is not None:
                out += _makernote_targets(data, bo, e.value_offset,
                                          min(e.value_offset + e.size, len(data)))
    return out


def _makernote_targets(data, bo: str, start: int, end: int) -> list[Span]:
    """What the maker note's main directory points at, wherever its base may be: values
    inside the maker note are kept with it anyway; this catches the ones outside."""
    found = _makernote_ifd(data, bo, start, end)
    if found is None:
        return []
    ents, inner = found
    bases = [0, start] + ([inner] if inner is not None else [])

    def inside(base: int) -> int:
        return sum(1 for t, c, v in ents
                   if c * _SIZES[t] > 4 and start <= base + v and base + v + c * _SIZES[t] <= end)

    counts = {b: inside(b) for b in bases}
    best = max(counts.values())
    out: list[Span] = []
    for base in bases:
        if counts[base] != best:
            continue
        for t, c, v in ents:
            n = c * _SIZES[t]
            if n > 4:
                out.append((base + v, base + v + n))
            elif t == 13:
                out.append((base + v, base + v + 2))
    return out


def _makernote_ifd(data, bo: str, start: int, end: int):
    """((type, count, value) of each entry, inner TIFF header offset or None) of the first
    plausible directory after one of the usual maker-note headers, or None."""
    inner = None
    if data[start + 10 : start + 12] in (b"II", b"MM"):  # Nikon type 3: its own TIFF header
        inner = start + 10
        bo = "<" if data[inner : inner + 2] == b"II" else ">"
    for order in (bo, "<" if bo == ">" else ">"):
        for h in _MAKERNOTE_HEADERS:
            at = start + h
            if at + 14 > end:  # not even one entry
                break
            n, tag, typ = struct.unpack_from(order + "HHH", data, at)
            # a byte-order mark where the first tag should be is an inner TIFF header
            if not 1 <= n <= 256 or at + 2 + 12 * n > end or not 1 <= typ <= 13 or tag in (
                    0x4949, 0x4D4D):
                continue
            ents = [struct.unpack_from(order + "HHII", data, at + 2 + 12 * k) for k in range(n)]
            if not all(1 <= t <= 13 for _g, t, _c, _v in ents):
                continue
            return [(t, c, v) for _g, t, c, v in ents], inner
    return None


def zero_overwrites(gone: list[Span], live: list[Span], limit: int) -> list[tuple[int, bytes]]:
    """Overwrites that zero the ``gone`` bytes below ``limit`` that no ``live`` range covers."""
    spans = subtract([(a, min(b, limit)) for a, b in gone if a < limit], live)
    return [(a, bytes(b - a)) for a, b in spans]
