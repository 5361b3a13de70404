"""Keep what follows a JPEG's EOI right when the metadata segments change size.

Everything after the segments moves by the same ``delta``.  What points into it:
- offsets counted from the trailer itself or from the end of the file (CanonVRD, FotoStation,
  PhotoMechanic, MIE, Insta360, NikonApp, Google motion photos): nothing to do;
- MPF offsets (from the MPF header): engine.containers.jpeg_write._fix_mpf;
- absolute file offsets inside a trailer (AFCP directory and footer, Samsung QDIO audio
  offsets): each is shifted by ``delta`` (ExifTool: "Adjusted AFCP offsets by N");
- maker-note pointers to a preview image after EOI (Olympus, Pentax, Minolta, Sony, Casio...:
  offsets from the TIFF header in APP1, or from the maker note): the 4-byte value of the IFD
  entry (type LONG, count 1) that lands on the preview's SOI is shifted so that it lands there
  again.  When that entry cannot be found again in the new EXIF block, the write is refused.
"""

from __future__ import annotations

import re
import struct

from engine.containers import jpeg as J
from engine.errors import EngineError, WriteError
from engine.exif.types import BYTE_ORDERS, MAKERNOTE_TAG
from engine.safewrite.safety import Piece

# an IFD entry's type (and count) where a pointer to a preview can be: LONG with count 1
# (PreviewImageStart) or UNDEFINED data stored elsewhere (Casio's PreviewImage, 0x2000)
_POINTER = {"<": re.compile(rb"(?=\x04\x00\x01\x00\x00\x00|\x07\x00)"),
            ">": re.compile(rb"(?=\x00\x04\x00\x00\x00\x01|\x00\x07)")}


def move_tail(data, layout, segs, delta: int, path: str) -> list[Piece]:
    """The plan's pieces: the segments ``segs`` (maker-note preview pointers fixed in place),
    then the tail from ``layout.tail_offset`` moved by ``delta`` with its absolute offsets
    fixed."""
    from engine.containers.trailers import eoi_end, find_trailers

    end = eoi_end(data, layout.sos_offset) if layout.sos_offset is not None else None
    size = len(data)
    if end is None or end >= size:
        head = b"".join(s.render() for s in segs)
        return [head, (layout.tail_offset, size - layout.tail_offset)]
    _fix_preview_pointers(data, layout, segs, end, delta, path)
    head = b"".join(s.render() for s in segs)
    if len(head) - layout.tail_offset != delta:  # (the pointer fix keeps sizes)
        raise WriteError("internal error: the JPEG segments changed size while fixing the "
                         "trailer pointers; nothing was written", path=path)
    trailers, _known = find_trailers(data, end)
    return [head, *_shifted(data, trailers, layout.tail_offset, delta, path)]


def moved_trailers(data, trailers: list, delta: int, path: str) -> list[Piece]:
    """The plan's pieces for the trailers at the end of a TIFF (``trailers``: found last
    first), moved by ``delta`` with their absolute offsets shifted."""
    return _shifted(data, trailers, trailers[-1].start, delta, path)


def _shifted(data, trailers: list, pos: int, delta: int, path: str) -> list[Piece]:
    """The bytes from ``pos`` to the end, moved by ``delta``: copied ranges, and the
    absolute offsets of ``trailers`` rewritten."""
    fields = sorted(f for t in trailers for f in t.absolute)
    pieces: list[Piece] = []
    for at, bo in fields:
        old = struct.unpack_from(bo + "I", data, at)[0]
        new = old + delta
        if not 0 <= new < 1 << 32:
            raise WriteError(f"an absolute offset in the trailer at offset {at} cannot be "
                             "moved; refusing to write", path=path, offset=at)
        pieces += [(pos, at - pos), struct.pack(bo + "I", new)]
        pos = at + 4
    pieces.append((pos, len(data) - pos))
    return pieces


def trailer_summary(data, sos: int | None) -> list[tuple[str, int, int]]:
    """(kind, start, end) of the known trailers, first to last (for tests and messages)."""
    from engine.containers.trailers import eoi_end, find_trailers

    end = eoi_end(data, sos) if sos is not None else None
    if end is None:
        return []
    trailers, _known = find_trailers(data, end)
    return [(t.kind, t.start, t.end) for t in reversed(trailers)]


