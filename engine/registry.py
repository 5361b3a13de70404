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
