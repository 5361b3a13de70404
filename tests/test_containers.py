"""One class per container format (issue 12, item 1): the registry lists each container once,
readers and writers find the metadata blocks through the same ``locate``, validation asks the
container what to compare, and adding a container is one module plus one registry line."""

from __future__ import annotations

import ast
import hashlib
import struct
import sys
import zlib
from pathlib import Path

import pytest

import engine
from engine import registry
from engine.containers.base import FileFormat, Layout, Slot
from engine.errors import WriteError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
WRITABLE = ["photo.jpg", "iptc.jpg", "xmp_extended.jpg", "exif_xmp.png", "exif_xmp.webp",
            "exif_xmp.heic", "strips_le.tif"]


def test_each_container_is_listed_once_and_says_what_it_writes() -> None:
    found = registry.formats()
    assert [f.name for f in found] == ["JPEG", "TIFF", "PNG", "WEBP", "HEIF", "EXV",
                                       "MRW", "RAF"]
    assert len({f.__module__ for f in found}) == len(found)
    for fmt in found:
        assert issubclass(fmt, FileFormat) and fmt.writer is not None
        assert not hasattr(fmt, "extensions")  # nothing read it
        assert fmt.planner().__module__ == fmt.writer[0]


def test_the_thin_functions_answer_as_before() -> None:
    assert registry.READ_ONLY_TYPES == {"BTF": "BigTIFF", "X3F": "Sigma X3F"}  # CR3: issue 16
    every = frozenset({"exif", "xmp", "iptc"})
    assert registry.writable_groups("JPEG") == registry.writable_groups("TIFF") == every
    assert registry.writable_groups("PNG") == every - {"iptc"}
    assert registry.writable_groups("PNG", has_iptc=True) == every
    assert registry.writable_groups("WEBP", has_iptc=True) == every - {"iptc"}
    assert registry.writable_groups("HEIF") == every - {"iptc"}
    assert registry.why_not_writable("WEBP", "iptc") == ("WebP has no place for IPTC; use the "
                                                         "XMP equivalents")
    assert registry.why_not_writable("JPEG", "iptc") == "JPEG files cannot hold iptc"


def test_a_broken_format_module_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_loaded", None)
    monkeypatch.setattr(registry, "_FORMATS", [*registry._FORMATS,
                                               ("engine.containers.no_such", "NoFormat")])
    with pytest.raises(ImportError):
        registry.formats()


@pytest.mark.parametrize("name", WRITABLE)
def test_reader_blocks_are_the_located_slots(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    fmt = registry.sniff(data[:64])
    layout = fmt.locate(data, name)
    blocks = fmt.extract(data, name)
    exif = layout.first("exif")
    assert (exif is None) == (blocks.exif is None)
    if exif is not None:
        assert bytes(exif.data) == bytes(blocks.exif) and exif.offset == blocks.exif_offset
        assert data[exif.offset : exif.offset + 8] == bytes(exif.data[:8])  # where it says


@pytest.mark.parametrize("name", WRITABLE)
def test_a_plan_from_the_readers_layout_is_the_writers_own(name: str) -> None:
    from engine.write.changes import Edits

    data = (FIXTURES / name).read_bytes()
    fmt = registry.sniff(data[:64])
    edits = Edits(exif=[("IFD0", "Artist", "x")], xmp={"dc:title": "y"})
    assert fmt.plan(data, fmt.locate(data, name), edits, name) == \
        fmt.plan(data, None, edits, name)


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I",
                                                                      zlib.crc32(ctype + body))


def test_png_reader_and_writer_agree_on_a_bad_exif_profile(tmp_path: Path) -> None:
    """An ImageMagick EXIF profile with an ``Exif\\0\\0`` header but no TIFF block: the reader
    used to decode it and the writer to ignore it (adding a second EXIF block beside it)."""
    src = (FIXTURES / "exif_xmp.png").read_bytes()
    blob = b"Exif\0\0" + b"not a tiff header"
    hexs = blob.hex()
    text = f"\nexif\n{len(blob):8d}\n{hexs}\n".encode()
    at = src.index(b"IEND") - 4
    path = tmp_path / "bad_profile.png"
    path.write_bytes(src[:at] + _png_chunk(b"tEXt", b"Raw profile type exif\0" + text)
                     + src[at:])
    from engine.containers.png import PngFormat

    slots = PngFormat.locate(path.read_bytes(), str(path)).of("exif")
    assert len(slots) == 2 and slots[1].data is None and "holds no TIFF block" in slots[1].problem
    before = path.read_bytes()
    with pytest.raises(WriteError, match="holds EXIF in 2 chunks"):
        engine.write_metadata(path, {"Artist": "x"}, backup=False)
    assert path.read_bytes() == before


