"""A linear edit of a few simple XMP properties, without lxml or ExifTool's XMP tables.

A one-tag EXIF write keeps the XMP copies of its value in step (engine.write.changes:
Artist and dc:creator...).  Parsing the packet with lxml and loading the XMP tables costs
more than the whole rest of such a write, so the places of those copies (``KINDS``) are
found and edited here with one pass of a small tokenizer over the packet:

- ``scan`` reads the packet when it is plainly well formed UTF-8 XML (elements, attributes,
  comments, processing instructions, the five entities and character references; no
  DOCTYPE, no CDATA) and each property asked for appears at most once, at the top level,
  in a form this module edits: a simple value as an element or an attribute of its
  rdf:Description, a list as one rdf:Seq/rdf:Bag of text items, a lang-alt as an rdf:Alt
  whose items all carry xml:lang (one of them x-default).  Anything else: ``None``, and the
  caller takes the lxml path (engine.xmp.edit), which handles every form.
- ``edit`` replaces the text of those properties in place (the packet keeps its layout and
  its size while its padding allows), as engine.xmp.edit would in meaning: a list gets the
  new items, a lang-alt a new x-default (other languages kept), a date its XMP form.
- ``check_edit`` is the write validation's read-back: the new packet scans again, its
  edited properties hold what was asked and the bytes outside them are the old ones.
"""

from __future__ import annotations

import re

from engine.errors import TagValueError
from engine.xmp.values import NOT_XML, check_xml_text, to_xmp_date, xmp_date

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
DC = "http://purl.org/dc/elements/1.1/"
# The properties kept in step with EXIF/IPTC (engine.write.changes.SYNC_GROUPS):
# tag -> (namespace, local name, ExifTool's kind letters as engine.xmp.tables has them).
KINDS = {
    "dc:creator": (DC, "creator", "sQ"),
    "dc:subject": (DC, "subject", "sB"),
    "dc:rights": (DC, "rights", "l"),
    "dc:description": (DC, "description", "l"),
    "dc:title": (DC, "title", "l"),
    "exif:DateTimeOriginal": ("http://ns.adobe.com/exif/1.0/", "DateTimeOriginal", "d"),
    "photoshop:DateCreated": ("http://ns.adobe.com/photoshop/1.0/", "DateCreated", "d"),
}
_CONTAINER = {"sQ": "Seq", "sB": "Bag", "l": "Alt"}

# XML's names and white space (not Unicode's); possessive: no backtracking, so a hostile
# tag costs linear time
_N = r"[^\W\d][\w.\-]*+(?::[^\W\d][\w.\-]*+)?+"
_TAG = re.compile(
    rf"<(/?)({_N})((?:[ \t\r\n]++{_N}[ \t\r\n]*+=[ \t\r\n]*+(?:\"[^\"<]*+\"|'[^'<]*+'))*+)"
    r"[ \t\r\n]*+(/?)>")
_ATTR = re.compile(
    rf"[ \t\r\n]++({_N})[ \t\r\n]*+=[ \t\r\n]*+(?:\"([^\"<]*+)\"|'([^'<]*+)')")
_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_BAD_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
_NAME = re.compile(r"[^\s/>]+")
_END_PI = re.compile(r"([ \t\r\n]*)(<\?xpacket end=[^>]*\?>[ \t\r\n]*)$")


class Declined(Exception):
    """The packet or the value is not one this module edits: take the lxml path."""


class Node:
    """An element: its resolved name, attributes (resolved name -> (value, value span)), its
    span, the span of its content, its children and whether it holds text besides space."""

    __slots__ = ("name", "attrs", "start", "end", "inner", "children", "text")

    def __init__(self, name: tuple[str, str], attrs: dict, start: int) -> None:
        self.name, self.attrs, self.start = name, attrs, start
        self.end, self.inner = start, (start, start)
        self.children: list[Node] = []
        self.text = False


