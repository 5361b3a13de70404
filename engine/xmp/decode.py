"""XMP packets decoded into tags named and printed as ExifTool does.

The packet is parsed by engine.xmp.packet (lxml: no DTD, no entities, no network); values are
printed by engine.xmp.printing.

Decoding follows ExifTool's model (XMP.pm): every element and attribute is a property in a
property path; ``rdf:``/``x:``/``xml:`` levels are skipped, and the remaining local names,
concatenated (``History`` + ``Action``), form the *flattened* tag id looked up in the table of
the first property's namespace (engine.xmp.tables).  Unknown tags get ``ucfirst`` of that id, or the
flat name of their innermost known structure plus the rest.  The group is ``XMP-<prefix>``
with ExifTool's standard prefix for known namespace URIs and the packet's own prefix otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from engine.errors import CorruptFileError
from engine.model import TagValue, binary_text
from engine.xmp import tables as T
from engine.xmp.packet import XmpPacket
from engine.xmp.printing import printed

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XMPMETA = "adobe:ns:meta/"

_URI2NS = {uri: ns for ns, uri in T.NS_URI.items()}
_URI2NS[XML_NS] = "xml"
_URI2NS["http://ns.exiftool.ca/1.0/"] = "et"
_IGNORED_NS = frozenset({"x", "rdf", "xmlns", "xml", "svg", "et", "office"})
_MAX_DEPTH = 64  # property nesting we follow (libxml2 itself stops at 256 levels)
_MAX_ITEMS = 1000  # list items per list, as ExifTool
# A count no real packet reaches (the corpus: 700 properties), so a hostile packet costs
# bounded work: beyond it the rest is skipped (engine.xmp.packet bounds the namespaces).
_MAX_PROPERTIES = 100_000  # properties (elements and attributes) read per packet
_ATTRS = etree.XPath("@*")  # linear; lxml's attrib.items() is quadratic in the attribute count
_SPECIAL = {("rdf", "about"), ("x", "xmptk"), ("x", "xaptk")}  # attributes reported as tags


def parse_packet(packet: bytes, *, path: str) -> tuple[XmpPacket, list[str]]:
    """Parse a packet tolerantly (engine.xmp.packet); raise CorruptFileError when it is
    hostile or not XML."""
    from engine.xmp.packet import read_packet

    return read_packet(packet, path=path)


# ---------------------------------------------------------------------------------------------
# Walking the tree into (property path, value) events, as ExifTool's ParseXMPElement does


@dataclass(frozen=True, slots=True)
class Prop:
    ns: str  # ExifTool's namespace prefix (standard one for known URIs)
    name: str  # local name
    index: int = 0  # 1-based position for rdf:li items


@dataclass(slots=True)
class _Event:
    props: tuple[Prop, ...]
    value: str
    lang: str | None


@dataclass(slots=True)
class _Walker:
    path: str
    events: list[_Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown_ns: dict[str, str] = field(default_factory=dict)  # uri -> prefix used
    used: dict[str, str] = field(default_factory=dict)  # prefix used -> uri (ExifTool's curURI)
    std: dict[str, str] = field(default_factory=dict)  # uri -> standard prefix or ''
    next_tmp: int = 0  # no tmpN below it is free (prefixes are only ever added)
    specials: set[tuple[str, str]] = field(default_factory=set)
    deep_warned: bool = False
    full_warned: bool = False

    def std_ns(self, uri: str) -> str:
        std = self.std.get(uri)
        if std is None:
            std = _URI2NS.get(uri) or _URI2NS.get(uri[:-1] if uri.endswith("/") else uri + "/")
            if std is None:
                std = _URI2NS.get(re.sub(r"/\d+\.\d+(/|$)", r"/1.0\1", uri), "")
            self.std[uri] = std
        return std

    def declare(self, prefix: str | None, uri: str) -> str:
        """Name the namespace ``uri`` as ExifTool does at its first declaration: by its prefix,
        or ``tmpN`` when that prefix is a known one or already names another namespace."""
        got = self.unknown_ns.get(uri)
        if got is not None:
            return got
        p = prefix or "ns"
        if p in T.NS_URI or p in self.used:
            while f"tmp{self.next_tmp}" in self.used:
                self.next_tmp += 1
            p = f"tmp{self.next_tmp}"
        self.unknown_ns[uri] = p
        self.used[p] = uri
        return p

    def declare_all(self, decls: list[tuple[str | None, str]]) -> None:
        for prefix, uri in decls:
            if prefix and uri and not self.std_ns(uri):
                self.declare(prefix, uri)

    def ns_of(self, uri: str | None, prefix: str | None) -> str:
        if not uri:
            return ""
        return self.std_ns(uri) or self.unknown_ns.get(uri) or self.declare(prefix, uri)

    def qname(self, name: str, prefix: str | None = None) -> tuple[str, str]:
        """(namespace, local name) of an element or attribute name; ``prefix`` is the one
        it is written with, for a namespace no declaration named (the default namespace)."""
        if name.startswith("{"):
            uri, local = name[1:].split("}", 1)
            return self.ns_of(uri, prefix), local
        if ":" in name:  # undeclared prefix (read in recovery mode): used as it is
            prefix, local = name.split(":", 1)
            return prefix, local
        return "", name

    def full(self) -> bool:
        if len(self.events) < _MAX_PROPERTIES:
            return False
        if not self.full_warned:
            self.warnings.append(f"{self.path}: XMP with over {_MAX_PROPERTIES} properties; "
                                 "the rest ignored")
            self.full_warned = True
        return True

    def walk(self, el: etree._Element, props: list[Prop], index: int, depth: int) -> None:
        if self.full():
            return
        ns, local = self.qname(el.tag, el.prefix)
        if ns == "xmp" and local == "xmpmeta":
            ns = "x"
        resource = ns == "rdf" and local == "Description" and any(
            p.ns == "rdf" and p.name == "Description" for p in props)
        pushed = not resource
        if pushed:
            props.append(Prop(ns, local, index))
        if depth > _MAX_DEPTH:
            if not self.deep_warned:
                self.warnings.append(f"{self.path}: XMP nested deeper than {_MAX_DEPTH} levels;"
                                     " deeper properties ignored")
                self.deep_warned = True
            if pushed:
                props.pop()
            return
        shorthand = self._attributes(el, ns, props)
        children = [c for c in el if isinstance(c.tag, str)]
        if children:
            self._children(children, props, depth)
        else:
            self._leaf(el, ns, local, props, shorthand)
        if pushed:
            props.pop()

    def _attributes(self, el: etree._Element, ns: str, props: list[Prop]) -> bool:
        """Events for the attributes of ``el``; whether one was a property (shorthand)."""
        shorthand = False
        for attr in _ATTRS(el):
            aname, aval = attr.attrname, str(attr)
            ans, alocal = self.qname(aname)
            if not aname.startswith("{"):
                ans = ns  # an unqualified attribute takes its element's namespace
            if ans in _IGNORED_NS:
                self.special(ans, alocal, aval)
                continue
            if self.full():
                break
            self.events.append(_Event((*props, Prop(ans, alocal)), aval, None))
            shorthand = True
        return shorthand

    def _children(self, children: list[etree._Element], props: list[Prop], depth: int) -> None:
        n_li = 0
        for child in children:
            idx = 0
            if child.tag == f"{{{RDF}}}li":
                n_li += 1
                if n_li > _MAX_ITEMS:
                    self.warnings.append(f"{self.path}: XMP list with over {_MAX_ITEMS}"
                                         " items; the rest ignored")
                    break
                idx = n_li
            self.walk(child, props, idx, depth + 1)

    def _leaf(self, el: etree._Element, ns: str, local: str, props: list[Prop],
              shorthand: bool) -> None:
        """The event of an element without children: its text, or its rdf:value/resource."""
        val = el.text or ""
        was_empty = False
        if ns == "rdf" and local == "Description":
            val = val.strip()
        if val == "":
            for a in ("value", "resource", "about"):
                v = el.get(f"{{{RDF}}}{a}")
                if v is not None:
                    val, was_empty = v, True
                    break
        if val or not shorthand:
            if not (ns == "rdf" and local == "type" and was_empty) and props:
                self.events.append(_Event(tuple(props), val, el.get(f"{{{XML_NS}}}lang")))

    def special(self, ns: str, local: str, value: str) -> None:
        # the few attributes in ignored namespaces that ExifTool reports as tags
        if not value:
            return
        if ns == "rdf" and local == "about":
            key = ("rdf", "About", "xmp/rdf:about", value)
        elif ns == "x" and local in ("xmptk", "xaptk"):
            key = ("x", "XMPToolkit", "xmp/x:xmptk", value)
        else:
            return
        if (key[1], value) not in self.specials:
            self.specials.add((key[1], value))
            self.events.append(_Event((Prop(ns, local),), value, None))


# ---------------------------------------------------------------------------------------------
# From events to tags


def _lang_case(lang: str) -> str:
    m = re.match(r"([a-z]{2,3}|[xi])(-[a-z]{2})\b(.*)", lang, re.I)
    if m:
        return m[1].lower() + m[2].upper() + m[3].lower()
    return lang.lower()


def _ucfirst(s: str) -> str:
    return s[:1].upper() + s[1:]


def _tag_id(props: list[Prop]) -> tuple[str, str, list[str]]:
    """ExifTool's flattened tag id, the namespace that names it, and the id at each level."""
    tag = ""
    ns = ""
    levels: list[str] = []
    for p in props:
        name = p.name
        if not re.search("[a-z]", name):
            table = T.TAGS.get(T.XLAT.get(p.ns, p.ns), {})
            if name not in table:
                name = re.sub(r"_([a-z])", lambda m: m[1].upper(), name.lower())
        tag = tag + _ucfirst(name) if tag else name
        levels.append(tag)
        ns = ns or p.ns
    return tag, ns, levels


