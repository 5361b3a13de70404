"""The write validation: the rewritten file reads back as the original with the edits applied.

Run on the temporary file before it replaces the photo (``safety.safe_rewrite``'s ``validate``
callback).  What is compared has no format in it: the metadata parts (EXIF, XMP, IPTC) whose
bytes changed are decoded from both files and compared tag by tag and warning by warning; what
the container must keep besides (image data, HEIF items, TIFF strip layout, trailers) is the
container's ``FileFormat.unchanged`` (engine.containers.base).
"""

from __future__ import annotations

import mmap
from collections.abc import Mapping

from engine.errors import EngineError, ValidationError
from engine.model import Blocks, Metadata
from engine.reader import PARTS, decode_blocks, part_of, read_blocks_from
from engine.write.changes import Edits

_MOVABLE = ("Offset", "Offsets", "Start")  # name endings of tags printed as file positions


class Original:
    """What the write validation knows of the original: its bytes, its metadata decoded for
    ``decoded`` parts, and its blocks (``None``: extracted again when needed)."""

    __slots__ = ("data", "md", "blocks", "decoded")

    def __init__(self, data, md: Metadata, blocks: Blocks | None = None,
                 decoded: frozenset[str] = PARTS) -> None:
        self.data, self.md, self.blocks, self.decoded = data, md, blocks, decoded


def validate(tmp: str, path: str, original: Original, edits: Edits) -> None:
    """Re-parse the temporary file ``tmp``: changes read back, everything else is identical.

    A part whose bytes the rewrite left as they were is identical by construction; every other
    part, and every part an edit is in, is decoded from both files and compared (the original
    is decoded again when ``original.md`` lacks it)."""
    try:
        with open(tmp, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            before, after = _read_both(data, path, original, edits)
    except ValidationError:
        raise
    except EngineError as e:
        raise ValidationError(f"the rewritten file does not read back ({e}); nothing was "
                              "written", path=path) from e
    _check_untouched(before, after, edits, path)
    _check_written(after, edits, path)
    if len(after.warnings) > len(before.warnings):
        new = [w for w in after.warnings if w not in before.warnings]
        raise ValidationError(f"the rewritten file reads with a new warning ({new[:1]}); "
                              "nothing was written", path=path)


def _read_both(data, path: str, original: Original, edits: Edits) -> tuple[Metadata, Metadata]:
    """The original's and the new file's metadata, decoded for the parts to compare, after
    the container's own check of what it must keep."""
    from engine.registry import format_named

    before = original.md
    after, new_blocks = read_blocks_from(data, path)
    check = PARTS
    if original.blocks is not None and after.format == before.format:
        check = changed_parts(original.blocks, new_blocks) | {
            part_of(p) for p in (*edits.paths, *edits.brought)}
    if edits.xmp_quick is not None:  # edited linearly: read back by the same scanner
        check -= {"xmp"}
        _check_quick_xmp(new_blocks, edits, path)
    decode_blocks(new_blocks, after, check)
    if check != original.decoded:
        before = _decode_again(original, check)
    fmt = format_named(before.format)
    why = "image data changed" if after.format != before.format else (
        fmt.unchanged(original.data, data) if fmt is not None else None)
    if why is not None:
        raise ValidationError(f"{why}; nothing was written", path=path)
    return before, after


def _check_quick_xmp(new: Blocks, edits: Edits, path: str) -> None:
    """engine.xmp.quick's packet: its edited properties read back and nothing else moved."""
    from engine.xmp.quick import check_edit

    old, _ = edits.xmp_quick
    why = check_edit(old, new.xmp or b"", edits.xmp) if new.xmp_extended is None else \
        "an Extended XMP part appeared"
    if why is not None:
        raise ValidationError(f"{why}; nothing was written", path=path)


def _same_block(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, mmap.mmap) or isinstance(b, mmap.mmap):
        return False  # the block is the whole file (TIFF): rewritten
    return len(a) == len(b) and a == b


def changed_parts(old: Blocks, new: Blocks) -> frozenset[str]:
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


def _decode_again(original: Original, parts: frozenset[str]) -> Metadata:
    """The original's ``parts``; ``original.md`` holds its ``decoded`` parts (and its
    container's warnings): when those are all wanted, only the others are decoded."""
    before, blocks, decoded = original.md, original.blocks, original.decoded
    if blocks is None:
        _, blocks = read_blocks_from(original.data, before.path)
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


def _touched(edits: Edits) -> tuple[set[str], tuple[str, ...]]:
    """The tag paths an edit may change, and the prefixes of the paths under them."""
    touched = set(edits.paths) | edits.brought  # and what the container's change brings
    if edits.xmp:  # names the Extended XMP packet, rewritten when an edit is in it
        touched.add("xmp/xmpNote:HasExtendedXMP")
    # GPS reference tags ride along with their coordinates.
    touched |= {p + "Ref" for p in edits.paths if p.startswith("GPS")}
    # An XMP path covers its other languages and, deleted, what lies under it (the fields
    # of a structure deleted whole); the sibling fields of an edited field are checked.
    under = tuple(t + "-" for t in touched if t.startswith("xmp/")) + tuple(
        p + s for p, t in edits.paths.items() if t is None and p.startswith("xmp/")
        for s in ("/", "["))
    return touched, under


def _check_untouched(before: Metadata, after: Metadata, edits: Edits, path: str) -> None:
    """Every tag no edit is about reads as it did."""
    touched, under = _touched(edits)
    removed = _removed_items(before.tags, edits.paths)
    for p, tag in before.tags.items():
        if p in touched or p.split("#", 1)[0] in touched or (under and p.startswith(under)):
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
        if edits.xmp_quick is not None and p.startswith("xmp/"):
            continue  # read back by _check_quick_xmp
        now = _shift(p, removed)  # None: its item was removed, as every field of it was
        present = now is not None and now in after.tags
        if text is None and present:
            raise ValidationError(f"tag {p} is still there after deleting it; nothing was "
                                  "written", path=path)
        if text is not None and not present:
            raise ValidationError(f"tag {p} does not read back after writing it; nothing was "
                                  "written", path=path)


def _check_written(after: Metadata, edits: Edits, path: str) -> None:
    """Every value written reads back as what its text stores."""
    for ifd, name, text in edits.exif:
        path_of = f"ifd1/{name}" if ifd == "IFD1" else name
        if text is not None and not _reads_back(name, text, after.tags.get(path_of)):
            got = after.tags[path_of].value if path_of in after.tags else "nothing"
            raise ValidationError(f"tag {path_of} reads back as {got!r}, which is not what "
                                  f"{text!r} stores; nothing was written", path=path)
    if not edits.xmp or edits.xmp_quick is not None:
        return  # the linear edit's read-back: _check_quick_xmp
    from engine.xmp.paths import reads_back

    for tag, value in edits.xmp.items():
        new = after.tags.get(f"xmp/{tag}")
        if value is not None and new is not None and new.binary_size is None and \
                not reads_back(tag, new.value, value):
            got, asked = repr(new.value), repr(value)
            got, asked = (t if len(t) < 80 else t[:70] + "..." for t in (got, asked))
            raise ValidationError(f"tag xmp/{tag} reads back as {got}, which is not what "
                                  f"{asked} stores; nothing was written", path=path)


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
