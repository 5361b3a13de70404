"""Issue 16, item 1: trailers after a JPEG's EOI stay right when a write grows APP1 (and
trailers after a TIFF's data when a write appends to it).

One fixture per trailer kind (fixtures/trailers/, made by scripts/make_trailer_fixtures.py);
each gets a long ImageDescription (APP1 grows by ~3 kB, so everything after it moves) and
ExifTool judges: the trailer's tags read back as before, no new warning (an AFCP trailer
whose absolute offsets were not moved reads "Adjusted AFCP offsets by N").  Maker-note
previews after EOI are made from ExifTool's own sample images (corpus) at run time.
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.containers import jpeg as J
from engine.containers import trailers as T
from engine.containers.trailers_write import trailer_summary

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "trailers"
CORPUS = REPO.parent / "shared" / "corpus"
sys.path.insert(0, str(REPO / "scripts"))
import make_trailer_fixtures as M  # noqa: E402

KINDS = {"afcp": "AFCP", "canon_vrd": "CanonVRD", "fotostation": "FotoStation",
         "photo_mechanic": "PhotoMechanic", "mie": "MIE", "samsung": "Samsung",
         "insta360": "Insta360", "nikon_app": "NikonApp"}
LONG = "x" * 3000
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None,
                                    reason="exiftool not installed")


def _sos(data: bytes) -> int | None:
    return J.parse_jpeg(data).sos_offset


def et(path: Path, *extra: str) -> dict:
    r = subprocess.run(["exiftool", "-j", "-G1", "-a", "-u", "-x", "System:all",
                        "-x", "File:all", *extra, str(path)],
                       capture_output=True, text=True, check=False)
    d = json.loads(r.stdout)[0]
    d.pop("SourceFile", None)
    return d


def et_bytes(path: Path, tag: str) -> bytes:
    return subprocess.run(["exiftool", "-b", f"-{tag}", str(path)], capture_output=True,
                          check=False).stdout


@pytest.mark.parametrize("name", [*sorted(KINDS), "motion_photo"])
def test_fixture_is_what_the_script_makes(name: str) -> None:
    assert (FIXTURES / f"{name}.jpg").read_bytes() == M.build(name)


def test_fixture_folder_holds_what_the_script_makes() -> None:
    assert {p.name for p in FIXTURES.iterdir()} == {f"{k}.jpg" for k in [*KINDS, "motion_photo"]}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_is_found(name: str) -> None:
    data = (FIXTURES / f"{name}.jpg").read_bytes()
    base = M.BASE.read_bytes()
    assert trailer_summary(data, _sos(data)) == [(KINDS[name], len(base), len(data))]


def test_chained_trailers_are_found_last_first() -> None:
    base = M.BASE.read_bytes()
    a = M.afcp(len(base))
    data = base + a + M.photo_mechanic(0) + M.fotostation(0)
    kinds = [k for k, _s, _e in trailer_summary(data, _sos(data))]
    assert kinds == ["AFCP", "PhotoMechanic", "FotoStation"]


def test_unknown_bytes_are_not_a_trailer() -> None:
    base = M.BASE.read_bytes()
    data = base + b"\0" * 100
    trailers, first = T.find_trailers(data, len(base))
    assert trailers == [] and first == len(data)


@needs_exiftool
@pytest.mark.parametrize("name", [*sorted(KINDS), "motion_photo"])
def test_grow_app1_past_each_trailer(name: str, tmp_path: Path) -> None:
    src = FIXTURES / f"{name}.jpg"
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    before = et(dst)
    old = dst.read_bytes()
    engine.write_metadata(dst, {"ImageDescription": LONG}, backup=False)
    new = dst.read_bytes()
    after = et(dst)
    delta = len(new) - len(old)
    assert delta > 2900
    assert after.pop("IFD0:ImageDescription") == LONG
    before.pop("IFD0:ImageDescription", None)
    assert after == before  # the trailer's tags, and no new warning
    assert [k for k, *_ in trailer_summary(new, _sos(new))] == \
        [k for k, *_ in trailer_summary(old, _sos(old))]


@needs_exiftool
def test_afcp_offsets_follow(tmp_path: Path) -> None:
    dst = tmp_path / "afcp.jpg"
    shutil.copyfile(FIXTURES / "afcp.jpg", dst)
    old = dst.read_bytes()
    engine.write_metadata(dst, {"ImageDescription": LONG}, backup=False)
    new = dst.read_bytes()
    (_k, start, end), = trailer_summary(new, _sos(new))
    assert struct.unpack(">I", new[end - 8 : end - 4])[0] == start
    assert new[start:end - 8] != old[len(old) - (end - start):-8]  # the directory changed
    warn = subprocess.run(["exiftool", "-a", "-warning", str(dst)], capture_output=True,
                          text=True, check=False).stdout
    assert "AFCP" not in warn
    assert et(dst)["IPTC2:Caption-Abstract"] == "AFCP caption"


@needs_exiftool
def test_samsung_audio_offsets_follow(tmp_path: Path) -> None:
    dst = tmp_path / "samsung.jpg"
    shutil.copyfile(FIXTURES / "samsung.jpg", dst)
    engine.write_metadata(dst, {"ImageDescription": LONG}, backup=False)
    new = dst.read_bytes()
    qdio = len(new) - 2 - 8 - 20  # the QDIO block's body, before its length, type and "BS"
    start, stop = struct.unpack("<II", new[qdio + 12 : qdio + 20])
    assert new[start:stop] == b"RIFFfake-audio-data"
    assert et_bytes(dst, "EmbeddedAudioFile") == b"RIFFfake-audio-data"


@needs_exiftool
def test_motion_photo_video_counted_from_the_end(tmp_path: Path) -> None:
    dst = tmp_path / "motion.jpg"
    shutil.copyfile(FIXTURES / "motion_photo.jpg", dst)
    engine.write_metadata(dst, {"ImageDescription": LONG, "xmp/dc:title": "t"}, backup=False)
    new = dst.read_bytes()
    off = int(et(dst)["XMP-GCamera:MicroVideoOffset"])
    assert new[len(new) - off + 4 : len(new) - off + 8] == b"ftyp"


# --- maker-note previews after EOI (offsets from the TIFF header in APP1) --------------------

def _preview(tmp_path: Path) -> bytes:
    from PIL import Image

    rnd = random.Random(16)
    im = Image.frombytes("RGB", (300, 300), rnd.randbytes(300 * 300 * 3))  # over 64 kB
    p = tmp_path / "preview.jpg"
    im.save(p, quality=90)
    return p.read_bytes()


@needs_exiftool
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus absent: {CORPUS}")
@pytest.mark.parametrize("camera,change", [
    ("Pentax", {"ImageDescription": LONG}),
    ("Minolta", {"ImageDescription": LONG}),
    ("Casio2", {"xmp/dc:title": LONG}),
])
def test_maker_note_preview_after_eoi_follows(camera: str, change: dict,
                                              tmp_path: Path) -> None:
    preview = _preview(tmp_path)
    dst = tmp_path / f"{camera}.jpg"
    shutil.copyfile(CORPUS / "exiftool" / "t" / "images" / f"{camera}.jpg", dst)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-PreviewImage<={tmp_path}/"
                    "preview.jpg", str(dst)], check=True)
    data = dst.read_bytes()
    end = T.eoi_end(data, _sos(data))
    assert data.find(preview) >= end  # ExifTool put it after EOI
    engine.write_metadata(dst, change, backup=False)
    new = dst.read_bytes()
    assert len(new) > len(data) + 900
    at = new.find(preview)
    starts = [v for k, v in et(dst).items() if k.endswith(":PreviewImageStart")]
    assert starts == [at]  # (ExifTool prints it as a file offset)
    assert et_bytes(dst, "PreviewImage") == preview
    warn = subprocess.run(["exiftool", "-a", "-warning", str(dst)], capture_output=True,
                          text=True, check=False).stdout
    assert warn == ""


def test_validator_catches_a_trailer_that_did_not_follow() -> None:
    """check_trailers (run by the write validator): an AFCP trailer moved by a grown APP1
    with its absolute offsets left as they were is caught; shifted offsets pass."""
    from engine.containers.trailers_write import check_trailers

    base = M.BASE.read_bytes()
    original = base + M.afcp(len(base))
    pad = b"\xff\xfe" + struct.pack(">H", 102) + b"x" * 100  # a COM segment after SOI
    moved_as_is = original[:2] + pad + original[2:]
    # (its footer no longer points at its header: it is not even found as a trailer)
    assert check_trailers(original, moved_as_is) == "the trailers after EOI changed"
    followed = original[:2] + pad + base[2:] + M.afcp(len(base) + len(pad))
    assert check_trailers(original, followed) is None


def _tiff_with(tmp_path: Path, name: str) -> Path:
    """fixtures/strips_le.tif with the trailer of fixtures/trailers/``name``.jpg appended, its
    absolute offsets set for where it now stands."""
    data = (REPO / "fixtures" / "strips_le.tif").read_bytes()
    jpeg = (FIXTURES / f"{name}.jpg").read_bytes()
    t = T.find_trailers(jpeg, T.eoi_end(jpeg, _sos(jpeg)))[0][-1]
    tail = bytearray(jpeg[t.start :])
    for at, bo in t.absolute:
        old = struct.unpack_from(bo + "I", tail, at - t.start)[0]
        struct.pack_into(bo + "I", tail, at - t.start, old - t.start + len(data))
    photo = tmp_path / f"{name}.tif"
    photo.write_bytes(data + bytes(tail))
    return photo


@needs_exiftool
@pytest.mark.parametrize("name", ["afcp", "photo_mechanic", "samsung", "fotostation"])
def test_a_tiff_write_moves_its_trailer_after_the_new_data(name: str, tmp_path: Path) -> None:
    """A TIFF ending with a trailer: a write that appends (a longer Artist, XMP) puts its new
    data where the trailer started and moves the trailer after it, absolute offsets shifted,
    as ExifTool does; ExifTool reads the trailer's tags as before, with no new warning.  A
    second write reuses the space (the file does not grow again)."""
    photo = _tiff_with(tmp_path, name)
    kind = KINDS[name]
    old = photo.read_bytes()
    assert [x.kind for x in T.find_trailers(old, 0)[0]] == [kind]
    before = et(photo)
    engine.write_metadata(photo, {"Artist": "x" * 300, "xmp/dc:title": "t"}, backup=False)
    new = photo.read_bytes()
    assert len(new) > len(old) + 300
    assert T.fingerprint(new, T.find_trailers(new, 0)[0]) == \
        T.fingerprint(old, T.find_trailers(old, 0)[0])
    after = et(photo)
    assert after["IFD0:Artist"] == "x" * 300 and after["XMP-dc:Title"] == "t"
    synced = {"IFD0:Artist", "IPTC:By-line", "IPTC:ObjectName", "Photoshop:IPTCDigest"}
    for d in (before, after):  # what the write changed (and the tags synced with it)
        for k in [k for k in d if k in synced or k.startswith("XMP")]:
            del d[k]
    assert after == before  # the trailer's tags, and no new warning
    engine.write_metadata(photo, {"Artist": "y" * 300}, backup=False)
    assert len(photo.read_bytes()) == len(new)
    assert et(photo)["IFD0:Artist"] == "y" * 300


def test_a_trailer_the_tiff_points_into_is_refused(tmp_path: Path) -> None:
    """Bytes at the end that read as a trailer but that an IFD value points into are the
    TIFF's own: moving them would break that pointer, so the write is refused."""
    from engine.exif.ifd import parse_tiff

    photo = _tiff_with(tmp_path, "photo_mechanic")
    data = bytearray(photo.read_bytes())
    st = parse_tiff(bytes(data))
    e = next(e for i in st.ifds for e in i.entries if e.value_offset is not None)
    struct.pack_into("<I", data, e.entry_offset + 8, len(data) - 12 - e.size // 2)
    photo.write_bytes(bytes(data))
    before = photo.read_bytes()
    with pytest.raises(engine.WriteError, match="reads as a PhotoMechanic trailer at offset"):
        engine.write_metadata(photo, {"Artist": "x" * 300})
    assert photo.read_bytes() == before


def test_a_write_scans_the_image_data_for_its_eoi_once(tmp_path: Path, monkeypatch) -> None:
    """Finding the EOI reads all of the image data: a write does it once (the original's),
    however many checks ask; the new file's is where the original's falls after the shift."""
    scans: list[int] = []
    real = T._scan_eoi
    monkeypatch.setattr(T, "_scan_eoi", lambda data, sos: scans.append(sos) or real(data, sos))
    photo = tmp_path / "a.jpg"
    shutil.copyfile(FIXTURES / "afcp.jpg", photo)
    engine.write_metadata(photo, {"ImageDescription": LONG}, backup=False)
    assert len(scans) == 1
    assert engine.read_metadata(photo).tags["ImageDescription"].value == LONG


def _nikon_mm_in_le(tmp_path: Path) -> tuple[Path, bytes]:
    """A little-endian EXIF block whose maker note (Nikon type 3) has its own big-endian TIFF
    header, with a LONG entry pointing (from that header) at a preview JPEG after EOI."""
    from PIL import Image

    sys.path.insert(0, str(REPO / "tests"))
    from support.tiff_builder import build

    ifd = struct.pack(">HHHII", 1, 0x0201, 4, 1, 0) + bytes(4)
    mn = b"Nikon\0\x02\x10\0\0" + b"MM\0*" + struct.pack(">I", 8) + ifd
    tiff = build([[(0x010E, 2, "desc"), ("sub", 0x8769, [(0x927C, 7, mn)])]], bo="<")
    im = tmp_path / "im.jpg"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(im)
    main = im.read_bytes()
    preview = _preview(tmp_path)
    data = bytearray(main[:2] + b"\xff\xe1" + struct.pack(">H", len(tiff) + 8) + b"Exif\0\0"
                     + tiff + main[2:] + preview)
    inner = data.find(b"Nikon\0\x02") + 10
    struct.pack_into(">I", data, inner + 8 + 2 + 8, len(data) - len(preview) - inner)
    photo = tmp_path / "nikon.jpg"
    photo.write_bytes(bytes(data))
    return photo, preview


def test_preview_pointer_in_a_big_endian_maker_note_of_a_little_endian_block(
        tmp_path: Path) -> None:
    """The maker note's own TIFF header says MM inside an II block: its pointer to the
    preview after EOI is read (and shifted) in big-endian order, not the block's."""
    photo, preview = _nikon_mm_in_le(tmp_path)
    was = photo.read_bytes().find(preview)
    engine.write_metadata(photo, {"xmp/dc:title": LONG}, backup=False)
    new = photo.read_bytes()
    inner = new.find(b"Nikon\0\x02") + 10
    at = new.find(preview)
    assert at > was + 2900
    assert struct.unpack_from(">I", new, inner + 8 + 2 + 8)[0] == at - inner


@needs_exiftool
def test_afcp_followed_by_unknown_bytes_is_copied_as_is(tmp_path: Path) -> None:
    """An AFCP trailer with unknown bytes after it is not at the end of the file, where AFCP
    readers look: ExifTool (IdentifyTrailer reads the last bytes only) does not see it and
    copies everything after EOI blindly.  So does metafs: the bytes after EOI move as they are
    (offsets untouched), and ExifTool reads the file as before, without a warning."""
    photo = tmp_path / "afcp_junk.jpg"
    old = (FIXTURES / "afcp.jpg").read_bytes() + b"unknown bytes after the AFCP trailer\0"
    photo.write_bytes(old)
    assert T.find_trailers(old, T.eoi_end(old, _sos(old)))[0] == []
    before = et(photo)
    assert "IPTC2:Caption-Abstract" not in before  # ExifTool does not see the AFCP either
    engine.write_metadata(photo, {"ImageDescription": LONG}, backup=False)
    new = photo.read_bytes()
    tail = len(old) - T.eoi_end(old, _sos(old))
    assert new[-tail:] == old[-tail:]
    after = et(photo)
    assert after.pop("IFD0:ImageDescription") == LONG
    before.pop("IFD0:ImageDescription", None)
    assert after == before
