"""One error hierarchy for the engine.

Every error the engine raises on purpose is an ``EngineError``.  Messages name the file, the
structure and the offset (or the tag) so a user can tell what was wrong and what to do.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose.

    The message is composed here, and only here, on one line: ``path: tag T: offset N:
    reason``, each part present when known.  ``reason`` is the caller's text (white space
    runs made single spaces when it holds a line break); the path and the tag are shown with
    their control characters escaped, so a file name holding a newline stays on one line.
    """

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None,
                 tag: str | None = None) -> None:
        self.path = path
        self.offset = offset
        self.tag = tag
        self.reason = _one_line(message)
        parts = []
        if path is not None:
            parts.append(_escaped(str(path)))
        if tag is not None:
            parts.append(f"tag {_escaped(tag)}")
        if offset is not None:
            parts.append(f"offset {offset}")
        parts.append(self.reason)
        super().__init__(": ".join(parts))

    def located(self, path: str) -> EngineError:
        """The same error (class, reason, offset, tag) naming ``path`` when it named no file;
        ``self`` when it did."""
        if self.path is not None:
            return self
        err = type(self).__new__(type(self))
        EngineError.__init__(err, self.reason, path=path, offset=self.offset, tag=self.tag)
        return err


def _one_line(text: str) -> str:
    """``text`` as it is, or with its white space runs made single spaces when it holds a
    line break (an OS or parser message quoted in it, say)."""
    return text if text.splitlines() == [text] else " ".join(text.split())


def _escaped(text: str) -> str:
    """``text`` with its unprintable characters (line breaks...) as Python escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
