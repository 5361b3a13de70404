"""MRW: the TTW block's TIFF rewritten by the TIFF writer, the MRM header rebuilt around it.

As ExifTool's WriteMRW does: the new TIFF padded with zeros to a multiple of 4 bytes, its
block length and the MRM length set, every other block and the image data copied as they
were (ranges of the original).  Blocks before TTW keep their sizes, so the TTW data does not
move and offsets into it counted from the file's start (DiMAGE A200 maker notes) stay right.
"""

from __future__ import annotations

import struct

from engine.containers.base import Layout
from engine.containers.mrw import MRW_SIGNATURE, TTW, mrw_blocks
from engine.errors import WriteError


def plan_mrw(data, edits, path: str, located: Layout | None = None) -> list:
    from engine.containers.mrw import MrwFormat
    from engine.containers.tiff import TiffFormat

    located = located or MrwFormat.locate(data, path)
    slot = located.slots[0]
    if slot.problem:
        raise WriteError(f"MRW format error ({slot.problem}); refusing to write", path=path,
                         offset=8)
    ttw = slot.data
    try:
        pieces = TiffFormat.plan(ttw, None, edits, path)
    except WriteError as e:
        raise WriteError(f"in the MRW's TTW (TIFF) block: {e.reason}", path=path,
                         offset=e.offset, tag=e.tag) from None
    new = b"".join(p if isinstance(p, bytes) else ttw[p[0] : p[0] + p[1]] for p in pieces)
    new += b"\0" * (-len(new) % 4)
    blocks, end, _problem = mrw_blocks(data)
    body: list = []
    for b in blocks:
        if b.tag == TTW:
            body.append(TTW + struct.pack(">I", len(new)) + new)
        else:
            body.append((b.offset - 8, b.length + 8))
    size = sum(len(p) if isinstance(p, bytes) else p[1] for p in body)
    return [MRW_SIGNATURE + struct.pack(">I", size), *body, (end, len(data) - end)]
