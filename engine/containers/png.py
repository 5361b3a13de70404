"""PNG: chunk parse/render and metadata block extraction.

Chunks are kept with their original CRC so ``render_chunks(parse_png(d).chunks) + tail`` is
exact even for a bad CRC; ``make_chunk`` computes a fresh one.  Metadata places follow
ExifTool's PNG.pm: ``eXIf`` (and the old ``zxIf``) hold EXIF (sometimes with an improper
``Exif\\0\\0`` header); ``iTXt`` ``XML:com.adobe.xmp`` holds XMP; ImageMagick-style text chunks
``Raw profile type exif|APP1|xmp|iptc|8bim`` hold hex-encoded blocks
(``\\n<type>\\n<length>\\n<hex digits>``); the iptc profile is either IIM or a Photoshop IRB.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

from engine.containers.base import FileFormat, Layout, Slot
from engine.containers.pieces import LazyChunk
from engine.errors import CorruptFileError
from engine.exif.types import TIFF_MAGICS
from engine.iptc.photoshop import find_iptc
from engine.model import Blocks

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_INFLATE = 64 * 1024 * 1024  # cap on any decompressed text chunk (zlib bomb guard)
LAZY_TYPES = frozenset({b"IDAT", b"fdAT"})  # image data: extract does not copy it
TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")
XMP_KEYWORD = b"XML:com.adobe.xmp"
_EXIF_HEADER = b"Exif\0\0"
_XMP_APP1_HEADER = b"http://ns.adobe.com/xap/1.0/\0"
_PROFILE_RE = re.compile(rb"\n(.*?)\n\s*(\d+)\n(.*)", re.S)


@dataclass(slots=True)
class Chunk(LazyChunk):
    type: bytes  # 4 ASCII letters
    data: bytes | None  # None for a lazy chunk: its data is source[data_offset:+length]
    crc: int  # as stored in the file
    offset: int = -1  # file offset of the length word (-1: not from a file)
    length: int = 0  # data length in the source file (for lazy chunks)

    def label(self) -> str:
        return f"PNG: lazy chunk {self.type!r}"

    def crc_ok(self, source: bytes | None = None) -> bool:
        return zlib.crc32(self.type + self.body(source)) == self.crc

    def render(self, source: bytes | None = None) -> bytes:
        """The chunk bytes; ``source`` (the parsed file) is needed only for lazy chunks."""
        body = self.body(source)
        return struct.pack(">I", len(body)) + self.type + body + struct.pack(">I", self.crc)


@dataclass(slots=True)
class PngLayout:
    chunks: list[Chunk]
    tail_offset: int  # data[tail_offset:] is kept verbatim (after IEND, or unparsable rest)
    warnings: list[str] = field(default_factory=list)


def make_chunk(ctype: bytes, data: bytes) -> Chunk:
    return Chunk(ctype, bytes(data), zlib.crc32(ctype + data), -1, len(data))


def parse_png(data: bytes, path: str = "?", lazy: frozenset[bytes] = frozenset()) -> PngLayout:
    """Split ``data`` into chunks.  Chunks whose type is in ``lazy`` (e.g. IDAT) are neither
    copied nor CRC-checked (see ``Chunk.body``)."""
    if bytes(data[:8]) != SIGNATURE:
        raise CorruptFileError("PNG: bad signature", path=path, offset=0)
    size, pos = len(data), 8
    chunks: list[Chunk] = []
    warnings: list[str] = []
    while pos < size:
        if pos + 12 > size:
            warnings.append(f"PNG: truncated chunk header at offset {pos}")
            break
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if not ctype.isalpha():
            warnings.append(f"PNG: invalid chunk type at offset {pos}")
            break
        end = pos + 12 + length
        if end > size:
            warnings.append(f"PNG: chunk {ctype.decode('latin-1')} at offset {pos} is truncated")
            break
        crc = struct.unpack_from(">I", data, end - 4)[0]
        if ctype in lazy:
            chunks.append(Chunk(ctype, None, crc, pos, length))
            pos = end
            continue
        chunk = Chunk(ctype, bytes(data[pos + 8 : end - 4]), crc, pos, length)
        if not chunk.crc_ok():
            warnings.append(f"PNG: bad CRC in chunk {ctype.decode('latin-1')} at offset {pos}")
        chunks.append(chunk)
        pos = end
        if ctype == b"IEND":
            break
    else:
        warnings.append("PNG: no IEND chunk")
    return PngLayout(chunks, pos, warnings)


def render_chunks(chunks: list[Chunk], tail: bytes = b"", source: bytes | None = None) -> bytes:
    return SIGNATURE + b"".join(c.render(source) for c in chunks) + bytes(tail)


def render_png(layout: PngLayout, data: bytes) -> bytes:
    """Rebuild the file from a (possibly edited) layout and the data it was parsed from."""
    return render_chunks(layout.chunks, data[layout.tail_offset :], data)


def inflate(comp: bytes, limit: int = MAX_INFLATE) -> bytes | None:
    """zlib-decompress at most ``limit`` bytes; None if the stream is bad or too big."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(comp, limit)
    except zlib.error:
        return None
    if d.unconsumed_tail:
        return None
    return out


