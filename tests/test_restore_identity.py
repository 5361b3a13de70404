"""``restore`` gives the photo's first original back after another program's edit (issue 11
item 3): "the same photo" is decided by its image data, kept with the backup, not by inode.
A genuinely different photo under the name still gets its own backup (the earlier one set
aside as ``.replaced-*``).  ``metafs restore`` says what it restored; ``--list`` lists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import engine
from engine.safewrite.identity import image_digest
from metafs.cli import main

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CORPUS = REPO.parent / "shared" / "corpus"
EXIFTOOL = shutil.which("exiftool")


def exiftool(*args: str) -> None:
    subprocess.run([EXIFTOOL or "exiftool", "-q", *args], check=True, capture_output=True)


def backups_of(photo: Path) -> list[str]:
    return sorted(p.name for p in (photo.parent / ".originals").iterdir())


@pytest.mark.skipif(EXIFTOOL is None, reason="no exiftool")
@pytest.mark.parametrize("name", ["photo.jpg", "exif_xmp.png", "exif_xmp.webp",
                                  "exif_xmp.heic", "multipage.tif", "CORPUS"])
def test_an_exiftool_edit_in_between_keeps_the_first_original(
        tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    if name == "CORPUS":
        src = CORPUS / "exifr" / "test" / "fixtures" / "canon-dslr.jpg"
        if not src.is_file():
            pytest.skip(f"corpus absent: {CORPUS}")
    else:
        src = FIXTURES / name
    photo = tmp_path / src.name
    shutil.copyfile(src, photo)
    camera = photo.read_bytes()
    assert main(["write", str(photo), "--set", "Artist=First"]) == 0
    exiftool("-Copyright=By ExifTool", str(photo))  # leaves photo_original beside it
    assert engine.read_metadata(photo).tags["Copyright"].value == "By ExifTool"
    assert main(["write", str(photo), "--set", "Artist=Second"]) == 0
    assert backups_of(photo) == [photo.name]  # no .replaced-*: still the same photo
    assert (photo.parent / ".originals" / photo.name).read_bytes() == camera
    capsys.readouterr()
    assert main(["restore", str(photo)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{photo}: restored from {photo.parent / '.originals' / photo.name}"
                          ", the version of ")
    assert photo.read_bytes() == camera


def test_ten_outside_edits_leave_one_backup(tmp_path: Path) -> None:
    # the loop: another program rewrites the photo between metafs's own writes
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    camera = photo.read_bytes()
    for i in range(10):
        engine.write_metadata(photo, {"Artist": f"metafs {i}"})
        other = tmp_path / "other.jpg"  # another program: a new file renamed over
        shutil.copyfile(photo, other)
        engine.write_metadata(other, {"Copyright": f"other {i}"}, backup=False)
        other.rename(photo)
    assert backups_of(photo) == ["photo.jpg"]
    engine.restore(photo)
    assert photo.read_bytes() == camera


def test_a_different_photo_under_the_name_gets_its_own_backup(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    first = photo.read_bytes()
    engine.write_metadata(photo, {"Artist": "One"})
    shutil.copyfile(FIXTURES / "exif_le.jpg", photo)  # cp over it: same inode, new photo
    second = photo.read_bytes()
    with pytest.raises(engine.NoBackupError, match="belongs to an earlier file"):
        engine.restore(photo)
    engine.write_metadata(photo, {"Artist": "Two"})
    names = backups_of(photo)
    assert names[0] == "photo.jpg" and names[1].startswith("photo.jpg.replaced-")
    kept = photo.parent / ".originals"
    assert (kept / names[0]).read_bytes() == second
    assert (kept / names[1]).read_bytes() == first
    capsys.readouterr()
    assert main(["restore", "--list", str(photo)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  (")[0] for line in lines] == [f"{photo}: {kept / n}" for n in names]
    assert "(original, version of " in lines[0]
    assert "(original of an earlier photo of this name, version of " in lines[1]
    engine.restore(photo)
    assert photo.read_bytes() == second


def test_list_without_backups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    assert main(["restore", "--list", str(photo)]) == 1
    assert capsys.readouterr().err == f"metafs: {photo}: no backup kept\n"


def test_the_digest_is_kept_with_the_backup(tmp_path: Path) -> None:
    import os

    photo = tmp_path / "photo.jpg"
    shutil.copyfile(FIXTURES / "photo.jpg", photo)
    engine.write_metadata(photo, {"Artist": "One"})
    other = tmp_path / "other.jpg"
    shutil.copyfile(photo, other)
    engine.write_metadata(other, {"Copyright": "Outside"}, backup=False)
    other.rename(photo)
    engine.write_metadata(photo, {"Artist": "Two"})  # compares image data: stores the digest
    backup = photo.parent / ".originals" / "photo.jpg"
    try:
        kept = os.getxattr(backup, "user.metafs.image")
    except OSError:
        pytest.skip("no user xattrs here (the digest is computed from the backup each time)")
    assert kept == image_digest(FIXTURES.joinpath("photo.jpg").read_bytes())


def test_image_digest_ignores_metadata_and_sees_image_data() -> None:
    from engine.containers.jpeg import parse_jpeg

    a = (FIXTURES / "photo.jpg").read_bytes()
    sos = parse_jpeg(a).sos_offset
    assert sos is not None
    assert image_digest(a) == image_digest(a[:2] + b"\xff\xfe\x00\x04hi" + a[2:])  # a COM
    changed = bytearray(a)
    changed[sos + 40] ^= 0xFF
    assert image_digest(bytes(changed)) != image_digest(a)
    assert image_digest(b"not an image") is None


@pytest.mark.skipif(EXIFTOOL is None, reason="no exiftool")
@pytest.mark.skipif(not Path("/dev/fuse").exists() or shutil.which("fusermount3") is None,
                    reason="no FUSE")
def test_the_same_through_the_mount(tmp_path: Path) -> None:
    from support.mount import Mount

    m = Mount(tmp_path)
    try:
        photo = m.src / "photo.jpg"
        camera = photo.read_bytes()
        m.sh("echo First > photo.jpg.meta/Artist")
        m.commit()
        exiftool("-overwrite_original", "-Copyright=By ExifTool", str(photo))
        m.sh("echo Second > photo.jpg.meta/Artist")
        m.commit()
        assert engine.read_metadata(photo).tags["Copyright"].value == "By ExifTool"
        assert backups_of(photo) == [".journal", "photo.jpg"]
        assert (m.src / ".originals" / "photo.jpg").read_bytes() == camera
    finally:
        m.close()
    engine.restore(photo)
    assert photo.read_bytes() == camera
