"""EngineError composes every message, on one line (issue 12, item 7)."""

from __future__ import annotations

import pickle

from engine.errors import CorruptFileError, EngineError, FileChangedError, TagValueError


def test_the_parts_are_composed_in_one_place() -> None:
    e = CorruptFileError("bad IFD", path="/p/a.tif", offset=8, tag="Make")
    assert str(e) == "/p/a.tif: tag Make: offset 8: bad IFD"
    assert (e.reason, e.path, e.offset, e.tag) == ("bad IFD", "/p/a.tif", 8, "Make")
    assert str(EngineError("plain")) == "plain"
    assert str(EngineError("no file", offset=0)) == "offset 0: no file"


def test_a_message_is_one_line() -> None:
    e = EngineError("the parser said:\n  line 1:\tbad\r\n", path="a.jpg")
    assert e.reason == "the parser said: line 1: bad"
    assert str(e) == "a.jpg: the parser said: line 1: bad"
    assert EngineError("two  spaces kept").reason == "two  spaces kept"


def test_a_file_name_with_a_line_break_stays_on_one_line() -> None:
    e = EngineError("bad", path="dir/a\nb.jpg", tag="xmp/x\ty")
    assert str(e) == "dir/a\\nb.jpg: tag xmp/x\\ty: bad"
    assert e.path == "dir/a\nb.jpg"  # the field keeps the real name
    assert str(EngineError("bad", path="caf\u00e9.jpg")) == "caf\u00e9.jpg: bad"


def test_located_names_the_file_once() -> None:
    e = TagValueError("not a number", tag="ISO")
    got = e.located("/p/a.jpg")
    assert type(got) is TagValueError and isinstance(got, ValueError)
    assert str(got) == "/p/a.jpg: tag ISO: not a number"
    assert (got.reason, got.tag, got.offset) == (e.reason, "ISO", None)
    assert got.located("/elsewhere.jpg") is got
    changed = FileChangedError("changed meanwhile").located("b.jpg")
    assert type(changed) is FileChangedError and str(changed) == "b.jpg: changed meanwhile"


def test_errors_survive_pickling() -> None:
    e = pickle.loads(pickle.dumps(CorruptFileError("bad", path="a.tif", offset=4)))
    assert type(e) is CorruptFileError
    assert (str(e), e.path, e.offset) == ("a.tif: offset 4: bad", "a.tif", 4)
