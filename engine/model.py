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

from dataclasses import dataclass, field

Value = str | list[str]


@dataclass(frozen=True, slots=True)
class TagValue:
    """One tag as the reader shows it."""

    path: str
    group: str  # ExifTool family-1 group: IFD0, ExifIFD, GPS, InteropIFD, IFD1, XMP-dc, IPTC...
    name: str  # ExifTool tag name (the key of ``exiftool -j -G1``)
    value: Value  # printed value; a list for list tags (one item per element)
    writable: bool = True
    binary_size: int | None = None  # set for binary values; value is then "(Binary data N bytes)"

    @property
    def is_binary(self) -> bool:
        return self.binary_size is not None


def binary_text(size: int) -> str:
    return f"(Binary data {size} bytes)"


@dataclass(slots=True)
class Blocks:
    """Metadata blocks a container holds, as raw bytes (pure data, no file handles)."""

    exif: bytes | memoryview | None = None  # starts with a TIFF header; whole file for TIFF
    exif_offset: int = 0  # where ``exif`` starts in the file (for messages)
    xmp: bytes | None = None  # main XMP packet
    xmp_extended: bytes | None = None  # reassembled and checked Extended XMP, if any
    iptc: bytes | None = None  # IIM records (already taken out of the Photoshop block)
    warnings: list[str] = field(default_factory=list)
    # What ExifTool adds to offsets it prints (ThumbnailOffset...): the TIFF header's file
    # position for JPEG/TIFF/HEIF, 0 for PNG, the chunk data start for WebP.  None: exif_offset.
    offset_base: int | None = None
    # More TIFF blocks whose first IFD is not IFD0: (data, file offset, IFD name) (CR3)
    extra_exif: list[tuple[bytes, int, str]] = field(default_factory=list)


@dataclass(slots=True)
class Metadata:
    """Everything the reader found in one file."""

    path: str
    format: str  # the container: JPEG, TIFF, PNG, WEBP, HEIF
    tags: dict[str, TagValue] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    file_type: str = ""  # ExifTool's FileType: JPEG, DNG, CR2, HEIC, CR3...

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
