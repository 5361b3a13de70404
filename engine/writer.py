"""Public write API (signatures fixed; implementation lands with the JPEG writer).

``changes`` maps tag paths (as the reader prints them) to value text (the reader's printed
form or a raw/numeric form; list tags one item per line) or ``None`` to delete the tag.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class WriteResult:
    path: str
    backup: str | None  # where the original is kept (None when no backup was asked for)
    written: dict[str, str | None] = field(default_factory=dict)  # tag path -> new text
    unchanged: bool = False  # nothing needed writing; the file was not touched


@dataclass(frozen=True, slots=True)
class TagSpec:
    path: str
    writable: bool
    is_list: bool  # list tags take one item per line; ">>" appends an item
    kind: str  # "string", "int", "rational", "date", "enum", "lang-alt", "binary"...


def write_metadata(
    path: str | os.PathLike[str],
    changes: Mapping[str, str | None],
    *,
    backup: bool = True,
    backups: str | os.PathLike[str] | None = None,
    sync_related: bool = True,
) -> WriteResult:
    """Apply ``changes`` through the safe-write pipeline.  ``backups`` is the root of the
    ``.originals`` tree (default: ``.originals`` beside the file)."""
    raise NotImplementedError


def restore(path: str | os.PathLike[str], *, backups: str | os.PathLike[str] | None = None) -> str:
    """Put the backed-up original back in place; returns the backup path used."""
    raise NotImplementedError


def tag_spec(tag_path: str) -> TagSpec:
    """What kind of tag ``tag_path`` is; raises UnknownTagError for names nobody knows."""
    raise NotImplementedError


def check_value(tag_path: str, text: str) -> None:
    """Raise TagValueError/ReadOnlyTagError/UnknownTagError when ``text`` cannot be written."""
    raise NotImplementedError
