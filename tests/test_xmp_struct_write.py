"""Writing XMP structure fields (``xmp/A:struct/B:field``, ``xmp/A:list[N]/B:field``).

ExifTool is the oracle: after each write it reads the new field (as the structure, with
``-struct``, and as ExifTool's flattened tag), and every other tag as before.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.errors import (
    ReadOnlyTagError,
    TagValueError,
    UnknownTagError,
    ValidationError,
)
from engine.write.writer import TagSpec, check_value, tag_spec
from engine.xmp import edit as xmp_edit
from metafs.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.write_compat import diff, exiftool_all, image_tail  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")

CCI = "xmp/Iptc4xmpCore:CreatorContactInfo"
EMAIL = f"{CCI}/Iptc4xmpCore:CiEmailWork"
HIST = "xmp/xmpMM:History"
ART = "xmp/Iptc4xmpExt:ArtworkOrObject"
AREA = "xmp/mwg-rs:Regions/mwg-rs:RegionList"


def copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copyfile(FIXTURES / name, dst)
    return dst


def et_struct(path: Path, *tags: str) -> dict:
    """``exiftool -j -G1 -struct`` of the given tags (all XMP when none)."""
    out = subprocess.run(["exiftool", "-j", "-G1", "-a", "-struct", *(tags or ("-XMP:all",)),
                          str(path)], capture_output=True, text=True, check=True).stdout
    d = json.loads(out)[0]
    d.pop("SourceFile")
    return d


# where HEIF keeps its metadata items: moves when the XMP item grows
LAYOUT = {"QuickTime:MediaDataSize", "QuickTime:MediaData", "QuickTime:MediaDataOffset"}


def write_and_diff(path: Path, changes: dict[str, str | None], allowed: set[str]) -> dict:
    """Write; every tag ExifTool reads but the ``allowed`` ones must be unchanged, and so must
    the image data.  Returns ExifTool's (flattened) tags after the write."""
    before, tail = exiftool_all(path, "-validate", "-all"), image_tail(path)
    engine.write_metadata(path, changes, backup=False)
    after = exiftool_all(path, "-validate", "-all")
    assert diff(before, after, allowed | LAYOUT) == []
    # ExifTool's -validate finds nothing new
    assert after["ExifTool:Validate"] == before["ExifTool:Validate"]
    assert image_tail(path) == tail
    assert not any("Warning" in k for k in after if k not in before)
    return after


def xmp_packet(path: Path) -> bytes:
    return subprocess.run(["exiftool", "-b", "-XMP", str(path)], capture_output=True,
                          check=True).stdout


# -- plain structures ---------------------------------------------------------------------------

def test_the_reported_command_now_works(tmp_path: Path, capsys) -> None:
    path = copy(tmp_path, "photo.jpg")
    assert main(["write", str(path), "--set", f"{EMAIL}=a@b.c"]) == 0
    assert capsys.readouterr() == ("", "")
    assert et_struct(path, "-XMP-iptcCore:all") == {
        "XMP-iptcCore:CreatorContactInfo": {"CiAdrCity": "Paris", "CiEmailWork": "a@b.c"}}
    assert exiftool_all(path, "-XMP-iptcCore:CreatorWorkEmail") == {
        "SourceFile": str(path), "XMP-iptcCore:CreatorWorkEmail": "a@b.c"}


