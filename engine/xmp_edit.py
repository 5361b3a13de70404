"""Edit an XMP packet in place: change only the properties asked for, keep everything else.

The packet is parsed with lxml (safely: no entities, no network, no DTD), the named properties
are replaced, added or removed, and the packet is serialised with padding so later edits can
often be made in place.  Unknown namespaces, properties, structures and qualifiers are kept.
Pure functions on bytes.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.errors import CorruptFileError, ReadOnlyTagError, TagValueError, UnknownTagError
from engine.tags import xmp as xmp_tables

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
X_NS = "adobe:ns:meta/"
PAD = 2048
_HEADER = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_DATE = re.compile(r"^(\d{4})[:-](\d\d)[:-](\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d(?:\.\d+)?))?)?(.*)$")


_BEFORE_ROOT = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<\?xpacket[^>]*\?>\s*)?"
    rb"(?:<\?adobe-xap-filters[^>]*\?>\s*)?(?:<!--.*?-->\s*)*", re.S)
_AFTER_ROOT = re.compile(rb"[\s\0]*(?:<\?xpacket[^>]*\?>)?[\s\0]*", re.S)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
        remove_blank_text=False,
    )


def namespace_uri(prefix: str) -> str | None:
    return xmp_tables.NS_URI.get(prefix) or xmp_tables.LAZY_URI.get(prefix)


def property_code(prefix: str, prop: str) -> str:
    """ExifTool's kind letters for a property ('s', 'l' lang-alt, 'sB' bag...); '' if unknown."""
    group = xmp_tables.XLAT.get(prefix, prefix)
    entry = xmp_tables.TAGS.get(group, {}).get(prop)
    return entry[1] if entry else ""


_LANG_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def split_lang(tag: str) -> tuple[str, str | None]:
    """``dc:title-de`` -> (``dc:title``, ``de``) for lang-alt properties, else (tag, None)."""
    # Try every hyphen from the left: a language may have subtags (``dc:title-en-US``), and
    # a greedy split would take ``title-en`` for the property.
    at = tag.find("-")
    while at > 0:
        base, lang = tag[:at], tag[at + 1 :]
        if ":" in base and _LANG_TAG.fullmatch(lang):
            prefix, _, prop = base.partition(":")
            if property_code(prefix, prop).startswith("l"):
                return base, lang
        at = tag.find("-", at + 1)
    return tag, None


def split_path(tag: str) -> tuple[str, str, str]:
    """``dc:title`` -> (prefix, property, namespace URI)."""
    tag = split_lang(tag)[0]
    prefix, sep, prop = tag.partition(":")
    if not sep or not prop or "/" in prop or "[" in prop:
        raise UnknownTagError(f"XMP tag must be prefix:property, got {tag!r}", tag=f"xmp/{tag}")
    if prefix == "x":
        raise ReadOnlyTagError("the x: namespace is the packet's own wrapper (x:xmptk names the "
                               "program that wrote it); it is not a property to set",
                               tag=f"xmp/{tag}")
    uri = namespace_uri(prefix)
    if uri is None:
        raise UnknownTagError(f"unknown XMP namespace prefix {prefix!r}", tag=f"xmp/{tag}")
    try:  # lxml refuses element names that are not XML names ('ti tle', '1title')
        etree.QName(uri, prop)
    except ValueError:
        raise UnknownTagError(f"{prop!r} is not a valid XMP property name",
                              tag=f"xmp/{tag}") from None
    return prefix, prop, uri


def to_xmp_date(text: str) -> str:
    """ExifTool's printed date (``2020:01:01 10:00:00+02:00``) or ISO 8601 -> XMP form."""
    m = _DATE.match(text.strip())
    if not m:
        raise TagValueError(f"{text!r} is not a date; use YYYY:MM:DD HH:MM:SS or ISO 8601")
    y, mo, d, h, mi, s, rest = m.groups()
    out = f"{y}-{mo}-{d}"
    if h is not None:
        out += f"T{h}:{mi}" + (f":{s}" if s else "")
    rest = rest.strip()
    if rest and not re.fullmatch(r"Z|[+-]\d\d:?\d\d", rest):
        raise TagValueError(f"{text!r} has an unreadable time zone {rest!r}")
    return out + rest