@dataclass(slots=True)
class _Found:
    path: str
    group: str
    name: str
    values: list[str]
    is_list: bool
    writable: bool
    binary: bool


def _describe(ev: _Event) -> tuple[str, str, str, tuple | None, bool, bool, bool] | None:
    """(path, group, name, table entry, value is a list item, is lang-alt, is a property
    its namespace's table lacks) for one event."""
    props = ev.props
    contributing: list[Prop] = []
    indexes: list[int] = []
    for p in props:
        if p.ns in _IGNORED_NS:
            if p.ns == "rdf" and p.name == "li" and contributing and p.index:
                indexes[-1] = p.index
            continue
        contributing.append(p)
        indexes.append(0)
    if not contributing:
        if len(props) == 1 and (props[0].ns, props[0].name) in _SPECIAL:
            p = props[0]
            name = "About" if p.name == "about" else "XMPToolkit"
            key = "about" if p.name == "about" else "xmptk"
            return f"xmp/{p.ns}:{key}", f"XMP-{p.ns}", name, ("", "s-", -1), False, False, False
        return None
    tag, ns, levels = _tag_id(contributing)
    if not ns:
        return None  # a property without a namespace is not XMP
    group = T.XLAT.get(ns, ns)
    table = T.TAGS.get(group, {})
    entry = table.get(tag)
    last = props[-1]
    in_list = last.ns == "rdf" and last.name == "li" and len(props) > 2 and \
        props[-2].ns == "rdf" and props[-2].name in ("Bag", "Seq", "Alt")
    if entry is not None:
        name = entry[0] or tag
        lang_alt = entry[1][0] == "l"
    else:
        name = _ucfirst(tag)
        for i in range(len(levels) - 2, -1, -1):
            st = table.get(levels[i])
            if st is not None and st[1][0] == "S":
                flat = T.FLAT.get(group, {}).get(levels[i]) or st[0] or levels[i]
                rel = tag[len(levels[i]):]
                name = flat + _ucfirst(rel)
                break
        name = _ucfirst(re.sub(r"[^-_a-zA-Z0-9]", "", name))
        if len(name) < 2 or not name[0].isalpha():
            name = "Tag" + name
        lang_alt = in_list and props[-2].name == "Alt" and ev.lang is not None
    segs = []
    for j, (p, idx) in enumerate(zip(contributing, indexes, strict=True)):
        seg = f"{p.ns}:{p.name}" if p.ns else p.name
        if idx and j < len(contributing) - 1:
            seg += f"[{idx}]"
        segs.append(seg)
    path = "xmp/" + "/".join(segs)
    if ev.lang is not None and ev.lang.lower() != "x-default" and lang_alt:
        lang = _lang_case(ev.lang)
        name += f"-{lang}"
        path += f"-{lang}"
    # ExifTool writes only the properties of a namespace it knows (engine.xmp.paths)
    alien = group in T.TAGS and contributing[0].name not in table
    return path, f"XMP-{group}", name, entry, in_list and not lang_alt, lang_alt, alien