def test_set_field_of_struct_leaves_everything_else(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    after = write_and_diff(path, {EMAIL: "new@example.com"}, {"XMP-iptcCore:CreatorWorkEmail"})
    assert after["XMP-iptcCore:CreatorWorkEmail"] == "new@example.com"
    assert after["XMP-iptcCore:CreatorCity"] == "Paris"
    assert engine.read_metadata(path)[EMAIL] == "new@example.com"


def test_field_added_to_existing_struct(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    write_and_diff(path, {f"{CCI}/Iptc4xmpCore:CiTelWork": "+33 1 23"},
                   {"XMP-iptcCore:CreatorWorkTelephone"})
    assert et_struct(path, "-XMP-iptcCore:all") == {"XMP-iptcCore:CreatorContactInfo": {
        "CiAdrCity": "Paris", "CiEmailWork": "jane@example.com", "CiTelWork": "+33 1 23"}}


def test_struct_created_as_exiftool_writes_it(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    write_and_diff(path, {"xmp/xmpMM:DerivedFrom/stRef:documentID": "xmp.did:1",
                          "xmp/xmpMM:DerivedFrom/stRef:instanceID": "xmp.iid:2"},
                   {"XMP-xmpMM:DerivedFromDocumentID", "XMP-xmpMM:DerivedFromInstanceID"})
    assert et_struct(path, "-XMP-xmpMM:DerivedFrom") == {
        "XMP-xmpMM:DerivedFrom": {"DocumentID": "xmp.did:1", "InstanceID": "xmp.iid:2"}}
    assert b'<xmpMM:DerivedFrom rdf:parseType="Resource">' in xmp_packet(path)


def test_struct_created_in_a_file_without_xmp(tmp_path: Path) -> None:
    path = copy(tmp_path, "exif_le.jpg")
    assert not [t for t in engine.read_metadata(path).tags if t.startswith("xmp/")]
    write_and_diff(path, {EMAIL: "a@b.c"}, {"XMP-iptcCore:CreatorWorkEmail", "XMP-x:XMPToolkit"})
    assert et_struct(path) == {"XMP-iptcCore:CreatorContactInfo": {"CiEmailWork": "a@b.c"}}


def test_deleting_fields_then_the_emptied_struct(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    write_and_diff(path, {EMAIL: None}, {"XMP-iptcCore:CreatorWorkEmail"})
    assert et_struct(path, "-XMP-iptcCore:all") == {
        "XMP-iptcCore:CreatorContactInfo": {"CiAdrCity": "Paris"}}
    write_and_diff(path, {f"{CCI}/Iptc4xmpCore:CiAdrCity": None}, {"XMP-iptcCore:CreatorCity"})
    assert et_struct(path, "-XMP-iptcCore:all") == {}
    assert b"CreatorContactInfo" not in xmp_packet(path)
    assert not [t for t in engine.read_metadata(path).tags if t.startswith(CCI)]


def test_nested_struct_created_and_edited(tmp_path: Path) -> None:
    path = copy(tmp_path, "exif_le.jpg")
    engine.write_metadata(path, {f"{AREA}[1]/mwg-rs:Area/stArea:x": "0.5",
                                 f"{AREA}[1]/mwg-rs:Name": "Jane",
                                 f"{AREA}[1]/mwg-rs:Type": "Face"}, backup=False)
    assert et_struct(path) == {"XMP-mwg-rs:RegionInfo": {
        "RegionList": [{"Area": {"X": 0.5}, "Name": "Jane", "Type": "Face"}]}}
    write_and_diff(path, {f"{AREA}[1]/mwg-rs:Area/stArea:y": "0.25",
                          f"{AREA}[1]/mwg-rs:Area/stArea:x": "0.75"},
                   {"XMP-mwg-rs:RegionAreaX", "XMP-mwg-rs:RegionAreaY"})
    assert et_struct(path) == {"XMP-mwg-rs:RegionInfo": {
        "RegionList": [{"Area": {"X": 0.75, "Y": 0.25}, "Name": "Jane", "Type": "Face"}]}}
    assert engine.read_metadata(path)[f"{AREA}[1]/mwg-rs:Area/stArea:x"] == "0.75"


# -- lists of structures -------------------------------------------------------------------------

HISTORY = [{"Action": "created", "SoftwareAgent": "Fixture", "When": "2020:01:01 10:00:00"},
           {"Action": "saved", "SoftwareAgent": "Fixture", "When": "2020:01:02 03:04:05"}]


def test_field_of_list_item_edited(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    after = write_and_diff(path, {f"{HIST}[2]/stEvt:action": "converted",
                                  f"{HIST}[1]/stEvt:when": "2021-05-06T07:08:09"},
                           {"XMP-xmpMM:HistoryAction", "XMP-xmpMM:HistoryWhen"})
    assert after["XMP-xmpMM:HistoryAction"] == ["created", "converted"]
    assert et_struct(path, "-XMP-xmpMM:History") == {"XMP-xmpMM:History": [
        {**HISTORY[0], "When": "2021:05:06 07:08:09"}, {**HISTORY[1], "Action": "converted"}]}
    assert engine.read_metadata(path)[f"{HIST}[1]/stEvt:when"] == "2021:05:06 07:08:09"


def test_next_item_appended_others_refused(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    write_and_diff(path, {f"{HIST}[3]/stEvt:action": "derived",
                          f"{HIST}[3]/stEvt:when": "2022:01:01 00:00:00"},
                   {"XMP-xmpMM:HistoryAction", "XMP-xmpMM:HistoryWhen"})
    assert et_struct(path, "-XMP-xmpMM:History") == {"XMP-xmpMM:History": [
        *HISTORY, {"Action": "derived", "When": "2022:01:01 00:00:00"}]}
    data = path.read_bytes()
    with pytest.raises(TagValueError) as e:
        engine.write_metadata(path, {f"{HIST}[5]/stEvt:action": "x"})
    assert str(e.value) == (f"{path}: tag {HIST}[5]/stEvt:action: xmp/xmpMM:History has 3 "
                            "items: a new item can only be item 4")
    assert path.read_bytes() == data


def test_list_created_with_its_first_item(tmp_path: Path) -> None:
    path = copy(tmp_path, "exif_xmp.webp")
    engine.write_metadata(path, {f"{HIST}[1]/stEvt:action": "created"}, backup=False)
    assert et_struct(path, "-XMP-xmpMM:History") == {"XMP-xmpMM:History": [
        {"Action": "created"}]}
    assert b"<rdf:Seq><rdf:li rdf:parseType=\"Resource\"><stEvt:action>" in xmp_packet(path)


def test_deleting_every_field_of_an_item_removes_it(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    fields = ("action", "softwareAgent", "when")
    gone = {f"{HIST}[1]/stEvt:{f}": None for f in fields}
    # item numbers of one change set all mean the items as they were
    write_and_diff(path, {**gone, f"{HIST}[2]/stEvt:instanceID": "iid"},
                   {"XMP-xmpMM:HistoryAction", "XMP-xmpMM:HistoryWhen",
                    "XMP-xmpMM:HistorySoftwareAgent", "XMP-xmpMM:HistoryInstanceID"})
    assert et_struct(path, "-XMP-xmpMM:History") == {"XMP-xmpMM:History": [
        {**HISTORY[1], "InstanceID": "iid"}]}
    md = engine.read_metadata(path)
    assert md[f"{HIST}[1]/stEvt:action"] == "saved" and f"{HIST}[2]/stEvt:action" not in md.tags
    engine.write_metadata(path, {f"{HIST}[1]/stEvt:{f}": None
                                 for f in (*fields, "instanceID")}, backup=False)
    assert b"History" not in xmp_packet(path)


def test_lang_alt_and_list_fields(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    engine.write_metadata(path, {f"{ART}[1]/Iptc4xmpExt:AOTitle": "Mona Lisa",
                                 f"{ART}[1]/Iptc4xmpExt:AOTitle-it": "La Gioconda",
                                 f"{ART}[1]/Iptc4xmpExt:AOCreator": "Leonardo\nda Vinci",
                                 f"{ART}[1]/Iptc4xmpExt:AODateCreated": "1503:01:01"},
                          backup=False)
    want = {"AOCreator": ["Leonardo", "da Vinci"], "AODateCreated": "1503:01:01",
            "AOTitle": "Mona Lisa", "AOTitle-it": "La Gioconda"}
    assert et_struct(path, "-XMP-iptcExt:all") == {"XMP-iptcExt:ArtworkOrObject": [want]}
    write_and_diff(path, {f"{ART}[1]/Iptc4xmpExt:AOTitle": "Portrait"},
                   {"XMP-iptcExt:ArtworkTitle"})
    assert et_struct(path, "-XMP-iptcExt:all") == {
        "XMP-iptcExt:ArtworkOrObject": [{**want, "AOTitle": "Portrait"}]}
    write_and_diff(path, {f"{ART}[1]/Iptc4xmpExt:AOTitle-it": None},
                   {"XMP-iptcExt:ArtworkTitle-it"})
    md = engine.read_metadata(path)
    assert md[f"{ART}[1]/Iptc4xmpExt:AOCreator"] == ["Leonardo", "da Vinci"]
    assert f"{ART}[1]/Iptc4xmpExt:AOTitle-it" not in md.tags


def test_unknown_field_of_known_namespace_is_text(tmp_path: Path) -> None:
    path = copy(tmp_path, "photo.jpg")
    write_and_diff(path, {f"{CCI}/Iptc4xmpCore:CiPager": "0123"},
                   {"XMP-iptcCore:CreatorContactInfoCiPager"})
    assert et_struct(path, "-XMP-iptcCore:all")["XMP-iptcCore:CreatorContactInfo"] == {
        "CiAdrCity": "Paris", "CiEmailWork": "jane@example.com", "CiPager": "0123"}


# -- the RDF forms of a structure ----------------------------------------------------------------

FORMS = b"""<x:xmpmeta xmlns:x='adobe:ns:meta/'>
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
 <rdf:Description rdf:about=''
  xmlns:Iptc4xmpCore='http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/'
  xmlns:xmpMM='http://ns.adobe.com/xap/1.0/mm/'
  xmlns:stEvt='http://ns.adobe.com/xap/1.0/sType/ResourceEvent#'
  xmlns:stRef='http://ns.adobe.com/xap/1.0/sType/ResourceRef#'
  xmlns:dc='http://purl.org/dc/elements/1.1/'
  xmlns:pdfx='http://ns.adobe.com/pdfx/1.3/'>
  <Iptc4xmpCore:CreatorContactInfo Iptc4xmpCore:CiAdrCity='Paris' Iptc4xmpCore:CiEmailWork='j@e.x'/>
  <xmpMM:DerivedFrom>
   <rdf:Description stRef:documentID='doc1'><stRef:instanceID>inst1</stRef:instanceID>
   </rdf:Description>
  </xmpMM:DerivedFrom>
  <xmpMM:History><rdf:Seq>
    <rdf:li stEvt:action='created' stEvt:softwareAgent='A'/>
    <rdf:li><rdf:Description stEvt:action='saved'><stEvt:softwareAgent>B</stEvt:softwareAgent>
    </rdf:Description></rdf:li>
  </rdf:Seq></xmpMM:History>
  <pdfx:Thing>plain text</pdfx:Thing>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>"""


@pytest.fixture
def forms(tmp_path: Path) -> Path:
    path = copy(tmp_path, "exif_le.jpg")
    (tmp_path / "forms.xmp").write_bytes(FORMS)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-xmp<={tmp_path / 'forms.xmp'}",
                    str(path)], check=True)
    return path


def test_attribute_and_description_forms(forms: Path) -> None:
    write_and_diff(forms, {
        EMAIL: "a@b.c", f"{CCI}/Iptc4xmpCore:CiTelWork": "+1 555",
        "xmp/xmpMM:DerivedFrom/stRef:documentID": "doc2",
        "xmp/xmpMM:DerivedFrom/stRef:instanceID": "inst2",
        f"{HIST}[1]/stEvt:action": "made", f"{HIST}[2]/stEvt:action": "kept",
        f"{HIST}[2]/stEvt:when": "2020:01:01 00:00:00",
    }, {"XMP-iptcCore:CreatorWorkEmail", "XMP-iptcCore:CreatorWorkTelephone",
        "XMP-xmpMM:DerivedFromDocumentID", "XMP-xmpMM:DerivedFromInstanceID",
        "XMP-xmpMM:HistoryAction", "XMP-xmpMM:HistoryWhen"})
    assert et_struct(forms, "-XMP-iptcCore:all", "-XMP-xmpMM:all") == {
        "XMP-iptcCore:CreatorContactInfo": {"CiAdrCity": "Paris", "CiEmailWork": "a@b.c",
                                            "CiTelWork": "+1 555"},
        "XMP-xmpMM:DerivedFrom": {"DocumentID": "doc2", "InstanceID": "inst2"},
        "XMP-xmpMM:History": [{"Action": "made", "SoftwareAgent": "A"},
                              {"Action": "kept", "SoftwareAgent": "B",
                               "When": "2020:01:01 00:00:00"}]}
    packet = xmp_packet(forms)
    # the Description forms stay; fields given as attributes stay attributes when set, and
    # become elements (with rdf:parseType="Resource") when an element field joins them, as
    # RDF/XML allows no mix of the two on a property element
    assert b'<rdf:Description stRef:documentID="doc2">' in packet
    assert b'<rdf:Description stEvt:action="kept">' in packet
    assert (b'<Iptc4xmpCore:CreatorContactInfo rdf:parseType="Resource"><Iptc4xmpCore:CiAdrCity>'
            b"Paris</Iptc4xmpCore:CiAdrCity><Iptc4xmpCore:CiEmailWork>a@b.c<") in packet
    assert b'<rdf:li stEvt:action="made" stEvt:softwareAgent="A"/>' in packet


def test_simple_value_is_not_made_a_struct(forms: Path) -> None:
    data = forms.read_bytes()
    with pytest.raises(ReadOnlyTagError) as e:
        engine.write_metadata(forms, {"xmp/pdfx:Thing/pdfx:part": "x"})
    assert str(e.value) == (f"{forms}: tag xmp/pdfx:Thing/pdfx:part: xmp/pdfx:Thing holds a simple "
                            "value in this file, not a structure")
    assert forms.read_bytes() == data


# -- every format ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["photo.jpg", "exif_le.jpg", "strips_le.tif", "exif_xmp.png",
                                  "exif_xmp.webp", "exif_xmp.heic", "exif_xmp.avif"])
def test_every_format(tmp_path: Path, name: str) -> None:
    path = copy(tmp_path, name)
    had_xmp = any(t.startswith("xmp/") for t in engine.read_metadata(path).tags)
    after = write_and_diff(path, {EMAIL: "a@b.c", f"{HIST}[1]/stEvt:action": "edited"},
                           {"XMP-iptcCore:CreatorWorkEmail", "XMP-xmpMM:HistoryAction",
                            *(() if had_xmp else ("XMP-x:XMPToolkit",))})
    assert after["XMP-iptcCore:CreatorWorkEmail"] == "a@b.c"
    actions = after["XMP-xmpMM:HistoryAction"]
    assert (actions if isinstance(actions, str) else actions[0]) == "edited"
    md = engine.read_metadata(path)
    assert md[EMAIL] == "a@b.c" and md[f"{HIST}[1]/stEvt:action"] == "edited"


# -- what the daemon asks: tag_spec, check_value, the reader's writable flag ---------------------

@pytest.mark.parametrize(("path", "spec"), [
    (EMAIL, (True, False, "string")),
    (f"{HIST}[2]/stEvt:when", (True, False, "date")),
    (f"{HIST}[2]/stEvt:action", (True, False, "string")),
    (f"{ART}[1]/Iptc4xmpExt:AOCreator", (True, True, "list")),
    (f"{ART}[1]/Iptc4xmpExt:AOTitle", (True, False, "lang-alt")),
    (f"{ART}[1]/Iptc4xmpExt:AOTitle-it", (True, False, "lang-alt")),
    (f"{AREA}[1]/mwg-rs:Area/stArea:x", (True, False, "rational")),
    (f"{CCI}/Iptc4xmpCore:CiPager", (True, False, "string")),
    (CCI, (False, False, "struct")),
    (HIST, (False, False, "struct")),
])
def test_tag_spec(path: str, spec: tuple) -> None:
    assert tag_spec(path) == TagSpec(path, *spec)


@pytest.mark.parametrize(("path", "error", "reason"), [
    (f"{HIST}/stEvt:action", UnknownTagError,
     "xmp/xmpMM:History is a list of structures: name an item, as xmpMM:History[1]/..."),
    (f"{CCI}[1]/Iptc4xmpCore:CiEmailWork", UnknownTagError,
     "xmp/Iptc4xmpCore:CreatorContactInfo is a single structure, not a list: name its fields "
     "without [1]"),
    ("xmp/dc:title/dc:part", UnknownTagError, "xmp/dc:title is not a structure"),
    ("xmp/dc:creator[1]/dc:part", UnknownTagError, "xmp/dc:creator is not a structure"),
    (f"{HIST}[0]/stEvt:action", UnknownTagError, "items of xmp/xmpMM:History are numbered from 1"),
    (f"{HIST}[1]", UnknownTagError,
     "an XMP structure field is named prefix:struct/prefix:field (prefix:list[N]/prefix:field "
     "for item N of a list of structures), got 'xmpMM:History[1]'"),
    ("xmp/xmpMM:History[1]/nope:action", UnknownTagError, "unknown XMP namespace prefix 'nope'"),
    (f"{CCI}/Iptc4xmpCore:1bad", UnknownTagError, "'1bad' is not a valid XMP property name"),
    (CCI, ReadOnlyTagError,
     "this is a structure: write its fields, as xmp/Iptc4xmpCore:CreatorContactInfo/prefix:field"),
    (HIST, ReadOnlyTagError,
     "this is a structure: write its fields, as xmp/xmpMM:History[1]/prefix:field"),
    (f"{HIST}[1]/stEvt:when", TagValueError,
     "'yesterday' is not a date; use YYYY:MM:DD HH:MM:SS or ISO 8601"),
    (f"{AREA}[1]/mwg-rs:Area/stArea:x", TagValueError, "'yesterday' is not a number"),
])
def test_check_value_and_write_refuse(tmp_path: Path, path: str, error: type, reason: str
                                      ) -> None:
    with pytest.raises(error) as e:
        check_value(path, "yesterday")
    assert (e.value.reason, e.value.tag) == (reason, path)
    photo = copy(tmp_path, "photo.jpg")
    data = photo.read_bytes()
    with pytest.raises(error) as e:
        engine.write_metadata(photo, {path: "yesterday"})
    assert str(e.value) == f"{photo}: tag {e.value.tag}: {reason}"
    assert photo.read_bytes() == data


def test_unknown_list_is_not_created(tmp_path: Path) -> None:
    photo = copy(tmp_path, "photo.jpg")
    with pytest.raises(TagValueError) as e:
        engine.write_metadata(photo, {"xmp/pdfx:Things[1]/pdfx:part": "x"})
    assert str(e.value) == (f"{photo}: tag xmp/pdfx:Things[1]/pdfx:part: cannot create the "
                            "list xmp/pdfx:Things: its kind (Bag or Seq) is unknown")


def test_reader_shows_struct_fields_writable() -> None:
    md = engine.read_metadata(FIXTURES / "photo.jpg")
    assert md.tags[EMAIL].writable and md.tags[f"{HIST}[2]/stEvt:when"].writable
    assert not md.tags["xmp/x:xmptk"].writable


# -- validation still guards the siblings -------------------------------------------------------

def test_validation_catches_a_sibling_change(tmp_path: Path, monkeypatch) -> None:
    photo = copy(tmp_path, "photo.jpg")
    data = photo.read_bytes()
    real = xmp_edit._edit_field

    def sloppy(rdf, t, value):
        out = real(rdf, t, value)
        for el in rdf.iter("{http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/}CiAdrCity"):
            el.text = "Lyon"
        return out

    monkeypatch.setattr(xmp_edit, "_edit_field", sloppy)
    with pytest.raises(ValidationError) as e:
        engine.write_metadata(photo, {EMAIL: "a@b.c"})
    assert str(e.value) == (f"{photo}: tag {CCI}/Iptc4xmpCore:CiAdrCity would change ('Paris' "
                            "-> 'Lyon') though it was not asked to; nothing was written")
    assert photo.read_bytes() == data


def test_validation_checks_where_items_move(tmp_path: Path, monkeypatch) -> None:
    photo = copy(tmp_path, "photo.jpg")
    data = photo.read_bytes()
    monkeypatch.setattr(xmp_edit, "_prune", lambda frames: None)  # the emptied item stays
    with pytest.raises(ValidationError) as e:
        engine.write_metadata(photo, {f"{HIST}[1]/stEvt:{f}": None
                                      for f in ("action", "softwareAgent", "when")})
    assert str(e.value) == (f"{photo}: tag {HIST}[2]/stEvt:action would change ('saved' -> "
                            "missing) though it was not asked to; nothing was written")
    assert photo.read_bytes() == data


GOOGLE = b"""<x:xmpmeta xmlns:x='adobe:ns:meta/'>
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
 <rdf:Description rdf:about=''
  xmlns:Container='http://ns.google.com/photos/1.0/container/'
  xmlns:Item='http://ns.google.com/photos/1.0/container/item/'>
  <Container:Directory><rdf:Seq>
   <rdf:li rdf:parseType='Resource'><Container:Item Item:Mime='image/jpeg' Item:Semantic='Primary'/>
   </rdf:li>
   <rdf:li rdf:parseType='Resource'><Container:Item Item:Mime='image/jpeg' Item:Length='52666'
     Item:Semantic='GainMap'/></rdf:li>
  </rdf:Seq></Container:Directory>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>"""


def test_prefix_of_a_namespace_the_tables_lack_means_the_packets(tmp_path: Path) -> None:
    # engine.xmp.decode prints such a namespace with the packet's own prefix (here an older URI
    # than the one ExifTool's GContainer table declares for Container:): the same is edited
    path = copy(tmp_path, "exif_le.jpg")
    (tmp_path / "g.xmp").write_bytes(GOOGLE)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-xmp<={tmp_path / 'g.xmp'}",
                    str(path)], check=True)
    item = "xmp/Container:Directory[2]/Container:Item"
    assert engine.read_metadata(path)[f"{item}/Item:Length"] == "52666"
    engine.write_metadata(path, {f"{item}/Item:Length": "1234", f"{item}/Item:Mime": "image/png"},
                          backup=False)
    assert et_struct(path) == {"XMP-Container:Directory": [
        {"Item": {"Mime": "image/jpeg", "Semantic": "Primary"}},
        {"Item": {"Length": 1234, "Mime": "image/png", "Semantic": "GainMap"}}]}
    assert b"http://ns.google.com/photos/dd/1.0/" not in xmp_packet(path)
