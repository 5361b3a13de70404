"""Container formats: exact parse/render round trips, block extraction, tolerance, sniffing."""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from pathlib import Path

import pytest
from support.builders import box, full_box, infe, segment, xmp_packet

from engine.containers import heif, jpeg, png, tiff, webp
from engine.containers.exv import ExvFormat
from engine.containers.heif import HeifFormat
from engine.containers.jpeg import JpegFormat
from engine.containers.mrw import MrwFormat
from engine.containers.png import PngFormat
from engine.containers.raf import RafFormat
from engine.containers.tiff import TiffFormat
from engine.containers.webp import WebpFormat
from engine.errors import EngineError
from engine.iptc.photoshop import Resource, render_irb
from engine.registry import sniff

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

TIFF_LE = b"II*\0\x08\0\0\0" + b"\0\0" + b"\0\0\0\0"  # empty IFD0
TIFF_BE = b"MM\0*\0\0\0\x08" + b"\0\0" + b"\0\0\0\0"
IIM = b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x19\x00\x03abc"


# --- synthetic files -------------------------------------------------------------------------


def ext_xmp_segments(packet: bytes, guid: str, chunk: int) -> list[bytes]:
    out = []
    for off in range(0, len(packet), chunk):
        head = jpeg.XMP_EXT_HEADER + guid.encode() + struct.pack(">II", len(packet), off)
        out.append(segment(0xE1, head + packet[off : off + chunk]))
    return out


