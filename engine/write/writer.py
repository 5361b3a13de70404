"""Public write API: write_metadata, write_metadata_batch, write_exif_field, restore.

``changes`` maps tag paths (as the reader prints them) to value text (the reader's printed
form or a raw/numeric form; list tags one item per line) or ``None`` to delete the tag.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable, Mapping

from engine.errors import (
    CorruptFileError,
    EngineError,
    FileChangedError,
    WriteError,
)
from engine.model import Blocks, Metadata, TagValue
from engine.reader import (
    decode_blocks,
    part_of,
    read_blocks_from,
    read_metadata,
)
from engine.record import FrozenRecord, Record
from engine.registry import format_named
from engine.safewrite import safety
from engine.write.changes import SYNC_GROUPS, expand_sync, split_changes
from engine.write.validate import Original, validate


class WriteResult(Record):
    __slots__ = ("path", "backup", "written", "unchanged", "notes")
    path: str
    backup: str | None  # where the original is kept (None when no backup was asked for)
    written: dict[str, str | None]  # tag path -> new text
    unchanged: bool  # nothing needed writing; the file was not touched
    notes: list[str]  # what the caller should tell the user although the write succeeded

    def __init__(self, path: str, backup: str | None,
                 written: dict[str, str | None] | None = None, unchanged: bool = False,
                 notes: list[str] | None = None) -> None:
        self.path = path
        self.backup = backup
        self.written = {} if written is None else written
        self.unchanged = unchanged
        self.notes = [] if notes is None else notes


class TagSpec(FrozenRecord):
    __slots__ = ("path", "writable", "is_list", "kind")
    path: str
    writable: bool
    is_list: bool  # list tags take one item per line; ">>" appends an item
    kind: str  # "string", "int", "rational", "date", "enum", "lang-alt", "list"...

    def __init__(self, path: str, writable: bool, is_list: bool, kind: str) -> None:
        self._init(path, writable, is_list, kind)


def _same_value(md: Metadata, path: str, text: str | None) -> bool:
    tag = md.tags.get(path)
    if text is None:
        return tag is None
    if tag is None:
        return False
    value = tag.value if isinstance(tag.value, list) else [tag.value]
    return "\n".join(value) == text


CHANGED_RETRIES = 4  # plans made afresh when another program changes the file meanwhile


def write_metadata(
    path: str | os.PathLike[str],
    changes: Mapping[str, str | None],
    *,
    backup: bool = True,
    backups: str | os.PathLike[str] | None = None,
    sync_related: bool = True,
    root: str | os.PathLike[str] | None = None,
    keep_mtime: bool = False,
    repair: bool = False,
    ops=None,
) -> WriteResult:
    """Apply ``changes`` through the safe-write pipeline (backup, temp, validate, rename).

    ``ops``: the system calls the write makes (engine.safewrite.sysops.SysOps; tests pass
    one that fails a chosen call).

    ``keep_mtime`` (``exiftool -P``): the photo keeps its modification time.
    ``repair`` (``metafs write --repair``): EXIF damage the write would refuse is first repaired
    from what is readable (engine.write.repair); the notes say what was repaired and dropped.

    ``root`` (the daemon's SOURCE) confines the write: no symlink is followed from ``root``
    down to the photo, nor in the backup tree, and a path outside ``root`` is refused.
    Writers of one photo (other processes too) take turns: each holds a lock on the photo
    from planning to rename."""
    path = os.fspath(path)
    root = None if root is None else os.fspath(root)
    try:
        for attempt in range(CHANGED_RETRIES):
            try:
                return _write(path, changes, backup, backups, sync_related, root, keep_mtime,
                              repair, ops)
            except FileChangedError:
                # Another program wrote the file meanwhile: the changes are whole values,
                # so they apply as well to its new content (planned again from it).
                if attempt == CHANGED_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")
    except EngineError as e:
        if e.path is None or "\n" in str(e):  # every message names the file, on one line
            err = type(e).__new__(type(e))
            EngineError.__init__(err, " ".join(e.reason.split()), path=e.path or path,
                                 offset=e.offset, tag=e.tag)
            raise err from e
        raise
    except (ValueError, TypeError, LookupError, ArithmeticError, struct.error) as e:
        # A bug, not the user's input: still one clear EngineError (the daemon's commit path
        # and the CLI rely on that), and the file is untouched (the rewrite never started,
        # or its temporary file was removed).
        import logging

        logging.getLogger(__name__).exception("unexpected error writing %s", path)
        raise WriteError(f"internal error ({type(e).__name__}: {e}); the file is untouched; "
                         "please report this", path=path) from e


def _write(path: str, changes: Mapping[str, str | None], backup: bool,
           backups: str | os.PathLike[str] | None, sync_related: bool,
           root: str | None = None, keep_mtime: bool = False,
           repair: bool = False, ops=None) -> WriteResult:
    from engine.safewrite.paths import Target

    with Target(path, root, ops=ops) as target:
        target.lock()  # held until the new file is in place (or the write gave up)
        return _write_locked(target, path, changes, backup, backups, sync_related, keep_mtime,
                             repair)


def _write_locked(target, path: str, changes: Mapping[str, str | None], backup: bool,
                  backups: str | os.PathLike[str] | None, sync_related: bool,
                  keep_mtime: bool = False, repair: bool = False) -> WriteResult:
    planned_from: os.stat_result | None = os.fstat(target.fd)
    if planned_from.st_size == 0:
        raise CorruptFileError("empty file", path=path)
    try:
        data = mmap.mmap(target.fd, 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise EngineError(f"cannot read: {e.strerror or e}", path=path) from e
    with data:
        repaired: list[str] = []
        if repair:
            from engine.write.repair import repaired_view

            data, repaired = repaired_view(data, path)  # the mmap itself is closed by `with`
        before, blocks, parts, known, quick = _read_for_plan(data, path, changes, sync_related)
        wanted = {p: t for p, t in changes.items() if not _same_value(known, p, t)}
        if not wanted:
            return WriteResult(path, None, {}, unchanged=True)
        asked = set(wanted)
        copied: dict[str, list[str]] = {}
        if sync_related:
            # every value asked for counts, those already in place too: a copy never
            # overrides one (copy-tags and `cp -r` ask for many values the photo has)
            wanted = expand_sync(changes, known, copied)
            wanted = {p: t for p, t in wanted.items() if not _same_value(known, p, t)}
        from engine.write.planners import planner_for

        planner = planner_for(before.format, path, before.file_type)  # refuses read-only types
        edits = split_changes(wanted, known, frozenset(set(wanted) - asked))
        if quick is not None and not _quick_edit(quick, blocks, edits, _xmp_room(before)):
            decode_blocks(blocks, before, frozenset({"xmp"}))  # the lxml path after all
            parts |= {"xmp"}
        plan = planner(data, edits, path)
        if repaired:  # the plan's copied ranges are of the repaired bytes, not of the file
            plan = [bytes(data[p[0] : p[0] + p[1]]) if isinstance(p, tuple) else p
                    for p in plan]
        decoded = parts - {"exif"}
        notes = repaired + [n for p, ns in copied.items() if p in wanted for n in ns]
        notes += _link_notes(planned_from, path, backup, backups)
        backup_file = safety.safe_rewrite(
            path, plan,
            validate=lambda tmp: validate(tmp, path, Original(data, before, blocks, decoded),
                                          edits),
            backup=backup, backups=backups, planned_from=planned_from, target=target,
            keep_mtime=keep_mtime,
        )
    return WriteResult(path, backup_file, dict(edits.paths), notes=notes)


def _read_for_plan(data, path: str, changes: Mapping[str, str | None], sync_related: bool):
    """The original's metadata for planning: ``before`` (its parts the write touches,
    decoded, but EXIF), its blocks, those parts, ``known`` (``before`` with the EXIF tags
    planning looks at and the XMP copies' places engine.xmp.quick found: ``quick``)."""
    before, blocks = read_blocks_from(data, path)
    parts = _without_absent_copies(_parts_touched(changes, sync_related), changes, blocks)
    quick = _quick_scan(parts, changes, before, blocks) if sync_related else None
    if quick is not None:  # the XMP copies are read and edited without lxml
        parts -= {"xmp"}
    decode_blocks(blocks, before, parts - {"exif"})  # the rest: not needed, nor checked
    # Planning looks at a few EXIF tags only, so only they are decoded now; validate
    # decodes the rest while the new file is flushed (0.3 ms off a 6 ms write).
    known = before
    if "exif" in parts or quick is not None:
        known = Metadata(path, before.format, dict(before.tags), file_type=before.file_type)
        known.tags.update(_quick_tags(quick))
    if "exif" in parts:
        decode_blocks(blocks, known, frozenset({"exif"}), _exif_names(changes, sync_related))
    return before, blocks, parts, known, quick


def _link_notes(st: os.stat_result | None, path: str, backup: bool,
                backups: str | os.PathLike[str] | None) -> list[str]:
    """The file has other names (hard links): a write replaces the file at ``path`` only,
    as ExifTool's does, so those names keep the previous version.  Say so.  (Called before
    the write: a backup already linked to the file is no other name of it.)"""
    others = st.st_nlink - 1 if st is not None else 0
    if others and backup and st is not None:
        try:
            kept = os.stat(safety.backup_path_for(path, backups))
            others -= (kept.st_dev, kept.st_ino) == (st.st_dev, st.st_ino)
        except OSError:
            pass
    if others <= 0:
        return []
    names = "another name" if others == 1 else f"{others} other names"
    return [f"the file had {names} (hard links); only this one shows the change, the other "
            "names keep the previous version"]


def _parts_touched(paths: Iterable[str], sync_related: bool) -> frozenset[str]:
    """The parts (EXIF, XMP, IPTC) a change set can touch: those of its own tag paths and,
    with synchronisation, of every place a synchronised value lives (engine.write.changes)."""
    paths = set(paths)
    parts = {part_of(p) for p in paths}
    if sync_related:
        for group in SYNC_GROUPS:
            if not paths.isdisjoint(group):
                parts.update(part_of(p) for p in group)
    return frozenset(parts)


def _without_absent_copies(parts: frozenset[str], paths: Iterable[str],
                           blocks: Blocks) -> frozenset[str]:
    """Leave XMP out when it is touched only as the place of a copy and its packet cannot
    hold that place: no property of that local name appears in its bytes (XML names cannot
    be escaped).  A copy is never added where the photo lacks it, so nothing changes, and a
    one-tag write (Artist, kept in step with dc:creator) need not load the XML parser."""
    paths = set(paths)
    if "xmp" not in parts or any(part_of(p) == "xmp" for p in paths):
        return parts
    names = {p.rpartition(":")[2].encode() for group in SYNC_GROUPS
             if not paths.isdisjoint(group) for p in group if part_of(p) == "xmp"}
    packets = [bytes(b) for b in (blocks.xmp, blocks.xmp_extended) if b is not None]
    if any(b"\0" in packet for packet in packets):  # UTF-16/32: names are not ASCII bytes
        return parts
    if any(name in packet for packet in packets for name in names):
        return parts
    return parts - {"xmp"}


def _quick_scan(parts: frozenset[str], changes: Mapping[str, str | None], before: Metadata,
                blocks: Blocks):
    """engine.xmp.quick's scan of a JPEG's XMP packet for the places of synchronised
    copies, when the change set touches the XMP only as such places (nothing asked of
    XMP itself, no Extended XMP, one standard XMP segment); None: the lxml path."""
    if "xmp" not in parts or not _xmp_room(before) or blocks.xmp is None or \
            blocks.xmp_extended is not None or any("XMP" in w for w in blocks.warnings) or \
            any(part_of(p) == "xmp" for p in changes):
        return None
    from engine.xmp.quick import scan

    tags = [p[4:] for group in SYNC_GROUPS if not set(changes).isdisjoint(group)
            for p in group if part_of(p) == "xmp"]
    return scan(blocks.xmp, tags)


def _xmp_room(md: Metadata) -> int:
    """How large an XMP packet md's container takes edited in place (0: no such path)."""
    fmt = format_named(md.format)
    return fmt.xmp_in_place if fmt is not None else 0


def _quick_tags(quick) -> dict[str, TagValue]:
    """The copies' places the scan found, as engine.xmp.decode reports them."""
    if quick is None:
        return {}
    out = {}
    for tag, place in quick.found.items():
        prefix, _, name = tag.partition(":")
        out[f"xmp/{tag}"] = TagValue(f"xmp/{tag}", f"XMP-{prefix}", name[:1].upper() + name[1:],
                                     place.value)
    return out


def _quick_edit(quick, blocks: Blocks, edits, room: int) -> bool:
    """The XMP edits made linearly (``edits.xmp_quick``), or False: the lxml path's."""
    if not edits.xmp:
        return True
    from engine.xmp.quick import Declined, edit

    if not set(edits.xmp) <= set(quick.found) or None in edits.xmp.values():
        return False  # deletions: the lxml path (emptied rdf:Descriptions go too)
    try:
        new = edit(quick, edits.xmp, room)
    except Declined:
        return False
    edits.xmp_quick = (bytes(blocks.xmp), new)
    return True


def _exif_names(paths: Iterable[str], sync_related: bool) -> frozenset[str]:
    """The EXIF tag names planning a change set looks at: its own and, with
    synchronisation, those of the places its values are copied to."""
    paths = set(paths)
    if sync_related:
        for group in SYNC_GROUPS:
            if not paths.isdisjoint(group):
                paths.update(group)
    return frozenset(p.rpartition("/")[2].partition("#")[0] for p in paths
                     if part_of(p) == "exif")


def write_metadata_batch(
    operations: Iterable[tuple[str | os.PathLike[str], Mapping[str, str | None]]], **kwargs
) -> list[WriteResult | EngineError]:
    """Write many files; a failing file gives its error in place of a result and the rest go on."""
    results: list[WriteResult | EngineError] = []
    for path, changes in operations:
        try:
            results.append(write_metadata(path, changes, **kwargs))
        except EngineError as e:
            results.append(e)
    return results


def write_exif_field(path: str | os.PathLike[str], field: str, value: str | None) -> WriteResult:
    return write_metadata(path, {field: value})


def restore(path: str | os.PathLike[str], *, backups: str | os.PathLike[str] | None = None,
            root: str | os.PathLike[str] | None = None, keep_mtime: bool = False) -> str:
    """Put the backed-up original back in place; returns the backup path used.  ``root``
    confines it as for write_metadata; the photo's writers' lock is held meanwhile.
    ``keep_mtime``: the photo keeps the modification time it had before the restore."""
    return safety.restore_file(os.fspath(path), backups,
                               None if root is None else os.fspath(root), keep_mtime)


def list_backups(path: str | os.PathLike[str], *,
                 backups: str | os.PathLike[str] | None = None) -> list[tuple[str, os.stat_result]]:
    """The backups kept of ``path`` (its original first, then ``.replaced-*`` ones)."""
    return safety.list_backups(os.fspath(path), backups)


def template_changes(
    source: str | os.PathLike[str], tags: list[str] | None = None
) -> dict[str, str]:
    """The writable tags of ``source`` as a change set to apply to other files.  ``tags``
    names tags or XMP structures (all their fields).  Items of lists of structures are left
    out: item N of the template is not item N of another file's list.  Without ``tags``,
    the tags ExifTool flags Protected (image structure such as ImageWidth or Compression,
    camera calibration: engine.exif.tables.PROTECTED) are left out too, as
    ``exiftool -tagsFromFile`` does; named in ``tags``, they are copied."""
    from engine.exif.tables import PROTECTED

    md = read_metadata(source)
    wanted = tuple(t + "/" for t in tags or ())
    out: dict[str, str] = {}
    for p, t in md.tags.items():
        if "#" in p or not t.writable or t.is_binary:
            continue
        if tags and p not in tags and not p.startswith(wanted):
            continue
        if not tags and t.name in PROTECTED and part_of(p) == "exif":
            continue
        if "[" in p or ("/" in p and part_of(p) == "exif"):
            continue  # ifd1/, subifd/...: the thumbnail's and the raw data's own tags
        try:
            check_value(p, "\n".join(t.value) if isinstance(t.value, list) else t.value)
        except EngineError:
            continue
        out[p] = "\n".join(t.value) if isinstance(t.value, list) else t.value
    return out


def tag_spec(tag_path: str) -> TagSpec:
    """What kind of tag ``tag_path`` is; raises UnknownTagError for names nobody knows."""
    if tag_path.startswith("xmp/"):
        from engine.xmp.paths import resolve

        t = resolve(tag_path[4:])  # a top-level property, or a field of a structure
        code = t.code
        if code.startswith("S"):  # a structure itself: its fields are the tags to write
            return TagSpec(tag_path, False, False, "struct")
        is_list = len(code) > 1 and code[1] in "BQL"
        kind = {"l": "lang-alt", "d": "date", "i": "int", "r": "rational"}.get(code[:1], "string")
        return TagSpec(tag_path, "-" not in code, is_list, "list" if is_list else kind)
    if tag_path.startswith("iptc/"):
        from engine.iptc.edit import dataset_for

        ds = dataset_for(tag_path[5:])
        return TagSpec(tag_path, True, ds.repeatable, "list" if ds.repeatable else ds.kind)
    from engine.exif.encode import lookup

    d = lookup(tag_path.rpartition("/")[2])
    kind = "enum" if d.values else d.fmt
    return TagSpec(tag_path, True, False, kind)


def check_value(tag_path: str, text: str) -> None:
    """Raise TagValueError/ReadOnlyTagError/UnknownTagError when ``text`` cannot be written."""
    if tag_path.startswith("xmp/"):
        from engine.xmp.paths import check_target, resolve

        check_target(resolve(tag_path[4:]), text.split("\n") if "\n" in text else text)
        return
    if tag_path.startswith("iptc/"):
        from engine.iptc.edit import check_iptc_value

        check_iptc_value(tag_path[5:], text)
        return
    from engine.exif.encode import encode

    encode(tag_path.rpartition("/")[2], text, "<")


__all__ = [
    "TagSpec", "WriteResult", "check_value", "restore", "tag_spec",
    "template_changes", "write_exif_field", "write_metadata", "write_metadata_batch",
]