def _value_map(prefix: str, prop: str) -> dict[str, str] | None:
    group = xmp_tables.XLAT.get(prefix, prefix)
    entry = xmp_tables.TAGS.get(group, {}).get(prop)
    if not entry or len(entry) < 3 or entry[2] is None or entry[2] < 0:
        return None
    return xmp_tables.MAPS[entry[2]]


# Characters XML 1.0 cannot hold (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF):
# lxml raises ValueError on them, which must not escape as anything but a TagValueError.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def check_xml_text(tag: str, items: list[str]) -> None:
    for v in items:
        bad = _NOT_XML.search(v)
        if bad:
            raise TagValueError(f"character U+{ord(bad.group()):04X} cannot be stored in XMP",
                                tag=f"xmp/{tag}")


def normalise_value(prefix: str, prop: str, value: str | list[str]) -> list[str]:
    code = property_code(prefix, prop)
    items = value if isinstance(value, list) else [value]
    check_xml_text(f"{prefix}:{prop}", items)
    values = _value_map(prefix, prop)
    if values:  # the printed name of an enum value stands for its stored form
        rev = {v.lower(): k for k, v in values.items()}
        items = [rev.get(v.strip().lower(), v) for v in items]
    if code.startswith("d"):
        try:
            items = [to_xmp_date(v) for v in items]
        except TagValueError as e:  # name the tag in the message
            raise TagValueError(e.reason, tag=f"xmp/{prefix}:{prop}") from None
    elif code.startswith("i"):
        for v in items:
            if not re.fullmatch(r"[+-]?\d+", v.strip()):
                raise TagValueError(f"{v!r} is not an integer", tag=f"xmp/{prefix}:{prop}")
    elif code.startswith("r"):
        for v in items:
            try:
                float(v)
            except ValueError:
                raise TagValueError(f"{v!r} is not a number", tag=f"xmp/{prefix}:{prop}") from None
    return items


def _new_packet() -> etree._Element:
    root = etree.Element(f"{{{X_NS}}}xmpmeta", nsmap={"x": X_NS})
    etree.SubElement(root, f"{{{RDF}}}RDF", nsmap={"rdf": RDF})
    return root


def parse_packet(packet: bytes) -> etree._Element:
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        raise CorruptFileError("XMP packet declares a DTD or entities; refusing to touch it")
    from engine.xmp import root_end, root_start, to_utf8

    data = to_utf8(bytes(packet))
    start = root_start(data)
    if start < 0:
        raise CorruptFileError("XMP packet has no xmpmeta or rdf:RDF element; refusing to edit")
    end = root_end(data, start)
    if not (_BEFORE_ROOT.fullmatch(data[:start]) and _AFTER_ROOT.fullmatch(data[end:])):
        # Something other than the xpacket wrapper lies outside the root element: the packet
        # is damaged in a way we would be guessing about.
        raise CorruptFileError("XMP packet has unexpected content outside its root element; "
                               "refusing to edit")
    try:
        doc = etree.fromstring(data[start:end], _parser())
    except etree.XMLSyntaxError as e:
        raise CorruptFileError(f"XMP packet is not well-formed XML ({e}); refusing to edit") from e
    if doc.tag == f"{{{RDF}}}RDF":
        root = _new_packet()
        root.remove(root[0])
        root.append(doc)
        return root
    return doc


def _rdf(root: etree._Element) -> etree._Element:
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    if rdf is None:
        if len(root) or root.tag not in (f"{{{X_NS}}}xmpmeta", f"{{{X_NS}}}xapmeta"):
            raise CorruptFileError("XMP packet has no rdf:RDF element; refusing to edit")
        rdf = etree.SubElement(root, f"{{{RDF}}}RDF", nsmap={"rdf": RDF})  # an empty packet
    return rdf


