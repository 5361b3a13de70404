"""Panasonic RW2/RWL/RAW (TIFF magic 0x55, ``IIU\\0``): the EXIF ExifTool writes, and the raw
data that runs to the end of the file.

Facts (ExifTool's PanasonicRaw.pm and WriteExif.pl):
- IFD0 is a table of raw settings (PanasonicRaw::Main); the full EXIF (IFD0, ExifIFD, GPS,
  IFD1, maker notes) lives in the JPEG embedded as JpgFromRaw (tag 0x2e), which ExifTool reads
  as the main EXIF and rewrites as a JPEG of its own (APP1 only: no XMP, no IPTC added to it).
  Many files also hold an ExifIFD of their own in IFD0 (tag 0x8769): an ExifIFD or GPS tag is
  written in both places, as are Make, Model and Orientation, which both IFD0s know.  Other
  IFD0 tags (Artist...) go to the embedded JPEG only; XMP and IPTC to the RW2's IFD0.  A
  JpgFromRaw without an APP1 Exif segment gets one, after SOI/APP0 (ExifTool: "Creating
  APP1"); without a JpgFromRaw, those IFD0 tags have no place and are refused.
- The raw data starts at RawDataOffset (0x118) or, without it, at StripOffsets (0x111), and
  runs to the end of the file: StripByteCounts may be an uncompressed size or 0, and
  StripOffsets may be 0xffffffff ("PanasonicHack").  ExifTool refuses a file with both
  RawDataOffset and a real StripOffsets/StripByteCounts pair ("Unsupported Panasonic/Leica
  RAW variant").

So the raw data is written like a TIFF trailer: new metadata goes where it started (after
whatever the edit frees before it), and it follows, copied as one range by the kernel, its
pointers (RawDataOffset, and StripOffsets unless 0xffffffff) moved by the same amount.  The
embedded JPEG is rebuilt by the JPEG writer (its scan data and every other segment byte for
byte) and becomes the new value of tag 0x2e, in place when it fits, else before the raw data.
"""

from __future__ import annotations

import struct

from engine.errors import WriteError
from engine.exif.ifd import Entry, TiffStructure
from engine.exif.patch import NewEntry
from engine.exif.types import UINT_TYPES, unsigned_ints
from engine.safewrite.safety import Piece
from engine.write.changes import Edits

JPG_FROM_RAW, STRIP_OFFSETS, STRIP_COUNTS, RAW_DATA_OFFSET = 0x2E, 0x111, 0x117, 0x118
NO_STRIPS = 0xFFFFFFFF  # StripOffsets of models that give RawDataOffset instead
# IFD0 tags of PanasonicRaw::Main that are also EXIF IFD0 tags: written in both IFD0s
BOTH_IFD0 = frozenset({0x010F, 0x0110, 0x0112})
SUB_IFDS = ("ExifIFD", "GPS", "InteropIFD")  # written in both places, created where missing


def _value(e: Entry | None, bo: str) -> int | None:
    if e is None or e.count != 1:
        return None
    vals = unsigned_ints(e.raw, e.type, bo, UINT_TYPES)
    return vals[0] if vals else None


def raw_pointers(structure: TiffStructure) -> tuple[int | None, list[Entry]] | None:
    """Where the raw data starts and the entries that point there, by the rules of ExifTool's
    PatchRawDataOffset; ``(None, [])``: no raw data pointer at all; None: a variant it does
    not write (both RawDataOffset and a real strip, or a pointer that is not one number)."""
    ifd0 = structure.get("IFD0")
    by = {e.tag: e for e in ifd0.entries} if ifd0 is not None else {}
    bo = structure.byte_order
    raw, strips, counts = (by.get(t) for t in (RAW_DATA_OFFSET, STRIP_OFFSETS, STRIP_COUNTS))
    start, strip = _value(raw, bo), _value(strips, bo)
    if (raw is not None and start is None) or (strips is not None and strip is None):
        return None
    if raw is None:
        return (None, []) if strips is None else (strip, [strips])
    if strips is None or strip == NO_STRIPS:
        return start, [raw]
    if _value(counts, bo) == 0:  # a real StripOffsets goes along with RawDataOffset
        return start, [raw, strips]
    return None


