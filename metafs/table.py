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
# Directory on import too).
NOT_TAGS = frozenset({"SourceFile", "Error", "FileName", "Directory"})


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


def changes_for(path: str, row: dict[str, Any], sep: str | None,
                marker: str) -> dict[str, str | None]:
    """The changes a row asks of the file at ``path``: cells that differ from its tags."""
    md = engine.read_metadata(path)
    grouped: dict[str, list[str]] = {}  # `read -G` columns: Group:Name -> tag paths
    for p, t in md.tags.items():
        grouped.setdefault(f"{t.group}:{t.name}", []).append(p)
    shown = md.to_json(exiftool_keys=True) if any(c in grouped for c in row) else {}
    changes: dict[str, str | None] = {}
    for col, value in row.items():
        if col in NOT_TAGS or value is None or value == "" or value == []:
            continue
        if col not in md.tags and col in grouped:
            if _cell(value, sep or ", ") == _cell(shown.get(col), sep or ", "):
                continue  # as read
            if len(grouped[col]) > 1:
                raise TagValueError(f"column {col} stands for {len(grouped[col])} tags "
                                    f"({grouped[col][0]}...): use tag paths (read without -G)",
                                    path=path)
            col = grouped[col][0]
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