def _unescape(raw: str, attribute: bool) -> str:
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if attribute:
        raw = raw.replace("\t", " ").replace("\n", " ")

    def one(m: re.Match) -> str:
        if m.group(1):
            return _NAMED[m.group(1)]
        code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
        if code > 0x10FFFF or NOT_XML.fullmatch(chr(code)) and code not in (9, 10, 13):
            raise Declined
        return chr(code)
    return _ENTITY.sub(one, raw)


def _attrs(text: str, scopes: list[dict[str, str]], at: int) -> tuple[dict, dict[str, str]]:
    """The attributes of a start tag (resolved) and the namespaces it declares."""
    raw: dict[str, tuple[str, tuple[int, int]]] = {}
    for m in _ATTR.finditer(text):
        g = 2 if m.group(2) is not None else 3
        if m.group(1) in raw or _BAD_AMP.search(m.group(g)):
            raise Declined
        raw[m.group(1)] = (m.group(g), (at + m.start(g), at + m.end(g)))
    decls = {k[6:]: _unescape(v, True) for k, (v, _s) in raw.items() if k.startswith("xmlns:")}
    if "xmlns" in raw:
        decls[""] = _unescape(raw["xmlns"][0], True)
    scope = {**scopes[-1], **decls} if decls else scopes[-1]
    out = {}
    for k, (v, span) in raw.items():
        if k == "xmlns" or k.startswith("xmlns:"):
            continue
        prefix, _, local = k.rpartition(":")
        if not prefix:
            out[("", local)] = (v, span)
        elif prefix == "xml":
            out[(XML_NS, local)] = (v, span)
        elif prefix in scope:
            out[(scope[prefix], local)] = (v, span)
        else:
            raise Declined
    return out, scope


def _resolve(qname: str, scope: dict[str, str]) -> tuple[str, str]:
    prefix, _, local = qname.rpartition(":")
    uri = scope.get(prefix)
    if uri is None or not local:
        raise Declined
    return uri, local


def _parse(text: str) -> Node:
    """The element tree of a packet: one pass, well-formedness checked as it goes."""
    if NOT_XML.search(text) or "<!" in text.replace("<!--", "") or "]]>" in text:
        raise Declined  # DOCTYPE, CDATA: the lxml path's to judge
    doc = Node(("", ""), {}, 0)
    stack, names, scopes = [doc], [""], [{"xml": XML_NS}]
    pos = 0
    while True:
        lt = text.find("<", pos)
        chunk = text[pos:] if lt < 0 else text[pos:lt]
        if chunk.strip(" \t\r\n"):
            if len(stack) == 1 or _BAD_AMP.search(chunk):
                raise Declined
            stack[-1].text = True
        if lt < 0:
            break
        if text.startswith("<!--", lt) or text.startswith("<?", lt):
            close = text.find("-->" if text[lt + 1] == "!" else "?>", lt + 2)
            if close < 0:
                raise Declined
            pos = close + (3 if text[lt + 1] == "!" else 2)
            continue
        m = _TAG.match(text, lt)
        if m is None:
            raise Declined
        pos = m.end()
        if m.group(1):  # an end tag
            if m.group(3) or m.group(4) or len(stack) == 1 or names[-1] != m.group(2):
                raise Declined
            node = stack.pop()
            node.end, node.inner = pos, (node.inner[0], lt)
            names.pop()
            scopes.pop()
            continue
        attrs, scope = _attrs(m.group(3), scopes, m.start(3))
        node = Node(_resolve(m.group(2), scope), attrs, lt)
        node.inner = (pos, pos)
        stack[-1].children.append(node)
        if m.group(4):
            node.end = pos
        else:
            stack.append(node)
            names.append(m.group(2))
            scopes.append(scope)
    if len(stack) != 1 or len(doc.children) != 1:
        raise Declined
    return doc


class Place:
    """Where a property found by ``scan`` is: an attribute's value span (``span``) or its
    element (``node``; ``items``: the list or lang-alt items), and its value as
    engine.xmp.decode reports it (``others``: a lang-alt's other languages)."""

    __slots__ = ("kind", "value", "others", "node", "span", "items")

    def __init__(self, kind: str, value: str | list[str], node: Node | None = None,
                 span: tuple[int, int] | None = None, items: list[Node] | None = None,
                 others: list[tuple[str, str]] | None = None) -> None:
        self.kind, self.value, self.node, self.span = kind, value, node, span
        self.items, self.others = items or [], others or []

    def whole(self) -> tuple[int, int]:
        """The bytes this property takes (an attribute: its value, between the quotes)."""
        return self.span if self.span is not None else (self.node.start, self.node.end)


