"""XMP packets: find the root element and parse it safely, for reading or for editing.

One parser with two modes.  Both re-encode UTF-16/32 packets as UTF-8, refuse DTDs and entity
declarations (no entity is ever resolved, nothing is fetched), find the root element
(``x:xmpmeta`` or a bare ``rdf:RDF``) and parse it in one linear pass with lxml, refusing
packets with more namespace declarations than any real one has.

- ``read_packet`` (tolerant, for the reader): a packet that is not well-formed is parsed again
  without control characters and bad UTF-8, then in lxml's recovery mode, with a warning.
- ``parse_strict`` (for the editor): only a well-formed packet whose root is surrounded by
  nothing but the xpacket wrapper (instructions, comments, padding) is edited; anything else
  is damage we would be guessing about, and editing refuses it.

Every scan here is linear: regular expressions with nested or adjacent quantifiers
backtracked for minutes on crafted padding and comments (tests/test_xmp_complexity.py).
"""

from __future__ import annotations

import io
import re

from lxml import etree

from engine.errors import CorruptFileError
from engine.record import Record

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMPMETA = "adobe:ns:meta/"  # the namespace of the x:xmpmeta root
ATTRS = etree.XPath("@*")  # an element's attributes, linear (lxml's attrib.items() is quadratic)
# Counts no real packet reaches (the corpus: 17 namespace declarations), so a hostile packet
# costs bounded work: beyond it the packet is refused.
_MAX_NAMESPACES = 1000
_HOSTILE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_REFUSED = "; refusing to edit"  # what the strict mode adds to every reason it gives up for

Decls = list[tuple[str | None, str]]


class XmpPacket(Record):
    """A parsed packet: the lxml root (x:xmpmeta or rdf:RDF) plus what surrounded it."""

    __slots__ = ("root", "head", "tail", "decls")
    root: etree._Element
    head: bytes  # bytes before the root element (``<?xpacket begin...?>``)
    tail: bytes  # bytes after it (padding, ``<?xpacket end="w"?>``)
    # the xmlns declarations (prefix, URI) in document order: ExifTool names an unknown
    # namespace after the first declaration of its URI
    decls: Decls

    def __init__(self, root: etree._Element, head: bytes = b"", tail: bytes = b"",
                 decls: Decls | None = None) -> None:
        self.root = root
        self.head = head
        self.tail = tail
        self.decls = [] if decls is None else decls


def read_packet(packet: bytes, *, path: str) -> tuple[XmpPacket, list[str]]:
    """The tolerant mode: parse what can be parsed, with warnings; raise CorruptFileError
    only when the packet is hostile, has no root element or nothing of it parses."""
    data, start, end = _locate(packet, path, strict=False)
    body = data[start:end]
    warnings: list[str] = []
    try:
        root, decls = parse_body(body, False, path)
    except etree.XMLSyntaxError as e:
        root, decls = _recover(body, path, e)
        warnings.append(f"{path}: XMP packet is not well-formed XML ({e}); read what parsed")
    return XmpPacket(root, data[:start], data[end:], decls), warnings


def _recover(body: bytes, path: str, error: etree.XMLSyntaxError
             ) -> tuple[etree._Element, Decls]:
    """As ExifTool, read what can be read: drop control characters, replace bad UTF-8, and
    parse again, then in recovery mode."""
    clean = _CONTROL.sub(b"", body).decode("utf-8", "replace").replace("\ufffd", "?").encode()
    for recover in (False, True):
        try:
            root, decls = parse_body(clean, recover, path)
        except etree.XMLSyntaxError:
            continue
        if root is not None:
            return root, decls
    raise CorruptFileError(f"XMP packet is not well-formed XML: {error}", path=path) from error


def parse_strict(packet: bytes, *, path: str | None = None) -> XmpPacket:
    """The strict mode: the packet parsed as it is, or CorruptFileError."""
    data, start, end = _locate(packet, path, strict=True)
    if not (_only_wrapper_before(data[:start]) and _only_wrapper_after(data[end:])):
        # Something other than the xpacket wrapper lies outside the root element: the packet
        # is damaged in a way we would be guessing about.
        raise CorruptFileError("XMP packet has unexpected content outside its root element"
                               + _REFUSED, path=path)
    try:
        root, decls = parse_body(data[start:end], False, path, _REFUSED)
    except etree.XMLSyntaxError as e:
        raise CorruptFileError(f"XMP packet is not well-formed XML ({e}){_REFUSED}",
                               path=path) from e
    return XmpPacket(root, data[:start], data[end:], decls)


def _locate(packet: bytes, path: str | None, strict: bool) -> tuple[bytes, int, int]:
    """The packet as UTF-8 and where its root element starts and ends."""
    data = to_utf8(bytes(packet))
    if _HOSTILE.search(data):
        raise CorruptFileError("XMP packet declares a DTD or entities"
                               + (_REFUSED if strict else "; ignored"), path=path)
    start = root_start(data)
    if start < 0:
        raise CorruptFileError("XMP packet has no x:xmpmeta or rdf:RDF element"
                               + (_REFUSED if strict else ""), path=path)
    return data, start, root_end(data, start)


