"""XMP packets: safe parsing and decoding into tags named and printed as ExifTool does.

The packet is parsed with lxml (no DTD, no entities, no network) and the tree is kept in an
``XmpPacket`` so an editor can change it while keeping every namespace and unknown property.

Decoding follows ExifTool's model (XMP.pm): every element and attribute is a property in a
property path; ``rdf:``/``x:``/``xml:`` levels are skipped, and the remaining local names,
concatenated (``History`` + ``Action``), form the *flattened* tag id looked up in the table of
the first property's namespace (engine.xmp.tables).  Unknown tags get ``ucfirst`` of that id, or the
flat name of their innermost known structure plus the rest.  The group is ``XMP-<prefix>``
with ExifTool's standard prefix for known namespace URIs and the packet's own prefix otherwise.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field

from lxml import etree

from engine.errors import CorruptFileError
from engine.model import TagValue, binary_text
from engine.xmp import tables as T

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XMPMETA = "adobe:ns:meta/"

_URI2NS = {uri: ns for ns, uri in T.NS_URI.items()}
_URI2NS[XML_NS] = "xml"
_URI2NS["http://ns.exiftool.ca/1.0/"] = "et"
_IGNORED_NS = frozenset({"x", "rdf", "xmlns", "xml", "svg", "et", "office"})
_MAX_DEPTH = 64  # property nesting we follow (libxml2 itself stops at 256 levels)
_MAX_ITEMS = 1000  # list items per list, as ExifTool
# Counts no real packet reaches (the corpus: 17 namespace declarations, 700 properties), so a
# hostile packet costs bounded work: beyond them the packet is refused, or the rest skipped.
_MAX_NAMESPACES = 1000  # xmlns declarations per packet
_MAX_PROPERTIES = 100_000  # properties (elements and attributes) read per packet
_ATTRS = etree.XPath("@*")  # linear; lxml's attrib.items() is quadratic in the attribute count
_BOOL_MAP = {"False": "False", "True": "True"}
_SPECIAL = {("rdf", "about"), ("x", "xmptk"), ("x", "xaptk")}  # attributes reported as tags
_HOSTILE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)


@dataclass(slots=True)
class XmpPacket:
    """A parsed packet: the lxml root (x:xmpmeta or rdf:RDF) plus what surrounded it."""

    root: etree._Element
    head: bytes = b""  # bytes before the root element (``<?xpacket begin...?>``)
    tail: bytes = b""  # bytes after it (padding, ``<?xpacket end="w"?>``)
    # the xmlns declarations (prefix, URI) in document order: ExifTool names an unknown
    # namespace after the first declaration of its URI
    decls: list[tuple[str | None, str]] = field(default_factory=list)


def parse_body(body: bytes, recover: bool, path: str | None = None
               ) -> tuple[etree._Element | None, list[tuple[str | None, str]]]:
    """The tree of ``body`` (the root element's bytes) and its namespace declarations, in
    one linear pass; raises XMLSyntaxError, or CorruptFileError beyond the limits."""
    decls: list[tuple[str | None, str]] = []
    it = etree.iterparse(io.BytesIO(body), events=("start-ns",), resolve_entities=False,
                         no_network=True, huge_tree=False, load_dtd=False,
                         dtd_validation=False, recover=recover, remove_blank_text=False)
    for _event, decl in it:
        decls.append(decl)
        if len(decls) > _MAX_NAMESPACES:
            raise CorruptFileError(f"XMP packet declares over {_MAX_NAMESPACES} namespaces "
                                   "(no real packet has so many); not read", path=path)
    return it.root, decls


def parse_packet(packet: bytes, *, path: str) -> tuple[XmpPacket, list[str]]:
    """Parse a packet safely; raise CorruptFileError when it is hostile or not XML."""
    data = to_utf8(bytes(packet))
    warnings: list[str] = []
    if _HOSTILE.search(data):
        raise CorruptFileError("XMP packet declares a DTD or entities; ignored", path=path)
    start = root_start(data)
    if start < 0:
        raise CorruptFileError("XMP packet has no x:xmpmeta or rdf:RDF element", path=path)
    end = root_end(data, start)
    body = data[start:end]
    try:
        root, decls = parse_body(body, False, path)
    except etree.XMLSyntaxError as e:
        # as ExifTool, read what can be read: drop control characters, replace bad UTF-8
        clean = _CONTROL.sub(b"", body).decode("utf-8", "replace").replace("\ufffd", "?")
        root = None
        for recover in (False, True):
            try:
                root, decls = parse_body(clean.encode(), recover, path)
            except etree.XMLSyntaxError:
                continue
            if root is not None:
                break
        if root is None:
            raise CorruptFileError(f"XMP packet is not well-formed XML: {e}", path=path) from e
        warnings.append(f"{path}: XMP packet is not well-formed XML ({e}); read what parsed")
    return XmpPacket(root, data[:start], data[end:], decls), warnings


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
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
    for marker in (b"<x:xmpmeta", b"<x:xapmeta", b"<xmp:xmpmeta"):
        i = data.find(marker)
        if i >= 0:
            return i
    # a root with another prefix for adobe:ns:meta/, or a bare rdf:RDF
    m = re.search(rb"<([\w.-]+:)?(xmpmeta|xapmeta|RDF)\b", data)
    return m.start() if m else -1


def root_end(data: bytes, start: int) -> int:
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
        children = [c for c in el if isinstance(c.tag, str)]
        if children:
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
        else:
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
        if pushed:
            props.pop()

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


def _perl_num(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.15g}"  # Perl's default number format


def _rational(val: str) -> str | None:
    m = re.fullmatch(r"(-?\d+)/(-?\d+)", val)
    if not m:
        return None
    n, d = int(m.group(1)), int(m.group(2))
    if d == 0:
        return "inf" if n else "undef"
    return _perl_num(n / d) if n % d else str(n // d)


def _xmp_date(val: str, unsure: bool = False) -> str:
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}:\d{2})(:\d{2})?\s*(\S*)", val, re.S)
    if m:
        return f"{m[1]}:{m[2]}:{m[3]} {m[4]}{m[5] or ''}{m[6]}"
    if not unsure and re.match(r"\d{4}(-\d{2}){0,2}", val):
        return val.replace("-", ":")
    return val


_NUM = re.compile(r"[+-]?(?=\d|\.\d)\d*(?:\.\d*)?(?:[Ee][+-]?\d+)?")


def _is_float(val: str) -> bool:
    return _NUM.fullmatch(val) is not None


def _numify(val: str) -> float:
    """Perl's numeric value of a string: its leading number, else 0."""
    m = _NUM.match(val.lstrip())
    return float(m.group()) if m else 0.0


def _to_degrees(val: str) -> float | None:
    if re.search(r"\b(inf|undef)\b", val):
        return None
    parts = _NUM.findall(val)
    if not parts:
        return None
    d, m, s = (float(p) for p in (parts + ["0", "0"])[:3])
    deg = d + (m + s / 60) / 60
    if re.search(r"[^A-Z](S(outh)?|W(est)?)\s*$", val, re.I):
        deg = -deg
    return deg


def _dms(deg: float, ref: str) -> str:
    if deg < 0:
        deg, ref = -deg, {"N": "S", "E": "W"}[ref]
    d = int(deg)
    m = int((deg - d) * 60)
    s = float(f"{(deg - d - m / 60) * 3600:.2f}")
    if s >= 60:  # round-off: 72 59 60.00 -> 73 0 0.00
        s -= 60
        m += 1
        if m >= 60:
            m -= 60
            d += 1
    return f"{d} deg {m}' {s:.2f}\" {ref}"


def _exposure(x: float) -> str:
    if 0 < x < 0.25001:
        return f"1/{int(0.5 + 1 / x)}"
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _fraction(x: float) -> str:
    x *= 1.00001
    if not x:
        return "0"
    for k, suffix in ((1, ""), (2, "/2"), (3, "/3")):
        if int(x * k) / (x * k) > 0.999:
            return f"{int(x * k):+d}{suffix}"
    return f"{x:+.3g}"


def _lens_info(val: str) -> str:
    vals = val.split()
    if len(vals) == 4 and all(_rational(v) is not None for v in vals):
        vals = [_rational(v) or v for v in vals]
    if len(vals) != 4:
        return val
    vals = ["?" if v in ("inf", "undef") else v for v in vals]
    if not all(v == "?" or _is_float(v) for v in vals):
        return val
    out = vals[0]
    if vals[1] not in ("0", "?") and _numify(vals[1]) and vals[1] != vals[0]:
        out += f"-{vals[1]}"
    out += f"mm f/{vals[2]}"
    if vals[3] != "?" and _numify(vals[3]) and vals[3] != vals[2]:
        out += f"-{vals[3]}"
    elif vals[3] == "?" and vals[3] != vals[2]:
        out += "-?"
    return out


# ExifTool's /\s*(\d+):\s*(\d+):\s*(\d+):\s*(\S*)/, found at the same place in linear time: a
# match never starts inside a run of spaces or of digits (the run's start would match too),
# and possessive runs do not backtrack.
_PM_PREFS = re.compile(r"(?<!\s)\s*+(?<!\d)(\d++):\s*+(\d++):\s*+(\d++):\s*+(\S*+)")


def apex_print(conv: str, x: float) -> str:
    """The print of an APEX property's value (an f-number, a time in seconds)."""
    return f"{x:.1f}" if conv == "aperture" else _exposure(x)


def _custom(conv: str, val: str) -> str:
    """Conversions ExifTool writes as Perl code (named in scripts/gen_xmp_tags.py)."""
    if conv in ("lat", "lon"):
        deg = _to_degrees(val)
        return "" if deg is None else _dms(deg, "N" if conv == "lat" else "E")
    if conv == "metres":
        return val if val in ("inf", "undef") else f"{val} m"
    if conv == "mm":
        return f"{val} mm"
    if conv in ("lensinfo", "join_lensinfo"):
        return _lens_info(val)
    if conv == "pmprefs":
        return _PM_PREFS.sub(r"Tagged:\1, ColorClass:\2, Rating:\3, FrameNum:\4", val, count=1)
    if conv == "exiftime":
        val = val.replace(" ", ":")
        val = re.sub(r"^(\d{2})(\d{2})(\d{2})", r"\1:\2:\3", val)
        return re.sub(r"([+-]\d{2})(\d{2})\s*$", r"\1:\2", val)
    if conv == "plusvocab":
        return val.replace("http://ns.useplus.org/ldf/vocab/", "", 1)
    x = _numify(val)
    if conv == "fnumber":
        if not (_is_float(val) and x > 0):
            return val
        return f"{x:.2f}" if x < 1 else f"{x:.1f}"
    if conv == "aperture":
        return apex_print(conv, math.sqrt(2) ** x)
    if conv == "shutter":
        return apex_print(conv, 1 / 2**x if abs(x) < 100 else 0.0)
    if conv == "exptime":
        return _exposure(x) if _is_float(val) else val
    if conv == "mm1":
        return f"{x:.1f} mm"
    if conv == "fraction":
        return _fraction(x)
    return val


def _convert(val: str, entry: tuple | None) -> str:
    if entry is None:  # unknown tag: ExifTool's XMPAutoConv
        r = _rational(val)
        return r if r is not None else _xmp_date(val, unsure=True)
    code = entry[1]
    if code[0] == "q":
        r = _rational(val)
        if r is not None:
            val = r
    elif code[0] == "d":
        val = _xmp_date(val)
    conv = entry[3] if len(entry) > 3 else None
    if conv:
        val = _custom(conv, val)
        if conv != "plusvocab" and conv != "join":
            return val
    if entry[2] >= 0:
        vm = T.MAPS[entry[2]]
        if vm == _BOOL_MAP:
            return {"false": "False", "true": "True"}.get(val.lower(), val)
        return vm.get(val, f"Unknown ({val})")
    return val


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


def printed(items: list[str], entry: tuple | None, is_list: bool) -> str | list[str]:
    """What the reader shows for the stored ``items`` of a property whose table entry is
    ``entry`` (None: unknown), a list or one value (the writer checks what it wrote)."""
    conv = entry[3] if entry is not None and len(entry) > 3 else None
    if conv and conv.startswith("join"):  # ExifTool's RawJoin: one string, then convert
        items, is_list = [" ".join(items)], False
    values = [_convert(v, entry) for v in items]
    return values if is_list else values[0]


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
