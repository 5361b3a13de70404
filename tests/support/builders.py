"""Byte builders for synthetic files: JPEG segments and XMP packets, PNG chunks, ISOBMFF
boxes.  No checks and no padding rules: tests make damaged files with them too.  (TIFF:
``support.tiff_builder``; a whole synthetic HEIF: ``support.heif_builder``.)"""

from __future__ import annotations

import struct
import zlib

# -- JPEG -------------------------------------------------------------------------------------


def segment(marker: int, payload: bytes) -> bytes:
    """A JPEG marker segment ``FF marker``, its length and ``payload``."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def xmp_packet(extra: str = "") -> bytes:
    """A minimal XMP packet; ``extra``: attributes of its one rdf:Description."""
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description {extra}'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


# -- PNG --------------------------------------------------------------------------------------


def png_chunk(ctype: bytes, body: bytes, crc: int | None = None) -> bytes:
    """A PNG chunk with its CRC (or ``crc``, to make a bad one)."""
    crc = zlib.crc32(ctype + body) if crc is None else crc
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", crc)


# -- ISOBMFF (HEIF, AVIF, CR3) ----------------------------------------------------------------


def box(btype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body) + 8) + btype + body


def full_box(btype: bytes, version: int, body: bytes, flags: int = 0) -> bytes:
    return box(btype, struct.pack(">I", (version << 24) | flags) + body)


def infe(iid: int, itype: bytes, name: bytes = b"", ctype: bytes = b"") -> bytes:
    """An item info entry (version 2); a ``mime`` item carries its content type."""
    body = struct.pack(">HH4s", iid, 0, itype) + name + b"\0"
    if itype == b"mime":
        body += ctype + b"\0"
    return full_box(b"infe", 2, body)