def test_one_iptc_replacement_with_one_rule_on_damage() -> None:
    from engine.iptc.photoshop import (
        IPTC_DIGEST_ID,
        IPTC_ID,
        Resource,
        parse_irb,
        render_irb,
        replace_iptc,
    )

    old = b"\x1c\x02\x05\x00\x03old"
    irb = render_irb([Resource(b"8BIM", IPTC_ID, b"", old),
                      Resource(b"8BIM", IPTC_DIGEST_ID, b"", hashlib.md5(old).digest())])
    new, changed = replace_iptc(irb, lambda iim: iim.replace(b"old", b"new"), "x", "{why}")
    resources, warnings = parse_irb(new)
    assert changed and not warnings
    assert [r.data for r in resources] == [b"\x1c\x02\x05\x00\x03new",
                                           hashlib.md5(b"\x1c\x02\x05\x00\x03new").digest()]
    with pytest.raises(WriteError, match="damaged: Photoshop: resource 0x0425 runs past"):
        replace_iptc(irb[:-5], lambda iim: iim, "x", "damaged: {why}")


def test_no_writer_imports_another_and_validation_names_no_format() -> None:
    writers = {f.writer[0] for f in registry.formats()}
    for module in writers:
        path = REPO / (module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not names & writers, path.name
    for path in (REPO / "engine" / "write" / n for n in ("validate.py", "writer.py")):
        text = path.read_text()
        assert not any(f'"{n}"' in text for n in ("JPEG", "TIFF", "PNG", "WEBP", "HEIF")), path


# --- a new container: one module and one registry line ------------------------------------

TOY_MODULE = '''
from engine.containers.base import FileFormat, Layout, Slot

MAGIC = b"TOYMETA\\0"


def plan_toy(data, edits, path, located=None):
    from engine.xmp.edit import edit_packet

    located = located or ToyFormat.locate(data, path)
    slot = located.first("xmp")
    return [MAGIC + edit_packet(slot.data if slot else None, edits.xmp)]


class ToyFormat(FileFormat):
    name = "TOY"
    writer = ("toy_container", "plan_toy")
    not_writable = {"exif": "toys have no EXIF", "iptc": "toys have no IPTC"}

    @staticmethod
    def score(head):
        return 100 if head[:8] == MAGIC else 0

    @classmethod
    def locate(cls, data, path):
        return Layout(None, [Slot("xmp", bytes(data[8:]), 8, MAGIC, 0)] if len(data) > 8
                      else [])

    @classmethod
    def check_damage(cls, data, edits, path):
        return None
'''


def test_a_new_container_is_one_module_and_one_registry_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "toy_container.py").write_text(TOY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_loaded", None)
    monkeypatch.setattr(registry, "_FORMATS", [*registry._FORMATS,
                                               ("toy_container", "ToyFormat")])
    photo = tmp_path / "a.toy"
    photo.write_bytes(b"TOYMETA\0")
    assert registry.sniff(photo.read_bytes()).name == "TOY"
    assert registry.writable_groups("TOY") == frozenset({"xmp"})
    engine.write_metadata(photo, {"xmp/dc:title": "Hello"}, backup=False)
    md = engine.read_metadata(photo)
    assert md.format == "TOY" and md.tags["xmp/dc:title"].value == "Hello"
    sys.modules.pop("toy_container", None)


def test_layout_slots() -> None:
    layout = Layout(None, [Slot("exif", None, 4), Slot("exif", b"II*\0", 10), Slot("xmp", b"<")])
    assert [s.offset for s in layout.of("exif")] == [4, 10]
    assert layout.first("exif").offset == 10 and layout.first("iptc") is None
