"""Seeded structural mutations of photo files, for the fuzz test (tests/test_fuzz.py) and the
large ExifTool-judged run (scripts/fuzz.py).

A mutation aims at the metadata, where a reader or writer can go wrong: IFD entries (type,
count, value offset, extreme values of every TIFF type), IFD counts and next-IFD pointers,
byte flips inside metadata regions, truncations, and the length fields of JPEG segments, PNG
and RIFF chunks and ISO-BMFF boxes.  The structures are found by small walkers of our own, so
that a bug in the engine's parsers cannot hide a mutation target.
"""

from __future__ import annotations

import math
import random
import re
import struct
from collections import Counter
from pathlib import Path

from engine.exif.ifd import TYPE_SIZES, parse_tiff

# Extreme values per TIFF type (packed with the file's byte order at mutation time).
_DENORMAL = 5e-324
EXTREMES: dict[int, list[tuple[str, tuple]]] = {
    1: [("B", (0,)), ("B", (255,))],
    3: [("H", (0,)), ("H", (65535,))],
    4: [("I", (0,)), ("I", (0xFFFFFFFF,))],
    5: [("II", (0, 0)), ("II", (1, 0)), ("II", (0xFFFFFFFF, 1)), ("II", (1, 0xFFFFFFFF)),
        ("II", (0, 1))],
    6: [("b", (-128,)), ("b", (127,))],
    8: [("h", (-32768,)), ("h", (32767,))],
    9: [("i", (-(1 << 31),)), ("i", (0x7FFFFFFF,))],
    10: [("ii", (0, 0)), ("ii", (-1, 0)), ("ii", (-(1 << 31), 1)), ("ii", (1, -(1 << 31))),
         ("ii", (-(1 << 31), -1)), ("ii", (0x7FFFFFFF, -1))],
    11: [("f", (x,)) for x in (0.0, -0.0, 1e-45, math.inf, -math.inf, math.nan, 3.4e38, -1.0)],
    12: [("d", (x,)) for x in (0.0, -0.0, _DENORMAL, math.inf, -math.inf, math.nan, 1.7e308,
                               -1.7e308, -1.0, 1e-300)],
    16: [("Q", (0,)), ("Q", ((1 << 64) - 1,))],
    17: [("q", (-(1 << 63),)), ("q", ((1 << 63) - 1,))],
}
TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 99, 0xFFFF]


class Tiff:
    """A TIFF block inside the file: where its header is, its byte order, its IFDs."""

    def __init__(self, base: int, bo: str, st) -> None:
        self.base = base
        self.bo = bo
        self.st = st


def tiff_blocks(data: bytes, limit: int = 8) -> list[Tiff]:
    """TIFF headers in the file (EXIF blocks, TIFF files, maker notes with their own header)
    whose IFD0 parses cleanly."""
    found: list[Tiff] = []
    for magic in (b"II*\0", b"MM\0*"):
        pos = data.find(magic)
        while pos >= 0 and len(found) < limit:
            try:
                st = parse_tiff(data[pos:], path="m")
            except Exception:  # noqa: BLE001 - a false match: not a TIFF header
                st = None
            if st is not None and st.ifds and st.ifds[0].entries and not st.warnings:
                found.append(Tiff(pos, st.byte_order, st))
            pos = data.find(magic, pos + 1)
    return found


def jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(offset of the marker, total length) of JPEG segments up to SOS."""
    out, pos = [], 2
    if data[:2] != b"\xff\xd8":
        return out
    while pos + 4 <= len(data) and data[pos] == 0xFF and len(out) < 200:
        marker = data[pos + 1]
        if marker in (0xD8, 0xD9) or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        n = struct.unpack_from(">H", data, pos + 2)[0]
        out.append((pos, n + 2))
        if marker == 0xDA:
            break
        pos += 2 + n
    return out


def png_chunks(data: bytes) -> list[tuple[int, int, bytes]]:
    """(offset, total length, type) of PNG chunks."""
    out, pos = [], 8
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return out
    while pos + 12 <= len(data) and len(out) < 2000:
        n = struct.unpack_from(">I", data, pos)[0]
        out.append((pos, n + 12, data[pos + 4 : pos + 8]))
        pos += n + 12
    return out


def riff_chunks(data: bytes) -> list[tuple[int, int, bytes]]:
    """(offset, total length, fourcc) of WebP chunks."""
    out, pos = [], 12
    if data[:4] != b"RIFF":
        return out
    while pos + 8 <= len(data) and len(out) < 2000:
        n = struct.unpack_from("<I", data, pos + 4)[0]
        out.append((pos, 8 + n + (n & 1), data[pos : pos + 4]))
        pos += 8 + n + (n & 1)
    return out


# Boxes holding other boxes (after a 4-byte version/flags header for the full boxes).
_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"moov": 0, b"trak": 0, b"mdia": 0,
               b"minf": 0, b"dinf": 0, b"stbl": 0, b"iinf": 6, b"iref": 4}


def bmff_boxes(data: bytes, start: int = 0, end: int | None = None,
               depth: int = 0) -> list[tuple[int, int, bytes]]:
    """(offset, size, type) of ISO-BMFF boxes, nested ones included."""
    out: list[tuple[int, int, bytes]] = []
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end and len(out) < 500:
        size, btype = struct.unpack_from(">I4s", data, pos)
        if size == 1 and pos + 16 <= end:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
        elif size == 0:
            size = end - pos
        if size < 8 or pos + size > end:
            break
        out.append((pos, size, btype))
        skip = _CONTAINERS.get(btype)
        if skip is not None and depth < 4:
            inner = pos + 8 + skip
            if btype == b"iinf" and pos + 12 <= end and data[pos + 8] != 0:
                inner += 2  # version 1: a 4-byte entry count
            out.extend(bmff_boxes(data, inner, pos + size, depth + 1))
        pos += size
    return out


def metadata_regions(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of the parts of the file that hold metadata or structure."""
    regions: list[tuple[int, int]] = []
    if data[:2] == b"\xff\xd8":
        regions = [(o, n) for o, n in jpeg_segments(data) if data[o + 1] != 0xDA]
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        regions = [(o, n) for o, n, t in png_chunks(data) if t not in (b"IDAT", b"fdAT")]
    elif data[:4] == b"RIFF":
        regions = [(0, 12)] + [(o, n) for o, n, t in riff_chunks(data)
                               if t not in (b"VP8 ", b"VP8L", b"ALPH", b"ANMF")]
    elif data[4:8] == b"ftyp":
        regions = [(o, n) for o, n, t in bmff_boxes(data) if t not in (b"mdat",)]
    for t in tiff_blocks(data, 2):
        for ifd in t.st.ifds:
            n = len(ifd.entries)
            regions.append((t.base + ifd.offset, 2 + 12 * n + 4))
            for e in ifd.entries:
                if e.value_offset is not None and e.raw and len(e.raw) < 4096:
                    regions.append((t.base + e.value_offset, len(e.raw)))
    return [(o, n) for o, n in regions if 0 <= o < len(data) and n > 0]


# -- mutations: each returns (description, new bytes) or None when it has no target -------


def _entry(rnd: random.Random, data: bytes):
    blocks = tiff_blocks(data, 3)
    if not blocks:
        return None
    t = rnd.choice(blocks)
    ifds = [i for i in t.st.ifds if i.entries]
    if not ifds:
        return None
    ifd = rnd.choice(ifds)
    return t, ifd, rnd.choice(ifd.entries)


def entry_type(rnd: random.Random, data: bytes):
    got = _entry(rnd, data)
    if got is None:
        return None
    t, ifd, e = got
    new = rnd.choice(TYPES)
    out = bytearray(data)
    struct.pack_into(t.bo + "H", out, t.base + e.entry_offset + 2, new)
    return f"{ifd.name} tag 0x{e.tag:04x} type {e.type} -> {new}", bytes(out)


