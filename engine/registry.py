"""The list of container formats; a file's format is picked by sniffing its content.

Each container is one ``FileFormat`` subclass (engine.containers.base) in its own module,
listed here once and imported when first needed (a JPEG write imports no other format).
"""

from __future__ import annotations

from engine.containers.base import FileFormat
from engine.errors import UnsupportedFormatError

# (module, class), tried in this order (ties of ``score`` go to the first)
_FORMATS = [
    ("engine.containers.jpeg", "JpegFormat"),
    ("engine.containers.tiff", "TiffFormat"),
    ("engine.containers.png", "PngFormat"),
    ("engine.containers.webp", "WebpFormat"),
    ("engine.containers.heif", "HeifFormat"),
    ("engine.containers.exv", "ExvFormat"),
    ("engine.containers.mrw", "MrwFormat"),
    ("engine.containers.raf", "RafFormat"),
]
# Raw file types no container here reads, refused by name all the same
_NOT_READ = {"X3F": "Sigma X3F"}

_loaded: list[type[FileFormat]] | None = None
MAX_SCORE = 100  # FileFormat.score's "certainly this format"


def import_attr(module: str, name: str):
    """``name`` from ``module``, imported now (``__import__``: importlib costs an import of
    its own, and of warnings, at every CLI start).  A broken module fails loudly."""
    return getattr(__import__(module, fromlist=[name]), name)


def formats() -> list[type[FileFormat]]:
    """Every container, all imported."""
    global _loaded
    if _loaded is None:
        _loaded = [import_attr(mod, cls) for mod, cls in _FORMATS]
    return _loaded


def _each_format():
    """The formats in ``_FORMATS`` order, each imported when first asked for."""
    if _loaded is not None:
        yield from _loaded
        return
    for mod, cls in _FORMATS:
        yield import_attr(mod, cls)


def format_named(name: str) -> type[FileFormat] | None:
    """The container called ``name`` (a ``Metadata.format``), imported if need be."""
    for mod, cls in _FORMATS:
        fmt = import_attr(mod, cls)
        if fmt.name == name:
            return fmt
    return None


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
    try:
        return fmt.file_type(data)
    except (ValueError, IndexError):
        return fmt.name


def read_only_types() -> dict[str, str]:
    """Real file type -> its name, for every type metafs reads (or knows) but never writes."""
    out = {}
    for fmt in formats():
        out.update(fmt.read_only)
    out.update(_NOT_READ)
    return out


def __getattr__(name: str):
    if name == "READ_ONLY_TYPES":  # every container's ``read_only`` (imports them all)
        return read_only_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def writable_groups(fmt_name: str, has_iptc: bool = False) -> frozenset[str]:
    """The metadata groups ("exif", "xmp", "iptc") a write to a file of container
    ``fmt_name`` can hold; ``has_iptc``: the file has an IPTC block already."""
    fmt = format_named(fmt_name)
    if fmt is None:
        return frozenset({"exif", "xmp", "iptc"})
    return fmt.writable_groups(frozenset({"iptc"}) if has_iptc else frozenset())


def why_not_writable(fmt_name: str, group: str) -> str:
    """Why ``group`` is not in ``writable_groups(fmt_name)``."""
    fmt = format_named(fmt_name)
    if fmt is None:
        return f"{fmt_name} files cannot hold {group}"
    return fmt.why_not_writable(group)
