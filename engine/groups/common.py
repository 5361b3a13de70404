"""What the read-only group decoders share: tag construction, ExifTool's number printing,
binary tables, and where a file's JPEG segments or TIFF entries are."""

from __future__ import annotations

import struct

from engine.model import TagValue, binary_text

FORMATS = {  # ExifTool format -> (struct code, size)
    "int8u": ("B", 1), "int8s": ("b", 1), "int16u": ("H", 2), "int16s": ("h", 2),
    "int32u": ("I", 4), "int32s": ("i", 4), "float": ("f", 4), "double": ("d", 8),
    "fixed32s": ("i", 4), "fixed32u": ("I", 4), "int64u": ("Q", 8),
}


def tag(part: str, group: str, name: str, value, binary: int | None = None) -> TagValue:
    """A read-only tag ``<part>/<name>`` of family-1 ``group``."""
    if binary is not None:
        return TagValue(f"{part}/{name}", group, name, binary_text(binary), False, binary)
    return TagValue(f"{part}/{name}", group, name, value, False)


def num(v: float | int) -> str:
    """A number as Perl prints it (15 significant digits, no trailing zeros)."""
    if isinstance(v, int):
        return str(v)
    if v != v or v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf" if v < 0 else "nan"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.15g}"


def fixed(raw: int, signed: bool) -> float:
    """ExifTool's fixed32 value: 16.16 rounded to 5 decimals."""
    v = raw / 65536
    return int(v * 1e5 + (0.5 if v > 0 or not signed else -0.5)) / 1e5


def values(data: bytes, pos: int, fmt: str, count: int, bo: str = ">") -> list | None:
    """``count`` values of ExifTool format ``fmt`` at ``pos`` (None if past the end)."""
    code, size = FORMATS[fmt]
    if pos < 0 or pos + size * count > len(data):
        return None
    vals = list(struct.unpack_from(f"{bo}{count}{code}", data, pos))
    if fmt.startswith("fixed32"):
        vals = [fixed(v, fmt == "fixed32s") for v in vals]
    return vals


def text(raw: bytes) -> str:
    """A C string as ExifTool shows it (up to the first NUL, Latin-1 if not UTF-8)."""
    raw = raw.split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def binary_table(data: bytes, table: dict, part: str, group: str, unit: int = 1,
                 bo: str = ">") -> list[TagValue]:
    """The tags of a generated binary table (ids are offsets in ``unit`` bytes)."""
    out = []
    for tid, (name, fmt, count, conv) in table.items():
        if not tid.isdigit() or fmt not in FORMATS:
            continue
        vals = values(data, int(tid) * unit, fmt, count, bo)
        if vals is None:
            continue
        raw = " ".join(num(v) for v in vals)
        out.append(tag(part, group, name, conv.get(raw, f"Unknown ({raw})") if conv else raw))
    return out


# One read's parses, shared by its parts: (the read's Blocks.warnings list, {what: result}).
# The key is a list only that read owns, so a result never outlives its file's identity and
# no view of the file's mapping is kept; results are copies (bytes), never views.
_memo: tuple[list, dict] = ([], {})


def memo(blocks, what: str, compute):
    """``compute()`` once per read (``blocks``) and ``what``."""
    global _memo
    key, results = _memo
    if key is not blocks.warnings:
        results = {}
        _memo = (blocks.warnings, results)
    if what not in results:
        results[what] = compute()
    return results[what]


def forget() -> None:
    """Drop the last read's parses (the Composite part, last, calls it)."""
    global _memo
    _memo = ([], {})


# containers read through a JPEG or a TIFF (engine.containers.exv, raf, mrw): what the
# family decoders look into is the JPEG's or the TIFF's
AS_JPEG = frozenset({"JPEG", "EXV", "RAF"})
AS_TIFF = frozenset({"TIFF", "MRW"})


def jpeg_segments(data, blocks, md) -> list | None:
    """The JPEG segments of a JPEG (or EXV) file, or of the JPEG a Fujifilm RAF embeds (None
    for other containers)."""
    if md.format not in AS_JPEG:
        return None
    if md.file_type == "RAF":
        from engine.containers.raf import raf_jpeg_span

        span = raf_jpeg_span(data)
        if span is None:
            return None
        return memo(blocks, "jpeg", lambda: _parse_jpeg(data[span[0]:sum(span)], md.path))
    return memo(blocks, "jpeg", lambda: _parse_jpeg(data, md.path))


def _parse_jpeg(data, path: str) -> list | None:
    from engine.containers.jpeg import parse_jpeg
    from engine.errors import EngineError

    try:
        return parse_jpeg(data, path).segments
    except EngineError:
        return None


def tiff_entry(blocks, tag_id: int) -> bytes | None:
    """The raw value of an IFD0 (or ExifIFD) entry of the file's EXIF (ICC profile,
    Photoshop, PrintIM)."""
    st = tiff_structure(blocks)
    if st is None:
        return None
    for ifd in st.ifds:
        if ifd.name in ("IFD0", "ExifIFD"):
            for e in ifd.entries:
                if e.tag == tag_id and e.raw:
                    return e.raw
    return None


def tiff_structure(blocks):
    """The IFD structure of the EXIF block (None when there is none or it is bad)."""
    if blocks.exif is None:
        return None
    return memo(blocks, "tiff", lambda: _parse_tiff(blocks.exif))


def _parse_tiff(exif):
    from engine.errors import EngineError
    from engine.exif.ifd import parse_tiff

    try:
        return parse_tiff(exif)
    except EngineError:
        return None
