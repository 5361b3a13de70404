"""Edit an XMP packet in place: change only the properties asked for, keep everything else.

The packet is parsed by engine.xmp.packet in its strict mode (a damaged packet is refused, not
guessed at), the named properties are replaced, added or removed, and the packet is serialised
with padding so later edits can often be made in place.  Unknown namespaces, properties,
structures and qualifiers are kept.  Pure functions on bytes.
"""

from __future__ import annotations

from lxml import etree

from engine.errors import CorruptFileError, ReadOnlyTagError, TagValueError
from engine.xmp import tables as xmp_tables
from engine.xmp.packet import ATTRS, RDF, XMPMETA, parse_strict
from engine.xmp.paths import CONTAINERS, XmpTarget, check_target, property_code, resolve

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PAD = 2048
_HEADER = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'


def _new_packet() -> etree._Element:
    root = etree.Element(f"{{{XMPMETA}}}xmpmeta", nsmap={"x": XMPMETA})
    etree.SubElement(root, f"{{{RDF}}}RDF", nsmap={"rdf": RDF})
    return root


def _parse(packet: bytes) -> etree._Element:
    """The tree of ``packet`` to edit (engine.xmp.packet's strict mode), under x:xmpmeta."""
    root = parse_strict(packet).root
    if root.tag == f"{{{RDF}}}RDF":
        meta = _new_packet()
        meta.remove(meta[0])
        meta.append(root)
        return meta
    return root


def _rdf(root: etree._Element) -> etree._Element:
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    if rdf is None:
        if len(root) or root.tag not in (f"{{{XMPMETA}}}xmpmeta", f"{{{XMPMETA}}}xapmeta"):
            raise CorruptFileError("XMP packet has no rdf:RDF element; refusing to edit")
        rdf = etree.SubElement(root, f"{{{RDF}}}RDF", nsmap={"rdf": RDF})  # an empty packet
    return rdf


def _remove_property(rdf: etree._Element, uri: str, prop: str) -> None:
    qname = f"{{{uri}}}{prop}"
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        desc.attrib.pop(qname, None)
        for el in desc.findall(qname):
            desc.remove(el)


def _description_for(rdf: etree._Element, prefix: str, uri: str,
                     more: dict[str, str] | None = None) -> etree._Element:
    """The Description for ``prefix``'s properties (a new one declares ``more`` too)."""
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        if desc.nsmap.get(prefix) == uri:
            return desc
    about = ""
    first = rdf.find(f"{{{RDF}}}Description")
    if first is not None:
        about = first.get(f"{{{RDF}}}about", "")
    desc = etree.SubElement(rdf, f"{{{RDF}}}Description", nsmap={**(more or {}), prefix: uri})
    desc.set(f"{{{RDF}}}about", about)
    return desc


def _fill(el: etree._Element, code: str, items: list[str],
          old_langs: list[tuple[str, str]]) -> None:
    """Put a value of kind ``code`` into the new property element ``el``."""
    container = CONTAINERS.get(code[1:2])
    if code.startswith("l"):
        alt = etree.SubElement(el, f"{{{RDF}}}Alt")
        for lang, text in [("x-default", "\n".join(items))] + old_langs:
            li = etree.SubElement(alt, f"{{{RDF}}}li")
            li.set(XML_LANG, lang)
            li.text = text
    elif container:
        seq = etree.SubElement(el, f"{{{RDF}}}{container}")
        for item in items:
            etree.SubElement(seq, f"{{{RDF}}}li").text = item
    else:
        el.text = "\n".join(items)


def _other_langs(els: list[etree._Element]) -> list[tuple[str, str]]:
    """The languages but x-default of lang-alt property elements: kept when x-default is set."""
    out = []
    for el in els:
        for li in el.findall(f"{{{RDF}}}Alt/{{{RDF}}}li"):
            lang = li.get(XML_LANG, "x-default")
            if lang != "x-default":
                out.append((lang, li.text or ""))
    return out


