"""Turn a user's change set (tag path -> text or None) into per-block edits.

Also the EXIF/XMP/IPTC coordination: a value that lives in several places is updated in the
copies that already exist, so no reader sees two different values.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import ReadOnlyTagError
from engine.exif_encode import MAIN_IFDS, lookup
from engine.model import Metadata
from engine.record import Record

Text = str | None

# Each line: the places one value lives (tag paths).  Order: EXIF, XMP, IPTC.
SYNC_GROUPS: tuple[tuple[str, ...], ...] = (
    ("DateTimeOriginal", "xmp/exif:DateTimeOriginal", "xmp/photoshop:DateCreated"),
    ("ImageDescription", "xmp/dc:description", "iptc/Caption-Abstract"),
    ("Artist", "xmp/dc:creator", "iptc/By-line"),
    ("Copyright", "xmp/dc:rights", "iptc/CopyrightNotice"),
    ("xmp/dc:subject", "iptc/Keywords"),
    ("xmp/dc:title", "iptc/ObjectName"),
)
# List-valued places: a scalar copy gets the items joined, as ExifTool's MWG module does.
LIST_PATHS = {"xmp/dc:creator", "xmp/dc:subject", "iptc/Keywords", "iptc/By-line"}


class Edits(Record):
    __slots__ = ("exif", "xmp", "iptc", "iptc_fit", "paths")
    exif: list[tuple[str, str, Text]]  # (ifd, name, text)
    xmp: dict[str, str | list[str] | None]  # 'dc:title' -> value
    iptc: dict[str, list[str] | None]  # 'Keywords' -> items
    # IPTC copies made by synchronisation: cut to the dataset's size limit (as ExifTool does)
    # rather than refusing a value the user gave for another tag.
    iptc_fit: set[str]
    paths: dict[str, Text]  # every tag path touched, final text

    def __init__(self, exif: list[tuple[str, str, Text]] | None = None,
                 xmp: dict[str, str | list[str] | None] | None = None,
                 iptc: dict[str, list[str] | None] | None = None,
                 iptc_fit: set[str] | None = None, paths: dict[str, Text] | None = None) -> None:
        self.exif = [] if exif is None else exif
        self.xmp = {} if xmp is None else xmp
        self.iptc = {} if iptc is None else iptc
        self.iptc_fit = set() if iptc_fit is None else iptc_fit
        self.paths = {} if paths is None else paths

    def __bool__(self) -> bool:
        return bool(self.exif or self.xmp or self.iptc)


def _items(text: str) -> list[str]:
    return text.split("\n") if text else [""]


def expand_sync(changes: Mapping[str, Text], md: Metadata) -> dict[str, Text]:
    """Add the existing synchronised copies of each changed value."""
    out = dict(changes)
    for path, text in changes.items():
        for group in SYNC_GROUPS:
            if path not in group:
                continue
            for other in group:
                if other == path or other in changes or other not in md.tags:
                    continue
                if text is None:
                    out[other] = None
                elif other in LIST_PATHS or path not in LIST_PATHS:
                    out[other] = text
                else:
                    out[other] = "; ".join(_items(text))
    return out


def split_changes(changes: Mapping[str, Text], md: Metadata,
                  synced: frozenset[str] = frozenset()) -> Edits:
    """Route each tag path to its block; unknown or read-only names are refused here.
    ``synced`` names the paths added by ``expand_sync`` (not asked for by the user)."""
    edits = Edits()
    edits.iptc_fit = {p[5:] for p in synced if p.startswith("iptc/")}
    for path, text in changes.items():
        edits.paths[path] = text
        if path.startswith("xmp/"):
            tag = path[4:]
            edits.xmp[tag] = None if text is None else _xmp_value(tag, text)
        elif path.startswith("iptc/"):
            edits.iptc[path[5:]] = None if text is None else _items(text)
        else:
            ifd, _, name = path.rpartition("/")
            if ifd:
                ifd_name = {"ifd1": "IFD1"}.get(ifd)
                if ifd_name is None:
                    raise ReadOnlyTagError("only IFD0, ExifIFD, GPS, InteropIFD and IFD1 tags "
                                           "can be written", tag=path)
            else:
                existing = md.tags.get(path)
                if existing is not None and existing.group in MAIN_IFDS:
                    ifd_name = existing.group
                else:
                    ifd_name = lookup(name).group
            if existing_readonly(md, path):
                raise ReadOnlyTagError("this tag cannot be written", tag=path)
            lookup(name)  # unknown names fail here, with a clear message
            edits.exif.append((ifd_name, name, text))
    return edits


def existing_readonly(md: Metadata, path: str) -> bool:
    t = md.tags.get(path)
    return t is not None and (not t.writable or t.is_binary)


def _xmp_value(tag: str, text: str) -> str | list[str]:
    from engine.xmp_paths import resolve

    code = resolve(tag).code  # of a top-level property or of a structure field
    if len(code) > 1 and code[1] in "BQL":
        return [line for line in text.split("\n") if line != ""] or [""]
    return text


def iptc_iim(old: bytes | None, edits: Edits, path: str) -> bytes:
    """The new IIM block: ``old`` with the IPTC edits applied (shared by every container)."""
    from engine.iptc_edit import edit_iim

    return edit_iim(old, edits.iptc, path=path, fit=edits.iptc_fit)
