"""Turn a user's change set (tag path -> text or None) into per-block edits.

Also the EXIF/XMP/IPTC coordination (the Metadata Working Group's guidelines): a value that
lives in several places is updated in the copies that already exist, so no reader sees two
different values.  The rules, which README.md ("Keeping EXIF, XMP and IPTC in step") states
for users:

- ``SYNC_GROUPS`` lists the places of one value.  A change of one place is copied to the
  other places of its group that the photo already has (none is created).  ``FOLLOWERS`` are
  places that take copies but give none (the capture date is the camera's EXIF value).
- Several existing places of one group changed in one batch: for list values each list
  place gets the items every changed place added and loses the items every changed place
  removed (a single value asked for is still written as asked, and so is a place the batch
  creates); for single values each asked place keeps what was asked and the copies take the
  first asked place's value (EXIF, then XMP, then IPTC).
- A copy into IPTC longer than the dataset's limit is cut (at a character boundary).
- Every copy and every cut is reported (``expand_sync``'s ``notes``, then
  ``WriteResult.notes``).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import ReadOnlyTagError
from engine.exif.encode import MAIN_IFDS, lookup
from engine.exif.overrides import REF_NAMES
from engine.model import Metadata
from engine.record import Record

Text = str | None

# Each line: the places one value lives (tag paths).  Order: EXIF, XMP, IPTC.
SYNC_GROUPS: tuple[tuple[str, ...], ...] = (
    ("DateTimeOriginal", "xmp/exif:DateTimeOriginal", "xmp/photoshop:DateCreated"),
    ("ImageDescription", "xmp/dc:description", "iptc/Caption-Abstract"),
    ("Artist", "xmp/dc:creator", "iptc/By-line"),
    ("Copyright", "xmp/dc:rights", "iptc/CopyrightNotice"),
    ("xmp/dc:subject", "iptc/Keywords"),
    ("xmp/dc:title", "iptc/ObjectName"),
)
# Places that follow the first place of their group but are never copied from: the capture
# date is what the camera wrote in EXIF (MWG readers prefer it); an XMP date changed on its
# own (or copied in from another photo's XMP) does not rewrite it.
FOLLOWERS = frozenset({"xmp/exif:DateTimeOriginal", "xmp/photoshop:DateCreated"})
# List-valued places: a single-valued copy gets the items joined with "; ", and a
# single value copied to a list is split there, as ExifTool's MWG module does.
LIST_PATHS = {"xmp/dc:creator", "xmp/dc:subject", "iptc/Keywords", "iptc/By-line"}
JOIN = "; "
# How the notes of copies begin (information, where a cut is a warning): the CLI prints them
# on stdout, the cuts on stderr.
COPY_NOTES = ("also set ", "also deleted ", "merged the edits of ")


def _items(text: str) -> list[str]:
    return text.split("\n") if text else [""]


def _as_items(path: str, value: Text | list[str]) -> list[str]:
    """A place's value as a list of items (a single value with "; " is several)."""
    if value is None:
        return []
    if isinstance(value, list):
        items = value
    elif path in LIST_PATHS:
        items = value.split("\n")
    else:
        items = value.split(JOIN)
    return [i for i in items if i != ""]


def _as_text(path: str, items: list[str]) -> Text:
    if not items:
        return None
    return "\n".join(items) if path in LIST_PATHS else JOIN.join(items)


def _convert(src: str, dst: str, text: Text) -> Text:
    if text is None or (dst in LIST_PATHS) == (src in LIST_PATHS):
        return text
    return _as_text(dst, _as_items(src, text))


def _iptc_limit(path: str) -> int:
    from engine.iptc.tables import DATASETS

    name = path[5:]
    return next((v[2] for v in DATASETS.values() if v[0] == name), 0)


def _fit(path: str, text: Text, notes: list[str]) -> Text:
    """An IPTC copy cut to the dataset's limit (ExifTool cuts too), with a note."""
    if text is None or not path.startswith("iptc/"):
        return text
    limit = _iptc_limit(path)
    if not limit:
        return text
    items = text.split("\n") if path in LIST_PATHS else [text]
    cut = []
    for item in items:
        raw = item.encode("utf-8", "surrogatepass")
        if len(raw) > limit:
            item = raw[:limit].decode("utf-8", "ignore")  # never half a character
            note = f"{path} cut to {limit} bytes (IPTC limit)"
            if note not in notes:
                notes.append(note)
        cut.append(item)
    return "\n".join(cut)


def expand_sync(changes: Mapping[str, Text], md: Metadata,
                notes: dict[str, list[str]] | None = None) -> dict[str, Text]:
    """``changes`` with the synchronised copies of each changed value (module docstring).
    ``notes`` receives, per path written as a copy or merged, what the user should be told:
    the copy (a note starting with one of ``COPY_NOTES``) and any cut."""
    out = dict(changes)
    said: dict[str, list[str]] = {} if notes is None else notes
    for group in SYNC_GROUPS:
        asked = [p for p in group if p in changes]
        sources = [p for p in asked if p not in FOLLOWERS]
        if not sources:
            continue
        copies = [p for p in group if p not in changes and p in md.tags]
        # places the photo had, edited: each edit is a change of a list to merge; a place
        # the batch creates (copy-tags, cp -r onto a bare photo) is written as asked
        edited = [p for p in asked if p in md.tags]
        if len(edited) > 1 and any(p in LIST_PATHS for p in group):
            _merge(edited, copies, changes, md, out, said)
            continue
        src = sources[0]
        for dst in copies:
            text = _convert(src, dst, changes[src])
            cuts: list[str] = []
            out[dst] = _fit(dst, text, cuts)
            verb = "deleted" if text is None else "set"
            said[dst] = [f"also {verb} {dst} from {src}", *cuts]
    return out