def make_jpeg(*, ext_ok: bool = True, tail: bytes = b"") -> tuple[bytes, bytes]:
    ext = xmp_packet('xmlns:big="http://x/" big:v="' + "x" * 300 + '"')
    guid = hashlib.md5(ext).hexdigest().upper()
    if not ext_ok:
        ext = ext[:-1] + b" "
    main = xmp_packet(
        f'xmlns:xmpNote="http://ns.adobe.com/xmp/note/" xmpNote:HasExtendedXMP="{guid}"'
    )
    irb = render_irb([Resource(b"8BIM", 0x0404, b"", IIM)])
    parts = [
        b"\xff\xd8",
        segment(0xE0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"),
        segment(0xE1, jpeg.EXIF_HEADER + TIFF_BE),
        b"\xff\xff\xff",  # fill bytes
        segment(0xE1, jpeg.XMP_HEADER + main),
        *ext_xmp_segments(ext, guid, 100),
        segment(0xED, jpeg.PS_HEADER + irb[:10]),
        segment(0xED, jpeg.PS_HEADER + irb[10:]),
        b"\xff\xd0",  # a standalone marker before SOS (odd but seen)
        segment(0xDB, bytes(65)),
        segment(0xC0, b"\x08\0\x10\0\x10\x01\x01\x11\0"),
        b"\xff\xda\0\x08\x01\x01\0\0?\0" + b"\x12\xff\x00\x34" + b"\xff\xd9" + tail,
    ]
    return b"".join(parts), ext


def make_png(chunks: list[png.Chunk]) -> bytes:
    ihdr = png.make_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    idat = png.make_chunk(b"IDAT", zlib.compress(b"\0\0"))
    return png.render_chunks([ihdr, *chunks, idat, png.make_chunk(b"IEND", b"")])


def make_webp(chunks: list[webp.RiffChunk]) -> bytes:
    vp8x = webp.make_chunk(b"VP8X", b"\x0c" + bytes(9))
    return webp.render_webp([vp8x, *chunks, webp.make_chunk(b"VP8L", b"\x2f\0\0\0\0")])


def make_heif(brand: bytes = b"heic") -> tuple[bytes, int]:
    """ftyp, meta (Exif item in mdat by file offset, XMP item in idat), mdat.  Returns the
    file and the file offset of the TIFF header."""
    exif_item = struct.pack(">I", 6) + b"Exif\0\0" + TIFF_LE
    xmp = xmp_packet()
    ftyp = box(b"ftyp", brand + b"\0\0\0\0mif1" + brand)
    iinf = full_box(b"iinf", 0, struct.pack(">H", 3) + b"".join([
        infe(1, b"hvc1"), infe(2, b"Exif"), infe(3, b"mime", ctype=b"application/rdf+xml"),
    ]))  # fmt: skip
    idat = box(b"idat", xmp)

    def iloc(mdat_at: int) -> bytes:
        items = [
            (1, 0, mdat_at + 8 + len(exif_item), 4),
            (2, 0, mdat_at + 8, len(exif_item)),
            (3, 1, 0, len(xmp)),
        ]
        body = bytes((0x44, 0x00)) + struct.pack(">H", len(items))
        for iid, method, off, ln in items:
            body += struct.pack(">HHHH", iid, method, 0, 1) + struct.pack(">II", off, ln)
        return full_box(b"iloc", 1, body)

    def meta(mdat_at: int) -> bytes:
        hdlr = full_box(b"hdlr", 0, b"\0\0\0\0pict" + bytes(13))
        return full_box(b"meta", 0, hdlr + iinf + iloc(mdat_at) + idat)

    mdat_at = len(ftyp) + len(meta(0))
    data = ftyp + meta(mdat_at) + box(b"mdat", exif_item + b"HEVC")
    return data, mdat_at + 8 + 4 + 6


# --- JPEG ------------------------------------------------------------------------------------


def test_jpeg_roundtrip_and_blocks() -> None:
    data, ext = make_jpeg(tail=b"TRAILER")
    layout = jpeg.parse_jpeg(data)
    assert jpeg.render_jpeg(layout, data) == data
    assert data[layout.sos_offset : layout.sos_offset + 2] == b"\xff\xda"
    b = JpegFormat.extract(data, "x.jpg")
    assert b.exif == TIFF_BE
    assert data[b.exif_offset : b.exif_offset + 4] == b"MM\0*"
    assert b.xmp is not None and b"HasExtendedXMP" in b.xmp
    assert b.xmp_extended == ext
    assert b.iptc == IIM
    assert b.warnings == []
    kinds = [jpeg.kind(s) for s in layout.segments]
    assert kinds[:4] == ["soi", "jfif", "exif", "xmp"]
    assert jpeg.insert_index(layout.segments) == 2


def test_jpeg_extended_xmp_md5_mismatch() -> None:
    data, _ = make_jpeg(ext_ok=False)
    b = JpegFormat.extract(data, "x.jpg")
    assert b.xmp_extended is None
    assert any("MD5" in w for w in b.warnings)


def test_jpeg_has_extended_xmp_element_form() -> None:
    guid = "0123456789ABCDEF0123456789ABCDEF"
    assert jpeg.extended_xmp_guid(f"<xmpNote:HasExtendedXMP>{guid}</x".encode()) == guid
    assert jpeg.extended_xmp_guid(f"xmpNote:HasExtendedXMP='{guid}'".encode()) == guid


def test_jpeg_multi_segment_exif_and_variants() -> None:
    tiff_a = b"MM\0*\0\0\0\x08" + b"first"
    data = b"".join([
        b"\xff\xd8",
        segment(0xE1, b"Exif\0\0" + tiff_a),
        segment(0xE1, b"Exif\0\0" + b"second"),
        b"\xff\xda\0\x02\xff\xd9",
    ])  # fmt: skip
    b = JpegFormat.extract(data, "x.jpg")
    assert b.exif == tiff_a + b"second"
    assert any("multi-segment" in w for w in b.warnings)
    # Exif\0\xff variant (ExifTool accepts "Exif\0" + any byte) and leading garbage
    for ident in (b"Exif\0\xff", b"ab" + b"Exif\0\0"):
        d = b"\xff\xd8" + segment(0xE1, ident + TIFF_LE) + b"\xff\xda\0\x02"
        got = JpegFormat.extract(d, "x.jpg")
        assert got.exif == TIFF_LE
        assert d[got.exif_offset : got.exif_offset + 4] == b"II*\0"


def test_jpeg_garbage_and_truncation_warn() -> None:
    data, _ = make_jpeg()
    dirty = data[:20] + b"junk" + data[20:]
    layout = jpeg.parse_jpeg(dirty)
    assert jpeg.render_jpeg(layout, dirty) == dirty
    assert any("unknown bytes" in w for w in layout.warnings)
    cut = data[:60]
    b = JpegFormat.extract(cut, "x.jpg")
    assert b.exif == TIFF_BE
    assert any("past the end" in w or "before SOS" in w for w in b.warnings)
    with pytest.raises(EngineError):
        jpeg.parse_jpeg(b"\x00\x01")


def test_jpeg_make_segment_limit() -> None:
    assert jpeg.make_segment(0xE1, b"x").render() == b"\xff\xe1\0\x03x"
    with pytest.raises(EngineError):
        jpeg.make_segment(0xE1, bytes(jpeg.MAX_PAYLOAD + 1))


def test_jpeg_segment_builders_invert_extraction() -> None:
    packet = b"<x>" + bytes(range(256)) * 600 + b"</x>"  # > 2 extended chunks
    guid, ext = jpeg.extended_xmp_segments(packet)
    assert len(ext) == 3 and all(len(s.payload) <= jpeg.MAX_PAYLOAD for s in ext)
    irb = render_irb([Resource(b"8BIM", 0x0404, b"", IIM + bytes(70000))])
    main = xmp_packet(
        f'xmlns:xmpNote="http://ns.adobe.com/xmp/note/" xmpNote:HasExtendedXMP="{guid}"'
    )
    segs = [
        jpeg.Segment(jpeg.SOI, 0, b""),
        jpeg.exif_segment(TIFF_LE),
        jpeg.xmp_segment(main),
        *ext,
        *jpeg.photoshop_segments(irb),
    ]
    data = jpeg.render_segments(segs, b"\xff\xda\0\x02\xff\xd9")
    b = JpegFormat.extract(data, "x.jpg")
    assert (b.exif, b.xmp, b.xmp_extended) == (TIFF_LE, main, packet)
    assert b.iptc == IIM + bytes(70000)
    assert [jpeg.kind(s) for s in jpeg.parse_segments(data)].count("photoshop") == 2
    with pytest.raises(EngineError):
        jpeg.exif_segment(bytes(jpeg.MAX_PAYLOAD))
    with pytest.raises(EngineError):
        jpeg.xmp_segment(bytes(jpeg.MAX_PAYLOAD))


# --- TIFF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (TIFF_LE, "TIFF"),
        (TIFF_BE, "TIFF"),
        (b"II+\0\x08\0\0\0" + bytes(8), "BTF"),
        (b"IIRO\x08\0\0\0" + bytes(8), "ORF"),
        (b"MMOR\0\0\0\x08" + bytes(8), "ORF"),
        (b"IIU\0\x18\0\0\0" + bytes.fromhex("88e774d8f8251d4d947a6e77822b5d6a"), "RW2"),
        (b"IIU\0\x08\0\0\0" + bytes(8), "RAW"),
        (b"II*\0\x10\0\0\0CR\x02\0\0\0\0\0" + bytes(6), "CR2"),
        (b"II*\0\x08\0\0\0\x01\0\x12\xc6\x01\0\x04\0\0\0\x01\x04\0\0\0\0\0\0", "DNG"),
    ],
)
def test_tiff_sniff_and_type(head: bytes, name: str) -> None:
    assert sniff(head) is TiffFormat
    assert tiff.file_type(head) == name
    b = TiffFormat.extract(head, "x")
    assert b.exif == head and b.exif_offset == 0


