"""JPEG: segment parse/render and metadata block extraction.

The file is seen as a list of segments (SOI, APPn, DQT, SOF...) followed by one opaque *tail*
that starts where parsing stopped (normally at SOS): scan data, EOI and trailers are never
looked into, so rendering them back is a plain copy.  Every byte before the tail belongs to a
segment (fill bytes and garbage before a marker are kept in ``Segment.prefix``), which makes
``render_segments(parse_jpeg(d).segments, tail) == d`` exact for any input.

Facts from ExifTool's ``ProcessJPEG`` (Image/ExifTool.pm): markers may be padded with any
number of 0xFF; EXIF APP1 is recognised by ``^(.{0,4})Exif\\0`` (case-insensitive) and
consecutive APP1 ``Exif\\0\\0`` segments not starting a TIFF header continue the previous one;
consecutive ``Photoshop 3.0\\0`` APP13 segments are concatenated; Extended XMP chunks are
collected by GUID and only the GUID named by ``xmpNote:HasExtendedXMP`` is used."""

from __future__ import annotations

import re
import struct

from engine.containers.base import FileFormat, Layout, Slot
from engine.containers.exv import EXV_SIGNATURE
from engine.containers.raf import RAF_SIGNATURE
from engine.errors import CorruptFileError, WriteError
from engine.exif.types import TIFF_MAGICS
from engine.iptc.photoshop import find_iptc
from engine.model import Blocks
from engine.record import Record

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
APP1, APP2, APP13 = 0xE1, 0xE2, 0xED
# markers without a length word: TEM, RST0-7, SOI, EOI
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), SOI, EOI})

EXIF_HEADER = b"Exif\0\0"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\0"
XMP_EXT_HEADER = b"http://ns.adobe.com/xmp/extension/\0"
PS_HEADER = b"Photoshop 3.0\0"
PS_OLD_HEADER = b"Adobe_Photoshop2.5:"
ICC_HEADER = b"ICC_PROFILE\0"
MPF_HEADER = b"MPF\0"
MAX_PAYLOAD = 65533  # the length word counts itself
XMP_EXT_CHUNK_HEAD = len(XMP_EXT_HEADER) + 32 + 8  # signature, GUID, total length, offset

_EXIF_RE = re.compile(rb"(.{0,4})Exif\0", re.S | re.I)
_TIFF_STARTS = tuple(b"Exif\0\0" + magic for magic in TIFF_MAGICS)
# compiled (and cached by re) when a packet names an Extended XMP: most never do
_HAS_EXT = rb"""xmpNote:HasExtendedXMP\s*(?:=\s*["']|>\s*)([0-9A-Za-z]{32})"""


class Segment(Record):
    __slots__ = ("marker", "offset", "payload", "prefix")
    marker: int  # the byte after 0xFF (0xE1 for APP1)
    offset: int  # file offset of the marker's 0xFF
    payload: bytes  # data after the length word (empty for standalone markers)
    prefix: bytes  # fill bytes (0xFF) and garbage before the marker, kept verbatim

    def __init__(self, marker: int, offset: int, payload: bytes, prefix: bytes = b"") -> None:
        self.marker = marker
        self.offset = offset
        self.payload = payload
        self.prefix = prefix

    @property
    def has_length(self) -> bool:
        return self.marker not in STANDALONE

    @property
    def payload_offset(self) -> int:
        return self.offset + (4 if self.has_length else 2)

    @property
    def end(self) -> int:
        return self.payload_offset + len(self.payload)

    def render(self) -> bytes:
        head = self.prefix + bytes((0xFF, self.marker))
        if not self.has_length:
            return head + self.payload
        return head + struct.pack(">H", len(self.payload) + 2) + self.payload


class JpegLayout(Record):
    __slots__ = ("segments", "tail_offset", "sos_offset", "warnings")
    segments: list[Segment]
    tail_offset: int  # data[tail_offset:] is the opaque rest: SOS, scan data, EOI, trailers
    sos_offset: int | None  # offset of the first SOS marker, None if not reached
    warnings: list[str]

    def __init__(self, segments: list[Segment], tail_offset: int, sos_offset: int | None,
                 warnings: list[str] | None = None) -> None:
        self.segments = segments
        self.tail_offset = tail_offset
        self.sos_offset = sos_offset
        self.warnings = [] if warnings is None else warnings


