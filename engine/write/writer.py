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
    ValidationError,
    WriteError,
)
from engine.model import Blocks, Metadata
from engine.reader import (
    PARTS,
    decode_blocks,
    part_of,
    read_blocks_from,
    read_metadata,
)
from engine.record import FrozenRecord, Record
from engine.safewrite import safety
from engine.write.changes import SYNC_GROUPS, Edits, expand_sync, split_changes


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
) -> WriteResult:
    """Apply ``changes`` through the safe-write pipeline (backup, temp, validate, rename).

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
                              repair)
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
           repair: bool = False) -> WriteResult:
    from engine.safewrite.paths import Target

    with Target(path, root) as target:
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
        before, blocks = read_blocks_from(data, path)
        parts = _without_absent_copies(_parts_touched(changes, sync_related), changes, blocks)
        decode_blocks(blocks, before, parts - {"exif"})  # the rest: not needed, nor checked
        # Planning looks at a few EXIF tags only, so only they are decoded now; _validate
        # decodes the rest while the new file is flushed (0.3 ms off a 6 ms write).
        known = before
        if "exif" in parts:
            known = Metadata(path, before.format, dict(before.tags), file_type=before.file_type)
            decode_blocks(blocks, known, frozenset({"exif"}), _exif_names(changes, sync_related))
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
        plan = planner(data, edits, path)
        if repaired:  # the plan's copied ranges are of the repaired bytes, not of the file
            plan = [bytes(data[p[0] : p[0] + p[1]]) if isinstance(p, tuple) else p
                    for p in plan]
        decoded = parts - {"exif"}
        notes = repaired + [n for p, ns in copied.items() if p in wanted for n in ns]
        notes += _link_notes(planned_from, path, backup, backups)
        backup_file = safety.safe_rewrite(
            path, plan,
            validate=lambda tmp: _validate(tmp, path, before, edits, data, blocks, decoded),
            backup=backup, backups=backups, planned_from=planned_from, target=target,
            keep_mtime=keep_mtime,
        )
    return WriteResult(path, backup_file, dict(edits.paths), notes=notes)


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


def _same_block(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, mmap.mmap) or isinstance(b, mmap.mmap):
        return False  # the block is the whole file (TIFF): rewritten
    return len(a) == len(b) and a == b


def _changed_parts(old: Blocks, new: Blocks) -> frozenset[str]:
    """The parts whose source bytes differ between two files of the same format.  Decoding
    is a pure function of those bytes (and the EXIF's file position), so the tags and
    warnings of every other part are identical by construction."""
    same_exif = (
        _same_block(old.exif, new.exif) and old.extra_exif == new.extra_exif
        and (old.exif_offset, old.offset_base) == (new.exif_offset, new.offset_base)
    )
    changed = set() if same_exif else {"exif"}
    # XMP and IPTC missing from the container may come from inside the EXIF (TIFF tags)
    if not (_same_block(old.xmp, new.xmp) and _same_block(old.xmp_extended, new.xmp_extended)
            and (old.xmp is not None or same_exif)):
        changed.add("xmp")
    if not (_same_block(old.iptc, new.iptc) and (old.iptc is not None or same_exif)):
        changed.add("iptc")
    return frozenset(changed)


def _image_regions(fmt: str, new_fmt: str, original, data
                   ) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """Where the image data that must not change lies, in the original and the new file
    (JPEG: from SOS to the end, but for trailers with absolute offsets, which
    engine.containers.trailers_write.check_trailers checks)."""
    if fmt != "JPEG":
        return None, None
    from engine.containers.trailers_write import image_region, image_regions

    if new_fmt != "JPEG":
        return image_region(original), None
    return image_regions(original, data)


def _heif_items(data) -> dict:
    from engine.containers.heif_write import image_items

    return image_items(data)


def _tiff_layout(data) -> list | None:
    if bytes(data[:2]) not in (b"II", b"MM"):
        return None
    from engine.containers.tiff_write import image_layout
    from engine.exif.ifd import parse_tiff

    return image_layout(parse_tiff(data))


def _same_bytes(a, a_start: int, b, b_start: int, size: int) -> bool:
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


def _validate(tmp: str, path: str, before: Metadata, edits: Edits, original,
              old_blocks: Blocks | None = None, decoded: frozenset[str] = PARTS) -> None:
    """Re-parse the temporary file: changes read back, everything else is identical.

    ``before`` holds the ``decoded`` parts of the original, whose blocks are ``old_blocks``.
    A part whose bytes the rewrite left as they were is identical by construction; every
    other part, and every part an edit is in, is decoded from both files and compared tag by
    tag and warning by warning (the original is decoded again when ``before`` lacks it)."""
    try:
        with open(tmp, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            after, new_blocks = read_blocks_from(data, path)
            check = PARTS
            if old_blocks is not None and after.format == before.format:
                check = _changed_parts(old_blocks, new_blocks) | {part_of(p) for p in edits.paths}
            decode_blocks(new_blocks, after, check)
            if check != decoded:
                before = _decode_again(before, old_blocks, original, check, decoded)
            old, new = _image_regions(before.format, after.format, original, data)
            if old is not None and (
                new is None or old[1] - old[0] != new[1] - new[0]
                or not _same_bytes(original, old[0], data, new[0], old[1] - old[0])
            ):
                raise ValidationError("image data changed; nothing was written", path=path)
            if old is not None:
                from engine.containers.trailers_write import check_trailers

                why = check_trailers(original, data)
                if why is not None:
                    raise ValidationError(f"{why}; nothing was written", path=path)
            if before.format == "HEIF" and _heif_items(original) != _heif_items(data):
                raise ValidationError("image items changed; nothing was written", path=path)
            if old is None and _tiff_layout(original) != _tiff_layout(data):
                # The plan copies image ranges untouched (the planner checks no patch meets
                # them); here we check every strip/tile/JPEG pointer still says the same.
                raise ValidationError("image data pointers changed; nothing was written",
                                      path=path)
    except ValidationError:
        raise
    except EngineError as e:
        raise ValidationError(f"the rewritten file does not read back ({e}); nothing was "
                              "written", path=path) from e
    touched = set(edits.paths)
    if edits.xmp:  # names the Extended XMP packet, rewritten when an edit is in it
        touched.add("xmp/xmpNote:HasExtendedXMP")
    # GPS reference tags ride along with their coordinates.
    touched |= {p + "Ref" for p in edits.paths if p.startswith("GPS")}
    # An XMP path covers its other languages and, deleted, what lies under it (the fields
    # of a structure deleted whole); the sibling fields of an edited field are checked.
    under = tuple(t + "-" for t in touched if t.startswith("xmp/")) + tuple(
        p + s for p, t in edits.paths.items() if t is None and p.startswith("xmp/")
        for s in ("/", "["))
    removed = _removed_items(before.tags, edits.paths)
    for p, tag in before.tags.items():
        if p in touched or _base(p) in touched or (under and p.startswith(under)):
            continue
        if tag.name.endswith(_MOVABLE) and p in after.tags:
            continue  # printed as a file position: moves when an earlier segment changes size
        new = after.tags.get(_shift(p, removed) or p)
        if new is None or new.value != tag.value:
            got = "missing" if new is None else repr(new.value)
            raise ValidationError(
                f"tag {p} would change ({tag.value!r} -> {got}) though it was not asked to; "
                "nothing was written", path=path)
    for p, text in edits.paths.items():
        now = _shift(p, removed)  # None: its item was removed, as every field of it was
        present = now is not None and now in after.tags
        if text is None and present:
            raise ValidationError(f"tag {p} is still there after deleting it; nothing was "
                                  "written", path=path)
        if text is not None and not present:
            raise ValidationError(f"tag {p} does not read back after writing it; nothing was "
                                  "written", path=path)
    for ifd, name, text in edits.exif:
        path_of = f"ifd1/{name}" if ifd == "IFD1" else name
        if text is not None and not _reads_back(name, text, after.tags.get(path_of)):
            got = after.tags[path_of].value if path_of in after.tags else "nothing"
            raise ValidationError(f"tag {path_of} reads back as {got!r}, which is not what "
                                  f"{text!r} stores; nothing was written", path=path)
    if edits.xmp:
        from engine.xmp.paths import reads_back

        for tag, value in edits.xmp.items():
            new = after.tags.get(f"xmp/{tag}")
            if value is not None and new is not None and new.binary_size is None and \
                    not reads_back(tag, new.value, value):
                got, asked = repr(new.value), repr(value)
                got, asked = (t if len(t) < 80 else t[:70] + "..." for t in (got, asked))
                raise ValidationError(f"tag xmp/{tag} reads back as {got}, which is not what "
                                      f"{asked} stores; nothing was written", path=path)
    if len(after.warnings) > len(before.warnings):
        new = [w for w in after.warnings if w not in before.warnings]
        raise ValidationError(f"the rewritten file reads with a new warning ({new[:1]}); "
                              "nothing was written", path=path)


_MOVABLE = ("Offset", "Offsets", "Start")  # name endings of tags printed as file positions


def _decode_again(before: Metadata, blocks: Blocks | None, original,
                  parts: frozenset[str], decoded: frozenset[str] = PARTS) -> Metadata:
    """The original's ``parts``; ``before`` holds its ``decoded`` parts (and its container's
    warnings): when those are all wanted, only the others are decoded."""
    if blocks is None:
        _, blocks = read_blocks_from(original, before.path)
    if decoded <= parts:
        md = Metadata(before.path, before.format, dict(before.tags), list(before.warnings),
                      before.file_type)
        parts = parts - decoded
    else:
        md = Metadata(before.path, before.format, file_type=before.file_type)
        md.warnings.extend(blocks.warnings)
    try:
        decode_blocks(blocks, md, parts)
    except EngineError as e:  # it did read when the write was planned
        raise ValidationError(f"the original no longer reads ({e}); nothing was written",
                              path=before.path) from e
    return md


def _reads_back(name: str, text: str, tag) -> bool:
    """An EXIF value reads back right when its printed form encodes to the same bytes as the
    text we were given or, the printed form being lossy (1/3 s prints 0.3), when what
    ``text`` stores prints as what was read (engine.exif.encode.reads_back)."""
    from engine.exif.encode import reads_back

    if tag is None or not isinstance(tag.value, str):
        return False
    return reads_back(name, tag.value, text)


def _removed_items(tags: Mapping[str, object],
                   paths: Mapping[str, str | None]) -> dict[str, set[int]]:
    """The items of XMP lists of structures a change set removes (engine.xmp.edit removes an
    item once every field of it is deleted and none set): list path -> item numbers."""
    gone = {p for p, t in paths.items() if t is None and "[" in p and p.startswith("xmp/")}
    if not gone:
        return {}
    import re

    def items(q: str) -> list[str]:  # 'xmp/A:l[2]/B:m[1]/C:f' -> ['xmp/A:l[2]', ...[1]']
        return [q[: m.end()] for m in re.finditer(r"\[\d+\]", q)]

    def deleted(q: str) -> bool:  # itself, or a path it lies under, is deleted
        return q in gone or any(q[:i] in gone for i, c in enumerate(q) if c in "-/[")

    candidates = {i for d in gone for i in items(d)}
    candidates -= {i for p, t in paths.items() if t is not None for i in items(p)}
    full = dict.fromkeys(candidates, True)
    for q in tags:
        for i in items(q):
            if full.get(i) and not deleted(q):
                full[i] = False
    removed: dict[str, set[int]] = {}
    for i, empty in full.items():
        if empty:
            base, _, n = i[:-1].rpartition("[")
            removed.setdefault(base, set()).add(int(n))
    return removed


def _shift(p: str, removed: dict[str, set[int]]) -> str | None:
    """Where XMP tag path ``p`` reads after the ``removed`` items went (the later items of a
    list move down); None for a path inside a removed item."""
    if not removed or "[" not in p:
        return p
    import re

    parts, last = [], 0
    for m in re.finditer(r"\[(\d+)\]", p):
        n, gone = int(m[1]), removed.get(p[: m.start()], ())
        if n in gone:
            return None
        parts.append(f"{p[last : m.start()]}[{n - sum(1 for k in gone if k < n)}]")
        last = m.end()
    return "".join(parts) + p[last:]


def _base(p: str) -> str:
    return p.split("#", 1)[0]


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
