"""The tag model shared by every format.

A *tag path* is the name a tag has in the mounted filesystem and in the CLI:

- EXIF IFD0/ExifIFD/GPS/InteropIFD: the bare ExifTool name (``Make``, ``GPSLatitude``);
  unknown tags ``Exif_0x9999`` (ExifTool's ``-u`` naming).
- IFD1 (thumbnail IFD): ``ifd1/<Name>``; other IFDs ``subifd/<Name>``, ``subifd1/<Name>``,
  ``ifd2/<Name>``...
- XMP: ``xmp/<prefix>:<property>``; structure fields as sub-paths
  (``xmp/xmpMM:History[1]/stEvt:action``,
  ``xmp/Iptc4xmpCore:CreatorContactInfo/Iptc4xmpCore:CiAdrCity``).
- IPTC: ``iptc/<ExifTool name>`` (``iptc/Keywords``).
- Maker notes: ``MakerNote`` (read-only, binary).
"""

from __future__ import annotations

from engine.record import FrozenRecord, Record

Value = str | list[str]
_set = object.__setattr__


class TagValue(FrozenRecord):
    """One tag as the reader shows it."""

    __slots__ = ("path", "group", "name", "value", "writable", "binary_size")
    path: str
    group: str  # ExifTool family-1 group: IFD0, ExifIFD, GPS, InteropIFD, IFD1, XMP-dc, IPTC...
    name: str  # ExifTool tag name (the key of ``exiftool -j -G1``)
    value: Value  # printed value; a list for list tags (one item per element)
    writable: bool
    binary_size: int | None  # set for binary values; value is then "(Binary data N bytes)"

    def __init__(self, path: str, group: str, name: str, value: Value, writable: bool = True,
                 binary_size: int | None = None) -> None:
        # one object per tag read: set directly (FrozenRecord._init is twice as slow)
        _set(self, "path", path)
        _set(self, "group", group)
        _set(self, "name", name)
        _set(self, "value", value)
        _set(self, "writable", writable)
        _set(self, "binary_size", binary_size)

    @property
    def is_binary(self) -> bool:
        return self.binary_size is not None

    def replace(self, **changes: object) -> TagValue:
        """A copy with some fields changed (as ``dataclasses.replace``)."""
        fields = {k: getattr(self, k) for k in self.__slots__}
        fields.update(changes)
        return TagValue(**fields)  # type: ignore[arg-type]


def binary_text(size: int) -> str:
    return f"(Binary data {size} bytes)"


class Blocks(Record):
    """Metadata blocks a container holds, as raw bytes (pure data, no file handles)."""

    __slots__ = ("exif", "exif_offset", "xmp", "xmp_extended", "iptc", "warnings",
                 "offset_base", "extra_exif")
    exif: bytes | memoryview | None  # starts with a TIFF header; whole file for TIFF
    exif_offset: int  # where ``exif`` starts in the file (for messages)
    xmp: bytes | None  # main XMP packet
    xmp_extended: bytes | None  # reassembled and checked Extended XMP, if any
    iptc: bytes | None  # IIM records (already taken out of the Photoshop block)
    warnings: list[str]
    # What ExifTool adds to offsets it prints (ThumbnailOffset...): the TIFF header's file
    # position for JPEG/TIFF/HEIF, 0 for PNG, the chunk data start for WebP.  None: exif_offset.
    offset_base: int | None
    # More TIFF blocks whose first IFD is not IFD0: (data, file offset, IFD name) (CR3)
    extra_exif: list[tuple[bytes, int, str]]

    def __init__(self, exif: bytes | memoryview | None = None, exif_offset: int = 0,
                 xmp: bytes | None = None, xmp_extended: bytes | None = None,
                 iptc: bytes | None = None, warnings: list[str] | None = None,
                 offset_base: int | None = None,
                 extra_exif: list[tuple[bytes, int, str]] | None = None) -> None:
        self._init(exif, exif_offset, xmp, xmp_extended, iptc,
                   [] if warnings is None else warnings, offset_base,
                   [] if extra_exif is None else extra_exif)


class Metadata(Record):
    """Everything the reader found in one file."""

    __slots__ = ("path", "format", "tags", "warnings", "file_type")
    path: str
    format: str  # the container: JPEG, TIFF, PNG, WEBP, HEIF
    tags: dict[str, TagValue]
    warnings: list[str]
    file_type: str  # ExifTool's FileType: JPEG, DNG, CR2, HEIC, CR3...

    def __init__(self, path: str, format: str, tags: dict[str, TagValue] | None = None,
                 warnings: list[str] | None = None, file_type: str = "") -> None:
        self._init(path, format, {} if tags is None else tags,
                   [] if warnings is None else warnings, file_type)

    def add(self, tag: TagValue) -> None:
        # First one wins, as in ExifTool without -a; a later duplicate is kept under a
        # numbered path so nothing is hidden.
        path = tag.path
        n = 1
        while path in self.tags:
            n += 1
            path = f"{tag.path}#{n}"
        if path != tag.path:
            tag = TagValue(path, tag.group, tag.name, tag.value, tag.writable, tag.binary_size)
        self.tags[path] = tag

    def __getitem__(self, path: str) -> Value:
        return self.tags[path].value

    def get(self, path: str, default: Value | None = None) -> Value | None:
        t = self.tags.get(path)
        return default if t is None else t.value

    def to_json(self, *, exiftool_keys: bool = False) -> dict[str, Value]:
        """An object like one element of ``exiftool -j``.

        With ``exiftool_keys`` the keys are ``Group:Name`` as ``exiftool -j -G1 -a`` prints
        them, and tags that share a key (flattened XMP structures) are merged into one list.
        """
        out: dict[str, Value] = {"SourceFile": self.path}
        for tag in self.tags.values():
            key = f"{tag.group}:{tag.name}" if exiftool_keys else tag.path
            if exiftool_keys and key in out and not tag.group.startswith("XMP"):
                continue  # ExifTool's JSON keeps the first of duplicate non-XMP tags
            if exiftool_keys and key in out:
                prev = out[key]
                prev_list = prev if isinstance(prev, list) else [prev]
                add = tag.value if isinstance(tag.value, list) else [tag.value]
                out[key] = prev_list + add
            else:
                out[key] = tag.value
        return out