def rw2_raw_start(data, structure: TiffStructure, path: str) -> tuple[int, list[Entry]]:
    """The raw data's start (the end of the file when nothing points at raw data) and its
    pointers; refused when they cannot be told or point past the end."""
    found = raw_pointers(structure)
    if found is None:
        raise WriteError("unsupported Panasonic/Leica RAW variant (the raw data's start cannot "
                         "be told from RawDataOffset and StripOffsets); nothing was written",
                         path=path)
    start, pointers = found
    if start is None:
        return len(data), []
    if not 8 <= start <= len(data):
        raise WriteError(f"the file is truncated or damaged: its raw data starts at offset "
                         f"{start}, past the end ({len(data)} bytes); refusing to write",
                         path=path, offset=start)
    return start, pointers


def route(structure: TiffStructure, exif: list, has_jpeg: bool, path: str) -> tuple[list, list]:
    """(edits for the embedded JPEG's EXIF, edits for the RW2's own IFDs), as ExifTool writes
    a tag into every directory of its group that can hold it."""
    from engine.exif.encode import lookup

    jpeg, own = [], []
    for edit in exif:
        ifd, name, _text = edit
        mine = ifd in SUB_IFDS or (ifd == "IFD0" and lookup(name).tag in BOTH_IFD0)
        if not has_jpeg and not mine:
            raise WriteError(f"this {ifd} tag of a Panasonic RAW file belongs in its embedded "
                             "JPEG (JpgFromRaw), and the file has no such JPEG; nothing "
                             "was written", path=path, tag=name)
        if has_jpeg:
            jpeg.append(edit)
        if mine:
            own.append(edit)
    return jpeg, own


def embedded_jpeg(entry: Entry | None) -> bytes | None:
    """The JpgFromRaw's bytes when they are a JPEG.  One without an APP1 Exif segment gets
    one from the JPEG writer (after SOI/APP0), as ExifTool creates it."""
    from engine.containers.jpeg import is_jpeg

    if entry is None or entry.value_offset is None or not entry.raw:
        return None
    jpeg = bytes(entry.raw)
    return jpeg if is_jpeg(jpeg) else None


def rewrite_jpeg(jpeg: bytes, exif: list, path: str) -> bytes:
    """The embedded JPEG with ``exif`` applied, by the JPEG writer (and its damage check)."""
    from engine.containers.jpeg import JpegFormat
    from engine.containers.jpeg_write import plan_jpeg
    from engine.write.damage import check_damage

    sub = Edits(exif=exif)
    try:
        check_damage(JpegFormat, jpeg, sub, path)
        pieces = plan_jpeg(jpeg, sub, path)
    except WriteError as e:
        raise WriteError(f"in the embedded JPEG (JpgFromRaw): {e.reason}", path=path,
                         offset=e.offset, tag=e.tag) from None
    return b"".join(p if isinstance(p, bytes) else jpeg[p[0] : p[0] + p[1]] for p in pieces)


def _pointer_entries(pointers: list[Entry], to: int, bo: str) -> dict[int, NewEntry]:
    """The raw-data pointers set to ``to`` (LONG when a SHORT no longer holds it)."""
    out = {}
    for e in pointers:
        short = e.type == 3 and to <= 0xFFFF
        out[e.tag] = NewEntry(e.tag, 3 if short else 4, 1,
                              struct.pack(bo + ("H" if short else "I"), to))
    return out


