"""Which writer plans the rewrite of a file, by its container and real file type.

A plan is a list of pieces for ``safety.safe_rewrite``: literal bytes, or ``(offset, length)``
ranges of the original (image data is always a range: copied by the kernel, never decoded).
Each container names its writer (``FileFormat.writer``) and the real types it refuses
(``FileFormat.read_only``): this module only asks it.
"""

from __future__ import annotations

from engine.errors import UnsupportedFormatError


def file_type_of(fmt_name: str, path: str) -> str:
    """The real file type (ExifTool's FileType) of ``path``, read as container ``fmt_name``."""
    import mmap

    from engine.registry import file_type, format_named

    fmt = format_named(fmt_name)
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
    from engine.registry import format_named

    kind = kind or file_type_of(fmt_name, path)
    fmt = format_named(fmt_name)
    if fmt is not None and kind in fmt.read_only:
        raise UnsupportedFormatError(f"writing {fmt.read_only[kind]} files is not supported; "
                                     "the file was left as it is", path=path)
    if fmt is None or fmt.writer is None:
        raise UnsupportedFormatError(f"writing {fmt_name} files is not supported yet; the "
                                     "file was left as it is", path=path)
    return _checked(fmt, fmt.planner())


def _checked(fmt, planner):
    """``planner`` run after the pre-write damage check (engine.write.damage): a file damaged
    where the write would touch it is refused before any plan is made."""

    def plan(data, edits, path: str):
        from engine.write.damage import check_damage

        check_damage(fmt, data, edits, path)
        return planner(data, edits, path)

    plan.__wrapped__ = planner  # type: ignore[attr-defined]
    return plan
