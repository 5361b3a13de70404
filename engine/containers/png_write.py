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

from dataclasses import dataclass

from engine.containers import png as P
from engine.errors import WriteError
from engine.exif.block import patch_block
from engine.safewrite.safety import Piece
from engine.write.changes import Edits

EXIF_HEADER = b"Exif\0\0"
XMP_APP1_HEADER = b"http://ns.adobe.com/xap/1.0/\0"
_TIFF_MAGIC = (b"MM\0\x2a", b"II\x2a\0")
# New chunks go before the first of these (APNG: before the first frame's fcTL, too).
_IMAGE_START = (b"IDAT", b"fcTL", b"fdAT")


@dataclass(slots=True)
class Place:
    """Where one metadata block lives: chunk index, how it is stored, and its bytes."""

    index: int
    profile: str  # "" for an eXIf / XMP text chunk, else the raw profile's keyword ("exif")
    header: bytes  # kept in front of the block (an improper Exif\0\0, the APP1 XMP header)
    block: bytes
    problem: str = ""  # why this place cannot be rewritten (refused only if it is needed)


def coalesce(pieces: list[Piece]) -> list[Piece]:
    """Merge adjacent ranges and adjacent literals (fewer, larger copies)."""
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


def _places(chunks: list[P.Chunk]) -> dict[str, list[Place]]:
    """Every chunk that holds EXIF, XMP or IPTC, classified as the reader does."""
    found: dict[str, list[Place]] = {"exif": [], "xmp": [], "iptc": []}
    for i, c in enumerate(chunks):
        if c.type == b"zxIf":
            found["exif"].append(Place(i, "", b"", b"", f"the EXIF is in a compressed zxIf "
                                       f"chunk at offset {c.offset}; writing it is not supported"))
        if c.type == b"eXIf":
            d = c.body()
            head = EXIF_HEADER if d.startswith(EXIF_HEADER) else b""
            bad = d[len(head) : len(head) + 4] not in _TIFF_MAGIC
            found["exif"].append(Place(i, "", head, d[len(head) :], f"the eXIf chunk at offset "
                                       f"{c.offset} holds no TIFF block" if bad else ""))
            continue
        if c.type not in P.TEXT_TYPES:
            continue
        t = P.parse_text(c)
        if t is None:
            continue
        if t.keyword == P.XMP_KEYWORD:
            found["xmp"].append(Place(i, "", b"", t.text))
        elif t.keyword.startswith(b"Raw profile type "):
            _profile_place(i, c, t, found)
    return found


def _profile_place(i: int, c: P.Chunk, t: P.TextChunk, found: dict[str, list[Place]]) -> None:
    kw = t.keyword[17:].decode("latin-1")
    if kw not in ("exif", "APP1", "xmp", "iptc", "8bim"):
        return
    prof = P.decode_profile(t.text)
    if prof is None:  # the reader skips it too; it only matters if nothing else holds the block
        return
    blob = prof[0]
    if kw in ("exif", "APP1"):
        if blob.startswith(EXIF_HEADER) and blob[6:10] in _TIFF_MAGIC:
            found["exif"].append(Place(i, kw, EXIF_HEADER, blob[6:]))
        elif blob[:4] in _TIFF_MAGIC:
            found["exif"].append(Place(i, kw, b"", blob))
        elif blob.startswith(XMP_APP1_HEADER):
            found["xmp"].append(Place(i, kw, XMP_APP1_HEADER, blob[len(XMP_APP1_HEADER) :]))
    elif kw == "xmp":
        found["xmp"].append(Place(i, kw, b"", blob))
    else:
        found["iptc"].append(Place(i, kw, b"", blob))


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


def _rebuild(chunk: P.Chunk, place: Place, new_block: bytes) -> P.Chunk:
    """The chunk ``place`` lives in, holding ``new_block`` instead (same type and encoding)."""
    payload = place.header + new_block
    if chunk.type == b"eXIf":
        return P.make_chunk(b"eXIf", payload)
    t = P.parse_text(chunk)
    assert t is not None  # classified by _places
    if place.profile:
        ptype = P.profile_type(t.text) or "generic"
        t.text = P.encode_profile(ptype, payload)
    else:
        t.text = payload
    return P.render_text(t, chunk.type)


