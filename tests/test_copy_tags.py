"""Issue 11 items 7 and 11: copying IPTC onto a photo that has none, and ``copy-tags``
leaving image-structure tags alone (as ``exiftool -tagsFromFile`` does)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from support.mount import Mount, needs_mount, until
from support.oracles import exiftool

import engine
from engine.exif.tables import PROTECTED
from metafs.cli import main as cli_main

sys.path.insert(0, str(Path(__file__).resolve().parent))

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="no exiftool")


def _no_iptc(tmp_copy) -> Path:
    p = tmp_copy("exif_le.jpg")
    assert not any(k.startswith("iptc/") for k in engine.read_metadata(p).tags)
    return p


def test_application_record_version_alone_on_a_photo_without_iptc(tmp_copy) -> None:
    p = _no_iptc(tmp_copy)
    engine.write_metadata(p, {"iptc/ApplicationRecordVersion": "4"}, backup=False)
    md = engine.read_metadata(p)
    assert md.tags["iptc/ApplicationRecordVersion"].value == "4"
    assert md.warnings == []


def test_all_iptc_of_one_photo_onto_one_without(tmp_copy, fixtures_dir: Path) -> None:
    # what `cp -r a.jpg.meta/iptc/. b.jpg.meta/iptc/` commits: every IPTC tag of a, in one batch
    p = _no_iptc(tmp_copy)
    iptc = {k: v for k, v in engine.template_changes(fixtures_dir / "photo.jpg").items()
            if k.startswith("iptc/")}
    assert "iptc/ApplicationRecordVersion" in iptc and len(iptc) > 3
    engine.write_metadata(p, iptc, backup=False)
    md = engine.read_metadata(p)
    assert md.warnings == []
    assert {k: "\n".join(t.value) if isinstance(t.value, list) else t.value
            for k, t in md.tags.items() if k.startswith("iptc/") and t.writable} == iptc
    # the envelope's character set is the writer's (UTF-8 for the non-ASCII keyword)
    assert md.tags["iptc/CodedCharacterSet"].value == "UTF8"


@needs_exiftool
def test_copy_tags_without_tags_onto_a_photo_without_iptc(tmp_copy, fixtures_dir: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    p = _no_iptc(tmp_copy)
    assert cli_main(["copy-tags", str(fixtures_dir / "photo.jpg"), str(p), "--no-backup"]) == 0
    assert "failed" not in capsys.readouterr().err
    tags = exiftool(p, "-G1", "-a")
    assert tags["IPTC:ApplicationRecordVersion"] == 4
    assert tags["IPTC:Keywords"] == ["sunset", "bay", "Zoë's trip"]
    assert "Warning" not in tags


@needs_exiftool
def test_copy_tags_leaves_image_structure_alone(tmp_copy, fixtures_dir: Path) -> None:
    src = fixtures_dir / "strips_le.tif"
    dst = tmp_copy("tiles_be.tif")
    structure = ("ImageWidth", "ImageHeight", "BitsPerSample", "Compression",
                 "PhotometricInterpretation", "PlanarConfiguration", "SamplesPerPixel")
    assert set(structure) <= PROTECTED
    changes = engine.template_changes(src)
    assert not set(structure) & set(changes)
    assert "Artist" in changes
    before = exiftool(dst, "-G1", "-a")
    assert cli_main(["copy-tags", str(src), str(dst), "--no-backup"]) == 0
    after = exiftool(dst, "-G1", "-a")
    for name in structure:
        assert after.get(f"IFD0:{name}") == before.get(f"IFD0:{name}"), name
    assert after["IFD0:Artist"] == exiftool(src, "-G1", "-a")["IFD0:Artist"]


def test_named_structure_tag_is_copied() -> None:
    src = Path(__file__).resolve().parents[1] / "fixtures" / "strips_le.tif"
    assert set(engine.template_changes(src, ["ImageWidth", "Artist"])) == {"ImageWidth",
                                                                           "Artist"}


@needs_mount
def test_mount_cp_iptc_folder_onto_photo_without_iptc(mount: Mount,
                                                      fixtures_dir: Path) -> None:
    shutil.copyfile(fixtures_dir / "exif_le.jpg", mount.src / "b.jpg")
    assert until(lambda: (mount.mnt / "b.jpg.meta").is_dir())
    res = mount.sh("cp -r photo.jpg.meta/iptc/. b.jpg.meta/iptc/", check=False)
    # the envelope record (character set, its version) is the writer's: read-only files
    refused = {line.split("'")[1].rpartition("/")[2] for line in res.stderr.splitlines()}
    assert refused <= {"CodedCharacterSet", "EnvelopeRecordVersion"}, res.stderr
    mount.commit(mount.mnt / "b.jpg.meta")
    tags = mount.exif("b.jpg")
    assert tags["IPTC:ApplicationRecordVersion"] == 4
    assert tags["IPTC:Keywords"] == ["sunset", "bay", "Zoë's trip"]
    assert "Warning" not in tags
