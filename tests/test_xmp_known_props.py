"""A namespace whose schema ExifTool knows takes only its properties (issue #11, item 10).

``echo Bob > xmp/dc:creatr`` created ``XMP-dc:Creatr``; ExifTool says "Tag 'XMP-dc:Creatr' is
not defined" and writes nothing.  Namespaces without a schema (XMP-pdfx, whose properties are
the application's own) stay open.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount

import engine
from engine.errors import UnknownTagError
from engine.write.writer import check_value, tag_spec
from engine.xmp.decode import decode_xmp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("tag, message", [
    ("xmp/dc:creatr", "tag xmp/dc:creatr: XMP-dc has no property creatr"),
    ("xmp/dc:Creator", "tag xmp/dc:Creator: XMP-dc has no property Creator (its property is "
     "dc:creator)"),
    ("xmp/exif:MaxApertureValu", "tag xmp/exif:MaxApertureValu: XMP-exif has no property "
     "MaxApertureValu"),
    ("xmp/Iptc4xmpCore:CreatorContactInf/Iptc4xmpCore:CiEmailWork",
     "tag xmp/Iptc4xmpCore:CreatorContactInf/Iptc4xmpCore:CiEmailWork: XMP-iptcCore has no "
     "property CreatorContactInf"),
])
def test_misspelt_property_is_refused(tag: str, message: str) -> None:
    for check in (lambda: tag_spec(tag), lambda: check_value(tag, "Bob")):
        with pytest.raises(UnknownTagError) as e:
            check()
        assert str(e.value) == message


def test_nothing_is_written(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    before = photo.read_bytes()
    with pytest.raises(UnknownTagError):
        engine.write_metadata(photo, {"xmp/dc:creatr": "Bob"}, backup=False)
    assert photo.read_bytes() == before


def test_a_namespace_without_schema_stays_open(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    engine.write_metadata(photo, {"xmp/pdfx:Anything": "x"}, backup=False)
    assert engine.read_metadata(photo)["xmp/pdfx:Anything"] == "x"


def test_reader_shows_such_properties_read_only() -> None:
    """A file may hold one (another program wrote it): shown, but not offered for writing."""
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
              b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"'
              b' xmlns:pdfx="http://ns.adobe.com/pdfx/1.3/" dc:Creatr="Bob" dc:format="f" '
              b'pdfx:Own="o"/></rdf:RDF></x:xmpmeta>')
    tags, _ = decode_xmp(packet, None, path="t.xmp")
    assert {t.path: t.writable for t in tags} == {
        "xmp/dc:Creatr": False, "xmp/dc:format": True, "xmp/pdfx:Own": True}


@needs_mount
def test_through_the_mount(mount: Mount) -> None:
    before = (mount.src / "photo.jpg").read_bytes()
    res = mount.sh("echo Bob > photo.jpg.meta/xmp/dc:creatr", check=False)
    assert res.returncode != 0 and "Invalid argument" in res.stderr
    with pytest.raises(OSError) as e:
        with open(mount.meta / "xmp" / "dc:creatr", "w") as f:
            f.write("Bob\n")
    assert e.value.errno == errno.EINVAL
    assert not (mount.meta / "xmp" / "dc:creatr").exists()
    mount.sh("echo Bob > photo.jpg.meta/xmp/dc:format")  # a real property still works
    mount.commit()
    assert mount.exif()["XMP-dc:Format"] == "Bob"
    assert "XMP-dc:Creatr" not in mount.exif()
    assert (mount.src / "photo.jpg").read_bytes() != before
