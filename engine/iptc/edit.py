"""Edit IPTC IIM datasets: replace, add or remove the named ones, keep every other byte.

The inverse of engine/iptc/iim.py's value printing, driven by the generated DATASETS table.
"""

from __future__ import annotations

import re

from engine.errors import ReadOnlyTagError, TagValueError, UnknownTagError, WriteError
from engine.iptc.iim import UTF8_ESCAPE, Dataset, declares_utf8, parse_iim, render_iim
from engine.iptc.tables import DATASETS
from engine.record import FrozenRecord


class DatasetInfo(FrozenRecord):
    """What the generated table says of one writable dataset."""

    __slots__ = ("record", "dataset", "name", "fmt", "max_len", "repeatable", "values", "conv")
    record: int
    dataset: int
    name: str
    fmt: str
    max_len: int
    repeatable: bool
    values: dict[str, str] | None
    conv: str | None

    def __init__(self, record: int, dataset: int, name: str, fmt: str, max_len: int,
                 repeatable: bool, values: dict[str, str] | None, conv: str | None) -> None:
        self._init(record, dataset, name, fmt, max_len, repeatable, values, conv)

    @property
    def kind(self) -> str:
        return self.conv or ("enum" if self.values else self.fmt or "string")


_BY_NAME = {v[0]: (k, v) for k, v in DATASETS.items()}


def dataset_for(name: str) -> DatasetInfo:
    hit = _BY_NAME.get(name)
    if hit is None:
        raise UnknownTagError("no such IPTC tag (names are ExifTool's, e.g. Keywords, By-line, "
                              "Caption-Abstract)", tag=f"iptc/{name}")
    (rec, ds), (nm, fmt, max_len, flags, values, conv) = hit
    if "-" in flags or "B" in flags or rec != 2:
        raise ReadOnlyTagError("this IPTC tag cannot be written", tag=f"iptc/{name}")
    return DatasetInfo(rec, ds, nm, fmt, max_len, "L" in flags, values, conv)


def _stored_text(info: DatasetInfo, text: str) -> str:
    """The text IIM stores for the printed ``text``: a value map's key, a date as YYYYMMDD,
    a time as HHMMSS+hhmm."""
    t = text.strip() if info.conv in ("date", "time") else text
    if info.values:
        rev = {v.lower(): k for k, v in info.values.items()}
        t = rev.get(t.lower(), t)
    if info.conv == "date":
        m = re.fullmatch(r"(\d{4})[:-]?(\d\d)[:-]?(\d\d)(?:[ T].*)?", t)
        if not m:
            raise TagValueError(f"{text!r} is not a date; use YYYY:MM:DD", tag=f"iptc/{info.name}")
        t = "".join(m.groups())
    elif info.conv == "time":
        m = re.fullmatch(r"(\d\d):?(\d\d):?(\d\d)(?:\.\d+)?(?:(Z)|([+-])(\d\d):?(\d\d))?", t)
        if not m:
            raise TagValueError(f"{text!r} is not a time; use HH:MM:SS+hh:mm",
                                tag=f"iptc/{info.name}")
        h, mi, s, z, sign, th, tm = m.groups()
        t = f"{h}{mi}{s}" + ("+0000" if z or not sign else f"{sign}{th}{tm}")
    return t


def _encode(info: DatasetInfo, text: str, utf8: bool, fit: bool = False) -> bytes:
    t = _stored_text(info, text)
    if info.fmt in ("int8u", "int16u", "int32u"):
        size = {"int8u": 1, "int16u": 2, "int32u": 4}[info.fmt]
        try:
            return int(t).to_bytes(size, "big")
        except (ValueError, OverflowError):
            raise TagValueError(f"{text!r} is not a whole number that fits {info.fmt}",
                                tag=f"iptc/{info.name}") from None
    if info.fmt == "digits" and not t.isdigit():
        raise TagValueError(f"{text!r} must be digits", tag=f"iptc/{info.name}")
    try:
        raw = t.encode("utf-8" if utf8 else "latin-1", errors="strict")
    except UnicodeEncodeError:  # a lone surrogate (undecodable bytes passed through)
        raise TagValueError(f"{text!r} holds characters that cannot be encoded",
                            tag=f"iptc/{info.name}") from None
    if fit and info.max_len and len(raw) > info.max_len:
        raw = raw[: info.max_len]
        if utf8:  # never cut a UTF-8 sequence in half
            raw = raw.decode("utf-8", "ignore").encode("utf-8")
    if info.max_len and len(raw) > info.max_len:
        raise TagValueError(f"{text!r} is {len(raw)} bytes; IPTC allows at most {info.max_len}",
                            tag=f"iptc/{info.name}")
    return raw


def check_iptc_value(name: str, text: str) -> None:
    info = dataset_for(name)
    for item in text.split("\n") if info.repeatable else [text]:
        _encode(info, item, True)


def _charset(datasets: list[Dataset], changes: dict[str, list[str] | None],
             path: str) -> bool:
    """Whether the values are written as UTF-8: when the block says so, or when a new value
    needs it and the block declares no character set (1:90 is added)."""
    if declares_utf8(datasets):
        return True
    if all(item.isascii() for v in changes.values() if v for item in v):
        return False
    if any(d.record == 1 and d.dataset == 90 for d in datasets):
        raise WriteError("IPTC uses a character set other than UTF-8; refusing to add "
                         "non-ASCII text", path=path)
    datasets.insert(0, Dataset(1, 90, UTF8_ESCAPE))
    return True


def _replace(datasets: list[Dataset], info: DatasetInfo, new: list[Dataset] | None
             ) -> list[Dataset]:
    """``datasets`` with ``info``'s datasets replaced by ``new`` (None: removed), in the place
    of the first old one, or else in record order."""
    key = (info.record, info.dataset)
    first = next((i for i, d in enumerate(datasets) if (d.record, d.dataset) == key), None)
    datasets = [d for d in datasets if (d.record, d.dataset) != key]
    if new is None:
        return datasets
    if first is None:  # keep records in order: after the last dataset of a lower number
        first = next((i for i, d in enumerate(datasets) if (d.record, d.dataset) > key),
                     len(datasets))
        if key != (2, 0) and not any(d.record == 2 for d in datasets):
            new.insert(0, Dataset(2, 0, (4).to_bytes(2, "big")))  # ApplicationRecordVersion
    datasets[first:first] = new
    return datasets


def edit_iim(old: bytes | None, changes: dict[str, list[str] | None], *, path: str,
             fit: set[str] | frozenset[str] = frozenset()) -> bytes:
    datasets: list[Dataset] = []
    end = 0
    if old:
        datasets, warnings, end = parse_iim(old)
        if warnings:
            raise WriteError(f"the IPTC block is damaged ({warnings[0]}); refusing to rewrite "
                             "it", path=path)
    utf8 = _charset(datasets, changes, path)
    for name, items in changes.items():
        info = dataset_for(name)
        new = None
        if items is not None:
            if not info.repeatable:
                items = ["\n".join(items)]
            else:  # one item per line; empty lines are not items (as for XMP lists)
                items = [item for item in items if item != ""] or [""]
            new = [Dataset(info.record, info.dataset, _encode(info, it, utf8, name in fit))
                   for it in items]
        datasets = _replace(datasets, info, new)
    tail = bytes(old[end:]) if old else b""
    if not tail.strip(b"\0"):
        tail = b""  # padding (TIFF stores IIM as 4-byte words): the caller pads again
    return render_iim(datasets) + tail