def is_jpeg(head: bytes) -> bool:
    return head[:3] == b"\xff\xd8\xff"


def parse_jpeg(data: bytes, path: str = "?") -> JpegLayout:
    """Split ``data`` into segments up to SOS.  Tolerant: garbage and truncation give warnings."""
    size = len(data)
    exv = bytes(data[:7]) == EXV_SIGNATURE
    if not exv and (size < 2 or data[0:2] != b"\xff\xd8"):
        raise CorruptFileError("JPEG: no SOI marker at the start", path=path, offset=0)
    # an EXV file starts with TEM + "Exiv2" instead of SOI
    segs = [Segment(0x01, 0, b"Exiv2")] if exv else [Segment(SOI, 0, b"")]
    warnings: list[str] = []
    pos = segs[0].end  # end of the last complete segment
    while True:
        p = _next_marker(data, pos)
        if p is None:
            if data[pos:size].strip(b"\xff"):
                warnings.append(f"JPEG: {size - pos} bytes of garbage at offset {pos}, no SOS")
            elif not exv:
                warnings.append(f"JPEG: file ends at offset {pos} before SOS")
            return JpegLayout(segs, pos, None, warnings)
        if data[pos:p].strip(b"\xff"):
            _note_garbage(warnings, pos, segs[-1])
        marker = data[p + 1]
        if marker == SOS:
            return JpegLayout(segs, pos, p, warnings)
        if marker == EOI:
            if not exv:
                warnings.append(f"JPEG: EOI at offset {p} before any SOS")
            return JpegLayout(segs, pos, None, warnings)
        prefix = bytes(data[pos:p])
        if marker in STANDALONE:
            segs.append(Segment(marker, p, b"", prefix))
            pos = p + 2
            continue
        if p + 4 > size:
            warnings.append(f"JPEG: truncated segment header at offset {p}")
            return JpegLayout(segs, pos, None, warnings)
        length = struct.unpack_from(">H", data, p + 2)[0]
        if length < 2:
            warnings.append(f"JPEG: bad segment length {length} at offset {p}")
            return JpegLayout(segs, pos, None, warnings)
        end = p + 2 + length
        if end > size:
            warnings.append(
                f"JPEG: segment 0x{marker:02X} at offset {p} runs past the end of the file"
            )
            return JpegLayout(segs, pos, None, warnings)
        segs.append(Segment(marker, p, bytes(data[p + 4 : end]), prefix))
        pos = end


def _next_marker(data: bytes, pos: int) -> int | None:
    """Offset of the next 0xFF that starts a real marker (after fill bytes), from ``pos``."""
    size = len(data)
    while True:
        p = data.find(b"\xff", pos)
        if p < 0:
            return None
        while p + 1 < size and data[p + 1] == 0xFF:
            p += 1
        if p + 1 >= size:
            return None
        if data[p + 1] != 0x00:
            return p
        pos = p + 2


_MAX_GARBAGE_WARNINGS = 5


def _note_garbage(warnings: list[str], start: int, last: Segment) -> None:
    n = sum(1 for w in warnings if w.startswith("JPEG: skipped unknown bytes"))
    if n < _MAX_GARBAGE_WARNINGS:
        warnings.append(
            f"JPEG: skipped unknown bytes after segment 0x{last.marker:02X} at offset {start}"
        )
    elif n == _MAX_GARBAGE_WARNINGS:
        warnings.append("JPEG: skipped unknown bytes at more places (not listed)")


def parse_segments(data: bytes, path: str = "?") -> list[Segment]:
    return parse_jpeg(data, path).segments


def render_segments(segments: list[Segment], tail: bytes = b"") -> bytes:
    """The bytes of ``segments`` followed by the opaque ``tail`` (exact inverse of parsing)."""
    return b"".join(s.render() for s in segments) + bytes(tail)


def render_jpeg(layout: JpegLayout, data: bytes) -> bytes:
    """Rebuild the file from a (possibly edited) layout and the original data for its tail."""
    return render_segments(layout.segments, data[layout.tail_offset :])


def make_segment(marker: int, payload: bytes, path: str = "?") -> Segment:
    """A new segment (offset -1: not from a file); checks the 64 KB limit."""
    if len(payload) > MAX_PAYLOAD:
        raise CorruptFileError(
            f"JPEG: segment 0x{marker:02X} payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}",
            path=path,
        )
    return Segment(marker, -1, bytes(payload))