# --- PNG -------------------------------------------------------------------------------------


def hex_profile(ptype: str, blob: bytes) -> bytes:
    return png.encode_profile(ptype, blob)


def test_png_blocks_and_roundtrip() -> None:
    xmp = xmp_packet()
    irb = render_irb([Resource(b"8BIM", 0x0404, b"", IIM)])
    chunks = [
        png.make_chunk(b"eXIf", TIFF_BE),
        png.render_text(png.TextChunk(png.XMP_KEYWORD, xmp, True)),
        png.render_text(
            png.TextChunk(b"Raw profile type iptc", hex_profile("IPTC profile", irb), True),
            b"zTXt",
        ),
    ]
    data = make_png(chunks)
    layout = png.parse_png(data)
    assert png.render_png(layout, data) == data
    b = PngFormat.extract(data, "x.png")
    assert b.exif == TIFF_BE and data[b.exif_offset : b.exif_offset + 4] == b"MM\0*"
    assert b.xmp == xmp
    assert b.iptc == IIM
    assert b.warnings == []


def test_png_raw_profiles() -> None:
    for kw, blob in ((b"exif", b"Exif\0\0" + TIFF_LE), (b"APP1", TIFF_LE)):
        text = png.TextChunk(b"Raw profile type " + kw, hex_profile("exif", blob), False)
        b = PngFormat.extract(make_png([png.render_text(text, b"tEXt")]), "x.png")
        assert b.exif == TIFF_LE
    text = png.TextChunk(b"Raw profile type xmp", hex_profile("xmp", xmp_packet()), False)
    assert PngFormat.extract(make_png([png.render_text(text)]), "x").xmp == xmp_packet()
    text = png.TextChunk(b"Raw profile type iptc", hex_profile("iptc", IIM), False)
    assert PngFormat.extract(make_png([png.render_text(text)]), "x").iptc == IIM


