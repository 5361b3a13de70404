"""IPTC IIM (Information Interchange Model) records: parse, render, decode into tags.

An IIM block is a sequence of datasets: ``0x1C``, record number, dataset number, a 2-byte
big-endian length (or, with the top bit set, the number of bytes of an extended length that
follows), then the data.  Parse and render are pure and symmetric:
``render_iim(parse_iim(b)[0]) == b`` for every well-formed block.

Decoding follows ExifTool (IPTC.pm): names and formats from engine.iptc.tables; strings are
Windows Latin-1 unless 1:90 CodedCharacterSet says UTF-8 (``ESC % G``); repeatable datasets are
lists; dates and times are printed ``YYYY:MM:DD`` and ``HH:MM:SS+hh:mm``.
"""

from __future__ import annotations

import re
import struct

from engine.iptc.tables import DATASETS, RECORDS
from engine.model import TagValue, binary_text
from engine.printconv import unconverted
from engine.record import Record

UTF8_ESCAPE = b"\x1b%G"
_MAX_EXT_LEN_BYTES = 8  # longest extended length field ExifTool accepts


class Dataset(Record):
    __slots__ = ("record", "dataset", "data", "ext_len_size")
    record: int
    dataset: int
    data: bytes
    ext_len_size: int | None  # bytes of the extended length in the file (None: plain)

    def __init__(self, record: int, dataset: int, data: bytes,
                 ext_len_size: int | None = None) -> None:
        self.record = record
        self.dataset = dataset
        self.data = data
        self.ext_len_size = ext_len_size


def declares_utf8(datasets: list[Dataset]) -> bool:
    """Whether 1:90 CodedCharacterSet says UTF-8 (``ESC % G``; trailing NULs ignored, as
    ExifTool's string format drops them)."""
    return any(d.record == 1 and d.dataset == 90 and d.data.rstrip(b"\0") == UTF8_ESCAPE
               for d in datasets)


def parse_iim(data: bytes) -> tuple[list[Dataset], list[str], int]:
    """Datasets of an IIM block, warnings, and where parsing stopped (trailing padding kept
    by the caller if it wants a byte-exact copy)."""
    out: list[Dataset] = []
    warnings: list[str] = []
    pos, end = 0, len(data)
    while pos + 5 <= end:
        marker, rec, ds, length = struct.unpack_from(">BBBH", data, pos)
        if marker != 0x1C:
            if marker or bytes(data[pos:end]).strip(b"\0"):
                warnings.append(f"IPTC: bad dataset marker 0x{marker:02x} at offset {pos}")
            break
        p = pos + 5
        ext = None
        if length & 0x8000:
            ext = length & 0x7FFF
            if ext > _MAX_EXT_LEN_BYTES or p + ext > end:
                warnings.append(f"IPTC: bad extended length for {rec}:{ds} at offset {pos}")
                break
            length = int.from_bytes(data[p : p + ext], "big")
            p += ext
        if p + length > end:
            warnings.append(f"IPTC: dataset {rec}:{ds} at offset {pos} runs past the end")
            break
        out.append(Dataset(rec, ds, bytes(data[p : p + length]), ext))
        pos = p + length
    return out, warnings, pos


def render_iim(datasets: list[Dataset]) -> bytes:
    """IIM bytes for datasets (extended lengths where needed or where the file had them)."""
    parts = []
    for d in datasets:
        n = len(d.data)
        ext = d.ext_len_size
        if ext is None and n > 0x7FFF:
            ext = 4
        if ext is not None:
            parts.append(struct.pack(">BBBH", 0x1C, d.record, d.dataset, 0x8000 | ext))
            parts.append(n.to_bytes(ext, "big"))
        else:
            parts.append(struct.pack(">BBBH", 0x1C, d.record, d.dataset, n))
        parts.append(d.data)
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------
# Values


_CP1252_HOLES = frozenset(b"\x81\x8d\x8f\x90\x9d")


def _latin(raw: bytes) -> str:
    # ExifTool's "Latin" is cp1252; its 5 undefined bytes pass through as Latin-1
    if not re.search(rb"[\x80-\xff]", raw):
        return raw.decode("ascii")
    return "".join(chr(b) if b in _CP1252_HOLES else bytes((b,)).decode("cp1252") for b in raw)


def _utf8(raw: bytes) -> str:
    # invalid sequences become '?', as ExifTool's output does
    return raw.decode("utf-8", "replace").replace("\ufffd", "?")


def _date(val: str) -> str:
    val = re.sub(r"\0$", "", val)
    return re.sub(r"(\d{4})[^\d]*(\d{2})[^\d]*(\d{2})$", r"\1:\2:\3", val)


