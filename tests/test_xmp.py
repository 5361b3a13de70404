"""XMP decoding: names, groups, paths and printed values as ExifTool 12.57 shows them.

Expected values were taken from ``exiftool -j -G1 -a`` on the same packets.
"""

from __future__ import annotations

import time

import pytest
from support.oracles import as_exiftool_json

from engine.errors import CorruptFileError
from engine.xmp.decode import decode_xmp, parse_packet

NS = (
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
    'xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
    'xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" '
    'xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/" '
    'xmlns:myns="http://example.com/myns/1.0/" '
    'xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"'
)

SAMPLE = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Test Core 1.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" {NS}
    xmp:CreateDate="2020-01-02T03:04:05+02:00" xmp:Rating="3" exif:FNumber="56/10"
    exif:ExposureProgram="1" tiff:Orientation="1" crs:Exposure2012="+0.50"
    crs:HasSettings="True" myns:CustomThing="hello">
   <dc:title><rdf:Alt>
     <rdf:li xml:lang="x-default">Default title</rdf:li>
     <rdf:li xml:lang="fr-fr">Titre</rdf:li>
   </rdf:Alt></dc:title>
   <dc:subject><rdf:Bag><rdf:li>one</rdf:li><rdf:li>two</rdf:li></rdf:Bag></dc:subject>
   <dc:creator><rdf:Seq><rdf:li>Ann</rdf:li></rdf:Seq></dc:creator>
   <exif:Flash rdf:parseType="Resource">
    <exif:Fired>False</exif:Fired><exif:Return>0</exif:Return><exif:Mode>2</exif:Mode>
    <exif:Function>False</exif:Function><exif:RedEyeMode>False</exif:RedEyeMode>
   </exif:Flash>
   <Iptc4xmpCore:CreatorContactInfo Iptc4xmpCore:CiAdrCity="Paris"
     Iptc4xmpCore:CiEmailWork="a@b.c"/>
   <xmpMM:History><rdf:Seq>
     <rdf:li rdf:parseType="Resource">
      <stEvt:action>created</stEvt:action><stEvt:when>2020-01-02T03:04:05+02:00</stEvt:when>
     </rdf:li>
     <rdf:li><rdf:Description stEvt:action="saved" stEvt:changed="/"/></rdf:li>
   </rdf:Seq></xmpMM:History>
   <xmpMM:DerivedFrom rdf:resource="uuid:1234"/>
   <myns:Nested rdf:parseType="Resource"><myns:Inner>deep</myns:Inner></myns:Nested>
   <myns:Ratio>1/3</myns:Ratio>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:ppp="http://purl.org/dc/elements/1.1/">
   <ppp:rights><rdf:Alt><rdf:li xml:lang="x-default">(c) me</rdf:li></rdf:Alt></ppp:rights>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()

# exiftool -j -G1 -a on SAMPLE (JSON numbers and booleans as their text)
EXIFTOOL = {
    "XMP-x:XMPToolkit": "Test Core 1.0",
    "XMP-xmp:CreateDate": "2020:01:02 03:04:05+02:00",
    "XMP-xmp:Rating": "3",
    "XMP-exif:FNumber": "5.6",
    "XMP-exif:ExposureProgram": "Manual",
    "XMP-tiff:Orientation": "Horizontal (normal)",
    "XMP-crs:Exposure2012": "+0.50",
    "XMP-crs:HasSettings": "True",
    "XMP-myns:CustomThing": "hello",
    "XMP-dc:Title": "Default title",
    "XMP-dc:Title-fr-FR": "Titre",
    "XMP-dc:Subject": ["one", "two"],
    "XMP-dc:Creator": ["Ann"],
    "XMP-exif:FlashFired": "False",
    "XMP-exif:FlashReturn": "No return detection",
    "XMP-exif:FlashMode": "Off",
    "XMP-exif:FlashFunction": "False",
    "XMP-exif:FlashRedEyeMode": "False",
    "XMP-iptcCore:CreatorCity": "Paris",
    "XMP-iptcCore:CreatorWorkEmail": "a@b.c",
    "XMP-xmpMM:HistoryAction": ["created", "saved"],
    "XMP-xmpMM:HistoryWhen": "2020:01:02 03:04:05+02:00",
    "XMP-xmpMM:HistoryChanged": "/",
    "XMP-xmpMM:DerivedFrom": "uuid:1234",
    "XMP-myns:NestedInner": "deep",
    "XMP-myns:Ratio": "0.333333333333333",
    "XMP-dc:Rights": "(c) me",
}