def _set_property(rdf, prefix: str, prop: str, uri: str, items: list[str]) -> None:
    code = property_code(prefix, prop)
    qname = f"{{{uri}}}{prop}"
    old_langs: list[tuple[str, str]] = []
    if code.startswith("l"):  # lang-alt: keep the other languages, replace x-default
        old_langs = _other_langs([el for desc in rdf.findall(f"{{{RDF}}}Description")
                                  for el in desc.findall(qname)])
    _remove_property(rdf, uri, prop)
    desc = _description_for(rdf, prefix, uri)
    _fill(etree.SubElement(desc, qname), code, items, old_langs)


def _set_li(alt: etree._Element, lang: str, text: str | None) -> None:
    """Set (``None``: remove) the item of language ``lang`` of a lang-alt's rdf:Alt."""
    for li in alt.findall(f"{{{RDF}}}li"):
        if li.get(XML_LANG, "").lower() == lang.lower():
            if text is None:
                alt.remove(li)
            else:
                li.text = text
            return
    if text is not None:
        li = etree.SubElement(alt, f"{{{RDF}}}li")
        li.set(XML_LANG, lang)
        li.text = text


def _set_language(rdf, prefix: str, prop: str, uri: str, lang: str,
                  value: str | list[str] | None) -> None:
    """Set or remove one language of a lang-alt property, keeping the others."""
    qname = f"{{{uri}}}{prop}"
    text = None if value is None else ("\n".join(value) if isinstance(value, list) else value)
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        if desc.get(qname) is not None:  # the simple attribute form holds only x-default
            _fill(etree.SubElement(desc, qname), "l", [desc.attrib.pop(qname)], [])
        alt = desc.find(f"{qname}/{{{RDF}}}Alt")
        if alt is None:
            continue
        _set_li(alt, lang, text)
        return
    if text is not None:
        desc = _description_for(rdf, prefix, uri)
        alt = etree.SubElement(etree.SubElement(desc, qname), f"{{{RDF}}}Alt")
        _set_li(alt, lang, text)


# ---------------------------------------------------------------------------------------------
# Structure paths, as engine.xmp.decode prints them: ``A:struct/B:field``, ``A:list[2]/B:field``,
# ``A:s/B:t/C:field``.  ExifTool's tables hold structure fields as *flattened* tags: the local
# names concatenated, ucfirst (``CreatorContactInfo`` + ``CiEmailWork``), in the table of the
# top-level property's namespace; that entry gives the field's type.
#
# Structure fields.  A structure is written in any of RDF's forms: the property element with
# rdf:parseType="Resource" holding the fields (ExifTool's and ours for new ones), an
# rdf:Description inside it, or fields as attributes; a list of structures holds one such
# node per rdf:li.  Editing keeps the form found.

_PARSE_TYPE = f"{{{RDF}}}parseType"
_LISTS = {f"{{{RDF}}}{k}" for k in CONTAINERS.values()}

# One step down a structure path: (element holding the property, property element, list
# container or None, rdf:li or None, node whose children are the fields)
Frame = tuple[etree._Element, etree._Element, etree._Element | None, etree._Element | None,
              etree._Element]


def _node_of(el: etree._Element, what: str, where: str) -> etree._Element:
    """The element whose children (and attributes) are the fields of structure ``el``."""
    kids = [c for c in el if isinstance(c.tag, str)]
    if len(kids) == 1 and kids[0].tag == f"{{{RDF}}}Description":
        return kids[0]
    if any(c.tag in _LISTS for c in kids):
        raise ReadOnlyTagError(f"{what} is a list in this file, not a structure", tag=where)
    if el.get(_PARSE_TYPE) == "Resource" or kids or any(
            not k.startswith(f"{{{RDF}}}") and k != XML_LANG for k in el.attrib):
        return el
    raise ReadOnlyTagError(f"{what} holds a simple value in this file, not a structure",
                           tag=where)


def _is_empty(node: etree._Element) -> bool:
    """A structure node without fields (rdf: children and attributes are no fields)."""
    return not (node.text or "").strip() and all(
        not isinstance(c.tag, str) or c.tag.startswith(f"{{{RDF}}}") for c in node) and all(
        k.startswith(f"{{{RDF}}}") or k == XML_LANG for k in node.attrib)


def _local_uri(scope: etree._Element, prefix: str, uri: str) -> str:
    """The namespace ``prefix`` names here.  engine.xmp.decode prints a namespace it does not know
    with the packet's own prefix, so such a prefix means what the packet binds it to (``uri``,
    from the tables, when the packet does not use it)."""
    if prefix in xmp_tables.NS_URI:
        return uri
    return scope.nsmap.get(prefix) or uri


