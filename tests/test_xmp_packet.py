"""One XMP packet parser with two modes (issue 12, item 2): the reader's tolerant mode and the
editor's strict mode share the root search, the safety checks and the limits."""

from __future__ import annotations

import pytest

import engine.xmp.packet as packet
from engine.errors import CorruptFileError
from engine.xmp.decode import decode_xmp
from engine.xmp.edit import edit_packet
from engine.xmp.packet import parse_strict, read_packet

HEAD = b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
END = b'\n<?xpacket end="w"?>'


def _packet(props: str, head: bytes = HEAD, tail: bytes = END, decls: str = "") -> bytes:
    return head + (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        f'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" {decls}>{props}'
        "</rdf:Description></rdf:RDF></x:xmpmeta>").encode() + tail


def test_both_modes_keep_what_surrounds_the_root() -> None:
    data = _packet("<dc:format>a</dc:format>")
    read, warnings = read_packet(data, path="t.xmp")
    strict = parse_strict(data)
    assert warnings == []
    for got in (read, strict):
        assert (got.head, got.tail) == (HEAD, END)
        assert got.root.tag == "{adobe:ns:meta/}xmpmeta"
        assert ("dc", "http://purl.org/dc/elements/1.1/") in got.decls


def test_junk_outside_the_root_is_read_but_not_edited() -> None:
    data = _packet("<dc:format>a</dc:format>", tail=b" junk" + END)
    tags, warnings = decode_xmp(data, None, path="t.xmp")
    assert [(t.name, t.value) for t in tags if t.group == "XMP-dc"] == [("Format", "a")]
    with pytest.raises(CorruptFileError) as e:
        parse_strict(data, path="t.xmp")
    assert str(e.value) == ("t.xmp: XMP packet has unexpected content outside its root "
                            "element; refusing to edit")


def test_bad_xml_is_read_with_a_warning_but_not_edited() -> None:
    data = _packet("<dc:format>a\x01b</dc:format>")
    got, warnings = read_packet(data, path="t.xmp")
    assert got.root.tag == "{adobe:ns:meta/}xmpmeta"
    assert len(warnings) == 1 and warnings[0].startswith(
        "t.xmp: XMP packet is not well-formed XML (")
    with pytest.raises(CorruptFileError, match=r"not well-formed XML \(.*\); refusing to edit$"):
        edit_packet(data, {"dc:title": "x"})


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_dtd_is_refused_by_both_modes(encoding: str) -> None:
    data = ('<!DOCTYPE x [ <!ENTITY e "e"> ]>'
            + _packet("<dc:format>&e;</dc:format>").decode()).encode(encoding)
    with pytest.raises(CorruptFileError, match="DTD or entities; ignored$"):
        read_packet(data, path="t.xmp")
    with pytest.raises(CorruptFileError, match="DTD or entities; refusing to edit$"):
        parse_strict(data)


def test_the_namespace_limit_is_one_setting(monkeypatch) -> None:
    monkeypatch.setattr(packet, "_MAX_NAMESPACES", 5)
    decls = " ".join(f'xmlns:n{i}="http://n.example/{i}/"' for i in range(5))
    data = _packet("", decls=decls)  # x, rdf, dc and five more
    with pytest.raises(CorruptFileError, match="over 5 namespaces .*; not read$"):
        read_packet(data, path="t.xmp")
    with pytest.raises(CorruptFileError, match="over 5 namespaces .*; refusing to edit$"):
        parse_strict(data)


def test_no_root_element() -> None:
    with pytest.raises(CorruptFileError, match="^t.xmp: XMP packet has no x:xmpmeta or rdf:RDF "
                                               "element$"):
        read_packet(HEAD + END, path="t.xmp")
    with pytest.raises(CorruptFileError, match="element; refusing to edit$"):
        parse_strict(HEAD + END)
