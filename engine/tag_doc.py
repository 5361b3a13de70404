"""What the tag tables say about tags, for people: ``metafs tags`` (like ``exiftool -list``,
``-listw``) and ``metafs tags NAME``.  Read from the generated tables; nothing here is used
when reading or writing files."""

from __future__ import annotations

from engine.errors import EngineError

_KINDS = {"s": "string", "i": "integer", "r": "number", "q": "rational", "d": "date",
          "b": "boolean", "l": "lang-alt", "S": "struct"}
_XMP_FORMS = {
    "string": "text", "integer": "a whole number", "number": "a number",
    "rational": "a number or fraction like 1/125",
    "date": "a date like 2024:05:01 10:30:00 (or ISO 8601, a date alone)",
    "boolean": "True or False", "struct": "a folder of fields (write its fields)",
    "lang-alt": "text (xmp/NAME-fr for a language)",
}
_XMP_EXAMPLES = {"string": "Harbour at dusk", "integer": "3", "number": "2.5",
                 "rational": "1/125", "date": "2024:05:01 10:30:00", "boolean": "True",
                 "lang-alt": "Harbour at dusk"}


class TagDoc:
    """One tag: its path, kind, whether metafs writes it, the forms it accepts, an example,
    and the values of an enumeration (printed -> stored)."""

    __slots__ = ("path", "kind", "writable", "forms", "example", "values", "is_list")

    def __init__(self, path: str, kind: str, writable: bool, forms: str, example: str,
                 values: dict[str, str] | None = None, is_list: bool = False) -> None:
        self.path, self.kind, self.writable, self.forms = path, kind, writable, forms
        self.example, self.values, self.is_list = example, values, is_list


def _exif_docs() -> list[TagDoc]:
    from engine.exif.encode import WRITABLE, expected_form
    from engine.exif.tables import EXIF_TAGS, GPS_TAGS

    out: dict[str, TagDoc] = {}
    for table in (EXIF_TAGS, GPS_TAGS):
        for variants in table.values():
            for name, fmt, _count, _writable, _group, _values in variants:
                if name in out:
                    continue
                d = WRITABLE.get(name)
                if d is None:
                    out[name] = TagDoc(name, fmt if fmt != "?" else "binary", False,
                                       "read only here", "")
                    continue
                kind = "enum" if d.values else d.fmt
                values = d.values or None
                example = next(iter(values.values())) if values else _exif_example(d.fmt)
                out[name] = TagDoc(name, kind, True, expected_form(d), example, values)
    return list(out.values())


def _exif_example(fmt: str) -> str:
    if fmt.startswith("rational"):
        return "1/125"
    if fmt.startswith("int"):
        return "1"
    return "Jane Doe" if fmt == "string" else "text"


def _xmp_doc(prefix: str, prop: str, entry: tuple) -> TagDoc:
    from engine.xmp.tables import MAPS

    code = entry[1]
    kind = _KINDS.get(code[:1], "string")
    is_list = len(code) > 1 and code[1] in "BQL"
    values = MAPS[entry[2]] if len(entry) > 2 and entry[2] >= 0 else None
    forms = _XMP_FORMS.get(kind, "text")
    if values:
        kind, forms = "enum", "one of the values below"
    if is_list:
        forms = f"a list, one item per line; each {forms}"
    example = next(iter(values.values())) if values else _XMP_EXAMPLES.get(kind, "")
    writable = "-" not in code and "*" not in code and kind != "struct"
    return TagDoc(f"xmp/{prefix}:{prop}", kind, writable, forms, example, values, is_list)


def _xmp_docs(only_prefix: str | None = None) -> list[TagDoc]:
    from engine.xmp.tables import TAGS, XLAT

    prefix_of = {g: p for p, g in XLAT.items()}
    out = []
    for group, table in TAGS.items():
        prefix = prefix_of.get(group, group)
        if only_prefix is not None and only_prefix not in (prefix, group):
            continue
        structs = [k for k, e in table.items() if e[1].startswith("S")]
        for prop, entry in table.items():
            if any(prop != s and prop.startswith(s) for s in structs):
                continue  # a structure's field, flattened: written below its structure
            out.append(_xmp_doc(prefix, prop, entry))
    return out


def _iptc_docs() -> list[TagDoc]:
    from engine.iptc.tables import DATASETS

    out = []
    for (rec, _ds), (name, fmt, max_len, flags, values, conv) in DATASETS.items():
        writable = rec == 2 and "-" not in flags and "B" not in flags
        kind = conv or ("enum" if values else fmt or "string")
        forms = {"date": "a date like 2024:05:01", "time": "a time like 10:30:00+02:00",
                 "digits": "digits"}.get(kind, "text")
        if values:
            forms = "one of the values below"
        if max_len:
            forms += f" (at most {max_len} bytes)"
        if "L" in flags:
            forms = f"a list, one item per line; each {forms}"
        example = next(iter(values.values())) if values else {
            "date": "2024:05:01", "time": "10:30:00+02:00", "digits": "5"}.get(kind, "text")
        out.append(TagDoc(f"iptc/{name}", kind, writable, forms if writable else
                          "read only here", example, values, "L" in flags))
    return out


def list_tags(group: str | None = None, writable: bool = False) -> list[TagDoc]:
    """The tags of ``group`` (``exif``, ``xmp``, ``xmp/PREFIX``, ``iptc``; None: all)."""
    docs: list[TagDoc] = []
    g = (group or "").lower()
    if not group or g == "exif":
        docs += _exif_docs()
    if not group or g == "xmp":
        docs += _xmp_docs()
    elif g.startswith("xmp/") or g.startswith("xmp-"):
        docs += _xmp_docs(group[4:])
    if not group or g == "iptc":
        docs += _iptc_docs()
    if group and not docs:
        raise EngineError(f"no tag group {group!r} (exif, xmp, xmp/PREFIX such as xmp/dc, "
                          "iptc)")
    return [d for d in docs if d.writable or not writable]


def describe(path: str) -> TagDoc:
    """One tag path (a field of an XMP structure too); raises UnknownTagError."""
    if path.startswith("xmp/"):
        from engine.xmp.paths import resolve

        t = resolve(path[4:])
        prefix, prop = t.steps[-1][0], t.steps[-1][1]
        doc = _xmp_doc(prefix, prop, t.entry or (None, t.code, -1))
        doc.path = path
        if t.values and not doc.values:
            doc.values, doc.kind = t.values, "enum"
        return doc
    table = _iptc_docs() if path.startswith("iptc/") else _exif_docs()
    for d in table:
        if d.path == path:
            return d
    from engine.write.writer import tag_spec

    tag_spec(path)  # raises the engine's UnknownTagError with its hint
    raise EngineError(f"no such tag: {path}")