def _fix_preview_pointers(data, layout, segs, end: int, delta: int, path: str) -> None:
    """Shift maker-note pointers that land on a JPEG image after EOI by ``delta`` (less the
    shift of the base they count from), in the EXIF segment of ``segs``."""
    old_i, new_i = J.find_kind(layout.segments, "exif"), J.find_kind(segs, "exif")
    if not old_i or not new_i:
        return
    old_seg, new_seg = layout.segments[old_i[0]], segs[new_i[0]]
    old_h = J.exif_header_len(old_seg) or len(J.EXIF_HEADER)
    new_h = J.exif_header_len(new_seg) or len(J.EXIF_HEADER)
    old_block, new_block = old_seg.payload[old_h:], new_seg.payload[new_h:]
    found = _preview_pointers(data, old_block, old_seg.payload_offset + old_h, end)
    if not found:
        return
    new_tiff = sum(len(s.render()) for s in segs[: new_i[0]]) + len(new_seg.prefix) + 4 + new_h
    new_mn = _maker_note_span(new_block, path)
    block = bytearray(new_block)
    for entry, base, target, bo, mn in found:
        here = None if new_mn is None else new_mn[0] + entry - mn
        if here is None or bytes(block[here : here + 12]) != old_block[entry : entry + 12]:
            raise WriteError(f"a preview image after EOI at offset {target} is referenced from "
                             f"the maker note (entry at EXIF offset {entry}) and that entry "
                             "cannot be updated; refusing to move it", path=path, offset=target)
        new_base = new_tiff + (0 if base == 0 else new_mn[0] + base - mn)
        struct.pack_into(bo + "I", block, here + 8, target + delta - new_base)
    seg = J.make_segment(new_seg.marker, new_seg.payload[:new_h] + bytes(block), path)
    seg.prefix = new_seg.prefix
    segs[new_i[0]] = seg


def _maker_note_span(block: bytes, path: str) -> tuple[int, int] | None:
    from engine.exif.ifd import parse_tiff

    try:
        st = parse_tiff(block, path=path)
    except EngineError:  # a block the patcher produced parses; a damaged old one gives none
        return None
    mn = next((e for i in st.ifds for e in i.entries if e.tag == MAKERNOTE_TAG), None)
    if mn is None or mn.value_offset is None:
        return None
    return mn.value_offset, mn.value_offset + len(mn.raw)


def _preview_pointers(data, block: bytes, tiff: int, end: int) -> list[tuple]:
    """(entry offset in the block, base, target file offset, byte order, maker-note offset) of
    each maker-note LONG or UNDEFINED entry whose value or value offset, counted from the TIFF
    header, the maker note or its inner TIFF header, lands on an SOI (``?\\xd8\\xff``:
    Minolta and Sony previews may have a random first byte) after EOI."""
    span = _maker_note_span(block, "?")
    if span is None:
        return []
    mn, mn_end = span
    order = BYTE_ORDERS.get(bytes(block[:2]), ">")
    inner = mn + 10 if bytes(block[mn + 10 : mn + 12]) in BYTE_ORDERS else None
    bases = [0, mn] + ([inner] if inner is not None else [])
    # (an inner header has its own byte order: Nikon's is MM inside II blocks too)
    orders = {order} | ({BYTE_ORDERS[bytes(block[inner : inner + 2])]} if inner is not None
                        else set())
    out = []
    size = len(data)
    for bo in orders:
        # (the search runs to the end: a lookahead cut at the last entry would not match it)
        for m in _POINTER[bo].finditer(block, mn + 2, mn_end):
            entry = m.start() - 2
            if entry + 12 > mn_end:
                break
            count, value = struct.unpack_from(bo + "II", block, entry + 4)
            if count <= 4 and block[m.start() : m.start() + 2] in (b"\x07\x00", b"\x00\x07"):
                continue  # UNDEFINED data held in the entry itself
            for base in bases:
                target = tiff + base + value
                if end <= target < size - 3 and bytes(data[target + 1 : target + 3]) == b"\xd8\xff":
                    out.append((entry, base, target, bo, mn))
                    break
    return out


def image_region(data) -> tuple[int, int]:
    """What the JPEG validator compares byte for byte: from SOS up to the first trailer
    whose absolute offsets a write adjusts (those are checked by ``check_trailers``)."""
    from engine.containers.trailers import eoi_end, find_trailers

    layout = J.parse_jpeg(data)
    end = eoi_end(data, layout.sos_offset) if layout.sos_offset is not None else None
    if end is None:
        return layout.tail_offset, len(data)
    trailers, _known = find_trailers(data, end)
    starts = [t.start for t in trailers if t.absolute]
    return layout.tail_offset, min(starts, default=len(data))


