"""Spreadsheet round trips: ``metafs read --csv`` and ``metafs write --csv/--json FILE``.

The layout is ExifTool's ``-csv``: a ``SourceFile`` column, then one column per tag (tag
paths as ``metafs read`` prints them, sorted), list items joined with a separator.  On
import an empty cell leaves the tag alone (``exiftool -csv=`` ignores empty values), a cell
holding the delete marker (``-``, ExifTool's with ``-f``) deletes the tag, and a cell equal
to what the file holds is skipped, so a spreadsheet exported, edited in one cell and
imported changes that one tag (and, unless ``--no-sync``, its EXIF/XMP/IPTC copies).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import IO, Any

import engine
from engine import EngineError, TagValueError

# Columns that describe a row, not tags of the photo (ExifTool ignores FileName and
# Directory on import too; the other File:System facts are not written from a table).
NOT_TAGS = frozenset({"SourceFile", "Error", "FileName", "Directory", "FileSize",
                      "FileModifyDate", "FileAccessDate", "FileInodeChangeDate",
                      "FilePermissions"})


class ReadOutput:
    """What ``metafs read`` shows of each file: the parts read (``-a`` or a tag selection:
    every part, else the quick ones), the tags picked (``-TAG``), the keys (``-G``/``-G1``)
    and the values (``--json`` as ``exiftool -j``, ``--csv``, text)."""

    def __init__(self, args: Any) -> None:
        from metafs.jsonout import Selection

        self.json, self.csv, self.groups = args.json, args.csv, args.groups
        self.sep = args.sep
        self.selection = Selection(getattr(args, "tags", None) or ())
        self.everything = bool(getattr(args, "all", False) or self.selection)
        self.parts = (engine.PARTS | frozenset(engine.EXTRA_PARTS) if self.everything
                      else engine.PARTS)
        self.unconverted = bool(getattr(args, "unconverted", False))  # -n (metafs.cli)

    def _shown(self, md: engine.Metadata, system: bool = False) -> list:
        from metafs.jsonout import shown_tags

        shown = shown_tags(md, system, self.unconverted)
        return self.selection.pick(shown) if self.selection else shown

    def row(self, md: engine.Metadata) -> dict[str, Any]:
        """One file's row: JSON texts (--json) or values (--csv)."""
        from metafs.jsonout import chosen, row

        if self.json:
            return row(md, self.groups, self.selection, self.everything, self.unconverted)
        if self.groups:
            shown = chosen(self._shown(md, self.everything), self.groups)
            return {"SourceFile": md.path, **{k: s.value for k, s in shown.items()}}
        keep = {s.path for s in self._shown(md)} if self.selection else None
        return {k: v for k, v in md.to_json().items()
                if keep is None or k == "SourceFile" or k in keep}

    def error_row(self, path: str, msg: str) -> dict[str, Any]:
        if self.json:
            return {"SourceFile": _quoted(path), "Error": _quoted(msg)}
        return {"SourceFile": path, "Error": msg}

    def text(self, md: engine.Metadata) -> list[tuple[str, str]]:
        """``key: value`` lines: tag paths, or Group:Name with -G (every tag, as -a)."""
        if not self.groups and not self.selection:
            shown_items = [(t.path, t.value) for t in md.tags.values()]
        else:
            shown_items = [(s.key(self.groups) if self.groups else s.path, s.value)
                           for s in self._shown(md)]
        return [(k, v if isinstance(v, str) else ", ".join(v)) for k, v in shown_items]

    def write(self, rows: list[dict[str, Any]], out: IO[str]) -> None:
        if self.json:
            from metafs.jsonout import dumps

            out.write(dumps(rows))
        else:
            write_csv(rows, out, self.sep)


def _quoted(text: str) -> str:
    from metafs.jsonout import quoted

    return quoted(text)


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str], sep: str = ", ") -> None:
    """The rows (``Metadata.to_json`` dicts) as ExifTool's CSV layout."""
    import csv

    rows = list(rows)
    columns = sorted({k for r in rows for k in r if k != "SourceFile"})
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["SourceFile", *columns])
    for r in rows:
        w.writerow([r.get("SourceFile", "")] + [_cell(r.get(c), sep) for c in columns])


