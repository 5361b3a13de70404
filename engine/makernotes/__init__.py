"""Maker notes, read only, decoded as ExifTool decodes them (the "makernotes" read part).

``read_makernotes(data, blocks, md)`` (engine.reader.EXTRA_PARTS) finds the MakerNote value
(ExifIFD tag 0x927c) in the EXIF block(s), picks the maker's format from its first bytes and
the camera Make (engine.makernotes.headers, from ExifTool's MakerNotes.pm), and decodes its
IFD and sub-directories (engine.makernotes.decode) with the generated tables
(engine.makernotes.tables, scripts/gen_makernote_tags.py).  Tags get paths
``makernotes/<Name>`` and ExifTool's family-1 group (Canon, Nikon...).  Never raises on bad
data: warnings, and the other tags of the photo are unaffected.

ExifTool's family-0 group MakerNotes also holds data outside the MakerNote value, read here
too: Canon CIFF records in a JPEG's APP0 (ciff), Qualcomm camera attributes in APP7
(qualcomm), Minolta MRW blocks (mrw), Sony SR2 private IFDs of ARW files (sr2), Canon CR3
timed metadata (ctmd), Phase One IIQ directories (phaseone).  The FLIR thermal data of APP1
(group FLIR, family-0 APP1) is the separate part "flir" (engine.makernotes.flir).
"""

from __future__ import annotations

import struct

from engine.errors import EngineError
from engine.model import Blocks, Metadata, TagValue

MAKERNOTE_TAG, DNG_PRIVATE_TAG = 0x927C, 0xC634


def _text(entry) -> str:
    return entry.raw.split(b"\0", 1)[0].decode("latin-1").strip() if entry else ""


def _find(tiff, path: str, blocks: Blocks | None = None) -> tuple[object, str, str, str] | None:
    """(MakerNote entry, byte order, Make, Model) of a TIFF block, if it has a maker note
    (in ExifIFD, or in IFD0's DNGPrivateData for DNG files); ``blocks``: the read's blocks
    when ``tiff`` is their EXIF block (its parse, shared with the other parts)."""
    from engine.exif.ifd import parse_tiff
    from engine.groups.common import tiff_structure

    try:
        st = tiff_structure(blocks) if blocks is not None else parse_tiff(tiff, path=path)
    except EngineError:
        return None
    if st is None:
        return None
    found = make = model = private = None
    for ifd in st.ifds:
        for e in ifd.entries:
            if e.tag == MAKERNOTE_TAG and ifd.name == "ExifIFD" and found is None:
                found = e
            elif e.tag == 0x010F and ifd.name == "IFD0":
                make = e
            elif e.tag == 0x0110 and ifd.name == "IFD0":
                model = e
            elif e.tag == DNG_PRIVATE_TAG and ifd.name == "IFD0":
                private = e
    if found is None or not found.raw:
        found = private if private is not None and private.raw[:10] == b"Adobe\0MakN" else None
    if found is None:
        return None
    return found, st.byte_order, _text(make), _text(model)


def read_makernotes(data, blocks: Blocks, md: Metadata) -> tuple[list[TagValue], list[str]]:
    tags, warnings = _exif_note(data, blocks, md)
    state = {"Make": str(md.get("Make", "") or ""), "Model": str(md.get("Model", "") or "")}
    more: tuple[list[TagValue], list[str]] = ([], [])
    if md.format in ("JPEG", "EXV", "RAF"):  # Canon's CIFF (APP0), Qualcomm's (APP7)
        from engine.groups.common import jpeg_segments
        from engine.makernotes import ciff, qualcomm

        segments = jpeg_segments(data, blocks, md) or ()
        more = ciff.read(segments, md.path, state)
        more = (more[0] + qualcomm.read(segments), more[1])
    elif md.file_type == "MRW":  # Minolta's raw blocks before the TIFF one
        from engine.makernotes.mrw import decode_mrw

        more = decode_mrw(data, md.path, state)
    elif md.format == "TIFF" and state["Make"].upper().startswith("SONY") and \
            blocks.exif is not None:  # Sony raw files: the SR2 private IFDs
        from engine.makernotes.sr2 import read_sr2

        more = read_sr2(blocks, md.path, state)
    return tags + more[0], warnings + more[1]


def _exif_note(data, blocks: Blocks, md: Metadata) -> tuple[list[TagValue], list[str]]:
    make = str(md.get("Make", "") or "")
    model = str(md.get("Model", "") or "")
    if md.file_type == "CR3":  # the maker note IFD is a TIFF block of its own (CMT3)
        return _cr3(data, make, model, md.path)
    base = blocks.exif_offset if blocks.offset_base is None else blocks.offset_base
    tiffs = [(blocks.exif, base)] if blocks.exif is not None else []
    tiffs += [(d, off) for d, off, _first in blocks.extra_exif]
    for tiff, offset in tiffs + _embedded(blocks.exif, base, md.path):
        found = _find(tiff, md.path, blocks if tiff is blocks.exif else None)
        if found is not None:
            entry, bo, mk, mdl = found
            return decode_note(tiff, entry, bo, mk or make, mdl or model, md.path, offset,
                               len(data))
    return [], []