def _time(val: str) -> str:
    val = re.sub(r"\0$", "", val.replace(" ", ":"))
    val = re.sub(r"^(\d{2})(\d{2})(\d{2})", r"\1:\2:\3", val)
    return re.sub(r"([+-]\d{2})(\d{2})\s*$", r"\1:\2", val)


def _charset(raw: bytes) -> str:
    if raw == UTF8_ESCAPE:
        return "UTF8"
    s = " ".join(chr(b) for b in raw)
    return s.replace(" \x1b", ", ESC").replace("\x1b", "ESC").lstrip(", ")


def _nulls(val: str) -> str:
    return re.sub("\0+", "\n", val)


def _pmprefs(val: str) -> str:
    return re.sub(r"\s*(\d+):\s*(\d+):\s*(\d+):\s*(\S*)",
                  r"Tagged:\1, ColorClass:\2, Rating:\3, FrameNum:\4", val, count=1)


# The conversions the generated table names (gen_iptc_tags.py), applied to the decoded text
_CONVERSIONS = {"date": _date, "time": _time, "nulls": _nulls, "pmprefs": _pmprefs}


def _text(rec: int, raw: bytes, fmt: str, utf8: bool) -> str | None:
    """The value of one dataset as text before its conversion; None for a binary one."""
    if not fmt:  # ExifTool guesses an integer for short data with control bytes
        fmt = "int" if len(raw) <= 4 and len(raw) != 3 and re.search(rb"[\0-\x08]", raw) else ""
    if fmt.startswith("int"):
        if len(raw) <= 8:
            return str(int.from_bytes(raw, "big"))
        # longer: ExifTool keeps the bytes as they are (text when they read as text)
        return raw.decode("ascii") if re.fullmatch(rb"[\t\n\r\x20-\x7e]*", raw) else None
    if fmt == "undef":
        return None
    if fmt in ("string", "digits"):
        raw = raw.rstrip(b"\0")
    # strings of records 2-6 are translated from the declared character set (Latin unless
    # 1:90 says UTF-8); everything else is passed through as ExifTool does
    return _latin(raw) if fmt == "string" and 1 < rec < 7 and not utf8 else _utf8(raw)


def _value(rec: int, raw: bytes, info: tuple | None, utf8: bool) -> str | None:
    """The printed value of one dataset, or None for a binary one."""
    if info is None:
        return _text(rec, raw, "", utf8)
    _name, fmt, _max_len, flags, vm, conv = info
    if "B" in flags:
        return None
    if conv == "charset" and not unconverted():  # 1:90, a string
        return _charset(raw.rstrip(b"\0"))
    text = _text(rec, raw, fmt, utf8)
    if text is None:
        return None
    if conv in _CONVERSIONS and not (conv == "pmprefs" and unconverted()):  # a PrintConv
        text = _CONVERSIONS[conv](text)
    if vm and not unconverted():  # -n: the stored value, not its name
        text = vm.get(text, f"Unknown ({text})")
    return text


def decode_iptc(iim: bytes, *, path: str, group: str = "IPTC",
                folder: str = "iptc") -> tuple[list[TagValue], list[str]]:
    """Tags of an IIM block, named and printed as ExifTool does (family-1 ``group``: IPTC
    for the block the writer edits, IPTC2, IPTC3... for the others, read only, under
    ``folder``)."""
    datasets, warnings, _ = parse_iim(iim)
    warnings = [f"{path}: {w}" for w in warnings]
    utf8 = declares_utf8(datasets)
    tags: dict[str, TagValue] = {}
    unknown_records: set[int] = set()
    for d in datasets:
        if d.record not in RECORDS:
            if d.record not in unknown_records:
                warnings.append(f"{path}: IPTC: unrecognized record {d.record} ignored")
                unknown_records.add(d.record)
            continue
        info = DATASETS.get((d.record, d.dataset))
        if info is None:
            continue  # ExifTool shows unknown datasets only with -u
        name, flags = info[0], info[3]
        tpath = f"{folder}/{name}"
        value = _value(d.record, d.data, info, utf8)
        # only the ApplicationRecord is written (engine.iptc.edit): the envelope's character
        # set is managed by the writer, and the other records are the sender's business
        writable = "-" not in flags and d.record == 2 and group == "IPTC"
        if value is None:
            size = len(d.data)
            tag = TagValue(tpath, group, name, binary_text(size), False, size)
        elif "L" in flags:
            prev = tags.get(tpath)
            items = prev.value if prev is not None and isinstance(prev.value, list) else []
            tag = TagValue(tpath, group, name, [*items, value], writable)
        else:
            if tpath in tags:
                # a non-repeatable dataset given twice: ExifTool shows the later one
                warnings.append(f"{path}: IPTC {name} appears more than once")
            tag = TagValue(tpath, group, name, value, writable)
        tags[tpath] = tag
    return list(tags.values()), warnings
