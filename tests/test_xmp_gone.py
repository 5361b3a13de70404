"""Deleted and replaced XMP values leave no byte behind (issue #11, item 2, the XMP part).

The packet is written anew: no padding holding old text, no comment or processing
instruction copying it, no second rdf:Description still giving the property.  Checked as a user
would, with a byte search of the whole written file, in every format that holds XMP.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount

import engine
from engine.xmp.edit import edit_packet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OLD = {"xmp/dc:description": "OldSecretDescription", "xmp/photoshop:Headline": "OldHeadline",
       "xmp/dc:subject": "OldKeywordOne\nOldKeywordTwo", "xmp/dc:title-de": "AlterTitel"}
LATER = {"xmp/dc:description": None, "xmp/photoshop:Headline": "New", "xmp/dc:subject": None,
         "xmp/dc:title-de": None}
MARKS = (b"OldSecretDescription", b"OldHeadline", b"OldKeyword", b"AlterTitel")


@pytest.mark.parametrize("name", ["photo.jpg", "xmp.jpg", "strips_le.tif", "multipage.tif",
                                  "exif_xmp.png", "exif_xmp.webp", "exif_xmp.heic",
                                  "exif_xmp.avif"])
def test_no_byte_of_old_values_remains(tmp_path: Path, name: str) -> None:
    photo = tmp_path / name
    shutil.copyfile(FIXTURES / name, photo)
    # XMP alone (no EXIF/IPTC copies made): those parts have their own tests
    engine.write_metadata(photo, OLD, backup=False, sync_related=False)
    assert all(photo.read_bytes().count(m) for m in MARKS)
    engine.write_metadata(photo, LATER, backup=False, sync_related=False)
    data = photo.read_bytes()
    assert [m for m in MARKS if m in data] == []
    md = engine.read_metadata(photo)
    assert md["xmp/photoshop:Headline"] == "New"
    assert "xmp/dc:description" not in md.tags


PACKET = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<!-- written from: OldSecret one -->
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<!-- OldSecret two --><?app OldSecret three?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:Headline="OldSecret four">
  <dc:description><rdf:Alt><rdf:li xml:lang="x-default">OldSecret five</rdf:li></rdf:Alt>
  </dc:description>
 </rdf:Description>
 <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:description><rdf:Alt><rdf:li xml:lang="x-default">OldSecret six</rdf:li></rdf:Alt>
  </dc:description><!-- OldSecret seven -->
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<!-- OldSecret eight -->""" + b" " * 500 + b'<?xpacket end="w"?>'


def test_copies_in_comments_and_duplicate_descriptions_go() -> None:
    new = edit_packet(PACKET, {"dc:description": None, "photoshop:Headline": "New"})
    assert b"OldSecret" not in new
    assert b"New" in new


@needs_mount
def test_rm_through_the_mount(mount: Mount) -> None:
    assert b"An XMP description" in (mount.src / "photo.jpg").read_bytes()
    mount.sh("rm photo.jpg.meta/xmp/dc:description; echo Other > photo.jpg.meta/xmp/dc:title")
    mount.commit()
    data = (mount.src / "photo.jpg").read_bytes()
    assert data.count(b"An XMP description") == 0
    assert data.count(b"Sunset over the bay") == 0
    assert mount.exif()["XMP-dc:Title"] == "Other"


@pytest.mark.parametrize("new", ["short", "NewLongText " * 9000])
def test_a_value_in_the_extended_xmp_is_replaced_there(tmp_path: Path, new: str) -> None:
    """dc:description lives in the Extended XMP of this JPEG: replaced, the old text goes
    (the part is rebuilt, under a new GUID, when the new value still needs it)."""
    photo = tmp_path / "xmp_extended.jpg"
    shutil.copyfile(FIXTURES / "xmp_extended.jpg", photo)
    assert b"Start of a long description" in photo.read_bytes()
    engine.write_metadata(photo, {"xmp/dc:description": new}, backup=False)
    data = photo.read_bytes()
    assert b"Start of a long description" not in data
    md = engine.read_metadata(photo)
    assert md["xmp/dc:description"] == new and md["xmp/dc:title"] == "Extended XMP fixture"
    assert md.warnings == []
    assert ("xmp/xmpNote:HasExtendedXMP" in md.tags) == (len(new) > 60_000)