def test_png_bad_crc_kept_and_warned() -> None:
    data = bytearray(make_png([png.make_chunk(b"eXIf", TIFF_BE)]))
    i = data.find(b"eXIf") + 4 + len(TIFF_BE)
    data[i] ^= 0xFF
    layout = png.parse_png(bytes(data))
    assert png.render_png(layout, bytes(data)) == bytes(data)
    assert any("CRC" in w for w in layout.warnings)


def test_png_zlib_bomb_capped() -> None:
    bomb = zlib.compress(bytes(2_000_000), 9)
    assert png.inflate(bomb, limit=1000) is None
    chunk = png.make_chunk(b"zTXt", b"Raw profile type exif\0\0" + bomb)
    assert png.parse_text(chunk) is not None  # 2 MB is under the default cap


# --- WebP ------------------------------------------------------------------------------------


def test_webp_blocks_padding_roundtrip() -> None:
    xmp = xmp_packet() + b"!"  # odd size: padded
    data = make_webp(
        [webp.make_chunk(b"EXIF", b"Exif\0\0" + TIFF_LE), webp.make_chunk(b"XMP ", xmp)]
    )
    layout = webp.parse_webp(data)
    assert webp.render_layout(layout, data) == data
    b = WebpFormat.extract(data, "x.webp")
    assert b.exif == TIFF_LE and data[b.exif_offset : b.exif_offset + 4] == b"II*\0"
    assert b.xmp == xmp
    assert any("improper EXIF header" in w for w in b.warnings)
    # an odd last chunk without its pad byte and a RIFF size that says so
    bare = b"RIFF" + struct.pack("<I", 4 + 8 + 3) + b"WEBP" + b"XMP \x03\0\0\0abc"
    layout = webp.parse_webp(bare)
    assert webp.render_layout(layout, bare) == bare
    assert WebpFormat.extract(bare, "x").xmp == b"abc"


def test_webp_vp8x_flags() -> None:
    chunks = [webp.make_chunk(b"VP8X", bytes(10)), webp.make_chunk(b"XMP ", b"x")]
    webp.set_vp8x_flags(chunks)
    assert chunks[0].data[0] == webp.VP8X_XMP


# --- HEIF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("brand", "name"), [(b"heic", "HEIC"), (b"mif1", "HEIF"), (b"avif", "AVIF")]
)
def test_heif_blocks_and_roundtrip(brand: bytes, name: str) -> None:
    data, tiff_at = make_heif(brand)
    assert sniff(data[:64]) is HeifFormat
    assert heif.brand_type(data[:16]) == name
    parsed = heif.parse_boxes(data)
    assert parsed.warnings == []
    assert heif.render_boxes(parsed.boxes, data[parsed.tail_offset :]) == data
    b = HeifFormat.extract(data, "x.heic")
    assert b.exif == TIFF_LE and b.exif_offset == tiff_at
    assert data[tiff_at : tiff_at + 4] == b"II*\0"
    assert b.xmp == xmp_packet()
    assert b.warnings == []


def test_heif_box_forms_roundtrip() -> None:
    large = struct.pack(">I", 1) + b"free" + struct.pack(">Q", 16 + 3) + b"abc"
    uuid = box(b"uuid", heif.XMP_UUID + b"<x/>")
    to_end = struct.pack(">I", 0) + b"mdat" + b"rest of file"
    data = box(b"ftyp", b"heic\0\0\0\0") + large + uuid + to_end
    parsed = heif.parse_boxes(data)
    assert [x.form for x in parsed.boxes] == [0, 1, 0, 2]
    assert heif.render_boxes(parsed.boxes) == data
    assert HeifFormat.extract(data, "x").xmp == b"<x/>"


@pytest.mark.parametrize("version", [0, 1, 2])
def test_iloc_roundtrip(version: int) -> None:
    items = [heif.ItemLocation(7, 1 if version else 0, 0, 100, [(0, 5, 10), (0, 20, 30)])]
    if version:
        items[0].extents = [(3, 5, 10)]
    iloc = heif.Iloc(version, 0, 4, 8, 4, 4 if version else 0, items)
    raw = heif.render_iloc(iloc)
    assert heif.parse_iloc(raw) == iloc
    assert heif.render_iloc(heif.parse_iloc(raw)) == raw


# --- tolerance: damaged inputs raise only EngineError ---------------------------------------


def _synthetic() -> list[bytes]:
    xmp = webp.make_chunk(b"XMP ", xmp_packet())
    return [
        make_jpeg()[0],
        make_png([png.make_chunk(b"eXIf", TIFF_BE)]),
        make_webp([webp.make_chunk(b"EXIF", TIFF_LE), xmp]),
        make_heif()[0],
        TIFF_LE,
    ]


