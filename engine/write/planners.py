"""Which writer plans the rewrite of a file, by its container and real file type.

A plan is a list of pieces for ``safety.safe_rewrite``: literal bytes, or ``(offset, length)``
ranges of the original (image data is always a range: copied by the kernel, never decoded).
Each format's planner lives in its own module (jpeg_writer, tiff_writer, png_writer...).
"""

from __future__ import annotations

from engine.errors import UnsupportedFormatError
from engine.registry import READ_ONLY_TYPES, import_attr

# container -> (module, function) of its plan function (or the function itself); a writer
# is imported when a file of its kind is written
PLANNERS = {
    "JPEG": ("engine.containers.jpeg_write", "plan_jpeg"),
    "PNG": ("engine.containers.png_write", "plan_png"),
    "WEBP": ("engine.containers.webp_write", "plan_webp"),
    "HEIF": ("engine.containers.heif_write", "plan_heif"),
    "HEIC": ("engine.containers.heif_write", "plan_heif"),
    "AVIF": ("engine.containers.heif_write", "plan_heif"),
}
TIFF_LIKE = {"TIFF", "DNG", "CR2", "NEF", "NRW", "ARW", "SR2", "PEF", "ORF", "RW2", "RAW", "ERF",
             "SRW", "3FR", "DCR", "K25", "KDC", "MOS", "IIQ", "RWL"}


def file_type_of(fmt_name: str, path: str) -> str:
    """The real file type (ExifTool's FileType) of ``path``, read as container ``fmt_name``."""
    import mmap

    from engine.registry import file_type, formats

    fmt = next((f for f in formats() if f.name == fmt_name), None)
    if fmt is None:
        return fmt_name
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return file_type(fmt, data)
    except (OSError, ValueError):
        return fmt_name


def planner_for(fmt_name: str, path: str, kind: str | None = None):
    """The plan function for a file read as container ``fmt_name`` whose real type is
    ``kind`` (sniffed from the file when not given); refuses what metafs does not write."""
    kind = kind or file_type_of(fmt_name, path)
    if kind in READ_ONLY_TYPES:
        raise UnsupportedFormatError(f"writing {READ_ONLY_TYPES[kind]} files is not supported; "
                                     "the file was left as it is", path=path)
    if fmt_name in PLANNERS:
        planner = PLANNERS[fmt_name]
        if isinstance(planner, tuple):
            module, function = planner
            planner = import_attr(module, function)
        return _checked(fmt_name, planner)
    if fmt_name in TIFF_LIKE:
        from engine.containers.tiff_write import plan_tiff

        return _checked(fmt_name, plan_tiff)
    raise UnsupportedFormatError(f"writing {fmt_name} files is not supported yet; the file was "
                                 "left as it is", path=path)


def _checked(fmt_name: str, planner):
    """``planner`` run after the pre-write damage check (engine.write.damage): a file damaged
    where the write would touch it is refused before any plan is made."""

    def plan(data, edits, path: str):
        from engine.write.damage import check_damage

        check_damage(fmt_name, data, edits, path)
        return planner(data, edits, path)

    plan.__wrapped__ = planner  # type: ignore[attr-defined]
    return plan
