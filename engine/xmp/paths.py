"""XMP tag paths and values: what ``dc:title``, ``dc:title-de`` or
``Iptc4xmpCore:CreatorContactInfo/Iptc4xmpCore:CiEmailWork`` names (ExifTool's tables say its
kind), and what a value must look like to be written there.  Pure: no packet is touched here
(engine.xmp.edit edits packets).
"""

from __future__ import annotations

import re

from lxml import etree

from engine.errors import ReadOnlyTagError, TagValueError, UnknownTagError
from engine.printconv import rationalize
from engine.record import Record
from engine.xmp import tables as xmp_tables
from engine.xmp.printing import CONVERSIONS, RAW_JOIN
from engine.xmp.values import check_xml_text, to_xmp_date


def namespace_uri(prefix: str) -> str | None:
    return xmp_tables.NS_URI.get(prefix) or xmp_tables.LAZY_URI.get(prefix)


def property_code(prefix: str, prop: str) -> str:
    """ExifTool's kind letters for a property ('s', 'l' lang-alt, 'sB' bag...); '' if unknown."""
    group = xmp_tables.XLAT.get(prefix, prefix)
    entry = xmp_tables.TAGS.get(group, {}).get(prop)
    return entry[1] if entry else ""


_LANG_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def split_lang(tag: str) -> tuple[str, str | None]:
    """``dc:title-de`` -> (``dc:title``, ``de``) for lang-alt properties (and structure fields:
    ``A:s/B:f-de``), else (tag, None)."""
    # Try every hyphen from the left: a language may have subtags (``dc:title-en-US``), and
    # a greedy split would take ``title-en`` for the property.  The language ends the path.
    at = tag.find("-", tag.rfind("/") + 1)
    while at > 0:
        base, lang = tag[:at], tag[at + 1 :]
        if ":" in base[base.rfind("/") + 1 :] and _LANG_TAG.fullmatch(lang):
            if _path_code(base).startswith("l"):
                return base, lang
        at = tag.find("-", at + 1)
    return tag, None


def _check_name(prefix: str, prop: str, where: str) -> str:
    """The namespace URI of ``prefix:prop``; refuses unknown prefixes and bad names."""
    if prefix == "x":
        raise ReadOnlyTagError("the x: namespace is the packet's own wrapper (x:xmptk names the "
                               "program that wrote it); it is not a property to set", tag=where)
    uri = namespace_uri(prefix)
    if uri is None:
        raise UnknownTagError(f"unknown XMP namespace prefix {prefix!r}", tag=where)
    try:  # lxml refuses element names that are not XML names ('ti tle', '1title')
        etree.QName(uri, prop)
    except ValueError:
        raise UnknownTagError(f"{prop!r} is not a valid XMP property name", tag=where) from None
    return uri


def split_path(tag: str) -> tuple[str, str, str]:
    """``dc:title`` -> (prefix, property, namespace URI)."""
    tag = split_lang(tag)[0]
    prefix, sep, prop = tag.partition(":")
    if not sep or not prop or "/" in prop or "[" in prop:
        raise UnknownTagError(f"XMP tag must be prefix:property, got {tag!r}", tag=f"xmp/{tag}")
    return prefix, prop, _check_name(prefix, prop, f"xmp/{tag}")


_SEGMENT = re.compile(r"([^:/\[\]]+):([^:/\[\]]+)(?:\[(\d+)\])?")


CONTAINERS = {"B": "Bag", "Q": "Seq", "A": "Alt"}


def _segments(tag: str) -> list[tuple[str, str, int | None]] | None:
    """``A:s[2]/B:f`` -> [(A, s, 2), (B, f, None)]; None when the path is not of that shape."""
    out = []
    for seg in tag.split("/"):
        m = _SEGMENT.fullmatch(seg)
        if m is None:
            return None
        out.append((m[1], m[2], None if m[3] is None else int(m[3])))
    return out


def _flat_entry(names: list[tuple[str, str]]) -> tuple | None:
    """ExifTool's table entry for a structure field (its flattened tag), as engine.xmp.decode finds
    it."""
    tid = ""
    for prefix, prop in names:
        if not re.search("[a-z]", prop) and prop not in xmp_tables.TAGS.get(
                xmp_tables.XLAT.get(prefix, prefix), {}):
            prop = re.sub(r"_([a-z])", lambda m: m[1].upper(), prop.lower())
        tid = tid + prop[:1].upper() + prop[1:] if tid else prop
    group = xmp_tables.XLAT.get(names[0][0], names[0][0])
    return xmp_tables.TAGS.get(group, {}).get(tid)