def _json(packet: bytes, extended: bytes | None = None) -> tuple[dict, list[str]]:
    tags, warnings = decode_xmp(packet, extended, path="t.xmp")
    return as_exiftool_json(tags, "t.xmp", "XMP"), warnings


def test_sample_matches_exiftool() -> None:
    got, warnings = _json(SAMPLE)
    assert warnings == []
    assert got == EXIFTOOL
    assert list(got) == list(EXIFTOOL)  # same order as ExifTool


def test_sample_paths() -> None:
    tags, _ = decode_xmp(SAMPLE, None, path="t.xmp")
    paths = {t.path: t.value for t in tags}
    assert paths["xmp/dc:title"] == "Default title"
    assert paths["xmp/dc:title-fr-FR"] == "Titre"
    assert paths["xmp/dc:subject"] == ["one", "two"]
    assert paths["xmp/xmpMM:History[1]/stEvt:action"] == "created"
    assert paths["xmp/xmpMM:History[2]/stEvt:changed"] == "/"
    assert paths["xmp/Iptc4xmpCore:CreatorContactInfo/Iptc4xmpCore:CiAdrCity"] == "Paris"
    assert paths["xmp/exif:Flash/exif:Mode"] == "Off"
    assert paths["xmp/myns:Nested/myns:Inner"] == "deep"
    # a packet's own prefix for a known namespace is replaced by the standard one
    assert paths["xmp/dc:rights"] == "(c) me"
    assert {t.group for t in tags if t.path == "xmp/x:xmptk"} == {"XMP-x"}


def _packet(body: str, ns: str = "") -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" {NS} {ns}>{body}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "key", "value"),
    [
        ('<exif:ExposureTime>1/250</exif:ExposureTime>', "XMP-exif:ExposureTime", "1/250"),
        ('<exif:FocalLength>50/1</exif:FocalLength>', "XMP-exif:FocalLength", "50.0 mm"),
        ('<exif:ExposureBiasValue>-1/3</exif:ExposureBiasValue>',
         "XMP-exif:ExposureCompensation", "-1/3"),
        ('<exif:GPSLatitude>51,30.5N</exif:GPSLatitude>', "XMP-exif:GPSLatitude",
         "51 deg 30' 30.00\" N"),
        ('<exif:GPSLongitude>0,7.25W</exif:GPSLongitude>', "XMP-exif:GPSLongitude",
         "0 deg 7' 15.00\" W"),
        ('<exif:ShutterSpeedValue>5.91 EV (1/60 sec.)</exif:ShutterSpeedValue>',
         "XMP-exif:ShutterSpeedValue", "1/60"),
        ('<exif:ApertureValue>2.28 EV (f/2.2)</exif:ApertureValue>', "XMP-exif:ApertureValue",
         "2.2"),
        ('<exif:DateTimeOriginal>2021-05-06T07:08</exif:DateTimeOriginal>',
         "XMP-exif:DateTimeOriginal", "2021:05:06 07:08"),
        ('<xmp:ModifyDate>2019-09-02</xmp:ModifyDate>', "XMP-xmp:ModifyDate", "2019:09:02"),
        ('<tiff:Orientation>9</tiff:Orientation>', "XMP-tiff:Orientation", "Unknown (9)"),
        ('<tiff:YCbCrSubSampling><rdf:Seq><rdf:li>2</rdf:li><rdf:li>2</rdf:li></rdf:Seq>'
         '</tiff:YCbCrSubSampling>', "XMP-tiff:YCbCrSubSampling", "YCbCr4:2:0 (2 2)"),
        ('<aux:LensInfo>180/10 550/10 35/10 56/10</aux:LensInfo>', "XMP-aux:LensInfo",
         "18-55mm f/3.5-5.6"),
        ('<aux:LensInfo>70/1 200/1 0/0 0/0</aux:LensInfo>', "XMP-aux:LensInfo",
         "70-200mm f/?"),
        ('<myns:Odd.Name>x</myns:Odd.Name>', "XMP-myns:OddName", "x"),
        ('<myns:UPPER_CASE>x</myns:UPPER_CASE>', "XMP-myns:UpperCase", "x"),
    ],
)
def test_conversions(body: str, key: str, value: str) -> None:
    got, _ = _json(_packet(body, 'xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"'))
    assert got[key] == value