# --- building metadata segments (inverse of extraction) --------------------------------------

XMP_EXT_CHUNK = MAX_PAYLOAD - XMP_EXT_CHUNK_HEAD  # 65458 bytes of packet per segment


def exif_segment(tiff: bytes, path: str = "?") -> Segment:
    """The APP1 segment for a TIFF-header EXIF block (one segment: 65527 bytes at most)."""
    if len(EXIF_HEADER) + len(tiff) > MAX_PAYLOAD:
        raise WriteError(
            f"JPEG: EXIF block of {len(tiff)} bytes does not fit in one APP1 segment", path=path
        )
    return Segment(APP1, -1, EXIF_HEADER + bytes(tiff))


def xmp_segment(packet: bytes, path: str = "?") -> Segment:
    if len(XMP_HEADER) + len(packet) > MAX_PAYLOAD:
        raise WriteError(
            f"JPEG: XMP packet of {len(packet)} bytes does not fit in one APP1 segment "
            "(move properties to Extended XMP)",
            path=path,
        )
    return Segment(APP1, -1, XMP_HEADER + bytes(packet))


def extended_xmp_segments(packet: bytes) -> tuple[str, list[Segment]]:
    """(GUID, APP1 segments) for an Extended XMP packet; the GUID is the packet's MD5."""
    import hashlib

    guid = hashlib.md5(packet).hexdigest().upper()
    head = XMP_EXT_HEADER + guid.encode("ascii")
    segs = []
    for off in range(0, len(packet), XMP_EXT_CHUNK):
        chunk = packet[off : off + XMP_EXT_CHUNK]
        segs.append(Segment(APP1, -1, head + struct.pack(">II", len(packet), off) + chunk))
    return guid, segs


def photoshop_segments(irb: bytes) -> list[Segment]:
    """APP13 ``Photoshop 3.0`` segments for an image resource block, split as needed
    (readers, ExifTool included, concatenate consecutive ones)."""
    room = MAX_PAYLOAD - len(PS_HEADER)
    if not irb:
        return [Segment(APP13, -1, PS_HEADER)]
    return [
        Segment(APP13, -1, PS_HEADER + bytes(irb[off : off + room]))
        for off in range(0, len(irb), room)
    ]


def photoshop_block(segments: list[Segment], index: int) -> tuple[bytes, int]:
    """(IRB, count) of the run of consecutive Photoshop APP13 segments starting at ``index``."""
    s = segments[index]
    old = s.payload.startswith(PS_OLD_HEADER)
    parts = [s.payload[len(PS_OLD_HEADER) + 8 if old else len(PS_HEADER) :]]
    j = index + 1
    while (
        j < len(segments)
        and segments[j].marker == APP13
        and segments[j].payload.startswith(PS_HEADER)
    ):
        parts.append(segments[j].payload[len(PS_HEADER) :])
        j += 1
    return b"".join(parts), j - index


# --- what a segment is --------------------------------------------------------------------


def exif_header_len(seg: Segment) -> int | None:
    """Length of the EXIF identifier (``Exif\\0\\0`` and variants) if this is an EXIF APP1."""
    if seg.marker != APP1:
        return None
    m = _EXIF_RE.match(seg.payload)
    if m is None:
        return None
    return len(EXIF_HEADER) + len(m.group(1))


def kind(seg: Segment) -> str:
    """A short name for what a segment holds: exif, xmp, xmp_ext, photoshop, icc, mpf, jfif,
    sof, com, sos... or ``app<n>``/``other``."""
    m, p = seg.marker, seg.payload
    if m == APP1:
        if exif_header_len(seg) is not None:
            return "exif"
        if p.startswith(XMP_HEADER):
            return "xmp"
        if p.startswith(XMP_EXT_HEADER):
            return "xmp_ext"
        return "app1"
    if m == APP2:
        if p.startswith(ICC_HEADER):
            return "icc"
        if p.startswith(MPF_HEADER):
            return "mpf"
        return "app2"
    if m == APP13:
        return "photoshop" if p.startswith((PS_HEADER, PS_OLD_HEADER)) else "app13"
    if m == 0xE0:
        return "jfif" if p.startswith((b"JFIF\0", b"JFXX\0")) else "app0"
    if 0xE0 <= m <= 0xEF:
        return f"app{m - 0xE0}"
    if (m & 0xF0) == 0xC0 and m not in (0xC4, 0xC8, 0xCC):
        return "sof"
    return {0xFE: "com", SOS: "sos", SOI: "soi", 0xDB: "dqt", 0xC4: "dht"}.get(m, "other")


