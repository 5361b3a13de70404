"""The base class every container format implements (mutagen's ``FileType`` shape).

A container is one class, listed once in ``engine.registry``.  It says:

- ``score(head)``: how sure it is that a file starting with ``head`` is its kind (sniffing the
  content, never the name); ``file_type(data)``: ExifTool's FileType (DNG, HEIC, RAF...).
- ``locate(data, path)``: a ``Layout``, the container's own parse plus one ``Slot`` per place a
  metadata block lives (group, bytes, file offset, the header kept in front of it, the
  container's handle on it, why it cannot be rewritten).  Readers and writers both start from
  it, so they agree on where the blocks are.
- ``extract(data, path)``: the ``Blocks`` the reader decodes (pure, tolerant).
- ``plan(data, layout, edits, path)``: the rewrite plan (its writer module, imported at the
  first write of a file of this kind); ``read_only``: the real file types it reads but
  refuses to write; ``writable_groups``/``why_not_writable``: the groups it can hold.
- ``invariants(data)`` / ``unchanged(original, data)``: what the write validation compares
  between the original and the rewritten file besides the metadata (image data, items,
  strip layout, trailers).

Adding a container: one module with a subclass of ``FileFormat`` (and a writer module named
by ``writer``), plus one line in ``engine.registry._FORMATS``.
"""

from __future__ import annotations

from engine.model import Blocks
from engine.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (2 ms of a CLI start)
if TYPE_CHECKING:
    from typing import ClassVar

GROUPS = frozenset({"exif", "xmp", "iptc"})


class Slot(Record):
    """Where one metadata block lives in a file."""

    __slots__ = ("group", "data", "offset", "header", "where", "problem")
    group: str  # "exif", "xmp", "xmp_extended", "iptc"
    data: bytes | None  # the block (after ``header``); None when it cannot be read
    offset: int  # file offset of the block's first byte (where the reader says it is)
    header: bytes  # bytes kept in front of the block when it is rewritten (Exif\0\0...)
    where: object  # the container's handle: segment, chunk or box index, item id...
    problem: str  # why this place cannot be rewritten ("": it can)

    def __init__(self, group: str, data: bytes | None, offset: int = -1, header: bytes = b"",
                 where: object = None, problem: str = "") -> None:
        self.group = group
        self.data = data
        self.offset = offset
        self.header = header
        self.where = where
        self.problem = problem


class Layout(Record):
    """A container's parse of one file and the metadata slots in it."""

    __slots__ = ("parsed", "slots", "warnings")
    parsed: object  # the container's own structure (segments, chunks, boxes...)
    slots: list[Slot]
    warnings: list[str]  # what the reader reports (without the file name)

    def __init__(self, parsed: object, slots: list[Slot] | None = None,
                 warnings: list[str] | None = None) -> None:
        self.parsed = parsed
        self.slots = [] if slots is None else slots
        self.warnings = [] if warnings is None else warnings

    def of(self, group: str) -> list[Slot]:
        """The slots holding ``group``, in file order."""
        return [s for s in self.slots if s.group == group]

    def first(self, group: str) -> Slot | None:
        """The first readable slot of ``group`` (the one a reader decodes)."""
        return next((s for s in self.slots if s.group == group and s.data is not None), None)


class FileFormat:
    name: ClassVar[str] = "?"  # the container, as ExifTool's FileType: JPEG, TIFF, PNG...
    # real file types (``file_type``) read through this container but never written
    read_only: ClassVar[dict[str, str]] = {}
    # (module, function) of the plan function ``function(data, edits, path, located=None)``
    # (``located``: this class's ``locate`` of ``data``, when the caller has it)
    writer: ClassVar[object] = None
    # groups a file of this kind cannot hold, and why (IPTC in WebP, HEIF...)
    not_writable: ClassVar[dict[str, str]] = {}
    # groups a file holds already that can be edited though none can be created (PNG IPTC)
    kept_if_present: ClassVar[frozenset[str]] = frozenset()
    # the largest XMP packet the writer takes as edited in place by engine.xmp.quick (the
    # linear edit of synchronised copies, no XML parser); 0: this container has no such path
    xmp_in_place: ClassVar[int] = 0

    @staticmethod
    def score(head: bytes) -> int:
        """How sure we are that a file starting with ``head`` (>= 64 bytes if the file has
        them) is this format: 0 = not at all, 100 = certainly (no other format is then
        tried); the highest score wins, the first of equal ones."""
        return 0

    @classmethod
    def file_type(cls, data) -> str:
        """ExifTool's FileType for content read as this container."""
        return cls.name

    @classmethod
    def locate(cls, data, path: str) -> Layout:
        """The container's parse of ``data`` and where its metadata blocks are."""
        raise NotImplementedError

    @classmethod
    def extract(cls, data, path: str) -> Blocks:
        """The metadata blocks of the whole file content ``data`` (tolerant: warnings, and
        ``CorruptFileError`` only when nothing sensible can be read)."""
        return cls.blocks(cls.locate(data, path), path)

    @classmethod
    def blocks(cls, layout: Layout, path: str) -> Blocks:
        """The ``Blocks`` a reader decodes: the first readable slot of each group."""
        b = Blocks(warnings=[f"{path}: {w}" for w in layout.warnings])
        exif = layout.first("exif")
        if exif is not None:
            b.exif, b.exif_offset = exif.data, exif.offset
        for group in ("xmp", "xmp_extended", "iptc"):
            slot = layout.first(group)
            if slot is not None:
                setattr(b, group, slot.data)
        return b

    # --- writing ------------------------------------------------------------------------

    @classmethod
    def planner(cls):
        """The plan function ``(data, edits, path) -> pieces`` of this container's writer."""
        writer = cls.writer
        if isinstance(writer, tuple):
            module, function = writer
            return getattr(__import__(module, fromlist=[function]), function)
        return writer

    @classmethod
    def plan(cls, data, layout: Layout | None, edits, path: str) -> list:
        """The rewrite plan of ``data`` for ``edits`` (``layout``: its ``locate``, when the
        caller has it; the writer locates the blocks itself otherwise)."""
        return cls.planner()(data, edits, path, located=layout)

    @classmethod
    def check_damage(cls, data, edits, path: str) -> None:
        """Refuse (WriteError) a file damaged where ``edits`` would write, before any plan
        (engine.write.damage).  The default: the EXIF block the reader finds, if rewritten."""
        from engine.write.damage import check_contained_exif

        check_contained_exif(cls, data, edits, path)

    @classmethod
    def writable_groups(cls, has: frozenset[str] = frozenset()) -> frozenset[str]:
        """The groups a write to a file of this kind can hold; ``has``: groups it holds."""
        return frozenset(g for g in GROUPS if g not in cls.not_writable
                         or (g in has and g in cls.kept_if_present))

    @classmethod
    def why_not_writable(cls, group: str) -> str:
        return cls.not_writable.get(group, f"{cls.name} files cannot hold {group}")

    # --- validation ---------------------------------------------------------------------

    @classmethod
    def invariants(cls, data) -> dict[str, object]:
        """What a rewrite must leave equal besides the metadata, by the message that says
        it changed ("image items changed"...)."""
        return {}

    @classmethod
    def unchanged(cls, original, data) -> str | None:
        """Why the rewritten ``data`` does not keep what ``original`` must keep (None: it
        does).  The default compares ``invariants``."""
        old = cls.invariants(original)
        if not old:
            return None
        new = cls.invariants(data)
        return next((why for why, value in old.items() if new.get(why) != value), None)
