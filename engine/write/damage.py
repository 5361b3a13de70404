"""The pre-write damage check: strict writing on top of tolerant reading.

The reader skips what it cannot read and says so; a write must not build on those guesses.
When the reader had to skip or guess in a structure the write re-emits or moves, the write is
refused with a message naming the file, the structure and the offset (what ExifTool reports as
"Bad ExifIFD directory", "File format error"...), before any plan is made; otherwise damage
would be carried forward (an IFD pointer past the end comes to point at the data we append, a
value that could not be read comes to read our bytes).  Pure functions on the file's bytes.
"""

from __future__ import annotations

from engine.errors import EngineError, WriteError
from engine.exif.types import BYTE_ORDERS
from engine.write.changes import Edits


def check_damage(fmt, data, edits: Edits, path: str) -> None:
    """Raise WriteError when the file is damaged where ``edits`` would write.  ``fmt``: the
    container (a FileFormat class, or its name), whose ``check_damage`` says how to look."""
    if isinstance(fmt, str):
        from engine.registry import format_named

        fmt = format_named(fmt)
        if fmt is None:
            return
    fmt.check_damage(data, edits, path)


# Warnings of engine.exif.ifd about pointers that reach past the end of the block
_OUTSIDE = ("past the end", "outside the data", "entries, only")


def check_exif_structure(block, path: str, what: str = "the EXIF block", base: int = 0,
                         outside_only: bool = False) -> None:
    """Refuse to rewrite a TIFF/EXIF block whose IFD structure the tolerant parser had to
    patch up: a directory pointer outside the data or looping, an entry count past the end,
    an entry of unknown type, a value outside the data.  ``base``: where the block starts in
    the file (for the message).  ``outside_only``: only pointers past the block's end count
    (the block itself is copied as it is)."""
    from engine.exif.ifd import parse_tiff

    try:
        st = parse_tiff(block, path=path)
    except EngineError as e:
        raise WriteError(f"{what} is damaged ({e.reason}; its TIFF header at file offset "
                         f"{base}); refusing to write", path=path) from None
    problems = [w.split("EXIF: ", 1)[-1] for w in st.warnings] + _suspect_entries(st)
    if outside_only:
        problems = [w for w in problems if any(k in w for k in _OUTSIDE)]
    if problems:
        more = f" and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
        raise WriteError(f"{what} is damaged ({problems[0]}{more}; offsets count from its TIFF "
                         f"header at file offset {base}); rewriting it would carry the damage "
                         "forward; refusing to write", path=path)


def _suspect_entries(st) -> list[str]:
    """Entries the tolerant parser reads but ExifTool calls bad: a BigTIFF-only type in a
    classic TIFF ("Bad format"), a value inside the TIFF header ("Invalid offset").  (A value
    overlapping a directory is left to the validator: real files have them, ExifTool writes
    them, and a rewrite that changed such a value is caught there.)"""
    out: list[str] = []
    if st.bigtiff:
        return out
    for ifd in st.ifds:
        for e in ifd.entries:
            at = f"{ifd.name} tag 0x{e.tag:04x} (entry at offset {e.entry_offset})"
            if e.type in (16, 17, 18):
                out.append(f"{at} has the BigTIFF-only type {e.type}")
            if e.value_offset is not None and e.raw and e.value_offset < 8:
                out.append(f"{at} has its value at offset {e.value_offset}, in the TIFF header")
    return out


def check_jpeg(data, edits: Edits, path: str) -> None:
    """JPEG: garbage after SOI, ambiguous XMP, a damaged EXIF block."""
    from engine.containers import jpeg as J

    if len(data) > 2 and data[2] != 0xFF and bytes(data[:7]) != J.EXV_SIGNATURE:
        # ExifTool: "File format error" / "Not a valid JPG": it does not read this file as a
        # JPEG, so nothing we write would be seen
        raise WriteError("JPEG: no marker right after the SOI marker (garbage at offset 2); "
                         "the file is damaged; refusing to write", path=path, offset=2)
    located = J.JpegFormat.locate(data, path)
    segs = located.parsed.segments
    if edits.xmp:
        xmp = [s.where for s in located.of("xmp")]
        if len(xmp) > 1:
            raise WriteError(f"JPEG: {len(xmp)} standard XMP APP1 segments (offsets "
                             f"{', '.join(str(segs[i].offset) for i in xmp)}); which one "
                             "counts is ambiguous (ExifTool refuses too); refusing to write",
                             path=path, offset=segs[xmp[1]].offset)
    exif = located.of("exif")
    if exif:
        slot = exif[0]
        # An EXIF edit rewrites the block; any other edit moves what follows it, which is
        # what ExifTool reads for a pointer past the block's end (from the file)
        hinted(data, path, check_exif_structure, slot.data, path, "the EXIF block (APP1 "
                f"segment at offset {segs[slot.where].offset})", slot.offset,
                outside_only=not edits.exif)


def hinted(data, path: str, check, *args, **kw):
    """``check(*args, **kw)``; a refusal it raises says what ``metafs write --repair`` would
    change in the file ``data``, if anything."""
    try:
        return check(*args, **kw)
    except WriteError as e:
        from engine.write.repair import repair_hint

        hint = repair_hint(data, path)
        if not hint:
            raise
        raise WriteError(e.reason + hint, path=path) from None


def check_contained_exif(fmt, data, edits: Edits, path: str) -> None:
    """PNG, WebP, HEIF: an EXIF edit rewrites the EXIF block as the reader finds it."""
    if not edits.exif:
        return
    blocks = fmt.extract(data, path)
    if blocks.exif is not None:
        hinted(data, path, check_exif_structure, bytes(blocks.exif), path, "the EXIF block",
                blocks.exif_offset)


def check_tiff(data, edits: Edits, path: str) -> None:
    """TIFF and TIFF-based RAW: every write patches the IFD chain (XMP and IPTC live in IFD0
    tags), so any damage in it counts."""
    if bytes(data[:2]) in BYTE_ORDERS:
        hinted(data, path, check_exif_structure, data, path, "the TIFF structure", 0)
