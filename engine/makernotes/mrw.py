"""The blocks of a Minolta MRW file ExifTool shows as maker notes (``MinoltaRaw.pm``
ProcessMRW): family-0 group MakerNotes, family-1 group MinoltaRaw.

The file starts ``\\0MRM`` (big-endian; ``\\0MRI`` little-endian) and the length of the
blocks that follow (int32u); each block is a 4-byte name and a 4-byte length.  ``\\0PRD``
(picture dimensions), ``\\0WBG`` (white balance gains) and ``\\0RIF`` (requested image format)
are binary tables; ``\\0TTW`` is the TIFF block the EXIF reader already read.
"""

from __future__ import annotations

import struct

from engine.model import TagValue

BLOCKS = {b"\0PRD": "MinoltaRaw::PRD", b"\0WBG": "MinoltaRaw::WBG",
          b"\0RIF": "MinoltaRaw::RIF"}


def decode_mrw(data, path: str, state: dict) -> tuple[list[TagValue], list[str]]:
    from engine.makernotes.decode import Walker

    head = bytes(data[:8])
    if len(head) < 8 or head[:3] != b"\0MR" or head[3:4] not in (b"M", b"I"):
        return [], []
    bo = ">" if head[3:4] == b"M" else "<"
    walker = Walker(data, path)
    walker.state.update(state, FILE_TYPE="MRW")
    end = min(8 + struct.unpack_from(bo + "I", head, 4)[0], len(data))
    pos = 8
    while pos + 8 <= end:
        name = bytes(data[pos : pos + 4])
        size = struct.unpack_from(bo + "I", data, pos + 4)[0]
        pos += 8
        if pos + size > end:
            walker.warn(f"MRW block {name!r} at offset {pos - 8} runs past the header")
            break
        if name in BLOCKS:
            walker.subdir(BLOCKS[name], "inline", bytes(data[pos : pos + size]), pos, 0, bo)
        pos += size
    return walker.finish(), walker.warnings
