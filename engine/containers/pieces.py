"""Rewrite plans shared by the writers: a plan is a list of pieces for
``engine.safewrite.safety.safe_rewrite``, literal bytes or ``(offset, length)`` ranges of the
original file (copied by the kernel, never read into memory)."""

from __future__ import annotations

from engine.errors import CorruptFileError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.safewrite.safety import Piece


def coalesce(pieces: list[Piece]) -> list[Piece]:
    """Merge adjacent ranges and adjacent literals (fewer, larger copies); drop empty ranges."""
    out: list[Piece] = []
    for p in pieces:
        last = out[-1] if out else None
        if isinstance(p, tuple) and isinstance(last, tuple) and last[0] + last[1] == p[0]:
            out[-1] = (last[0], last[1] + p[1])
        elif isinstance(p, bytes) and isinstance(last, bytes):
            out[-1] = last + p
        elif not isinstance(p, tuple) or p[1] > 0:
            out.append(p)
    return out


def piece_len(p: Piece) -> int:
    """How many bytes a piece puts in the new file."""
    return p[1] if isinstance(p, tuple) else len(p)


def source_bytes(source, start: int, length: int, what: str) -> bytes:
    """The bytes a lazy part of a parse stands for (image data is not copied when a file is
    parsed: chunks, boxes keep where their body is); ``what`` names it in the error."""
    if source is None:
        raise CorruptFileError(f"{what} rendered without its source")
    return bytes(source[start : start + length])


class LazyChunk:
    """A parsed chunk with an 8-byte header whose body may be left in the file (``data`` is
    None: image data is not copied when a file is parsed).  Needs ``data``, ``offset`` (of
    the header), ``length`` (of the body) and ``label()`` (names it in errors)."""

    __slots__ = ()

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    def body(self, source=None) -> bytes:
        if self.data is not None:
            return self.data
        return source_bytes(source, self.data_offset, self.length, self.label())
