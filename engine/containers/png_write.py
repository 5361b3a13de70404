"""PNG writer: the rewrite plan for EXIF, XMP and IPTC edits.

Every chunk we do not change is copied from the original as a byte range (so IDAT/fdAT image
data is never read, decoded or held in memory), in its original order and with its original
CRC.  Changed metadata chunks are rebuilt in place with a fresh CRC:

- EXIF: the ``eXIf`` chunk (keeping an improper ``Exif\\0\\0`` prefix if the file has one), or
  an ImageMagick ``Raw profile type exif|APP1`` text chunk, re-encoded in the same chunk type
  and hex form; a new ``eXIf`` chunk goes before the first IDAT.
- XMP: the ``iTXt`` ``XML:com.adobe.xmp`` chunk (same compression), or a ``Raw profile type
  xmp|APP1`` text chunk; a new uncompressed ``iTXt`` goes before the first IDAT.
- IPTC: only an existing ``Raw profile type iptc|8bim`` chunk (IIM or Photoshop IRB) is edited;
  IPTC is not standard in PNG, so none is created.

The EXIF block itself is always patched by ``exif_block.patch_block``.  The rules on which chunk
holds what follow the reader (``engine.containers.png``), so the edited chunk is the one read back.
"""

from __future__ import annotations

from engine.containers import png as P
from engine.containers.base import Layout, Slot
from engine.containers.pieces import coalesce
from engine.errors import WriteError
from engine.exif.block import patch_block
from engine.safewrite.safety import Piece
from engine.write.changes import Edits
from engine.write.damage import hinted

# New chunks go before the first of these (APNG: before the first frame's fcTL, too).
_IMAGE_START = (b"IDAT", b"fcTL", b"fdAT")


_BAD_CRC = "PNG: bad CRC in chunk "


def _ancillary_crc(warning: str) -> bool:
    """A bad CRC in an ancillary chunk (type starting lower case): the chunk is kept as it
    is, byte for byte, and the reader's warning stays (ExifTool writes such files too)."""
    return warning.startswith(_BAD_CRC) and warning[len(_BAD_CRC) : len(_BAD_CRC) + 1].islower()


def _check_layout(layout: P.PngLayout, path: str) -> None:
    serious = [w for w in layout.warnings if not _ancillary_crc(w)]
    if serious:
        raise WriteError(f"the PNG is damaged ({serious[0]}); refusing to write", path=path)
    types = [c.type for c in layout.chunks]
    if not types or types[0] != b"IHDR" or b"IDAT" not in types or types[-1] != b"IEND":
        raise WriteError("the PNG does not have the IHDR ... IDAT ... IEND chunk layout; "
                         "refusing to write", path=path)


def _rebuild(chunk: P.Chunk, place: Slot, new_block: bytes) -> P.Chunk:
    """The chunk ``place`` lives in, holding ``new_block`` instead (same type and encoding)."""
    payload = place.header + new_block
    if chunk.type == b"eXIf":
        return P.make_chunk(b"eXIf", payload)
    t = P.parse_text(chunk)
    assert t is not None  # a slot of PngFormat.locate
    if place.where[1]:  # a raw profile, hex-encoded
        ptype = P.profile_type(t.text) or "generic"
        t.text = P.encode_profile(ptype, payload)
    else:
        t.text = payload
    return P.render_text(t, chunk.type)


def _one(places: list[Slot], what: str, chunks: list[P.Chunk], path: str) -> Slot | None:
    if len(places) > 1:
        where = ", ".join(str(chunks[p.where[0]].offset) for p in places)
        raise WriteError(f"the PNG holds {what} in {len(places)} chunks (offsets {where}); "
                         "refusing to write one and leave the others different", path=path)
    if places and places[0].problem:
        raise WriteError(f"{places[0].problem}; refusing to write", path=path)
    return places[0] if places else None


def plan_png(data, edits: Edits, path: str, located: Layout | None = None) -> list[Piece]:
    located = located or P.PngFormat.locate(data, path)
    layout = located.parsed
    _check_layout(layout, path)
    chunks: list[P.Chunk] = list(layout.chunks)
    exif = _one(located.of("exif"), "EXIF", chunks, path) if edits.exif else None
    xmp = _one(located.of("xmp"), "XMP", chunks, path) if edits.xmp else None
    iptc = _one(located.of("iptc"), "IPTC", chunks, path) if edits.iptc else None
    if edits.iptc and iptc is None:
        raise WriteError("IPTC is not standard in PNG and this file has none to edit; use the "
                         "XMP equivalents; nothing was written", path=path)
    for place, what in ((exif, "EXIF"), (xmp, "XMP"), (iptc, "IPTC")):
        c = chunks[place.where[0]] if place is not None else None
        if c is not None and not c.crc_ok():  # its bytes may be damaged: never rebuild on them
            raise WriteError(f"the PNG {c.type.decode('latin-1')} chunk at offset {c.offset} "
                             f"that holds the {what} has a bad CRC; refusing to rewrite it",
                             path=path, offset=c.offset)
    new_chunks: list[P.Chunk] = []  # inserted before the image data, in this order
    if edits.xmp:
        from engine.xmp.edit import edit_tree, serialise

        # No padding: a PNG is always rewritten whole, and a CRC guards the chunk anyway.
        packet = serialise(edit_tree(xmp.data if xmp else None, edits.xmp), pad=0)
        if xmp is None:
            new_chunks.append(P.render_text(P.TextChunk(P.XMP_KEYWORD, packet, False)))
        else:
            chunks[xmp.where[0]] = _rebuild(chunks[xmp.where[0]], xmp, packet)
    if edits.exif:
        block = hinted(data, path, patch_block, exif.data if exif else None, edits.exif, path)
        if exif is None:
            new_chunks.append(P.make_chunk(b"eXIf", block))
        else:
            chunks[exif.where[0]] = _rebuild(chunks[exif.where[0]], exif, block)
    if iptc is not None:
        at = iptc.where[0]
        chunks[at] = _rebuild(chunks[at], iptc, _edit_iptc(iptc, edits, path))
    if new_chunks:
        at = next(i for i, c in enumerate(chunks) if c.type in _IMAGE_START)
        chunks[at:at] = new_chunks
    return render_plan(chunks, layout.tail_offset, len(data))


def _edit_iptc(place: Slot, edits: Edits, path: str) -> bytes:
    """The new profile data: IIM edited directly, or inside its Photoshop resource block."""
    from engine.iptc.edit import edit_iim
    from engine.iptc.photoshop import replace_iptc

    if place.where[1] == "iptc" and place.data.startswith(b"\x1c"):
        return edit_iim(place.data, edits.iptc, path=path, fit=edits.iptc_fit)
    irb, _changed = replace_iptc(
        place.data, lambda old: edit_iim(old, edits.iptc, path=path, fit=edits.iptc_fit),
        path, "the Photoshop resources in the PNG are damaged ({why}); refusing to rewrite "
              "them")
    return irb


def render_plan(chunks: list[P.Chunk], tail_offset: int, size: int) -> list[Piece]:
    """Signature, chunks (originals as ranges of the file, new ones as bytes), then the tail."""
    pieces: list[Piece] = [(0, len(P.SIGNATURE))]
    for c in chunks:
        pieces.append((c.offset, 12 + c.length) if c.offset >= 0 else c.render())
    pieces.append((tail_offset, size - tail_offset))
    return coalesce(pieces)