def _cell(value: Any, sep: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return sep.join(str(v) for v in value)
    return str(value)


def _key(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def read_csv(path: str) -> list[dict[str, Any]]:
    import csv

    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0] != "SourceFile":
            raise ValueError(f"{path}: the first column must be SourceFile (exiftool -csv)")
        return [dict(zip(header, row, strict=False)) for row in reader if row]


def read_json(path: str) -> list[dict[str, Any]]:
    import json

    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(
            isinstance(r, dict) and isinstance(r.get("SourceFile"), str) for r in data):
        raise ValueError(f"{path}: expected a list of objects with a SourceFile, "
                         "as `metafs read --json` prints")
    return data


def _text(value: Any, spec_list: bool, sep: str | None) -> str:
    """A cell as the engine's value text: list items one per line."""
    if isinstance(value, list):
        return "\n".join(_text(v, False, None) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if spec_list and sep:
        return "\n".join(item.strip() for item in text.split(sep))
    return text


def _is_list(path: str, current: Any) -> bool:
    if isinstance(current, list):
        return True
    try:
        return engine.tag_spec(path).is_list
    except EngineError:
        return False


def _keyed(md: engine.Metadata, system: bool = False) -> dict[str, Any]:
    """Every key ``metafs read --json``/``--csv`` may show (Name, Group:Name of both
    families, tag path) -> the tag shown under it (metafs.jsonout.Shown)."""
    from metafs.jsonout import chosen, shown_tags

    shown = shown_tags(md, system)
    out: dict[str, Any] = {s.path: s for s in shown if s.part != "xmp"}  # `read --csv -a`
    for groups in ("1", "0", None):
        for key, tag in chosen(shown, groups).items():
            out.setdefault(key, tag)
    return out


def _same(value: Any, shown: Any, sep: str) -> bool:
    """A cell (CSV text, or a JSON value) holds what the file shows."""
    import json

    from metafs.jsonout import json_text

    return _cell(value, sep) == _cell(shown, sep) or value == json.loads(json_text(shown))


def changes_for(path: str, row: dict[str, Any], sep: str | None,
                marker: str) -> dict[str, str | None]:
    """The changes a row asks of the file at ``path``: cells that differ from its tags.
    Columns may be tag paths or ExifTool's keys (``Make``, ``EXIF:Make``, ``IFD0:Make``,
    as ``metafs read --json``/``-G`` print them): those stand for the tag shown under them."""
    md = engine.read_metadata(path)
    keyed = _keyed(md) if any(c not in md.tags and c not in NOT_TAGS for c in row) else {}
    changes: dict[str, str | None] = {}
    everything = False  # the keys of the parts read on request are in ``keyed``
    for col, value in row.items():
        if col in NOT_TAGS or value is None or value == "" or value == []:
            continue
        if col not in md.tags and col not in keyed and not everything and not _known(col):
            # a `read -a` listing: File, Composite, maker notes... (read-only) too
            md_all = engine.read_metadata(path, engine.PARTS | frozenset(engine.EXTRA_PARTS))
            keyed, everything = {**_keyed(md_all, system=True), **keyed}, True
        if col not in md.tags and col in keyed:
            shown = keyed[col]
            if _same(value, shown.value, sep or ", "):
                continue  # as read
            if not shown.writable:
                raise TagValueError(f"column {col}: a {shown.family0} tag, read-only", path=path)
            if shown.count > 1:
                raise TagValueError(f"column {col} stands for {shown.count} tags "
                                    f"({shown.path}...): use tag paths", path=path)
            col = shown.path
        tag = md.tags.get(col)
        if value == marker:
            if tag is not None:
                changes[col] = None
            continue
        current = None if tag is None else tag.value
        text = _text(value, _is_list(col, current), sep)
        have = None if current is None else (
            "\n".join(current) if isinstance(current, list) else current)
        if text != have:
            changes[col] = text
    return changes


def _known(col: str) -> bool:
    """``col`` is a tag path metafs writes."""
    try:
        engine.tag_spec(col)
    except EngineError:
        return False
    return True


def import_table(args: Any, run_batch: Callable[..., int]) -> int:
    """``metafs write --csv/--json FILE FILES...``: each named file (a folder: its images)
    gets the values of its row, as one safe write."""
    from metafs.cli import _expand, _print_err, write_options

    source = args.csv or args.json
    try:
        rows = read_csv(source) if args.csv else read_json(source)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        _print_err(f"{source}: cannot read: {getattr(e, 'strerror', None) or e}")
        return 2
    by_file: dict[str, dict[str, Any]] = {}
    default: dict[str, Any] = {}
    for row in rows:
        if row["SourceFile"] == "*":  # ExifTool: values for every file
            default.update(row)
        else:
            by_file.setdefault(_key(row["SourceFile"]), {}).update(row)
    files, empty = _expand(args.files, False)
    sep = args.sep if args.csv else None  # JSON lists are lists already
    options = write_options(args)

    def write(f: str) -> engine.WriteResult:
        row = {**default, **by_file.get(_key(f), {})}
        if _key(f) not in by_file and not default:
            raise TagValueError(f"no row for this file in {source}", path=f)
        changes = changes_for(f, row, sep, args.delete_marker)
        if not changes:
            return engine.WriteResult(f, None, {}, unchanged=True)
        return engine.write_metadata(f, changes, **options)

    status = run_batch(files, write, "write", args.quiet)
    return status or (1 if empty else 0)
