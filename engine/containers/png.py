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

from engine.containers.base import FileFormat
from engine.errors import CorruptFileError
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
_TIFF_MAGIC = (b"MM\0\x2a", b"II\x2a\0")


@dataclass(slots=True)
class Chunk:
    type: bytes  # 4 ASCII letters
    data: bytes | None  # None for a lazy chunk: its data is source[data_offset:+length]
    crc: int  # as stored in the file
    offset: int = -1  # file offset of the length word (-1: not from a file)
    length: int = 0  # data length in the source file (for lazy chunks)

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    def body(self, source: bytes | None = None) -> bytes:
        if self.data is not None:
            return self.data
        if source is None:
            raise CorruptFileError(f"PNG: lazy chunk {self.type!r} rendered without its source")
        return bytes(source[self.data_offset : self.data_offset + self.length])

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


def _profile_blocks(kw: str, blob: bytes, b: Blocks, off: int) -> None:
    if kw in ("exif", "APP1"):
        if blob.startswith(_EXIF_HEADER) and b.exif is None:
            b.exif, b.exif_offset, b.offset_base = blob[6:], off, 0
        elif blob.startswith(_TIFF_MAGIC) and b.exif is None:
            b.exif, b.exif_offset, b.offset_base = blob, off, 0
        elif blob.startswith(_XMP_APP1_HEADER) and b.xmp is None:
            b.xmp = blob[len(_XMP_APP1_HEADER) :]
    elif kw == "xmp" and b.xmp is None:
        b.xmp = blob
    elif kw in ("iptc", "8bim") and b.iptc is None:
        if blob.startswith(b"\x1c") and kw == "iptc":
            b.iptc = blob
        else:
            b.iptc = find_iptc(blob)


def _exif_chunk(chunk: Chunk, b: Blocks, warn: list[str]) -> None:
    d, off = chunk.body(), chunk.data_offset
    if d.startswith(_EXIF_HEADER):
        warn.append(
            f'PNG: improper "Exif00" header in {chunk.type.decode()} chunk at {chunk.offset}'
        )
        d, off = d[6:], off + 6
    if d.startswith(b"\0"):  # compressed zxIf: 5 bytes of header, then zlib
        d = inflate(d[5:]) or b""
        off = chunk.data_offset
    if d.startswith((b"II", b"MM")):
        b.exif, b.exif_offset = d, off
        b.offset_base = 0  # ExifTool prints eXIf offsets as they are stored
    else:
        warn.append(f"PNG: invalid {chunk.type.decode()} chunk at offset {chunk.offset}")


class PngFormat(FileFormat):
    name = "PNG"
    extensions = (".png",)

    @staticmethod
    def score(head: bytes) -> int:
        return 100 if head[:8] == SIGNATURE else 0

    @staticmethod
    def file_type(data: bytes) -> str:
        return "PNG"

    @classmethod
    def extract(cls, data: bytes, path: str) -> Blocks:
        layout = parse_png(data, path, lazy=LAZY_TYPES)
        b = Blocks()
        warn = list(layout.warnings)
        for c in layout.chunks:
            if c.type in (b"eXIf", b"zxIf"):
                if b.exif is None:
                    _exif_chunk(c, b, warn)
                continue
            if c.type not in TEXT_TYPES:
                continue
            t = parse_text(c)
            if t is None:
                warn.append(f"PNG: unreadable {c.type.decode()} chunk at offset {c.offset}")
                continue
            if t.keyword == XMP_KEYWORD:
                if b.xmp is None:
                    b.xmp = t.text
            elif t.keyword.startswith(b"Raw profile type "):
                kw = t.keyword[17:].decode("latin-1")
                prof = decode_profile(t.text)
                if prof is None:
                    warn.append(f"PNG: bad raw profile {kw!r} at offset {c.offset}")
                    continue
                blob, declared = prof
                if declared != len(blob):
                    warn.append(f"PNG: raw profile {kw!r} is {len(blob)} bytes, says {declared}")
                _profile_blocks(kw, blob, b, c.data_offset)
        b.warnings = [f"{path}: {w}" for w in warn]
        return b
