"""One error hierarchy for the engine.

Every error the engine raises on purpose is an ``EngineError``.  Messages name the file, the
structure and the offset (or the tag) so a user can tell what was wrong and what to do.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        offset: int | None = None,
        tag: str | None = None,
    ) -> None:
        self.path = path
        self.offset = offset
        self.tag = tag
        self.reason = message
        parts = []
        if path is not None:
            parts.append(str(path))
        if tag is not None:
            parts.append(f"tag {tag}")
        if offset is not None:
            parts.append(f"offset {offset}")
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnsupportedFormatError(EngineError):
    """The content is not an image format the engine knows."""


class CorruptFileError(EngineError):
    """A structure in the file is broken beyond what tolerant reading can skip."""


class TagError(EngineError):
    """A problem with a tag named by the caller."""


class UnknownTagError(TagError, LookupError):
    """The tag path names no tag the engine knows."""


class ReadOnlyTagError(TagError):
    """The tag exists but cannot be written (binary, derived or unsafe)."""


class TagValueError(TagError, ValueError):
    """The value text does not fit the tag's type."""


class WriteError(EngineError):
    """Writing failed; the original file is untouched."""


class FileChangedError(WriteError):
    """Another program changed the file while it was being rewritten; nothing was written
    (write_metadata plans again from the new file a few times before it gives up)."""


class ValidationError(WriteError):
    """The rewritten file did not read back as intended; it was discarded."""


class NoBackupError(EngineError):
    """There is no backup to restore from."""
