"""Issue 16, item 1: trailers after a JPEG's EOI stay right when a write grows APP1.

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


def test_a_tiff_write_that_would_bury_a_trailer_is_refused(tmp_path: Path) -> None:
    """A TIFF ending with an AFCP trailer: a write that appends (a longer Artist) would leave
    the trailer short of the end, where readers look for it; refused, the file unchanged."""
    data = (REPO / "fixtures" / "strips_le.tif").read_bytes()
    jpeg = (FIXTURES / "afcp.jpg").read_bytes()
    afcp, _ = T.find_trailers(jpeg, T.eoi_end(jpeg, _sos(jpeg)))
    t = afcp[-1]
    tail = bytearray(jpeg[t.start :])
    for at, bo in t.absolute:  # its offsets are absolute: where it now stands
        old = struct.unpack_from(bo + "I", tail, at - t.start)[0]
        struct.pack_into(bo + "I", tail, at - t.start, old - t.start + len(data))
    photo = tmp_path / "t.tif"
    photo.write_bytes(data + bytes(tail))
    assert [x.kind for x in T.find_trailers(photo.read_bytes(), 0)[0]] == ["AFCP"]
    before = photo.read_bytes()
    with pytest.raises(engine.WriteError, match="ends with a AFCP trailer at offset"):
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