def parse_body(body: bytes, recover: bool, path: str | None = None,
               refused: str = "; not read") -> tuple[etree._Element | None, Decls]:
    """The tree of ``body`` (the root element's bytes) and its namespace declarations, in
    one linear pass; raises XMLSyntaxError, or CorruptFileError beyond the limits."""
    decls: Decls = []
    it = etree.iterparse(io.BytesIO(body), events=("start-ns",), resolve_entities=False,
                         no_network=True, huge_tree=False, load_dtd=False,
                         dtd_validation=False, recover=recover, remove_blank_text=False)
    for _event, decl in it:
        decls.append(decl)
        if len(decls) > _MAX_NAMESPACES:
            raise CorruptFileError(f"XMP packet declares over {_MAX_NAMESPACES} namespaces "
                                   f"(no real packet has so many){refused}", path=path)
    return it.root, decls


_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"), (b"\xef\xbb\xbf", "utf-8"))


def to_utf8(data: bytes) -> bytes:
    """UTF-16/32 packets (allowed by the XMP spec) re-encoded as UTF-8."""
    enc = None
    for bom, name in _BOMS:
        if data.startswith(bom):
            enc, data = name, data[len(bom):]
            break
    if enc is None:
        head = data[:4]
        if head[:3] == b"\0\0\0" and head[3:]:
            enc = "utf-32-be"
        elif head[1:4] == b"\0\0\0":
            enc = "utf-32-le"
        elif head[:1] == b"\0":
            enc = "utf-16-be"
        elif head[1:2] == b"\0":
            enc = "utf-16-le"
    if enc is None or enc == "utf-8":
        return data
    return data.decode(enc, "replace").encode("utf-8")


def root_start(data: bytes) -> int:
    """Where the root element starts; -1 when there is none."""
    for marker in (b"<x:xmpmeta", b"<x:xapmeta", b"<xmp:xmpmeta"):
        i = data.find(marker)
        if i >= 0:
            return i
    # a root with another prefix for adobe:ns:meta/, or a bare rdf:RDF
    m = re.search(rb"<([\w.-]+:)?(xmpmeta|xapmeta|RDF)\b", data)
    return m.start() if m else -1


def root_end(data: bytes, start: int) -> int:
    """Where the root element that starts at ``start`` ends (the data's end if unclosed)."""
    m = re.match(rb"<([\w.:-]+)", data[start:])
    name = m.group(1) if m else b"x:xmpmeta"
    close = b"</" + name + b">"
    i = data.rfind(close)
    if i > start:
        return i + len(close)
    gt = data.find(b">", start)
    if gt > start and data[gt - 1 : gt] == b"/":  # an empty, self-closing root
        return gt + 1
    return len(data)


# ---------------------------------------------------------------------------------------------
# The wrapper around the root element, checked by linear scans

_SPACE = re.compile(rb"[ \t\n\r\f\v]*")
_SPACE0 = re.compile(rb"[ \t\n\r\f\v\0]*")


def _skip_pi(data: bytes, i: int, name: bytes, space: re.Pattern = _SPACE) -> int:
    """After an optional ``<?name ...?>`` at ``i`` and the space after it; -1 if malformed."""
    if not data.startswith(name, i):
        return i
    gt = data.find(b">", i + len(name))
    if gt < 0 or data[gt - 1] != 0x3F:  # '?>'
        return -1
    return space.match(data, gt + 1).end()


def _skip_comments(data: bytes, i: int, space: re.Pattern = _SPACE) -> int:
    """After the comments (and the space after each) at ``i``; -1 if one is not closed."""
    while data.startswith(b"<!--", i):
        end = data.find(b"-->", i + 4)
        if end < 0:
            return -1
        i = space.match(data, end + 3).end()
    return i


def _only_wrapper_before(head: bytes) -> bool:
    """``head`` (the bytes before the root) holds only a BOM, the XML declaration, the xpacket
    and adobe-xap-filters instructions, comments and white space."""
    i = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    i = _SPACE.match(head, i).end()
    for name in (b"<?xml", b"<?xpacket", b"<?adobe-xap-filters"):
        i = _skip_pi(head, i, name)
        if i < 0:
            return False
    return _skip_comments(head, i) == len(head)


def _only_wrapper_after(tail: bytes) -> bool:
    """``tail`` holds only padding (white space, NULs), comments and the xpacket end
    instruction."""
    i = _skip_comments(tail, _SPACE0.match(tail).end(), _SPACE0)
    return i >= 0 and _skip_pi(tail, i, b"<?xpacket", _SPACE0) == len(tail)