def find_kind(segments: list[Segment], what: str) -> list[int]:
    """Indexes of the segments of one kind (see ``kind``)."""
    return [i for i, s in enumerate(segments) if kind(s) == what]


def insert_index(segments: list[Segment]) -> int:
    """Where new APPn metadata segments go: after SOI (EXV: TEM) and the APP0 segments."""
    i = 1 if segments and segments[0].marker in (SOI, 0x01) else 0
    while i < len(segments) and segments[i].marker == 0xE0:
        i += 1
    return i


# --- block extraction ---------------------------------------------------------------------


def _exif_block(segs: list[Segment], warnings: list[str]) -> tuple[bytes | None, int]:
    idx = find_kind(segs, "exif")
    if not idx:
        return None, 0
    first = segs[idx[0]]
    hdr = exif_header_len(first) or len(EXIF_HEADER)
    if hdr != len(EXIF_HEADER) and first.payload[4:6] != b"\0\0":
        warnings.append(f"JPEG: unknown garbage at start of EXIF segment at offset {first.offset}")
    elif not first.payload.startswith(EXIF_HEADER):
        warnings.append(f"JPEG: incorrect EXIF segment identifier at offset {first.offset}")
    parts = [first.payload[hdr:]]
    # continuation segments: directly following APP1 Exif\0\0 not starting a TIFF header
    j = idx[0] + 1
    while j < len(segs) and segs[j].marker == APP1:
        p = segs[j].payload
        if not p.startswith(EXIF_HEADER) or p.startswith(_TIFF_STARTS):
            break
        parts.append(p[len(EXIF_HEADER) :])
        j += 1
    if len(parts) > 1:
        warnings.append("JPEG: file contains multi-segment EXIF")
    others = [i for i in idx if i >= j]
    if others:
        warnings.append(
            f"JPEG: {len(others)} more EXIF APP1 segment(s) ignored (first at offset "
            f"{segs[others[0]].offset})"
        )
    return b"".join(parts), first.payload_offset + hdr


def _xmp_block(segs: list[Segment], warnings: list[str]) -> bytes | None:
    idx = find_kind(segs, "xmp")
    if idx:
        if len(idx) > 1:
            warnings.append(f"JPEG: {len(idx) - 1} more XMP APP1 segment(s) ignored")
        return segs[idx[0]].payload[len(XMP_HEADER) :]
    # non-standard XMP APP1 (ExifTool reads it too, with a warning)
    for s in segs:
        if s.marker != APP1 or kind(s) != "app1":
            continue
        p = s.payload
        if p.startswith((b"http", b"XMP\0")) or re.search(rb"<(?:exif:|\?xpacket)", p):
            lt = p.find(b"<")
            if lt >= 0:
                warnings.append(f"JPEG: non-standard header for APP1 XMP segment at {s.offset}")
                return p[lt:]
    return None


def extended_xmp_guid(main_xmp: bytes) -> str | None:
    """The GUID named by ``xmpNote:HasExtendedXMP`` (attribute or element form)."""
    if b"xmpNote:HasExtendedXMP" not in main_xmp:
        return None
    m = re.search(_HAS_EXT, main_xmp)
    return m.group(1).decode("ascii") if m else None