@dataclass(slots=True)
class TextChunk:
    keyword: bytes
    text: bytes  # decompressed; Latin-1 (tEXt/zTXt) or UTF-8 (iTXt)
    compressed: bool
    language: bytes = b""
    translated: bytes = b""


def parse_text(chunk: Chunk) -> TextChunk | None:
    """Decode a tEXt/zTXt/iTXt chunk; None if it is not one or is malformed."""
    d = chunk.body()
    nul = d.find(b"\0")
    if chunk.type not in TEXT_TYPES or nul < 0:
        return None
    kw, rest = d[:nul], d[nul + 1 :]
    if chunk.type == b"tEXt":
        return TextChunk(kw, rest, False)
    if chunk.type == b"zTXt":
        text = inflate(rest[1:]) if rest[:1] == b"\0" else None
        return None if text is None else TextChunk(kw, text, True)
    if len(rest) < 2:
        return None
    flag, method, rest = rest[0], rest[1], rest[2:]
    lang_end = rest.find(b"\0")
    tr_end = rest.find(b"\0", lang_end + 1) if lang_end >= 0 else -1
    if tr_end < 0:
        return None
    lang, tr, text = rest[:lang_end], rest[lang_end + 1 : tr_end], rest[tr_end + 1 :]
    if flag:
        if method != 0:
            return None
        text = inflate(text)
        if text is None:
            return None
    return TextChunk(kw, text, bool(flag), lang, tr)


def render_text(t: TextChunk, ctype: bytes = b"iTXt") -> Chunk:
    """A new tEXt/zTXt/iTXt chunk holding ``t`` (compressed when ``t.compressed``)."""
    body = zlib.compress(t.text) if t.compressed else t.text
    if ctype == b"tEXt":
        return make_chunk(ctype, t.keyword + b"\0" + t.text)
    if ctype == b"zTXt":
        return make_chunk(ctype, t.keyword + b"\0\0" + zlib.compress(t.text))
    head = t.keyword + b"\0" + bytes((int(t.compressed), 0)) + t.language + b"\0"
    return make_chunk(ctype, head + t.translated + b"\0" + body)


def decode_profile(text: bytes) -> tuple[bytes, int] | None:
    """(binary data, declared length) of an ImageMagick ``Raw profile type`` text."""
    m = _PROFILE_RE.match(text)
    if m is None:
        return None
    hexdigits = re.sub(rb"\s+", b"", m.group(3))
    if len(hexdigits) & 1:
        hexdigits = hexdigits[:-1]
    try:
        return bytes.fromhex(hexdigits.decode("ascii")), int(m.group(2))
    except ValueError:
        return None


def profile_type(text: bytes) -> str | None:
    """The type line of an ImageMagick ``Raw profile type`` text (``exif``, ``iptc``...)."""
    m = _PROFILE_RE.match(text)
    return None if m is None else m.group(1).decode("latin-1")


def encode_profile(ptype: str, blob: bytes) -> bytes:
    """The ImageMagick text form of a profile (72 hex digits per line, as ImageMagick)."""
    hexs = blob.hex()
    lines = "\n".join(hexs[i : i + 72] for i in range(0, len(hexs), 72))
    return f"\n{ptype}\n{len(blob):8d}\n{lines}\n".encode("ascii")