def _field_code(entry: tuple | None) -> str:
    code = entry[1] if entry else ""
    # A field of a list of structures is flattened with the List flag (ExifTool's
    # AddFlattenedTags): a bare 'L' says the field holds one value, its own list type (Bag,
    # Seq, Alt) would say otherwise.
    return code[:1] + code[2:] if code[1:2] == "L" else code


def _path_code(tag: str) -> str:
    """The kind code of a top-level property or structure field path ('' if unknown)."""
    segs = _segments(tag)
    if segs is None:
        return ""
    if len(segs) == 1:
        return property_code(segs[0][0], segs[0][1])
    return _field_code(_flat_entry([(p, q) for p, q, _ in segs]))


class XmpTarget(Record):
    """A tag path resolved for writing: the steps from the top-level property down to the
    field (prefix, property, namespace URI, item number or None, kind code), the language of
    a lang-alt path, the field's kind code, value map and table entry (None if unknown)."""

    __slots__ = ("tag", "steps", "lang", "code", "values", "entry")
    tag: str  # the path without its language
    steps: list[tuple[str, str, str, int | None, str]]
    lang: str | None
    code: str
    values: dict[str, str] | None
    entry: tuple | None

    def __init__(self, tag: str, steps: list, lang: str | None, code: str,
                 values: dict[str, str] | None, entry: tuple | None = None) -> None:
        self.tag, self.steps, self.lang, self.code = tag, steps, lang, code
        self.values, self.entry = values, entry

    @property
    def conv(self) -> str | None:
        """The name of the conversion the value is printed with (engine.xmp.printing)."""
        return self.entry[3] if self.entry is not None and len(self.entry) > 3 else None

    @property
    def where(self) -> str:
        return f"xmp/{self.tag}"

    def shown(self, depth: int, item: bool = False) -> str:
        """The path down to step ``depth`` (with its item number if ``item``), for messages."""
        segs = [f"{p}:{q}" + (f"[{i}]" if i and (n < depth or item) else "")
                for n, (p, q, _u, i, _c) in enumerate(self.steps[: depth + 1])]
        return "xmp/" + "/".join(segs)


def resolve(tag: str) -> XmpTarget:
    """Check an XMP tag path (without ``xmp/``) and tell what it addresses."""
    base, lang = split_lang(tag)
    if "/" not in base and "[" not in base:
        prefix, prop, uri = split_path(base)
        _check_known(prefix, prop, f"xmp/{base}")
        code = property_code(prefix, prop)
        entry = xmp_tables.TAGS.get(xmp_tables.XLAT.get(prefix, prefix), {}).get(prop)
        return XmpTarget(base, [(prefix, prop, uri, None, code)], lang, code,
                         _value_map(prefix, prop), entry)
    where = f"xmp/{base}"
    segs = _segments(base)
    if segs is None or segs[-1][2] is not None:
        raise UnknownTagError("an XMP structure field is named prefix:struct/prefix:field "
                              "(prefix:list[N]/prefix:field for item N of a list of "
                              f"structures), got {base!r}", tag=where)
    steps: list[tuple[str, str, str, int | None, str]] = []
    entry = None
    for depth, (prefix, prop, index) in enumerate(segs):
        if prefix in ("rdf", "xml"):
            raise UnknownTagError(f"{prefix}: names are RDF syntax, not structure fields",
                                  tag=where)
        uri = _check_name(prefix, prop, where)
        if depth == 0:
            _check_known(prefix, prop, where)
        else:
            entry = _flat_entry([(p, q) for p, q, _ in segs[: depth + 1]])
        code = _field_code(entry) if depth else property_code(prefix, prop)
        steps.append((prefix, prop, uri, index, code))
        if depth < len(segs) - 1:
            _check_step(prefix, prop, index, code, "xmp/" + "/".join(
                f"{p}:{q}" for p, q, _ in segs[: depth + 1]), where)
    return XmpTarget(base, steps, lang, steps[-1][4], _map_of(entry), entry)


