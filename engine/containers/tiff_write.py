"""TIFF and TIFF-based RAW: patch the file in place (by plan), never move image data.

Edited IFDs and values that do not fit their old slots go to the end of the file; strips,
tiles, maker notes, previews and private RAW data keep their offsets, so no pointer into them
(absolute like Canon's, header-relative like Nikon's, or one we do not know) can break.  The
plan is a list of ranges of the original (copied by the kernel) and a few new bytes, so a 50 MB
RAW is never held in memory.

Where the metadata live is decided here:
- XMP in IFD0 tag 700, IPTC in tag 33723 (or in the Photoshop resources of tag 34377 when only
  those hold it), with the Photoshop IPTCDigest kept current when it was.
- Panasonic RW2/RWL/RAW (magic 0x55): IFD0 is a raw-settings table and the EXIF ExifTool
  reads as IFD0/ExifIFD/GPS lives in the JPEG embedded as JpgFromRaw (tag 0x2e), rewritten by
  the JPEG writer; the raw data runs to the end of the file and moves after the new data, its
  pointers following it (engine.containers.rw2_write).

Trailers after the TIFF data (AFCP, PhotoMechanic, Samsung...: found from the end of the file,
as ExifTool does) stay last: the new data goes where they started and they follow it, their
absolute offsets shifted (tiff_trailers; TiffFormat.invariants checks they read as before).

Refused: BigTIFF, MRW (TIFF inside another container), and truncated files (image data or a
value running past the end): new data is appended at the end, where it would become part of
whatever runs past it.
"""

from __future__ import annotations

import struct

from engine.errors import WriteError
from engine.exif.block import patch_file
from engine.exif.ifd import Entry, TiffStructure, parse_tiff
from engine.exif.patch import NewEntry, TiffPatch
from engine.exif.types import IMAGE_PAIRS, TYPE_SIZES, UINT_TYPES, unsigned_ints
from engine.safewrite.safety import Piece
from engine.write.changes import Edits

XMP_TAG, IPTC_TAG, PHOTOSHOP_TAG = 700, 33723, 34377
RW2_MAGIC = 0x55


def plan_tiff(data, edits: Edits, path: str, located=None) -> list[Piece]:
    """The patch plan (``located``, TiffFormat.locate's, is the whole file: not needed)."""
    from engine.containers.tiff import TiffFormat, file_type

    kind = file_type(data)
    structure = parse_tiff(data, path=path) if kind not in TiffFormat.read_only else None
    if structure is None or structure.bigtiff:  # (read only: refused by planner_for too)
        name = TiffFormat.read_only[kind if structure is None else "BTF"]
        raise WriteError(f"writing {name} files is not supported; the file was left as it "
                         "is", path=path)
    ifd0 = structure.get("IFD0")
    if ifd0 is None:
        raise WriteError("the TIFF has no readable IFD0; refusing to write", path=path)
    if structure.magic == RW2_MAGIC:
        from engine.containers.rw2_write import plan_rw2

        return plan_rw2(data, structure, edits, path)
    old = {e.tag: e for e in ifd0.entries}
    check_complete(data, structure, path)
    extra = metadata_entries(old, edits, structure.byte_order, path)
    found = tiff_trailers(data, structure, path)
    end = found[-1].start if found else len(data)
    patch = patch_file(data, structure, edits.exif, path, extra, end=end)
    check_image_data_kept(structure, patch, end, path)
    plan = patch_to_plan(patch, end)
    if found:
        from engine.containers.trailers_write import moved_trailers

        plan += moved_trailers(data, found, patch.new_size - end, path)
    return plan


def tiff_trailers(data, structure: TiffStructure, path: str) -> list:
    """The trailers after the TIFF data (AFCP, PhotoMechanic...: engine.containers.trailers),
    last first.  Readers find them from the end of the file, so a write that appends puts its
    new data where they start and moves them after it, their absolute offsets shifted (as
    ExifTool does: "Adjusted AFCP offsets").  A trailer that the TIFF structure points into
    is not one: such a write is refused."""
    from engine.containers.trailers import find_trailers
    from engine.exif.scrub import protected
    from engine.exif.types import ifd_size

    found, _ = find_trailers(data, 0)
    if not found:
        return []
    spans = protected(data, structure) + [
        (ifd.offset, ifd.offset + ifd_size(len(ifd.entries))) for ifd in structure.ifds]
    spans += [(e.value_offset, e.value_offset + e.size) for ifd in structure.ifds
              for e in ifd.entries if e.value_offset is not None]
    last = max(z for a, z in spans if z > a)
    if last > found[-1].start:
        kinds = ", ".join(t.kind for t in reversed(found))
        raise WriteError(f"the file ends with what reads as a {kinds} trailer at offset "
                         f"{found[-1].start}, but the TIFF data reaches offset {last}; "
                         "refusing to move it; nothing was written", path=path,
                         offset=found[-1].start)
    return found


