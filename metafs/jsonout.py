"""``metafs read --json`` as ``exiftool -j`` prints it, for scripts that consume that.

Keys: the tag name (``exiftool -j``), ``Group:Name`` with ExifTool's family-0 group (``-G``,
``-G0``: EXIF, XMP, MakerNotes, File, Composite...) or family-1 group (``-G1``: IFD0, XMP-dc,
Canon, System...).  Tags that share a key are shown once, as ExifTool shows them: the one of
the group ExifTool prefers (Composite over File over EXIF over maker notes over XMP/IPTC over
the thumbnail IFD and JFIF), else the first.  Values: a value that looks like a number is a
JSON number written as ExifTool printed it (``5.60`` stays ``5.60``), ``true``/``false`` are
booleans, a one-item list is its item (ExifTool without ``-struct``), binary data is
ExifTool's ``(Binary data N bytes, use -b option to extract)``.

Tag selection (``metafs read -j -Make -LensID FILES``) takes ExifTool's forms: ``-TAG``,
``-GROUP:TAG`` (either family), ``-GROUP:all``, ``-all``, ``*``/``?`` wildcards, a metafs tag
path (``-xmp/dc:title``) and ``--TAG`` to leave a tag out; the keys come in the order asked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

# ``text`` as a JSON string, UTF-8 kept (what ``json.dumps(ensure_ascii=False)`` calls)
from json.encoder import encode_basestring as quoted

import engine

# part of a tag path (engine.reader.part_of) -> ExifTool's family-0 group
FAMILY0 = {"exif": "EXIF", "xmp": "XMP", "iptc": "IPTC", "makernotes": "MakerNotes",
           "file": "File", "system": "File", "composite": "Composite", "jfif": "JFIF",
           "icc": "ICC_Profile", "photoshop": "Photoshop", "mpf": "MPF", "printim": "PrintIM",
           "png": "PNG", "quicktime": "QuickTime", "iptc2": "IPTC", "flir": "APP1"}
# which of the tags sharing a key ExifTool shows (its Priority rules, as seen on the corpus):
# the highest rank; of equal EXIF tags the later, except for _PRIORITY0 tags (Exif.pm's
# ``Priority => 0``), which take the full-resolution image's IFD, else the first
_RANK = {"composite": 90, "file": 80, "system": 80, "exif": 70, "makernotes": 60, "xmp": 50,
         "iptc": 50, "jfif": 20}
_OTHER_RANK, _LOW_XMP_RANK, _LOW_IFD_RANK, _PREVIEW_RANK = 40, 35, 30, 10
_LOW_IFD = re.compile(r"(IFD[1-9][0-9]*|PreviewIFD)\Z")  # ExifTool's low-priority folders
_LOW_XMP = frozenset({"XMP-tiff", "XMP-exif", "XMP-exifEX"})  # "not as reliable as EXIF"
_PRIORITY0 = frozenset({
    "ImageWidth", "ImageHeight", "BitsPerSample", "Compression", "PhotometricInterpretation",
    "ImageDescription", "Orientation", "SamplesPerPixel", "RowsPerStrip", "XResolution",
    "YResolution", "PlanarConfiguration", "ResolutionUnit", "PrimaryChromaticities",
    "YCbCrCoefficients", "YCbCrSubSampling", "YCbCrPositioning", "ReferenceBlackWhite",
    "WhiteBalance", "MoireFilter"})
_FULL_SIZE = "Full-resolution image"  # SubfileType's value in the priority IFD
# the order of the parts in ExifTool's output (the rest keep the reader's order between)
_FIRST, _LAST = ("system", "file"), ("composite",)
# ExifTool's rule for a JSON number (a value that looks like one, whatever its type)
_NUMBER = re.compile(r"-?([0-9]|[1-9][0-9]{1,14})(\.[0-9]{1,16})?([eE][-+]?[0-9]{1,3})?\Z")


def part_of(path: str) -> str:
    head = path.split("/", 1)[0]
    if head in ("xmp", "iptc", "system"):
        return head
    return head if "/" in path and head in engine.EXTRA_PARTS else "exif"


def _kind(path: str, group: str) -> tuple[str, str, int]:
    """(part, family-0 group, rank) of a tag (one lookup per folder and group)."""
    head = path[:path.find("/") + 1]
    key = (head, group, id(engine.EXTRA_PARTS))
    kind = _KINDS.get(key)
    if kind is None:
        part = part_of(path)
        rank = _RANK.get(part, _OTHER_RANK)
        if part in ("exif", "makernotes") and _LOW_IFD.match(group):
            rank = _PREVIEW_RANK if part == "makernotes" else _LOW_IFD_RANK
        elif group in _LOW_XMP:
            rank = _LOW_XMP_RANK
        kind = _KINDS[key] = (part, FAMILY0.get(part, group), rank)
    return kind


_KINDS: dict[tuple[str, str, int], tuple[str, str, int]] = {}


class Shown:
    """One key/value ExifTool would show (XMP structure fields of one name merged)."""

    __slots__ = ("path", "group", "family0", "name", "value", "rank", "part", "count",
                 "writable")

    def __init__(self, tag: engine.TagValue) -> None:
        self.path, self.group, self.name = tag.path, tag.group, tag.name
        self.part, self.family0, self.rank = _kind(tag.path, tag.group)
        self.count, self.writable = 1, tag.writable
        self.value: str | list[str] = tag.value
        if tag.binary_size is not None:
            self.value = f"(Binary data {tag.binary_size} bytes, use -b option to extract)"

    def key(self, groups: str | None) -> str:
        if groups is None:
            return self.name
        return f"{self.family0 if groups == '0' else self.group}:{self.name}"


def system_tags(path: str, unconverted: bool = False) -> list[engine.TagValue]:
    """ExifTool's File:System tags: facts of the file system, not of the photo
    (``unconverted``: as ``exiftool -n``, the size in bytes and the mode in octal)."""
    import stat
    import time

    try:
        st = os.stat(path)
    except OSError:
        return []

    def when(t: float) -> str:
        tm = time.localtime(t)
        off = tm.tm_gmtoff // 60
        sign = "-" if off < 0 else "+"
        zone = f"{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}"
        return time.strftime("%Y:%m:%d %H:%M:%S", tm) + zone

    values = [("FileName", os.path.basename(path)), ("Directory", os.path.dirname(path) or "."),
              ("FileSize", file_size(st.st_size)), ("FileModifyDate", when(st.st_mtime)),
              ("FileAccessDate", when(st.st_atime)),
              ("FileInodeChangeDate", when(st.st_ctime)),
              ("FilePermissions", stat.filemode(st.st_mode))]
    if unconverted:
        values[2], values[-1] = ("FileSize", str(st.st_size)), ("FilePermissions",
                                                               f"{st.st_mode:o}")
    return [engine.TagValue(f"system/{name}", "System", name, value, False)
            for name, value in values]


def file_size(n: int) -> str:
    """ExifTool's FileSize text (ConvertFileSize: decimal kB, MB, GB)."""
    if n < 2000:
        return f"{n} bytes"
    for limit, div, unit, fmt in ((10_000, 1e3, "kB", "%.1f"), (2_000_000, 1e3, "kB", "%.0f"),
                                  (10_000_000, 1e6, "MB", "%.1f"),
                                  (2_000_000_000, 1e6, "MB", "%.0f"),
                                  (10_000_000_000, 1e9, "GB", "%.1f")):
        if n < limit:
            return f"{fmt % (n / div)} {unit}"
    return f"{n / 1e9:.0f} GB"


