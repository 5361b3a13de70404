"""HEIF write validation: the bytes each item covers (issue 16).

A rewrite that places an extent wrong (an emptied Exif/XMP item whose length 0 became an
explicit length, a shift applied to the wrong box) makes an item read bytes that are not its
own: another item's, a box header, the end of the file.  ``covered`` names every such case
in a file; the validation (``HeifFormat.unchanged``) refuses a rewrite that has one the
original did not have.  Extents of length 0 follow ``heif.extent_spans``: empty for Exif/XMP
items, "to the end" for the others.
"""

from __future__ import annotations

from bisect import bisect_right

from engine.containers import heif as H


def covered(data) -> frozenset[str]:
    """What the items of ``data`` cover besides their own bytes, as short phrases ("item 2
    overlaps item 3", "item 2 crosses a box boundary", "item 2 runs past the end")."""
    parsed, meta, infos, locs = H.meta_items(data)
    if meta is None:
        return frozenset()
    idat, tops = meta.find(b"idat"), parsed.boxes
    starts = [b.offset for b in tops]
    out: set[str] = set()
    spans: list[tuple[int, int, int, int]] = []  # (construction method, start, stop, item)
    for loc in locs:
        method = loc.construction_method
        if method not in (0, 1) or (method == 1 and idat is None):
            continue
        size = len(data) if method == 0 else idat.body_len
        info = infos.get(loc.item_id)
        literal = info is not None and H.metadata_kind(info) is not None
        for s, n in H.extent_spans(loc, size, literal):
            if n == 0:
                continue
            if s + n > size:
                out.add(f"item {loc.item_id} runs past the end")
                continue
            i = bisect_right(starts, s) - 1
            if method == 0 and (i < 0 or s < tops[i].data_offset
                                or s + n > tops[i].data_offset + tops[i].body_len):
                out.add(f"item {loc.item_id} crosses a box boundary")
            spans.append((method, s, s + n, loc.item_id))
    reach: dict[int, tuple[int, int]] = {}  # by method: the furthest stop so far, its item
    for method, a, b, iid in sorted(spans):
        stop, owner = reach.get(method, (0, iid))
        if a < stop and owner != iid:
            out.add(f"item {iid} overlaps item {owner}")
        if b > stop:
            reach[method] = (b, iid)
    return frozenset(out)
