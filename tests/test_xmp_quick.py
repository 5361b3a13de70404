"""The linear XMP edit of synchronised copies (engine.xmp.quick, issue 15): a one-tag EXIF
write whose value lives in XMP too (Artist and dc:creator...) edits the packet without lxml,
and the result means what the lxml path's does.  Compared here over serialisations of the
copies' places (element and attribute forms, Seq/Alt with one or more items, xml:lang,
entities, other prefixes, CRLF) and over the corpus JPEGs with XMP; forms the linear edit
does not take go to the lxml path, and a wrong linear edit is refused by the validation."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

import engine
from engine.errors import TagValueError, ValidationError
from engine.write import writer
from engine.xmp import quick
from engine.xmp.decode import decode_xmp
from tests.support.builders import segment

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CORPUS = REPO.parent / "shared" / "corpus"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\0"
DC = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
NS = (f'{DC} xmlns:exif="http://ns.adobe.com/exif/1.0/" '
      'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"')
WRITES: list[dict[str, str | None]] = [
    {"Artist": "New Artist; Second"}, {"Copyright": "(c) Me & <you> \"q\" 'a'"},
    {"ImageDescription": "caption é"}, {"DateTimeOriginal": "2021:02:03 04:05:06"},
    {"iptc/Keywords": "k1\nk2"}, {"iptc/ObjectName": "Title"},
    {"Artist": None}]  # a deletion: the lxml path's (emptied Descriptions go too)
COPIES = {"Artist": {"dc:creator"}, "Copyright": {"dc:rights"},
          "iptc/Keywords": {"dc:subject"}, "iptc/ObjectName": {"dc:title"},
          "ImageDescription": {"dc:description"},
          "DateTimeOriginal": {"exif:DateTimeOriginal", "photoshop:DateCreated"}}


HEAD = "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>"


def packet(descriptions: str, head: str = HEAD, pad: int = 300) -> bytes:
    return (f"{head}<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf="
            f"'http://www.w3.org/1999/02/22-rdf-syntax-ns#'>{descriptions}</rdf:RDF></x:xmpmeta>"
            + "\n" + " " * pad + "\n<?xpacket end='w'?>").encode()


# Serialisations the linear edit takes
TAKEN = {
    "exiftool": packet(f"""
 <rdf:Description rdf:about='' {NS}>
  <dc:creator>
   <rdf:Seq>
    <rdf:li>Ann</rdf:li>
    <rdf:li>Bob</rdf:li>
   </rdf:Seq>
  </dc:creator>
  <dc:rights>
   <rdf:Alt>
    <rdf:li xml:lang='x-default'>Old</rdf:li>
    <rdf:li xml:lang='fr'>Vieux</rdf:li>
   </rdf:Alt>
  </dc:rights>
  <dc:description><rdf:Alt><rdf:li xml:lang='x-default'>Desc</rdf:li></rdf:Alt></dc:description>
  <exif:DateTimeOriginal>2010-01-02T03:04:05+01:00</exif:DateTimeOriginal>
 </rdf:Description>"""),
    "attributes": packet(
        f"<rdf:Description rdf:about='' {NS} exif:DateTimeOriginal='2011-05-06T07:08:09'"
        " photoshop:DateCreated=\"2011-05-06\"><dc:creator><rdf:Seq><rdf:li>Ann &amp; Co"
        "</rdf:li></rdf:Seq></dc:creator></rdf:Description>"),
    "split, other prefix, entities": packet(
        "<rdf:Description rdf:about='' xmlns:d='http://purl.org/dc/elements/1.1/'>"
        "<d:rights><rdf:Alt><rdf:li xml:lang='de'>Alt</rdf:li><rdf:li xml:lang='x-default'>"
        "&#169; &#xE9;&lt;x&gt;</rdf:li></rdf:Alt></d:rights></rdf:Description>"
        "<!-- a comment --><rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/"
        "elements/1.1/' xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmp:Rating='3'><dc:creator>"
        "<rdf:Seq><rdf:li></rdf:li><rdf:li>B</rdf:li></rdf:Seq></dc:creator>"
        "<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>T</rdf:li></rdf:Alt></dc:title>"
        "</rdf:Description>", pad=0),
    "crlf, no wrapper": packet(
        f"\r\n<rdf:Description rdf:about=\"\" {NS}>\r\n <dc:creator>\r\n  <rdf:Seq>\r\n"
        "   <rdf:li>A\r\nB</rdf:li>\r\n  </rdf:Seq>\r\n </dc:creator>\r\n"
        " <photoshop:DateCreated>2012-01-01T10:00:00Z</photoshop:DateCreated>\r\n"
        "</rdf:Description>\r\n", head=""),
}
TAKEN["dates as found, a Bag"] = packet(
    f"<rdf:Description {NS}><dc:subject><rdf:Bag><rdf:li>s</rdf:li></rdf:Bag></dc:subject>"
    "<exif:DateTimeOriginal>2010-01</exif:DateTimeOriginal>"
    "<photoshop:DateCreated>2007-11-19T00:00-08:00</photoshop:DateCreated></rdf:Description>")
# Serialisations left to the lxml path
DECLINED = {
    "creator as text": packet(f"<rdf:Description {DC}><dc:creator>Ann</dc:creator>"
                              "</rdf:Description>"),
    "no x-default": packet(f"<rdf:Description {DC}><dc:rights><rdf:Alt><rdf:li xml:lang='fr'>"
                           "V</rdf:li></rdf:Alt></dc:rights></rdf:Description>"),
    "twice": packet(f"<rdf:Description {DC}><dc:creator><rdf:Seq><rdf:li>A</rdf:li></rdf:Seq>"
                    f"</dc:creator></rdf:Description><rdf:Description {DC}><dc:creator>"
                    "<rdf:Seq><rdf:li>B</rdf:li></rdf:Seq></dc:creator></rdf:Description>"),
    "qualified item": packet(f"<rdf:Description {DC}><dc:creator><rdf:Seq><rdf:li "
                             "rdf:parseType='Resource'><rdf:value>A</rdf:value></rdf:li>"
                             "</rdf:Seq></dc:creator></rdf:Description>"),
    "comment in a value": packet(f"<rdf:Description {DC}><dc:creator><rdf:Seq><rdf:li>A<!--x-->"
                                 "B</rdf:li></rdf:Seq></dc:creator></rdf:Description>"),
    "not a name": packet(f"<rdf:Description {DC}><dc:creator><rdf:Seq><rdf:li>A</rdf:li>"
                         "</rdf:Seq></dc:creator><x:1a/></rdf:Description>"),
    "no-break space": packet(f"<rdf:Description\u00a0{DC}><dc:creator><rdf:Seq><rdf:li>A"
                             "</rdf:li></rdf:Seq></dc:creator></rdf:Description>"),
    "huge character reference": packet(f"<rdf:Description {DC}><dc:creator><rdf:Seq><rdf:li>"
                                       f"&#{'9' * 5000};</rdf:li></rdf:Seq></dc:creator>"
                                       "</rdf:Description>"),
    "cdata": packet(f"<rdf:Description {DC}><dc:creator><rdf:Seq><rdf:li><![CDATA[A]]>"
                    "</rdf:li></rdf:Seq></dc:creator></rdf:Description>"),
    "lang-alt attribute": packet(f"<rdf:Description {DC} dc:rights='R'/>"),
}


def jpeg_with_xmp(tmp_path: Path, name: str, xmp: bytes) -> Path:
    """fixtures/exif_le.jpg (EXIF, no XMP) with ``xmp`` in an APP1 after its EXIF."""
    data = (FIXTURES / "exif_le.jpg").read_bytes()
    end = 2
    while data[end + 1] != 0xE1:  # the segments before the EXIF APP1, then it
        end += 2 + int.from_bytes(data[end + 2 : end + 4], "big")
    end += 2 + int.from_bytes(data[end + 2 : end + 4], "big")
    out = tmp_path / f"{name.replace(' ', '_').replace(',', '')}.jpg"
    out.write_bytes(data[:end] + segment(0xE1, XMP_HEADER + xmp) + data[end:])
    return out


def written_both_ways(tmp_path: Path, src: Path, changes: dict[str, str],
                      monkeypatch: pytest.MonkeyPatch) -> tuple[dict | str, dict | str]:
    """The tags after ``changes`` written by the linear edit and by the lxml path (or the
    error that refused the write)."""
    fast, slow = tmp_path / "fast.jpg", tmp_path / "slow.jpg"
    shutil.copyfile(src, fast)
    shutil.copyfile(src, slow)
    outcome = []
    for photo, scan in ((fast, writer._quick_scan), (slow, lambda *a: None)):
        with monkeypatch.context() as m:
            m.setattr(writer, "_quick_scan", scan)
            try:
                engine.write_metadata(photo, changes, backup=False)
                outcome.append(engine.read_metadata(photo).tags)
            except engine.EngineError as e:  # refused: both ways, for the same reason
                outcome.append(type(e).__name__ + str(e).replace(str(photo), ""))
    return outcome[0], outcome[1]


def partners(xmp: bytes) -> dict:
    """What engine.xmp.decode reads at the places the linear edit knows."""
    tags, _ = decode_xmp(xmp, None, path="t")
    return {t.path[4:]: t.value for t in tags if t.path[4:] in quick.KINDS}


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_scan_reads_what_the_decoder_reads(name: str) -> None:
    found = quick.scan(TAKEN[name], quick.KINDS)
    assert found is not None
    assert {t: p.value for t, p in found.found.items()} == partners(TAKEN[name])


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_other_forms_are_left_to_lxml(name: str) -> None:
    assert quick.scan(DECLINED[name], quick.KINDS) is None


@pytest.mark.parametrize("name", sorted(TAKEN) + sorted(DECLINED))
def test_both_paths_write_the_same_meaning(tmp_path: Path, name: str, monkeypatch) -> None:
    src = jpeg_with_xmp(tmp_path, name, {**TAKEN, **DECLINED}[name])
    for changes in WRITES:
        fast, slow = written_both_ways(tmp_path, src, changes, monkeypatch)
        assert fast == slow, changes


def test_a_hostile_tag_is_read_in_linear_time() -> None:
    # an unfinished tag: the tag pattern is possessive (no backtracking), then declined
    assert quick.scan(packet(f"<rdf:Description {DC}>" + "<dc:creator" + " " * 60_000
                             + "x</rdf:Description>"), quick.KINDS) is None


def test_the_linear_edit_keeps_layout_and_size(tmp_path: Path) -> None:
    src = jpeg_with_xmp(tmp_path, "exiftool", TAKEN["exiftool"])
    result = engine.write_metadata(src, {"Artist": "Zoe; Yan"}, backup=False)
    assert "also set xmp/dc:creator from Artist" in result.notes
    _, blocks = engine.reader.read_blocks_from(src.read_bytes(), str(src))
    old = TAKEN["exiftool"]
    assert len(blocks.xmp) == len(old)
    assert blocks.xmp.replace(b"Zoe", b"Ann").replace(b"Yan", b"Bob") == old


def test_a_bad_value_is_refused_as_the_lxml_path_refuses_it(tmp_path: Path) -> None:
    src = jpeg_with_xmp(tmp_path, "exiftool", TAKEN["exiftool"])
    with pytest.raises(TagValueError, match="xmp/exif:DateTimeOriginal"):
        quick.edit(quick.scan(TAKEN["exiftool"], ["exif:DateTimeOriginal"]),
                   {"exif:DateTimeOriginal": "not a date"}, 65000)
    before = src.read_bytes()
    with pytest.raises(TagValueError):
        engine.write_metadata(src, {"Artist": "bell\x07"}, backup=False)
    assert src.read_bytes() == before


@pytest.mark.parametrize(("old", "new", "why"), [
    (b"Vieux", b"Jeune", "xmp/dc:rights does not read back as written"),  # another language
    (b"rdf:about=''", b"rdf:about='x'", "would change beyond the properties written"),
    (b"</dc:rights>", b"</dc:right>", "the edited XMP packet does not read back"),
])
def test_a_wrong_linear_edit_is_refused_by_the_validation(
        tmp_path: Path, monkeypatch, old: bytes, new: bytes, why: str) -> None:
    src = jpeg_with_xmp(tmp_path, "exiftool", TAKEN["exiftool"])
    before = src.read_bytes()
    real = quick.edit

    def sloppy(found, changes, limit):
        return real(found, changes, limit).replace(old, new)

    monkeypatch.setattr(quick, "edit", sloppy)
    with pytest.raises(ValidationError, match=why):
        engine.write_metadata(src, {"Copyright": "New"}, backup=False)
    assert src.read_bytes() == before


def _corpus_jpegs_with_xmp() -> list[Path]:
    if not (CORPUS / "inventory.tsv").is_file():
        return []
    with open(CORPUS / "inventory.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [CORPUS / r["path"] for r in rows if r["FileType"] == "JPEG" and r["has_xmp"] == "yes"]


@pytest.mark.corpus
def test_corpus_scan_agrees_with_the_decoder_and_writes_agree(tmp_path: Path,
                                                              monkeypatch) -> None:
    files = _corpus_jpegs_with_xmp()
    if not files:
        pytest.skip("corpus not available")
    taken = 0
    for f in files:
        _, blocks = engine.reader.read_blocks_from(f.read_bytes(), str(f))
        if blocks.xmp is None or blocks.xmp_extended is not None:
            continue
        found = quick.scan(blocks.xmp, quick.KINDS)
        if found is None:
            continue
        assert {t: p.value for t, p in found.found.items()} == partners(blocks.xmp), f
        if not found.found:
            continue
        taken += 1
        # one write per photo, of every value whose XMP copy it has
        changes = {k: v for w in WRITES for k, v in w.items()
                   if v is not None and not COPIES[k].isdisjoint(found.found)}
        fast, slow = written_both_ways(tmp_path, f, changes, monkeypatch)
        assert fast == slow, (f, changes)
    assert taken >= 3


@pytest.mark.exiftool
def test_exiftool_reads_the_linear_edits(tmp_path: Path) -> None:
    import json
    import subprocess

    if shutil.which("exiftool") is None:
        pytest.skip("exiftool not installed")
    photos = [jpeg_with_xmp(tmp_path, name, xmp) for name, xmp in TAKEN.items()]
    for photo in photos:
        engine.write_metadata(photo, {"Artist": "Ann; Bob", "Copyright": "(c) <A&B>",
                                      "DateTimeOriginal": "2021:02:03 04:05:06"}, backup=False)
    out = subprocess.run(["exiftool", "-j", "-G1", "-validate", "-XMP:all", *map(str, photos)],
                         capture_output=True, text=True, check=True).stdout
    for photo, found in zip(photos, json.loads(out), strict=True):
        tags = engine.read_metadata(photo).tags
        if "xmp/dc:creator" in tags:
            assert found["XMP-dc:Creator"] in (["Ann", "Bob"], "Ann, Bob"), photo
        if "xmp/dc:rights" in tags:
            assert found["XMP-dc:Rights"] == "(c) <A&B>", photo
        if "xmp/exif:DateTimeOriginal" in tags:
            assert found["XMP-exif:DateTimeOriginal"] == "2021:02:03 04:05:06", photo
        assert "XMP" not in str(found.get("ExifTool:Warning", "")), photo


def test_a_copy_that_outgrows_the_segment_goes_the_lxml_way(tmp_path: Path, monkeypatch) -> None:
    big = packet(f"<rdf:Description {DC} xmlns:xmp='http://ns.adobe.com/xap/1.0/'><dc:creator>"
                 "<rdf:Seq><rdf:li>A</rdf:li></rdf:Seq></dc:creator><xmp:Label>"
                 + "x" * 64_000 + "</xmp:Label></rdf:Description>", pad=0)
    found = quick.scan(big, ["dc:creator"])
    assert found is not None
    with pytest.raises(quick.Declined):
        quick.edit(found, {"dc:creator": ["y" * 2000]}, 65502)
    src = jpeg_with_xmp(tmp_path, "big", big)
    fast, slow = written_both_ways(tmp_path, src, {"Artist": "y" * 2000}, monkeypatch)
    assert fast == slow and fast["xmp/dc:creator"].value == ["y" * 2000]


def test_the_kinds_are_the_tables_and_cover_every_synchronised_xmp_place() -> None:
    from engine.write.changes import SYNC_GROUPS
    from engine.xmp.paths import namespace_uri, property_code

    for tag, (uri, local, code) in quick.KINDS.items():
        prefix, _, prop = tag.partition(":")
        assert (namespace_uri(prefix), prop, property_code(prefix, prop)) == (uri, local, code)
    synced = {p[4:] for group in SYNC_GROUPS for p in group if p.startswith("xmp/")}
    assert synced == set(quick.KINDS)
