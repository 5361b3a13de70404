"""Build the new EXIF (TIFF) block or the patch of a TIFF file from EXIF edits."""

from __future__ import annotations

from engine.errors import TagError, WriteError
from engine.exif_encode import encode
from engine.tiff.ifd import TiffStructure, parse_tiff
from engine.tiff.patch import IfdEdit, NewEntry, TiffPatch, plan_patch

EMPTY_TIFF = b"II*\0\x08\0\0\0" + b"\0\0" + b"\0\0\0\0"


def ifd_edits(
    structure: TiffStructure, exif: list[tuple[str, str, str | None]], path: str
) -> dict[str, IfdEdit]:
    edits: dict[str, IfdEdit] = {}
    names = {ifd.name for ifd in structure.ifds}
    for ifd, name, text in exif:
        if ifd == "IFD1" and "IFD1" not in names:
            raise WriteError("this file has no IFD1 (thumbnail IFD) to write to", path=path,
                             tag=f"ifd1/{name}")
        ed = edits.setdefault(ifd, IfdEdit())
        if text is None:
            from engine.exif_encode import lookup

            ed.drop.add(lookup(name).tag)
            continue
        try:
            pairs = encode(name, text, structure.byte_order)
        except TagError as e:
            raise type(e)(e.reason, path=path, tag=e.tag) from None
        for _n, entry in pairs:
            ed.put[entry.tag] = entry
    return edits


def extra_entries(structure: TiffStructure, ifd: str, entries: list[NewEntry],
                  edits: dict[str, IfdEdit]) -> None:
    ed = edits.setdefault(ifd, IfdEdit())
    for e in entries:
        ed.put[e.tag] = e


def patch_block(block: bytes | None, exif: list[tuple[str, str, str | None]], path: str,
                extra: dict[int, NewEntry] | None = None) -> bytes:
    """The new EXIF block (for containers that hold EXIF as one block: JPEG, PNG, WebP)."""
    data = bytes(block) if block is not None else EMPTY_TIFF
    structure = parse_tiff(data, path=path)
    edits = ifd_edits(structure, exif, path)
    if extra:
        edits.setdefault("IFD0", IfdEdit()).put.update(extra)
    return plan_patch(data, structure, edits).apply(data)


def patch_file(data, structure: TiffStructure, exif: list[tuple[str, str, str | None]],
               path: str, extra: dict[int, NewEntry] | None = None) -> TiffPatch:
    edits = ifd_edits(structure, exif, path)
    if extra:
        edits.setdefault("IFD0", IfdEdit()).put.update(extra)
    return plan_patch(data, structure, edits)