def image_regions(original, data) -> tuple[tuple[int, int], tuple[int, int]]:
    """image_region of the original and of the new file, the image data scanned once: the
    new file's EOI is taken to be where the original's falls after the shift of SOS, when
    an EOI marker stands there.  The caller compares the two regions byte for byte (ends
    whole), which is what proves it: the scan would stop at the same place in equal bytes."""
    from engine.containers.trailers import eoi_end, remember_eoi

    old, new = J.parse_jpeg(original), J.parse_jpeg(data)
    if old.sos_offset is not None and new.sos_offset is not None:
        end = eoi_end(original, old.sos_offset)
        if end is not None:
            at = end - old.sos_offset + new.sos_offset
            if 2 <= at <= len(data) and data[at - 2 : at] == b"\xff\xd9":
                remember_eoi(data, new.sos_offset, at)
    return image_region(original), image_region(data)


def image_kept(original, data) -> str | None:
    """Why the JPEG ``data`` does not keep the image data of ``original`` (None: it does):
    SOS to EOI and the bytes after it up to a trailer with absolute offsets are the same,
    where they now lie, and the trailers and preview pointers follow them."""
    if not J.is_jpeg(bytes(data[:3])):
        return "image data changed"
    old, new = image_regions(original, data)
    size = old[1] - old[0]
    if new[1] - new[0] != size or not same_bytes(original, old[0], data, new[0], size):
        return "image data changed"
    return check_trailers(original, data)


def same_bytes(a, a_start: int, b, b_start: int, size: int) -> bool:
    """Compare image data between the original and the new file.

    The plan copies image data as a kernel range copy of the original, so what can go wrong is
    where it lands, not its content: small regions are compared whole, large ones at both ends
    and at 64 evenly spaced 4 KiB pages (reading all of a big file would double the write)."""
    if size <= 1 << 20:
        spans = [(0, size)]
    else:
        edge, page = 1 << 18, 1 << 12
        step = (size - 2 * edge) // 64
        spans = [(0, edge), (size - edge, edge)]
        spans += [(edge + k * step, page) for k in range(64)]
    return all(a[a_start + o : a_start + o + n] == b[b_start + o : b_start + o + n]
               for o, n in spans)


def check_trailers(original, data) -> str | None:
    """Why the trailers of ``data`` do not read as those of ``original`` (None: they do):
    same kinds, same bytes, absolute offsets shifted by exactly how far each trailer moved."""
    from engine.containers.trailers import eoi_end, find_trailers

    found = []
    for d in (original, data):
        sos = J.parse_jpeg(d).sos_offset
        end = eoi_end(d, sos) if sos is not None else None
        found.append(find_trailers(d, end)[0] if end is not None else [])
    old, new = found
    if [t.kind for t in old] != [t.kind for t in new]:
        return "the trailers after EOI changed"
    a_prev, b_prev = _previews(original), _previews(data)
    if len(a_prev) != len(b_prev) or any(
            original[a : a + 4096] != data[b : b + 4096]
            for a, b in zip(a_prev, b_prev, strict=True)):
        return "a maker-note pointer to a preview after EOI does not follow it"
    for a, b in zip(old, new, strict=True):
        if not a.absolute:
            continue
        shift = b.start - a.start
        if b.end - b.start != a.end - a.start or len(a.absolute) != len(b.absolute):
            return f"the {a.kind} trailer changed size"
        pos = 0
        for (at, bo), (bt, _bo) in zip(a.absolute, b.absolute, strict=True):
            if at - a.start != bt - b.start or struct.unpack_from(bo + "I", data, bt)[0] != \
                    struct.unpack_from(bo + "I", original, at)[0] + shift:
                return f"an offset in the {a.kind} trailer does not follow it"
        spans = sorted(at - a.start for at, _bo in a.absolute)
        for rel in [*spans, a.end - a.start]:
            if original[a.start + pos : a.start + rel] != data[b.start + pos : b.start + rel]:
                return f"the {a.kind} trailer's bytes changed"
            pos = rel + 4
    return None


def _previews(data) -> list[int]:
    """Where the maker-note pointers into the bytes after EOI land (file offsets)."""
    from engine.containers.trailers import eoi_end

    located = J.JpegFormat.locate(data, "?")
    sos = located.parsed.sos_offset
    end = eoi_end(data, sos) if sos is not None else None
    exif = located.of("exif")
    if not exif or end is None or end >= len(data):
        return []
    return [t for _e, _b, t, _o, _m in _preview_pointers(data, exif[0].data, exif[0].offset,
                                                         end)]