def entry_count(rnd: random.Random, data: bytes):
    got = _entry(rnd, data)
    if got is None:
        return None
    t, ifd, e = got
    new = rnd.choice([0, 1, e.count + 1, max(0, e.count - 1), e.count * 2 + 1, 0xFFFFFFFF,
                      rnd.randrange(1 << 32)])
    out = bytearray(data)
    struct.pack_into(t.bo + "I", out, t.base + e.entry_offset + 4, new)
    return f"{ifd.name} tag 0x{e.tag:04x} count {e.count} -> {new}", bytes(out)


def entry_offset(rnd: random.Random, data: bytes):
    got = _entry(rnd, data)
    if got is None:
        return None
    t, ifd, e = got
    size = len(data) - t.base
    first = t.st.first_offset
    new = rnd.choice([0, 1, 8, size, size - 1, size - 2, first, ifd.offset, e.entry_offset,
                      rnd.randrange(size + 1), 0xFFFFFFFF, (e.value_offset or 0) + 1])
    out = bytearray(data)
    struct.pack_into(t.bo + "I", out, t.base + e.entry_offset + 8, new & 0xFFFFFFFF)
    return f"{ifd.name} tag 0x{e.tag:04x} value/offset -> {new}", bytes(out)


def entry_value(rnd: random.Random, data: bytes):
    """Retype an entry to a numeric type and give it an extreme value."""
    got = _entry(rnd, data)
    if got is None:
        return None
    t, ifd, e = got
    typ = rnd.choice(sorted(EXTREMES))
    code, vals = rnd.choice(EXTREMES[typ])
    packed = struct.pack(t.bo + code, *vals)
    out = bytearray(data)
    at = t.base + e.entry_offset
    struct.pack_into(t.bo + "HI", out, at + 2, typ, 1)
    if len(packed) <= 4:
        out[at + 8 : at + 12] = packed.ljust(4, b"\0")
    else:
        where = e.value_offset if e.value_offset is not None and len(e.raw) >= 8 else None
        if where is None or t.base + where + 8 > len(data):
            return None
        struct.pack_into(t.bo + "I", out, at + 8, where)
        out[t.base + where : t.base + where + 8] = packed
    return f"{ifd.name} tag 0x{e.tag:04x} -> type {typ} value {vals}", bytes(out)


def ifd_count(rnd: random.Random, data: bytes):
    blocks = tiff_blocks(data, 3)
    if not blocks:
        return None
    t = rnd.choice(blocks)
    ifd = rnd.choice(t.st.ifds)
    n = len(ifd.entries)
    new = rnd.choice([0, 1, n + 1, max(0, n - 1), 0xFFFF, n * 2])
    out = bytearray(data)
    struct.pack_into(t.bo + "H", out, t.base + ifd.offset, new)
    return f"{ifd.name} entry count {n} -> {new}", bytes(out)


def next_ifd(rnd: random.Random, data: bytes):
    blocks = tiff_blocks(data, 3)
    if not blocks:
        return None
    t = rnd.choice(blocks)
    ifd = rnd.choice(t.st.ifds)
    at = t.base + ifd.offset + 2 + 12 * len(ifd.entries)
    if at + 4 > len(data):
        return None
    size = len(data) - t.base
    new = rnd.choice([0, t.st.first_offset, ifd.offset, size, size - 2, 1, 0xFFFFFFFF,
                      rnd.randrange(size)])
    out = bytearray(data)
    struct.pack_into(t.bo + "I", out, at, new)
    return f"{ifd.name} next IFD -> {new}", bytes(out)