def _remove_property(rdf: etree._Element, uri: str, prop: str) -> None:
    qname = f"{{{uri}}}{prop}"
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        desc.attrib.pop(qname, None)
        for el in desc.findall(qname):
            desc.remove(el)


def _description_for(rdf: etree._Element, prefix: str, uri: str) -> etree._Element:
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        if desc.nsmap.get(prefix) == uri:
            return desc
    about = ""
    first = rdf.find(f"{{{RDF}}}Description")
    if first is not None:
        about = first.get(f"{{{RDF}}}about", "")
    desc = etree.SubElement(rdf, f"{{{RDF}}}Description", nsmap={prefix: uri})
    desc.set(f"{{{RDF}}}about", about)
    return desc


def _set_property(rdf, prefix: str, prop: str, uri: str, items: list[str]) -> None:
    code = property_code(prefix, prop)
    qname = f"{{{uri}}}{prop}"
    old_langs: list[tuple[str, str]] = []
    if code.startswith("l"):  # lang-alt: keep the other languages, replace x-default
        for desc in rdf.findall(f"{{{RDF}}}Description"):
            for li in desc.findall(f"{qname}/{{{RDF}}}Alt/{{{RDF}}}li"):
                lang = li.get(XML_LANG, "x-default")
                if lang != "x-default":
                    old_langs.append((lang, li.text or ""))
    _remove_property(rdf, uri, prop)
    desc = _description_for(rdf, prefix, uri)
    el = etree.SubElement(desc, qname)
    container = {"B": "Bag", "Q": "Seq", "A": "Alt"}.get(code[1:2]) if len(code) > 1 else None
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


def _set_language(rdf, prefix: str, prop: str, uri: str, lang: str,
                  value: str | list[str] | None) -> None:
    """Set or remove one language of a lang-alt property, keeping the others."""
    qname = f"{{{uri}}}{prop}"
    text = None if value is None else ("\n".join(value) if isinstance(value, list) else value)
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        if desc.get(qname) is not None:  # the simple attribute form holds only x-default
            default = desc.attrib.pop(qname)
            el = etree.SubElement(desc, qname)
            li = etree.SubElement(etree.SubElement(el, f"{{{RDF}}}Alt"), f"{{{RDF}}}li")
            li.set(XML_LANG, "x-default")
            li.text = default
        alt = desc.find(f"{qname}/{{{RDF}}}Alt")
        if alt is None:
            continue
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
        return
    if text is not None:
        desc = _description_for(rdf, prefix, uri)
        alt = etree.SubElement(etree.SubElement(desc, qname), f"{{{RDF}}}Alt")
        li = etree.SubElement(alt, f"{{{RDF}}}li")
        li.set(XML_LANG, lang)
        li.text = text


def edit_packet(packet: bytes | None, changes: dict[str, str | list[str] | None]) -> bytes:
    """Apply ``changes`` ({'dc:title': 'Hello', 'dc:subject': ['a', 'b'], 'x:y': None})."""
    return serialise(edit_tree(packet, changes))


def edit_tree(packet: bytes | None, changes: dict[str, str | list[str] | None]):
    root = parse_packet(packet) if packet else _new_packet()
    rdf = _rdf(root)
    for tag, value in changes.items():
        prefix, prop, uri = split_path(tag)
        lang = split_lang(tag)[1]
        if lang is not None:
            if value is not None:  # this path skips normalise_value
                check_xml_text(tag, value if isinstance(value, list) else [value])
            _set_language(rdf, prefix, prop, uri, lang, value)
            continue
        if value is None:
            _remove_property(rdf, uri, prop)
        else:
            _set_property(rdf, prefix, prop, uri, normalise_value(prefix, prop, value))
    for desc in rdf.findall(f"{{{RDF}}}Description"):  # drop Descriptions we emptied
        if len(desc) == 0 and all(k.startswith(f"{{{RDF}}}") for k in desc.attrib):
            if len(rdf.findall(f"{{{RDF}}}Description")) > 1:
                rdf.remove(desc)
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
