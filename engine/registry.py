"""The list of container formats; a file's format is picked by sniffing its content."""

from __future__ import annotations

from engine.containers.base import FileFormat
from engine.errors import UnsupportedFormatError

# module, class: each module defines one FileFormat subclass.
_FORMATS = [
    ("engine.containers.jpeg", "JpegFormat"),
    ("engine.containers.tiff", "TiffFormat"),
    ("engine.containers.png", "PngFormat"),
    ("engine.containers.webp", "WebpFormat"),
    ("engine.containers.heif", "HeifFormat"),
]

# File types read through another container's reader that metafs does not write (the real
# type comes from the format's ``file_type`` sniffing of the content).
READ_ONLY_TYPES = {
    "RAF": "Fujifilm RAF", "MRW": "Minolta MRW", "CR3": "Canon CR3", "EXV": "Exiv2 EXV",
    "BTF": "BigTIFF", "X3F": "Sigma X3F",
}

# Containers whose writers cannot hold every metadata group, and why (the writers in
# engine/write/ refuse such edits; callers ask ``writable_groups`` before offering them).
# IPTC is not standard in PNG: only an IPTC chunk the file has already is edited.
_NO_IPTC = {
    "PNG": "IPTC is not standard in PNG and this file has none to edit; use the XMP "
           "equivalents",
    "WEBP": "WebP has no place for IPTC; use the XMP equivalents",
    "HEIF": "HEIF has no place for IPTC; use the XMP equivalents",
}
_IPTC_KEPT = frozenset({"PNG"})  # an IPTC block the file has is edited in place


def writable_groups(fmt_name: str, has_iptc: bool = False) -> frozenset[str]:
    """The metadata groups ("exif", "xmp", "iptc") a write to a file of container
    ``fmt_name`` can hold; ``has_iptc``: the file has an IPTC block already."""
    if fmt_name not in _NO_IPTC or (has_iptc and fmt_name in _IPTC_KEPT):
        return frozenset({"exif", "xmp", "iptc"})
    return frozenset({"exif", "xmp"})


def why_not_writable(fmt_name: str, group: str) -> str:
    """Why ``group`` is not in ``writable_groups(fmt_name)``."""
    if group == "iptc" and fmt_name in _NO_IPTC:
        return _NO_IPTC[fmt_name]
    return f"{fmt_name} files cannot hold {group}"


_loaded: list[type[FileFormat]] | None = None
MAX_SCORE = 100  # FileFormat.score's "certainly this format"


def import_attr(module: str, name: str):
    """``name`` from ``module``, imported now (``__import__``: importlib costs an import of
    its own, and of warnings, at every CLI start)."""
    return getattr(__import__(module, fromlist=[name]), name)


def formats() -> list[type[FileFormat]]:
    global _loaded
    if _loaded is None:
        found = []
        for mod, cls in _FORMATS:
            try:
                found.append(import_attr(mod, cls))
            except (ImportError, AttributeError):  # a format not built yet
                continue
        _loaded = found
    return _loaded


def _each_format():
    """The formats in ``_FORMATS`` order, each imported when first asked for."""
    if _loaded is not None:
        yield from _loaded
        return
    for mod, cls in _FORMATS:
        try:
            yield import_attr(mod, cls)
        except (ImportError, AttributeError):  # a format not built yet
            continue


def sniff(head: bytes, path: str = "?") -> type[FileFormat]:
    best, best_score = None, 0
    for fmt in _each_format():
        s = fmt.score(head)
        if s > best_score:
            best, best_score = fmt, s
        if s >= MAX_SCORE:  # no later format can beat it (ties go to the first): a JPEG
            break  # write need not import the PNG, WebP, HEIF and TIFF readers
    if best is None:
        raise UnsupportedFormatError(
            "not an image format metafs can read (JPEG, TIFF/RAW, PNG, WebP, HEIF)", path=path
        )
    return best


def can_read(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a container metafs reads."""
    return any(fmt.score(head) > 0 for fmt in _each_format())


def file_type(fmt: type[FileFormat], data) -> str:
    """ExifTool's FileType for content read as ``fmt`` (HEIC, CR3, DNG...)."""
    sniff = getattr(fmt, "file_type", None)
    if sniff is None:
        return fmt.name
    try:
        return sniff(data)
    except (ValueError, IndexError):
        return fmt.name
