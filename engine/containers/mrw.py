"""Minolta MRW: a ``\\0MRM`` header block holding PRD, TTW (a TIFF), WBG, RIF... blocks, then
the raw image.

Facts from ExifTool's ``MinoltaRaw.pm`` (ProcessMRW/WriteMRW): the file starts ``\\0MRM`` +
a 4-byte big-endian length of the blocks that follow (the image data starts right after
them); each block is a 4-byte tag + a 4-byte big-endian length + its data.  The EXIF is the
TIFF of the ``\\0TTW`` block (its offsets relative to the block's start).  A write rewrites
that TIFF (padded to a multiple of 4 bytes), sets its length and the MRM length, and copies
every other block and the image data as they were; blocks that do not end exactly at the
image data are a "MRW format error" (ExifTool refuses to write them).
"""

from __future__ import annotations

import struct

from engine.containers.base import FileFormat, Layout, Slot
from engine.errors import CorruptFileError
from engine.model import Blocks

MRW_SIGNATURE = b"\0MRM"
TTW = b"\0TTW"
_MAX_BLOCKS = 64  # real files have 5; a header with more is damaged (bounded loop)


class MrwBlock:
    __slots__ = ("tag", "offset", "length")

    def __init__(self, tag: bytes, offset: int, length: int) -> None:
        self.tag = tag  # the 4-byte name (b"\\0TTW"...)
        self.offset = offset  # file offset of the block's data (after tag and length)
        self.length = length


def mrw_blocks(data) -> tuple[list[MrwBlock], int, str]:
    """(blocks, image data offset, problem): the blocks of the MRM header; ``problem`` says
    why they cannot be rewritten ("": they can)."""
    if len(data) < 8 or bytes(data[:4]) != MRW_SIGNATURE:
        return [], 0, "no \\0MRM header"
    end = 8 + struct.unpack_from(">I", data, 4)[0]
    limit = min(end, len(data))  # (a reader still finds the blocks of a damaged header)
    problem = (f"the MRM header's length runs past the end of the file ({end})"
               if end > len(data) else "")
    blocks: list[MrwBlock] = []
    pos = 8
    while pos + 8 <= limit and len(blocks) < _MAX_BLOCKS:
        tag, length = struct.unpack_from(">4sI", data, pos)
        if pos + 8 + length > limit:
            return blocks, end, problem or f"block {tag!r} at offset {pos} runs past the MRM header"
        blocks.append(MrwBlock(tag, pos + 8, length))
        pos += 8 + length
    if pos != end:
        problem = problem or f"the blocks end at offset {pos}, not at the image data ({end})"
    return blocks, end, problem


class MrwFormat(FileFormat):
    """Minolta MRW: the EXIF is the TIFF of the TTW block (engine.containers.mrw_write)."""

    name = "MRW"
    writer = ("engine.containers.mrw_write", "plan_mrw")

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if bytes(head[:4]) == MRW_SIGNATURE else 0

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        """One EXIF slot: the TTW block (``where``: its index in ``parsed``, the blocks)."""
        from engine.containers.tiff import tiff_header

        blocks, _end, problem = mrw_blocks(data)
        ttw = [i for i, b in enumerate(blocks) if b.tag == TTW]
        if not ttw:
            raise CorruptFileError("MRW: no TTW (TIFF) block", path=path, offset=8)
        b = blocks[ttw[0]]
        block = bytes(data[b.offset : b.offset + b.length])
        if tiff_header(block[:16]) is None:
            raise CorruptFileError("MRW: the TTW block holds no TIFF header", path=path,
                                   offset=b.offset)
        if len(ttw) > 1:
            problem = problem or f"{len(ttw)} TTW blocks"
        warnings = [f"MRW format error: {problem}"] if problem else []
        return Layout(blocks, [Slot("exif", block, b.offset, b"", ttw[0], problem)], warnings)

    @classmethod
    def blocks(cls, layout: Layout, path: str) -> Blocks:
        slot = layout.slots[0]
        return Blocks(exif=slot.data, exif_offset=slot.offset,
                      warnings=[f"{path}: {w}" for w in layout.warnings])

    @classmethod
    def check_damage(cls, data, edits, path: str) -> None:
        """The TTW TIFF checked as a TIFF file is (engine.write.damage.check_tiff)."""
        from engine.write.damage import check_tiff

        slot = cls.locate(data, path).slots[0]
        check_tiff(slot.data, edits, path)

    @classmethod
    def invariants(cls, data) -> dict[str, object]:
        """Every block but TTW, in its order, as it was."""
        blocks, _end, problem = mrw_blocks(data)
        if problem:
            return {"the MRW blocks changed": problem}
        return {"the MRW blocks changed": [(b.tag, bytes(data[b.offset : b.offset + b.length]))
                                           for b in blocks if b.tag != TTW]}

    @classmethod
    def unchanged(cls, original, data) -> str | None:
        """The invariants, and the image data after the blocks byte for byte where it now
        lies (the plan copies it as one range)."""
        from engine.containers.trailers_write import same_bytes

        why = super().unchanged(original, data)
        if why is not None:
            return why
        old_end, new_end = mrw_blocks(original)[1], mrw_blocks(data)[1]
        size = len(original) - old_end
        if len(data) - new_end != size or not same_bytes(original, old_end, data, new_end,
                                                          size):
            return "the MRW image data changed"
        return None