def _packet_uri(rdf: etree._Element, prefix: str, uri: str) -> str:
    """``_local_uri`` for a top-level property: as the Descriptions bind ``prefix``."""
    if prefix in xmp_tables.NS_URI:
        return uri
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        if desc.nsmap.get(prefix):
            return desc.nsmap[prefix]
    return uri


def _walk(rdf: etree._Element, t: XmpTarget, create: bool) -> list[Frame] | None:
    """The frames from the top-level property down to the node holding ``t``'s field; None
    when a structure on the way is absent and ``create`` is false.  With ``create``, absent
    structures (and the next item of a list of structures) are added."""
    frames: list[Frame] = []
    for depth, (prefix, prop, uri, index, code) in enumerate(t.steps[:-1]):
        if depth == 0:
            uri = _packet_uri(rdf, prefix, uri)
            holders = rdf.findall(f"{{{RDF}}}Description")
        else:
            uri = _local_uri(frames[-1][4], prefix, uri)
            holders = [frames[-1][4]]
        qname, what = f"{{{uri}}}{prop}", t.shown(depth)
        el = holder = None
        for holder in holders:
            if holder.get(qname) is not None:
                raise ReadOnlyTagError(f"{what} holds a simple value in this "
                                       "file, not a structure", tag=t.where)
            el = holder.find(qname)
            if el is not None:
                break
        if el is None:
            if not create:
                return None
            if depth == 0:
                more = {s[0]: s[2] for s in t.steps if s[0] in xmp_tables.NS_URI}
                holder = _description_for(rdf, prefix, uri, more)
            el = _make(holder, prefix, uri, prop)
            if index is None:
                el.set(_PARSE_TYPE, "Resource")
            elif code[1:2] in CONTAINERS:
                etree.SubElement(el, f"{{{RDF}}}{CONTAINERS[code[1:2]]}")
            else:
                raise TagValueError(f"cannot create the list {what}: its kind "
                                    "(Bag or Seq) is unknown", tag=t.where)
        assert holder is not None
        if index is None:
            frames.append((holder, el, None, None, _node_of(el, what, t.where)))
            continue
        container = next((c for c in el if c.tag in _LISTS), None)
        if container is None:
            raise ReadOnlyTagError(f"{what} is not a list in this file",
                                   tag=t.where)
        li = _list_item(container, index, create, what, t.where)
        if li is None:
            return None
        node = _node_of(li, f"item {t.shown(depth, True)}", t.where)
        frames.append((holder, el, container, li, node))
    return frames


def _list_item(container: etree._Element, index: int, create: bool, what: str,
               where: str) -> etree._Element | None:
    """Item ``index`` (from 1) of a list of structures; with ``create`` the next item is
    added; None when it is absent and not made."""
    items = container.findall(f"{{{RDF}}}li")
    if index <= len(items):
        return items[index - 1]
    if not create:
        return None
    if index != len(items) + 1:
        raise TagValueError(f"{what} has {len(items)} items: a new item "
                            f"can only be item {len(items) + 1}", tag=where)
    li = etree.SubElement(container, f"{{{RDF}}}li")
    li.set(_PARSE_TYPE, "Resource")
    return li


def _make(parent: etree._Element, prefix: str, uri: str, prop: str) -> etree._Element:
    """A new property element, appended to ``parent`` (a Description or a structure node)."""
    if parent.tag != f"{{{RDF}}}Description" and parent.get(_PARSE_TYPE) != "Resource":
        # A property element holding its fields as attributes (RDF's shorthand) cannot hold
        # elements too: it becomes rdf:parseType="Resource" with every field an element.
        for k in [k for k in parent.attrib if not k.startswith(f"{{{RDF}}}") and k != XML_LANG]:
            etree.SubElement(parent, k).text = parent.attrib.pop(k)
        parent.set(_PARSE_TYPE, "Resource")
    nsmap = None if uri in parent.nsmap.values() else {prefix: uri}
    return etree.SubElement(parent, f"{{{uri}}}{prop}", nsmap=nsmap)


