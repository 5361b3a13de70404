"""The JPEG APP14 ``Adobe`` segment (group Adobe, JPEG.pm): DCT encoder version, flags and
the colour transform of the scan."""

from __future__ import annotations

import struct

from engine.groups.common import jpeg_segments, tag

PART, GROUP = "app14", "Adobe"
FLAGS0 = {15: "Encoded with Blend=1 downsampling"}
TRANSFORM = {0: "Unknown (RGB or CMYK)", 1: "YCbCr", 2: "YCCK"}


def read(data, blocks, md) -> tuple[list, list[str]]:
    for seg in jpeg_segments(data, blocks, md) or ():
        p = seg.payload
        if seg.marker == 0xEE and p.startswith(b"Adobe") and len(p) >= 12:
            version, flags0, flags1 = struct.unpack_from(">HHH", p, 5)
            return [tag(PART, GROUP, "DCTEncodeVersion", str(version)),
                    tag(PART, GROUP, "APP14Flags0", bits(flags0, FLAGS0)),
                    tag(PART, GROUP, "APP14Flags1", bits(flags1, {})),
                    tag(PART, GROUP, "ColorTransform",
                        TRANSFORM.get(p[11], f"Unknown ({p[11]})"))], []
    return [], []


def bits(value: int, names: dict[int, str]) -> str:
    """A bit mask as ExifTool prints it: the names of the set bits ("[n]" for unnamed ones),
    "(none)" for 0."""
    if not value:
        return "(none)"
    return ", ".join(names.get(b, f"[{b}]") for b in range(16) if value & (1 << b))
