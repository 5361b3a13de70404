"""The IPTC editor and reader agree on the character set (one rule, engine.iptc.iim)."""

from __future__ import annotations

import pytest

from engine.errors import WriteError
from engine.iptc.edit import edit_iim
from engine.iptc.iim import Dataset, decode_iptc, parse_iim, render_iim


def _values(iim: bytes) -> dict[str, object]:
    tags, warnings = decode_iptc(iim, path="t.jpg")
    assert warnings == []
    return {t.name: t.value for t in tags}


@pytest.mark.parametrize("charset", [b"\x1b%G", b"\x1b%G\0"])
def test_a_block_the_reader_reads_as_utf8_takes_utf8_text(charset: bytes) -> None:
    old = render_iim([Dataset(1, 90, charset), Dataset(2, 0, b"\0\4"),
                      Dataset(2, 5, "Caf\u00e9".encode())])
    assert _values(old)["ObjectName"] == "Caf\u00e9"
    new = edit_iim(old, {"Keywords": ["\u00e9t\u00e9", "snow"]}, path="t.jpg")
    assert _values(new)["Keywords"] == ["\u00e9t\u00e9", "snow"]
    assert parse_iim(new)[0][0] == Dataset(1, 90, charset)  # the declaration is kept


def test_another_character_set_refuses_non_ascii_text() -> None:
    old = render_iim([Dataset(1, 90, b"\x1b(B"), Dataset(2, 0, b"\0\4")])
    with pytest.raises(WriteError) as e:
        edit_iim(old, {"Keywords": ["\u00e9t\u00e9"]}, path="t.jpg")
    assert str(e.value) == ("t.jpg: IPTC uses a character set other than UTF-8; refusing to "
                            "add non-ASCII text")
    assert _values(edit_iim(old, {"Keywords": ["ascii"]}, path="t.jpg"))["Keywords"] == ["ascii"]


def test_new_datasets_go_in_record_order() -> None:
    new = edit_iim(None, {"Keywords": ["k"], "ObjectName": "\u00e9"}, path="t.jpg")
    assert [(d.record, d.dataset) for d in parse_iim(new)[0]] == [
        (1, 90), (2, 0), (2, 5), (2, 25)]
    again = edit_iim(new, {"ObjectName": None, "By-line": ["a", "", "b"]}, path="t.jpg")
    assert [(d.record, d.dataset, d.data) for d in parse_iim(again)[0]] == [
        (1, 90, b"\x1b%G"), (2, 0, b"\0\4"), (2, 25, b"k"), (2, 80, b"a"), (2, 80, b"b")]
