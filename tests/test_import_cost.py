"""The import diet of a one-tag write (issue 3): what ``metafs write`` and ``engine`` load.

A CLI write must start in a few milliseconds, so the modules below stay out of its path (each
costs 1-12 ms to import, or pulls in one that does).  Deterministic: the test looks at
``sys.modules`` in a fresh interpreter after a real write, never at a clock; the timings are
``scripts/bench --section write``'s job.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"

# stdlib modules that cost milliseconds (inspect via dataclasses, decimal via fractions...)
HEAVY_STDLIB = [
    "argparse", "gettext", "locale", "dataclasses", "inspect", "typing", "fractions", "decimal",
    "hashlib", "hmac", "secrets", "random", "shutil", "logging", "json", "glob", "fnmatch",
    "contextlib", "threading", "tempfile", "importlib", "warnings",
]
# what a JPEG EXIF write does not need: the XML parser, the XMP/IPTC code and tables, the
# readers and writers of the other formats
NOT_FOR_JPEG_EXIF = [
    "lxml", "lxml.etree", "engine.xmp", "engine.xmp.decode", "engine.xmp.edit", "engine.xmp.tables",
    "engine.iptc.iim", "engine.iptc.edit", "engine.iptc.tables", "engine.containers.png",
    "engine.containers.webp",
    "engine.containers.heif", "engine.containers.tiff", "engine.containers.png_write",
    "engine.containers.webp_write", "engine.containers.heif_write", "engine.containers.tiff_write",
    "engine.iptc.digest",
]

PROBE = r"""
import sys
before = set(sys.modules)
{body}
print("\n".join(sorted(set(sys.modules) - before)))
"""


def loaded_by(body: str) -> set[str]:
    """The modules a fresh interpreter loads to run ``body`` (beyond its own start-up)."""
    r = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], cwd=REPO,
                       capture_output=True, text=True, check=True)
    return set(r.stdout.split())


def test_cli_write_of_one_exif_tag_stays_light(photo: Path) -> None:
    loaded = loaded_by(
        "from metafs.cli import main\n"
        f"assert main(['write', {str(photo)!r}, '--set', 'Make=Light']) == 0"
    )
    assert "engine.containers.jpeg_write" in loaded  # the write did happen, through the engine
    assert sorted(loaded & {*HEAVY_STDLIB, *NOT_FOR_JPEG_EXIF}) == []
    import engine

    assert engine.read_metadata(photo).tags["Make"].value == "Light"


def test_engine_write_of_one_exif_tag_stays_light(photo: Path) -> None:
    loaded = loaded_by(
        "import engine\n"
        f"engine.write_metadata({str(photo)!r}, {{'Make': 'Light', 'ifd1/XResolution': '72'}})"
    )
    assert sorted(loaded & {*HEAVY_STDLIB, *NOT_FOR_JPEG_EXIF}) == []


def test_reading_still_loads_what_it_needs(photo: Path) -> None:
    # the lazy imports are imports all the same: a full read gets the XMP and IPTC code
    loaded = loaded_by(f"import engine\nengine.read_metadata({str(photo)!r})")
    assert {"engine.xmp.decode", "lxml.etree", "engine.iptc.iim"} <= loaded


def test_records_behave_like_the_dataclasses_they_replace() -> None:
    import copy
    import pickle

    from engine.exif.patch import NewEntry
    from engine.model import Blocks, TagValue

    tag = TagValue("Make", "IFD0", "Make", "Canon")
    assert tag == TagValue("Make", "IFD0", "Make", "Canon", True, None)
    assert tag != tag.replace(value="Nikon") and tag.replace(writable=False).writable is False
    assert repr(tag) == ("TagValue(path='Make', group='IFD0', name='Make', value='Canon', "
                         "writable=True, binary_size=None)")
    assert hash(tag) == hash(copy.copy(tag)) and pickle.loads(pickle.dumps(tag)) == tag
    with pytest.raises(AttributeError):
        tag.value = "Nikon"  # type: ignore[misc]
    entry = NewEntry(0x010F, 2, 6, b"Canon\0")
    assert copy.deepcopy(entry) == entry and {entry: 1}[NewEntry(0x010F, 2, 6, b"Canon\0")] == 1
    blocks = Blocks(b"II*\0")
    assert blocks == Blocks(exif=b"II*\0") and blocks.warnings == [] and blocks.extra_exif == []
    with pytest.raises(TypeError):
        hash(blocks)
    assert pickle.loads(pickle.dumps(blocks)) == blocks


def test_a_synced_tag_whose_xmp_copy_the_photo_lacks_loads_no_xml_parser(tmp_path) -> None:
    """Artist is kept in step with dc:creator, but only where the photo has one: a camera
    JPEG whose XMP has no creator is written without importing lxml or the XMP tables, and
    one that has it still gets the copy."""
    from PIL import Image

    import engine

    photo = tmp_path / "cam.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    engine.write_metadata(photo, {"Make": "Cam", "xmp/xmp:Rating": "3"}, backup=False)
    code = ("import sys, engine; engine.write_metadata(sys.argv[1], {'Artist': 'Ann'}, "
            "backup=False); print(sorted(m for m in sys.modules if m.startswith('lxml') "
            "or m == 'engine.xmp.decode'))")
    out = subprocess.run([sys.executable, "-c", code, str(photo)], capture_output=True,
                         text=True, check=True, cwd=str(REPO)).stdout
    assert out.strip() == "[]"
    assert "xmp/dc:creator" not in engine.read_metadata(photo).tags
    engine.write_metadata(photo, {"xmp/dc:creator": "Ann"}, backup=False)
    engine.write_metadata(photo, {"Artist": "Bob"}, backup=False)
    assert engine.read_metadata(photo).tags["xmp/dc:creator"].value == ["Bob"]


def test_a_synced_tag_whose_xmp_copy_the_photo_has_loads_no_xml_parser(tmp_path) -> None:
    """A camera JPEG whose XMP holds dc:creator: `metafs write --set Artist=...` keeps the
    copy in step through engine.xmp.quick, without lxml, the XMP tables or the XMP
    decoder and editor (issue 15), and the copy is there afterwards."""
    import shutil

    import engine

    photo = tmp_path / "cam.jpg"
    shutil.copyfile(FIXTURES / "exif_le.jpg", photo)
    engine.write_metadata(photo, {"xmp/dc:creator": "Ann", "xmp/dc:rights": "(c) Ann"},
                          backup=False)
    loaded = loaded_by(
        "from metafs.cli import main\n"
        f"assert main(['write', {str(photo)!r}, '--set', 'Artist=Bob', '--set', "
        "'Copyright=(c) Bob']) == 0"
    )
    assert "engine.xmp.quick" in loaded  # the copies were made, linearly
    assert sorted(loaded & {*HEAVY_STDLIB, *NOT_FOR_JPEG_EXIF, "engine.xmp.paths"}
                  - {"engine.xmp"}) == []
    tags = engine.read_metadata(photo).tags
    assert tags["xmp/dc:creator"].value == ["Bob"] and tags["xmp/dc:rights"].value == "(c) Bob"