def _check_known(prefix: str, prop: str, where: str) -> None:
    """A namespace whose schema ExifTool knows takes only its properties (as ExifTool: "Tag
    'XMP-dc:Creatr' is not defined"); other namespaces are open."""
    group = xmp_tables.XLAT.get(prefix, prefix)
    table = xmp_tables.TAGS.get(group)
    if table is None or prop in table:
        return
    same = next((k for k in table if k.lower() == prop.lower()), None)
    hint = f" (its property is {prefix}:{same})" if same else ""
    raise UnknownTagError(f"XMP-{group} has no property {prop}{hint}", tag=where)


def _check_step(prefix: str, prop: str, index: int | None, code: str, here: str,
                where: str) -> None:
    """Refuse a path that steps into a property its table entry says is no structure, or
    names (or fails to name) an item the way the structure's kind does not allow."""
    if index == 0:
        raise UnknownTagError(f"items of {here} are numbered from 1", tag=where)
    if not code:
        return  # an unknown property: the file tells whether it is a structure
    if code[0] != "S":
        raise UnknownTagError(f"{here} is not a structure", tag=where)
    if index is None and code[1:2] in CONTAINERS:
        raise UnknownTagError(f"{here} is a list of structures: name an item, as "
                              f"{prefix}:{prop}[1]/...", tag=where)
    if index is not None and code[1:2] not in CONTAINERS:
        raise UnknownTagError(f"{here} is a single structure, not a list: name its fields "
                              f"without [{index}]", tag=where)


def _value_map(prefix: str, prop: str) -> dict[str, str] | None:
    group = xmp_tables.XLAT.get(prefix, prefix)
    return _map_of(xmp_tables.TAGS.get(group, {}).get(prop))


def _map_of(entry: tuple | None) -> dict[str, str] | None:
    if not entry or len(entry) < 3 or entry[2] is None or entry[2] < 0:
        return None
    return xmp_tables.MAPS[entry[2]]


def normalise_value(prefix: str, prop: str, value: str | list[str]) -> list[str]:
    entry = xmp_tables.TAGS.get(xmp_tables.XLAT.get(prefix, prefix), {}).get(prop)
    conv = entry[3] if entry is not None and len(entry) > 3 else None
    return normalise(f"{prefix}:{prop}", property_code(prefix, prop), _value_map(prefix, prop),
                     value, conv)


# Printed forms with a unit, and the unit ExifTool's PrintConvInv strips (XMP.pm)
_UNITS = {"metres": "m", "focal_length": "mm", "mm": "mm"}
# Lens ranges printed as ``18-70mm f/3.5-4.5``: stored as four rationals
LENS_CONVERSIONS = ("lens_info", "join_lens_info")
_FRACTION = re.compile(r"\s*([-+]?)(\d+)\s*/\s*(\d+)\s*")


def _number(tag: str, text: str) -> float:
    """A number or a fraction (``2.8``, ``1/60``, ``1/3.2``) as typed."""
    num, sep, den = text.partition("/")
    try:
        x = float(num) / float(den) if sep else float(text)
    except (ValueError, ZeroDivisionError):
        raise TagValueError(f"{text!r} is not a number", tag=f"xmp/{tag}") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise TagValueError(f"{text!r} is not a number", tag=f"xmp/{tag}")
    return x


def _rational(tag: str, text: str, conv: str | None) -> str:
    """What ExifTool stores in an XMP rational for ``text``: for a value printed in another
    unit than it is stored in (APEX aperture and shutter speed values, printed as an f-number
    and a time), its conversion's parse; a fraction as typed; any other number as ExifTool's
    Rationalize of it (as EXIF)."""
    t = text.strip()
    unit = _UNITS.get(conv or "")
    if unit and t.endswith(unit):
        t = t[: -len(unit)].rstrip()
    c = CONVERSIONS.get(conv or "")
    if c is not None and c.expected is not None:
        _number(tag, t)
        try:
            x = c.parse(t)[0]
        except ValueError as e:
            raise TagValueError(str(e), tag=f"xmp/{tag}") from None
    elif t in ("inf", "undef"):
        return "1/0" if t == "inf" else "0/0"
    else:
        m = _FRACTION.fullmatch(t)
        if m:  # kept as typed (without a '+', which readers do not take)
            return f"{'-' if m[1] == '-' and int(m[2]) else ''}{int(m[2])}/{int(m[3])}"
        x = _number(tag, t)
    num, den = rationalize(x)
    return f"{num}/{den}"