def _events_to_tags(events: list[_Event], warnings: list[str], path: str) -> list[TagValue]:
    found: dict[str, _Found] = {}
    order: dict[str, tuple[_Found, tuple | None]] = {}  # by path, in the order shown
    for ev in events:
        d = _describe(ev)
        if d is None:
            continue
        tpath, group, name, entry, is_item, _lang_alt, alien = d
        f = found.get(tpath)
        if f is not None and is_item and f.is_list:
            if len(f.values) < _MAX_ITEMS:
                f.values.append(ev.value)
            continue
        binary = entry is not None and "*" in entry[1]
        # Structure fields are written through engine.xmp.edit (which refuses the paths it
        # cannot address); the x: toolkit attribute of the packet root is not a property.
        writable = (entry is None or "-" not in entry[1]) and not tpath.startswith("xmp/x:") \
            and not alien
        f = _Found(tpath, group, name, [ev.value], is_item, writable, binary)
        old = found.get(tpath)
        if old is not None:
            # a property given twice (invalid RDF): ExifTool shows the later one unless the
            # tag has priority 0 (unknown or avoided tags), then the first
            warnings.append(f"{path}: XMP property {tpath[4:]} appears more than once")
            if entry is None or "~" in entry[1]:
                continue
            del order[tpath]  # shown in the place of the later one
        found[tpath] = f
        order[tpath] = (f, entry)
    out = []
    for f, entry in order.values():
        shown = printed(f.values, entry, f.is_list)
        values = shown if isinstance(shown, list) else [shown]
        if f.binary or (entry is None and any(len(v) > 65536 for v in values)):
            size = sum(len(v.encode()) for v in values)
            out.append(TagValue(f.path, f.group, f.name, binary_text(size), False, size))
        else:
            out.append(TagValue(f.path, f.group, f.name, shown, f.writable))
    return out


def decode_xmp(packet: bytes, extended: bytes | None, *, path: str
               ) -> tuple[list[TagValue], list[str]]:
    """Tags of a main XMP packet, with the Extended XMP properties merged in after them."""
    warnings: list[str] = []
    walker = _Walker(path)
    for data, what in ((packet, "XMP"), (extended, "Extended XMP")):
        if data is None:
            continue
        try:
            parsed, w = parse_packet(data, path=path)
        except CorruptFileError as e:
            warnings.append(f"{what}: {e}")
            continue
        warnings.extend(w)
        walker.declare_all(parsed.decls)
        walker.walk(parsed.root, [], 0, 0)
    warnings.extend(walker.warnings)
    tags = _events_to_tags(walker.events, warnings, path)
    return tags, warnings