def test_unknown_prefix_clashing_with_known_one_is_renamed() -> None:
    # 'dc' is ExifTool's prefix for Dublin Core, so another URI under 'dc' becomes tmp0
    packet = _packet("", 'xmlns:tiffx="http://example.com/other/"').replace(
        b"<rdf:Description", b'<rdf:Description xmlns:exif2="http://example.com/e2/" '
        b'exif2:Foo="1"', 1)
    got, _ = _json(packet)
    assert got["XMP-exif2:Foo"] == "1"


def test_duplicate_property_later_wins() -> None:
    packet = _packet('<dc:format>a</dc:format>').replace(
        b"</rdf:RDF>", b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b"<dc:format>b</dc:format></rdf:Description></rdf:RDF>")
    got, warnings = _json(packet)
    assert got["XMP-dc:Format"] == "b"
    assert any("more than once" in w for w in warnings)


def test_extended_xmp_is_merged() -> None:
    main = _packet('<xmpNote:HasExtendedXMP>ABC</xmpNote:HasExtendedXMP>',
                   'xmlns:xmpNote="http://ns.adobe.com/xmp/note/"')
    ext = _packet('<crs:ToneCurve><rdf:Seq><rdf:li>0, 0</rdf:li><rdf:li>255, 255</rdf:li>'
                  '</rdf:Seq></crs:ToneCurve>')
    got, warnings = _json(main, ext)
    assert warnings == []
    assert got["XMP-xmpNote:HasExtendedXMP"] == "ABC"
    assert got["XMP-crs:ToneCurve"] == ["0, 0", "255, 255"]


def test_utf16_packet() -> None:
    got, _ = _json(_packet('<dc:format>caf\u00e9</dc:format>').decode().encode("utf-16"))
    assert got["XMP-dc:Format"] == "caf\u00e9"


def test_packet_with_nul_bytes_is_read_tolerantly() -> None:
    got, warnings = _json(_packet('<dc:format>ab</dc:format>') + b"\0\0\0junk")
    assert got["XMP-dc:Format"] == "ab"


def test_tree_is_kept_for_editing() -> None:
    packet, warnings = parse_packet(SAMPLE, path="t.xmp")
    assert warnings == []
    assert packet.head.startswith(b"<?xpacket begin=")
    assert packet.tail.strip().endswith(b'<?xpacket end="w"?>')
    assert packet.root.nsmap["x"] == "adobe:ns:meta/"


# ---------------------------------------------------------------------------------------------
# Hostile packets: a warning (or CorruptFileError from parse_packet), fast, no file access

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description
 xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>&lol9;</dc:format>
</rdf:Description></rdf:RDF></x:xmpmeta>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description
 xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>&xxe;</dc:format>
</rdf:Description></rdf:RDF></x:xmpmeta>"""

# an entity reference without any declaration in the packet must stay unresolved too
UNDECLARED_ENTITY = _packet("<dc:format>&xxe;</dc:format>")


@pytest.mark.parametrize("packet", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entity_declarations_are_refused(packet: bytes) -> None:
    start = time.monotonic()
    tags, warnings = decode_xmp(packet, None, path="evil.jpg")
    assert time.monotonic() - start < 1
    assert tags == []
    assert len(warnings) == 1 and "evil.jpg" in warnings[0] and "DTD" in warnings[0]
    with pytest.raises(CorruptFileError):
        parse_packet(packet, path="evil.jpg")


def test_undeclared_entity_is_not_resolved() -> None:
    tags, warnings = decode_xmp(UNDECLARED_ENTITY, None, path="evil.jpg")
    assert all("root:" not in str(t.value) for t in tags)
    assert warnings


def test_deep_nesting_is_bounded() -> None:
    depth = 100_000
    body = "<myns:a>" * depth + "x" + "</myns:a>" * depth
    start = time.monotonic()
    tags, warnings = decode_xmp(_packet(body), None, path="deep.jpg")
    assert time.monotonic() - start < 5
    assert warnings
    assert all(len(t.path) < 10_000 for t in tags)


def test_moderate_nesting_is_cut_with_a_warning() -> None:
    body = "<myns:a rdf:parseType='Resource'>" * 100 + "x" + "</myns:a>" * 100
    tags, warnings = decode_xmp(_packet(body), None, path="deep.jpg")
    assert any("deeper than" in w for w in warnings)


@pytest.mark.parametrize("junk", [b"", b"not xml at all", b"<x:xmpmeta", b"\xff\xfe\x00"])
def test_garbage_gives_a_warning(junk: bytes) -> None:
    tags, warnings = decode_xmp(junk, None, path="junk.jpg")
    assert tags == [] and warnings