def _prune(frames: list[Frame]) -> None:
    """Remove the structures (and list items, and lists) a deletion left empty.  Run after
    every change is made, so the item numbers of a change set all mean the items as they
    were; a part already removed (by another deletion) ends the walk up."""
    for holder, el, container, li, node in reversed(frames):
        if not _is_empty(node):
            return
        if container is not None and li is not None:
            if li.getparent() is not container:
                return
            container.remove(li)
            if container.find(f"{{{RDF}}}li") is not None:
                return
        if el.getparent() is not holder:
            return
        holder.remove(el)


def _edit_field(rdf: etree._Element, t: XmpTarget,
                value: str | list[str] | None) -> list[Frame] | None:
    """Set or delete one structure field; returns the frames to prune after a deletion."""
    items = None if value is None else check_target(t, value)
    frames = _walk(rdf, t, create=items is not None)
    if frames is None:
        return None  # deleting from a structure that is not there: nothing to do
    node = frames[-1][4]
    prefix, prop, uri, _index, code = t.steps[-1]
    uri = _local_uri(node, prefix, uri)
    qname = f"{{{uri}}}{prop}"
    olds = node.findall(qname)
    if t.lang is not None or code.startswith("l"):
        if node.get(qname) is not None:  # the attribute form holds only x-default
            olds.insert(0, _make(node, prefix, uri, prop))
            _fill(olds[0], "l", [node.attrib.pop(qname)], [])
    if items is None and t.lang is None:
        node.attrib.pop(qname, None)
        for el in olds:
            node.remove(el)
    elif t.lang is not None:
        alt = olds[0].find(f"{{{RDF}}}Alt") if olds else None
        if olds and alt is None:
            raise ReadOnlyTagError(f"{t.where} is not a lang-alt in this file", tag=t.where)
        if alt is None:
            if items is None:
                return None
            alt = etree.SubElement(_make(node, prefix, uri, prop), f"{{{RDF}}}Alt")
        _set_li(alt, t.lang, None if items is None else "\n".join(items))
        if alt.find(f"{{{RDF}}}li") is None:  # its last language went: the field goes
            node.remove(alt.getparent())
    elif node.get(qname) is not None and not code.startswith("l") and code[1:2] not in CONTAINERS:
        node.set(qname, "\n".join(items))  # a field given as an attribute stays one
    else:
        new = _make(node, prefix, uri, prop)
        _fill(new, code, items, _other_langs(olds) if code.startswith("l") else [])
        if olds:  # in the place of the old value
            new.tail = olds[0].tail
            node.replace(olds[0], new)
            for el in olds[1:]:
                node.remove(el)
    return frames if items is None else None


def edit_packet(packet: bytes | None, changes: dict[str, str | list[str] | None]) -> bytes:
    """Apply ``changes`` ({'dc:title': 'Hello', 'dc:subject': ['a', 'b'], 'x:y': None,
    'Iptc4xmpCore:CreatorContactInfo/Iptc4xmpCore:CiEmailWork': 'a@b.c'})."""
    return serialise(edit_tree(packet, changes))


def extended_touched(extended: bytes, changes: dict[str, str | list[str] | None]) -> bool:
    """Whether ``changes`` set or delete a top-level property the Extended XMP packet holds
    (left there, its old value would still be read, and its bytes kept)."""
    rdf = _rdf(_parse(extended))
    for tag in changes:
        prefix, prop, uri, _index, _code = resolve(tag).steps[0]
        qname = f"{{{_packet_uri(rdf, prefix, uri)}}}{prop}"
        for desc in rdf.findall(f"{{{RDF}}}Description"):
            if desc.get(qname) is not None or desc.find(qname) is not None:
                return True
    return False


