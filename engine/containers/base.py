"""The small base class every container format implements (mutagen's model).

A format is picked by sniffing the first bytes of the file (``score``), never by its name.
``extract`` is a pure function of the file's bytes: tolerant, it collects what it can and
records warnings; it raises ``CorruptFileError`` only when nothing sensible can be read.
"""

from __future__ import annotations

from engine.model import Blocks

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (2 ms of a CLI start)
if TYPE_CHECKING:
    from typing import ClassVar


class FileFormat:
    name: ClassVar[str] = "?"  # as ExifTool's FileType: JPEG, TIFF, PNG, WEBP, HEIC...
    extensions: ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def score(head: bytes) -> int:
        """How sure we are that a file starting with ``head`` (>= 64 bytes if the file has
        them) is this format: 0 = not at all, 100 = certainly (no other format is then
        tried); the highest score wins, the first of equal ones."""
        return 0

    @classmethod
    def extract(cls, data: bytes | memoryview, path: str) -> Blocks:
        """Find the metadata blocks in the whole file content ``data``."""
        raise NotImplementedError