def shown_tags(md: engine.Metadata, system: bool = False,
               unconverted: bool = False) -> list[Shown]:
    """The tags as ExifTool lists them: its part order, XMP fields of one name merged
    (``unconverted``: the File:System tags as ``-n`` shows them)."""
    tags: Iterable[engine.TagValue] = md.tags.values()
    if system:
        tags = [*system_tags(md.path, unconverted), *tags]
    out: list[Shown] = []
    xmp: dict[str, Shown] = {}
    for tag in tags:
        s = Shown(tag)
        if s.name == "MakerNotes" and s.part == "exif":
            continue  # the raw block: ExifTool shows its tags (the makernotes part), never it
        if s.part == "xmp":
            key = f"{tag.group}:{tag.name}"
            prev = xmp.get(key)
            if prev is not None:  # flattened structure fields: one list, as ExifTool's
                prev.value = _items(prev.value) + _items(s.value)
                prev.count += 1
                continue
            xmp[key] = s
        out.append(s)
    order = {p: i for i, p in enumerate(_FIRST)}
    last = len(_FIRST) + 1
    return sorted(out, key=lambda s: order.get(s.part, last if s.part in _LAST else len(_FIRST)))


def _items(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def chosen(shown: Sequence[Shown], groups: str | None) -> dict[str, Shown]:
    """Key -> the tag ExifTool shows under it (the highest rank; the first of equals)."""
    main = next((s.group for s in shown if s.part == "exif" and s.value == _FULL_SIZE
                 and s.name in ("SubfileType", "OldSubfileType")), None)
    out: dict[str, Shown] = {}
    for s in shown:
        key = s.key(groups)
        prev = out.get(key)
        if prev is None or s.rank > prev.rank or (
                s.rank == prev.rank and _later_wins(s, prev, main)):
            out[key] = s
    return out


def _later_wins(s: Shown, prev: Shown, main: str | None) -> bool:
    """Of two tags of one rank ExifTool shows the later (the one found last), except an
    EXIF ``Priority => 0`` tag outside the full-size image's IFD.  (Between XMP tags the
    first: the reader does not keep the packet's order.)"""
    if s.part == "exif" and s.name in _PRIORITY0:
        return s.group == main
    return not (s.part == "xmp" == prev.part)


def json_text(value: str | list[str]) -> str:
    """A value as ExifTool's JSON writes it."""
    if isinstance(value, list):
        if len(value) == 1:
            return json_text(value[0])
        return "[" + ",".join(json_text(v) for v in value) + "]"
    if _NUMBER.match(value):
        return value
    if value.lower() in ("true", "false"):
        return value.lower()
    return quoted(value.replace("\0", ""))




class Selection:
    """``-TAG``, ``-GROUP:TAG``, ``-GROUP:all``, ``--TAG`` of ExifTool's command line."""

    def __init__(self, args: Sequence[str]) -> None:
        self.want: list[tuple[str | None, str]] = []
        self.drop: list[tuple[str | None, str]] = []
        for arg in args:
            into = self.drop if arg.startswith("--") else self.want
            into.append(_pattern(arg.lstrip("-")))

    def __bool__(self) -> bool:
        return bool(self.want or self.drop)

    def pick(self, shown: Sequence[Shown]) -> list[Shown]:
        """The tags asked for, in the order asked (all of them when only ``--TAG`` given)."""
        keep = [s for s in shown if not any(_matches(s, p) for p in self.drop)]
        if not self.want:
            return keep
        out: dict[int, Shown] = {}
        for p in self.want:
            for s in keep:
                if id(s) not in out and _matches(s, p):
                    out[id(s)] = s
        return list(out.values())


def _pattern(arg: str) -> tuple[str | None, str]:
    if "/" in arg:
        return "/", arg.lower()  # a metafs tag path
    group, _, name = arg.rpartition(":")
    name = "*" if name.lower() == "all" else name.lower()
    return (group.lower() or None), name


def _matches(s: Shown, pattern: tuple[str | None, str]) -> bool:
    from fnmatch import fnmatchcase

    group, name = pattern
    if group == "/":
        return s.path.lower() == name
    if not fnmatchcase(s.name.lower(), name):
        return False
    return group is None or any(fnmatchcase(g.lower(), group) for g in (s.family0, s.group))


def row(md: engine.Metadata, groups: str | None = None, selection: Selection | None = None,
        system: bool = False, unconverted: bool = False) -> dict[str, str]:
    """One file's object of ``exiftool -j`` (``-n``: ``unconverted``, ``md`` from
    engine.unconvert): key -> its value as JSON text."""
    shown = shown_tags(md, system, unconverted)
    if selection:
        shown = selection.pick(shown)
    out = {"SourceFile": quoted(md.path)}
    for key, s in chosen(shown, groups).items():
        out[key] = json_text(s.value)
    return out


def dumps(rows: Iterable[dict[str, str]]) -> str:
    """The rows (``row``) as ExifTool lays out its JSON."""
    objects = [",\n".join(f"  {quoted(k)}: {v}" for k, v in r.items())
               for r in rows]
    return "[" + ",\n".join("{\n" + o + "\n}" for o in objects) + "]\n" if objects else "[]\n"
