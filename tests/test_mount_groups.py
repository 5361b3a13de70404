"""The read-only folders of the mount (one per ``engine.EXTRA_PARTS`` part: ``makernotes/``,
``composite/``, ``file/``...) and binary tags readable as their bytes (issue 14, item 4).

The daemon runs with a stub part registered (``stubpart/``, through a ``sitecustomize`` on
its PYTHONPATH), so these tests do not depend on which decoders exist yet; the parts that
do exist are listed and read too."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.files import FIXTURES, REPO
from support.mount import Mount, needs_mount

from engine import read_metadata
from engine.binary import tag_bytes
from engine.reader import EXTRA_PARTS
from metafs.mount import daemon_pid

STUB = '''
from engine.model import TagValue

def decode(data, blocks, md):
    make = md.get("Make") or "?"
    return [TagValue("stubpart/Camera", "Stub", "Camera", f"made by {make}", False),
            TagValue("stubpart/Blob", "Stub", "Blob", "(Binary data 4 bytes)", False, 4),
            TagValue("stubpart/Big", "Stub", "Big", "(Binary data 700000 bytes)", False,
                     700000)], []

def tag_bytes(data, blocks, md, path):
    if path == "stubpart/Big":
        return bytes(range(250)) * 2800
    return b"\\x00\\x01\\x02\\xff" if path == "stubpart/Blob" else None
'''
SITE = '''
import engine.reader
engine.reader.EXTRA_PARTS.setdefault("stubpart", ("stub_parts", "decode"))
'''


def exiftool_bytes(path: Path, tag: str) -> bytes:
    return subprocess.run(["exiftool", "-b", f"-{tag}", str(path)], capture_output=True,
                          check=True).stdout


def test_tag_bytes_thumbnail_is_exiftools() -> None:
    path = FIXTURES / "photo.jpg"
    data = tag_bytes(path, "ifd1/ThumbnailImage")
    assert data is not None and data[:2] == b"\xff\xd8"
    assert len(data) == read_metadata(path).tags["ifd1/ThumbnailImage"].binary_size
    assert tag_bytes(path, "Make") is None or tag_bytes(path, "Make") == b"MetaFS Test Camera Co.\0"
    assert tag_bytes(path, "ifd1/NoSuchTag") is None
    assert tag_bytes(path, "ifd1/ThumbnailImage#2") is None


@pytest.mark.skipif(not os.path.exists("/usr/bin/exiftool"), reason="needs exiftool")
def test_tag_bytes_match_exiftool_b(tmp_path: Path) -> None:
    for name in ("photo.jpg", "makernote_canon_le.tif", "makernote_nikon_be.tif"):
        md = read_metadata(FIXTURES / name)
        for path, t in md.tags.items():
            if t.binary_size is None or path.startswith(("xmp/", "iptc/")):
                continue
            got = tag_bytes(FIXTURES / name, path)
            assert got is not None and len(got) == t.binary_size, (name, path)
            if path == "ifd1/ThumbnailImage":
                assert got == exiftool_bytes(FIXTURES / name, "ThumbnailImage")


CORPUS = REPO.parent / "shared" / "corpus"
IMAGES = ("ThumbnailImage", "PreviewImage", "JpgFromRaw")


@pytest.mark.skipif(not CORPUS.is_dir() or not os.path.exists("/usr/bin/exiftool"),
                    reason="needs the corpus and exiftool")
def test_corpus_images_are_exiftools_bytes() -> None:
    """The embedded images of a sample of corpus files, byte for byte as ``exiftool -b``."""
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".jpg", ".cr2",
                                                                         ".nef", ".dng"))
    checked = 0
    for path in files[::max(1, len(files) // 12)]:
        md = read_metadata(path)
        for tag, t in md.tags.items():
            name = tag.rpartition("/")[2]
            if name not in IMAGES or "#" in tag:
                continue
            got = tag_bytes(path, tag)
            if got is None or got[:2] != b"\xff\xd8":
                continue  # ExifTool drops an image that is no JPEG (with a warning)
            assert len(got) == t.binary_size, (path, tag)
            if name == "ThumbnailImage" or tag == name:
                assert got == exiftool_bytes(path, name), (path, tag)
                checked += 1
    assert checked >= 3


class StubMount(Mount):
    """A mount whose daemon has the stub part registered."""

    def start(self) -> None:
        site = self.src.parent / "site"
        site.mkdir(exist_ok=True)
        (site / "stub_parts.py").write_text(STUB)
        (site / "sitecustomize.py").write_text(SITE)
        env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}"}
        cmd = [sys.executable, "-m", "metafs.mount", str(self.src), str(self.mnt), *self.args]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        pid = daemon_pid(str(self.mnt))
        assert pid is not None
        self.pid = pid
        self.pids.append(pid)


@pytest.fixture
def stub_mount(tmp_path: Path):
    m = StubMount(tmp_path)
    try:
        yield m
    finally:
        m.close()


def decoded(m: Mount) -> str:
    line = next(x for x in m.status().splitlines() if x.startswith("read-only parts decoded"))
    return line


@needs_mount
def test_parts_listed_and_decoded_only_when_asked(stub_mount: StubMount) -> None:
    m = stub_mount
    assert m.sh("cat *.meta/Make").stdout.startswith("MetaFS Test Camera Co.")
    root = os.listdir(m.meta)
    assert {"xmp", "iptc", "stubpart", *EXTRA_PARTS} <= set(root)
    assert re.search(r"read-only parts decoded: none; binary tags read 0$", decoded(m))
    assert sorted(os.listdir(m.meta / "stubpart")) == ["Big", "Blob", "Camera"]
    assert (m.meta / "stubpart" / "Camera").read_text() == "made by MetaFS Test Camera Co.\n"
    assert (m.meta / "stubpart" / "Blob").read_bytes() == b"\x00\x01\x02\xff"
    big = m.meta / "stubpart" / "Big"  # read through a handle, not kept by the daemon
    assert big.stat().st_size == 700000
    assert big.read_bytes() == big.read_bytes() == bytes(range(250)) * 2800
    assert "stubpart 1;" in decoded(m)  # one decode of the part for all of that
    assert (m.meta / "stubpart" / "Camera").stat().st_mode & 0o222 == 0
    # the parts the engine has now: every file reads, none is writable
    for part in EXTRA_PARTS:
        for name in os.listdir(m.meta / part):
            f = m.meta / part / name
            if f.is_file():
                f.read_bytes()
                assert f.stat().st_mode & 0o222 == 0


@needs_mount
def test_parts_are_read_only(stub_mount: StubMount) -> None:
    m = stub_mount
    cases = {
        "echo x > photo.jpg.meta/stubpart/Camera": "stubpart/Camera",
        "echo x >> photo.jpg.meta/stubpart/Camera": "stubpart/Camera",
        "truncate -s 0 photo.jpg.meta/stubpart/Camera": "stubpart/Camera",
        "echo x > photo.jpg.meta/stubpart/New": "stubpart/New",
        "touch photo.jpg.meta/stubpart/x.tmp": "stubpart/x.tmp",
        "rm photo.jpg.meta/stubpart/Camera": "stubpart/Camera",
        "mkdir photo.jpg.meta/stubpart/d": "stubpart/d",
        "rmdir photo.jpg.meta/stubpart": "stubpart",
        "mv photo.jpg.meta/stubpart/Camera photo.jpg.meta/stubpart/C2": "stubpart/Camera",
    }
    for script, where in cases.items():
        res = m.sh(script, check=False)
        assert res.returncode != 0 and "Read-only file system" in res.stderr, (script, res)
        assert (f"photo.jpg.meta/{where}: the stubpart/ folder is read-only: metafs reads "
                "these tags (as ExifTool does) but does not write them; the photo is "
                "unchanged") in m.status(), script
    assert sorted(os.listdir(m.meta / "stubpart")) == ["Big", "Blob", "Camera"]
    assert (m.meta / "stubpart" / "Camera").read_text() == "made by MetaFS Test Camera Co.\n"


@needs_mount
def test_thumbnail_copies_out_as_a_jpeg(stub_mount: StubMount, tmp_path: Path) -> None:
    from PIL import Image

    m = stub_mount
    thumb = m.meta / "ifd1" / "ThumbnailImage"
    want = exiftool_bytes(m.src / "photo.jpg", "ThumbnailImage")
    assert thumb.stat().st_size == len(want)
    listed = {e.name: e.stat().st_size for e in os.scandir(m.meta / "ifd1")}
    assert listed["ThumbnailImage"] == len(want)
    m.sh(f"cp photo.jpg.meta/ifd1/ThumbnailImage {tmp_path}/thumb.jpg")
    data = (tmp_path / "thumb.jpg").read_bytes()
    assert data == want
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
        assert im.format == "JPEG"
    # text tools: grep calls it binary, the CLI and the JSON print ExifTool's text
    res = m.sh("grep . photo.jpg.meta/ifd1/ThumbnailImage", check=False)
    assert "binary file matches" in (res.stdout + res.stderr).lower()
    res = m.sh("echo x > photo.jpg.meta/ifd1/ThumbnailImage", check=False)
    assert res.returncode != 0


@needs_mount
def test_parts_follow_the_photo(stub_mount: StubMount) -> None:
    """A commit changes what a part shows (decoded again, at its next use only)."""
    m = stub_mount
    camera = m.meta / "stubpart" / "Camera"
    assert camera.read_text() == "made by MetaFS Test Camera Co.\n"
    m.sh("echo Other > photo.jpg.meta/Make")
    m.commit()
    assert "stubpart 1;" in decoded(m)  # the commit decoded no part
    assert camera.read_text() == "made by Other\n"
    assert "stubpart 2;" in decoded(m)


def test_binary_content_rules() -> None:
    """Bytes when the engine gives exactly ``binary_size`` of them, else ExifTool's text;
    XMP and IPTC binary values stay text; the bytes kept are bounded."""
    from engine import Metadata, TagValue
    from metafs import extraparts
    from metafs.extraparts import ExtraParts

    served: dict[str, bytes | None] = {"Blob": b"1234", "Short": b"12", "xmp/x:Blob": b"1234"}
    calls: list[str] = []

    def fetch(path: str, tag: str) -> bytes | None:
        calls.append(tag)
        return served.get(tag)

    parts = ExtraParts(None, fetch, lambda rel: "/nowhere/" + rel)
    md = Metadata("p.jpg", "JPEG")
    blob = TagValue("Blob", "IFD0", "Blob", "(Binary data 4 bytes)", False, 4)
    assert parts.listed_size("p.jpg", md, blob, "Blob") == 4
    assert parts.content("p.jpg", md, blob, "Blob") == b"1234"
    assert parts.content("p.jpg", md, blob, "Blob") == b"1234" and calls == ["Blob"]
    short = TagValue("Short", "IFD0", "Short", "(Binary data 4 bytes)", False, 4)
    assert parts.content("p.jpg", md, short, "Short") == b"(Binary data 4 bytes)\n"
    xblob = TagValue("xmp/x:Blob", "XMP-x", "Blob", "(Binary data 4 bytes)", False, 4)
    assert parts.content("p.jpg", md, xblob, "xmp/x:Blob") == b"(Binary data 4 bytes)\n"
    assert parts.listed_size("p.jpg", md, xblob, "xmp/x:Blob") == 22
    assert "xmp/x:Blob" not in calls
    assert parts.tags("p.jpg", md, "makernotes") == {}  # no read_parts: no tags
    old = extraparts.BYTES_KEPT
    extraparts.BYTES_KEPT = 28  # holds 26 bytes now: one more blob drops the oldest
    try:
        parts.content("q.jpg", Metadata("q.jpg", "JPEG"), blob, "Blob")
        assert parts._bytes_size <= 28 and ("p.jpg", "Blob") not in parts._bytes
    finally:
        extraparts.BYTES_KEPT = old
