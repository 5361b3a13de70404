"""The engine functions the daemon uses, behind one object so tests can give the daemon a
fake engine (``tests/support/fake_engine.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import engine
from engine import Metadata


@dataclass(frozen=True)
class EngineFacade:
    """The engine functions the daemon uses (the real ``engine`` by default)."""

    read_metadata: Callable[[str], Metadata]
    write_metadata: Callable[..., Any]
    tag_spec: Callable[[str], Any]
    check_value: Callable[[str, str], None]
    can_read: Callable[[str], bool]
    # read_metadata(path, parts=...) for the read-only parts, and a binary tag's bytes
    # (metafs.extraparts); without them those folders are empty and binary tags show text
    read_parts: Callable[..., Metadata] | None = None
    tag_bytes: Callable[[str, str], bytes | None] | None = None


def real_engine() -> EngineFacade:
    load_engine()
    return EngineFacade(engine.read_metadata, engine.write_metadata, engine.tag_spec,
                        engine.check_value, sniff_image, engine.read_metadata,
                        engine.tag_bytes)


def load_engine() -> None:
    """Import every engine module now.  The engine imports some modules only when first
    needed (the write planners at the first commit); a daemon that runs for days would
    then combine the code it started with and whatever is installed by then (an upgrade,
    or a working tree being edited): a commit failed with "'Edits' object has no attribute
    'iptc_fit'" that way.  One version of the code, loaded at mount, for the whole mount."""
    import importlib
    import pkgutil

    for mod in pkgutil.walk_packages(engine.__path__, "engine."):
        importlib.import_module(mod.name)


def sniff_image(path: str) -> bool:
    """Whether the engine knows this content (a 64-byte look, no parsing)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return bool(engine.can_read(head))