def plan_rw2(data, structure: TiffStructure, edits: Edits, path: str) -> list[Piece]:
    """The plan of a write to a Panasonic RW2/RWL/RAW file (see the module's docstring)."""
    from engine.containers.tiff_write import (
        check_complete,
        check_image_data_kept,
        metadata_entries,
        patch_to_plan,
    )
    from engine.exif.block import patch_file

    start, pointers = rw2_raw_start(data, structure, path)
    ifd0 = structure.get("IFD0")
    old = {e.tag: e for e in ifd0.entries}
    layout = rw2_layout(structure, len(data))
    check_complete(data, structure, path, layout)
    _refuse_values_in_raw(structure, start, path)
    extra = metadata_entries(old, edits, structure.byte_order, path)
    own = edits.exif
    if edits.exif:
        jpeg = embedded_jpeg(old.get(JPG_FROM_RAW))
        to_jpeg, own = route(structure, edits.exif, jpeg is not None, path)
        if to_jpeg and jpeg is not None:
            new = rewrite_jpeg(jpeg, to_jpeg, path)
            e = old[JPG_FROM_RAW]
            extra[JPG_FROM_RAW] = NewEntry(JPG_FROM_RAW, e.type if e.type in (1, 7) else 7,
                                           len(new), new)
            edits.brought.add("JpgFromRaw")  # its size changes with it (validation)
    bo = structure.byte_order

    def patch(to: int):
        return patch_file(data, structure, own, path,
                          {**extra, **_pointer_entries(pointers, to, bo)}, end=start)

    first = patch(start)
    moved = patch(first.new_size) if first.new_size != start else first
    if moved.new_size != first.new_size:
        raise WriteError("internal error: the raw data's new place moved again; nothing was "
                         "written", path=path)
    check_image_data_kept(structure, moved, start, path, layout)
    plan = patch_to_plan(moved, start)
    plan.append((start, len(data) - start))
    return plan


def _refuse_values_in_raw(structure: TiffStructure, start: int, path: str) -> None:
    """Everything the IFDs hold must come before the raw data, which moves as one piece."""
    from engine.exif.types import ifd_size

    for ifd in structure.ifds:
        spans = [(ifd.offset, ifd_size(len(ifd.entries)))] + [
            (e.value_offset, e.size) for e in ifd.entries if e.value_offset is not None]
        for at, n in spans:
            if n and at + n > start:
                raise WriteError(f"{ifd.name} has data at offset {at} ({n} bytes), inside the "
                                 f"raw data that starts at offset {start}; refusing to move "
                                 "it; nothing was written", path=path, offset=at)


def rw2_layout(structure: TiffStructure, size: int) -> list:
    """image_layout with IFD0's strips (whose byte count may be anything) replaced by the raw
    data: from its start to the end of the file."""
    from engine.containers.tiff_write import image_layout

    out = [x for x in image_layout(structure) if not (x[0] == "IFD0" and x[1] == STRIP_OFFSETS)]
    start = (raw_pointers(structure) or (None, []))[0]
    if start is not None and start <= size:
        out.append(("IFD0", RAW_DATA_OFFSET, ((start, size - start),)))
    return out


def rw2_invariants(data, structure: TiffStructure) -> dict[str, object]:
    """What a write keeps: the other image pointers, the raw data (its length, a digest of
    its ends, where StripOffsets points relative to it) and the JpgFromRaw's image."""
    import hashlib

    from engine.containers.tiff_write import image_layout

    start, pointers = raw_pointers(structure) or (None, [])
    others = [x for x in image_layout(structure) if not (x[0] == "IFD0" and x[1] == STRIP_OFFSETS)]
    raw = None
    if start is not None and start <= len(data):
        ends = bytes(data[start : start + 65536]) + bytes(data[max(start, len(data) - 65536) :])
        bo = structure.byte_order
        rel = [(e.tag, _value(e, bo) - start) for e in pointers]
        raw = (len(data) - start, tuple(rel), hashlib.sha1(ends).hexdigest())
    return {"image data pointers changed": others, "the raw data changed": raw}


def jpeg_kept(original, data) -> str | None:
    """Why the JpgFromRaw of ``data`` does not keep the image of ``original``'s (None: it does)."""
    from engine.containers.trailers_write import image_kept
    from engine.exif.ifd import parse_tiff

    def jpeg(buf) -> bytes | None:
        ifd0 = parse_tiff(buf).get("IFD0")
        e = next((e for e in ifd0.entries if e.tag == JPG_FROM_RAW), None) if ifd0 else None
        return bytes(e.raw) if e is not None and e.raw else None

    old, new = jpeg(original), jpeg(data)
    if old is None or new is None:
        return None if old is new else "the embedded JPEG (JpgFromRaw) changed"
    why = image_kept(old, new)
    return None if why is None else f"the embedded JPEG (JpgFromRaw): {why}"