def _embedded(tiff, base: int, path: str) -> list:
    """The EXIF of a Panasonic RW2's embedded JPEG (IFD0 tag 0x2e), which holds its maker
    note."""
    if tiff is None or bytes(tiff[2:4]) not in (b"U\0", b"\0U"):
        return []
    from engine.exif.decode import find_jpeg_exif
    from engine.exif.ifd import parse_tiff

    try:
        st = parse_tiff(tiff, path=path)
    except EngineError:
        return []
    ifd0 = st.ifds[0] if st.ifds else None
    entry = next((e for e in ifd0.entries if e.tag == 0x2E and e.raw), None) if ifd0 else None
    found = find_jpeg_exif(entry.raw) if entry is not None else None
    if not found or entry is None:
        return []
    offset = base + (entry.value_offset or 0) + found[0]
    return [(entry.raw[found[0] : found[1]], offset)]


def _cr3(data, make: str, model: str, path: str) -> tuple[list[TagValue], list[str]]:
    from engine.containers.cr3 import cr3_tiff_blocks
    from engine.containers.isobmff import parse_boxes
    from engine.makernotes.ctmd import ctmd_sample, decode_ctmd
    from engine.makernotes.decode import Walker

    boxes = parse_boxes(data, path).boxes
    block = cr3_tiff_blocks(data, boxes).get("MakerNotes")
    if block is None or len(block[0]) < 8 or block[0][:2] not in (b"II", b"MM"):
        return [], []
    tiff = block[0]
    bo = "<" if tiff[:2] == b"II" else ">"
    walker = Walker(tiff, path)
    walker.state.update(Make=make, Model=model)
    walker.ifd("Canon::Main", struct.unpack_from(bo + "I", tiff, 4)[0], 0, bo)
    tags, warnings = walker.finish(), walker.warnings
    found = ctmd_sample(data, boxes)
    if found is not None:  # the timed metadata track: its first sample
        more = decode_ctmd(found[0], f"Track{found[1]}", path, {"Make": make, "Model": model})
        tags, warnings = tags + more[0], warnings + more[1]
    return tags, warnings


def decode_note(tiff, entry, exif_bo: str, make: str, model: str, path: str,
                file_offset: int = 0, file_size: int = 0) -> tuple[list[TagValue], list[str]]:
    """The tags of the maker note ``entry`` (an engine.exif.ifd.Entry of ``tiff``)."""
    from engine.makernotes.decode import Walker
    from engine.makernotes.headers import byte_order, find_rule, ifd_start
    from engine.makernotes.tables import TABLES

    note = entry.raw
    note_pos = entry.value_offset if entry.value_offset is not None else entry.entry_offset + 8
    shift = 0  # value offsets are off by this much (a maker note moved by a DNG converter)
    if note[:10] == b"Adobe\0MakN" and len(note) >= 24:
        # DNGPrivateData: size, byte order and offset of the original maker note, then it
        exif_bo = "<" if note[14:16] == b"II" else ">"
        shift = note_pos + 20 - struct.unpack_from(">I", note, 16)[0]
        note, note_pos = note[20:], note_pos + 20
    rule = find_rule(note, make, model)
    if rule is None:
        return [], []
    start = ifd_start(rule, note)
    walker = Walker(tiff, path)
    walker.state.update(Make=make, Model=model)
    walker.file_offset, walker.file_size = file_offset, file_size
    if start is None or start + 2 > len(note):
        walker.warn(f"{rule.name} maker note of {len(note)} bytes is too short")
        return [], walker.warnings
    bo = byte_order(rule, note, start, exif_bo)
    if rule.name == "Canon" and note[-8:-4] == (b"II*\0" if bo == "<" else b"MM\0*"):
        # Canon's footer: where the maker note was when its offsets were written
        old = struct.unpack_from(bo + "I", note, len(note) - 4)[0]
        shift = note_pos - old if old else shift
    base = shift if rule.base == "tiff" else note_pos + rule.base_delta
    if rule.name == "Nikon" and len(note) >= 18:  # its own TIFF header: the IFD offset in it
        start = 10 + struct.unpack_from(bo + "I", note, 14)[0]
    if TABLES.get(rule.table, ("", "ifd"))[1] != "ifd":  # no IFD: a binary table
        walker.subdir(rule.table, "inline", note[start:], note_pos + start, base, bo)
    else:
        walker.ifd(rule.table, note_pos + start, base, bo)
    return walker.finish(), walker.warnings