def assemble_extended_xmp(
    segs: list[Segment], guid: str | None, warnings: list[str]
) -> bytes | None:
    """Reassemble the Extended XMP chunks of ``guid``; checks total length and MD5."""
    chunks: dict[str, dict[int, bytes]] = {}
    totals: dict[str, int] = {}
    for s in segs:
        if kind(s) != "xmp_ext":
            continue
        p = s.payload
        if len(p) <= XMP_EXT_CHUNK_HEAD:
            warnings.append(f"JPEG: invalid extended XMP segment at offset {s.offset}")
            continue
        g = p[len(XMP_EXT_HEADER) : len(XMP_EXT_HEADER) + 32].decode("latin-1")
        total, off = struct.unpack_from(">II", p, len(XMP_EXT_HEADER) + 32)
        if g in totals and totals[g] != total:
            warnings.append(f"JPEG: inconsistent extended XMP size (GUID {g})")
        totals[g] = total
        chunks.setdefault(g, {})[off] = p[XMP_EXT_CHUNK_HEAD:]
    if not chunks:
        return None
    for g in chunks:
        if g != guid:
            warnings.append(f"JPEG: ignored non-standard extended XMP (GUID {g})")
    if guid is None or guid not in chunks:
        return None
    parts, off, mine = [], 0, chunks[guid]
    while off < totals[guid] and off in mine and mine[off]:
        parts.append(mine[off])
        off += len(mine[off])
    if off != totals[guid]:
        warnings.append(f"JPEG: incomplete extended XMP (GUID {guid})")
        return None
    packet = b"".join(parts)
    import hashlib

    if hashlib.md5(packet).hexdigest().upper() != guid.upper():
        warnings.append(f"JPEG: extended XMP MD5 does not match its GUID {guid}; ignored")
        return None
    return packet


def _iptc_block(segs: list[Segment], warnings: list[str]) -> bytes | None:
    i = 0
    while i < len(segs):
        if kind(segs[i]) != "photoshop":
            i += 1
            continue
        irb, n = photoshop_block(segs, i)
        i += n
        iptc = find_iptc(irb)
        if iptc is not None:
            return iptc
    return None


class JpegFormat(FileFormat):
    """JPEG (Exiv2 EXV and Fujifilm RAF, JPEG inside, are containers of their own:
    engine.containers.exv, raf)."""

    name = "JPEG"
    writer = ("engine.containers.jpeg_write", "plan_jpeg")
    xmp_in_place = MAX_PAYLOAD - len(XMP_HEADER)  # one standard XMP segment

    @staticmethod
    def score(head: bytes) -> int:
        if is_jpeg(head):
            return 100
        if head[:7] == EXV_SIGNATURE or head[:16] == RAF_SIGNATURE:
            return 80
        return 10 if head[:2] == b"\xff\xd8" else 0

    @classmethod
    def file_type(cls, data) -> str:
        """JPEG, or EXV / RAF (read only: the writer must not treat those as JPEG files)."""
        head = bytes(data[:16])
        return "EXV" if head[:7] == EXV_SIGNATURE else "RAF" if head == RAF_SIGNATURE else "JPEG"

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        """The segments; EXIF, XMP and Photoshop (IRB) slots, ``where`` a segment index."""
        parsed = parse_jpeg(data, path)
        slots = []
        for i, seg in enumerate(parsed.segments):
            what = kind(seg)
            hlen = (exif_header_len(seg) or len(EXIF_HEADER) if what == "exif" else
                    len(XMP_HEADER) if what == "xmp" else 0)
            if what in ("exif", "xmp", "photoshop"):
                slots.append(Slot(what, seg.payload[hlen:], seg.payload_offset + hlen,
                                  seg.payload[:hlen], i))
        return Layout(parsed, slots, list(parsed.warnings))

    @classmethod
    def extract(cls, data, path: str) -> Blocks:
        if bytes(data[:16]) == RAF_SIGNATURE:
            from engine.containers.raf import raf_blocks

            return raf_blocks(data, path)
        layout = cls.locate(data, path)
        segs, warnings = layout.parsed.segments, layout.warnings
        exif, exif_offset = _exif_block(segs, warnings)
        xmp = _xmp_block(segs, warnings)
        guid = extended_xmp_guid(xmp) if xmp is not None else None
        xmp_ext = assemble_extended_xmp(segs, guid, warnings)
        iptc = _iptc_block(segs, warnings)
        return Blocks(exif, exif_offset, xmp, xmp_ext, iptc, [f"{path}: {w}" for w in warnings])

    @classmethod
    def check_damage(cls, data, edits, path: str) -> None:
        from engine.write.damage import check_jpeg
        check_jpeg(data, edits, path)

    @classmethod
    def unchanged(cls, original, data) -> str | None:
        """Image data, trailers and preview pointers after EOI kept (trailers_write)."""
        from engine.containers.trailers_write import image_kept

        return image_kept(original, data)