# ---- XMP, IPTC, Photoshop ------------------------------------------------------------------

def metadata_entries(old: dict[int, Entry], edits: Edits, bo: str,
                     path: str) -> dict[int, NewEntry]:
    """The IFD0 entries that hold the edited XMP and IPTC (and Photoshop) blocks."""
    extra: dict[int, NewEntry] = {}
    if edits.xmp:
        _xmp_entry(old.get(XMP_TAG), edits, extra, path)
    if edits.iptc:
        _iptc_entries(old, edits, bo, extra, path)
    return extra


def _xmp_entry(e: Entry | None, edits: Edits, extra: dict[int, NewEntry], path: str) -> None:
    from engine.xmp.edit import edit_packet

    old = e.raw if e is not None and e.raw else None
    packet = edit_packet(old, edits.xmp)
    if e is not None and e.raw and e.value_offset is not None:
        packet = fit_packet(packet, e.size)
    t = e.type if e is not None and e.type in (1, 7) else 1
    extra[XMP_TAG] = NewEntry(XMP_TAG, t, len(packet), packet)


def fit_packet(packet: bytes, size: int) -> bytes:
    """Resize the packet's padding so it fills exactly ``size`` bytes when it can: the packet
    then stays in its old slot with its old count, and nothing else in the file changes."""
    end = packet.rfind(b"<?xpacket end")
    if end < 0:
        return packet
    body = packet[:end].rstrip(b" \n")
    room = size - len(body) - (len(packet) - end) - 1
    if room < 0:
        return packet
    lines = (b" " * 99 + b"\n") * (room // 100)
    pad = lines + b" " * (room - len(lines))
    return body + b"\n" + pad + packet[end:]


def _iptc_entries(old: dict[int, Entry], edits: Edits, bo: str, extra: dict[int, NewEntry],
                  path: str) -> None:
    """The IIM goes in tag 33723; the copy in the Photoshop resources (tag 34377) follows it
    when it said the same, and their IPTCDigest when it was current.  A damaged resource
    block is left as it is (and not relied on): engine.iptc.photoshop.replace_iptc."""
    from engine.iptc.photoshop import find_iptc, irb_damage, replace_iptc
    from engine.write.changes import iptc_iim

    e, ps = old.get(IPTC_TAG), old.get(PHOTOSHOP_TAG)
    irb = ps.raw if ps is not None and ps.raw and irb_damage(ps.raw) is None else None
    in_irb = find_iptc(irb) if irb is not None else None
    old_iim = e.raw if e is not None and e.raw else in_irb
    iim = iptc_iim(old_iim if old_iim else None, edits, path)
    if e is not None or in_irb is None:
        extra[IPTC_TAG] = _blob_entry(IPTC_TAG, e, iim, bo)
        iim = extra[IPTC_TAG].raw  # as stored (LONG padding included): what the digest covers
    if irb is None:
        return

    def follow(copy: bytes | None) -> bytes | None:  # the copy says the same thing
        return iim if copy is not None and (e is None or copy == old_iim) else None

    new, changed = replace_iptc(irb, follow, path, "{why}", digest=(old_iim, iim))
    if changed:
        extra[PHOTOSHOP_TAG] = _blob_entry(PHOTOSHOP_TAG, ps, new, bo)


def _blob_entry(tag: int, e: Entry | None, blob: bytes, bo: str) -> NewEntry:
    """An undefined-bytes value in the type the file used (BYTE, UNDEFINED, or LONGs)."""
    t = e.type if e is not None else 7
    if t == 4:
        blob += bytes(-len(blob) % 4)
        return NewEntry(tag, 4, len(blob) // 4, blob)
    return NewEntry(tag, t if t in (1, 7) else 7, len(blob), blob)


# ---- image data: never touched ---------------------------------------------------------------

def _ints(e: Entry, bo: str) -> list[int]:
    return unsigned_ints(e.raw, e.type, bo, UINT_TYPES)


def image_layout(structure: TiffStructure) -> list[tuple[str, int, tuple[tuple[int, int], ...]]]:
    """(IFD name, offsets tag, ((offset, length), ...)) of every strip/tile/JPEG image: two
    files with the same layout and the same bytes at those ranges have the same image data."""
    out = []
    for ifd in structure.ifds:
        by_tag = {e.tag: e for e in ifd.entries}
        for otag, ctag in IMAGE_PAIRS:
            if otag in by_tag and ctag in by_tag:
                offs = _ints(by_tag[otag], structure.byte_order)
                lens = _ints(by_tag[ctag], structure.byte_order)
                out.append((ifd.name, otag, tuple(zip(offs, lens, strict=False))))
    return out


def check_complete(data, structure: TiffStructure, path: str, layout: list | None = None) -> None:
    """Refuse a truncated file: anything that runs past the end would take in what we append.
    ``layout``: the image data, when not ``image_layout``'s (RW2 raw data)."""
    size, bo = len(data), structure.byte_order
    for ifd in structure.ifds:
        for e in ifd.entries:
            if e.value_offset is None:
                continue
            count = struct.unpack_from(bo + "I", data, e.entry_offset + 4)[0]  # as stored
            if e.value_offset + count * TYPE_SIZES.get(e.type, 1) > size:
                raise WriteError(f"the file is truncated or damaged: {ifd.name} tag "
                                 f"0x{e.tag:04x} has a value at offset {e.value_offset} that "
                                 f"runs past the end ({size} bytes); refusing to write",
                                 path=path, offset=e.entry_offset)
    from engine.exif.block import dangling_floor

    floor = dangling_floor(data, structure)
    if floor is not None:
        raise WriteError(f"the file is truncated or damaged: {floor.why}; refusing to write",
                         path=path, offset=floor.at)
    # The header and the directories are what a patch rewrites in place: image data said to
    # lie there is a damaged pointer (the patch would write over "image data")
    tables = [("the TIFF header", 0, 8)] + [
        (f"the {ifd.name} directory", ifd.offset, ifd.offset + 2 + 12 * len(ifd.entries) + 4)
        for ifd in structure.ifds]
    for name, tag, ranges in image_layout(structure) if layout is None else layout:
        for off, length in ranges:
            if off + length > size:
                raise WriteError(f"the file is truncated: image data of {name} (tag "
                                 f"0x{tag:04x}) at offset {off} runs past the end ({size} "
                                 "bytes); refusing to write", path=path, offset=off)
            hit = next((t for t, a, z in tables if length and off < z and a < off + length),
                       None)
            if hit is not None:
                raise WriteError(f"the file is damaged: image data of {name} (tag 0x{tag:04x}) "
                                 f"at offset {off} ({length} bytes) overlaps {hit}; refusing "
                                 "to write", path=path, offset=off)


def check_image_data_kept(structure: TiffStructure, patch: TiffPatch, size: int,
                          path: str, layout: list | None = None) -> None:
    """Refuse a patch that would write over (or cut off) any byte of image data."""
    rows = image_layout(structure) if layout is None else layout
    spans = sorted((o, min(o + n, size)) for _i, _t, rs in rows for o, n in rs if n and o < size)
    if spans and max(z for _a, z in spans) > patch.keep:
        raise WriteError("internal error: the rewrite would cut image data; nothing was "
                         "written", path=path)
    for off, b in patch.overwrites:
        end = off + len(b)
        for a, z in spans:
            if a < end and off < z:
                raise WriteError(f"internal error: the rewrite would change image data at "
                                 f"offset {a}; nothing was written", path=path, offset=off)


def patch_to_plan(patch: TiffPatch, size: int) -> list[Piece]:
    plan: list[Piece] = []
    pos = 0
    keep = min(patch.keep, size)
    for off, b in sorted(patch.overwrites):
        if off < pos:
            raise WriteError("internal error: overlapping patches; nothing was written")
        if off > pos:
            plan.append((pos, off - pos))
        plan.append(b)
        pos = off + len(b)
    if keep > pos:
        plan.append((pos, keep - pos))
    if patch.keep > size:
        plan.append(bytes(patch.keep - size))
    if patch.tail:
        plan.append(patch.tail)
    return plan
