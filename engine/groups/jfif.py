"""JFIF (APP0 ``JFIF\\0``): version, resolution and thumbnail size (JFIF.pm)."""

from __future__ import annotations

from engine.groups.common import binary_table, jpeg_segments
from engine.groups.tables import JFIF_MAIN

PART, GROUP = "jfif", "JFIF"


def read(data, blocks, md) -> tuple[list, list[str]]:
    segments = jpeg_segments(data, blocks, md)
    for seg in segments or ():
        if seg.marker == 0xE0 and seg.payload.startswith(b"JFIF\0"):
            body = seg.payload[5:]
            table = {k: row for k, row in JFIF_MAIN.items()
                     if row[1] != "undef" and (int(k) < 7 or body[7:9] != b"\0\0")}
            tags = binary_table(body, table, PART, GROUP)
            return [t.replace(value=version(t.value)) if t.name == "JFIFVersion" else t
                    for t in tags], []
    return [], []


def version(raw: str) -> str:
    major, minor = raw.split()
    return f"{major}.{int(minor):02d}"
