"""PNG chunks as ExifTool shows them (PNG.pm): the IHDR fields, pHYs, gAMA, cHRM, bKGD,
sBIT, sRGB, tIME, the iCCP profile name, and the textual chunks (tEXt/zTXt/iTXt) that are
not XMP or raw profiles."""

from __future__ import annotations

import re
import struct

from engine.groups.common import binary_table, num, tag
from engine.groups.tables import PNG_CHRM, PNG_IHDR, PNG_MAIN, PNG_PHYS

PART = "png"
# TextualData keywords ExifTool names differently from MakeTagName (PNG.pm)
TEXT_NAMES = {"Creation Time": "CreationTime", "Warning": "PNGWarning",
              "create-date": "CreateDate", "modify-date": "ModDate"}
SKIPPED_TEXT = ("XML:com.adobe.xmp", "Raw profile type ")


def chunks(data):
    from engine.containers.png import parse_png
    from engine.errors import EngineError

    try:
        return parse_png(data, lazy=frozenset({b"IDAT"})).chunks
    except EngineError:
        return []


def png_icc(data) -> bytes | None:
    """The inflated ``iCCP`` profile (for the ICC_Profile group): None when the zlib stream
    does not end properly (ExifTool's inflate then fails too)."""
    import zlib

    from engine.containers.png import MAX_INFLATE

    for c in chunks(data):
        if c.type == b"iCCP":
            body = c.body()
            nul = body.find(b"\0")
            if 0 < nul and body[nul + 1:nul + 2] == b"\0":
                d = zlib.decompressobj()
                try:
                    out = d.decompress(body[nul + 2:], MAX_INFLATE)
                except zlib.error:
                    return None
                return out if d.eof else None
    return None


def read(data, blocks, md) -> tuple[list, list[str]]:
    if md.format != "PNG":
        return [], []
    out: list = []
    for c in chunks(data):
        if c.type == b"IDAT":
            continue
        out += chunk_tags(c.type, c.body())
    return out, []


def chunk_tags(ctype: bytes, body: bytes) -> list:
    if ctype == b"IHDR":
        return binary_table(body, PNG_IHDR, PART, "PNG")
    if ctype == b"pHYs":
        return binary_table(body, PNG_PHYS, PART, "PNG-pHYs")
    if ctype == b"cHRM":
        return [t.replace(value=num(int(t.value) / 100000))
                for t in binary_table(body, PNG_CHRM, PART, "PNG", 4)]
    if ctype in (b"tEXt", b"zTXt", b"iTXt"):
        return text_tags(ctype, body)
    if ctype == b"iCCP":
        nul = body.find(b"\0")
        return [tag(PART, "PNG", "ProfileName", body[:max(nul, 0)].decode("latin-1"))]
    name_conv = PNG_MAIN.get(ctype.decode("latin-1"))
    if name_conv is None:
        return []
    name, conv = name_conv[0], name_conv[3]
    value = simple_value(ctype, body)
    if value is None:
        return [tag(PART, "PNG", name, None, binary=len(body))]
    return [tag(PART, "PNG", name, conv.get(value, f"Unknown ({value})") if conv else value)]


def simple_value(ctype: bytes, body: bytes) -> str | None:
    if ctype == b"gAMA" and len(body) >= 4:
        a = struct.unpack_from(">I", body)[0]
        return num(int(1e9 / a + 0.5) / 1e4) if a else "0"
    if ctype == b"bKGD" and body:
        vals = body[:1] if len(body) < 2 else struct.unpack(f">{len(body) // 2}H",
                                                             body[:len(body) // 2 * 2])
        return " ".join(str(v) for v in vals)
    if ctype in (b"sBIT", b"sRGB") and body:
        return " ".join(str(v) for v in body)
    if ctype == b"tIME" and len(body) >= 7:
        y, mo, d, h, mi, s = struct.unpack_from(">H5B", body)
        return f"{y:04d}:{mo:02d}:{d:02d} {h:02d}:{mi:02d}:{s:02d}"
    return None


def text_tags(ctype: bytes, body: bytes) -> list:
    from engine.containers.png import Chunk, parse_text

    t = parse_text(Chunk(ctype, body, 0))
    if t is None:
        return []
    keyword = t.keyword.decode("latin-1")
    if keyword.startswith(SKIPPED_TEXT):
        return []
    name = TEXT_NAMES.get(keyword) or make_name(keyword)
    if t.language:
        name += "-" + t.language.decode("latin-1")
    enc = "utf-8" if ctype == b"iTXt" else "latin-1"
    value = t.text.decode(enc, "replace")
    if name in ("CreateDate", "ModDate"):  # XMP-style dates, shown as EXIF dates
        value = re.sub(r"^(\d{4})-(\d{2})-(\d{2})T", r"\1:\2:\3 ", value)
    return [tag(PART, "PNG", name, value)]


def make_name(keyword: str) -> str:
    """ExifTool's tag name for an unknown keyword: spaces removed before capitals, then only
    ``-_A-Za-z0-9`` kept, first letter upper-case (PNG.pm FoundPNG, ExifTool MakeTagName)."""
    name = re.sub(r"\s+(.)", lambda m: m.group(1).upper(), keyword)
    name = re.sub(r"[^-_a-zA-Z0-9]", "", name)
    name = name[:1].upper() + name[1:]
    return name if len(name) >= 2 else f"Tag{name}"