def flip(rnd: random.Random, data: bytes):
    regions = metadata_regions(data)
    if not regions:
        return None
    out = bytearray(data)
    notes = []
    for _ in range(rnd.randint(1, 3)):
        o, n = rnd.choice(regions)
        pos = min(o + rnd.randrange(n), len(data) - 1)
        how = rnd.choice(["bit", "zero", "ff", "byte"])
        if how == "bit":
            out[pos] ^= 1 << rnd.randrange(8)
        elif how == "zero":
            out[pos : pos + 4] = bytes(len(out[pos : pos + 4]))
        elif how == "ff":
            out[pos : pos + 4] = b"\xff" * len(out[pos : pos + 4])
        else:
            out[pos] = rnd.randrange(256)
        notes.append(f"{how}@{pos}")
    return "flip " + " ".join(notes), bytes(out)


def truncate(rnd: random.Random, data: bytes):
    regions = metadata_regions(data)
    if regions and rnd.random() < 0.7:
        o, n = rnd.choice(regions)
        at = o + rnd.randrange(n)
    else:
        at = rnd.randrange(max(1, len(data)))
    at = max(at, 16)
    if at >= len(data):
        return None
    return f"truncate at {at}", data[:at]


def length(rnd: random.Random, data: bytes):
    """Change the length field of a segment, chunk or box."""
    out = bytearray(data)
    if data[:2] == b"\xff\xd8":
        segs = jpeg_segments(data)
        if not segs:
            return None
        o, n = rnd.choice(segs)
        new = rnd.choice([0, 1, 2, n - 3, n - 1, n + 1, n + 7, 0xFFFF]) & 0xFFFF
        struct.pack_into(">H", out, o + 2, max(new, 0))
        return f"JPEG segment 0x{data[o + 1]:02x}@{o} length {n - 2} -> {new}", bytes(out)
    if data[:4] == b"RIFF":
        chunks = [(0, len(data), b"RIFF")] + riff_chunks(data)
        o, n, t = rnd.choice(chunks)
        old = struct.unpack_from("<I", data, o + 4)[0]
        new = rnd.choice([0, 1, old - 1, old + 1, old + 2, old - 2, 0xFFFFFFFF]) & 0xFFFFFFFF
        struct.pack_into("<I", out, o + 4, new)
        return f"RIFF chunk {t!r}@{o} size {old} -> {new}", bytes(out)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        chunks = png_chunks(data)
        if not chunks:
            return None
        o, n, t = rnd.choice(chunks)
        old = n - 12
        new = rnd.choice([0, 1, old - 1, old + 1, 0x7FFFFFFF, 0xFFFFFFFF]) & 0xFFFFFFFF
        struct.pack_into(">I", out, o, new)
        return f"PNG chunk {t!r}@{o} length {old} -> {new}", bytes(out)
    if data[4:8] == b"ftyp":
        boxes = [b for b in bmff_boxes(data) if b[2] != b"mdat" or rnd.random() < 0.2]
        if not boxes:
            return None
        o, n, t = rnd.choice(boxes)
        if struct.unpack_from(">I", data, o)[0] == 1:
            return None
        new = rnd.choice([0, 1, 7, 8, n - 1, n + 1, n - 4, n + 4, 0xFFFFFFFF]) & 0xFFFFFFFF
        struct.pack_into(">I", out, o, new)
        return f"box {t!r}@{o} size {n} -> {new}", bytes(out)
    return None


MUTATIONS = {
    "entry_type": entry_type, "entry_count": entry_count, "entry_offset": entry_offset,
    "entry_value": entry_value, "ifd_count": ifd_count, "next_ifd": next_ifd, "flip": flip,
    "truncate": truncate, "length": length,
}
WEIGHTS = {"entry_type": 3, "entry_count": 2, "entry_offset": 3, "entry_value": 3,
           "ifd_count": 1, "next_ifd": 1, "flip": 4, "truncate": 1, "length": 3}


def mutate(rnd: random.Random, data: bytes, tries: int = 8) -> tuple[str, bytes] | None:
    """One seeded mutation of ``data`` (None if no mutation found a target)."""
    names = list(WEIGHTS)
    for _ in range(tries):
        name = rnd.choices(names, weights=[WEIGHTS[n] for n in names])[0]
        got = MUTATIONS[name](rnd, data)
        if got is not None and got[1] != data:
            return got
    return None


