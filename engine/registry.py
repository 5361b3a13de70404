"""The list of container formats; a file's format is picked by sniffing its content."""

from __future__ import annotations

import importlib

from engine.errors import UnsupportedFormatError
from engine.formats.base import FileFormat

# module, class: each module defines one FileFormat subclass.
_FORMATS = [
    ("engine.formats.jpeg", "JpegFormat"),
    ("engine.formats.tiff", "TiffFormat"),
    ("engine.formats.png", "PngFormat"),
    ("engine.formats.webp", "WebpFormat"),
    ("engine.formats.heif", "HeifFormat"),
]

# File types read through another container's reader that metafs does not write (the real
# type comes from the format's ``file_type`` sniffing of the content).
READ_ONLY_TYPES = {
    "RAF": "Fujifilm RAF", "MRW": "Minolta MRW", "CR3": "Canon CR3", "EXV": "Exiv2 EXV",
    "BTF": "BigTIFF", "X3F": "Sigma X3F",
}

_loaded: list[type[FileFormat]] | None = None


def formats() -> list[type[FileFormat]]:
    global _loaded
    if _loaded is None:
        found = []
        for mod, cls in _FORMATS:
            try:
                found.append(getattr(importlib.import_module(mod), cls))
            except (ImportError, AttributeError):  # a format not built yet
                continue
        _loaded = found
    return _loaded


def sniff(head: bytes, path: str = "?") -> type[FileFormat]:
    best, best_score = None, 0
    for fmt in formats():
        s = fmt.score(head)
        if s > best_score:
            best, best_score = fmt, s
    if best is None:
        raise UnsupportedFormatError(
            "not an image format metafs can read (JPEG, TIFF/RAW, PNG, WebP, HEIF)", path=path
        )
    return best


def file_type(fmt: type[FileFormat], data) -> str:
    """ExifTool's FileType for content read as ``fmt`` (HEIC, CR3, DNG...)."""
    sniff = getattr(fmt, "file_type", None)
    if sniff is None:
        return fmt.name
    try:
        return sniff(data)
    except (ValueError, IndexError):
        return fmt.name