def _extract_any(data: bytes) -> None:
    try:
        fmt = sniff(data[:64])
        fmt.extract(data, "fuzz")
    except EngineError:
        pass


@pytest.mark.parametrize("index", range(5))
def test_truncated_and_garbled_inputs(index: int) -> None:
    data = _synthetic()[index]
    for n in range(len(data)):
        _extract_any(data[:n])
    rnd = random.Random(index)
    for _ in range(300):
        buf = bytearray(data)
        for _ in range(rnd.randint(1, 8)):
            buf[rnd.randrange(len(buf))] = rnd.randrange(256)
        _extract_any(bytes(buf))


def test_sniff_by_content_not_name() -> None:
    assert sniff(make_jpeg()[0][:64], "a.png") is JpegFormat
    assert sniff(make_png([])[:64], "a.jpg") is PngFormat
    assert sniff(make_webp([])[:64]) is WebpFormat
    with pytest.raises(EngineError):
        sniff(b"GIF89a" + bytes(58))


# --- corpus ----------------------------------------------------------------------------------


def _heif_roundtrip(d: bytes, lazy: frozenset[bytes]) -> bytes:
    p = heif.parse_boxes(d, lazy=lazy)
    return heif.render_boxes(p.boxes, d[p.tail_offset :], source=d)


_ROUNDTRIP = {
    JpegFormat: lambda d, lazy: jpeg.render_jpeg(jpeg.parse_jpeg(d), d),
    PngFormat: lambda d, lazy: png.render_png(png.parse_png(d, lazy=lazy), d),
    WebpFormat: lambda d, lazy: webp.render_layout(webp.parse_webp(d, lazy=lazy), d),
    HeifFormat: _heif_roundtrip,
    ExvFormat: lambda d, lazy: jpeg.render_jpeg(jpeg.parse_jpeg(d), d),
}
_LAZY = {PngFormat: png.LAZY_TYPES, WebpFormat: webp.LAZY_TYPES, HeifFormat: heif.LAZY_TYPES}

# ExifTool FileType -> the format that must read it
_EXPECTED = {
    "JPEG": JpegFormat, "MPO": JpegFormat, "PNG": PngFormat, "WEBP": WebpFormat,
    "Extended WEBP": WebpFormat, "HEIC": HeifFormat, "HEIF": HeifFormat, "AVIF": HeifFormat,
    "CR3": HeifFormat, "TIFF": TiffFormat, "BTF": TiffFormat, "CR2": TiffFormat,
    "DNG": TiffFormat, "NEF": TiffFormat, "ARW": TiffFormat, "ORF": TiffFormat,
    "RW2": TiffFormat, "RAW": TiffFormat, "IIQ": TiffFormat, "MRW": MrwFormat,
    "EXV": ExvFormat, "RAF": RafFormat,
}  # fmt: skip


# ExifTool names these TIFF/JPEG variants by the file extension, not the content
_NAMED_BY_EXTENSION = {"NEF", "ARW", "IIQ", "MPO"}
# a BigTIFF header ExifTool fails to read as BigTIFF ("Bad IFD0 directory")
_FILE_TYPE_EXCEPTIONS = {"exiv2/test/data/issue_712_poc.tif"}


def _corpus_files() -> list[tuple[str, str]]:
    inv = CORPUS / "inventory.tsv"
    if not inv.is_file():
        return []
    rows = [line.split("\t") for line in inv.read_text().splitlines()[1:]]
    return [(r[0], r[2]) for r in rows if len(r) > 2]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
@pytest.mark.parametrize(("rel", "file_type"), _corpus_files())
def test_corpus_file(rel: str, file_type: str) -> None:
    data = (CORPUS / rel).read_bytes()
    expected = _EXPECTED.get(file_type)
    try:
        fmt = sniff(data[:64], rel)
    except EngineError:
        assert expected is None, f"{rel}: {file_type} not recognised"
        return
    if expected is not None:
        assert fmt is expected
    if file_type not in _NAMED_BY_EXTENSION and rel not in _FILE_TYPE_EXCEPTIONS:
        assert fmt.file_type(data) == file_type
    try:
        fmt.extract(data, rel)
    except EngineError:
        pass
    roundtrip = _ROUNDTRIP.get(fmt)
    if roundtrip is None:
        return
    for lazy in (frozenset(), _LAZY.get(fmt, frozenset())):
        try:
            out = roundtrip(data, lazy)
        except EngineError:
            continue
        assert out == data