def _merge_extended(root: etree._Element, extended: bytes) -> None:
    """Move the Extended XMP packet's properties into the main tree (split_extended makes a
    new extended part if they still do not fit), dropping the note naming the old one."""
    rdf = _rdf(root)
    note = f"{{{XMP_NOTE}}}HasExtendedXMP"
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        desc.attrib.pop(note, None)
        for el in desc.findall(note):
            desc.remove(el)
    ext = _parse(extended)
    etree.strip_elements(ext, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    for desc in _rdf(ext).findall(f"{{{RDF}}}Description"):
        rdf.append(desc)


def edit_tree(packet: bytes | None, changes: dict[str, str | list[str] | None],
              extended: bytes | None = None):
    """The edited tree of ``packet`` (with the ``extended`` packet's properties merged in)."""
    root = _parse(packet) if packet else _new_packet()
    if extended is not None:
        _merge_extended(root, extended)
    # Comments and processing instructions may hold copies of old values: gone, as ExifTool
    # (which rebuilds the packet from its properties) drops them.
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    rdf = _rdf(root)
    emptied: list[list[Frame]] = []
    for tag, value in changes.items():
        t = resolve(tag)
        if len(t.steps) > 1:
            frames = _edit_field(rdf, t, value)
            if frames:
                emptied.append(frames)
            continue
        prefix, prop, uri, _index, _code = t.steps[0]
        uri = _packet_uri(rdf, prefix, uri)
        if t.lang is not None:
            if value is not None:
                check_target(t, value)
            _set_language(rdf, prefix, prop, uri, t.lang, value)
        elif value is None:
            _remove_property(rdf, uri, prop)
        else:
            _set_property(rdf, prefix, prop, uri, check_target(t, value))
    for frames in emptied:
        _prune(frames)
    descs = rdf.findall(f"{{{RDF}}}Description")
    left = len(descs)
    for desc in descs:  # drop Descriptions we emptied (one stays)
        if left > 1 and len(desc) == 0 and all(
                a.attrname.startswith(f"{{{RDF}}}") for a in ATTRS(desc)):
            desc.clear()  # lxml moves a removed node's attributes one by one, quadratically
            rdf.remove(desc)
            left -= 1
    return root


def serialise(root: etree._Element, pad: int = PAD) -> bytes:
    body = etree.tostring(root, encoding="unicode")
    lines = (" " * 99 + "\n") * (pad // 100)
    return (_HEADER + body + "\n" + lines + '<?xpacket end="w"?>').encode("utf-8")


XMP_NOTE = "http://ns.adobe.com/xmp/note/"
_EXT_MARGIN = 200  # room for the xmpNote:HasExtendedXMP property added to the main packet


def split_extended(root: etree._Element, limit: int) -> tuple[bytes, bytes | None]:
    """Serialise ``root`` as a main packet of at most ``limit`` bytes, moving the largest
    top-level properties to an Extended XMP packet if needed (XMP spec part 3, 1.1.3.1).

    Returns (main packet, extended packet or None).  The main packet names the extended one
    by its GUID, the uppercase hex MD5 of the extended packet."""
    main = serialise(root)
    if len(main) <= limit:
        return main, None
    main = serialise(root, pad=0)
    if len(main) <= limit:
        return main, None
    rdf = _rdf(root)
    props = [(len(etree.tostring(el)), desc, el)
             for desc in rdf.findall(f"{{{RDF}}}Description") for el in desc]
    props.sort(key=lambda t: -t[0])
    ext_root = _new_packet()
    ext_rdf = _rdf(ext_root)
    ext_desc: dict[int, etree._Element] = {}
    size = len(main)
    for n, desc, el in props:
        if size + _EXT_MARGIN <= limit:
            break
        target = ext_desc.get(id(desc))
        if target is None:
            target = etree.SubElement(ext_rdf, f"{{{RDF}}}Description", nsmap=desc.nsmap)
            target.set(f"{{{RDF}}}about", desc.get(f"{{{RDF}}}about", ""))
            ext_desc[id(desc)] = target
        desc.remove(el)
        target.append(el)
        size -= n
    ext = etree.tostring(ext_root, encoding="utf-8")
    import hashlib

    guid = hashlib.md5(ext).hexdigest().upper()
    note = etree.SubElement(rdf, f"{{{RDF}}}Description", nsmap={"xmpNote": XMP_NOTE})
    note.set(f"{{{RDF}}}about", "")
    note.set(f"{{{XMP_NOTE}}}HasExtendedXMP", guid)
    main = serialise(root, pad=0)
    if len(main) > limit:
        raise TagValueError(f"the XMP is too large even with Extended XMP ({len(main)} bytes "
                            "in the main packet)")
    return main, ext
