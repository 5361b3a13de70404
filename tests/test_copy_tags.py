"""Issue 11 items 7 and 11: copying IPTC onto a photo that has none, and ``copy-tags``
leaving image-structure tags alone (as ``exiftool -tagsFromFile`` does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.exif.tables import PROTECTED
from metafs.cli import main as cli_main

sys.path.insert(0, str(Path(__file__).resolve().parent))

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="no exiftool")


def _exiftool(p: Path) -> dict:
    out = subprocess.run(["exiftool", "-j", "-G1", "-a", str(p)], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)[0]


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
    tags = _exiftool(p)
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
    before = _exiftool(dst)
    assert cli_main(["copy-tags", str(src), str(dst), "--no-backup"]) == 0
    after = _exiftool(dst)
    for name in structure:
        assert after.get(f"IFD0:{name}") == before.get(f"IFD0:{name}"), name
    assert after["IFD0:Artist"] == _exiftool(src)["IFD0:Artist"]


def test_named_structure_tag_is_copied() -> None:
    src = Path(__file__).resolve().parents[1] / "fixtures" / "strips_le.tif"
    assert set(engine.template_changes(src, ["ImageWidth", "Artist"])) == {"ImageWidth",
                                                                           "Artist"}


@pytest.mark.skipif(not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None
                    or shutil.which("exiftool") is None, reason="no FUSE or exiftool")
def test_mount_cp_iptc_folder_onto_photo_without_iptc(tmp_path: Path,
                                                      fixtures_dir: Path) -> None:
    from test_mount import Mount, _wait

    m = Mount(tmp_path)
    try:
        shutil.copyfile(fixtures_dir / "exif_le.jpg", m.src / "b.jpg")
        assert _wait(lambda: (m.mnt / "b.jpg.meta").is_dir())
        res = m.sh("cp -r photo.jpg.meta/iptc/. b.jpg.meta/iptc/", check=False)
        # the envelope record (character set, its version) is the writer's: read-only files
        refused = {line.split("'")[1].rpartition("/")[2] for line in res.stderr.splitlines()}
        assert refused <= {"CodedCharacterSet", "EnvelopeRecordVersion"}, res.stderr
        m.commit(m.mnt / "b.jpg.meta")
        tags = m.exif("b.jpg")
        assert tags["IPTC:ApplicationRecordVersion"] == 4
        assert tags["IPTC:Keywords"] == ["sunset", "bay", "Zoë's trip"]
        assert "Warning" not in tags
    finally:
        m.close()
