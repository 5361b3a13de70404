"""Trailers after a JPEG's EOI: what they are, where they start, which words in them are
absolute file offsets (the only ones a write that moves them must adjust).

Facts from ExifTool 12.57 (``IdentifyTrailer``/``ProcessTrailers`` in ExifTool.pm, AFCP.pm,
CanonVRD.pm, FotoStation.pm, PhotoMechanic.pm, MIE.pm, Samsung.pm, QuickTimeStream.pl
(Insta360), Nikon.pm (NikonApp)): trailers are recognised from the end of the file backwards,
each by its last bytes, and each says its own length, so several can be chained.

- AFCP ends ``AXS!``/``AXS*`` + 4-byte start + 4-byte checksum (``!`` big-, ``*`` little-
  endian); its 12-byte header is followed by 12-byte entries (tag, size, ABSOLUTE offset).
  ExifTool adjusts these ("Adjusted AFCP offsets by N").
- Samsung ends ``QDIOBS`` or ``\\0\\0SEFT``: blocks read backwards (data, 4-byte length,
  4-byte type, little-endian); the SEFH directory gives offsets counted back from itself; a
  QDIO block holds the ABSOLUTE start and end of an audio file (at 12 and 16 in the block).
- CanonVRD (64-byte footer ``CANON OPTIONAL DATA\\0`` + length), FotoStation (records with a
  10-byte footer: tag, size, ``a1b2c3d4``), PhotoMechanic (4-byte size + ``cbipcbbl``), MIE
  (``zmie`` signature, length in its last element), Insta360 (78-byte footer, magic
  ``8db42d69...``), NikonApp (``/NIKON APP``): offsets relative to themselves, they move freely.
- Google motion photos (video appended, ``GCamera:MicroVideoOffset`` and ``Container:Item``
  lengths counted from the END of the file) and MPF images (offsets from the MPF header,
  fixed by the JPEG writer) are found by their pointers, not by a signature.

Pure functions on bytes (or mmap).
"""

from __future__ import annotations

import re
import struct

from engine.record import Record


class Trailer(Record):
    __slots__ = ("kind", "start", "end", "absolute")
    kind: str
    start: int  # file offsets of the trailer's bytes
    end: int
    absolute: list[tuple[int, str]]  # (file offset, byte order) of 4-byte absolute offsets

    def __init__(self, kind: str, start: int, end: int,
                 absolute: list[tuple[int, str]] | None = None) -> None:
        self.kind = kind
        self.start = start
        self.end = end
        self.absolute = [] if absolute is None else absolute


# 0xFF then a marker byte: not a stuffed 0x00, a restart marker or another fill byte
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_MIE_RE = re.compile(rb"~\0\x04\0zmie~\0\0(?:\x06(.{4})([\x10\x18])\x04|\x0a(.{8})([\x10\x18])"
                     rb"\x08)\Z", re.S)


# The last few answers of eoi_end, with the data object they were found in: a write asks for
# the same file's EOI a dozen times (planning, validation of the original and of the new file)
# and each scan reads the whole image (1.4 ms for 4.8 MB).  Entries hold the object itself
# and match by identity, so no other object can be mistaken for it; only immutable bytes and
# read-only maps (a file the write holds locked, or its own temporary file) are kept.
_EOI_CACHE: tuple[tuple[object, int, int | None], ...] = ()


def eoi_end(data, sos: int) -> int | None:
    """The offset just past the EOI that ends the image data starting at SOS ``sos``."""
    global _EOI_CACHE
    cache = _EOI_CACHE
    for d, s, e in cache:
        if d is data and s == sos:
            return e
    end = _scan_eoi(data, sos)
    if isinstance(data, bytes) or type(data).__name__ == "mmap":
        _EOI_CACHE = ((data, sos, end),) + cache[:3]  # one assignment: safe across threads
    return end


def remember_eoi(data, sos: int, end: int) -> None:
    """Tell eoi_end where the EOI of ``data`` is, found otherwise (see trailers.image_regions:
    a new file whose image data is the original's, at a known shift, checked byte for byte)."""
    global _EOI_CACHE
    if isinstance(data, bytes) or type(data).__name__ == "mmap":
        _EOI_CACHE = ((data, sos, end),) + _EOI_CACHE[:3]


def _scan_eoi(data, sos: int) -> int | None:
    """The offset just past the EOI that ends the image data starting at SOS ``sos``.

    Marker-aware: entropy-coded data has no 0xFF followed by anything but 0x00, RSTn or fill;
    the segments between the scans of a progressive JPEG (DHT, SOS...) are skipped whole."""
    size = len(data)
    pos = sos
    while True:
        m = _MARKER.search(data, pos)  # (in C: scan data is mostly FF00 pairs)
        if m is None:
            return None
        p = m.start()
        if data[p + 1] == 0xD9:
            return p + 2
        if p + 4 > size:
            return None
        pos = p + 2 + struct.unpack_from(">H", data, p + 2)[0]


