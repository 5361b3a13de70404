"""Write validation by parts: only what a change touches is decoded, nothing less is checked.

A one-tag EXIF write decodes the EXIF of the original and of the rewritten file; the XMP and
IPTC are proven unchanged by their bytes.  Bytes that did change, in any part, are decoded and
compared tag by tag and warning by warning, as before.  The tests damage the plan of a write
(as a planner bug would) and check the validation still refuses it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.containers.jpeg import JpegFormat
from engine.containers.jpeg_write import plan_jpeg
from engine.model import Blocks
from engine.write.validate import changed_parts as _changed_parts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXIF_HEADER = b"Exif\0\0"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\0"
PS_HEADER = b"Photoshop 3.0\0"


def tamper(monkeypatch: pytest.MonkeyPatch, after: bytes, old: bytes, new: bytes) -> None:
    """Make the JPEG planner also replace ``old`` by ``new`` in the first segment after the
    header ``after`` (a bug in a part the change did not ask for)."""

    def planner(data, edits, path):
        plan = plan_jpeg(data, edits, path)
        head = plan[0]
        at = head.index(after)
        cut = head.index(old, at)
        plan[0] = head[:cut] + new + head[cut + len(old):]
        return plan

    monkeypatch.setattr(JpegFormat, "writer", planner)


def count_calls(monkeypatch: pytest.MonkeyPatch, module: str, name: str) -> list[int]:
    import importlib

    mod = importlib.import_module(module)
    real = getattr(mod, name)
    calls: list[int] = []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, name, counted)
    return calls


@pytest.mark.parametrize(("after", "old", "new", "tag"), [
    # planning decodes only the EXIF tags it needs: the validation decodes all of them
    (EXIF_HEADER, b"Fixture One", b"Fixture Two", "Model"),
    (XMP_HEADER, b"Sunset over the bay", b"Sunset over the bax", "xmp/dc:title"),
    (PS_HEADER, b"Jane Doe", b"Jane Dox", "iptc/By-line"),
])
def test_a_changed_part_the_write_did_not_ask_for_is_refused(
        photo: Path, monkeypatch: pytest.MonkeyPatch, after: bytes, old: bytes, new: bytes,
        tag: str) -> None:
    original = photo.read_bytes()
    tamper(monkeypatch, after, old, new)
    with pytest.raises(engine.ValidationError, match=f"tag {tag} would change"):
        engine.write_metadata(photo, {"Make": "Other Camera"})
    assert photo.read_bytes() == original


def test_a_part_that_no_longer_parses_is_refused(photo: Path, monkeypatch) -> None:
    original = photo.read_bytes()
    tamper(monkeypatch, XMP_HEADER, b"<rdf:RDF", b"<rdf:RDx")
    with pytest.raises(engine.ValidationError, match="nothing was written"):
        engine.write_metadata(photo, {"Make": "Other Camera"})
    assert photo.read_bytes() == original


def test_an_exif_write_decodes_neither_xmp_nor_iptc(photo: Path, monkeypatch) -> None:
    xmp = count_calls(monkeypatch, "engine.xmp.decode", "decode_xmp")
    iptc = count_calls(monkeypatch, "engine.iptc.iim", "decode_iptc")
    engine.write_metadata(photo, {"Make": "Other Camera"})
    assert (xmp, iptc) == ([], [])
    md = engine.read_metadata(photo)
    assert md["Make"] == "Other Camera" and md["xmp/dc:title"] == "Sunset over the bay"


def test_a_synchronised_write_checks_every_part_it_touches(photo: Path, monkeypatch) -> None:
    xmp = count_calls(monkeypatch, "engine.xmp.decode", "decode_xmp")
    iptc = count_calls(monkeypatch, "engine.iptc.iim", "decode_iptc")
    engine.write_metadata(photo, {"Artist": "Ann Other"})  # EXIF, XMP dc:creator, IPTC By-line
    assert len(iptc) == 2  # the original's, then the rewritten file's
    assert xmp == []  # the XMP copy: edited and read back by engine.xmp.quick (issue 15)
    md = engine.read_metadata(photo)
    assert (md["Artist"], md["xmp/dc:creator"], md["iptc/By-line"]) == (
        "Ann Other", ["Ann Other"], ["Ann Other"])


def test_changed_parts_compare_bytes_and_where_the_exif_is() -> None:
    exif, xmp, iptc = b"II*\0" + bytes(20), b"<x:xmpmeta/>", b"\x1c\x02\x00\x00\x02\x00\x04"
    old = Blocks(exif, 30, xmp, None, iptc)
    assert _changed_parts(old, Blocks(exif, 30, xmp, None, iptc)) == set()
    assert _changed_parts(old, Blocks(exif, 40, xmp, None, iptc)) == {"exif"}  # offsets move
    assert _changed_parts(old, Blocks(exif, 30, xmp + b" ", None, iptc)) == {"xmp"}
    assert _changed_parts(old, Blocks(exif, 30, xmp, b"ext", iptc)) == {"xmp"}
    assert _changed_parts(old, Blocks(exif, 30, xmp, None, None)) == {"iptc"}
    # XMP and IPTC missing from the container may be in the EXIF (TIFF): they follow it
    tiff = Blocks(exif, 0)
    assert _changed_parts(tiff, Blocks(exif, 0)) == set()
    assert _changed_parts(tiff, Blocks(exif[:-1] + b"\1", 0)) == {"exif", "xmp", "iptc"}


def test_planning_decodes_only_the_exif_tags_it_needs(photo: Path, monkeypatch) -> None:
    import engine.exif.decode

    asked: list[frozenset[str] | None] = []
    real = engine.exif.decode.decode_exif

    def recording(*args, **kwargs):
        asked.append(kwargs.get("only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.exif.decode, "decode_exif", recording)
    engine.write_metadata(photo, {"Artist": "Ann Other"})
    # planning: the tag and its synchronised places; validation: both files whole
    assert asked == [frozenset({"Artist"}), None, None]
    assert engine.read_metadata(photo)["Artist"] == "Ann Other"


def test_writing_a_thumbnail_is_refused_as_before(photo: Path) -> None:
    # ThumbnailImage is made from two other tags: planning decodes them too, so the tag is
    # known to be read-only (binary) and refused as such
    original = photo.read_bytes()
    with pytest.raises(engine.ReadOnlyTagError, match="cannot be written"):
        engine.write_metadata(photo, {"ifd1/ThumbnailImage": "x"})
    assert photo.read_bytes() == original
