"""Issue 11 item 12: EXIF/XMP/IPTC coordination is visible (every copy and cut reported) and
both copies edited in one batch keep both edits (README "Keeping EXIF, XMP and IPTC in
step")."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount

import engine
from metafs.cli import main as cli_main

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _tags(p: Path) -> dict:
    return engine.read_metadata(p).tags


def _value(p: Path, path: str):
    t = _tags(p).get(path)
    return None if t is None else t.value


def test_list_edits_of_both_copies_both_win(photo: Path) -> None:
    subject = _value(photo, "xmp/dc:subject")
    keywords = _value(photo, "iptc/Keywords")
    assert subject == keywords == ["sunset", "bay", "Zoë's trip"]
    result = engine.write_metadata(photo, {
        "xmp/dc:subject": "\n".join([*subject, "leeks"]),
        "iptc/Keywords": "\n".join(k for k in keywords if k != "sunset"),
    })
    assert _value(photo, "xmp/dc:subject") == ["bay", "Zoë's trip", "leeks"]
    assert _value(photo, "iptc/Keywords") == ["bay", "Zoë's trip", "leeks"]
    assert result.notes == ["merged the edits of iptc/Keywords into xmp/dc:subject",
                            "merged the edits of xmp/dc:subject into iptc/Keywords"]


def test_copies_are_reported(photo: Path) -> None:
    result = engine.write_metadata(photo, {"Artist": "Ann Example"})
    assert result.notes == ["also set xmp/dc:creator from Artist",
                            "also set iptc/By-line from Artist"]
    assert _value(photo, "xmp/dc:creator") == ["Ann Example"]
    result = engine.write_metadata(photo, {"Artist": None})
    assert result.notes == ["also deleted xmp/dc:creator from Artist",
                            "also deleted iptc/By-line from Artist"]


def test_no_sync_makes_no_copy_and_no_note(photo: Path) -> None:
    result = engine.write_metadata(photo, {"Artist": "Ann Example"}, sync_related=False)
    assert result.notes == []
    assert _value(photo, "xmp/dc:creator") == ["Jane Doe", "John Roe"]


def test_artist_with_semicolons_becomes_list_items(photo: Path) -> None:
    engine.write_metadata(photo, {"Artist": "Ann; Bob"})
    assert _value(photo, "xmp/dc:creator") == ["Ann", "Bob"]
    assert _value(photo, "iptc/By-line") == ["Ann", "Bob"]


def test_truncation_into_iptc_is_reported(photo: Path) -> None:
    result = engine.write_metadata(photo, {"ImageDescription": "d" * 10_000})
    assert result.notes[:2] == ["also set xmp/dc:description from ImageDescription",
                                "also set iptc/Caption-Abstract from ImageDescription"]
    assert result.notes[2] == "iptc/Caption-Abstract cut to 2000 bytes (IPTC limit)"
    assert _value(photo, "iptc/Caption-Abstract") == "d" * 2000
    assert _value(photo, "ImageDescription") == "d" * 10_000


def test_xmp_capture_date_does_not_rewrite_exif(photo: Path) -> None:
    engine.write_metadata(photo, {"xmp/photoshop:DateCreated": "2001:02:03 04:05:06"})
    assert _value(photo, "DateTimeOriginal") == "2020:01:01 10:00:00"
    assert _value(photo, "xmp/photoshop:DateCreated") == "2001:02:03 04:05:06"


def test_exif_capture_date_reaches_the_xmp_copy(photo: Path) -> None:
    engine.write_metadata(photo, {"xmp/photoshop:DateCreated": "2001:02:03 04:05:06"})
    result = engine.write_metadata(photo, {"DateTimeOriginal": "2021:06:07 08:09:10"})
    assert _value(photo, "xmp/photoshop:DateCreated") == "2021:06:07 08:09:10"
    assert result.notes == ["also set xmp/photoshop:DateCreated from DateTimeOriginal"]


def test_explicit_scalar_wins_over_a_copy(photo: Path) -> None:
    engine.write_metadata(photo, {"ImageDescription": "exif words",
                                  "iptc/Caption-Abstract": "iptc words"})
    assert _value(photo, "ImageDescription") == "exif words"
    assert _value(photo, "iptc/Caption-Abstract") == "iptc words"
    assert _value(photo, "xmp/dc:description") == "exif words"  # the copy: first asked


def test_cli_prints_copies_and_cuts(photo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the copies made on stdout (what was done), a cut on stderr (a warning)
    assert cli_main(["write", str(photo), "--set", "Artist=Ann Example"]) == 0
    out, err = capsys.readouterr()
    assert out == (f"{photo}: also set xmp/dc:creator from Artist\n"
                   f"{photo}: also set iptc/By-line from Artist\n")
    assert err == ""
    assert cli_main(["write", str(photo), "--set", "ImageDescription=" + "d" * 3000]) == 0
    out, err = capsys.readouterr()
    assert f"{photo}: also set iptc/Caption-Abstract from ImageDescription\n" in out
    assert err == (f"metafs: note: {photo}: iptc/Caption-Abstract cut to 2000 bytes "
                   "(IPTC limit)\n")
    assert cli_main(["write", str(photo), "--no-sync", "--set", "Artist=Bob"]) == 0
    assert capsys.readouterr() == ("", "")


@needs_mount
@pytest.mark.mount_args(300)
def test_mount_append_and_sed_in_one_batch(mount: Mount) -> None:
    mount.sh("echo leeks >> photo.jpg.meta/xmp/dc:subject && "
         "sed -i '/^sunset$/d' photo.jpg.meta/iptc/Keywords")
    mount.commit(mount.meta)
    tags = mount.exif()
    assert tags["XMP-dc:Subject"] == ["bay", "Zoë's trip", "leeks"]
    assert tags["IPTC:Keywords"] == ["bay", "Zoë's trip", "leeks"]


def test_readme_states_the_rules() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Keeping EXIF, XMP and IPTC in step", 1)[1].split("\n## ", 1)[0]
    for word in ("DateTimeOriginal", "dc:creator", "Caption-Abstract", "--no-sync", "2000"):
        assert word in section


def test_cli_subprocess_no_sync_flag_on_copy_tags(tmp_path: Path, fixtures_dir: Path) -> None:
    src, dst = tmp_path / "a.jpg", tmp_path / "b.jpg"
    shutil.copyfile(fixtures_dir / "photo.jpg", src)
    shutil.copyfile(fixtures_dir / "photo.jpg", dst)
    r = subprocess.run([sys.executable, "-m", "metafs.cli", "copy-tags", str(src), str(dst),
                        "--tags", "Artist", "--no-sync"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