def _one(places: list[Place], what: str, chunks: list[P.Chunk], path: str) -> Place | None:
    if len(places) > 1:
        where = ", ".join(str(chunks[p.index].offset) for p in places)
        raise WriteError(f"the PNG holds {what} in {len(places)} chunks (offsets {where}); "
                         "refusing to write one and leave the others different", path=path)
    if places and places[0].problem:
        raise WriteError(f"{places[0].problem}; refusing to write", path=path)
    return places[0] if places else None


def plan_png(data, edits: Edits, path: str) -> list[Piece]:
    layout = P.parse_png(data, path, lazy=P.LAZY_TYPES)
    _check_layout(layout, path)
    chunks: list[P.Chunk] = list(layout.chunks)
    found = _places(chunks)
    exif = _one(found["exif"], "EXIF", chunks, path) if edits.exif else None
    xmp = _one(found["xmp"], "XMP", chunks, path) if edits.xmp else None
    iptc = _one(found["iptc"], "IPTC", chunks, path) if edits.iptc else None
    if edits.iptc and iptc is None:
        raise WriteError("IPTC is not standard in PNG and this file has none to edit; use the "
                         "XMP equivalents; nothing was written", path=path)
    for place, what in ((exif, "EXIF"), (xmp, "XMP"), (iptc, "IPTC")):
        c = chunks[place.index] if place is not None else None
        if c is not None and not c.crc_ok():  # its bytes may be damaged: never rebuild on them
            raise WriteError(f"the PNG {c.type.decode('latin-1')} chunk at offset {c.offset} "
                             f"that holds the {what} has a bad CRC; refusing to rewrite it",
                             path=path, offset=c.offset)
    new_chunks: list[P.Chunk] = []  # inserted before the image data, in this order
    if edits.xmp:
        from engine.xmp.edit import edit_tree, serialise

        # No padding: a PNG is always rewritten whole, and a CRC guards the chunk anyway.
        packet = serialise(edit_tree(xmp.block if xmp else None, edits.xmp), pad=0)
        if xmp is None:
            new_chunks.append(P.render_text(P.TextChunk(P.XMP_KEYWORD, packet, False)))
        else:
            chunks[xmp.index] = _rebuild(chunks[xmp.index], xmp, packet)
    if edits.exif:
        block = patch_block(exif.block if exif else None, edits.exif, path)
        if exif is None:
            new_chunks.append(P.make_chunk(b"eXIf", block))
        else:
            chunks[exif.index] = _rebuild(chunks[exif.index], exif, block)
    if iptc is not None:
        chunks[iptc.index] = _rebuild(chunks[iptc.index], iptc, _edit_iptc(iptc, edits, path))
    if new_chunks:
        at = next(i for i, c in enumerate(chunks) if c.type in _IMAGE_START)
        chunks[at:at] = new_chunks
    return render_plan(chunks, layout.tail_offset, len(data))


def _edit_iptc(place: Place, edits: Edits, path: str) -> bytes:
    """The new profile data: IIM edited directly, or inside its Photoshop resource block."""
    from engine.iptc.digest import update_digest
    from engine.iptc.edit import edit_iim
    from engine.iptc.photoshop import IPTC_ID, Resource, parse_irb, render_irb

    if place.profile == "iptc" and place.block.startswith(b"\x1c"):
        return edit_iim(place.block, edits.iptc, path=path, fit=edits.iptc_fit)
    resources, warnings = parse_irb(place.block)
    if warnings:
        raise WriteError(f"the Photoshop resources in the PNG are damaged ({warnings[0]}); "
                         "refusing to rewrite them", path=path)
    res = next((r for r in resources if r.rid == IPTC_ID and r.sig == b"8BIM"), None)
    old = res.data if res else None
    iim = edit_iim(old, edits.iptc, path=path, fit=edits.iptc_fit)
    if res is None:
        resources.append(Resource(b"8BIM", IPTC_ID, b"", iim))
    else:
        res.data = iim
    update_digest(resources, old, iim)
    return render_irb(resources)


def render_plan(chunks: list[P.Chunk], tail_offset: int, size: int) -> list[Piece]:
    """Signature, chunks (originals as ranges of the file, new ones as bytes), then the tail."""
    pieces: list[Piece] = [(0, len(P.SIGNATURE))]
    for c in chunks:
        pieces.append((c.offset, 12 + c.length) if c.offset >= 0 else c.render())
    pieces.append((tail_offset, size - tail_offset))
    return coalesce(pieces)