def _profile_slots(i: int, c: Chunk, kw: str, blob: bytes) -> list[Slot]:
    """The block in an ImageMagick raw profile of type ``kw`` (``where``: (index, kw))."""
    off, where = c.data_offset, (i, kw)
    if kw in ("exif", "APP1"):
        if blob.startswith(_EXIF_HEADER):
            ok = blob[6:10] in TIFF_MAGICS
            return [Slot("exif", blob[6:] if ok else None, off, _EXIF_HEADER, where,
                         "" if ok else f"the EXIF profile at offset {c.offset} holds no TIFF "
                         "block")]
        if blob[:4] in TIFF_MAGICS:
            return [Slot("exif", blob, off, b"", where)]
        if blob.startswith(_XMP_APP1_HEADER):
            return [Slot("xmp", blob[len(_XMP_APP1_HEADER) :], off, _XMP_APP1_HEADER, where)]
        return []
    if kw == "xmp":
        return [Slot("xmp", blob, off, b"", where)]
    if kw in ("iptc", "8bim"):  # IIM, or a Photoshop IRB holding it
        return [Slot("iptc", blob, off, b"", where)]
    return []


def _exif_slot(i: int, chunk: Chunk, warn: list[str] | None) -> Slot:
    """The EXIF of an ``eXIf`` (or compressed ``zxIf``) chunk; ``warn``: where the reader's
    warnings go (None: this chunk is not the one read)."""
    warn = [] if warn is None else warn
    d, off = chunk.body(), chunk.data_offset
    head = _EXIF_HEADER if d.startswith(_EXIF_HEADER) else b""
    if head:
        warn.append(
            f'PNG: improper "Exif00" header in {chunk.type.decode()} chunk at {chunk.offset}'
        )
        d, off = d[6:], off + 6
    problem = ""
    if chunk.type == b"zxIf":
        problem = (f"the EXIF is in a compressed zxIf chunk at offset {chunk.offset}; "
                   "writing it is not supported")
        if d.startswith(b"\0"):  # 5 bytes of header, then zlib
            d, off = inflate(d[5:]) or b"", chunk.data_offset
    if d[:4] in TIFF_MAGICS:
        return Slot("exif", d, off, head, (i, ""), problem)
    warn.append(f"PNG: invalid {chunk.type.decode()} chunk at offset {chunk.offset}")
    return Slot("exif", None, off, head, (i, ""),
                problem or f"the eXIf chunk at offset {chunk.offset} holds no TIFF block")


def _text_slots(i: int, c: Chunk, warn: list[str]) -> list[Slot]:
    t = parse_text(c)
    if t is None:
        warn.append(f"PNG: unreadable {c.type.decode()} chunk at offset {c.offset}")
        return []
    if t.keyword == XMP_KEYWORD:
        return [Slot("xmp", t.text, c.data_offset, b"", (i, ""))]
    if not t.keyword.startswith(b"Raw profile type "):
        return []
    kw = t.keyword[17:].decode("latin-1")
    prof = decode_profile(t.text)
    if prof is None:
        warn.append(f"PNG: bad raw profile {kw!r} at offset {c.offset}")
        return []
    blob, declared = prof
    if declared != len(blob):
        warn.append(f"PNG: raw profile {kw!r} is {len(blob)} bytes, says {declared}")
    return _profile_slots(i, c, kw, blob)


def profile_iim(slot: Slot) -> bytes | None:
    """The IIM of an IPTC slot: the profile itself, or the IPTC resource of its IRB."""
    if slot.data is None:
        return None
    if slot.where[1] == "iptc" and slot.data.startswith(b"\x1c"):
        return slot.data
    return find_iptc(slot.data)


class PngFormat(FileFormat):
    name = "PNG"
    writer = ("engine.containers.png_write", "plan_png")
    not_writable = {"iptc": "IPTC is not standard in PNG and this file has none to edit; use "
                            "the XMP equivalents"}
    kept_if_present = frozenset({"iptc"})  # an IPTC block the file has is edited in place

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if head[:8] == SIGNATURE else 0

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        """The chunks (image data not copied); ``where`` of a slot: (chunk index, the raw
        profile's type, "" for an eXIf/zxIf or XMP text chunk)."""
        parsed = parse_png(data, path, lazy=LAZY_TYPES)
        warn = list(parsed.warnings)
        slots: list[Slot] = []
        for i, c in enumerate(parsed.chunks):
            if c.type in (b"eXIf", b"zxIf"):
                read = not any(s.group == "exif" and s.data is not None for s in slots)
                slots.append(_exif_slot(i, c, warn if read else None))
            elif c.type in TEXT_TYPES:
                slots += _text_slots(i, c, warn)
        return Layout(parsed, slots, warn)

    @classmethod
    def blocks(cls, layout: Layout, path: str) -> Blocks:
        b = super().blocks(layout, path)
        if b.exif is not None:
            b.offset_base = 0  # ExifTool prints eXIf offsets as they are stored
        b.iptc = next((iim for s in layout.of("iptc") if (iim := profile_iim(s)) is not None),
                      None)
        return b