class Scan:
    __slots__ = ("text", "found")

    def __init__(self, text: str, found: dict[str, Place]) -> None:
        self.text, self.found = text, found


def _text(text: str, node: Node) -> str:
    """The text of an element that holds text only (a comment in it: Declined)."""
    raw = text[node.inner[0] : node.inner[1]]
    if "<" in raw:
        raise Declined
    return _unescape(raw, False)


def _self_closed(text: str, node: Node) -> bool:
    return text[node.end - 2 : node.end] == "/>"


def _items(text: str, prop: Node, kind: str) -> Place:
    """A list or lang-alt in its one container, items of text only."""
    if prop.text or len(prop.children) != 1:
        raise Declined
    box = prop.children[0]
    lang = (XML_NS, "lang")
    if box.name != (RDF, _CONTAINER[kind]) or box.attrs or box.text or not box.children:
        raise Declined
    for li in box.children:
        if li.name != (RDF, "li") or li.children or _self_closed(text, li) or \
                set(li.attrs) != ({lang} if kind == "l" else set()):
            raise Declined
    values = [_text(text, li) for li in box.children]
    if kind != "l":
        return Place(kind, values, prop, items=box.children)
    langs = [li.attrs[lang][0] for li in box.children]
    if langs.count("x-default") != 1:
        raise Declined
    at = langs.index("x-default")
    others = [(g, v) for g, v in zip(langs, values, strict=True) if g != "x-default"]
    return Place(kind, values[at], prop, items=[box.children[at]], others=others)


def _place(text: str, desc: Node, prop: Node | None, name: tuple[str, str],
           kind: str) -> Place:
    if prop is None:  # the attribute form: a simple value
        raw, span = desc.attrs[name]
        if kind != "d":
            raise Declined
        return Place(kind, xmp_date(_unescape(raw, True)), span=span)
    if prop.attrs or _self_closed(text, prop):
        raise Declined  # qualifiers, rdf:parseType, rdf:resource...
    if kind != "d":
        return _items(text, prop, kind)
    if prop.children:
        raise Declined
    return Place(kind, xmp_date(_text(text, prop)), prop)


def _top_level(doc: Node) -> list[Node]:
    """The rdf:Descriptions of the packet's one rdf:RDF."""
    todo, rdfs = [doc], []
    while todo:
        node = todo.pop()
        if node.name == (RDF, "RDF"):
            rdfs.append(node)
        todo.extend(node.children)
    if len(rdfs) != 1:
        raise Declined
    descs = [d for d in rdfs[0].children if d.name == (RDF, "Description")]
    if any((XML_NS, "lang") in d.attrs for d in descs):
        raise Declined
    return descs


def scan_text(text: str, tags) -> Scan:
    """``scan`` on the decoded packet; raises Declined."""
    descs = _top_level(_parse(text))
    found: dict[str, Place] = {}
    for tag in tags:
        uri, local, kind = KINDS[tag]
        name = (uri, local)
        where = [(d, None) for d in descs if name in d.attrs]
        where += [(d, c) for d in descs for c in d.children if c.name == name]
        if len(where) > 1:
            raise Declined
        if where:
            found[tag] = _place(text, where[0][0], where[0][1], name, kind)
    return Scan(text, found)