def find_trailers(data, start: int) -> tuple[list[Trailer], int]:
    """The known trailers between ``start`` (just past EOI) and the end, last first, and the
    offset where the chain of known trailers begins (``start`` when every byte is known)."""
    out: list[Trailer] = []
    end = len(data)
    while end > start:
        t = _identify(data, start, end)
        if t is None or not start <= t.start < end:
            break
        out.append(t)
        end = t.start
    return out, end


def _u32(data, at: int, bo: str) -> int:
    return struct.unpack_from(bo + "I", data, at)[0]


def _identify(data, lo: int, end: int) -> Trailer | None:
    tail = bytes(data[max(lo, end - 78) : end])
    n = len(tail)
    if n >= 12 and tail[-12:-9] == b"AXS" and tail[-9:-8] in (b"!", b"*"):
        return _afcp(data, lo, end)
    if n >= 10 and tail.endswith(b"\xa1\xb2\xc3\xd4"):
        return _fotostation(data, lo, end)
    if n >= 12 and tail.endswith(b"cbipcbbl"):
        size = _u32(tail, n - 12, ">")
        return Trailer("PhotoMechanic", end - 12 - size, end)
    if n >= 64 and tail[-64:].startswith(b"CANON OPTIONAL DATA\0"):
        return Trailer("CanonVRD", end - (_u32(tail, n - 44, ">") + 0x5C), end)
    m = _MIE_RE.search(tail)
    if m:
        raw, order = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        fmt = ("<" if order == b"\x18" else ">") + ("I" if len(raw) == 4 else "Q")
        return Trailer("MIE", end - struct.unpack(fmt, raw)[0], end)
    if tail.endswith((b"QDIOBS", b"\0\0SEFT")):
        return _samsung(data, lo, end)
    if n >= 78 and tail.endswith(b"8db42d694ccc418790edff439fe026bf"):
        return Trailer("Insta360", end - _u32(tail, n - 78 + 38, "<"), end)
    if n >= 20 and tail.endswith(b"\0\0\0\0\0\0/NIKON APP"):
        return Trailer("NikonApp", end - _u32(tail, n - 20, ">"), end)
    return None


def _afcp(data, lo: int, end: int) -> Trailer | None:
    hdr = bytes(data[end - 12 : end - 8])
    bo = ">" if hdr[3:] == b"!" else "<"
    begin = _u32(data, end - 8, bo)
    # the footer must point at the header: if not, the offsets are already wrong (ExifTool
    # then scans for the header and fixes them; we leave such a trailer alone)
    if not lo <= begin <= end - 24 or bytes(data[begin : begin + 4]) != hdr:
        return None
    count = struct.unpack_from(bo + "H", data, begin + 6)[0]
    if begin + 12 + 12 * count > end - 12:
        return None
    fields = [(end - 8, bo)]
    for k in range(count):
        at = begin + 12 + 12 * k
        size, off = _u32(data, at + 4, bo), _u32(data, at + 8, bo)
        if not begin <= off <= off + size <= end:
            return None  # an entry outside the trailer: we cannot tell what it points at
        fields.append((at + 8, bo))
    return Trailer("AFCP", begin, end, fields)


def _fotostation(data, lo: int, end: int) -> Trailer | None:
    pos = end
    while pos - 10 >= lo and bytes(data[pos - 4 : pos]) == b"\xa1\xb2\xc3\xd4":
        size = _u32(data, pos - 8, ">")
        if size < 10 or pos - size < lo:
            break
        pos -= size
    return Trailer("FotoStation", pos, end) if pos < end else None


def _samsung(data, lo: int, end: int) -> Trailer | None:
    block_end = end - 2 if bytes(data[end - 6 : end]) == b"QDIOBS" else end
    fields: list[tuple[int, str]] = []
    while block_end - 8 >= lo:
        size = _u32(data, block_end - 8, "<")
        kind = bytes(data[block_end - 4 : block_end])
        if not re.fullmatch(rb"\w{4}", kind) or not 4 <= size < 0x10000 \
                or block_end - 8 - size < lo:
            return None
        body = block_end - 8 - size
        block_end = body
        if kind == b"QDIO":
            if size != 20:
                return None  # ExifTool: "Unsupported Samsung trailer QDIO block"
            fields += [(body + 12, "<"), (body + 16, "<")]
            continue
        if kind != b"SEFT":
            continue
        if bytes(data[body : body + 4]) != b"SEFH" or size < 12:
            return None
        count = _u32(data, body + 8, "<")
        if 12 + 12 * count > size:
            return None
        first = max((_u32(data, body + 12 + 12 * k + 4, "<") for k in range(count)), default=0)
        return Trailer("Samsung", body - first, end, fields) if body - first >= lo else None
    return None


def fingerprint(data, trailers: list[Trailer]) -> list[tuple[str, bytes]]:
    """What must read the same after a write moved ``trailers``: each one's kind and bytes,
    its absolute offsets counted from its own start (so a moved trailer whose offsets followed
    it compares equal, and one whose offsets did not, does not)."""
    out = []
    for t in trailers:
        buf = bytearray(data[t.start : t.end])
        for at, bo in t.absolute:
            value = struct.unpack_from(bo + "I", data, at)[0] - t.start
            struct.pack_into(bo + "i", buf, at - t.start, value)
        out.append((t.kind, bytes(buf)))
    return out
