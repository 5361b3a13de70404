"""The names metafs gives what it writes beside a photo: the backup tree and temporary files.

Light on purpose (no import beyond ``os``): the daemon and the CLI ask for these names
(``engine.BACKUP_DIR``, ``engine.backup_path``, ``engine.is_temp_name``) without loading the
writing code.
"""

from __future__ import annotations

import os

BACKUP_DIR = ".originals"
TMP_SUFFIX = ".tmp"


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and ".metafs-" in name and name.endswith(TMP_SUFFIX)


def random_tag() -> str:
    """8 random hex digits for a temporary name (os.urandom: ``secrets`` costs an import
    of hashlib/hmac for the same bytes)."""
    return os.urandom(4).hex()


def temp_name(name: str) -> str:
    """The hidden name of a temporary file that will become ``name`` (same folder)."""
    return f".{name}.metafs-{random_tag()}{TMP_SUFFIX}"


def temp_prefix(name: str) -> str:
    """What the temporary names of ``name`` start with (stale ones are removed by it)."""
    return f".{name}.metafs-"


def backup_path_for(path: str, backups: str | os.PathLike[str] | None = None) -> str:
    """Where the original of ``path`` is (or will be) kept.

    ``backups`` is the root of an ``.originals`` tree; the tree mirrors the paths below the
    folder that holds it.  Default: ``.originals`` beside the file.
    """
    path = os.path.abspath(path)
    if backups is None:
        return os.path.join(os.path.dirname(path), BACKUP_DIR, os.path.basename(path))
    root = os.path.abspath(backups)
    rel = os.path.relpath(path, os.path.dirname(root))
    if rel.startswith(".." + os.sep) or rel == "..":
        rel = os.path.basename(path)
    return os.path.join(root, rel)