def _merge(asked: list[str], copies: list[str], changes: Mapping[str, Text], md: Metadata,
           out: dict[str, Text], said: dict[str, list[str]]) -> None:
    """Several places of a list group edited in one batch: each edit's additions and
    removals are applied to every place, so both edits win."""
    added: list[str] = []
    removed: set[str] = set()
    for p in asked:
        old = _as_items(p, _old(md, p))
        new = _as_items(p, changes[p])
        removed.update(i for i in old if i not in new)
        added.extend(i for i in new if i not in old and i not in added)
    for p in [*asked, *copies]:
        if p in asked and p not in LIST_PATHS:
            continue  # a single value asked for is written as asked
        old = _as_items(p, _old(md, p))
        items = [i for i in old if i not in removed]
        items += [i for i in added if i not in items]
        cuts: list[str] = []
        out[p] = _fit(p, _as_text(p, items), cuts)
        others = ", ".join(q for q in asked if q != p)
        said[p] = [f"merged the edits of {others} into {p}", *cuts]


def _old(md: Metadata, path: str) -> Text | list[str]:
    tag = md.tags.get(path)
    return None if tag is None else tag.value


class Edits(Record):
    __slots__ = ("exif", "xmp", "iptc", "iptc_fit", "paths", "xmp_quick", "brought")
    exif: list[tuple[str, str, Text]]  # (ifd, name, text)
    xmp: dict[str, str | list[str] | None]  # 'dc:title' -> value
    iptc: dict[str, list[str] | None]  # 'Keywords' -> items
    # IPTC copies made by synchronisation: cut to the dataset's size limit (as ExifTool does)
    # rather than refusing a value the user gave for another tag.
    iptc_fit: set[str]
    paths: dict[str, Text]  # every tag path touched, final text
    # (old packet, new packet) when engine.xmp.quick made the XMP edits linearly (the
    # planner puts the new packet in place, the validation reads it back with that module)
    xmp_quick: tuple[bytes, bytes] | None
    # Tags the container's change brings with it (the planner sets them: an embedded JPEG
    # rebuilt, a size): the validation lets them change; never reported as written.
    brought: set[str]

    def __init__(self, exif: list[tuple[str, str, Text]] | None = None,
                 xmp: dict[str, str | list[str] | None] | None = None,
                 iptc: dict[str, list[str] | None] | None = None,
                 iptc_fit: set[str] | None = None, paths: dict[str, Text] | None = None) -> None:
        self.exif = [] if exif is None else exif
        self.xmp = {} if xmp is None else xmp
        self.iptc = {} if iptc is None else iptc
        self.iptc_fit = set() if iptc_fit is None else iptc_fit
        self.paths = {} if paths is None else paths
        self.xmp_quick = None
        self.brought = set()

    def __bool__(self) -> bool:
        return bool(self.exif or self.xmp or self.iptc)


def split_changes(changes: Mapping[str, Text], md: Metadata,
                  synced: frozenset[str] = frozenset()) -> Edits:
    """Route each tag path to its block; unknown or read-only names are refused here.
    ``synced`` names the paths added by ``expand_sync`` (not asked for by the user)."""
    edits = Edits()
    edits.iptc_fit = {p[5:] for p in synced if p.startswith("iptc/")}
    for path, text in changes.items():
        edits.paths[path] = text
        if path.startswith("xmp/"):
            tag = path[4:]
            edits.xmp[tag] = None if text is None else _xmp_value(tag, text)
        elif path.startswith("iptc/"):
            edits.iptc[path[5:]] = None if text is None else _items(text)
        else:
            ifd, _, name = path.rpartition("/")
            if ifd:
                ifd_name = {"ifd1": "IFD1"}.get(ifd)
                if ifd_name is None:
                    raise ReadOnlyTagError("only IFD0, ExifIFD, GPS, InteropIFD and IFD1 tags "
                                           "can be written", tag=path)
            else:
                existing = md.tags.get(path)
                if existing is not None and existing.group in MAIN_IFDS:
                    ifd_name = existing.group
                else:
                    ifd_name = lookup(name).group
            if existing_readonly(md, path):
                raise ReadOnlyTagError("this tag cannot be written", tag=path)
            lookup(name)  # unknown names fail here, with a clear message
            edits.exif.append((ifd_name, name, text))
    # A GPS reference asked for explicitly wins over the one a signed coordinate or one with
    # a letter brings along (engine.exif.overrides, ``ref``): refs are applied last.
    edits.exif.sort(key=lambda e: e[1] in REF_NAMES)
    return edits


def existing_readonly(md: Metadata, path: str) -> bool:
    t = md.tags.get(path)
    return t is not None and (not t.writable or t.is_binary)


def _xmp_value(tag: str, text: str) -> str | list[str]:
    from engine.xmp.quick import KINDS  # the places of synchronised copies: no tables

    kind = KINDS.get(tag)
    if kind is not None:
        code = kind[2]
    else:
        from engine.xmp.paths import resolve

        code = resolve(tag).code  # of a top-level property or of a structure field
    if len(code) > 1 and code[1] in "BQL":
        return [line for line in text.split("\n") if line != ""] or [""]
    return text


def iptc_iim(old: bytes | None, edits: Edits, path: str) -> bytes:
    """The new IIM block: ``old`` with the IPTC edits applied (shared by every container)."""
    from engine.iptc.edit import edit_iim

    return edit_iim(old, edits.iptc, path=path, fit=edits.iptc_fit)