def scan(packet: bytes, tags) -> Scan | None:
    """The places of ``tags`` (keys of ``KINDS``) in ``packet``; None: take the lxml path."""
    try:
        return scan_text(bytes(packet).decode("utf-8"), tags)
    except (Declined, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _escape(value: str, quote: str | None) -> str:
    out = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace("\r", "&#13;")
    if quote is None:
        return out
    out = out.replace("\n", "&#10;").replace("\t", "&#9;")
    return out.replace(quote, "&quot;" if quote == '"' else "&apos;")


def _stored(tag: str, value: str | list[str]) -> list[str]:
    """The items engine.xmp.edit stores for ``value`` (checked as it checks them)."""
    items = value if isinstance(value, list) else [value]
    check_xml_text(tag, items)
    if KINDS[tag][2] == "d":
        try:
            return [to_xmp_date(v) for v in items]
        except TagValueError as e:  # name the tag in the message
            raise TagValueError(e.reason, tag=f"xmp/{tag}") from None
    return items


def _replacement(text: str, place: Place, items: list[str]) -> tuple[int, int, str]:
    if place.span is not None:  # an attribute: its own quotes
        return (*place.span, _escape("\n".join(items), text[place.span[0] - 1]))
    if place.kind in ("d", "l"):
        node = place.node if place.kind == "d" else place.items[0]
        return (*node.inner, _escape("\n".join(items), None))
    lis = place.items
    box = place.node.children[0]
    lead = text[box.inner[0] : lis[0].start]
    sep = text[lis[0].end : lis[1].start] if len(lis) > 1 else lead
    qname = _NAME.match(text, lis[0].start + 1).group()
    body = sep.join(f"<{qname}>{_escape(i, None)}</{qname}>" for i in items)
    return lis[0].start, lis[-1].end, body


def _repad(text: str, grown: int) -> str:
    """Keep the packet's size: its padding takes up what the edit added or removed."""
    m = _END_PI.search(text)
    if m is None or grown == 0:
        return text
    pad = m.group(1)
    pad = pad[: max(0, len(pad) - grown)] if grown > 0 else pad + " " * -grown
    return text[: m.start()] + pad + m.group(2)


def edit(found: Scan, changes: dict[str, str | list[str]], limit: int) -> bytes:
    """The packet with ``changes`` (tags ``scan`` found -> new value) made; Declined when
    it would outgrow ``limit`` bytes (Extended XMP is the lxml path's)."""
    text = found.text
    cuts = sorted(_replacement(text, found.found[tag], _stored(tag, value))
                  for tag, value in changes.items())
    parts, at = [], 0
    for start, end, new in cuts:
        parts += [text[at:start], new]
        at = end
    new_text = "".join(parts) + text[at:]
    old_size = len(text.encode("utf-8"))
    new_text = _repad(new_text, len(new_text.encode("utf-8")) - old_size)
    out = new_text.encode("utf-8")
    if len(out) > limit:
        raise Declined
    return out


def _expected(tag: str, value: str | list[str]) -> str | list[str]:
    items = _stored(tag, value)
    kind = KINDS[tag][2]
    if kind == "d":
        return xmp_date("\n".join(items))
    return "\n".join(items) if kind == "l" else items


def _without(s: Scan, tags) -> str:
    """The packet without the places of ``tags`` nor its padding."""
    text = s.text
    out, at = [], 0
    for start, end in sorted(s.found[t].whole() for t in tags):
        out.append(text[at:start])
        at = end
    rest = text[at:]
    m = _END_PI.search(rest)
    return "".join(out) + (rest[: m.start()] + m.group(2) if m else rest)


def check_edit(old: bytes, new: bytes, changes: dict[str, str | list[str]]) -> str | None:
    """Why the linearly edited packet ``new`` is not ``old`` with ``changes`` (None: it is)."""
    try:
        before = scan_text(bytes(old).decode("utf-8"), changes)
        after = scan_text(bytes(new).decode("utf-8"), changes)
    except (Declined, ValueError):  # UnicodeDecodeError too
        return "the edited XMP packet does not read back"
    for tag, value in changes.items():
        place = after.found.get(tag)
        if tag not in before.found:
            return f"xmp/{tag} was not in the packet"
        if place is None or place.value != _expected(tag, value) or \
                place.others != before.found[tag].others:
            return f"xmp/{tag} does not read back as written"
    if _without(before, changes) != _without(after, changes):
        return "the XMP packet would change beyond the properties written"
    return None