def _lens_items(items: list[str], conv: str) -> list[str]:
    """LensInfo as printed (``18-70mm f/3.5-4.5``) or as four numbers: four rationals, as
    ExifTool's ConvertLensInfo and ValueConvInv store them (a list, or one string for
    aux:LensInfo); anything else is left as it is (to be refused as ExifTool does)."""
    try:
        vals = CONVERSIONS[conv].parse(" ".join(items))
    except ValueError:
        return items
    if len(vals) != 4:
        return items
    out = []
    for v in vals:
        if isinstance(v, str):  # inf, undef
            out.append("1/0" if v == "inf" else "0/0")
        else:
            num, den = rationalize(float(v))
            out.append(f"{num}/{den}")
    return out if conv in RAW_JOIN else [" ".join(out)]


def normalise(tag: str, code: str, values: dict[str, str] | None,
              value: str | list[str], conv: str | None = None) -> list[str]:
    """The items to store for ``value``, checked against the kind ``code`` of ``tag``
    (``conv``: the conversion its table entry prints it with)."""
    items = value if isinstance(value, list) else [value]
    check_xml_text(tag, items)
    if conv in LENS_CONVERSIONS:
        items = _lens_items(items, conv)
    if values:  # the printed name of an enum value stands for its stored form
        rev = {v.lower(): k for k, v in values.items()}
        items = [rev.get(v.strip().lower(), v) for v in items]
    if code.startswith("d"):
        try:
            items = [to_xmp_date(v) for v in items]
        except TagValueError as e:  # name the tag in the message
            raise TagValueError(e.reason, tag=f"xmp/{tag}") from None
    elif code.startswith("i"):
        for v in items:
            if not re.fullmatch(r"[+-]?\d+", v.strip()):
                raise TagValueError(f"{v!r} is not an integer", tag=f"xmp/{tag}")
    elif code.startswith("r"):
        for v in items:
            try:
                float(v)
            except ValueError:
                raise TagValueError(f"{v!r} is not a number", tag=f"xmp/{tag}") from None
    elif code.startswith("q"):
        items = [_rational(tag, v, conv) for v in items]
    return items


def check_target(t: XmpTarget, value: str | list[str]) -> list[str]:
    """The items to store at ``t``; refuses structures and read-only properties."""
    if t.code.startswith("S"):
        item = "[1]" if t.code[1:2] in CONTAINERS else ""
        raise ReadOnlyTagError("this is a structure: write its fields, as "
                               f"{t.where}{item}/prefix:field", tag=t.where)
    if "-" in t.code and len(t.steps) > 1:
        raise ReadOnlyTagError("this structure field cannot be written", tag=t.where)
    if t.lang is not None:  # one language of a lang-alt: text as it is
        items = value if isinstance(value, list) else [value]
        check_xml_text(f"{t.tag}-{t.lang}", items)
        return items
    return normalise(t.tag, t.code, t.values, value, t.conv)


def _stored(t: XmpTarget, value: str | list[str]) -> list[str]:
    """The items written for a tag file's text (lines are items of a list property)."""
    if isinstance(value, str) and len(t.code) > 1 and t.code[1] in "BQL":
        value = [line for line in value.split("\n") if line != ""] or [""]
    return check_target(t, value)


def reads_back(tag: str, shown: str | list[str], text: str | list[str]) -> bool:
    """Whether a property that reads as ``shown`` holds what writing ``text`` stores: the
    same items stored for both, or (a print being lossy: 1/3 s prints 0.3) ``shown`` is what
    the reader prints for the items ``text`` stores."""
    from engine.errors import EngineError
    from engine.xmp.printing import printed

    t = resolve(tag)
    want = _stored(t, text)
    try:
        if _stored(t, shown) == want:
            return True
    except EngineError:
        pass
    c = CONVERSIONS.get(t.conv or "")
    if c is not None and c.expected is not None and t.lang is None:
        # what the conversion says the value asked for reads back as, not the print of what
        # was stored: a wrong unit in the store (APEX) shows here
        asked = text if isinstance(text, str) else " ".join(text)
        return shown == c.expected(asked.strip())
    entry = None if t.lang is not None else t.entry  # one language: text as it is
    got = printed(want, entry, len(t.code) > 1 and t.code[1] in "BQL")
    return got == shown or (isinstance(shown, list) and [got] == shown)

