"""EXV: the JPEG writer's plan (engine.containers.jpeg_write) over a JPEG with no image.

The JPEG writer copies everything from the first SOS on as one range; an EXV has no SOS, so
it is planned as a JPEG whose image data starts where its segments end (the EOI): the
segments are rebuilt as in a JPEG, new ones after the ``Exiv2`` header (jpeg.insert_index),
and the EOI copied.
"""

from __future__ import annotations

from engine.containers.base import Layout
from engine.containers.exv import EXV_SIGNATURE
from engine.errors import WriteError


def plan_exv(data, edits, path: str, located: Layout | None = None) -> list:
    from engine.containers.jpeg import JpegFormat, JpegLayout

    if bytes(data[:7]) != EXV_SIGNATURE:
        raise WriteError("EXV: no Exiv2 signature at the start; refusing to write", path=path,
                         offset=0)
    located = located or JpegFormat.locate(data, path)
    parsed = located.parsed
    tail = bytes(data[parsed.tail_offset:parsed.tail_offset + 16])
    if len(data) - parsed.tail_offset > 16 or tail.strip(b"\xff") not in (b"", b"\xd9"):
        raise WriteError(f"EXV: {len(data) - parsed.tail_offset} unreadable bytes at offset "
                         f"{parsed.tail_offset} (damaged segments); refusing to write",
                         path=path, offset=parsed.tail_offset)
    image = JpegLayout(parsed.segments, parsed.tail_offset, parsed.tail_offset,
                       parsed.warnings)  # the empty "image": from the EOI on
    return JpegFormat.plan(data, Layout(image, located.slots, located.warnings), edits, path)
