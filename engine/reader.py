"""read_metadata: sniff the container, pull out its blocks, decode each block into tags."""

from __future__ import annotations

import mmap
import os

from engine.errors import CorruptFileError, EngineError
from engine.model import Blocks, Metadata
from engine.registry import file_type, format_named, sniff

# The parts of the metadata, each decoded from its own block(s); a tag's part shows in its
# path (engine.model): "xmp/..." and "iptc/..." paths, every other path is EXIF.
PARTS = frozenset({"exif", "xmp", "iptc"})

# Read-only parts decoded only when asked for (``read_metadata(path, parts=ALL_PARTS)``):
# part -> (module, function).  Each part's tags have paths "<part>/<Name>" and ExifTool's
# family-1 group; ``function(data, blocks, md)`` returns (tags, warnings) and may use the
# tags already in ``md`` (the parts before it in this order: "composite" comes last).
EXTRA_PARTS: dict[str, tuple[str, str]] = {
    "makernotes": ("engine.makernotes", "read_makernotes"),
    "file": ("engine.groups.file", "read"),
    "jfif": ("engine.groups.jfif", "read"),
    "icc": ("engine.groups.icc", "read"),
    "photoshop": ("engine.groups.photoshop_irb", "read"),
    "mpf": ("engine.groups.mpf", "read"),
    "printim": ("engine.groups.printim", "read"),
    "png": ("engine.groups.png_chunks", "read"),
    "quicktime": ("engine.groups.quicktime", "read"),
    "app14": ("engine.groups.app14", "read"),
    "flir": ("engine.makernotes.flir", "read"),  # APP1 FLIR thermal data (group FLIR)
    "iptc2": ("engine.iptc.more", "read"),  # IIM blocks after the first (IPTC2, IPTC3...)
    "composite": ("engine.groups.composite", "read"),  # last: computed from the others
}
ALL_PARTS = PARTS | frozenset(EXTRA_PARTS)


def part_of(path: str) -> str:
    """The part (``ALL_PARTS``) a tag path belongs to."""
    if path.startswith("xmp/"):
        return "xmp"
    if path.startswith("iptc/"):
        return "iptc"
    head = path.split("/", 1)[0]
    return head if head in EXTRA_PARTS and "/" in path else "exif"


def mapped(path: str) -> mmap.mmap:
    """The file's content as a read-only mmap, to use in a ``with`` statement (errors as
    EngineError naming the file).  The mapping outlives the file descriptor."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise CorruptFileError("empty file", path=path)
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise EngineError(f"cannot read: {e.strerror or e}", path=path) from e


def read_metadata(path: str | os.PathLike[str], parts: frozenset[str] = PARTS) -> Metadata:
    """The tags of ``parts`` (default: EXIF, XMP, IPTC; ``ALL_PARTS`` for everything)."""
    path = os.fspath(path)
    with mapped(path) as data:
        return read_metadata_from(data, path, parts)


def read_metadata_from(data: bytes | mmap.mmap, path: str,
                       parts: frozenset[str] = PARTS) -> Metadata:
    """Decode metadata from the whole content of a file (pure: no I/O).

    ``parts`` (a subset of ``PARTS``) leaves the tags and warnings of the other parts out:
    the writer decodes only what a change touches (container warnings are always kept)."""
    md, blocks = read_blocks_from(data, path)
    decode_blocks(blocks, md, parts)
    if not parts <= PARTS:
        decode_extra(data, blocks, md, parts)
    return md


def decode_extra(data, blocks: Blocks, md: Metadata, parts: frozenset[str]) -> None:
    """Add the tags of the read-only ``EXTRA_PARTS`` in ``parts`` to ``md`` (tolerant: a
    part that fails to decode adds a warning, never an error)."""
    from engine.registry import import_attr

    for part, (module, function) in EXTRA_PARTS.items():
        if part not in parts:
            continue
        try:
            tags, warnings = import_attr(module, function)(data, blocks, md)
        except (EngineError, ValueError, IndexError, KeyError) as e:
            md.warnings.append(f"{part}: {e}")
            continue
        for t in tags:
            md.add(t)
        md.warnings.extend(warnings)


def read_blocks_from(data: bytes | mmap.mmap, path: str) -> tuple[Metadata, Blocks]:
    """The container's blocks, and a Metadata with no tags yet (decode_blocks fills it)."""
    fmt = sniff(bytes(data[:64]), path)
    blocks = fmt.extract(data, path)
    md = Metadata(path=path, format=fmt.name, file_type=file_type(fmt, data))
    md.warnings.extend(blocks.warnings)
    return md, blocks


def decode_blocks(blocks: Blocks, md: Metadata, parts: frozenset[str] = PARTS,
                  exif_only: frozenset[str] | None = None) -> None:
    """Add the tags and warnings of ``parts`` of ``blocks`` to ``md``; with ``exif_only``
    (tag names), only those EXIF tags (engine.exif.decode.decode_exif)."""
    _decode_blocks(blocks, md, parts, exif_only)
    fmt = format_named(md.format)
    if fmt is not None and md.file_type in fmt.read_only:  # shown, but never written
        md.tags = {p: t.replace(writable=False) for p, t in md.tags.items()}


def _decode_blocks(blocks: Blocks, md: Metadata, parts: frozenset[str],
                   only: frozenset[str] | None) -> None:
    xmp, iptc = blocks.xmp, blocks.iptc
    # XMP and IPTC may live inside the EXIF (TIFF tags 700, 33723): decode it to find them
    if blocks.exif is not None and ("exif" in parts or (xmp is None and "xmp" in parts)
                                    or (iptc is None and "iptc" in parts)):
        from engine.exif.decode import decode_exif

        base = blocks.exif_offset if blocks.offset_base is None else blocks.offset_base
        # (when only the XMP or IPTC inside is wanted, no EXIF tag need be decoded)
        res = decode_exif(blocks.exif, path=md.path, base_offset=base,
                          only=only if "exif" in parts else frozenset())
        if "exif" in parts:
            for t in res.tags:
                md.add(t)
            md.warnings.extend(res.warnings)
        xmp = xmp if xmp is not None else res.xmp
        iptc = iptc if iptc is not None else res.iptc
    for data, offset, first in blocks.extra_exif if "exif" in parts else ():
        from engine.exif.decode import decode_exif

        res = decode_exif(data, path=md.path, base_offset=offset, first_ifd=first, only=only)
        for t in res.tags:
            md.add(t)
        md.warnings.extend(res.warnings)
    if xmp is not None and "xmp" in parts:
        from engine.xmp.decode import decode_xmp

        tags, warnings = decode_xmp(xmp, blocks.xmp_extended, path=md.path)
        for t in tags:
            md.add(t)
        md.warnings.extend(warnings)
    if iptc is not None and "iptc" in parts:
        from engine.iptc.iim import decode_iptc

        tags, warnings = decode_iptc(iptc, path=md.path)
        for t in tags:
            md.add(t)
        md.warnings.extend(warnings)