__all__ = ["MUTATIONS", "TYPE_SIZES", "metadata_regions", "mutate", "tiff_blocks"]


# -- judging one mutant with our own reader ------------------------------------------------

SYNCED = {"Artist": {"xmp/dc:creator", "iptc/By-line"},
          "xmp/dc:title": {"iptc/ObjectName"}}
MOVABLE = ("Offset", "Offsets", "Start")  # printed as file positions: move with a rewrite


class Hang(Exception):
    """The per-case alarm fired."""


def judge_mutant(folder: Path, name: str, data: bytes, changes: dict[str, str | None],
                 seconds: int) -> tuple[str, str]:
    """``judge_write`` of ``data`` saved as ``folder/name`` (a new folder), given ``seconds``
    (SIGALRM, whose handler raises Hang, set by the caller): a run past them is a "hang"."""
    import signal

    folder.mkdir()
    path = folder / name
    path.write_bytes(data)
    signal.alarm(seconds)
    try:
        return judge_write(path, data, changes)
    except Hang:
        return "hang", f"over {seconds} s"
    finally:
        signal.alarm(0)


def judge_write(path, data: bytes, changes: dict[str, str | None]) -> tuple[str, str]:
    """Write ``changes`` to ``path`` (holding ``data``): (status, detail).

    Statuses that are bugs: read_crash, write_crash, internal, refused_changed, worse.
    Fine: unreadable (read raises EngineError), refused, unchanged, accepted."""
    import engine
    from engine import EngineError

    try:
        before = engine.read_metadata(path)
    except EngineError:
        before = None
    except Hang:
        raise
    except Exception as e:  # noqa: BLE001 - what the fuzz test looks for
        return "read_crash", f"{type(e).__name__}: {e}"
    try:
        result = engine.write_metadata(path, changes, backup=False)
    except EngineError as e:
        if path.read_bytes() != data:
            return "refused_changed", str(e)
        if "internal error" in str(e):
            return "internal", str(e)
        return "refused", str(e)
    except Hang:
        raise
    except Exception as e:  # noqa: BLE001
        return "write_crash", f"{type(e).__name__}: {e}"
    if result.unchanged:
        return ("unchanged", "") if path.read_bytes() == data else ("worse", "unchanged but "
                                                                    "the file changed")
    if before is None:
        return "worse", "a file that did not read was written"
    try:
        after = engine.read_metadata(path)
    except EngineError as e:
        return "worse", f"does not read after the write: {e}"
    allowed = set(changes)
    for p in changes:
        allowed |= SYNCED.get(p, set())
    problems = []
    for p, tag in before.tags.items():
        if p in allowed or p.split("#")[0] in allowed or tag.name.endswith(MOVABLE):
            continue
        new = after.tags.get(p)
        if new is None or new.value != tag.value:
            problems.append(f"{p}: {str(tag.value)[:40]!r} -> "
                            f"{'missing' if new is None else str(new.value)[:40]!r}")
    for p, text in changes.items():
        got = after.tags.get(p)
        if text is not None and (got is None or got.value not in (text, [text])):
            problems.append(f"{p} reads back as {None if got is None else got.value!r}")
    # the same warning about a number that moved (an offset) is no new warning
    old = Counter(_shape(w) for w in before.warnings)
    new_warnings = [w for w in after.warnings if not old.get(_shape(w))]
    if new_warnings:
        problems.append(f"new warning {new_warnings[0]!r}")
    return ("worse", "; ".join(problems[:3])) if problems else ("accepted", "")


def _shape(warning: str) -> str:
    return re.sub(r"\d+", "N", warning)


BUGS = frozenset({"read_crash", "write_crash", "internal", "refused_changed", "worse", "hang"})
